//! `JsonBody<T>`: poem-openapi's JSON request body, with errors that name the offending field
//! (`password: missing field`) in our error shape. Documented exactly like `Json<T>`.

use poem::{Request, RequestBody};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, Type};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde::de::DeserializeOwned;

use crate::error::AppError;

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

/// Where serde fails on the input: the field path and what is wrong with it.
fn locate<T: DeserializeOwned>(value: serde_json::Value) -> Option<AppError> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(_) => None,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            // serde names a missing field in its message; report it as the field itself.
            if let Some(name) = inner.strip_prefix("missing field `").and_then(|s| s.split('`').next()) {
                let field = if path == "." { name.to_owned() } else { format!("{path}.{name}") };
                return Some(AppError::invalid_field(&field, "is required"));
            }
            Some(if path == "." { AppError::bad_request("invalid_body", inner) } else { AppError::invalid_field(&path, inner) })
        }
    }
}

impl<T: ParseFromJSON + DeserializeOwned> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let data = <Vec<u8> as poem::FromRequest>::from_request(request, body).await?;
        if data.is_empty() {
            return Err(AppError::bad_request("missing_body", "a JSON request body is required").into());
        }
        let value: serde_json::Value = serde_json::from_slice(&data)
            .map_err(|e| AppError::bad_request("malformed_json", format!("the body is not valid JSON: {e}")))?;
        // serde is strict about types (poem-openapi turns a number into a string); poem-openapi
        // then applies the documented validators.
        if let Some(err) = locate::<T>(value.clone()) {
            return Err(err.into());
        }
        T::parse_from_json(Some(value))
            .map(Self)
            .map_err(|err| AppError::bad_request("invalid_body", err.into_message()).into())
    }
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
