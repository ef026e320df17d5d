//! `JsonBody<T>`: poem-openapi's JSON request body, with errors that name the offending field
//! (`password: missing field`) in our error shape, read within `limits.max_json_bytes` and
//! `limits.max_json_depth`. Documented exactly like `Json<T>`.


use poem::error::ReadBodyError;
use poem::{Endpoint, EndpointExt, Request, RequestBody};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, Type};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde::de::DeserializeOwned;

use crate::error::{AppError, AppResult};

/// Marks an operation whose JSON body carries a manuscript: it may be
/// `writers.max_manuscript_bytes` larger than other JSON bodies. Used as an operation's
/// `transform`.
#[derive(Debug, Clone, Copy)]
pub struct CarriesManuscript;

pub fn carries_manuscript(ep: impl Endpoint) -> impl Endpoint {
    ep.data(CarriesManuscript)
}

/// The configured bounds of JSON bodies; the route table puts them in every request's data.
#[derive(Debug, Clone, Copy)]
pub struct JsonLimits {
    pub max_bytes: u64,
    pub max_depth: usize,
    /// What an operation that carries a manuscript may send on top of `max_bytes`.
    pub manuscript_bytes: u64,
}

impl JsonLimits {
    pub fn of(config: &crate::config::Config) -> Self {
        Self {
            max_bytes: config.limits.max_json_bytes,
            max_depth: config.limits.max_json_depth,
            manuscript_bytes: config.writers.max_manuscript_bytes,
        }
    }
}

/// The largest JSON body this request may send, and the deepest nesting.
fn json_limits(request: &Request) -> (u64, usize) {
    let limits = request.data::<JsonLimits>().copied().unwrap_or_else(|| JsonLimits::of(&crate::config::Config::default()));
    let extra = if request.data::<CarriesManuscript>().is_some() { limits.manuscript_bytes } else { 0 };
    (limits.max_bytes + extra, limits.max_depth)
}

/// Refuses JSON nested deeper than `max` arrays and objects, before it is parsed (serde's own
/// recursion limit is 128, and a deep value costs stack in every pass over it).
pub fn check_json_depth(data: &[u8], max: usize) -> AppResult<()> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in data {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Err(AppError::bad_request(
                        "json_too_deep",
                        format!("the JSON body nests arrays and objects deeper than {max} levels"),
                    ));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        content_type.split(';').next().is_some_and(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// A JSON value as `T`; when serde fails, a 400 naming the field path and what is wrong with
/// it. REST bodies and tRPC inputs are read by it alike.
pub fn from_json<T: DeserializeOwned>(value: serde_json::Value) -> AppResult<T> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde names a missing field in its message; report it as the field itself.
        if let Some(name) = inner.strip_prefix("missing field `").and_then(|s| s.split('`').next()) {
            let field = if path == "." { name.to_owned() } else { format!("{path}.{name}") };
            return AppError::invalid_field(&field, "is required");
        }
        if path == "." { AppError::bad_request("invalid_body", inner) } else { AppError::invalid_field(&path, inner) }
    })
}

impl<T: ParseFromJSON + DeserializeOwned> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let (max_bytes, max_depth) = json_limits(request);
        let data = body.take()?.into_bytes_limit(max_bytes as usize).await.map_err(|e| match e {
            ReadBodyError::PayloadTooLarge => {
                AppError::PayloadTooLarge { message: format!("the JSON body is larger than {max_bytes} bytes") }
            }
            other => AppError::bad_request("unreadable_body", format!("cannot read the body: {other}")),
        })?;
        check_json_depth(&data, max_depth)?;
        if data.is_empty() {
            return Err(AppError::bad_request("missing_body", "a JSON request body is required").into());
        }
        let value: serde_json::Value = serde_json::from_slice(&data)
            .map_err(|e| AppError::bad_request("malformed_json", format!("the body is not valid JSON: {e}")))?;
        // serde is strict about types (poem-openapi turns a number into a string); poem-openapi
        // then applies the documented validators.
        from_json::<T>(value.clone())?;
        T::parse_from_json(Some(value)).map(Self).map_err(|err| {
            let message = err.into_message();
            match validated_field(&message) {
                Some(field) => AppError::invalid_field(field, message.clone()),
                None => AppError::bad_request("invalid_body", message),
            }
            .into()
        })
    }
}

/// The field a documented bound refused (poem-openapi says `failed to parse "Type": field
/// `name` verification failed. maxLength(…)`), so that the answer names it as the services'
/// own checks do.
fn validated_field(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once("field `")?;
    let (field, rest) = rest.split_once('`')?;
    rest.starts_with(" verification failed").then_some(field)
}

impl<'a, T: ParseFromJSON + DeserializeOwned> ApiExtractor<'a> for JsonBody<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <Self as Payload>::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType { content_type: Self::CONTENT_TYPE, schema: Self::schema_ref() }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        match request.content_type() {
            Some(ct) if Self::check_content_type(ct) => <Self as ParsePayload>::from_request(request, body).await,
            Some(ct) => Err(AppError::bad_request("unsupported_media_type", format!("expected application/json, got `{ct}`")).into()),
            None => Err(AppError::bad_request("unsupported_media_type", "expected a `Content-Type: application/json` body").into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ParseFromJSON;

    use super::{check_json_depth, validated_field};
    use crate::features::storage::model::SignedUrlRequest;

    #[test]
    fn a_refused_bound_names_its_field() {
        let refused = |body: serde_json::Value| SignedUrlRequest::parse_from_json(Some(body)).unwrap_err().into_message();
        let number = refused(serde_json::json!({"bucket": "media", "path": "a", "expiresIn": 0}));
        assert_eq!(validated_field(&number), Some("expiresIn"), "{number}");
        let text = refused(serde_json::json!({"bucket": "b".repeat(65), "path": "a"}));
        assert_eq!(validated_field(&text), Some("bucket"), "{text}");
        assert_eq!(validated_field("expected object"), None);
    }

    #[test]
    fn depth_counts_arrays_and_objects_but_not_brackets_in_strings() {
        assert!(check_json_depth(br#"{"a":[{"b":[]}]}"#, 4).is_ok());
        assert_eq!(check_json_depth(br#"{"a":[{"b":[]}]}"#, 3).unwrap_err().code(), "json_too_deep");
        assert!(check_json_depth(br#"{"a":"[[[[{{{{\"[[["}"#, 1).is_ok());
        assert!(check_json_depth(br#"[1,[2],[3],[4],[5]]"#, 2).is_ok(), "siblings do not add up");
        assert!(check_json_depth(b"", 1).is_ok());
    }
}
