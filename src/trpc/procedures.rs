//! The procedure table: each tRPC path, whether it is a query or a mutation, and the service
//! call behind it. Inputs are the app's shapes; outputs start with `success: true`.

use std::collections::HashMap;
use std::sync::OnceLock;

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;

use crate::services::Services;
use super::shape::{input, signed_in, success};
use crate::auth::Caller;
use crate::error::AppResult;
use crate::features::accounts::model::{Credentials, EmailCredentials, Login, Session};
use crate::features::storage::model::{DeleteRequest, SignedUrlRequest};

use super::{chat, premium, studio, subscription, tactical, writers};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Query,
    Mutation,
}

pub type Handler = for<'a> fn(&'a Services, Option<Caller>, Option<Value>) -> BoxFuture<'a, AppResult<Value>>;

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

async fn system_health(state: &Services) -> AppResult<Value> {
    success(state.readiness.health().await)
}

async fn auth_register(state: &Services, raw: Option<Value>) -> AppResult<Value> {
    success(state.accounts.register(input::<Credentials>(raw)?).await?)
}

async fn auth_login(state: &Services, raw: Option<Value>) -> AppResult<Value> {
    success(state.accounts.login(input::<Login>(raw)?).await?)
}

/// The app's answer to sign-up and sign-in: the session, with the username as its `email`.
#[derive(Serialize)]
struct AppSession {
    email: String,
    #[serde(flatten)]
    session: Session,
}

async fn app_register(state: &Services, raw: Option<Value>) -> AppResult<Value> {
    let session = state.accounts.register_email(input::<EmailCredentials>(raw)?).await?;
    success(AppSession { email: session.username.clone(), session })
}

async fn app_login(state: &Services, raw: Option<Value>) -> AppResult<Value> {
    let session = state.accounts.login_email(input::<EmailCredentials>(raw)?).await?;
    success(AppSession { email: session.username.clone(), session })
}

async fn auth_me(state: &Services, caller: Option<Caller>) -> AppResult<Value> {
    success(state.accounts.me(&signed_in(caller)?).await?)
}

async fn storage_signed_url(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    let r: SignedUrlRequest = input(raw)?;
    success(state.storage.signed_url(&caller, &r.bucket, &r.path, r.method, r.expires_in).await?)
}

async fn storage_delete(state: &Services, caller: Option<Caller>, raw: Option<Value>) -> AppResult<Value> {
    let caller = signed_in(caller)?;
    success(state.storage.delete(&caller, &input::<DeleteRequest>(raw)?.url).await?)
}
