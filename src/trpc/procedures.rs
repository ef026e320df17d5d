//! The procedure table: each tRPC path, whether it is a query or a mutation, and the service
//! call behind it. Inputs are the app's shapes; outputs start with `success: true`.

use std::collections::HashMap;
use std::sync::OnceLock;

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::features::accounts::model::{Credentials, EmailCredentials, Login, Session};
use crate::features::storage::model::{DeleteRequest, SignedUrlRequest};

use super::{chat, premium, studio, subscription, tactical, writers};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Query,
    Mutation,
}

pub type Handler = for<'a> fn(&'a AppState, Option<Caller>, Option<Value>) -> BoxFuture<'a, AppResult<Value>>;

/// What a path serves: a query, a mutation, or (where the app calls one name both ways) both.
#[derive(Default)]
pub struct Procedure {
    pub query: Option<Handler>,
    pub mutation: Option<Handler>,
}

impl Procedure {
    pub fn handler(&self, kind: Kind) -> Option<Handler> {
        match kind {
            Kind::Query => self.query,
            Kind::Mutation => self.mutation,
        }
    }
}

pub fn find(path: &str) -> Option<&'static Procedure> {
    static TABLE: OnceLock<HashMap<&'static str, Procedure>> = OnceLock::new();
    TABLE.get_or_init(table).get(path)
}

/// Every procedure path of the table with each kind it serves, sorted (for tests that must
/// cover them all).
pub fn names() -> Vec<(&'static str, Kind)> {
    let mut names: Vec<(&'static str, Kind)> = entries().into_iter().map(|(path, kind, _)| (path, kind)).collect();
    names.sort_unstable();
    names
}

fn table() -> HashMap<&'static str, Procedure> {
    let mut table: HashMap<&'static str, Procedure> = HashMap::new();
    for (path, kind, handler) in entries() {
        let procedure = table.entry(path).or_default();
        match kind {
            Kind::Query => procedure.query = Some(handler),
            Kind::Mutation => procedure.mutation = Some(handler),
        }
    }
    table
}

fn entries() -> [(&'static str, Kind, Handler); 35] {
    use Kind::*;
    [
        // The app's root router: its diagnostics and its own sign-up and sign-in.
        ("health", Query, |s, _, _| Box::pin(system_health(s))),
        ("auth.register", Mutation, |s, _, i| Box::pin(app_register(s, i))),
        ("auth.login", Mutation, |s, _, i| Box::pin(app_login(s, i))),
        ("r3al.system.health", Query, |s, _, _| Box::pin(system_health(s))),
        ("r3al.auth.register", Mutation, |s, _, i| Box::pin(auth_register(s, i))),
        ("r3al.auth.login", Mutation, |s, _, i| Box::pin(auth_login(s, i))),
        ("r3al.auth.me", Query, |s, c, _| Box::pin(auth_me(s, c))),
        ("r3al.storage.getSignedUrl", Mutation, |s, c, i| Box::pin(storage_signed_url(s, c, i))),
        ("r3al.storage.deleteObject", Mutation, |s, c, i| Box::pin(storage_delete(s, c, i))),
        ("r3al.subscription.getUserTier", Query, |s, c, i| Box::pin(subscription::get_user_tier(s, c, i))),
        ("r3al.subscription.checkFeatureAccess", Query, |s, c, i| Box::pin(subscription::check_feature_access(s, c, i))),
        ("r3al.subscription.trackUsage", Mutation, |s, c, i| Box::pin(subscription::track_usage(s, c, i))),
        ("r3al.subscription.upgradeTier", Mutation, |s, c, i| Box::pin(subscription::upgrade_tier(s, c, i))),
        ("r3al.premium.getUsageSummary", Query, |s, c, i| Box::pin(subscription::usage_summary(s, c, i))),
        ("r3al.aiChat.sendMessage", Mutation, |s, c, i| Box::pin(chat::send_message(s, c, i))),
        ("r3al.aiChat.getSessionHistory", Query, |s, c, i| Box::pin(chat::session_history(s, c, i))),
        ("r3al.studio.createProject", Mutation, |s, c, i| Box::pin(studio::create_project(s, c, i))),
        ("r3al.studio.generateMusic", Mutation, |s, c, i| Box::pin(studio::generate_music(s, c, i))),
        ("r3al.studio.getProjects", Query, |s, c, i| Box::pin(studio::get_projects(s, c, i))),
        ("r3al.studio.shareMusic", Mutation, |s, c, i| Box::pin(studio::share_music(s, c, i))),
        ("r3al.writersGuild.createProject", Mutation, |s, c, i| Box::pin(writers::create_project(s, c, i))),
        ("r3al.writersGuild.getProjects", Query, |s, c, i| Box::pin(writers::get_projects(s, c, i))),
        ("r3al.writersGuild.startSession", Mutation, |s, c, i| Box::pin(writers::start_session(s, c, i))),
        ("r3al.writersGuild.getMember", Query, |s, c, i| Box::pin(writers::get_member(s, c, i))),
        ("r3al.writersGuild.getAssistance", Mutation, |s, c, i| Box::pin(writers::get_assistance(s, c, i))),
        ("r3al.writersGuild.upgradeMember", Mutation, |s, c, i| Box::pin(writers::upgrade_member(s, c, i))),
        ("r3al.premium.generateImage", Mutation, |s, c, i| Box::pin(premium::generate_image(s, c, i))),
        ("r3al.premium.getImageHistory", Query, |s, c, i| Box::pin(premium::get_image_history(s, c, i))),
        ("r3al.tactical.register", Mutation, |s, c, i| Box::pin(tactical::register(s, c, i))),
        ("r3al.tactical.getDashboard", Query, |s, c, i| Box::pin(tactical::get_dashboard(s, c, i))),
        ("r3al.tactical.sendComm", Mutation, |s, c, i| Box::pin(tactical::send_comm(s, c, i))),
        ("r3al.tactical.sendSecureComm", Mutation, |s, c, i| Box::pin(tactical::send_secure_comm(s, c, i))),
        ("r3al.tactical.getComms", Query, |s, c, i| Box::pin(tactical::get_comms(s, c, i))),
        // The app's Tactical HQ screen queries the situation report under this name; its router
        // declares the stress check-in as a mutation of the same name.
        ("r3al.tactical.getOptimaSRAnalysis", Query, |s, c, i| Box::pin(tactical::situation_report(s, c, i))),
        ("r3al.tactical.getOptimaSRAnalysis", Mutation, |s, c, i| Box::pin(tactical::check_in(s, c, i))),
    ]
}

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

async fn system_health(state: &AppState) -> AppResult<Value> {
    success(state.readiness.health().await)
}

async fn auth_register(state: &AppState, raw: Option<Value>) -> AppResult<Value> {
    success(state.accounts.register(input::<Credentials>(raw)?).await?)
}

async fn auth_login(state: &AppState, raw: Option<Value>) -> AppResult<Value> {
    success(state.accounts.login(input::<Login>(raw)?).await?)
}

/// The app's answer to sign-up and sign-in: the session, with the username as its `email`.
#[derive(Serialize)]
struct AppSession {
    email: String,
    #[serde(flatten)]
    session: Session,
}

async fn app_register(state: &AppState, raw: Option<Value>) -> AppResult<Value> {
    let session = state.accounts.register_email(input::<EmailCredentials>(raw)?).await?;
    success(AppSession { email: session.username.clone(), session })
}

async fn app_login(state: &AppState, raw: Option<Value>) -> AppResult<Value> {
    let session = state.accounts.login_email(input::<EmailCredentials>(raw)?).await?;
    success(AppSession { email: session.username.clone(), session })
}

async fn auth_me(state: &AppState, caller: Option<Caller>) -> AppResult<Value> {
    success(state.accounts.me(&signed_in(caller)?).await?)
}

async fn storage_signed_url(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let r: SignedUrlRequest = input(raw)?;
    success(state.storage.signed_url(&caller, &r.bucket, &r.path, r.method, r.expires_in).await?)
}

async fn storage_delete(state: &AppState, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    success(state.storage.delete(&caller, &input::<DeleteRequest>(raw)?.url).await?)
}
