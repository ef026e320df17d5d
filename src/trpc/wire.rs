//! tRPC v11 HTTP wire format with the superjson transformer: request decoding, result and
//! error envelopes, batching, and Date metadata for timestamp fields.

use poem::Response;
use poem::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::error::AppError;

/// One procedure call taken from a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub path: String,
    /// The superjson `json` value; `None` when absent or `null` (superjson's `undefined`).
    pub input: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrpcError {
    pub code: &'static str,
    pub message: String,
    pub http_status: u16,
    pub path: String,
    /// Our own stable error code, for clients that want more than the tRPC code.
    pub app_code: Option<&'static str>,
}

/// tRPC error names with their JSON-RPC codes and HTTP statuses.
const CODES: &[(&str, i32, u16)] = &[
    ("PARSE_ERROR", -32700, 400),
    ("BAD_REQUEST", -32600, 400),
    ("UNAUTHORIZED", -32001, 401),
    ("FORBIDDEN", -32003, 403),
    ("NOT_FOUND", -32004, 404),
    ("METHOD_NOT_SUPPORTED", -32005, 405),
    ("TIMEOUT", -32008, 408),
    ("CONFLICT", -32009, 409),
    ("PAYLOAD_TOO_LARGE", -32013, 413),
    ("UNSUPPORTED_MEDIA_TYPE", -32015, 415),
    ("UNPROCESSABLE_CONTENT", -32022, 422),
    ("TOO_MANY_REQUESTS", -32029, 429),
    ("INTERNAL_SERVER_ERROR", -32603, 500),
    ("BAD_GATEWAY", -32603, 502),
    ("SERVICE_UNAVAILABLE", -32603, 503),
    ("GATEWAY_TIMEOUT", -32603, 504),
];

fn lookup(code: &str) -> (i32, u16) {
    CODES.iter().find(|(name, ..)| *name == code).map_or((-32603, 500), |(_, rpc, http)| (*rpc, *http))
}

impl TrpcError {
    pub fn new(code: &'static str, message: impl Into<String>, path: &str) -> Self {
        Self { code, message: message.into(), http_status: lookup(code).1, path: path.to_owned(), app_code: None }
    }

    /// The same error naming our own stable code too (`data.appCode`).
    pub fn with_app_code(self, app_code: &'static str) -> Self {
        Self { app_code: Some(app_code), ..self }
    }

    pub fn from_app(err: &AppError, path: &str) -> Self {
        let code = match err {
            AppError::BadRequest { .. } | AppError::RangeNotSatisfiable { .. } => "BAD_REQUEST",
            AppError::Unauthorized { .. } => "UNAUTHORIZED",
            AppError::Forbidden { .. } => "FORBIDDEN",
            AppError::NotFound { .. } => "NOT_FOUND",
            AppError::MethodNotAllowed { .. } => "METHOD_NOT_SUPPORTED",
            AppError::Conflict { .. } => "CONFLICT",
            AppError::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            AppError::RequestTimeout { .. } => "TIMEOUT",
            AppError::Unprocessable { .. } => "UNPROCESSABLE_CONTENT",
            // The app treats a used-up quota as FORBIDDEN (with a message to upgrade).
            AppError::TooManyRequests { code: "quota_exceeded", .. } => "FORBIDDEN",
            AppError::TooManyRequests { .. } => "TOO_MANY_REQUESTS",
            AppError::BadGateway { .. } => "BAD_GATEWAY",
            AppError::Unavailable { .. } => "SERVICE_UNAVAILABLE",
            AppError::Integrity { .. } | AppError::Internal(_) => "INTERNAL_SERVER_ERROR",
        };
        Self { app_code: Some(err.code()), ..Self::new(code, err.public_message(), path) }
    }

    pub(crate) fn envelope(&self) -> Value {
        let (rpc_code, _) = lookup(self.code);
        let mut data = json!({ "code": self.code, "httpStatus": self.http_status, "path": self.path });
        if let Some(app_code) = self.app_code {
            data["appCode"] = app_code.into();
        }
        json!({ "error": { "json": { "message": self.message, "code": rpc_code, "data": data } } })
    }
}

/// The value of `name` in a URL query string, percent-decoded (`+` is a space).
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " ")).decode_utf8_lossy().into_owned()
        })
    })
}

/// Unwraps superjson's `{"json": …, "meta": …}`. Values that `meta` marks `undefined` (sent
/// as `null`) are removed, so optional fields read as absent; a root `null` means no input.
fn unwrap_superjson(value: Value, path: &str) -> Result<Option<Value>, TrpcError> {
    let Value::Object(mut map) = value else {
        return Err(missing_wrapper(path));
    };
    let Some(mut json) = map.remove("json") else {
        return Err(missing_wrapper(path));
    };
    if let Some(Value::Object(values)) = map.get("meta").and_then(|m| m.get("values")) {
        for (dotted, kinds) in values {
            if kinds.get(0).and_then(Value::as_str) == Some("undefined") {
                remove_path(&mut json, dotted);
            }
        }
    }
    Ok(match json {
        Value::Null => None,
        v => Some(v),
    })
}

fn missing_wrapper(path: &str) -> TrpcError {
    TrpcError::new("BAD_REQUEST", "input must be wrapped as superjson: {\"json\": <input>}", path)
}

/// Splits a superjson path on its unescaped dots (`a\.b.c` → `a.b`, `c`).
fn split_path(dotted: &str) -> Vec<String> {
    let mut segments = vec![String::new()];
    let mut chars = dotted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => segments.last_mut().unwrap().extend(chars.next()),
            '.' => segments.push(String::new()),
            c => segments.last_mut().unwrap().push(c),
        }
    }
    segments
}

/// Removes the value at a superjson dot path (`a.b.0.c`) if it is there.
fn remove_path(value: &mut Value, dotted: &str) {
    let mut segments = split_path(dotted);
    let Some(last) = segments.pop() else { return };
    let mut target = value;
    for segment in &segments {
        let segment = segment.as_str();
        target = match target {
            Value::Object(map) => match map.get_mut(segment) {
                Some(v) => v,
                None => return,
            },
            Value::Array(items) => match segment.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
    }
    if let Value::Object(map) = target {
        map.remove(&last);
    }
}

/// One call of a request with its input as sent (still superjson-wrapped), for calls that are
/// forwarded as they came or unwrapped into a [`Call`].
#[derive(Debug, Clone, PartialEq)]
pub struct RawCall {
    pub path: String,
    /// The call's input as the client sent it (`{"json": …, "meta"?: …}`), if any.
    pub input: Option<Value>,
}

impl RawCall {
    /// The call with its superjson input unwrapped.
    pub fn unwrap(self) -> Result<Call, TrpcError> {
        let input = match self.input {
            Some(v) => unwrap_superjson(v, &self.path)?,
            None => None,
        };
        Ok(Call { path: self.path, input })
    }
}

/// Splits a request into its calls, inputs left as sent: `a.b` alone, or with batching
/// `a.b,a.c` with inputs keyed `"0"`, `"1"`, … .
pub fn split_calls(paths: &str, batch: bool, raw_input: Option<&str>) -> Result<Vec<RawCall>, TrpcError> {
    let parsed = match raw_input {
        Some(raw) if !raw.is_empty() => Some(
            serde_json::from_str::<Value>(raw)
                .map_err(|e| TrpcError::new("PARSE_ERROR", format!("input is not valid JSON: {e}"), paths))?,
        ),
        _ => None,
    };
    if !batch {
        return Ok(vec![RawCall { path: paths.to_owned(), input: parsed }]);
    }
    let mut by_index = match parsed {
        Some(Value::Object(map)) => map,
        None => Map::new(),
        Some(_) => return Err(TrpcError::new("BAD_REQUEST", "batch input must be an object keyed by call index", paths)),
    };
    Ok(paths
        .split(',')
        .enumerate()
        .map(|(i, path)| RawCall { path: path.to_owned(), input: by_index.remove(&i.to_string()) })
        .collect())
}

/// Splits a request into calls with their superjson inputs unwrapped.
pub fn parse_calls(paths: &str, batch: bool, raw_input: Option<&str>) -> Result<Vec<Call>, TrpcError> {
    split_calls(paths, batch, raw_input)?.into_iter().map(RawCall::unwrap).collect()
}

/// Keys whose RFC 3339 string values the app expects as `Date` objects.
fn is_timestamp_key(key: &str) -> bool {
    ["At", "Date", "Start", "End", "Since"].iter().any(|suffix| key.ends_with(suffix))
        || matches!(key, "timestamp" | "start" | "end")
}

/// Adds `path: ["Date"]` to `out` for each timestamp string under `value`. `path` is the
/// dotted path so far; it is extended in place and restored, so only found dates allocate.
fn collect_dates(value: &Value, path: &mut String, out: &mut Map<String, Value>) {
    let len = path.len();
    let enter = |path: &mut String, key: &str| {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    };
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(s) if is_timestamp_key(k) && chrono::DateTime::parse_from_rfc3339(s).is_ok() => {
                        enter(path, k);
                        out.insert(path.clone(), json!(["Date"]));
                    }
                    Value::Object(_) | Value::Array(_) => {
                        enter(path, k);
                        collect_dates(v, path, out);
                    }
                    _ => {}
                }
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                if matches!(v, Value::Object(_) | Value::Array(_)) {
                    enter(path, &i.to_string());
                    collect_dates(v, path, out);
                    path.truncate(len);
                }
            }
        }
        _ => {}
    }
}

/// `{"result":{"data":{"json": output, "meta"?: {"values": {path: ["Date"]}, "v": 1}}}}`.
pub fn result_envelope(output: Value) -> Value {
    let mut dates = Map::new();
    collect_dates(&output, &mut String::new(), &mut dates);
    let mut data = Map::new();
    data.insert("json".into(), output);
    if !dates.is_empty() {
        data.insert("meta".into(), json!({ "values": dates, "v": 1 }));
    }
    json!({ "result": { "data": data } })
}

fn envelope(outcome: Result<Value, TrpcError>) -> Value {
    match outcome {
        Ok(output) => result_envelope(output),
        Err(e) => e.envelope(),
    }
}

/// One answer of a batch: a call this server ran, or an envelope relayed from the upstream.
#[derive(Debug)]
pub enum Answer {
    Own(Result<Value, TrpcError>),
    Relayed(Relayed),
}

/// A result or error envelope from the upstream, kept as it came (bar a `stack`), with the HTTP
/// status its kind stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct Relayed {
    pub envelope: Value,
    pub status: u16,
}

impl Relayed {
    /// A tRPC envelope (`{"result": …}` or `{"error": …}`, with or without a transformer's
    /// `json` wrapper), or `None` for anything else. `fallback` is the status of an error that
    /// names none of its own: the upstream answer's HTTP status when that is an error status.
    pub fn from_envelope(mut envelope: Value, fallback: Option<u16>) -> Option<Self> {
        let object = envelope.as_object_mut()?;
        if object.contains_key("result") {
            return Some(Self { envelope, status: 200 });
        }
        let error = object.get_mut("error")?;
        // Transformers wrap the error shape: superjson as `{"json": shape}`.
        let shape = if error.get("json").is_some_and(Value::is_object) { &mut error["json"] } else { error };
        let shape = shape.as_object_mut()?;
        // A development upstream adds its stack trace; that is nobody's business here.
        if let Some(Value::Object(data)) = shape.get_mut("data") {
            data.remove("stack");
        }
        let named = shape.get("data").and_then(|d| d.get("httpStatus")).and_then(Value::as_u64);
        let by_rpc_code = || {
            let rpc = shape.get("code").and_then(Value::as_i64)?;
            // -32603 stands for several codes (all 5xx): INTERNAL_SERVER_ERROR is its first.
            CODES.iter().find(|(_, code, _)| i64::from(*code) == rpc).map(|(.., http)| *http)
        };
        let status = named
            .and_then(|s| u16::try_from(s).ok())
            .filter(|s| (400..=599).contains(s))
            .or(fallback.filter(|s| (400..=599).contains(s)))
            .or_else(by_rpc_code)
            .unwrap_or(500);
        Some(Self { envelope, status })
    }
}

impl Answer {
    fn status(&self) -> u16 {
        match self {
            Answer::Own(Ok(_)) => 200,
            Answer::Own(Err(e)) => e.http_status,
            Answer::Relayed(r) => r.status,
        }
    }

    fn envelope(self) -> Value {
        match self {
            Answer::Own(outcome) => envelope(outcome),
            Answer::Relayed(r) => r.envelope,
        }
    }
}

pub fn error_response(err: &TrpcError) -> Response {
    super::json_response(err.status(), &err.envelope())
}

pub fn single_response(outcome: Result<Value, TrpcError>) -> Response {
    let status = match &outcome {
        Ok(_) => StatusCode::OK,
        Err(e) => e.status(),
    };
    super::json_response(status, &envelope(outcome))
}

/// An array of envelopes: 200 when all succeed, the shared status when all fail alike,
/// 207 otherwise.
pub fn batch_response(outcomes: Vec<Result<Value, TrpcError>>) -> Response {
    batch_answers(outcomes.into_iter().map(Answer::Own).collect())
}

/// [`batch_response`] over answers some of which the upstream gave.
pub fn batch_answers(answers: Vec<Answer>) -> Response {
    let statuses: Vec<u16> = answers.iter().map(Answer::status).collect();
    let status = match statuses.first() {
        Some(first) if statuses.iter().all(|s| s == first) => StatusCode::from_u16(*first).unwrap_or(StatusCode::OK),
        _ => StatusCode::MULTI_STATUS,
    };
    super::json_response(status, &Value::Array(answers.into_iter().map(Answer::envelope).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_call_unwraps_superjson_and_treats_null_as_absent() {
        let calls = parse_calls("r3al.a.b", false, Some(r#"{"json":{"userId":"u1"}}"#)).unwrap();
        assert_eq!(calls, vec![Call { path: "r3al.a.b".into(), input: Some(json!({"userId":"u1"})) }]);
        let none = parse_calls("x", false, Some(r#"{"json":null,"meta":{"values":["undefined"],"v":1}}"#)).unwrap();
        assert_eq!(none[0].input, None);
        assert_eq!(parse_calls("x", false, None).unwrap()[0].input, None);
        let undefined_field = r#"{"json":{"a":null,"b":null,"c":{"d":null}},"meta":{"values":{"a":["undefined"],"c.d":["undefined"]},"v":1}}"#;
        let calls = parse_calls("x", false, Some(undefined_field)).unwrap();
        assert_eq!(calls[0].input, Some(json!({"b": null, "c": {}})), "undefined is absent, a real null stays");
        let dotted_key = r#"{"json":{"a.b":null,"a":{"b":1}},"meta":{"values":{"a\\.b":["undefined"]},"v":1}}"#;
        let calls = parse_calls("x", false, Some(dotted_key)).unwrap();
        assert_eq!(calls[0].input, Some(json!({"a": {"b": 1}})), "an escaped dot stays inside the key");
    }

    #[test]
    fn unwrapped_or_malformed_input_is_refused() {
        assert_eq!(parse_calls("x", false, Some(r#"{"userId":"u1"}"#)).unwrap_err().code, "BAD_REQUEST");
        assert_eq!(parse_calls("x", false, Some("{nope")).unwrap_err().code, "PARSE_ERROR");
        assert_eq!(parse_calls("x", true, Some("[1]")).unwrap_err().code, "BAD_REQUEST");
    }

    #[test]
    fn batch_splits_paths_and_indexes_inputs() {
        let calls = parse_calls("a.b,a.c", true, Some(r#"{"1":{"json":{"k":2}}}"#)).unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0], Call { path: "a.b".into(), input: None });
        assert_eq!(calls[1].input, Some(json!({"k":2})));
    }

    #[test]
    fn dates_get_superjson_meta() {
        let out = json!({"success": true, "createdAt": "2026-01-02T03:04:05.678Z", "title": "2026-01-02T03:04:05Z",
                          "period": {"currentPeriodStart": "2026-01-02T03:04:05Z", "resetDate": null},
                          "projects": [{"updatedAt": "2026-01-02T03:04:05Z"}], "statusAt": "soon"});
        let env = result_envelope(out.clone());
        assert_eq!(env["result"]["data"]["json"], out);
        assert_eq!(
            env["result"]["data"]["meta"],
            json!({"values": {"createdAt": ["Date"], "period.currentPeriodStart": ["Date"], "projects.0.updatedAt": ["Date"]}, "v": 1})
        );
        assert!(result_envelope(json!({"a": 1}))["result"]["data"].get("meta").is_none());
    }

    #[test]
    fn error_envelope_has_rpc_code_and_http_status() {
        let e = TrpcError::from_app(&AppError::forbidden("no"), "r3al.x.y");
        assert_eq!(e.http_status, 403);
        assert_eq!(
            e.envelope(),
            json!({"error":{"json":{"message":"no","code":-32003,"data":{"code":"FORBIDDEN","httpStatus":403,"path":"r3al.x.y","appCode":"forbidden"}}}})
        );
    }

    #[test]
    fn query_params_are_decoded() {
        assert_eq!(query_param(Some("batch=1&input=%7B%22a%22%3A1%7D"), "input").as_deref(), Some("{\"a\":1}"));
        assert_eq!(query_param(Some("batch=1"), "input"), None);
    }
}
