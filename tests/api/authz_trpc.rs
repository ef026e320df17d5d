//! Authorization matrix for the tRPC procedures (`/api/trpc/<path>`), beside the REST one.
//!
//! The same two users as `authz_matrix` (Unlimited tier, verified Tactical HQ members in
//! different departments, each owning one resource of every kind). Every procedure of
//! `optima::trpc::names()` has a row in `PROCEDURES`: whether it is a query or a mutation, and
//! an input whose placeholders (`<User>`, `<MusicProject>`, …) are id slots. Each procedure is
//! called as `@trpc/client` with superjson calls it:
//!
//! - without a token, with A's ids: UNAUTHORIZED (401), unless it is on `PUBLIC`, where it must
//!   answer;
//! - as B, once per id slot, that slot holding A's id and every other slot B's own: FORBIDDEN or
//!   NOT_FOUND (403/404), never a success, never a 5xx;
//! - as B with B's own ids (the control): a success, or CONFLICT where `CONFLICTS` says why. A
//!   row proves its refusals only when its control gets through; a control that cannot must be
//!   on `ROLE_GATED`.
//!
//! Procedures without an id slot act on the caller: B's answer must not contain A's data. Every
//! answer to B or to an anonymous caller is searched for A's marker and A's ids (except those the
//! request sent). After every call (writes after reads, deletions last) A reads back all of A's
//! resources over REST and finds them unchanged.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use optima::auth::Role;
use serde_json::Value;

use crate::authz_matrix::{A_DEPT, A_USER, B_DEPT, B_USER, BUCKET, Kind, Owner, changed_since, setup, snapshot};
use crate::helpers::TestApp;

use optima::trpc::Kind as Call;
use Call::{Mutation, Query};

/// Every procedure, in the order the matrix calls it (reads, then writes, the deletion last), and
/// its input as the app sends it. A `<Kind>` string is an id slot (see `placeholder`); `null` is
/// no input.
const PROCEDURES: &[(&str, Call, &str)] = &[
    // Public, and acting on the caller.
    ("health", Query, "null"),
    ("auth.register", Mutation, r#"{"email": "newcomer@trpc-authz.example", "password": "password-123", "name": "Newcomer"}"#),
    ("auth.login", Mutation, r#"{"email": "newcomer@trpc-authz.example", "password": "password-123"}"#),
    ("r3al.system.health", Query, "null"),
    ("r3al.auth.register", Mutation, r#"{"username": "trpc-authz-newcomer", "password": "password-123"}"#),
    ("r3al.auth.login", Mutation, r#"{"username": "trpc-authz-newcomer", "password": "password-123"}"#),
    ("r3al.auth.me", Query, "null"),
    // Reads.
    ("r3al.subscription.getUserTier", Query, r#"{"userId": "<User>"}"#),
    ("r3al.subscription.checkFeatureAccess", Query, r#"{"userId": "<User>", "feature": "chat"}"#),
    ("r3al.premium.getUsageSummary", Query, r#"{"userId": "<User>"}"#),
    ("r3al.aiChat.getSessionHistory", Query, r#"{"userId": "<User>", "sessionId": "<ChatSession>", "limit": 50, "offset": 0}"#),
    ("r3al.studio.getProjects", Query, r#"{"userId": "<User>", "limit": 20, "offset": 0}"#),
    ("r3al.writersGuild.getProjects", Query, r#"{"userId": "<User>"}"#),
    ("r3al.writersGuild.getMember", Query, r#"{"userId": "<User>"}"#),
    ("r3al.premium.getImageHistory", Query, r#"{"userId": "<User>", "limit": 20, "offset": 0}"#),
    ("r3al.tactical.getDashboard", Query, r#"{"userId": "<User>"}"#),
    ("r3al.tactical.getComms", Query, r#"{"userId": "<User>", "limit": 50}"#),
    ("r3al.storage.getSignedUrl", Mutation, r#"{"bucket": "<Bucket>", "path": "<ObjectPath>", "expiresIn": 600}"#),
    // Writes.
    ("r3al.subscription.trackUsage", Mutation, r#"{"userId": "<User>", "featureType": "chat", "count": 1}"#),
    // B's current tier (the app calls `unlimited` `tactical`): B's control must not downgrade B.
    ("r3al.subscription.upgradeTier", Mutation, r#"{"userId": "<User>", "targetTier": "tactical", "billingPeriod": "monthly"}"#),
    (
        "r3al.aiChat.sendMessage",
        Mutation,
        r#"{"userId": "<User>", "sessionId": "<ChatSession>", "message": "hello from the tRPC authorization matrix", "context": "general"}"#,
    ),
    ("r3al.studio.createProject", Mutation, r#"{"userId": "<User>", "title": "tRPC matrix song", "genre": "ambient", "bpm": 90}"#),
    (
        "r3al.studio.generateMusic",
        Mutation,
        r#"{"projectId": "<MusicProject>", "userId": "<User>", "prompt": "a calm piano", "duration": 10, "style": "ambient"}"#,
    ),
    (
        "r3al.studio.shareMusic",
        Mutation,
        r#"{"projectId": "<MusicProject>", "userId": "<User>", "platforms": ["facebook"], "caption": "tRPC matrix"}"#,
    ),
    (
        "r3al.writersGuild.createProject",
        Mutation,
        r#"{"userId": "<User>", "title": "tRPC matrix novel", "genre": "", "description": "", "contentType": "novel", "matureContent": false}"#,
    ),
    ("r3al.writersGuild.startSession", Mutation, r#"{"userId": "<User>", "projectId": "<WritersProject>"}"#),
    (
        "r3al.writersGuild.getAssistance",
        Mutation,
        r#"{"userId": "<User>", "projectId": "<WritersProject>", "context": "a quiet harbour", "request": "suggest the next line", "contentRating": "general"}"#,
    ),
    ("r3al.writersGuild.upgradeMember", Mutation, r#"{"userId": "<User>", "tier": "unlimited"}"#),
    ("r3al.premium.generateImage", Mutation, r#"{"userId": "<User>", "prompt": "a lighthouse", "size": "1024x1024", "style": "vivid"}"#),
    ("r3al.tactical.register", Mutation, r#"{"userId": "<User>", "serviceBranch": "police", "rank": "Officer"}"#),
    (
        "r3al.tactical.sendComm",
        Mutation,
        r#"{"fromUserId": "<User>", "toTeamId": "<Team>", "messageType": "update", "messageContent": "tRPC matrix update", "priority": "normal", "relatedIncidentId": "<Incident>"}"#,
    ),
    (
        "r3al.tactical.sendSecureComm",
        Mutation,
        r#"{"senderId": "<User>", "commType": "message", "priority": "normal", "content": "tRPC matrix message", "encrypted": true}"#,
    ),
    ("r3al.tactical.getOptimaSRAnalysis", Query, r#"{"userId": "<User>", "analysisType": "situational"}"#),
    (
        "r3al.tactical.getOptimaSRAnalysis",
        Mutation,
        r#"{"userId": "<User>", "sessionType": "routine_check", "stressIndicators": {"heartRate": 80, "sleepQuality": 6, "moodRating": 7}}"#,
    ),
    // Deletion, last.
    ("r3al.storage.deleteObject", Mutation, r#"{"url": "<ObjectUrl>"}"#),
];

/// Procedures that answer without a token, and why. Called anonymously they must succeed (so the
/// list stays true); every other procedure must refuse an anonymous caller.
const PUBLIC: &[(&str, &str)] = &[
    ("health", "the app's root health check, no user data"),
    ("auth.register", "public by design (the app's sign-up): creates an account, takes no id"),
    ("auth.login", "public by design (the app's sign-in): trades credentials for a token"),
    ("r3al.system.health", "public health check, no user data"),
    ("r3al.auth.register", "public by design: creates an account, takes no id"),
    ("r3al.auth.login", "public by design: trades credentials for a token"),
];

/// Controls that may answer CONFLICT, and why: the state B is already in since set-up, which
/// the server can only say after it has authorized and validated the call.
const CONFLICTS: &[(&str, &str)] = &[
    ("r3al.tactical.register", "B registered for Tactical HQ during set-up"),
    ("r3al.subscription.upgradeTier", "B is on the target tier since set-up"),
];

/// Id slots where A's id is refused as an invalid reference (422 with this app code) rather than
/// with FORBIDDEN/NOT_FOUND, and why that is as good. The matrix checks that a made-up id gets the
/// very same answer (so the refusal does not tell whether A's resource exists).
const INVALID_REFERENCES: &[(&str, &str, &str, &str)] = &[(
    "r3al.tactical.sendComm",
    "relatedIncidentId",
    "unknown_incident",
    "an incident outside the sender's department is an unknown reference, exactly like a missing one (REST answers alike)",
)];

/// Procedures whose control cannot succeed for B, a plain member, and why. None today: every
/// procedure is open to a member acting for themself.
const ROLE_GATED: &[(&str, &str)] = &[];

/// What a placeholder in an input stands for.
enum Placeholder {
    /// An id slot: the id of a resource (or user) of this kind.
    Id(Kind),
    /// Not an id; always this value.
    Fixed(&'static str),
}

fn placeholder(s: &str) -> Option<Placeholder> {
    Some(Placeholder::Id(match s {
        "<User>" => Kind::User,
        "<MusicProject>" => Kind::MusicProject,
        "<ChatSession>" => Kind::ChatSession,
        "<WritersProject>" => Kind::WritersProject,
        "<Team>" => Kind::Team,
        "<Incident>" => Kind::Incident,
        "<ObjectPath>" => Kind::ObjectPath,
        "<ObjectUrl>" => Kind::ObjectUrl,
        "<Bucket>" => return Some(Placeholder::Fixed(BUCKET)),
        s if s.starts_with('<') && s.ends_with('>') => panic!("unknown placeholder {s}: map it in `placeholder`"),
        _ => return None,
    }))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    A,
    B,
}

/// The input with every id slot filled by `pick(slot)`'s owner; `slots` collects each slot (its
/// dotted field path) and kind.
fn fill(template: &Value, key: &str, pick: &dyn Fn(&str) -> Who, a: &Owner, b: &Owner, slots: &mut Vec<(String, Kind)>) -> Value {
    let join = |k: &str| if key.is_empty() { k.to_owned() } else { format!("{key}.{k}") };
    match template {
        Value::String(s) => match placeholder(s) {
            None => template.clone(),
            Some(Placeholder::Fixed(value)) => Value::String(value.to_owned()),
            Some(Placeholder::Id(kind)) => {
                slots.push((key.to_owned(), kind));
                Value::String(if pick(key) == Who::A { a.id(kind) } else { b.id(kind) })
            }
        },
        Value::Array(items) => {
            Value::Array(items.iter().enumerate().map(|(i, v)| fill(v, &join(&i.to_string()), pick, a, b, slots)).collect())
        }
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), fill(v, &join(k), pick, a, b, slots))).collect()),
        other => other.clone(),
    }
}

/// One answer: its HTTP status and envelope.
struct Answer {
    status: u16,
    body: Value,
}

impl Answer {
    fn succeeded(&self) -> bool {
        self.status == 200 && self.body["result"]["data"]["json"]["success"] == true
    }

    /// The tRPC error name, when the envelope is an error whose `httpStatus` is the status.
    fn error(&self) -> Option<&str> {
        let data = &self.body["error"]["json"]["data"];
        (data["httpStatus"] == self.status).then(|| data["code"].as_str()).flatten()
    }

    fn is_error(&self, status: u16, code: &str) -> bool {
        self.status == status && self.error() == Some(code)
    }

    fn excerpt(&self) -> String {
        self.body.to_string().chars().take(300).collect()
    }
}

async fn call(app: &TestApp, kind: Call, procedure: &str, token: Option<&str>, input: &Value) -> Answer {
    let (status, body) = match kind {
        Query => app.trpc_query(procedure, token, input).await,
        Mutation => app.trpc_mutation(procedure, token, input).await,
    };
    Answer { status, body }
}

/// A's strings in `answer` that the call did not send itself.
fn leaks(a: &Owner, input: &Value, answer: &Answer) -> Vec<String> {
    let sent = input.to_string();
    let text = answer.body.to_string();
    a.needles().into_iter().filter(|n| !sent.contains(n.as_str()) && text.contains(n.as_str())).collect()
}

struct Row {
    procedure: &'static str,
    kind: Call,
    anonymous: u16,
    own: Option<u16>,
    /// `(slot, status)` of each call carrying one of A's ids.
    foreign: Vec<(String, u16)>,
}

#[tokio::test]
async fn trpc_procedures_refuse_another_users_ids_and_anonymous_callers() {
    let app = TestApp::spawn().await;
    let admin = app.token("authz-admin", Role::Admin);
    let a = setup(&app, &admin, A_USER, A_DEPT).await;
    let b = setup(&app, &admin, B_USER, B_DEPT).await;

    // The lists cover exactly the server's procedures.
    let served: BTreeSet<(&str, Call)> = optima::trpc::names().into_iter().collect();
    assert!(served.len() >= 31, "the procedure table: {served:?}");
    let names: BTreeSet<&str> = served.iter().map(|(name, _)| *name).collect();
    let mut listed = BTreeSet::new();
    for (procedure, kind, _) in PROCEDURES {
        assert!(listed.insert((*procedure, *kind)), "PROCEDURES lists `{procedure}` ({kind:?}) twice");
        assert!(served.contains(&(*procedure, *kind)), "PROCEDURES lists `{procedure}` ({kind:?}), which the server no longer has: remove it");
    }
    let missing: Vec<&(&str, Call)> = served.difference(&listed).collect();
    assert!(missing.is_empty(), "procedures without a row in PROCEDURES (add them, with their input): {missing:?}");
    let public: BTreeMap<&str, &str> = PUBLIC.iter().copied().collect();
    let conflicts: BTreeMap<&str, &str> = CONFLICTS.iter().copied().collect();
    let role_gated: BTreeMap<&str, &str> = ROLE_GATED.iter().copied().collect();
    for (list, entries) in [("PUBLIC", &public), ("CONFLICTS", &conflicts), ("ROLE_GATED", &role_gated)] {
        for procedure in entries.keys() {
            assert!(names.contains(procedure), "{list} lists `{procedure}`, which the server no longer has: remove it");
        }
    }
    let invalid_references: BTreeMap<(&str, &str), &str> = INVALID_REFERENCES.iter().map(|(p, slot, code, _)| ((*p, *slot), *code)).collect();
    let mut invalid_references_seen = BTreeSet::new();

    let before = snapshot(&app, &a).await;

    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let mut fail = |procedure: &str, slot: &str, message: String| failures.push(format!("- {procedure} [{slot}]: {message}"));
    let (mut foreign_total, mut proven, mut own_ok, mut own_conflict, mut id_rows) = (0usize, 0usize, 0usize, 0usize, 0usize);
    let mut refused_as_invalid = 0usize;
    let mut gated = Vec::new();

    for &(procedure, kind, template) in PROCEDURES {
        let template: Value = serde_json::from_str(template).unwrap_or_else(|e| panic!("{procedure}: the input is not JSON: {e}"));
        let mut slots = Vec::new();
        let own_input = fill(&template, "", &|_| Who::B, &a, &b, &mut slots);
        let mut row = Row { procedure, kind, anonymous: 0, own: None, foreign: Vec::new() };

        // Anonymous, with A's ids everywhere.
        let input = fill(&template, "", &|_| Who::A, &a, &b, &mut Vec::new());
        let answer = call(&app, kind, procedure, None, &input).await;
        row.anonymous = answer.status;
        if public.contains_key(procedure) {
            assert!(slots.is_empty(), "{procedure} is public and takes an id: test it as B instead");
            if !answer.succeeded() {
                fail(procedure, "anonymous", format!("on PUBLIC but refused without a token → {}: {}", answer.status, answer.excerpt()));
            }
        } else if answer.succeeded() || (200..300).contains(&answer.status) {
            fail(procedure, "anonymous", format!("ANSWERS without a token (add it to PUBLIC with a reason, or refuse it): {input} → {}", answer.excerpt()));
        } else if !answer.is_error(401, "UNAUTHORIZED") {
            fail(procedure, "anonymous", format!("{input} without a token → {} (expected UNAUTHORIZED/401): {}", answer.status, answer.excerpt()));
        }
        let leaked = leaks(&a, &input, &answer);
        if !leaked.is_empty() {
            fail(procedure, "anonymous", format!("LEAK of A's {leaked:?}: {input} → {}", answer.excerpt()));
        }
        if public.contains_key(procedure) {
            rows.push(row);
            continue;
        }

        // B, one of A's ids at a time.
        for (slot, slot_kind) in &slots {
            let input = fill(&template, "", &|key| if key == slot { Who::A } else { Who::B }, &a, &b, &mut Vec::new());
            let answer = call(&app, kind, procedure, Some(&b.token), &input).await;
            row.foreign.push((slot.clone(), answer.status));
            let what = format!("{input} as B with A's {slot_kind:?} in `{slot}` → {}: {}", answer.status, answer.excerpt());
            if answer.succeeded() || (200..300).contains(&answer.status) {
                fail(procedure, slot, format!("ACCEPTED: {what}"));
            } else if answer.status >= 500 {
                fail(procedure, slot, format!("server error: {what}"));
            } else if let Some(code) = invalid_references.get(&(procedure, slot.as_str())) {
                invalid_references_seen.insert((procedure, slot.clone()));
                if !(answer.is_error(422, "UNPROCESSABLE_CONTENT") && answer.body["error"]["json"]["data"]["appCode"] == *code) {
                    fail(procedure, slot, format!("on INVALID_REFERENCES as `{code}` (update or remove the entry): {what}"));
                }
                // The same answer for an id that exists nowhere: the refusal tells nothing about A.
                let made_up = uuid::Uuid::now_v7().to_string();
                let mut probe = input.clone();
                *probe.pointer_mut(&format!("/{}", slot.replace('.', "/"))).expect("the slot") = Value::String(made_up.clone());
                let other = call(&app, kind, procedure, Some(&b.token), &probe).await;
                let strip = |body: &Value, id: &str| body.to_string().replace(id, "<id>");
                if (other.status, strip(&other.body, &made_up)) != (answer.status, strip(&answer.body, &a.id(*slot_kind))) {
                    fail(procedure, slot, format!("A's id and a made-up id get different answers: {what}\n    made-up: {}", other.excerpt()));
                }
            } else if !(answer.is_error(403, "FORBIDDEN") || answer.is_error(404, "NOT_FOUND")) {
                fail(procedure, slot, format!("refused, but not with FORBIDDEN/NOT_FOUND: {what}"));
            }
            let leaked = leaks(&a, &input, &answer);
            if !leaked.is_empty() {
                fail(procedure, slot, format!("LEAK of A's {leaked:?}: {what}"));
            }
        }

        // B with B's own ids: the control (or, without id slots, B acting as themself).
        let answer = call(&app, kind, procedure, Some(&b.token), &own_input).await;
        row.own = Some(answer.status);
        let control_ok = if answer.succeeded() {
            own_ok += 1;
            true
        } else if conflicts.contains_key(procedure) && answer.is_error(409, "CONFLICT") {
            own_conflict += 1;
            true
        } else if let Some(why) = role_gated.get(procedure) {
            gated.push(format!("{procedure} (B-own={}: {why})", answer.status));
            false
        } else {
            fail(procedure, "own", format!("the control failed, so the refusals of A's ids prove nothing: {own_input} → {}: {}", answer.status, answer.excerpt()));
            false
        };
        let leaked = leaks(&a, &own_input, &answer);
        if !leaked.is_empty() {
            fail(procedure, "own", format!("LEAK of A's {leaked:?}: {own_input} as B → {}", answer.excerpt()));
        }
        if !slots.is_empty() {
            id_rows += 1;
        }
        if conflicts.contains_key(procedure) && answer.status != 409 {
            fail(procedure, "own", format!("on CONFLICTS but the control answered {}: remove it from the list", answer.status));
        }
        for (slot, status) in &row.foreign {
            foreign_total += 1;
            if control_ok && (*status == 403 || *status == 404) {
                proven += 1;
            } else if control_ok && *status == 422 && invalid_references.contains_key(&(procedure, slot.as_str())) {
                refused_as_invalid += 1;
            }
        }
        rows.push(row);
    }

    for (procedure, slot, ..) in INVALID_REFERENCES {
        if !invalid_references_seen.contains(&(*procedure, (*slot).to_owned())) {
            fail(procedure, slot, "on INVALID_REFERENCES, but the matrix no longer sends A's id there: remove it".to_owned());
        }
    }

    // A's resources, read back by A (A's stored object among them, after B's deleteObject with
    // A's URL), are as they were.
    for (path, change) in changed_since(&app, &a, &before).await {
        fail("A's resources", &path, format!("changed by B's or anonymous calls: {change}"));
    }

    let mut table = String::new();
    for row in &rows {
        let kind = if row.kind == Query { "query" } else { "mutation" };
        let own = row.own.map_or("-".to_owned(), |s| s.to_string());
        let foreign = if public.contains_key(row.procedure) {
            "public".to_owned()
        } else if row.foreign.is_empty() {
            "no id: acts on the caller".to_owned()
        } else {
            row.foreign.iter().map(|(slot, s)| format!("{slot}={s}")).collect::<Vec<_>>().join(" ")
        };
        let _ = writeln!(table, "{:<38} {kind:<8} anon={} B-own={own:<3} B-with-A's: {foreign}", row.procedure, row.anonymous);
    }
    println!("{table}");
    println!(
        "tRPC authorization matrix: {} procedures, {} public, {} checked ({id_rows} with ids, {} acting on the caller); \
         {foreign_total} calls with one of A's ids, {proven} refused with FORBIDDEN/NOT_FOUND and {refused_as_invalid} as an invalid \
         reference where B's own control got through; \
         controls through for {} ({own_ok} succeeded, {own_conflict} conflict), role-gated {}; A's {} resources unchanged: {}",
        rows.len(),
        public.len(),
        rows.len() - public.len(),
        rows.len() - public.len() - id_rows,
        own_ok + own_conflict,
        gated.len(),
        before.len(),
        failures.iter().all(|f| !f.starts_with("- A's resources")),
    );
    if !gated.is_empty() {
        println!("role-gated rows: {gated:?}");
    }

    assert!(failures.is_empty(), "tRPC authorization matrix failures:\n{}", failures.join("\n"));
    assert_eq!(proven + refused_as_invalid, foreign_total, "every call with one of A's ids is a proven refusal");
    assert!(id_rows >= 25, "most procedures take an id: {id_rows}");
}
