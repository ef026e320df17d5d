//! What every procedure does at its edges: read its input as REST reads a body, require a
//! caller, and answer in the app's shape (`success: true` first; the app's names where they
//! differ from the model's).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::auth::Caller;
use crate::error::{AppError, AppResult};

/// Deserialises a procedure's input, naming the field that is wrong, as REST bodies are read.
pub(super) fn input<T: DeserializeOwned>(value: Option<Value>) -> AppResult<T> {
    crate::rest::body::from_json(value.unwrap_or(Value::Null))
}

pub(super) fn signed_in(caller: Option<Caller>) -> AppResult<Caller> {
    caller.ok_or_else(|| AppError::unauthorized("unauthorized", "this procedure needs a bearer token"))
}

/// Serialises an output object and puts `success: true` first, as the app expects.
pub(super) fn success(output: impl Serialize) -> AppResult<Value> {
    let mut map = Map::new();
    map.insert("success".into(), Value::Bool(true));
    match serde_json::to_value(output).map_err(AppError::internal)? {
        Value::Object(fields) => map.extend(fields),
        other => {
            map.insert("data".into(), other);
        }
    }
    Ok(Value::Object(map))
}

/// `{success: true, <key>: output}`.
pub(super) fn success_in(key: &str, output: impl Serialize) -> AppResult<Value> {
    success(Map::from_iter([(key.to_owned(), serde_json::to_value(output).map_err(AppError::internal)?)]))
}

/// A model's fields as a JSON object, to be shaped into the app's where its names differ.
pub(super) fn object(output: impl Serialize) -> AppResult<Map<String, Value>> {
    match serde_json::to_value(output).map_err(AppError::internal)? {
        Value::Object(fields) => Ok(fields),
        other => Err(AppError::internal(format!("expected an object, got {other}"))),
    }
}

/// Moves each field `(model's name, app's name)` to the app's name, replacing a field the model
/// has under that name.
pub(super) fn rename(fields: &mut Map<String, Value>, names: &[(&str, &str)]) {
    for (model, app) in names {
        if let Some(value) = fields.remove(*model) {
            fields.insert((*app).to_owned(), value);
        }
    }
}

/// A service's answer with the app's `message` beside its fields.
#[derive(Serialize)]
pub(super) struct WithMessage<T> {
    #[serde(flatten)]
    pub output: T,
    pub message: String,
}

/// `{userId}`: the input of a procedure about one user (other fields are read by the model
/// type that takes them).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UserInput {
    pub user_id: String,
}

/// `{userId, status?, limit?, offset?}`: a page of a user's items. The service checks the page
/// (`Page`); an absent `limit` is the feature's `PER_PAGE`, as in REST.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UserPage<S = serde::de::IgnoredAny> {
    pub user_id: String,
    pub status: Option<S>,
    pub limit: Option<u32>,
    #[serde(default)]
    pub offset: u32,
}
