//! The Tactical HQ store on PostgreSQL against a real server (tests/api/postgres.rs), answering
//! as the SQLite store does for the same calls: members, teams and documents; comms with their
//! audience checks, pages, receipts, attachments and secure deletion; incidents and check-ins;
//! master key rotation. Then real races on separate connections, as separate servers have:
//! appends from many servers keep one valid hash chain, concurrent status changes lose none,
//! an attachment limit admits exactly the limit, and a rotation racing new keys and deletions
//! leaves every key under the new master key and no deleted key restored. Each test prints a
//! SKIPPED line and passes when PostgreSQL is not installed.

use std::sync::{Arc, Mutex};

use optima::db::postgres::PgDb;
use optima::error::{AppError, AppResult};
use optima::features::tactical::audit::Record;
use optima::features::tactical::model::{AuditFilter, IncidentFilter};
use optima::features::tactical::store::postgres::PgTacticalStore;
use optima::features::tactical::store::sqlite::SqliteTacticalStore;
use optima::features::tactical::store::{
    CheckInRow, CommQuery, CommRow, FileRow, IncidentRow, NewDocument, ProfileRow, Reader, Rewrapped, SealedKey, TacticalStore, TeamRow,
    Verification, WrapKey, WrappedKey,
};
use tokio::sync::Barrier;

use crate::postgres::{database, migrated, sqlite_db};

/// A UUID ending in `n`, as the service's `Uuid::now_v7` ids are written.
fn id(n: u32) -> String {
    format!("0190b0a0-0000-7000-8000-{n:012x}")
}

fn at(minute: u32) -> String {
    format!("2026-03-01T10:{minute:02}:00.{:03}Z", minute * 7 % 1000)
}

fn outcome<T: std::fmt::Debug>(result: AppResult<T>) -> String {
    format!("{:?}", result.map_err(|e| (e.status().as_u16(), e.code())))
}

fn profile(user: &str, n: u32, department: &str, registered: &str) -> ProfileRow {
    ProfileRow {
        user_id: user.into(),
        tactical_user_id: id(9000 + n),
        rank: Some(format!("rank {n}")),
        department: department.into(),
        service_branch: "police".into(),
        badge_number: (n % 2 == 0).then(|| format!("B-{n}")),
        clearance: "public".into(),
        requested_clearance: Some("secret".into()),
        verified_status: "pending".into(),
        operational_status: "off_duty".into(),
        is_verifier: false,
        team_id: None,
        verified_by: None,
        verified_at: None,
        registered_at: registered.into(),
    }
}

/// Wraps under the named master key, or `k1` when none is named yet.
fn wrap(tag: &str) -> WrapKey {
    let tag = tag.to_owned();
    Box::new(move |named: Option<&str>| Ok(SealedKey { wrapped: format!("dk:{tag}").into_bytes(), key_id: named.unwrap_or("k1").to_owned() }))
}

fn document(n: u32, user: &str, created: &str) -> NewDocument {
    let row = FileRow {
        id: id(n),
        owner: user.into(),
        name_sealed: vec![n as u8, 0, 255],
        content_type: "application/pdf".into(),
        size_bytes: (1 << 40) + u64::from(n),
        blob_path: format!("tactical/docs/{user}/{n}"),
        created_at: created.into(),
        wrapped_key: None,
        key_id: None,
    };
    NewDocument { row, key: wrap(&format!("doc{n}")) }
}

fn verification(status: &str, clearance: &str, verifier: bool, when: &str) -> Verification {
    Verification { status: status.into(), clearance: clearance.into(), verifier, by: "admin".into(), at: when.into() }
}

fn team(n: u32, name: &str, department: &str, lead: Option<&str>) -> TeamRow {
    TeamRow { team_id: id(n), team_name: name.into(), team_type: Some("patrol".into()), department: department.into(), lead_user_id: lead.map(Into::into), created_at: at(n % 60) }
}

/// The chain as a caller sees it, without the times and hashes that differ run to run, and
/// whether it verifies.
async fn audit_view(store: &dyn TacticalStore) -> Vec<String> {
    let filter = AuditFilter { actor: None, action: None, outcome: None, since: None, limit: 1000, offset: 0 };
    let (entries, total) = store.audit_entries(&filter).await.unwrap();
    let mut said = vec![format!("{total} entries, {:?}", store.verify_audit().await.unwrap())];
    said.extend(entries.into_iter().map(|e| format!("{} {} {} {:?} {} {:?}", e.seq, e.actor_id, e.action, e.target, e.outcome, e.detail)));
    said
}

async fn members_scenario(store: &dyn TacticalStore) -> Vec<String> {
    let mut said = Vec::new();
    let reg = |user: &str| Record::ok(user, "member.register", user);
    said.push(outcome(store.register(profile("ann", 1, "ops", &at(1)), vec![document(101, "ann", &at(1))], reg("ann")).await));
    // A second registration: nothing written, not even its entry.
    said.push(outcome(store.register(profile("ann", 2, "intel", &at(2)), vec![document(102, "ann", &at(2))], reg("ann")).await));
    said.push(outcome(store.register(profile("bob", 3, "ops", &at(1)), Vec::new(), reg("bob")).await));
    said.push(outcome(store.register(profile("Carol", 4, "intel", &at(3)), Vec::new(), reg("Carol")).await));
    said.push(outcome(store.register(profile("_dan", 5, "ops", &at(1)), Vec::new(), reg("_dan")).await));
    said.push(format!("{:?}", store.profile("ann").await.unwrap()));
    said.push(format!("{:?}", store.profile("nobody").await.unwrap()));
    for (status, department, limit, offset) in [(None, None, 10, 0), (Some("pending"), Some("ops"), 2, 1), (Some("verified"), None, 10, 0)] {
        let rows = store.profiles(status, department, limit, offset).await.unwrap();
        said.push(format!("{status:?} {department:?}: {:?}", rows.iter().map(|p| &p.user_id).collect::<Vec<_>>()));
    }
    // Documents: ties on the time by id; the second wraps under the key the first named.
    said.push(outcome(store.insert_documents(vec![document(104, "bob", &at(5)), document(103, "bob", &at(5))], Record::ok("bob", "member.documents", "bob")).await));
    said.push(format!("{:?}", store.documents("ann").await.unwrap()));
    said.push(format!("{:?}", store.documents("bob").await.unwrap()));
    said.push(format!("{:?}", store.documents("nobody").await.unwrap()));
    for (user, doc) in [("bob", id(103)), ("ann", id(103)), ("bob", "not-a-uuid".into()), ("bob", id(103).to_uppercase()), ("bob", String::new())] {
        said.push(format!("{user} {doc:?}: {:?}", store.document(user, &doc).await.unwrap()));
    }
    // A document of no member: the foreign key refuses it, and its entry goes with it.
    said.push(outcome(store.insert_documents(vec![document(105, "ghost", &at(5))], Record::ok("ghost", "member.documents", "ghost")).await));
    // Verification (of no one: only the entry).
    said.push(outcome(store.set_verification("ann", verification("verified", "secret", true, &at(6)), Record::ok("admin", "member.verify", "ann")).await));
    said.push(outcome(store.set_verification("bob", verification("verified", "confidential", false, &at(7)), Record::ok("admin", "member.verify", "bob")).await));
    said.push(outcome(store.set_verification("ghost", verification("denied", "public", false, &at(7)), Record::ok("admin", "member.verify", "ghost")).await));
    said.push(outcome(store.set_operational_status("ann", "deployed", &at(8), Record::ok("ann", "member.status", "ann")).await));
    said.push(outcome(store.set_operational_status("ann", "flying", &at(8), Record::ok("ann", "member.status", "ann")).await));
    // Teams: byte-wise by name, whatever the database's locale.
    said.push(outcome(store.create_team(team(201, "beta", "ops", Some("ann")), Record::ok("ann", "team.create", id(201))).await));
    said.push(outcome(store.create_team(team(202, "Zulu", "ops", None), Record::ok("ann", "team.create", id(202))).await));
    said.push(outcome(store.create_team(team(203, "_ops", "ops", None), Record::ok("ann", "team.create", id(203))).await));
    said.push(outcome(store.create_team(team(204, "beta", "intel", None), Record::ok("ann", "team.create", id(204))).await));
    said.push(outcome(store.create_team(team(201, "dup", "ops", None), Record::ok("ann", "team.create", id(201))).await));
    said.push(format!("{:?}", store.teams_of_department("ops").await.unwrap()));
    said.push(format!("{:?}", store.teams_of_department("nowhere").await.unwrap()));
    said.push(outcome(store.join_team("bob", &id(201), &at(9), Record::ok("bob", "team.join", id(201))).await));
    said.push(outcome(store.join_team("_dan", &id(201), &at(9), Record::ok("_dan", "team.join", id(201))).await));
    said.push(format!("{:?}", store.team_members(&id(201)).await.unwrap().iter().map(|p| (&p.user_id, &p.team_id)).collect::<Vec<_>>()));
    said.push(outcome(store.leave_team("ann", &id(201), true, &at(10), Record::ok("ann", "team.leave", id(201))).await));
    said.push(outcome(store.leave_team("_dan", "not-a-uuid", true, &at(10), Record::ok("_dan", "team.leave", "x")).await));
    said.push(format!("{:?}", store.team(&id(201)).await.unwrap()));
    for missing in [id(299), "not-a-uuid".into(), id(201).to_uppercase()] {
        said.push(format!("{missing:?}: {:?} {:?}", store.team(&missing).await.unwrap(), store.team_members(&missing).await.unwrap()));
    }
    said.push(format!("{:?}", store.profile("ann").await.unwrap()));
    said.push(format!("{:?}", store.profile("bob").await.unwrap()));
    said.extend(audit_view(store).await);
    said
}

#[tokio::test]
async fn tactical_postgres_members_answer_as_sqlite() {
    let Some(config) = database("tactical_postgres_members_answer_as_sqlite").await else { return };
    let pg = PgTacticalStore::new(migrated(&config).await);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteTacticalStore::new(sqlite_db(&dir));
    let (on_pg, on_sqlite) = (members_scenario(&pg).await, members_scenario(&sqlite).await);
    for (pg, sqlite) in on_pg.iter().zip(&on_sqlite) {
        assert_eq!(pg, sqlite);
    }
    assert_eq!(on_pg.len(), on_sqlite.len());
    assert!(on_pg.iter().any(|l| l.contains("intact: true")), "{on_pg:#?}");
}
