//! The one error type of the application and its HTTP mapping.
//!
//! Every failure a caller can see is an [`AppError`]: a stable machine `code`, a human
//! `message` and optional `details`. The REST skin renders it as
//! `{"error":{"code","message","details?"}}`; the tRPC skin maps it to tRPC codes.
//! Internal causes are logged, never sent.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::{ApiResponse, Object};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed or a field is invalid.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String, details: Option<Value> },
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    #[error("{message}")]
    Forbidden { code: &'static str, message: String, details: Option<Value> },
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("{message}")]
    MethodNotAllowed { message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{message}")]
    PayloadTooLarge { message: String },
    /// The client stopped sending its request body.
    #[error("{message}")]
    RequestTimeout { message: String },
    /// A `Range` that does not overlap the object of `size` bytes.
    #[error("the requested range is not satisfiable (the object has {size} bytes)")]
    RangeNotSatisfiable { size: u64 },
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String, details: Option<Value> },
    #[error("{message}")]
    TooManyRequests { code: &'static str, message: String, retry_after_secs: u64, details: Option<Value> },
    /// An upstream service (an AI provider) failed or answered nonsense.
    #[error("{message}")]
    BadGateway { code: &'static str, message: String },
    #[error("{message}")]
    Unavailable { code: &'static str, message: String, retry_after_secs: Option<u64> },
    /// Stored ciphertext that fails its integrity check: tampered, truncated, or paired with the
    /// wrong record. Logged with its cause; the caller learns which item, never the bytes.
    #[error("{message}")]
    Integrity { message: String },
    /// A bug or an environment failure. The cause is logged; callers see a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest { code, message: message.into(), details: None }
    }

    /// A field that failed validation; `details.field` names it.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code: "invalid_field",
            message: format!("{field}: {}", message.into()),
            details: Some(serde_json::json!({ "field": field })),
        }
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unauthorized { code, message: message.into() }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden { code: "forbidden", message: message.into(), details: None }
    }

    pub fn forbidden_code(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden { code, message: message.into(), details: None }
    }

    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unavailable { code, message: message.into(), retry_after_secs: None }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound { code: "not_found", message: message.into() }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Integrity { .. } | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unprocessable { code, .. }
            | Self::TooManyRequests { code, .. }
            | Self::BadGateway { code, .. }
            | Self::Unavailable { code, .. } => code,
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::RequestTimeout { .. } => "request_timeout",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::RangeNotSatisfiable { .. } => "range_not_satisfiable",
            Self::Integrity { .. } => "integrity_check_failed",
            Self::Internal(_) => "internal_error",
        }
    }

    /// The message a caller may see (internal causes stay in the log).
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "internal server error".to_owned(),
            other => other.to_string(),
        }
    }

    pub fn details(&self) -> Option<&Value> {
        match self {
            Self::BadRequest { details, .. }
            | Self::Unprocessable { details, .. }
            | Self::Forbidden { details, .. }
            | Self::TooManyRequests { details, .. } => details.as_ref(),
            _ => None,
        }
    }

    /// Seconds after which a retry may succeed (the `Retry-After` header).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::TooManyRequests { retry_after_secs, .. } => Some(*retry_after_secs),
            Self::Unavailable { retry_after_secs, .. } => *retry_after_secs,
            _ => None,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.public_message(),
                details: self.details().cloned(),
            },
        }
    }

    /// Maps a poem error raised outside our handlers (a body that does not parse, a missing
    /// bearer, an unknown route) to the same error shape.
    pub fn from_poem(err: &poem::Error) -> Self {
        // A query parameter that fails to parse or its documented bounds names itself, as the
        // services' own checks do.
        if let Some(param) = err.downcast_ref::<poem_openapi::error::ParseParamError>() {
            return Self::invalid_field(param.name, param.reason.clone());
        }
        let message = err.to_string();
        match err.status() {
            StatusCode::UNAUTHORIZED => Self::unauthorized("unauthorized", "missing or malformed bearer token"),
            StatusCode::NOT_FOUND => Self::NotFound { code: "not_found", message },
            StatusCode::METHOD_NOT_ALLOWED => {
                Self::MethodNotAllowed { message: "this route does not answer that method".into() }
            }
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge { message },
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::bad_request("unsupported_media_type", message),
            s if s.is_client_error() => Self::bad_request("invalid_request", message),
            _ => Self::Internal(message),
        }
    }
}

#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_path`, `quota_exceeded`.
    pub code: String,
    /// Human-readable explanation naming what is wrong.
    pub message: String,
    /// Structured context (e.g. the offending `field`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl poem::error::ResponseError for AppError {
    fn status(&self) -> StatusCode {
        AppError::status(self)
    }

    fn as_response(&self) -> Response {
        match self {
            Self::Internal(cause) => tracing::error!(%cause, "internal error"),
            Self::Integrity { message } => tracing::error!(%message, "integrity check failed"),
            _ => {}
        }
        let mut resp = poem::web::Json(self.body()).with_status(self.status()).into_response();
        if let Some(secs) = self.retry_after_secs() {
            resp.headers_mut().insert("retry-after", secs.into());
        }
        if let Self::RangeNotSatisfiable { size } = self
            && let Ok(v) = poem::http::HeaderValue::from_str(&format!("bytes */{size}"))
        {
            resp.headers_mut().insert("content-range", v);
        }
        if let Self::Unauthorized { .. } = self {
            resp.headers_mut()
                .insert("www-authenticate", poem::http::HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// Every operation documents the error answers it may give, all with the same body schema,
/// so the published spec tells the truth about failures.
const DOCUMENTED: &[(u16, &str)] = &[
    (400, "Malformed request or invalid field"),
    (401, "Missing, invalid or expired bearer token"),
    (403, "The caller may not do this"),
    (404, "Not found"),
    (408, "The request body stalled"),
    (409, "Conflict with the current state"),
    (413, "Payload too large"),
    (422, "Well-formed but unprocessable"),
    (429, "Too many requests or quota used up"),
    (500, "Internal error, or stored ciphertext that failed its integrity check"),
    (502, "An upstream provider failed"),
    (503, "A dependency is unavailable"),
];

impl ApiResponse for AppError {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: DOCUMENTED
                .iter()
                .map(|(status, description)| MetaResponse {
                    description,
                    status: Some(*status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: "application/json; charset=utf-8",
                        schema: <ErrorBody as poem_openapi::types::Type>::schema_ref(),
                    }],
                    headers: vec![],
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        <ErrorBody as poem_openapi::types::Type>::register(registry);
    }
}

pub type AppResult<T> = Result<T, AppError>;
