//! The tRPC v11 HTTP protocol (superjson envelope) over the same services as REST.
//! `wire` speaks the protocol; `procedures` is the one table from procedure path to service
//! call. Feature areas add their procedures there. `upstream` forwards the procedures this
//! server does not serve to the app's own backend when `[trpc] upstream_url` is set.

mod chat;
mod premium;
mod procedures;
mod studio;
mod subscription;
mod tactical;
mod context;
mod live;
mod shape;
mod upstream;
pub(crate) mod wire;
mod writers;

use std::sync::Arc;

use poem::http::{Method, StatusCode, header};
use poem::web::headers::{self, HeaderMapExt};
use poem::{Body, Request, Response, handler};
use serde_json::Value;

use crate::auth::Caller;
use crate::error::AppError;
use crate::limits::RouteClass;
pub use procedures::{Kind, names};
pub use context::{Context, WireBounds};
pub use upstream::Upstream;
use wire::{Answer, Call, TrpcError};

#[handler]
pub async fn endpoint(req: &Request, body: Body) -> Response {
    let Some(state) = req.data::<Arc<Context>>() else {
        return wire::error_response(&TrpcError::from_app(&AppError::internal("state missing"), ""));
    };
    let paths = req.raw_path_param("path").unwrap_or_default().to_owned();
    let batch = wire::query_param(req.uri().query(), "batch").is_some_and(|v| v == "1" || v == "true");
    match handle(state, req, body, &paths, batch).await {
        Ok(resp) => resp,
        Err(e) => wire::error_response(&e),
    }
}

async fn handle(state: &Context, req: &Request, body: Body, paths: &str, batch: bool) -> Result<Response, TrpcError> {
    // A call this server does not serve goes to the upstream when one is configured (and the
    // request did not come from an Optima already).
    let upstream = state.upstream.as_ref().filter(|_| !Upstream::already_forwarded(req));
    let forwarded = |name: &str| upstream.is_some() && procedures::find(name).is_none();
    // Rate budgets are charged before the body is read, one call at a time: a batch costs what
    // its calls would cost sent one by one, and a call over budget is refused in its own slot.
    let names: Vec<&str> = if batch { paths.split(',').collect() } else { vec![paths] };
    let client = state.services.limiter.client(req);
    if names.iter().any(|name| live::is_subscription(name)) {
        if batch {
            return Err(TrpcError::new("BAD_REQUEST", "Cannot batch subscription calls", paths));
        }
        if *req.method() != Method::GET {
            return Err(TrpcError::new("METHOD_NOT_SUPPORTED", format!("\"{paths}\" is a subscription: open it with GET"), paths));
        }
        state.services.limiter.charge(&client, crate::limits::procedure_class(paths)).map_err(|e| TrpcError::from_app(&e, paths))?;
        return Ok(live::subscribe(state, req, paths).await);
    }
    let max = state.bounds.max_batch;
    if names.len() > max {
        state.services.limiter.charge(&client, RouteClass::General).map_err(|e| TrpcError::from_app(&e, paths))?;
        return Err(TrpcError::new(
            "BAD_REQUEST",
            format!("a batch may hold at most {max} calls (limits.max_trpc_batch); this one has {}", names.len()),
            paths,
        ));
    }
    let charges: Vec<Result<(), AppError>> = names
        .iter()
        .map(|name| {
            let class = if forwarded(name) { upstream::CLASS } else { crate::limits::procedure_class(name) };
            state.services.limiter.charge(&client, class)
        })
        .collect();
    let retry_after = charges.iter().filter_map(|c| c.as_ref().err().and_then(AppError::retry_after_secs)).max();
    if !batch && let Some(Err(refused)) = charges.first() {
        return Ok(app_error_response(refused, paths));
    }

    let kind = match *req.method() {
        Method::GET => Kind::Query,
        Method::POST => Kind::Mutation,
        _ => return Err(TrpcError::new("METHOD_NOT_SUPPORTED", "tRPC accepts GET for queries and POST for mutations", paths)),
    };
    if !batch && let Some(upstream) = upstream.filter(|_| forwarded(paths)) {
        // One call the upstream serves: sent on as it came, answered as the upstream answers.
        let bytes = match kind {
            Kind::Query => Default::default(),
            Kind::Mutation => read_body(state, body, paths).await?,
        };
        return Ok(upstream.relay(req, state.services.limiter.trusted_proxies(), paths, bytes).await);
    }
    let raw_input = match kind {
        Kind::Query => wire::query_param(req.uri().query(), "input"),
        Kind::Mutation => {
            let is_json = req
                .headers()
                .typed_get::<headers::ContentType>()
                .is_some_and(|ct| mime_is_json(&ct.to_string()));
            let bytes = read_body(state, body, paths).await?;
            if bytes.is_empty() {
                None
            } else if !is_json {
                return Err(TrpcError::new("UNSUPPORTED_MEDIA_TYPE", "mutations must be sent as application/json", paths));
            } else {
                Some(String::from_utf8(bytes.to_vec()).map_err(|_| TrpcError::new("PARSE_ERROR", "the body is not UTF-8", paths))?)
            }
        }
    };
    if let Some(input) = &raw_input {
        crate::rest::body::check_json_depth(input.as_bytes(), state.bounds.max_json_depth)
            .map_err(|e| TrpcError::from_app(&e, paths))?;
    }
    // Each call goes one way: refused by its rate budget, run here, or sent to the upstream.
    enum Slot {
        Refused(TrpcError),
        Own,
        Forwarded,
    }
    let mut slots = Vec::with_capacity(names.len());
    let (mut own_calls, mut to_forward) = (Vec::new(), Vec::new());
    for (raw, charge) in wire::split_calls(paths, batch, raw_input.as_deref())?.into_iter().zip(charges) {
        slots.push(match charge {
            Err(refused) => Slot::Refused(TrpcError::from_app(&refused, &raw.path)),
            Ok(()) if forwarded(&raw.path) => {
                to_forward.push(raw);
                Slot::Forwarded
            }
            Ok(()) => {
                own_calls.push(raw.unwrap()?);
                Slot::Own
            }
        });
    }
    // The token is ours to check only when we run a call ourselves.
    let caller = match req.headers().typed_get::<headers::Authorization<headers::authorization::Bearer>>() {
        Some(auth) if !own_calls.is_empty() => {
            Some(state.services.tokens.caller(auth.token()).map_err(|e| TrpcError::from_app(&e, paths))?)
        }
        _ => None,
    };
    // Our own calls run one after another while the upstream answers the forwarded ones.
    let own = async {
        let mut outcomes = Vec::with_capacity(own_calls.len());
        for call in own_calls {
            outcomes.push(run(state, kind, caller.clone(), call).await);
        }
        outcomes
    };
    let remote = async {
        match upstream {
            Some(upstream) if !to_forward.is_empty() => {
                upstream.batch(req, state.services.limiter.trusted_proxies(), &to_forward, raw_input.is_some()).await
            }
            _ => Vec::new(),
        }
    };
    let (own, remote) = tokio::join!(own, remote);
    let (mut own, mut remote) = (own.into_iter(), remote.into_iter());
    let answers: Vec<Answer> = slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Refused(e) => Answer::Own(Err(e)),
            Slot::Own => Answer::Own(own.next().expect("an outcome per own call")),
            Slot::Forwarded => remote.next().expect("an answer per forwarded call"),
        })
        .collect();
    let mut resp = if batch {
        wire::batch_answers(answers)
    } else {
        match answers.into_iter().next().expect("one call") {
            Answer::Own(outcome) => wire::single_response(outcome),
            // Not reached: a single forwarded call is relayed whole above.
            Answer::Relayed(r) => json_response(StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_GATEWAY), &r.envelope),
        }
    };
    if let Some(secs) = retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, secs.into());
    }
    Ok(resp)
}

/// A mutation's body, at most `limits.max_json_bytes` of it.
async fn read_body(state: &Context, body: Body, paths: &str) -> Result<bytes::Bytes, TrpcError> {
    let max = state.bounds.max_json_bytes;
    body.into_bytes_limit(max as usize).await.map_err(|e| match e {
        poem::error::ReadBodyError::PayloadTooLarge => {
            TrpcError::new("PAYLOAD_TOO_LARGE", format!("the body is larger than {max} bytes"), paths)
        }
        other => TrpcError::new("BAD_REQUEST", format!("cannot read the body: {other}"), paths),
    })
}

/// Whether a procedure of this path exists.
pub fn has_procedure(path: &str) -> bool {
    procedures::find(path).is_some()
}

/// An error raised before any procedure ran (e.g. a rate limit), in tRPC's shape, with its
/// `Retry-After`.
fn app_error_response(err: &AppError, paths: &str) -> Response {
    let mut resp = wire::error_response(&TrpcError::from_app(err, paths));
    if let Some(secs) = err.retry_after_secs() {
        resp.headers_mut().insert(header::RETRY_AFTER, secs.into());
    }
    resp
}

fn mime_is_json(content_type: &str) -> bool {
    content_type.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

async fn run(state: &Context, kind: Kind, caller: Option<Caller>, call: Call) -> Result<Value, TrpcError> {
    let Some(procedure) = procedures::find(&call.path) else {
        return Err(TrpcError::new("NOT_FOUND", format!("No procedure found on path \"{}\"", call.path), &call.path));
    };
    let Some(handler) = procedure.handler(kind) else {
        let (expected, method) = match kind {
            Kind::Mutation => ("a query", "GET"),
            Kind::Query => ("a mutation", "POST"),
        };
        return Err(TrpcError::new(
            "METHOD_NOT_SUPPORTED",
            format!("\"{}\" is {expected}: call it with {method}", call.path),
            &call.path,
        ));
    };
    let output = handler(&state.services, caller, call.input).await.map_err(|e| {
        if let AppError::Internal(cause) | AppError::Integrity { message: cause } = &e {
            tracing::error!(%cause, path = %call.path, "tRPC procedure failed");
        }
        TrpcError::from_app(&e, &call.path)
    })?;
    Ok(output)
}

impl TrpcError {
    fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.http_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(body).unwrap_or_default())
}
