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

use crate::postgres::{assert_same_answers, database, migrated, sqlite_db};

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
        badge_number: n.is_multiple_of(2).then(|| format!("B-{n}")),
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
    // Teams that do not exist: the foreign key refuses, and the entry goes with the change.
    for missing in [id(299), "not-a-uuid".into()] {
        said.push(outcome(store.join_team("Carol", &missing, &at(9), Record::ok("Carol", "team.join", missing.clone())).await));
    }
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
    assert_same_answers(&on_pg, &on_sqlite);
    assert!(on_pg.iter().any(|l| l.contains("intact: true")), "{on_pg:#?}");
}

#[allow(clippy::too_many_arguments)]
fn comm(n: u32, from: &str, audience: &str, team: Option<u32>, department: &str, kind: (&str, &str, &str), classification: &str, sent: &str) -> CommRow {
    let (message_type, label, priority) = kind;
    CommRow {
        comm_id: id(n),
        from_user_id: from.into(),
        audience: audience.into(),
        to_user_id: None,
        team_id: team.map(id),
        department: department.into(),
        message_type: message_type.into(),
        label: label.into(),
        priority: priority.into(),
        classification: classification.into(),
        content: Some(format!("content {n}")),
        is_encrypted: n.is_multiple_of(2),
        client_encrypted: n.is_multiple_of(3),
        wrapped_key: None,
        key_id: None,
        blob_path: Some(format!("tactical/comms/{n}")),
        related_incident_id: None,
        sent_at: sent.into(),
        deleted_at: None,
    }
}

fn reader(user: &str, rank: i64, team: Option<String>, department: &str) -> Reader {
    Reader { user_id: user.into(), rank, team_id: team, department: department.into() }
}

fn attachment(n: u32, comm_id: &str, created: &str) -> FileRow {
    FileRow {
        id: id(n),
        owner: comm_id.into(),
        name_sealed: vec![1, 2, n as u8],
        content_type: "image/png".into(),
        size_bytes: u64::from(n) * 1000,
        blob_path: format!("tactical/attachments/{n}"),
        created_at: created.into(),
        wrapped_key: None,
        key_id: None,
    }
}

type Log = Arc<Mutex<Vec<String>>>;

fn incident(n: u32, department: &str, severity: &str, reported: &str) -> IncidentRow {
    IncidentRow {
        incident_id: id(n),
        title: format!("incident {n}"),
        description: "smoke".into(),
        severity: severity.into(),
        status: "active".into(),
        location: n.is_multiple_of(2).then(|| "pier 4".into()),
        department: department.into(),
        reported_by: "ann".into(),
        escalations: 0,
        reported_at: reported.into(),
        updated_at: reported.into(),
        resolved_at: None,
    }
}

fn checkin(n: u32, user: &str, created: &str) -> CheckInRow {
    CheckInRow {
        session_id: id(n),
        user_id: user.into(),
        session_type: "post_incident".into(),
        indicators: format!(r#"{{"heartRate":{},"moodRating":3,"recentIncidents":["fire"]}}"#, 70 + n % 30),
        stress_level: f64::from(n) / 7.0,
        band: "moderate".into(),
        created_at: created.into(),
    }
}

/// An escalation, as the service makes one: refused when there is no such incident.
fn escalate(log: &Log, when: String) -> optima::features::tactical::store::ChangeIncident {
    let log = log.clone();
    Box::new(move |current: Option<IncidentRow>| {
        log.lock().unwrap().push(format!("change saw {:?}", current.as_ref().map(|i| (&i.incident_id, &i.status, i.escalations))));
        let mut row = current.ok_or_else(|| AppError::not_found("no such incident"))?;
        row.status = "escalated".into();
        row.escalations += 1;
        row.updated_at = when;
        let record = Record::ok("ann", "incident.escalate", row.incident_id.clone());
        Ok((row, record))
    })
}

/// Re-wraps every key (`re:` before the old bytes), or refuses with `fail`.
fn plan(log: &Log, fail: bool) -> optima::features::tactical::store::PlanRotation {
    let log = log.clone();
    Box::new(move |keys: Vec<WrappedKey>| {
        let mut seen: Vec<String> = keys.iter().map(|k| format!("{:?} {} {}", k.holder, k.id, k.key.key_id)).collect();
        seen.sort();
        log.lock().unwrap().push(format!("plan saw {seen:?}"));
        if fail {
            return Err(AppError::internal("the new key cannot wrap"));
        }
        let rewrapped = keys
            .into_iter()
            .map(|k| Rewrapped { holder: k.holder, id: k.id, previous_key_id: k.key.key_id, wrapped: [b"re:".as_slice(), &k.key.wrapped].concat() })
            .collect();
        Ok((rewrapped, Record::ok("optima-cli", "keys.rotate", "master_key")))
    })
}

fn sorted_rewrapped(result: AppResult<Vec<Rewrapped>>) -> String {
    outcome(result.map(|mut r| {
        r.sort_by(|a, b| (format!("{:?}", a.holder), &a.id).cmp(&(format!("{:?}", b.holder), &b.id)));
        r
    }))
}

async fn comms_scenario(store: &dyn TacticalStore) -> Vec<String> {
    let log: Log = Arc::default();
    let mut said = Vec::new();
    for (n, user, department, clearance) in [(1, "ann", "ops", "secret"), (2, "bob", "ops", "confidential"), (3, "carol", "intel", "top_secret"), (4, "dave", "ops", "public")] {
        let docs = if n == 1 { vec![document(101, user, &at(0))] } else { Vec::new() };
        store.register(profile(user, n, department, &at(0)), docs, Record::ok(user, "member.register", user)).await.unwrap();
        store.set_verification(user, verification("verified", clearance, false, &at(0)), Record::ok("admin", "member.verify", user)).await.unwrap();
    }
    store.create_team(team(201, "alpha", "ops", Some("ann")), Record::ok("ann", "team.create", id(201))).await.unwrap();
    store.join_team("bob", &id(201), &at(0), Record::ok("bob", "team.join", id(201))).await.unwrap();
    said.push(outcome(store.insert_incident(incident(301, "ops", "high", &at(1)), Record::ok("ann", "incident.report", id(301))).await));

    // Sending: the audience check sees the facts as they are; a refusal writes nothing.
    let check = |log: &Log, refuse: bool| -> optima::features::tactical::store::CheckAudience {
        let log = log.clone();
        Box::new(move |facts| {
            let recipients: Vec<_> = facts.recipients.iter().map(|(id, p)| (id.clone(), p.as_ref().map(|p| p.clearance.clone()))).collect();
            let incident = facts.incident.as_ref().map(|i| i.incident_id.clone());
            log.lock().unwrap().push(format!("check saw {recipients:?} {:?} {incident:?}", facts.sender.as_ref().map(|p| &p.user_id)));
            if refuse { Err(AppError::forbidden("not cleared")) } else { Ok(()) }
        })
    };
    let send = |c: CommRow| Record::ok(&c.from_user_id, "comm.send", c.comm_id);
    let c1 = comm(401, "ann", "direct", None, "ops", ("standard", "note", "normal"), "public", &at(10));
    said.push(outcome(store.send_comm(c1.clone(), vec!["carol".into(), "bob".into(), "ghost".into()], check(&log, false), None, send(c1)).await));
    let c2 = comm(402, "ann", "team", Some(201), "ops", ("alert", "alert", "high"), "confidential", &at(11));
    said.push(outcome(store.send_comm(c2.clone(), Vec::new(), check(&log, false), Some(wrap("c2")), send(c2)).await));
    let mut c3 = comm(403, "bob", "department", None, "ops", ("emergency", "mayday", "urgent"), "public", &at(12));
    c3.related_incident_id = Some(id(301));
    said.push(outcome(store.send_comm(c3.clone(), Vec::new(), check(&log, false), None, send(c3)).await));
    let c4 = comm(404, "carol", "direct", None, "intel", ("standard", "note", "normal"), "secret", &at(12));
    said.push(outcome(store.send_comm(c4.clone(), vec!["dave".into()], check(&log, false), Some(wrap("c4")), send(c4)).await));
    let c5 = comm(405, "dave", "direct", None, "ops", ("standard", "note", "normal"), "public", &at(13));
    said.push(outcome(store.send_comm(c5.clone(), vec!["ann".into()], check(&log, true), Some(wrap("c5")), send(c5)).await));
    let mut c6 = comm(406, "carol", "department", None, "intel", ("emergency", "sos", "urgent"), "top_secret", &at(14));
    c6.related_incident_id = Some("not-a-uuid".into());
    said.push(outcome(store.send_comm(c6.clone(), Vec::new(), check(&log, false), None, send(c6)).await));
    said.push(format!("{:?}", store.comm(&id(405)).await.unwrap()));
    said.push(format!("{:?}", store.comm(&id(402)).await.unwrap()));

    let readers = [
        reader("ann", 2, Some(id(201)), "ops"),
        reader("bob", 1, Some(id(201)), "ops"),
        reader("carol", 3, None, "intel"),
        reader("dave", 0, None, "ops"),
        reader("nosy", 3, Some("not-a-uuid".into()), "ops"),
    ];
    let everything = CommQuery { message_type: None, label: None, priority: None, since: None, cursor: None, limit: 10 };
    for r in &readers {
        let page = store.visible_comms(r, &everything).await.unwrap();
        let ids: Vec<_> = page.comms.iter().map(|(c, _)| c.comm_id.clone()).collect();
        let mut one_by_one = Vec::new();
        for n in [401, 402, 403, 404, 406] {
            one_by_one.push(store.visible_comm(r, &id(n)).await.unwrap().map(|c| c.comm_id));
        }
        said.push(format!("{}: {} {} {ids:?} {one_by_one:?}", r.user_id, page.total, page.more));
    }
    said.push(format!("{:?}", store.visible_comm(&readers[0], "not-a-uuid").await.unwrap()));
    said.push(format!("{:?}", store.visible_comm(&readers[0], &id(401).to_uppercase()).await.unwrap()));
    // Pages of one, by cursor, for the sender of most.
    let mut cursor = None;
    loop {
        let q = CommQuery { cursor: cursor.clone(), limit: 1, ..everything.clone() };
        let page = store.visible_comms(&readers[1], &q).await.unwrap();
        said.push(format!("page: {} {} {:?}", page.total, page.more, page.comms.iter().map(|(c, x)| (&c.comm_id, x)).collect::<Vec<_>>()));
        if !page.more {
            break;
        }
        cursor = page.comms.last().map(|(c, _)| (c.sent_at.clone(), c.comm_id.clone()));
    }
    let filters = [
        CommQuery { message_type: Some("emergency".into()), ..everything.clone() },
        CommQuery { message_type: Some("x".into()), label: Some("note".into()), ..everything.clone() },
        CommQuery { priority: Some("high".into()), ..everything.clone() },
        CommQuery { since: Some(at(11)), ..everything.clone() },
        CommQuery { limit: 0, ..everything.clone() },
        // Cursors this server never wrote: compared as SQLite compares its text.
        CommQuery { cursor: Some((at(12), "zzz".into())), ..everything.clone() },
        CommQuery { cursor: Some((at(12), id(403))), ..everything.clone() },
        CommQuery { cursor: Some(("2026-03-01T10:12".into(), String::new())), ..everything.clone() },
        CommQuery { cursor: Some(("garbage".into(), id(1))), ..everything.clone() },
        CommQuery { cursor: Some(("2026-03-01T10:11:00.077+00:00".into(), id(1))), ..everything.clone() },
    ];
    for q in &filters {
        let page = store.visible_comms(&readers[2], q).await.unwrap();
        let page_ann = store.visible_comms(&readers[0], q).await.unwrap();
        let ids = |p: &optima::features::tactical::store::VisibleComms| p.comms.iter().map(|(c, _)| c.comm_id.clone()).collect::<Vec<_>>();
        said.push(format!("{q:?}: {} {} {:?} / {} {} {:?}", page.total, page.more, ids(&page), page_ann.total, page_ann.more, ids(&page_ann)));
    }

    // Receipts keep their first times.
    for (ack, minute) in [(false, 20), (true, 21), (true, 22), (false, 23)] {
        said.push(outcome(store.record_receipt(&id(401), "bob", ack, &at(minute), Record::ok("bob", "comm.read", id(401))).await));
    }
    said.push(outcome(store.record_receipt(&id(401), "carol", true, &at(24), Record::ok("carol", "comm.ack", id(401))).await));
    for missing in [id(499), "not-a-uuid".into()] {
        said.push(outcome(store.record_receipt(&missing, "carol", true, &at(24), Record::ok("carol", "comm.ack", missing.clone())).await));
    }

    // Attachments: the check sees the comm and its count; the first gives the comm its key.
    let limit = |log: &Log, max: usize| -> optima::features::tactical::store::CheckAttachment {
        let log = log.clone();
        Box::new(move |comm, count| {
            log.lock().unwrap().push(format!("attach saw {:?} {count}", comm.map(|c| (&c.comm_id, c.key_id.clone(), c.deleted_at.clone()))));
            match comm {
                None => Err(AppError::not_found("no such comm")),
                Some(c) if c.deleted_at.is_some() => Err(AppError::not_found("deleted")),
                Some(_) if count >= max => Err(AppError::Conflict { code: "too_many_attachments", message: "full".into() }),
                Some(_) => Ok(()),
            }
        })
    };
    let attach = |n: u32| Record::ok("ann", "comm.attach", id(n));
    said.push(outcome(store.insert_attachment(attachment(501, &id(401), &at(25)), "ann", limit(&log, 2), Some(wrap("c1")), attach(501)).await));
    said.push(outcome(store.insert_attachment(attachment(502, &id(401), &at(25)), "ann", limit(&log, 2), None, attach(502)).await));
    said.push(outcome(store.insert_attachment(attachment(503, &id(401), &at(26)), "ann", limit(&log, 2), None, attach(503)).await));
    said.push(outcome(store.insert_attachment(attachment(504, "not-a-uuid", &at(26)), "ann", limit(&log, 2), None, attach(504)).await));
    said.push(outcome(store.insert_attachment(attachment(505, &id(499), &at(26)), "ann", limit(&log, 2), None, attach(505)).await));
    // A check that lets a missing comm through: the foreign key refuses the attachment.
    for missing in [id(499), "not-a-uuid".into()] {
        let lenient: optima::features::tactical::store::CheckAttachment = Box::new(|_, _| Ok(()));
        said.push(outcome(store.insert_attachment(attachment(507, &missing, &at(26)), "ann", lenient, None, attach(507)).await));
    }
    for (c, f) in [(id(401), id(501)), (id(401), id(599)), ("not-a-uuid".into(), id(501)), (id(402), id(501)), (id(401), "x".into())] {
        said.push(format!("{c} {f}: {:?}", store.attachment(&c, &f).await.unwrap()));
    }
    said.push(format!("{:?}", store.visible_comms(&readers[1], &CommQuery { limit: 3, ..everything.clone() }).await.unwrap()));
    said.push(format!("{:?}", store.comm(&id(401)).await.unwrap()));

    // Secure deletion: once, with the paths the comm held; nothing for a missing one.
    let deletion = |log: &Log| -> optima::features::tactical::store::DeletionRecord {
        let log = log.clone();
        Box::new(move |blobs| {
            log.lock().unwrap().push(format!("deletion record for {blobs:?}"));
            Record::ok("ann", "comm.delete", "c").detail(blobs.join(","))
        })
    };
    said.push(outcome(store.delete_comm_securely(&id(401), "ann", &at(30), deletion(&log)).await));
    said.push(outcome(store.delete_comm_securely(&id(401), "ann", &at(31), deletion(&log)).await));
    said.push(outcome(store.delete_comm_securely("not-a-uuid", "ann", &at(31), deletion(&log)).await));
    said.push(outcome(store.delete_comm_securely(&id(499), "ann", &at(31), deletion(&log)).await));
    said.push(format!("{:?}", store.comm(&id(401)).await.unwrap()));
    said.push(format!("{:?} {:?}", store.visible_comm(&readers[1], &id(401)).await.unwrap(), store.attachment(&id(401), &id(501)).await.unwrap()));
    said.push(outcome(store.insert_attachment(attachment(506, &id(401), &at(32)), "ann", limit(&log, 5), None, attach(506)).await));

    // Incidents.
    said.push(outcome(store.insert_incident(incident(302, "ops", "critical", &at(14)), Record::ok("ann", "incident.report", id(302))).await));
    said.push(outcome(store.insert_incident(incident(303, "intel", "low", &at(15)), Record::ok("carol", "incident.report", id(303))).await));
    said.push(outcome(store.insert_incident(incident(304, "ops", "bogus", &at(15)), Record::ok("ann", "incident.report", id(304))).await));
    said.push(outcome(store.update_incident_status(&id(302), escalate(&log, at(16))).await));
    said.push(outcome(store.update_incident_status(&id(302), escalate(&log, at(17))).await));
    said.push(outcome(store.update_incident_status(&id(399), escalate(&log, at(17))).await));
    said.push(outcome(store.update_incident_status("not-a-uuid", escalate(&log, at(17))).await));
    let all = IncidentFilter { status: None, severity: None, since: None, limit: 10, offset: 0 };
    for f in [
        all.clone(),
        IncidentFilter { status: Some("escalated".into()), ..all.clone() },
        IncidentFilter { severity: Some("high".into()), ..all.clone() },
        IncidentFilter { since: Some(at(14)), ..all.clone() },
        IncidentFilter { limit: 1, offset: 1, ..all.clone() },
    ] {
        said.push(format!("{f:?}: {:?}", store.incidents("ops", &f).await.unwrap()));
    }
    said.push(format!("{:?}", store.situation_facts(&readers[0], &at(13)).await.unwrap()));
    said.push(format!("{:?}", store.situation_facts(&readers[2], &at(0)).await.unwrap()));
    said.push(format!("{:?}", store.dashboard_facts(&readers[1], &at(0), 5).await.unwrap()));
    said.push(format!("{:?}", store.dashboard_facts(&readers[0], &at(12), 1).await.unwrap()));
    said.push(format!("{:?}", store.dashboard_facts(&readers[4], &at(0), 5).await.unwrap()));

    // Check-ins, newest first, ties by id.
    for (n, user, minute) in [(601, "ann", 16), (603, "ann", 16), (602, "ann", 18), (604, "bob", 16)] {
        said.push(outcome(store.insert_checkin(checkin(n, user, &at(minute)), Record::ok(user, "stress.checkin", id(n))).await));
    }
    for (user, limit, offset) in [("ann", 10, 0), ("ann", 1, 1), ("nobody", 10, 0)] {
        let rows = store.checkins(user, limit, offset).await.unwrap();
        let rows: Vec<_> = rows.into_iter().map(|r| (r.session_id, serde_json::from_str::<serde_json::Value>(&r.indicators).unwrap(), r.stress_level, r.created_at)).collect();
        said.push(format!("{user}: {rows:?}"));
    }

    // Rotation: every wrapped key re-wrapped and the new key named; a refused plan changes nothing.
    said.push(sorted_rewrapped(store.rotate_master_key("k2", plan(&log, false)).await));
    said.push(sorted_rewrapped(store.rotate_master_key("k3", plan(&log, true)).await));
    said.push(format!("{:?}", store.comm(&id(402)).await.unwrap().map(|c| (c.wrapped_key, c.key_id))));
    said.push(format!("{:?}", store.documents("ann").await.unwrap().into_iter().map(|d| (d.wrapped_key, d.key_id)).collect::<Vec<_>>()));
    let c7 = comm(407, "ann", "team", Some(201), "ops", ("standard", "note", "normal"), "public", &at(40));
    said.push(outcome(store.send_comm(c7.clone(), Vec::new(), check(&log, false), Some(wrap("c7")), send(c7)).await));
    said.push(format!("{:?}", store.comm(&id(407)).await.unwrap().map(|c| (c.wrapped_key, c.key_id))));

    said.extend(log.lock().unwrap().iter().cloned());
    said.extend(audit_view(store).await);
    said
}

#[tokio::test]
async fn tactical_postgres_comms_incidents_and_rotation_answer_as_sqlite() {
    let Some(config) = database("tactical_postgres_comms_incidents_and_rotation_answer_as_sqlite").await else { return };
    let pg = PgTacticalStore::new(migrated(&config).await);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteTacticalStore::new(sqlite_db(&dir));
    let (on_pg, on_sqlite) = (comms_scenario(&pg).await, comms_scenario(&sqlite).await);
    assert_same_answers(&on_pg, &on_sqlite);
    assert!(on_pg.iter().any(|l| l.contains("intact: true")), "{on_pg:#?}");
}

// ---- races -------------------------------------------------------------------------------------

/// `n` stores, each on a pool of its own: separate connections, as separate servers have.
async fn servers(config: &optima::config::DatabaseConfig, n: usize) -> Vec<Arc<PgTacticalStore>> {
    let mut stores = Vec::new();
    for _ in 0..n {
        stores.push(Arc::new(PgTacticalStore::new(PgDb::connect(config).await.unwrap())));
    }
    stores
}

async fn registered(store: &dyn TacticalStore, users: &[&str]) {
    for (n, user) in users.iter().enumerate() {
        store.register(profile(user, n as u32, "ops", &at(0)), Vec::new(), Record::ok(user, "member.register", *user)).await.unwrap();
        store.set_verification(user, verification("verified", "secret", false, &at(0)), Record::ok("admin", "member.verify", *user)).await.unwrap();
    }
}

fn pass() -> optima::features::tactical::store::CheckAudience {
    Box::new(|_| Ok(()))
}

/// Eight servers append at once, on their own and with the work they record (comms with new
/// keys, incidents): the chain stays one line, every entry in it, and it verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tactical_postgres_audit_chain_stays_one_under_appends_from_many_servers() {
    let Some(config) = database("tactical_postgres_audit_chain_stays_one_under_appends_from_many_servers").await else { return };
    let db = migrated(&config).await;
    let check = PgTacticalStore::new(db);
    registered(&check, &["ann"]).await;
    let stores = servers(&config, 8).await;
    let start = Arc::new(Barrier::new(stores.len()));
    let tasks: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(s, store)| {
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                for i in 0..10u32 {
                    let n = s as u32 * 100 + i;
                    match i % 3 {
                        0 => store.append_audit(Record::ok(&format!("u{s}"), "comm.read", format!("c{i}"))).await.unwrap(),
                        1 => {
                            let c = comm(1000 + n, "ann", "department", None, "ops", ("standard", "note", "normal"), "public", &at(i));
                            store.send_comm(c, Vec::new(), pass(), Some(wrap("race")), Record::ok("ann", "comm.send", id(1000 + n))).await.unwrap();
                        }
                        _ => store.insert_incident(incident(5000 + n, "ops", "low", &at(i)), Record::ok("ann", "incident.report", id(5000 + n))).await.unwrap(),
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let report = check.verify_audit().await.unwrap();
    assert_eq!((report.intact, report.entries, report.first_broken_at), (true, 2 + 80, None));
    let (entries, total) = check.audit_entries(&AuditFilter { actor: None, action: None, outcome: None, since: None, limit: 1000, offset: 0 }).await.unwrap();
    assert_eq!(total, 82);
    let seqs: Vec<i64> = entries.iter().rev().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=82).collect::<Vec<_>>());
    for pair in entries.windows(2) {
        assert_eq!(pair[0].prev_hash, pair[1].entry_hash);
    }
}

/// Ten servers escalate one incident at once: every escalation counts, none is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tactical_postgres_concurrent_status_changes_lose_none() {
    let Some(config) = database("tactical_postgres_concurrent_status_changes_lose_none").await else { return };
    let check = PgTacticalStore::new(migrated(&config).await);
    registered(&check, &["ann"]).await;
    check.insert_incident(incident(301, "ops", "high", &at(1)), Record::ok("ann", "incident.report", id(301))).await.unwrap();
    let stores = servers(&config, 10).await;
    let start = Arc::new(Barrier::new(stores.len()));
    let log: Log = Arc::default();
    let tasks: Vec<_> = stores
        .into_iter()
        .map(|store| {
            let (start, log) = (start.clone(), log.clone());
            tokio::spawn(async move {
                start.wait().await;
                store.update_incident_status(&id(301), escalate(&log, at(2))).await.unwrap().escalations
            })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap());
    }
    seen.sort();
    assert_eq!(seen, (1..=10).collect::<Vec<u32>>());
    let (rows, _) = check.incidents("ops", &IncidentFilter { status: None, severity: None, since: None, limit: 10, offset: 0 }).await.unwrap();
    assert_eq!((rows[0].escalations, rows[0].status.as_str()), (10, "escalated"));
    let report = check.verify_audit().await.unwrap();
    assert_eq!((report.intact, report.entries), (true, 2 + 1 + 10));
}

/// Ten servers attach to one comm at once under a limit of 3: exactly 3 are attached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tactical_postgres_attachment_limit_admits_exactly_the_limit_across_servers() {
    let Some(config) = database("tactical_postgres_attachment_limit_admits_exactly_the_limit_across_servers").await else { return };
    let check = PgTacticalStore::new(migrated(&config).await);
    registered(&check, &["ann"]).await;
    let c = comm(401, "ann", "department", None, "ops", ("standard", "note", "normal"), "public", &at(1));
    check.send_comm(c, Vec::new(), pass(), None, Record::ok("ann", "comm.send", id(401))).await.unwrap();
    let stores = servers(&config, 10).await;
    let start = Arc::new(Barrier::new(stores.len()));
    let tasks: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(i, store)| {
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                let limit: optima::features::tactical::store::CheckAttachment = Box::new(|comm, count| match comm {
                    Some(_) if count < 3 => Ok(()),
                    _ => Err(AppError::Conflict { code: "too_many_attachments", message: "full".into() }),
                });
                // Each offers a key: the comm has none, so whoever attaches first gives it one.
                let n = 500 + i as u32;
                store.insert_attachment(attachment(n, &id(401), &at(2)), "ann", limit, Some(wrap(&format!("a{i}"))), Record::ok("ann", "comm.attach", id(n))).await
            })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => admitted += 1,
            Err(e) => assert_eq!(e.code(), "too_many_attachments"),
        }
    }
    assert_eq!(admitted, 3);
    let page = check
        .visible_comms(&reader("ann", 2, None, "ops"), &CommQuery { message_type: None, label: None, priority: None, since: None, cursor: None, limit: 10 })
        .await
        .unwrap();
    assert_eq!(page.comms[0].1.attachments.len(), 3);
    let report = check.verify_audit().await.unwrap();
    assert_eq!((report.intact, report.entries), (true, 2 + 1 + 3));
}

/// A rotation on one server while others send comms with new keys and securely delete keyed
/// ones: afterwards every key left is wrapped under the new master key, and no deleted comm got
/// its key back from the rotation; five rounds, each rotating again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tactical_postgres_rotation_racing_new_keys_and_deletions_leaves_every_key_under_the_new_master() {
    let Some(config) = database("tactical_postgres_rotation_racing_new_keys_and_deletions_leaves_every_key_under_the_new_master").await else { return };
    let check = PgTacticalStore::new(migrated(&config).await);
    registered(&check, &["ann"]).await;
    let mut entries = 2;
    for round in 0..5u32 {
        entries += rotation_round(&config, &check, round).await;
    }
    let report = check.verify_audit().await.unwrap();
    assert_eq!((report.intact, report.entries), (true, entries));
}

/// One round of the race above, rotating to `k{round + 2}`; the entries it appended.
async fn rotation_round(config: &optima::config::DatabaseConfig, check: &PgTacticalStore, round: u32) -> u64 {
    let base = 1000 * (round + 1);
    let new_key = format!("k{}", round + 2);
    for n in 0..6 {
        let c = comm(base + n, "ann", "department", None, "ops", ("standard", "note", "normal"), "public", &at(n));
        check.send_comm(c, Vec::new(), pass(), Some(wrap("before")), Record::ok("ann", "comm.send", id(base + n))).await.unwrap();
    }
    let stores = servers(config, 12).await;
    let start = Arc::new(Barrier::new(stores.len()));
    let log: Log = Arc::default();
    let tasks: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(i, store)| {
            let (start, log, new_key) = (start.clone(), log.clone(), new_key.clone());
            tokio::spawn(async move {
                start.wait().await;
                let i = i as u32;
                match i {
                    0 => store.rotate_master_key(&new_key, plan(&log, false)).await.map(|r| format!("rotated {}", r.len())),
                    1..=3 => store
                        .delete_comm_securely(&id(base + i), "ann", &at(30), Box::new(|_| Record::ok("ann", "comm.delete", "c")))
                        .await
                        .map(|r| format!("deleted {r:?}")),
                    _ => {
                        let c = comm(base + 200 + i, "ann", "department", None, "ops", ("standard", "note", "normal"), "public", &at(i));
                        store.send_comm(c, Vec::new(), pass(), Some(wrap("during")), Record::ok("ann", "comm.send", id(base + 200 + i))).await.map(|()| "sent".into())
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    // Every key of every round so far: the earlier rounds' too.
    for n in (0..=round).flat_map(|r| {
        let base = 1000 * (r + 1);
        (base..base + 6).chain(base + 204..base + 212)
    }) {
        let c = check.comm(&id(n)).await.unwrap().unwrap();
        if (1..=3).contains(&(n % 1000)) {
            assert_eq!((c.wrapped_key, c.key_id, c.deleted_at.is_some()), (None, None, true), "comm {n}");
        } else {
            assert_eq!(c.key_id.as_deref(), Some(new_key.as_str()), "comm {n}");
        }
    }
    6 + 1 + 3 + 8
}

/// Ten servers register one member at once, each with a document: one registration is written
/// (with its document and its entry), the others find it and write nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tactical_postgres_concurrent_registrations_of_one_member_write_one() {
    let Some(config) = database("tactical_postgres_concurrent_registrations_of_one_member_write_one").await else { return };
    let check = PgTacticalStore::new(migrated(&config).await);
    let stores = servers(&config, 10).await;
    let start = Arc::new(Barrier::new(stores.len()));
    let tasks: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(i, store)| {
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                let i = i as u32;
                store.register(profile("ann", i, "ops", &at(i)), vec![document(100 + i, "ann", &at(i))], Record::ok("ann", "member.register", "ann")).await
            })
        })
        .collect();
    let mut written = 0;
    for task in tasks {
        written += usize::from(task.await.unwrap().unwrap());
    }
    assert_eq!(written, 1);
    assert_eq!(check.documents("ann").await.unwrap().len(), 1);
    let report = check.verify_audit().await.unwrap();
    assert_eq!((report.intact, report.entries), (true, 1));
}
