//! The `Allow` header of a 405 (RFC 9110 §15.5.6 requires it).
//!
//! poem answers an unrouted method with a bare `MethodNotAllowedError` that names neither the
//! route nor its methods. The published OpenAPI document lists every route's methods, so the
//! header is derived from it once at start: what the spec promises is what the 405 announces.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, PathPattern, Request, Response};

use crate::error::AppError;

/// The order of the methods in the header: the usual reading order, not alphabetical.
const ORDER: [Method; 7] =
    [Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS];

/// Allowed methods by route shape (see [`shape`]).
#[derive(Debug, Default)]
pub struct AllowedMethods(HashMap<String, HeaderValue>);

/// A route's shape: its literal segments, every parameter as `{}`, whatever the syntax that
/// named it (`{id}` in the spec, `:id`, `*path` or `:id<regex>` in poem). One URL shape is one
/// route in poem, whatever its operations call their parameters.
fn shape(pattern: &str) -> String {
    pattern
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| if s.starts_with([':', '*', '{']) { "{}" } else { s })
        .fold(String::new(), |out, s| out + "/" + s)
}

impl AllowedMethods {
    /// Reads the `paths` of an OpenAPI document. `GET` implies `HEAD` (poem answers it).
    pub fn from_spec(spec: &serde_json::Value) -> Self {
        let mut by_shape: HashMap<String, BTreeSet<usize>> = HashMap::new();
        for (path, item) in spec["paths"].as_object().into_iter().flatten() {
            let methods = by_shape.entry(shape(path)).or_default();
            for key in item.as_object().into_iter().flat_map(|o| o.keys()) {
                if let Some(i) = ORDER.iter().position(|m| m.as_str().eq_ignore_ascii_case(key)) {
                    methods.insert(i);
                    if ORDER[i] == Method::GET {
                        methods.insert(1);
                    }
                }
            }
        }
        let header = |methods: BTreeSet<usize>| {
            let list = methods.into_iter().map(|i| ORDER[i].as_str()).collect::<Vec<_>>().join(", ");
            HeaderValue::from_str(&list).expect("method names are valid header text")
        };
        Self(by_shape.into_iter().map(|(k, v)| (k, header(v))).collect())
    }

    pub fn for_pattern(&self, pattern: &str) -> Option<&HeaderValue> {
        self.0.get(&shape(pattern))
    }
}

/// Turns poem's 405 into our error body with the route's `Allow` header.
pub async fn answer<E: Endpoint>(next: E, req: Request, allowed: Arc<AllowedMethods>) -> poem::Result<Response> {
    match next.call(req).await {
        Err(err) if err.status() == StatusCode::METHOD_NOT_ALLOWED => {
            let pattern = err.data::<PathPattern>().cloned();
            let mut resp = poem::Error::from(AppError::from_poem(&err)).into_response();
            match pattern.as_ref().and_then(|p| allowed.for_pattern(&p.0)) {
                Some(v) => {
                    resp.headers_mut().insert(header::ALLOW, v.clone());
                }
                // A route outside the spec: a bug in the spec, not in the caller's request.
                None => tracing::warn!(pattern = ?pattern.as_ref().map(|p| &p.0), "405 for a route the spec does not list"),
            }
            if let Some(p) = pattern {
                resp.set_data(p);
            }
            Ok(resp)
        }
        other => other.map(IntoResponse::into_response),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_agree_across_parameter_syntaxes() {
        assert_eq!(shape("/cdn/{bucket}/{path}"), shape("/cdn/:bucket/*path"));
        assert_eq!(shape("/api/media/photos/{photo_id}"), shape("/api/media/photos/:user_id"));
        assert_eq!(shape("/"), "");
        assert_ne!(shape("/api/tactical/comm/secure"), shape("/api/tactical/comm/:user_id"));
    }

    #[test]
    fn get_implies_head_and_routes_sharing_a_shape_share_their_methods() {
        let spec = serde_json::json!({ "paths": {
            "/photos/{user_id}": { "get": {}, "parameters": [] },
            "/photos/{photo_id}": { "delete": {} },
            "/upload": { "post": {} },
        }});
        let allowed = AllowedMethods::from_spec(&spec);
        assert_eq!(allowed.for_pattern("/photos/:user_id").unwrap(), "GET, HEAD, DELETE");
        assert_eq!(allowed.for_pattern("/upload").unwrap(), "POST");
        assert!(allowed.for_pattern("/nothing").is_none());
    }
}
