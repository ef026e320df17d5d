//! Writers Guild over HTTP: members (stats, updates, access, tier upgrades by words or
//! subscription), projects (tier gate, limit, enum, listing, ownership), manuscripts with their
//! version history on disk (conflicts, diffs, restores, size limit), notes, exports in six
//! formats, writing sessions (words written, one open session, idle close) and AI assistance
//! with the local provider and against the fake OpenAI server (`fake_openai.rs`).

use std::path::PathBuf;

use optima::auth::Role;
use serde_json::{Value, json};

use crate::blobs::contains;
use crate::fake_openai::{FakeOpenAi, Scenario};
use crate::helpers::{TestApp, client_error, expect, files_under, mirrors_written, names_field, ok, refused, set_tier, user_on};

// ---------------------------------------------------------------------------------------------
// Helpers

const REGISTER: &str = "/api/writers/member/register";
const CREATE: &str = "/api/writers/project/create";
const START: &str = "/api/writers/session/start";
const ASSIST: &str = "/api/writers/ai/assist";

async fn register(app: &TestApp, token: &str, user: &str) -> Value {
    expect(app.post_json(REGISTER, Some(token), &json!({"userId": user, "penName": format!("{user} pen")})).await, 201).await
}

async fn member(app: &TestApp, token: &str, user: &str) -> Value {
    ok(app.get(&format!("/api/writers/member/{user}"), Some(token)).await).await
}

async fn new_project(app: &TestApp, token: &str, user: &str, title: &str) -> String {
    let body = json!({"userId": user, "title": title, "contentType": "novel"});
    let p = expect(app.post_json(CREATE, Some(token), &body).await, 201).await;
    assert_eq!(p["userId"], user);
    assert_eq!(p["status"], "active");
    p["projectId"].as_str().unwrap().to_owned()
}

fn project_path(pid: &str) -> String {
    format!("/api/writers/project/{pid}")
}

async fn save_resp(app: &TestApp, token: &str, pid: &str, body: Value) -> reqwest::Response {
    app.put_json(&project_path(pid), Some(token), &body).await
}

/// Saves `text` as the manuscript; returns the `Saved` answer.
async fn save(app: &TestApp, token: &str, pid: &str, text: &str) -> Value {
    ok(save_resp(app, token, pid, json!({"content": text})).await).await
}

async fn content(app: &TestApp, token: &str, pid: &str) -> String {
    let resp = app.get(&format!("{}/content", project_path(pid)), Some(token)).await;
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

async fn versions(app: &TestApp, token: &str, pid: &str) -> Vec<Value> {
    ok(app.get(&format!("{}/versions", project_path(pid)), Some(token)).await).await.as_array().unwrap().clone()
}

async fn start(app: &TestApp, token: &str, user: &str, pid: &str) -> Value {
    ok(app.post_json(START, Some(token), &json!({"userId": user, "projectId": pid})).await).await
}

async fn end(app: &TestApp, token: &str, sid: &str) -> reqwest::Response {
    app.put_json(&format!("/api/writers/session/{sid}/end"), Some(token), &json!({})).await
}

fn project_dir(app: &TestApp, user: &str, pid: &str) -> PathBuf {
    app.bucket_dir("r3al-writers-guild").join("users").join(user).join("projects").join(pid)
}

fn version_rows(app: &TestApp, pid: &str) -> i64 {
    app.count("SELECT count(*) FROM writing_versions WHERE project_id = ?1", &[&pid])
}

fn words(n: usize) -> String {
    (0..n).map(|i| format!("word{i}")).collect::<Vec<_>>().join(" ")
}

/// Concatenation of the diff's spans with the given ops.
fn rebuild(diff: &Value, ops: &[&str]) -> String {
    diff["hunks"].as_array().unwrap().iter().filter(|h| ops.contains(&h["op"].as_str().unwrap())).map(|h| h["text"].as_str().unwrap()).collect()
}

// ---------------------------------------------------------------------------------------------
// 1. Members

#[tokio::test]
async fn members_register_read_update_and_access() {
    let app = TestApp::spawn().await;
    let a1 = user_on(&app, "a1", "premium").await;
    let body = json!({"userId": "a1", "penName": "  Ada Quill ", "bio": "Writes storms.", "specialties": ["fantasy", "poetry", "fantasy"]});
    let m = expect(app.post_json(REGISTER, Some(&a1), &body).await, 201).await;
    assert_eq!(m["userId"], "a1");
    assert_eq!(m["penName"], "Ada Quill");
    assert_eq!(m["bio"], "Writes storms.");
    assert_eq!(m["specialties"], json!(["fantasy", "poetry"]));
    assert_eq!(m["tier"], "novice");
    for key in ["totalWordsWritten", "totalProjects", "sessions", "streakDays"] {
        assert_eq!(m[key], 0, "{key}: {m}");
    }
    assert!(m["memberSince"].as_str().is_some_and(|s| s.len() >= 10), "{m}");
    assert!(m["memberId"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(app.count("SELECT count(*) FROM guild_members WHERE user_id = ?1", &[&"a1"]), 1);

    // Twice: 409, and still one row.
    refused(app.post_json(REGISTER, Some(&a1), &body).await, 409, "already_member").await;
    assert_eq!(app.count("SELECT count(*) FROM guild_members WHERE user_id = ?1", &[&"a1"]), 1);

    // Stats follow projects and sessions.
    let pid = new_project(&app, &a1, "a1", "Storms").await;
    start(&app, &a1, "a1", &pid).await;
    let got = member(&app, &a1, "a1").await;
    assert_eq!(got["totalProjects"], 1, "{got}");
    assert_eq!(got["sessions"], 1, "{got}");
    assert_eq!(got["streakDays"], 1, "{got}");
    assert_eq!(got["memberSince"], m["memberSince"]);

    // Update.
    let upd = json!({"penName": "A. Quill", "bio": "Now writes calm seas.", "specialties": ["essays"]});
    let u = ok(app.put_json("/api/writers/member/a1", Some(&a1), &upd).await).await;
    assert_eq!(u["penName"], "A. Quill");
    assert_eq!(u["bio"], "Now writes calm seas.");
    assert_eq!(u["specialties"], json!(["essays"]));
    let again = member(&app, &a1, "a1").await;
    assert_eq!(again["penName"], "A. Quill");
    assert_eq!(again["specialties"], json!(["essays"]));
    names_field(app.put_json("/api/writers/member/a1", Some(&a1), &json!({"penName": "   "})).await, "penName").await;

    // Another user: 403 on reading, editing, registering for a1.
    let b1 = app.token("b1", Role::User);
    refused(app.get("/api/writers/member/a1", Some(&b1)).await, 403, "forbidden").await;
    refused(app.put_json("/api/writers/member/a1", Some(&b1), &upd).await, 403, "forbidden").await;
    refused(app.post_json(REGISTER, Some(&b1), &json!({"userId": "a1", "penName": "Thief"})).await, 403, "forbidden").await;
    assert_eq!(member(&app, &a1, "a1").await["penName"], "A. Quill");

    // A non-member: 404.
    refused(app.get("/api/writers/member/b1", Some(&b1)).await, 404, "member_not_found").await;
    let c1 = user_on(&app, "c1", "premium").await;
    refused(app.put_json("/api/writers/member/c1", Some(&c1), &json!({"bio": "x"})).await, 404, "member_not_found").await;
    // An admin reads anyone; no token is 401.
    assert_eq!(member(&app, &app.token("ops", Role::Admin), "a1").await["userId"], "a1");
    assert_eq!(app.get("/api/writers/member/a1", None).await.status(), 401);
}

#[tokio::test]
async fn tier_upgrades_by_subscription_and_admin() {
    let app = TestApp::spawn().await;
    let up = |u: &str| format!("/api/writers/member/{u}/upgrade");

    // A premium user with no words: not eligible for master, and told why.
    let f1 = user_on(&app, "f1", "premium").await;
    register(&app, &f1, "f1").await;
    let body = refused(app.put_json(&up("f1"), Some(&f1), &json!({"tier": "master"})).await, 403, "not_eligible").await;
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("100000") && msg.contains("unlimited") && msg.contains("premium"), "the message says what is missing: {msg}");
    assert_eq!(body["error"]["details"]["wordsNeeded"], 100000, "{body}");
    assert_eq!(body["error"]["details"]["wordsWritten"], 0, "{body}");
    assert_eq!(member(&app, &f1, "f1").await["tier"], "novice");
    // Unknown tier.
    names_field(app.put_json(&up("f1"), Some(&f1), &json!({"tier": "grandmaster"})).await, "tier").await;
    // Not for someone else.
    refused(app.put_json(&up("f1"), Some(&app.token("x1", Role::User)), &json!({"tier": "novice"})).await, 403, "forbidden").await;

    // Premium: wordsmith yes, master no.
    let p1 = user_on(&app, "p1", "premium").await;
    register(&app, &p1, "p1").await;
    assert_eq!(ok(app.put_json(&up("p1"), Some(&p1), &json!({"tier": "wordsmith"})).await).await["tier"], "wordsmith");
    let body = refused(app.put_json(&up("p1"), Some(&p1), &json!({"tier": "master"})).await, 403, "not_eligible").await;
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("100000") && msg.contains("unlimited"), "{msg}");
    assert_eq!(member(&app, &p1, "p1").await["tier"], "wordsmith");
    // The same tier again: 409.
    refused(app.put_json(&up("p1"), Some(&p1), &json!({"tier": "wordsmith"})).await, 409, "already_on_tier").await;

    // Unlimited: master straight away (the app's name for it works too).
    let u1 = user_on(&app, "u1", "unlimited").await;
    register(&app, &u1, "u1").await;
    assert_eq!(ok(app.put_json(&up("u1"), Some(&u1), &json!({"tier": "unlimited"})).await).await["tier"], "master");

    // An admin sets any tier for a member; the member may step down.
    let admin = app.token("ops", Role::Admin);
    assert_eq!(ok(app.put_json(&up("f1"), Some(&admin), &json!({"tier": "master"})).await).await["tier"], "master");
    assert_eq!(app.row("SELECT tier FROM guild_members WHERE user_id = 'f1'", &[]).text(0).unwrap(), "master");
    assert_eq!(ok(app.put_json(&up("f1"), Some(&f1), &json!({"tier": "novice"})).await).await["tier"], "novice");
}

async fn guild_access(app: &TestApp, token: &str) -> Value {
    ok(app.get("/api/subscription/check-access/g1/writers_guild", Some(token)).await).await
}

#[tokio::test]
async fn a_tier_without_the_guild_can_neither_join_nor_edit_a_membership() {
    let app = TestApp::spawn().await;
    let g1 = user_on(&app, "g1", "free").await;
    assert_eq!(guild_access(&app, &g1).await["hasAccess"], false);
    let body = refused(app.post_json(REGISTER, Some(&g1), &json!({"userId": "g1", "penName": "Nope"})).await, 403, "upgrade_required").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("premium"), "{body}");
    // Not for an admin acting for the user either: the gate is the user's plan.
    let admin = app.token("ops", Role::Admin);
    refused(app.post_json(REGISTER, Some(&admin), &json!({"userId": "g1", "penName": "Nope"})).await, 403, "upgrade_required").await;
    assert_eq!(app.count("SELECT count(*) FROM guild_members WHERE user_id = ?1", &[&"g1"]), 0);

    // A member who moves down to free keeps the profile to read, but no longer edits it.
    set_tier(&app, "g1", "premium").await;
    assert_eq!(guild_access(&app, &g1).await["hasAccess"], true);
    register(&app, &g1, "g1").await;
    set_tier(&app, "g1", "free").await;
    assert_eq!(member(&app, &g1, "g1").await["penName"], "g1 pen");
    refused(app.put_json("/api/writers/member/g1", Some(&g1), &json!({"penName": "Changed"})).await, 403, "upgrade_required").await;
    refused(app.put_json("/api/writers/member/g1/upgrade", Some(&g1), &json!({"tier": "wordsmith"})).await, 403, "upgrade_required").await;
    assert_eq!(member(&app, &g1, "g1").await["penName"], "g1 pen");
}

#[tokio::test]
async fn master_by_words_written() {
    let app = TestApp::spawn_with(|c| c.writers.master_words = 20).await;
    let up = "/api/writers/member/w1/upgrade";
    let w1 = user_on(&app, "w1", "premium").await;
    register(&app, &w1, "w1").await;
    let body = refused(app.put_json(up, Some(&w1), &json!({"tier": "master"})).await, 403, "not_eligible").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("20 words"), "{body}");

    let pid = new_project(&app, &w1, "w1", "Words").await;
    let s = start(&app, &w1, "w1", &pid).await;
    save(&app, &w1, &pid, &words(22)).await;
    let ended = ok(end(&app, &w1, s["sessionId"].as_str().unwrap()).await).await;
    assert_eq!(ended["wordsWritten"], 22, "{ended}");
    assert_eq!(member(&app, &w1, "w1").await["totalWordsWritten"], 22);
    assert_eq!(ok(app.put_json(up, Some(&w1), &json!({"tier": "master"})).await).await["tier"], "master");
}

// ---------------------------------------------------------------------------------------------
// 2. Projects

#[tokio::test]
async fn projects_gate_limit_enum_listing_and_ownership() {
    let app = TestApp::spawn().await;
    let f1 = user_on(&app, "f1", "free").await;
    refused(app.post_json(CREATE, Some(&f1), &json!({"userId": "f1", "title": "No", "contentType": "novel"})).await, 403, "upgrade_required").await;
    assert_eq!(app.count("SELECT count(*) FROM writing_projects WHERE user_id = ?1", &[&"f1"]), 0);

    let p1 = user_on(&app, "p1", "premium").await;
    // contentType is an enum.
    client_error(app.post_json(CREATE, Some(&p1), &json!({"userId": "p1", "title": "Bad", "contentType": "essay"})).await, 400).await;
    let full = json!({"userId": "p1", "title": "  Full  ", "genre": "Sci-fi", "contentType": "short_story", "description": "About it", "matureContent": true});
    let first = expect(app.post_json(CREATE, Some(&p1), &full).await, 201).await;
    assert_eq!(first["title"], "Full");
    assert_eq!(first["contentType"], "short_story");
    assert_eq!(first["genre"], "Sci-fi");
    assert_eq!(first["matureContent"], true);
    assert_eq!(first["wordCount"], 0);
    assert!(first["currentVersionId"].is_null());
    let first_id = first["projectId"].as_str().unwrap().to_owned();
    mirrors_written(&app).await;
    assert!(project_dir(&app, "p1", &first_id).join("metadata.json").is_file());

    let mut ids = vec![first_id.clone()];
    for i in 1..10 {
        ids.push(new_project(&app, &p1, "p1", &format!("Project {i}")).await);
    }
    refused(app.post_json(CREATE, Some(&p1), &json!({"userId": "p1", "title": "Eleventh", "contentType": "poetry"})).await, 403, "project_limit_reached")
        .await;
    assert_eq!(app.count("SELECT count(*) FROM writing_projects WHERE user_id = ?1", &[&"p1"]), 10);

    // Archiving frees a place.
    let archived = ok(app.delete(&project_path(&ids[3]), Some(&p1)).await).await;
    assert_eq!(archived["project"]["status"], "archived");
    ok(save_resp(&app, &p1, &ids[4], json!({"status": "completed"})).await).await;
    new_project(&app, &p1, "p1", "Eleventh").await;

    let list_url = |q: &str| format!("/api/writers/user/p1/projects{q}");
    let all = ok(app.get(&list_url(""), Some(&p1)).await).await;
    assert_eq!(all["total"], 11);
    assert_eq!(all["projects"].as_array().unwrap().len(), 11);
    let arch = ok(app.get(&list_url("?status=archived"), Some(&p1)).await).await;
    assert_eq!(arch["total"], 1);
    assert_eq!(arch["projects"][0]["projectId"], ids[3].as_str());
    let done = ok(app.get(&list_url("?status=completed"), Some(&p1)).await).await;
    assert_eq!(done["total"], 1);
    assert_eq!(done["projects"][0]["projectId"], ids[4].as_str());
    assert_eq!(ok(app.get(&list_url("?status=active"), Some(&p1)).await).await["total"], 9);
    let page = ok(app.get(&list_url("?limit=4"), Some(&p1)).await).await;
    assert_eq!(page["projects"].as_array().unwrap().len(), 4);
    assert_eq!(page["hasMore"], true);
    client_error(app.get(&list_url("?status=lost"), Some(&p1)).await, 400).await;
    let alias = ok(app.get("/api/writers/projects/p1?status=archived", Some(&p1)).await).await;
    assert_eq!(alias["total"], 1);
    assert_eq!(alias["projects"][0]["projectId"], ids[3].as_str());
    assert_eq!(ok(app.get("/api/writers/projects/p1", Some(&p1)).await).await["total"], 11);

    // Owner only.
    let q1 = user_on(&app, "q1", "premium").await;
    refused(app.get(&project_path(&first_id), Some(&q1)).await, 404, "project_not_found").await;
    refused(save_resp(&app, &q1, &first_id, json!({"title": "Mine now"})).await, 404, "project_not_found").await;
    refused(app.get(&format!("{}/content", project_path(&first_id)), Some(&q1)).await, 404, "project_not_found").await;
    refused(app.get(&format!("{}/versions", project_path(&first_id)), Some(&q1)).await, 404, "project_not_found").await;
    refused(app.get(&format!("{}/notes", project_path(&first_id)), Some(&q1)).await, 404, "project_not_found").await;
    refused(app.get("/api/writers/user/p1/projects", Some(&q1)).await, 403, "forbidden").await;
    refused(app.get("/api/writers/projects/p1", Some(&q1)).await, 403, "forbidden").await;
    assert_eq!(ok(app.get(&project_path(&first_id), Some(&p1)).await).await["title"], "Full");
    assert_eq!(ok(app.get(&project_path(&first_id), Some(&app.token("ops", Role::Admin))).await).await["title"], "Full");
}

// ---------------------------------------------------------------------------------------------
// 3. Manuscript and versions

#[tokio::test]
async fn manuscript_versions_conflicts_diffs_and_restore() {
    let app = TestApp::spawn().await;
    let m1 = user_on(&app, "m1", "premium").await;
    let pid = new_project(&app, &m1, "m1", "Drafts").await;
    let other = new_project(&app, &m1, "m1", "Other").await;
    let dir = project_dir(&app, "m1", &pid);

    let text1 = "The harbour slept under fog.\nGulls waited on the stones.\nNobody came.\n";
    let s1 = save(&app, &m1, &pid, text1).await;
    assert_eq!(s1["newVersion"], true);
    let v1 = s1["versionId"].as_str().unwrap().to_owned();
    assert_eq!(s1["project"]["currentVersionId"], v1.as_str());
    assert_eq!(s1["project"]["wordCount"], 12);
    assert_eq!(std::fs::read_to_string(dir.join("manuscript.txt")).unwrap(), text1);
    assert_eq!(std::fs::read_to_string(dir.join("versions").join(format!("{v1}.txt"))).unwrap(), text1);
    assert_eq!(version_rows(&app, &pid), 1);

    // The same text: no new version.
    let same = save(&app, &m1, &pid, text1).await;
    assert_eq!(same["newVersion"], false);
    assert_eq!(same["versionId"], v1.as_str());
    assert_eq!(version_rows(&app, &pid), 1);
    assert_eq!(files_under(&dir.join("versions")).len(), 1);

    // A save based on the current version.
    let text2 = "The harbour woke under fog.\nGulls waited on the stones.\nA boat came at last.\n";
    let s2 = ok(save_resp(&app, &m1, &pid, json!({"content": text2, "baseVersionId": v1})).await).await;
    assert_eq!(s2["newVersion"], true);
    let v2 = s2["versionId"].as_str().unwrap().to_owned();
    assert_ne!(v1, v2);
    assert_eq!(s2["project"]["wordCount"], 15);
    assert_eq!(app.count("SELECT word_count FROM writing_projects WHERE project_id = ?1", &[&pid]), 15);

    // One based on the stale version: 409, nothing changes.
    refused(save_resp(&app, &m1, &pid, json!({"content": "Overwritten.", "baseVersionId": v1})).await, 409, "version_conflict").await;
    assert_eq!(content(&app, &m1, &pid).await, text2);
    assert_eq!(std::fs::read_to_string(dir.join("manuscript.txt")).unwrap(), text2);
    assert_eq!(version_rows(&app, &pid), 2);
    assert_eq!(files_under(&dir.join("versions")).len(), 2);

    // Versions, newest first.
    let vs = versions(&app, &m1, &pid).await;
    assert_eq!(vs.len(), 2);
    assert_eq!(vs[0]["versionId"], v2.as_str());
    assert_eq!(vs[0]["current"], true);
    assert_eq!(vs[0]["wordCount"], 15);
    assert_eq!(vs[0]["sizeBytes"], text2.len());
    assert_eq!(vs[0]["authorId"], "m1");
    assert_eq!(vs[1]["versionId"], v1.as_str());
    assert_eq!(vs[1]["current"], false);
    let old = ok(app.get(&format!("{}/versions/{v1}", project_path(&pid)), Some(&m1)).await).await;
    assert_eq!(old["content"], text1);
    assert_eq!(old["version"]["versionId"], v1.as_str());

    // Diffs rebuild both texts.
    for granularity in ["line", "word"] {
        let d = ok(app.get(&format!("{}/diff?from={v1}&to={v2}&granularity={granularity}", project_path(&pid)), Some(&m1)).await).await;
        assert_eq!(d["granularity"], granularity);
        assert_eq!(rebuild(&d, &["equal", "delete"]), text1, "{granularity}: {d}");
        assert_eq!(rebuild(&d, &["equal", "insert"]), text2, "{granularity}: {d}");
        let (kept, added, removed) = (d["unchangedWords"].as_u64().unwrap(), d["addedWords"].as_u64().unwrap(), d["removedWords"].as_u64().unwrap());
        assert_eq!(kept + removed, 12, "{d}");
        assert_eq!(kept + added, 15, "{d}");
        assert!(d["hunks"].as_array().unwrap().iter().any(|h| h["op"] == "insert"), "{d}");
    }
    // Line diff by default.
    assert_eq!(ok(app.get(&format!("{}/diff?from={v1}&to={v2}", project_path(&pid)), Some(&m1)).await).await["granularity"], "line");

    // A version of another project is not found here.
    let ov = save(&app, &m1, &other, "Other text here.").await["versionId"].as_str().unwrap().to_owned();
    refused(app.get(&format!("{}/versions/{ov}", project_path(&pid)), Some(&m1)).await, 404, "version_not_found").await;
    refused(app.get(&format!("{}/diff?from={v1}&to={ov}", project_path(&pid)), Some(&m1)).await, 404, "version_not_found").await;
    refused(app.post_json(&format!("{}/versions/{ov}/restore", project_path(&pid)), Some(&m1), &json!({})).await, 404, "version_not_found")
        .await;
    assert_eq!(version_rows(&app, &pid), 2);

    // Restore v1: a new version with v1's text.
    let r = ok(app.post_json(&format!("{}/versions/{v1}/restore", project_path(&pid)), Some(&m1), &json!({})).await).await;
    assert_eq!(r["newVersion"], true);
    let v3 = r["versionId"].as_str().unwrap().to_owned();
    assert!(v3 != v1 && v3 != v2);
    assert_eq!(r["project"]["currentVersionId"], v3.as_str());
    assert_eq!(r["project"]["wordCount"], 12);
    let vs = versions(&app, &m1, &pid).await;
    assert_eq!(vs.len(), 3);
    assert_eq!(vs[0]["versionId"], v3.as_str());
    assert_eq!(vs[0]["restoredFrom"], v1.as_str());
    assert!(vs[1]["restoredFrom"].is_null());
    assert_eq!(content(&app, &m1, &pid).await, text1);
    assert_eq!(std::fs::read_to_string(dir.join("manuscript.txt")).unwrap(), text1);
    assert_eq!(std::fs::read_to_string(dir.join("versions").join(format!("{v3}.txt"))).unwrap(), text1);
}

#[tokio::test]
async fn oversized_manuscript_and_notes_are_refused() {
    let app = TestApp::spawn_with(|c| {
        c.writers.max_manuscript_bytes = 64;
        c.writers.max_notes_bytes = 128;
    })
    .await;
    let m1 = user_on(&app, "m1", "premium").await;
    let pid = new_project(&app, &m1, "m1", "Small").await;
    let dir = project_dir(&app, "m1", &pid);
    let small = "A short manuscript that fits.";
    save(&app, &m1, &pid, small).await;

    client_error(save_resp(&app, &m1, &pid, json!({"content": "x".repeat(65)})).await, 413).await;
    assert_eq!(content(&app, &m1, &pid).await, small);
    assert_eq!(std::fs::read_to_string(dir.join("manuscript.txt")).unwrap(), small);
    assert_eq!(version_rows(&app, &pid), 1);
    assert_eq!(ok(app.get(&project_path(&pid), Some(&m1)).await).await["wordCount"], 5);

    // Notes: empty, set, read back, refused when not an object or too large.
    let notes = format!("{}/notes", project_path(&pid));
    assert_eq!(ok(app.get(&notes, Some(&m1)).await).await, json!({}));
    let doc = json!({"characters": [{"name": "Ada"}], "plot": "storm"});
    assert_eq!(ok(app.put_json(&notes, Some(&m1), &doc).await).await, doc);
    assert_eq!(ok(app.get(&notes, Some(&m1)).await).await, doc);
    let on_disk: Value = serde_json::from_slice(&std::fs::read(dir.join("notes.json")).unwrap()).unwrap();
    assert_eq!(on_disk, doc);
    client_error(app.put_json(&notes, Some(&m1), &json!("just a string")).await, 400).await;
    client_error(app.put_json(&notes, Some(&m1), &json!({"long": "y".repeat(200)})).await, 413).await;
    assert_eq!(ok(app.get(&notes, Some(&m1)).await).await, doc);
}

// ---------------------------------------------------------------------------------------------
// 4. Exports

fn zip_has_name(bytes: &[u8], name: &str) -> bool {
    contains(bytes, name.as_bytes())
}

#[tokio::test]
async fn exports_in_six_formats() {
    let app = TestApp::spawn().await;
    let e1 = user_on(&app, "e1", "premium").await;
    expect(app.post_json(REGISTER, Some(&e1), &json!({"userId": "e1", "penName": "Ada Quill"})).await, 201).await;
    let pid = new_project(&app, &e1, "e1", "The Storm Chapter").await;
    let text = "Chapter One\n\nThe storm broke at dawn. <script>alert(1)</script> said the sign.\n\nThe boats stayed ashore.\n";
    save(&app, &e1, &pid, text).await;
    let export_url = |f: &str| format!("{}/export?format={f}", project_path(&pid));

    let expected = [
        ("pdf", "application/pdf"),
        ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("epub", "application/epub+zip"),
        ("md", "text/markdown"),
        ("html", "text/html"),
        ("txt", "text/plain"),
    ];
    for (format, mime) in expected {
        let resp = app.get(&export_url(format), Some(&e1)).await;
        assert_eq!(resp.status(), 200, "{format}");
        let ct = resp.headers().get("content-type").expect("a content type").to_str().unwrap().to_owned();
        assert!(ct.starts_with(mime), "{format}: {ct}");
        let cd = resp.headers().get("content-disposition").expect("a content disposition").to_str().unwrap().to_owned();
        assert!(cd.starts_with("attachment"), "{format}: {cd}");
        let name = cd.split("filename=").nth(1).expect("a filename").split(';').next().unwrap().trim().trim_matches('"').to_owned();
        assert!(name.ends_with(&format!(".{format}")), "{format}: {cd}");
        assert!(name.starts_with("The-Storm-Chapter"), "{format}: {cd}");
        let bytes = resp.bytes().await.unwrap().to_vec();
        assert!(!bytes.is_empty(), "{format}");
        match format {
            "pdf" => assert!(bytes.starts_with(b"%PDF-"), "a PDF"),
            "epub" => {
                assert!(bytes.starts_with(b"PK\x03\x04"), "a ZIP");
                assert_eq!(&bytes[30..38], b"mimetype", "the first entry is mimetype");
                assert!(zip_has_name(&bytes, "application/epub+zip"));
            }
            "docx" => {
                assert!(bytes.starts_with(b"PK\x03\x04"), "a ZIP");
                assert!(zip_has_name(&bytes, "word/document.xml"), "has word/document.xml");
            }
            "html" => {
                let html = String::from_utf8(bytes).unwrap();
                assert!(!html.contains("<script>"), "the script is escaped: {html}");
                assert!(html.contains("&lt;script&gt;"), "{html}");
                assert!(html.contains("The storm broke at dawn."), "{html}");
            }
            "txt" | "md" => {
                let t = String::from_utf8(bytes).unwrap();
                assert!(t.contains("The boats stayed ashore."), "{format}: {t}");
            }
            _ => unreachable!(),
        }
    }
    names_field(app.get(&export_url("rtf"), Some(&e1)).await, "format").await;
    refused(
        app.get(&format!("{}/export?format=pdf", project_path(&pid)), Some(&app.token("x1", Role::User))).await,
        404,
        "project_not_found",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// 5. Sessions

#[tokio::test]
async fn sessions_count_words_and_end_once() {
    let app = TestApp::spawn().await;
    let s1 = user_on(&app, "s1", "premium").await;
    register(&app, &s1, "s1").await;
    let pid = new_project(&app, &s1, "s1", "Sessions").await;

    let a = start(&app, &s1, "s1", &pid).await;
    let sid = a["sessionId"].as_str().unwrap().to_owned();
    assert_eq!(a["projectId"], pid.as_str());
    assert!(a["endedAt"].is_null());
    assert_eq!(a["wordsWritten"], 0);
    let caps = &a["capabilities"];
    assert_eq!(caps["tier"], "premium");
    assert_eq!(caps["aiWritingLevel"], "standard");
    assert_eq!(caps["unrestrictedAI"], false);
    assert_eq!(caps["contentRating"], "general");

    save(&app, &s1, &pid, &words(15)).await;
    let ended = ok(end(&app, &s1, &sid).await).await;
    assert_eq!(ended["wordsWritten"], 15, "{ended}");
    assert!(ended["endedAt"].as_str().is_some(), "{ended}");
    assert!(ended["durationSeconds"].as_u64().is_some(), "{ended}");
    assert_eq!(member(&app, &s1, "s1").await["totalWordsWritten"], 15);
    refused(end(&app, &s1, &sid).await, 409, "session_ended").await;
    assert_eq!(member(&app, &s1, "s1").await["totalWordsWritten"], 15);

    // Deleting words: 0, never negative.
    let b = start(&app, &s1, "s1", &pid).await["sessionId"].as_str().unwrap().to_owned();
    save(&app, &s1, &pid, &words(5)).await;
    assert_eq!(ok(end(&app, &s1, &b).await).await["wordsWritten"], 0);
    assert_eq!(member(&app, &s1, "s1").await["totalWordsWritten"], 15);
    assert_eq!(app.count("SELECT words_written FROM writing_sessions WHERE session_id = ?1", &[&b]), 0);

    // A second session on the same project ends the first.
    let c = start(&app, &s1, "s1", &pid).await["sessionId"].as_str().unwrap().to_owned();
    let d = start(&app, &s1, "s1", &pid).await["sessionId"].as_str().unwrap().to_owned();
    let c_end = app.row("SELECT ended_at FROM writing_sessions WHERE session_id = ?1", &[&c]).text(0);
    assert!(c_end.is_some(), "the first session was ended");
    refused(end(&app, &s1, &c).await, 409, "session_ended").await;
    assert_eq!(app.count("SELECT count(*) FROM writing_sessions WHERE user_id = ?1 AND ended_at IS NULL", &[&"s1"]), 1);

    // Someone else's session or project.
    let o1 = user_on(&app, "o1", "premium").await;
    refused(end(&app, &o1, &d).await, 404, "session_not_found").await;
    refused(app.post_json(START, Some(&o1), &json!({"userId": "o1", "projectId": pid})).await, 404, "project_not_found").await;
    refused(app.post_json(START, Some(&o1), &json!({"userId": "s1", "projectId": pid})).await, 403, "forbidden").await;
    refused(end(&app, &s1, "no-such-session").await, 404, "session_not_found").await;
    ok(end(&app, &s1, &d).await).await;
    assert_eq!(member(&app, &s1, "s1").await["sessions"], 4);
}

#[tokio::test]
async fn idle_sessions_are_closed_at_their_last_activity() {
    let app = TestApp::spawn().await;
    let s1 = user_on(&app, "s1", "premium").await;
    register(&app, &s1, "s1").await;
    let pid = new_project(&app, &s1, "s1", "Idle").await;
    let sid = start(&app, &s1, "s1", &pid).await["sessionId"].as_str().unwrap().to_owned();
    save(&app, &s1, &pid, &words(7)).await;

    let (started, last) = ("2020-01-01T10:00:00.000Z", "2020-01-01T10:10:00.000Z");
    let changed = app
        .execute("UPDATE writing_sessions SET started_at = ?2, last_activity_at = ?3 WHERE session_id = ?1", &[&sid, &started, &last])
        .unwrap();
    assert_eq!(changed, 1);
    // A fresh open session on another project stays open.
    let other = new_project(&app, &s1, "s1", "Busy").await;
    let busy = start(&app, &s1, "s1", &other).await["sessionId"].as_str().unwrap().to_owned();

    let closed = app.server.as_ref().unwrap().state.services.writers.close_idle_sessions().await.expect("closes");
    assert_eq!(closed, 1);
    let ended = app.row("SELECT ended_at, words_written, duration_seconds FROM writing_sessions WHERE session_id = ?1", &[&sid]);
    assert_eq!(ended.time(0), Some(last.parse().unwrap()));
    assert_eq!(ended.int(1), 7);
    assert_eq!(ended.int(2), 600);
    let busy_end = app.row("SELECT ended_at FROM writing_sessions WHERE session_id = ?1", &[&busy]).text(0);
    assert!(busy_end.is_none());
    assert_eq!(member(&app, &s1, "s1").await["totalWordsWritten"], 7);
    refused(end(&app, &s1, &sid).await, 409, "session_ended").await;
}

// ---------------------------------------------------------------------------------------------
// 6. AI assistance

const STORY: &str = "The storm broke over the harbour at dawn. Fishermen hauled their boats higher on the harbour stones. \
                     Nobody spoke about the missing boat. The harbour storm kept every boat ashore for a week. \
                     \"We wait,\" said the old captain quietly.";

#[tokio::test]
async fn ai_assist_gates_analysis_ratings_and_usage() {
    let app = TestApp::spawn().await;
    // A free user (their project made while premium).
    let f1 = user_on(&app, "f1", "premium").await;
    let fp = new_project(&app, &f1, "f1", "Was premium").await;
    set_tier(&app, "f1", "free").await;
    let body = json!({"userId": "f1", "projectId": fp, "mode": "critique"});
    refused(app.post_json(ASSIST, Some(&f1), &body).await, 403, "upgrade_required").await;

    let p1 = user_on(&app, "p1", "premium").await;
    let pid = new_project(&app, &p1, "p1", "Harbour").await;
    save(&app, &p1, &pid, STORY).await;
    let usage = || app.get("/api/premium/usage/p1", Some(&p1));
    let before = ok(usage().await).await;
    assert_eq!(before["aiWriting"]["sessionsUsed"], 0, "{before}");

    let a = ok(app.post_json(ASSIST, Some(&p1), &json!({"userId": "p1", "projectId": pid, "mode": "critique"})).await).await;
    assert_eq!(a["model"], "optima-local");
    assert_eq!(a["type"], "critique");
    assert_eq!(a["contentRating"], "general");
    let an = &a["analysis"];
    assert!(an["fleschReadingEase"].as_f64().is_some(), "{a}");
    assert!(an["fleschKincaidGrade"].as_f64().is_some(), "{a}");
    assert_eq!(an["sentences"], 5, "{a}");
    assert!(an["words"].as_u64().unwrap() > 30, "{a}");
    assert!(an["dialogueRatio"].as_f64().unwrap() > 0.0, "{a}");
    assert!(a["suggestion"].as_str().is_some_and(|s| s.contains("reading ease")), "{a}");
    assert!(a["usage"]["totalTokens"].as_u64().unwrap() > 0, "{a}");

    // Summarize: extracted sentences of the text.
    let s = ok(app.post_json(ASSIST, Some(&p1), &json!({"userId": "p1", "projectId": pid, "mode": "summarize"})).await).await;
    let sug = s["suggestion"].as_str().unwrap();
    assert!(sug.contains("Key sentences"), "{sug}");
    assert!(sug.contains("The harbour storm kept every boat ashore for a week."), "{sug}");

    // Selection instead of the manuscript.
    let sel = ok(app
        .post_json(ASSIST, Some(&p1), &json!({"userId": "p1", "projectId": pid, "mode": "rewrite", "selection": "He ran quickly. She ran slowly."}))
        .await)
    .await;
    assert_eq!(sel["analysis"]["sentences"], 2, "{sel}");

    // Ratings: mature only for mature projects.
    names_field(
        app.post_json(ASSIST, Some(&p1), &json!({"userId": "p1", "projectId": pid, "mode": "critique", "contentRating": "mature"})).await,
        "contentRating",
    )
    .await;
    // Custom needs a prompt.
    names_field(app.post_json(ASSIST, Some(&p1), &json!({"userId": "p1", "projectId": pid})).await, "prompt").await;
    // The app's spelling, with its `request`.
    let alias = ok(app.post_json("/api/writers/assist", Some(&p1), &json!({"userId": "p1", "projectId": pid, "request": "Tighten it"})).await).await;
    assert_eq!(alias["model"], "optima-local");
    assert_eq!(alias["type"], "custom");
    // Not on someone else's project.
    let q1 = user_on(&app, "q1", "premium").await;
    refused(app.post_json(ASSIST, Some(&q1), &json!({"userId": "q1", "projectId": pid, "mode": "critique"})).await, 404, "project_not_found").await;

    let after = ok(usage().await).await;
    assert_eq!(after["aiWriting"]["sessionsUsed"], 4, "{after}");
    assert!(after["aiWriting"]["wordsProcessed"].as_u64().unwrap() > 0, "{after}");
    assert_eq!(after["aiWriting"]["limit"], 50, "{after}");
    assert_eq!(alias["usage"]["remaining"], 46, "{alias}");

    // A mature project: mature is allowed, unrestricted needs unlimited.
    let mp = expect(app.post_json(CREATE, Some(&p1), &json!({"userId": "p1", "title": "Dark", "contentType": "novel", "matureContent": true})).await, 201)
        .await["projectId"]
        .as_str()
        .unwrap()
        .to_owned();
    save(&app, &p1, &mp, STORY).await;
    let m = ok(app.post_json(ASSIST, Some(&p1), &json!({"userId": "p1", "projectId": mp, "mode": "critique"})).await).await;
    assert_eq!(m["contentRating"], "mature");
    refused(
        app.post_json(ASSIST, Some(&p1), &json!({"userId": "p1", "projectId": mp, "mode": "critique", "contentRating": "unrestricted"})).await,
        403,
        "upgrade_required",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// AI assistance with an OpenAI-compatible provider, and a body that is not UTF-8

const FAKE_REPLY: &str = "The gulls returned before the fishermen did.";

#[tokio::test]
async fn ai_assist_with_an_openai_compatible_provider_sends_the_mode_and_excerpt() {
    let fake = FakeOpenAi::start().await;
    fake.reply(FAKE_REPLY, 21, 9);
    let app = fake.app(|config| config.ai.openai.timeout_secs = 2).await;
    let u = user_on(&app, "a1", "premium").await;
    let pid = new_project(&app, &u, "a1", "Lighthouse Keeper").await;
    let distinctive = "The lamp at Carrow Point burned green for exactly one night.";
    save(&app, &u, &pid, &format!("{STORY} {distinctive}")).await;
    let usage = || app.get("/api/premium/usage/a1", Some(&u));
    assert_eq!(ok(usage().await).await["aiWriting"]["sessionsUsed"], 0);

    let a = ok(app.post_json(ASSIST, Some(&u), &json!({"userId": "a1", "projectId": pid, "mode": "continue"})).await).await;
    assert_eq!(a["suggestion"], FAKE_REPLY, "{a}");
    assert_eq!(a["model"], "test-model", "{a}");
    assert_eq!(a["type"], "continue", "{a}");
    assert_eq!(a["usage"]["promptTokens"], 21, "{a}");
    assert_eq!(a["usage"]["completionTokens"], 9, "{a}");
    assert_eq!(a["usage"]["totalTokens"], 30, "{a}");

    let sent = fake.requests();
    assert_eq!(sent.len(), 1, "one call to the provider: {sent:?}");
    let body = &sent[0].body;
    assert_eq!(sent[0].method, "POST");
    assert_eq!(sent[0].path, "/v1/chat/completions");
    assert_eq!(sent[0].authorization.as_deref(), Some("Bearer sk-test"));
    assert_eq!(body["model"], "test-model", "{body}");
    assert_eq!(body["max_tokens"], 800, "premium is the standard level: {body}");
    let msgs = body["messages"].as_array().expect("messages");
    assert_eq!(msgs[0]["role"], "system", "{body}");
    assert!(msgs[0]["content"].as_str().unwrap().contains("Lighthouse Keeper"), "{body}");
    let user_msg = msgs.iter().rev().find(|m| m["role"] == "user").expect("a user message")["content"].as_str().unwrap();
    assert!(user_msg.contains("Continue the manuscript from where it stops"), "{user_msg}");
    assert!(user_msg.contains(distinctive), "{user_msg}");
    let used = ok(usage().await).await["aiWriting"]["sessionsUsed"].clone();
    assert_eq!(used, 1);

    // The provider fails: a 502, and the session is not charged.
    fake.set(Scenario::ServerError);
    refused(app.post_json(ASSIST, Some(&u), &json!({"userId": "a1", "projectId": pid, "mode": "continue"})).await, 502, "provider_failed").await;
    assert_eq!(fake.requests().len(), 2, "the provider was called once more");
    let after = ok(usage().await).await;
    assert_eq!(after["aiWriting"]["sessionsUsed"], used, "a failed call is not charged: {after}");
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_refused() {
    let app = TestApp::spawn().await;
    let u = user_on(&app, "b1", "premium").await;
    let pid = new_project(&app, &u, "b1", "Bytes").await;
    save(&app, &u, &pid, "Original words stay put.").await;
    let before = content(&app, &u, &pid).await;

    let mut raw = br#"{"content":""#.to_vec();
    raw.extend_from_slice(&[0xff, 0xfe]);
    raw.extend_from_slice(br#""}"#);
    let resp = app
        .client
        .put(app.url(&project_path(&pid)))
        .bearer_auth(&u)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .expect("request");
    client_error(resp, 400).await;
    assert_eq!(content(&app, &u, &pid).await, before);
    assert_eq!(before, "Original words stay put.");
}
