//! Tactical HQ over HTTP: the entry gates (tier, registration, verification), verification
//! rules, the clearance × classification × audience visibility matrix, encryption at rest,
//! tamper detection, attachments, secure deletion, master key rotation with the real binary,
//! the hash-chained audit log, incidents, the dashboard and the analyses.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use optima::auth::Role;
use optima::crypto::envelope::{DataKey, MasterKey};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::blobs::{contains, files_containing, stored_containing};
use crate::helpers::{TestApp, client_error, created, files_under, ok, refused, set_tier};

// ---------------------------------------------------------------------------------------------
// Helpers

const DEPT: &str = "Metro PD";
const OTHER_DEPT: &str = "Harbor PD";
const CLEARANCES: [&str; 4] = ["public", "confidential", "secret", "top_secret"];
const SEND: &str = "/api/tactical/comm/send";
const SECURE: &str = "/api/tactical/comm/secure";
const TACTICAL_BUCKET: &str = "r3al-tactical-secure";

pub(crate) fn admin(app: &TestApp) -> String {
    app.token("hq-admin", Role::Admin)
}

fn registration(user: &str, dept: &str) -> Value {
    json!({"userId": user, "serviceBranch": "police", "department": dept, "rank": "Officer"})
}

/// An Unlimited user registered (pending) in `dept`; returns their token.
async fn registered(app: &TestApp, user: &str, dept: &str) -> String {
    set_tier(app, user, "unlimited").await;
    let token = app.token(user, Role::User);
    let p = created(app.post_json("/api/tactical/register", Some(&token), &registration(user, dept)).await).await;
    assert_eq!(p["verifiedStatus"], "pending", "{p}");
    assert_eq!(p["clearanceLevel"], "public", "{p}");
    token
}

async fn verify(app: &TestApp, token: &str, user: &str, body: Value) -> reqwest::Response {
    app.put_json(&format!("/api/tactical/verify/{user}"), Some(token), &body).await
}

/// A verified member of `dept` holding `clearance`; returns their token.
pub(crate) async fn member(app: &TestApp, admin: &str, user: &str, dept: &str, clearance: &str) -> String {
    let token = registered(app, user, dept).await;
    let p = ok(verify(app, admin, user, json!({"status": "verified", "clearanceLevel": clearance})).await).await;
    assert_eq!(p["verifiedStatus"], "verified", "{p}");
    assert_eq!(p["clearanceLevel"], clearance, "{p}");
    token
}

/// A team created by `lead` (who is put in it); returns its id.
async fn team(app: &TestApp, lead: &str, name: &str) -> String {
    let t = created(app.post_json("/api/tactical/teams", Some(lead), &json!({"teamName": name, "teamType": "patrol"})).await).await;
    t["teamId"].as_str().unwrap().to_owned()
}

async fn add_to_team(app: &TestApp, lead: &str, team_id: &str, user: &str) -> Value {
    ok(app.post_json(&format!("/api/tactical/teams/{team_id}/members"), Some(lead), &json!({"userId": user})).await).await
}

/// Sends a comm (201) and returns it.
async fn send(app: &TestApp, token: &str, route: &str, body: Value) -> Value {
    created(app.post_json(route, Some(token), &body).await).await
}

async fn send_id(app: &TestApp, token: &str, route: &str, body: Value) -> String {
    send(app, token, route, body).await["commId"].as_str().unwrap().to_owned()
}

async fn list(app: &TestApp, token: &str, user: &str) -> Value {
    ok(app.get(&format!("/api/tactical/comm/{user}?limit=100"), Some(token)).await).await
}

fn comms(page: &Value) -> &Vec<Value> {
    page["comms"].as_array().expect("a comms array")
}

fn ids(page: &Value) -> BTreeSet<String> {
    comms(page).iter().map(|c| c["commId"].as_str().unwrap().to_owned()).collect()
}

fn item<'a>(page: &'a Value, comm_id: &str) -> &'a Value {
    comms(page).iter().find(|c| c["commId"] == comm_id).unwrap_or_else(|| panic!("{comm_id} is listed: {page}"))
}

fn comm_dir(app: &TestApp, comm_id: &str) -> PathBuf {
    app.bucket_dir(TACTICAL_BUCKET).join("departments").join("metro-pd").join("comms").join(comm_id)
}

/// Every comm blob of every department (relative to the bucket).
fn comm_blobs(app: &TestApp) -> Vec<String> {
    files_under(&app.bucket_dir(TACTICAL_BUCKET)).into_iter().filter(|f| f.starts_with("departments/") && f.contains("/comms/")).collect()
}

fn flip_byte(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let i = at.min(bytes.len() - 1);
    bytes[i] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

async fn attach(app: &TestApp, token: &str, comm_id: &str, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    let part = Part::bytes(bytes).file_name(name.to_owned()).mime_str("application/octet-stream").unwrap();
    let form = Form::new().part("file", part);
    let url = app.url(&format!("/api/tactical/comm/{comm_id}/attachments"));
    app.client.post(url).bearer_auth(token).multipart(form).send().await.expect("request")
}

async fn download(app: &TestApp, token: &str, comm_id: &str, file_id: &str) -> reqwest::Response {
    app.get(&format!("/api/tactical/comm/{comm_id}/attachments/{file_id}"), Some(token)).await
}

/// Bytes that are not text, so a plaintext search cannot match by accident.
fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

/// The master key: configured (as a cluster must) or generated into the data folder.
fn master_key(app: &TestApp) -> MasterKey {
    let configured = &app.server.as_ref().unwrap().state.config.tactical.master_key;
    let text = match configured.is_empty() {
        true => std::fs::read_to_string(app.data_dir().join("keys").join("master.key")).unwrap(),
        false => configured.clone(),
    };
    MasterKey::from_bytes(&STANDARD.decode(text.trim()).unwrap()).unwrap()
}

fn key_aad(comm_id: &str) -> Vec<u8> {
    format!("optima/tactical/v1/key/tactical_comms/{comm_id}").into_bytes()
}

fn message_aad(comm_id: &str, classification: &str) -> Vec<u8> {
    format!("optima/tactical/v1/comm/{comm_id}/{classification}/message").into_bytes()
}

async fn audit(app: &TestApp, admin: &str, query: &str) -> Value {
    ok(app.get(&format!("/api/tactical/audit?limit=200{query}"), Some(admin)).await).await
}

fn entries(page: &Value) -> &Vec<Value> {
    page["entries"].as_array().unwrap()
}

// ---------------------------------------------------------------------------------------------
// 1. Gates

#[tokio::test]
async fn gates_refuse_free_unregistered_pending_and_denied_and_store_nothing() {
    let app = TestApp::spawn().await;
    let admin = admin(&app);
    member(&app, &admin, "target", DEPT, "top_secret").await;

    // Free tier: registration needs Unlimited.
    let free = app.token("free1", Role::User);
    let body = refused(app.post_json("/api/tactical/register", Some(&free), &registration("free1", DEPT)).await, 403, "upgrade_required").await;
    assert_eq!(body["error"]["details"]["upgradeTo"], "unlimited", "{body}");
    assert_eq!(app.count("SELECT count(*) FROM tactical_users WHERE user_id = 'free1'", &[]), 0);
    refused(app.post_json(SEND, Some(&free), &json!({"fromUserId": "free1", "content": "hi"})).await, 403, "upgrade_required").await;

    // Unlimited but never registered.
    set_tier(&app, "nobody", "unlimited").await;
    let nobody = app.token("nobody", Role::User);
    let secure = |from: &str| json!({"fromUserId": from, "toUserId": "target", "content": "let me in"});
    refused(app.post_json(SECURE, Some(&nobody), &secure("nobody")).await, 403, "not_registered").await;
    refused(app.get("/api/tactical/comm/nobody", Some(&nobody)).await, 403, "not_registered").await;

    // Registered, waiting for verification.
    let pending = registered(&app, "pending1", DEPT).await;
    refused(app.post_json(SECURE, Some(&pending), &secure("pending1")).await, 403, "not_verified").await;
    refused(app.post_json(SEND, Some(&pending), &json!({"fromUserId": "pending1", "content": "broadcast"})).await, 403, "not_verified").await;
    refused(app.get("/api/tactical/comm/pending1", Some(&pending)).await, 403, "not_verified").await;

    // Denied.
    let denied = registered(&app, "denied1", DEPT).await;
    let p = ok(verify(&app, &admin, "denied1", json!({"status": "denied"})).await).await;
    assert_eq!(p["verifiedStatus"], "denied");
    refused(app.post_json(SECURE, Some(&denied), &secure("denied1")).await, 403, "registration_denied").await;
    refused(app.get("/api/tactical/comm/denied1", Some(&denied)).await, 403, "registration_denied").await;

    // Not even an admin lists comms for someone else.
    refused(app.get("/api/tactical/comm/target", Some(&admin)).await, 403, "not_yourself").await;

    // Nothing was stored: no comm rows, no comm blobs.
    assert_eq!(app.count("SELECT count(*) FROM tactical_comms", &[]), 0);
    assert_eq!(comm_blobs(&app), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// 2. Verification

#[tokio::test]
async fn verification_rules_for_admins_verifiers_and_members() {
    let app = TestApp::spawn().await;
    let admin = admin(&app);
    let v = member(&app, &admin, "verifier1", DEPT, "secret").await;
    let p = ok(verify(&app, &admin, "verifier1", json!({"status": "verified", "clearanceLevel": "secret", "verifier": true})).await).await;
    assert_eq!(p["verifier"], true, "{p}");
    let plain = member(&app, &admin, "plain1", DEPT, "top_secret").await;
    registered(&app, "rookie", DEPT).await;
    registered(&app, "sailor", OTHER_DEPT).await;
    let granted = |level: &str| json!({"status": "verified", "clearanceLevel": level});

    // Nobody verifies themselves, not even an admin.
    refused(verify(&app, &v, "verifier1", granted("secret")).await, 403, "self_verification").await;
    refused(verify(&app, &admin, "hq-admin", granted("top_secret")).await, 403, "self_verification").await;

    // A verifier: not above their own clearance, not another department, not the verifier role.
    refused(verify(&app, &v, "rookie", granted("top_secret")).await, 403, "clearance_above_own").await;
    refused(verify(&app, &v, "sailor", granted("public")).await, 403, "other_department").await;
    let body = json!({"status": "verified", "clearanceLevel": "public", "verifier": true});
    refused(verify(&app, &v, "rookie", body).await, 403, "admin_only").await;
    // ... nor re-grade a member who already holds more than they do.
    refused(verify(&app, &v, "plain1", granted("public")).await, 403, "clearance_above_own").await;

    // A verified member without the role.
    refused(verify(&app, &plain, "rookie", granted("public")).await, 403, "not_a_verifier").await;

    // Bad bodies.
    for status in ["pending", "approved"] {
        let body = refused(verify(&app, &admin, "rookie", json!({"status": status, "clearanceLevel": "public"})).await, 400, "invalid_field").await;
        assert_eq!(body["error"]["details"]["field"], "status", "{body}");
    }
    let body = refused(verify(&app, &admin, "rookie", json!({"status": "verified"})).await, 400, "invalid_field").await;
    assert_eq!(body["error"]["details"]["field"], "clearanceLevel", "{body}");

    // None of that changed the registration.
    let rookie = ok(app.get("/api/tactical/profile/rookie", Some(&admin)).await).await;
    assert_eq!(rookie["verifiedStatus"], "pending", "{rookie}");
    assert_eq!(rookie["clearanceLevel"], "public", "{rookie}");
    assert_eq!(rookie["verifier"], false, "{rookie}");

    // Within the rules the verifier succeeds.
    let p = ok(verify(&app, &v, "rookie", granted("secret")).await).await;
    assert_eq!(p["verifiedStatus"], "verified", "{p}");
    assert_eq!(p["clearanceLevel"], "secret", "{p}");
    assert_eq!(p["verifiedBy"], "verifier1", "{p}");
    assert_eq!(p["verifier"], false, "{p}");
}

// ---------------------------------------------------------------------------------------------
// 3. The visibility matrix

/// A reader of the matrix and where they stand.
struct Reader {
    user: String,
    token: String,
    dept: &'static str,
    in_team: bool,
    clearance: usize,
}

/// A comm the matrix sent, and who it was for.
struct Sent {
    id: String,
    from: String,
    dept: &'static str,
    audience: &'static str,
    recipients: Vec<String>,
    classification: usize,
    content: String,
}

/// The rule under test: related to the comm (its sender, a listed recipient, a member of its
/// team, a member of its department for a broadcast) and cleared for its classification.
fn may_see(r: &Reader, c: &Sent) -> bool {
    let related = r.user == c.from
        || match c.audience {
            "direct" => c.recipients.contains(&r.user),
            "team" => r.in_team,
            "department" => r.dept == c.dept,
            other => panic!("audience {other}"),
        };
    related && r.clearance >= c.classification
}

#[tokio::test]
async fn visibility_matrix_of_clearance_classification_and_audience() {
    let app = TestApp::spawn().await;
    let admin = admin(&app);
    let sender_token = member(&app, &admin, "sender", DEPT, "top_secret").await;
    let team_id = team(&app, &sender_token, "Alpha").await;
    let mut readers =
        vec![Reader { user: "sender".into(), token: sender_token.clone(), dept: DEPT, in_team: true, clearance: 3 }];
    // Per clearance: one in the team, one elsewhere in the department, one in another department.
    for (level, name) in CLEARANCES.iter().enumerate() {
        for (prefix, dept, in_team) in [("team", DEPT, true), ("dept", DEPT, false), ("harbor", OTHER_DEPT, false)] {
            let user = format!("{prefix}-{name}");
            let token = member(&app, &admin, &user, dept, name).await;
            if in_team {
                add_to_team(&app, &sender_token, &team_id, &user).await;
            }
            readers.push(Reader { user, token, dept, in_team, clearance: level });
        }
    }
    let t = ok(app.get(&format!("/api/tactical/teams/{team_id}"), Some(&sender_token)).await).await;
    assert_eq!(t["members"].as_array().unwrap().len(), 5, "{t}");

    let mut sent: Vec<Sent> = Vec::new();
    for (level, class) in CLEARANCES.iter().enumerate() {
        // Direct to the team member holding exactly this clearance; direct to every cleared
        // department member; the team; the whole department.
        let cleared_elsewhere: Vec<String> = CLEARANCES[level..].iter().map(|c| format!("dept-{c}")).collect();
        let audiences: [(&str, Value, Vec<String>); 4] = [
            ("direct", json!({"toUserId": format!("team-{class}")}), vec![format!("team-{class}")]),
            ("direct", json!({"toUserIds": cleared_elsewhere}), cleared_elsewhere.clone()),
            ("team", json!({"teamId": team_id}), vec![]),
            ("department", json!({}), vec![]),
        ];
        for (n, (audience, to, recipients)) in audiences.into_iter().enumerate() {
            let content = format!("{class} {audience} #{n}: rendezvous at {}", uuid::Uuid::new_v4());
            let mut body = json!({"fromUserId": "sender", "classification": class, "content": content});
            body.as_object_mut().unwrap().extend(to.as_object().unwrap().clone());
            let c = send(&app, &sender_token, SEND, body).await;
            assert_eq!(c["audience"], audience, "{c}");
            assert_eq!(c["classification"], *class, "{c}");
            assert_eq!(c["encrypted"], level > 0, "sealed when classified: {c}");
            let id = c["commId"].as_str().unwrap().to_owned();
            sent.push(Sent { id, from: "sender".into(), dept: DEPT, audience, recipients, classification: level, content });
        }
        // Direct traffic to a reader below the classification is refused at send time, also
        // when only one of several recipients is under-cleared.
        for under in &CLEARANCES[..level] {
            let alone = json!({"fromUserId": "sender", "toUserId": format!("team-{under}"), "classification": class, "content": "no"});
            let body = refused(app.post_json(SEND, Some(&sender_token), &alone).await, 422, "recipient_not_cleared").await;
            assert_eq!(body["error"]["details"]["recipients"], json!([format!("team-{under}")]), "{body}");
            let mixed = json!({"fromUserId": "sender", "toUserIds": [format!("team-{class}"), format!("team-{under}")],
                               "classification": class, "content": "no"});
            let body = refused(app.post_json(SEND, Some(&sender_token), &mixed).await, 422, "recipient_not_cleared").await;
            assert_eq!(body["error"]["details"]["recipients"], json!([format!("team-{under}")]), "{body}");
        }
    }
    // Nobody sends above their own clearance, nor to a team they are not in.
    let token_of = |user: &str| readers.iter().find(|r| r.user == user).unwrap().token.clone();
    let above = json!({"fromUserId": "team-secret", "classification": "top_secret", "content": "no"});
    refused(app.post_json(SEND, Some(&token_of("team-secret")), &above).await, 403, "clearance_exceeded").await;
    let outsider = json!({"fromUserId": "dept-top_secret", "teamId": team_id, "content": "no"});
    refused(app.post_json(SEND, Some(&token_of("dept-top_secret")), &outsider).await, 403, "not_team_member").await;

    // A broadcast of the other department, for symmetry.
    let harbor_chief = readers.iter().find(|r| r.user == "harbor-top_secret").unwrap();
    let content = "harbor-wide: all quiet".to_owned();
    let id = send_id(&app, &harbor_chief.token, SEND, json!({"fromUserId": "harbor-top_secret", "content": content})).await;
    sent.push(Sent { id, from: "harbor-top_secret".into(), dept: OTHER_DEPT, audience: "department", recipients: vec![], classification: 0, content });

    // The refusals stored nothing: one row per comm sent, blobs only for the sealed ones.
    assert_eq!(app.count("SELECT count(*) FROM tactical_comms", &[]), sent.len() as i64);
    let sealed: BTreeSet<String> = sent.iter().filter(|c| c.classification > 0).map(|c| c.id.clone()).collect();
    let folders: BTreeSet<String> = comm_blobs(&app).iter().map(|f| f.split('/').nth(3).unwrap().to_owned()).collect();
    assert_eq!(folders, sealed);

    for reader in &readers {
        let expected: BTreeSet<String> = sent.iter().filter(|c| may_see(reader, c)).map(|c| c.id.clone()).collect();
        let page = list(&app, &reader.token, &reader.user).await;
        assert_eq!(ids(&page), expected, "what {} (clearance {}) sees", reader.user, CLEARANCES[reader.clearance]);
        assert_eq!(page["total"], expected.len(), "total of {}", reader.user);
        for c in sent.iter().filter(|c| expected.contains(&c.id)) {
            let got = item(&page, &c.id);
            assert_eq!(got["content"], c.content.as_str(), "{} reads {}", reader.user, c.id);
            assert!(got["integrityError"].is_null(), "{got}");
        }
        // A comm out of reach is not even there for the single-comm actions.
        for c in sent.iter().filter(|c| !expected.contains(&c.id)) {
            let resp = app.post_json(&format!("/api/tactical/comm/{}/read", c.id), Some(&reader.token), &json!({})).await;
            refused(resp, 404, "comm_not_found").await;
        }
    }
    // Spot checks of the table the rule produces.
    let sees = |user: &str| readers.iter().find(|r| r.user == user).map(|r| sent.iter().filter(|c| may_see(r, c)).count()).unwrap();
    assert_eq!(sees("sender"), 16);
    assert_eq!(sees("team-public"), 3, "its direct comm, the public team comm and the public broadcast");
    assert_eq!(sees("dept-top_secret"), 8, "four direct comms and four broadcasts");
    assert_eq!(sees("harbor-top_secret"), 1);
}

// ---------------------------------------------------------------------------------------------
// 4. Encryption at rest

#[tokio::test]
async fn secure_content_is_never_stored_in_plaintext() {
    let app = TestApp::spawn().await;
    let admin = admin(&app);
    let s = member(&app, &admin, "s1", DEPT, "secret").await;
    let r = member(&app, &admin, "r1", DEPT, "secret").await;

    let secret = unique("SECURE-MARKER");
    let plain = unique("PLAIN-MARKER");
    let sealed = send(&app, &s, SECURE, json!({"fromUserId": "s1", "toUserId": "r1", "content": secret, "classification": "confidential"})).await;
    assert_eq!(sealed["encrypted"], true, "{sealed}");
    assert_eq!(sealed["messageType"], "secure", "{sealed}");
    let sealed_id = sealed["commId"].as_str().unwrap();
    let open = send(&app, &s, SEND, json!({"fromUserId": "s1", "toUserId": "r1", "content": plain})).await;
    assert_eq!(open["encrypted"], false, "{open}");

    // Client-side ciphertext is kept opaque and still sealed at rest.
    let cipher = format!("v1.{}", STANDARD.encode(unique("CLIENT-CIPHERTEXT").as_bytes()));
    let client = send(&app, &s, SEND, json!({"fromUserId": "s1", "toUserId": "r1", "encryptedContent": cipher})).await;
    assert_eq!(client["encrypted"], true, "{client}");
    assert!(client["content"].is_null(), "{client}");
    assert_eq!(client["encryptedContent"], cipher.as_str());
    let client_id = client["commId"].as_str().unwrap();

    let dir = comm_dir(&app, sealed_id);
    assert!(dir.join("message.enc").is_file(), "sealed blob at departments/metro-pd/comms/{sealed_id}/message.enc");
    assert!(dir.join("metadata.json").is_file());
    assert!(comm_dir(&app, client_id).join("message.enc").is_file());

    // The grep works (the public comm's text is in the database) and finds no secure text.
    assert!(!stored_containing(&app, plain.as_bytes()).is_empty(), "the public comm is stored as text");
    assert_eq!(stored_containing(&app, secret.as_bytes()), Vec::<String>::new(), "secure content in plaintext");
    assert_eq!(stored_containing(&app, cipher.as_bytes()), Vec::<String>::new(), "client ciphertext stored as given");

    for (token, user) in [(&s, "s1"), (&r, "r1")] {
        let page = list(&app, token, user).await;
        assert_eq!(page["total"], 3);
        let got = item(&page, sealed_id);
        assert_eq!(got["content"], secret.as_str());
        assert_eq!(got["encrypted"], true);
        assert_eq!(got["classification"], "confidential");
        let got = item(&page, client_id);
        assert_eq!(got["encryptedContent"], cipher.as_str(), "{got}");
        assert!(got["content"].is_null(), "{got}");
        assert_eq!(item(&page, open["commId"].as_str().unwrap())["content"], plain.as_str());
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Tampering

#[tokio::test]
async fn tampered_swapped_or_reclassified_ciphertext_is_reported_per_item() {
    let app = TestApp::spawn().await;
    let admin = admin(&app);
    let s = member(&app, &admin, "s1", DEPT, "top_secret").await;
    let r = member(&app, &admin, "r1", DEPT, "top_secret").await;
    let mut sent = Vec::new();
    for i in 0..7 {
        let body = json!({"fromUserId": "s1", "toUserId": "r1", "content": format!("message {i}"), "classification": "secret"});
        sent.push(send_id(&app, &s, SECURE, body).await);
    }
    let (flipped, swap_a, swap_b, reclassified, intact) = (&sent[0], &sent[1], &sent[2], &sent[3], &sent[4]);
    let (key_a, key_b) = (&sent[5], &sent[6]);

    flip_byte(&comm_dir(&app, flipped).join("message.enc"), 20);
    let (a, b) = (comm_dir(&app, swap_a).join("message.enc"), comm_dir(&app, swap_b).join("message.enc"));
    let (bytes_a, bytes_b) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    std::fs::write(&a, bytes_b).unwrap();
    std::fs::write(&b, bytes_a).unwrap();
    // The associated data binds the classification: editing the column breaks the seal.
    let changed = app.execute("UPDATE tactical_comms SET classification = 'confidential' WHERE comm_id = ?1", &[&reclassified]).unwrap();
    assert_eq!(changed, 1);
    // A wrapped key is bound to its row: moving keys between rows breaks both.
    let wrapped = |id: &str| app.row("SELECT wrapped_key FROM tactical_comms WHERE comm_id = ?1", &[&id]).bytes(0).unwrap();
    let (wrapped_a, wrapped_b) = (wrapped(key_a), wrapped(key_b));
    let put = |id: &str, key: &[u8]| {
        app.execute(&format!("UPDATE tactical_comms SET wrapped_key = {} WHERE comm_id = ?1", app.blob(key)), &[&id]).unwrap()
    };
    put(key_a, &wrapped_b);
    put(key_b, &wrapped_a);

    for (token, user) in [(&s, "s1"), (&r, "r1")] {
        let page = list(&app, token, user).await;
        assert_eq!(page["total"], 7, "a broken item is still listed and counted");
        for id in [flipped, swap_a, swap_b, reclassified, key_a, key_b] {
            let got = item(&page, id);
            assert!(got["content"].is_null(), "no garbage for {id}: {got}");
            assert!(got["integrityError"].as_str().is_some_and(|e| !e.is_empty()), "integrity error for {id}: {got}");
        }
        let good = item(&page, intact);
        assert_eq!(good["content"], "message 4");
        assert!(good["integrityError"].is_null(), "{good}");
    }

    // An attachment whose blob was altered: 500 integrity_check_failed, not altered bytes.
    let info = created(attach(&app, &s, intact, "map.bin", payload(2000, 7)).await).await;
    let file_id = info["fileId"].as_str().unwrap();
    assert_eq!(ok_bytes(download(&app, &r, intact, file_id).await).await, payload(2000, 7));
    flip_byte(&comm_dir(&app, intact).join("attachments").join(format!("{file_id}.enc")), 100);
    refused(download(&app, &r, intact, file_id).await, 500, "integrity_check_failed").await;
    let page = audit(&app, &admin, "&action=comm.download&actor=r1").await;
    let outcomes: Vec<&str> = entries(&page).iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, vec!["error", "ok"], "the failed download is audited as an error");
}

async fn ok_bytes(resp: reqwest::Response) -> Vec<u8> {
    assert_eq!(resp.status(), 200);
    resp.bytes().await.unwrap().to_vec()
}

// ---------------------------------------------------------------------------------------------
// 6. Attachments

#[tokio::test]
async fn attachments_are_sealed_and_served_to_those_who_see_the_comm() {
    let app = TestApp::spawn().await;
    let admin = admin(&app);
    let s = member(&app, &admin, "s1", DEPT, "secret").await;
    let r = member(&app, &admin, "r1", DEPT, "secret").await;
    let x = member(&app, &admin, "x1", DEPT, "top_secret").await;
    let comm = send_id(&app, &s, SECURE, json!({"fromUserId": "s1", "toUserId": "r1", "content": "see the file", "classification": "secret"})).await;

    let bytes = payload(3000, 42);
    let info = created(attach(&app, &s, &comm, "orders.pdf", bytes.clone()).await).await;
    assert_eq!(info["fileName"], "orders.pdf", "{info}");
    assert_eq!(info["sizeBytes"], 3000, "{info}");
    let file_id = info["fileId"].as_str().unwrap().to_owned();
    let blob = comm_dir(&app, &comm).join("attachments").join(format!("{file_id}.enc"));
    assert!(blob.is_file());
    assert!(!contains(&std::fs::read(&blob).unwrap(), &bytes[..64]), "sealed, not stored as sent");
    assert!(stored_containing(&app, b"orders.pdf").is_empty(), "the file name is sealed too");

    // The recipient downloads it byte for byte, with its name.
    let resp = download(&app, &r, &comm, &file_id).await;
    assert_eq!(resp.status(), 200);
    let disposition = resp.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.contains("orders.pdf"), "{disposition}");
    assert_eq!(resp.bytes().await.unwrap().to_vec(), bytes);
    let listed = item(&list(&app, &r, "r1").await, &comm).clone();
    assert_eq!(listed["attachments"][0]["fileId"], file_id.as_str(), "{listed}");
    assert_eq!(listed["attachments"][0]["fileName"], "orders.pdf", "{listed}");

    // Someone the comm is not for: as if it did not exist.
    refused(download(&app, &x, &comm, &file_id).await, 404, "comm_not_found").await;
    refused(attach(&app, &x, &comm, "x.bin", vec![1; 10]).await, 404, "comm_not_found").await;
    // The recipient may read but not attach.
    refused(attach(&app, &r, &comm, "reply.bin", vec![1; 10]).await, 403, "not_sender").await;
    refused(download(&app, &r, &comm, "no-such-file").await, 404, "attachment_not_found").await;

    // A public comm gets a data key with its first attachment.
    let open = send_id(&app, &s, SEND, json!({"fromUserId": "s1", "toUserId": "r1", "content": "public, with a file"})).await;
    let info = created(attach(&app, &s, &open, "notes.txt", b"plain notes".to_vec()).await).await;
    let resp = download(&app, &r, &open, info["fileId"].as_str().unwrap()).await;
    assert_eq!(ok_bytes(resp).await, b"plain notes");
    let wrapped = app.row("SELECT wrapped_key FROM tactical_comms WHERE comm_id = ?1", &[&open]).bytes(0);
    assert!(wrapped.is_some());
    assert_eq!(app.count("SELECT count(*) FROM tactical_attachments", &[]), 2);
}

#[tokio::test]
async fn oversize_attachment_is_refused_and_leaves_no_blob() {
    let app = TestApp::spawn_with(|c| c.tactical.max_attachment_bytes = 1024).await;
    let admin = admin(&app);
    let s = member(&app, &admin, "s1", DEPT, "secret").await;
    member(&app, &admin, "r1", DEPT, "secret").await;
    let comm = send_id(&app, &s, SECURE, json!({"fromUserId": "s1", "toUserId": "r1", "content": "big file follows"})).await;
    let before = comm_blobs(&app);

    client_error(attach(&app, &s, &comm, "big.bin", payload(2048, 1)).await, 413).await;
    assert_eq!(comm_blobs(&app), before, "no attachment blob left behind");
    assert_eq!(app.count("SELECT count(*) FROM tactical_attachments", &[]), 0);

    // At the limit it is accepted.
    created(attach(&app, &s, &comm, "fits.bin", payload(1024, 1)).await).await;
    assert_eq!(app.count("SELECT count(*) FROM tactical_attachments", &[]), 1);
}

// ---------------------------------------------------------------------------------------------
// 7. Secure deletion

#[tokio::test]
async fn secure_deletion_destroys_the_only_key() {
    let app = TestApp::spawn().await;
    let admin = admin(&app);
    let s = member(&app, &admin, "s1", DEPT, "secret").await;
    let r = member(&app, &admin, "r1", DEPT, "secret").await;
    let x = member(&app, &admin, "x1", DEPT, "secret").await;
    let marker = unique("BURN-AFTER-READING");
    let comm = send_id(&app, &s, SECURE, json!({"fromUserId": "s1", "toUserId": "r1", "content": marker, "classification": "secret"})).await;
    let other = send_id(&app, &s, SECURE, json!({"fromUserId": "s1", "toUserId": "r1", "content": "keep this one"})).await;
    let attachment = payload(1500, 9);
    let info = created(attach(&app, &s, &comm, "plan.bin", attachment.clone()).await).await;
    let file_id = info["fileId"].as_str().unwrap().to_owned();

    // Before: the wrapped key, the blobs and the master key, copied aside.
    let row = app.row("SELECT wrapped_key, key_id FROM tactical_comms WHERE comm_id = ?1", &[&comm]);
    let (wrapped, key_id) = (row.bytes(0).unwrap(), row.text(1).unwrap());
    let dir = comm_dir(&app, &comm);
    let copies = tempfile::tempdir().unwrap();
    let message_copy = copies.path().join("message.enc");
    let attachment_copy = copies.path().join("attachment.enc");
    std::fs::copy(dir.join("message.enc"), &message_copy).unwrap();
    std::fs::copy(dir.join("attachments").join(format!("{file_id}.enc")), &attachment_copy).unwrap();
    let master = master_key(&app);
    assert_eq!(master.id(), key_id);
    assert!(!stored_containing(&app, &wrapped).is_empty(), "the search finds the wrapped key while it exists");

    // Positive control: with the wrapped key, the master key opens the copies.
    let dk = master.unwrap(&wrapped, &key_aad(&comm)).expect("the wrapped key unwraps");
    let sealed_message = std::fs::read(&message_copy).unwrap();
    assert_eq!(dk.open(&message_aad(&comm, "secret"), &sealed_message).unwrap(), marker.as_bytes());
    let attachment_aad = format!("optima/tactical/v1/comm/{comm}/secret/attachment/{file_id}").into_bytes();
    assert_eq!(dk.open(&attachment_aad, &std::fs::read(&attachment_copy).unwrap()).unwrap(), attachment);
    drop(dk);

    // Only the sender (or an admin) deletes, naming themselves; a stranger does not even learn
    // it exists.
    let path = |user: &str| format!("/api/tactical/comm/{user}/{comm}");
    refused(app.delete(&path("r1"), Some(&r)).await, 403, "not_sender").await;
    refused(app.delete(&path("x1"), Some(&x)).await, 404, "comm_not_found").await;
    refused(app.delete(&path("s1"), Some(&r)).await, 403, "not_yourself").await;
    let deletion = ok(app.delete(&path("s1"), Some(&s)).await).await;
    assert_eq!(deletion["commId"], comm.as_str());
    assert_eq!(deletion["deletedBy"], "s1");
    assert_eq!(deletion["blobsDestroyed"], 3, "message, metadata and attachment: {deletion}");

    // The blobs are gone; the row is a tombstone without its key.
    assert_eq!(files_under(&dir), Vec::<String>::new());
    let row = app.row("SELECT wrapped_key, key_id, deleted_by, deleted_at FROM tactical_comms WHERE comm_id = ?1", &[&comm]);
    let (key, key_id, deleted_by, deleted_at) = (row.bytes(0), row.text(1), row.text(2), row.text(3));
    assert_eq!((key, key_id), (None, None));
    assert_eq!(deleted_by.as_deref(), Some("s1"));
    assert!(deleted_at.is_some());
    assert_eq!(app.count(&format!("SELECT count(*) FROM tactical_attachments WHERE comm_id = '{comm}'"), &[]), 0);

    // It lists for nobody, and nothing acts on it any more.
    for (token, user) in [(&s, "s1"), (&r, "r1")] {
        let page = list(&app, token, user).await;
        assert_eq!(ids(&page), BTreeSet::from([other.clone()]), "{user}");
        assert_eq!(page["total"], 1);
    }
    refused(download(&app, &r, &comm, &file_id).await, 404, "comm_not_found").await;
    refused(app.delete(&path("s1"), Some(&s)).await, 404, "comm_not_found").await;
    // The deprecated spelling with the comm id alone reaches the same rule.
    refused(app.delete(&format!("/api/tactical/comm/{comm}"), Some(&s)).await, 404, "comm_not_found").await;

    // The wrapped key survives in no file of the data directory (database, WAL, shm, blobs), nor
    // in any row of a PostgreSQL database...
    assert_eq!(stored_containing(&app, &wrapped), Vec::<String>::new(), "the wrapped data key is destroyed everywhere");
    assert_eq!(stored_containing(&app, marker.as_bytes()), Vec::<String>::new());
    // ... so the copies, though the master key is at hand, no longer open: a key is a guess.
    assert!(DataKey::generate().open(&message_aad(&comm, "secret"), &sealed_message).is_err());
    assert!(DataKey::generate().open(&attachment_aad, &std::fs::read(&attachment_copy).unwrap()).is_err());
}

// ---------------------------------------------------------------------------------------------
// 8. Key rotation

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rotation {
    key_id: String,
    previous_key_ids: Vec<String>,
    rewrapped: usize,
}

/// `optima keys rotate` on the app's data directory, while the app keeps serving.
async fn rotate(app: &TestApp) -> Rotation {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_optima"))
        .args(["keys", "rotate", "--data-dir"])
        .arg(app.data_dir())
        .current_dir(app.dir.path())
        .env_remove("RUST_LOG")
        .envs(app.cli_env())
        .output()
        .await
        .expect("optima runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "rotate failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("a JSON report ({e}): {stdout}"))
}

fn key_ids(app: &TestApp) -> BTreeSet<String> {
    app.rows("SELECT key_id FROM tactical_comms WHERE wrapped_key IS NOT NULL UNION ALL SELECT key_id FROM tactical_documents", &[])
        .iter()
        .map(|row| row.text(0).unwrap())
        .collect()
}

#[tokio::test]
async fn key_rotation_rewraps_every_key_while_the_server_runs() {
    let app = TestApp::spawn().await;
    let admin = admin(&app);
    let s = member(&app, &admin, "s1", DEPT, "secret").await;

    // A member registered with a verification document (multipart).
    set_tier(&app, "r1", "unlimited").await;
    let r = app.token("r1", Role::User);
    let document = payload(4000, 3);
    let form = Form::new()
        .text("userId", "r1")
        .text("serviceBranch", "police")
        .text("department", DEPT)
        .text("rank", "Sergeant")
        .part("documents", Part::bytes(document.clone()).file_name("badge.png").mime_str("image/png").unwrap());
    let resp = app.client.post(app.url("/api/tactical/register")).bearer_auth(&r).multipart(form).send().await.unwrap();
    let profile = created(resp).await;
    let doc_id = profile["documents"][0]["documentId"].as_str().unwrap().to_owned();
    ok(verify(&app, &admin, "r1", json!({"status": "verified", "clearanceLevel": "secret"})).await).await;

    let mut sent = Vec::new();
    for i in 0..3 {
        let content = format!("sealed before rotation {i}");
        sent.push((send_id(&app, &s, SECURE, json!({"fromUserId": "s1", "toUserId": "r1", "content": content})).await, content));
    }
    let content = "public before rotation".to_owned();
    sent.push((send_id(&app, &s, SEND, json!({"fromUserId": "s1", "toUserId": "r1", "content": content})).await, content));

    let old_id = master_key(&app).id().to_owned();
    assert_eq!(key_ids(&app), BTreeSet::from([old_id.clone()]));
    let wrapped_keys = app.count("SELECT (SELECT count(*) FROM tactical_comms WHERE wrapped_key IS NOT NULL) + (SELECT count(*) FROM tactical_documents)", &[]);
    assert_eq!(wrapped_keys, 4, "three sealed comms and one document");
    if app.is_postgres() {
        return rotate_the_configured_key(app, &r, (&doc_id, &document), sent).await;
    }
    let key_file = app.data_dir().join("keys").join("master.key");
    let old_file = std::fs::read(&key_file).unwrap();

    let report = rotate(&app).await;
    assert_eq!(report.rewrapped as i64, wrapped_keys, "{report:?}");
    assert_eq!(report.previous_key_ids, vec![old_id.clone()]);
    assert_ne!(report.key_id, old_id);
    assert_ne!(std::fs::read(&key_file).unwrap(), old_file, "the key file changed");
    assert_eq!(master_key(&app).id(), report.key_id);
    assert!(!app.data_dir().join("keys").join("master.key.next").exists());
    assert_eq!(key_ids(&app), BTreeSet::from([report.key_id.clone()]));

    // The running server reads everything under the new key.
    let assert_readable = |page: Value, sent: Vec<(String, String)>| {
        assert_eq!(page["total"], sent.len(), "{page}");
        for (id, content) in &sent {
            let got = item(&page, id);
            assert_eq!(got["content"], content.as_str(), "{got}");
            assert!(got["integrityError"].is_null(), "{got}");
        }
    };
    assert_readable(list(&app, &r, "r1").await, sent.clone());
    let doc = ok_bytes(app.get(&format!("/api/tactical/members/r1/documents/{doc_id}"), Some(&r)).await).await;
    assert_eq!(doc, document);

    // A comm sent after the rotation is wrapped under the new key.
    let content = "sealed after rotation".to_owned();
    let after = send_id(&app, &s, SECURE, json!({"fromUserId": "s1", "toUserId": "r1", "content": content})).await;
    let key_id = app.row("SELECT key_id FROM tactical_comms WHERE comm_id = ?1", &[&after]).text(0).unwrap();
    assert_eq!(key_id, report.key_id);
    sent.push((after, content));
    assert_readable(list(&app, &r, "r1").await, sent.clone());

    // Rotating again while comms are being sent: whatever the interleaving, every key ends up
    // under the newest master key and every comm opens.
    let sending = async {
        let mut out = Vec::new();
        for i in 0..6 {
            let content = format!("sent during rotation {i}");
            out.push((send_id(&app, &s, SECURE, json!({"fromUserId": "s1", "toUserId": "r1", "content": content})).await, content));
        }
        out
    };
    let (second, during) = tokio::join!(rotate(&app), sending);
    assert_eq!(second.previous_key_ids, vec![report.key_id.clone()]);
    assert_eq!(key_ids(&app), BTreeSet::from([second.key_id.clone()]));
    sent.extend(during);
    assert_readable(list(&app, &r, "r1").await, sent.clone());
    let doc = ok_bytes(app.get(&format!("/api/tactical/members/r1/documents/{doc_id}"), Some(&r)).await).await;
    assert_eq!(doc, document);
}

/// A cluster's master key is configured on every instance, never generated into one machine's
/// folder: an operator configures the new key with the old one among the previous keys,
/// restarts, and runs `optima keys rotate` once.
async fn rotate_the_configured_key(mut app: TestApp, r: &str, (doc_id, document): (&str, &[u8]), sent: Vec<(String, String)>) {
    let (old, old_id) = (app.server.as_ref().unwrap().state.config.tactical.master_key.clone(), master_key(&app).id().to_owned());
    let new = STANDARD.encode([7u8; 32]);
    app.restart_with(|c| {
        c.tactical.master_key = new.clone();
        c.tactical.previous_master_keys = vec![old.clone()];
    })
    .await;
    let new_id = master_key(&app).id().to_owned();
    assert_ne!(new_id, old_id);
    let readable = |page: Value| {
        assert_eq!(page["total"], sent.len(), "{page}");
        for (id, content) in &sent {
            let got = item(&page, id);
            assert_eq!(got["content"], content.as_str(), "{got}");
            assert!(got["integrityError"].is_null(), "{got}");
        }
    };
    // Before the rotation the old key still opens everything, as one of the previous keys.
    readable(list(&app, r, "r1").await);

    let report = rotate(&app).await;
    assert_eq!((report.key_id.as_str(), report.rewrapped), (new_id.as_str(), 4), "{report:?}");
    assert_eq!(report.previous_key_ids, vec![old_id]);
    assert_eq!(key_ids(&app), BTreeSet::from([new_id.clone()]));
    assert!(!app.data_dir().join("keys").join("master.key").exists(), "no key was generated into the folder");

    // Once nothing is wrapped under the old key, it can leave the configuration.
    app.restart_with(|c| c.tactical.previous_master_keys.clear()).await;
    readable(list(&app, r, "r1").await);
    let doc = ok_bytes(app.get(&format!("/api/tactical/members/r1/documents/{doc_id}"), Some(r)).await).await;
    assert_eq!(doc, document);
    // Rotating again to the same configured key has nothing left to do.
    assert_eq!(rotate(&app).await.rewrapped, 0);
}

// ---------------------------------------------------------------------------------------------
// 9. Audit

/// The newest entry matching `query`.
async fn last_entry(app: &TestApp, admin: &str, query: &str) -> Value {
    let page = audit(app, admin, query).await;
    entries(&page).first().unwrap_or_else(|| panic!("an audit entry for {query}")).clone()
}

#[tokio::test]
async fn audit_records_every_action_and_every_refusal() {
    let app = TestApp::spawn().await;
    let admin = admin(&app);
    let s = member(&app, &admin, "s1", DEPT, "secret").await;
    let r = member(&app, &admin, "r1", DEPT, "secret").await;
    let comm = send_id(&app, &s, SECURE, json!({"fromUserId": "s1", "toUserId": "r1", "content": "audited"})).await;
    list(&app, &r, "r1").await;
    ok(app.delete(&format!("/api/tactical/comm/s1/{comm}"), Some(&s)).await).await;

    for (action, actor, target) in [
        ("member.register", "s1", "s1"),
        ("member.verify", "hq-admin", "r1"),
        ("comm.send_secure", "s1", comm.as_str()),
        ("comm.list", "r1", "r1"),
        ("comm.delete", "s1", comm.as_str()),
    ] {
        let e = last_entry(&app, &admin, &format!("&action={action}&actor={actor}")).await;
        assert_eq!(e["outcome"], "ok", "{e}");
        assert_eq!(e["target"], target, "{e}");
    }
    // The entry names the secure send's shape, never its content.
    let e = last_entry(&app, &admin, "&action=comm.send_secure").await;
    assert!(e["detail"].as_str().unwrap().contains("encrypted=true"), "{e}");
    assert!(!e.to_string().contains("audited"), "{e}");

    // The content limit counts characters, not bytes: 5000 two-byte characters are fine.
    send_id(&app, &s, SECURE, json!({"fromUserId": "s1", "toUserId": "r1", "content": "é".repeat(5000)})).await;

    // Refusals, recorded with who tried and why; none stored a comm.
    let rows = app.count("SELECT count(*) FROM tactical_comms", &[]);
    let blobs = comm_blobs(&app);
    let as_other = json!({"fromUserId": "r1", "toUserId": "s1", "content": "it was r1"});
    refused(app.post_json(SECURE, Some(&s), &as_other).await, 403, "not_yourself").await;
    let e = last_entry(&app, &admin, "&actor=s1&outcome=denied").await;
    assert_eq!(e["action"], "comm.send_secure", "{e}");
    assert!(e["detail"].as_str().unwrap().contains("403 not_yourself"), "{e}");

    let telepathy = json!({"fromUserId": "s1", "toUserId": "r1", "content": "hi", "messageType": "telepathy"});
    refused(app.post_json(SEND, Some(&s), &telepathy).await, 400, "invalid_field").await;
    let e = last_entry(&app, &admin, "&actor=s1&outcome=rejected").await;
    assert_eq!(e["action"], "comm.send", "{e}");
    assert!(e["detail"].as_str().unwrap().starts_with("400"), "{e}");

    let long = json!({"fromUserId": "s1", "toUserId": "r1", "content": "x".repeat(5001)});
    client_error(app.post_json(SECURE, Some(&s), &long).await, 413).await;
    let e = last_entry(&app, &admin, "&actor=s1&outcome=rejected").await;
    assert_eq!(e["action"], "comm.send_secure", "{e}");
    assert!(e["detail"].as_str().unwrap().starts_with("413"), "{e}");

    // Without a valid token there is no caller to record: counted, not chained.
    let chained = app.count("SELECT count(*) FROM audit_log", &[]);
    client_error(app.post_json(SEND, None, &json!({"fromUserId": "s1", "content": "who am I"})).await, 401).await;
    assert_eq!(app.count("SELECT count(*) FROM audit_log", &[]), chained);

    assert_eq!(app.count("SELECT count(*) FROM tactical_comms", &[]), rows);
    assert_eq!(comm_blobs(&app), blobs);

    // The log is for admins; a member asking is refused (and that is recorded too).
    refused(app.get("/api/tactical/audit", Some(&s)).await, 403, "admin_only").await;
    refused(app.get("/api/tactical/audit/verify", Some(&s)).await, 403, "admin_only").await;
    let e = last_entry(&app, &admin, "&actor=s1&outcome=denied").await;
    assert_eq!(e["action"], "audit.verify", "{e}");
}

#[tokio::test]
async fn refusals_anyone_can_send_are_counted_and_targets_are_bounded() {
    let app = TestApp::spawn().await;
    let admin = admin(&app);
    let long_id = "A".repeat(60_000);
    let before = app.count("SELECT count(*) FROM audit_log", &[]);
    for token in [None, Some("not-a-token"), Some(&app.token("ghost", Role::User)[..40])] {
        let mut req = app.client.get(app.url(&format!("/api/tactical/comm/{long_id}")));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        assert_eq!(req.send().await.unwrap().status(), 401);
        let trpc = app.client.get(app.url("/api/trpc/r3al.tactical.getComms?input=%7B%22json%22%3A%7B%7D%7D")).send().await.unwrap();
        assert_eq!(trpc.status(), 401);
    }
    assert_eq!(app.count("SELECT count(*) FROM audit_log", &[]), before, "nothing was chained");
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("optima_tactical_unauthenticated_refused_total{status=\"401\"}"), "counted instead");

    // A caller who is known is recorded, with the route and a bounded id, not the raw path.
    let stranger = app.token("stranger", Role::User);
    let resp = app.get(&format!("/api/tactical/comm/{long_id}"), Some(&stranger)).await;
    assert!(resp.status().is_client_error());
    let e = last_entry(&app, &admin, "&actor=stranger").await;
    let target = e["target"].as_str().unwrap();
    assert!(target.starts_with("AAAA") && target.chars().count() <= 201, "{} characters", target.chars().count());
}

#[tokio::test]
async fn audit_chain_is_append_only_and_detects_edits() {
    let app = TestApp::spawn().await;
    let admin = admin(&app);
    let s = member(&app, &admin, "s1", DEPT, "secret").await;
    member(&app, &admin, "r1", DEPT, "secret").await;
    for i in 0..3 {
        send_id(&app, &s, SECURE, json!({"fromUserId": "s1", "toUserId": "r1", "content": format!("entry {i}")})).await;
    }
    refused(app.post_json(SEND, Some(&s), &json!({"fromUserId": "r1", "content": "spoof"})).await, 403, "not_yourself").await;

    // Two registrations, two verifications, three sends, one refusal.
    let total = audit(&app, &admin, "").await["total"].as_u64().unwrap();
    assert_eq!(total, 8);
    let check = ok(app.get("/api/tactical/audit/verify", Some(&admin)).await).await;
    assert_eq!(check, json!({"intact": true, "entries": total, "firstBrokenAt": null}));

    // Entries link to their predecessor.
    let page = audit(&app, &admin, "").await;
    let list = entries(&page);
    for pair in list.windows(2) {
        assert_eq!(pair[0]["prevHash"], pair[1]["entryHash"], "{} follows {}", pair[0]["seq"], pair[1]["seq"]);
    }

    // The database refuses edits...
    let seq = app.count("SELECT seq FROM audit_log WHERE action = 'comm.send_secure' ORDER BY seq LIMIT 1", &[]);
    let err = app.execute("UPDATE audit_log SET outcome = 'denied' WHERE seq = ?1", &[&seq]).unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    let err = app.execute("DELETE FROM audit_log WHERE seq = ?1", &[&seq]).unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    assert_eq!(ok(app.get("/api/tactical/audit/verify", Some(&admin)).await).await["intact"], true);

    // ... and the chain catches whoever removes the trigger first.
    let drop_trigger = if app.is_postgres() { "DROP TRIGGER audit_log_no_update ON audit_log" } else { "DROP TRIGGER audit_log_no_update" };
    app.execute(drop_trigger, &[]).unwrap();
    assert_eq!(app.execute("UPDATE audit_log SET outcome = 'denied' WHERE seq = ?1", &[&seq]).unwrap(), 1);
    let check = ok(app.get("/api/tactical/audit/verify", Some(&admin)).await).await;
    assert_eq!(check["intact"], false, "{check}");
    assert_eq!(check["firstBrokenAt"], seq, "{check}");
    assert_eq!(check["entries"], total, "{check}");
}

// ---------------------------------------------------------------------------------------------
// 10. Incidents, dashboard, analyses

async fn report(app: &TestApp, token: &str, title: &str, severity: &str) -> Value {
    let body = json!({"title": title, "description": format!("{title}: details"), "severity": severity, "location": "5th & Main"});
    created(app.post_json("/api/tactical/incident/report", Some(token), &body).await).await
}

async fn set_incident(app: &TestApp, token: &str, id: &str, status: &str) -> reqwest::Response {
    app.put_json(&format!("/api/tactical/incident/{id}/status"), Some(token), &json!({"status": status})).await
}

fn incident_ids(page: &Value) -> BTreeSet<String> {
    page["incidents"].as_array().unwrap().iter().map(|i| i["incidentId"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn incidents_report_update_filter_and_stay_in_their_department() {
    let app = TestApp::spawn().await;
    let admin = admin(&app);
    let a = member(&app, &admin, "a1", DEPT, "secret").await;
    let b = member(&app, &admin, "b1", DEPT, "public").await;
    let h = member(&app, &admin, "h1", OTHER_DEPT, "top_secret").await;

    let fire = report(&app, &a, "Warehouse fire", "critical").await;
    assert_eq!(fire["status"], "active");
    assert_eq!(fire["severity"], "critical");
    assert_eq!(fire["escalations"], 0);
    assert_eq!(fire["department"], DEPT);
    assert_eq!(fire["reportedBy"], "a1");
    assert!(fire["resolvedAt"].is_null());
    let fire_id = fire["incidentId"].as_str().unwrap().to_owned();
    let demo = report(&app, &b, "Demonstration", "high").await;
    let demo_id = demo["incidentId"].as_str().unwrap().to_owned();
    let body = json!({"title": "Meteor", "description": "big", "severity": "apocalyptic"});
    let err = refused(app.post_json("/api/tactical/incident/report", Some(&a), &body).await, 400, "invalid_field").await;
    assert_eq!(err["error"]["details"]["field"], "severity", "{err}");

    // Escalations count; resolving stamps the time.
    assert_eq!(ok(set_incident(&app, &b, &fire_id, "escalated").await).await["escalations"], 1);
    let twice = ok(set_incident(&app, &a, &fire_id, "escalated").await).await;
    assert_eq!(twice["escalations"], 2);
    assert_eq!(twice["status"], "escalated");
    let resolved = ok(set_incident(&app, &a, &fire_id, "resolved").await).await;
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["escalations"], 2);
    assert!(resolved["resolvedAt"].as_str().is_some_and(|t| !t.is_empty()), "{resolved}");
    client_error(set_incident(&app, &a, &fire_id, "forgotten").await, 400).await;

    // Filters.
    let all = ok(app.get("/api/tactical/incidents", Some(&b)).await).await;
    assert_eq!(all["total"], 2);
    assert_eq!(incident_ids(&all), BTreeSet::from([fire_id.clone(), demo_id.clone()]));
    let active = ok(app.get("/api/tactical/incidents?status=active", Some(&a)).await).await;
    assert_eq!(incident_ids(&active), BTreeSet::from([demo_id.clone()]));
    assert_eq!(active["total"], 1);
    let critical = ok(app.get("/api/tactical/incidents?severity=critical", Some(&a)).await).await;
    assert_eq!(incident_ids(&critical), BTreeSet::from([fire_id.clone()]));
    let resolved = ok(app.get("/api/tactical/incidents?status=resolved&severity=critical", Some(&a)).await).await;
    assert_eq!(resolved["total"], 1);
    let none = ok(app.get("/api/tactical/incidents?severity=low", Some(&a)).await).await;
    assert_eq!(none["total"], 0);
    client_error(app.get("/api/tactical/incidents?severity=apocalyptic", Some(&a)).await, 400).await;

    // Another department neither sees nor touches them.
    let theirs = ok(app.get("/api/tactical/incidents", Some(&h)).await).await;
    assert_eq!(theirs["total"], 0);
    refused(set_incident(&app, &h, &demo_id, "resolved").await, 404, "incident_not_found").await;
    let unchanged = ok(app.get("/api/tactical/incidents?status=active", Some(&a)).await).await;
    assert_eq!(incident_ids(&unchanged), BTreeSet::from([demo_id]));
}

#[tokio::test]
async fn dashboard_reflects_incidents_team_and_comms() {
    let app = TestApp::spawn().await;
    let admin = admin(&app);
    let a = member(&app, &admin, "a1", DEPT, "secret").await;
    let b = member(&app, &admin, "b1", DEPT, "secret").await;
    let team_id = team(&app, &a, "Bravo").await;
    add_to_team(&app, &a, &team_id, "b1").await;
    let p = ok(app.put_json("/api/tactical/status/a1", Some(&a), &json!({"operationalStatus": "on_duty"})).await).await;
    assert_eq!(p["operationalStatus"], "on_duty");
    client_error(app.put_json("/api/tactical/status/a1", Some(&a), &json!({"operationalStatus": "napping"})).await, 400).await;
    refused(app.put_json("/api/tactical/status/a1", Some(&b), &json!({"operationalStatus": "off_duty"})).await, 403, "not_yourself").await;

    let fire = report(&app, &a, "Warehouse fire", "critical").await["incidentId"].as_str().unwrap().to_owned();
    let theft = report(&app, &a, "Bike theft", "low").await["incidentId"].as_str().unwrap().to_owned();
    let closed = report(&app, &a, "Noise", "medium").await["incidentId"].as_str().unwrap().to_owned();
    ok(set_incident(&app, &a, &closed, "resolved").await).await;
    ok(set_incident(&app, &a, &theft, "escalated").await).await;
    let broadcast = send_id(&app, &a, SEND, json!({"fromUserId": "a1", "content": "roll call"})).await;
    send_id(&app, &a, SECURE, json!({"fromUserId": "a1", "teamId": team_id, "content": "team only", "classification": "secret"})).await;

    let d = ok(app.get("/api/tactical/dashboard/b1", Some(&b)).await).await;
    assert_eq!(d["user"]["userId"], "b1");
    let active: Vec<&str> = d["activeIncidents"].as_array().unwrap().iter().map(|i| i["incidentId"].as_str().unwrap()).collect();
    assert_eq!(active, vec![fire.as_str(), theft.as_str()], "open incidents, most serious first: {d}");
    assert_eq!(d["team"]["teamId"], team_id.as_str(), "{d}");
    assert_eq!(d["team"]["teamName"], "Bravo");
    assert_eq!(d["team"]["activeMemberCount"], 1, "a1 is on duty, b1 off duty: {d}");
    assert_eq!(d["recentComms"], 2, "{d}");
    assert_eq!(d["unreadComms"], 2, "{d}");
    assert!(d["aiInsights"].as_array().is_some_and(|i| !i.is_empty() && i.iter().all(|s| s.as_str().is_some_and(|s| !s.is_empty()))), "{d}");

    ok(app.post_json(&format!("/api/tactical/comm/{broadcast}/read"), Some(&b), &json!({})).await).await;
    ok(app.put_json("/api/tactical/status/b1", Some(&b), &json!({"operationalStatus": "deployed"})).await).await;
    let d = ok(app.get("/api/tactical/dashboard/b1", Some(&b)).await).await;
    assert_eq!(d["unreadComms"], 1, "{d}");
    assert_eq!(d["team"]["activeMemberCount"], 2, "{d}");

    refused(app.get("/api/tactical/dashboard/b1", Some(&a)).await, 403, "not_yourself").await;
}

#[tokio::test]
async fn situation_report_and_stress_check_ins() {
    let app = TestApp::spawn().await;
    let admin = admin(&app);
    let u = member(&app, &admin, "u1", DEPT, "confidential").await;
    let calm = ok(app.get("/api/tactical/analysis/sr?userId=u1", Some(&u)).await).await;
    assert_eq!(calm["threatScore"], 0.0, "{calm}");
    assert_eq!(calm["overallThreatLevel"], "low", "{calm}");

    let incident = report(&app, &u, "Armed standoff", "critical").await["incidentId"].as_str().unwrap().to_owned();
    let sr = ok(app.get("/api/tactical/analysis/sr?userId=u1&analysisType=situational", Some(&u)).await).await;
    let score = sr["threatScore"].as_f64().unwrap();
    assert!((score - 8.0).abs() <= 0.05, "one critical incident just reported scores 8: {sr}");
    assert_eq!(sr["overallThreatLevel"], "high", "{sr}");
    assert_eq!(sr["analysisType"], "situational");
    assert_eq!(sr["activeSituations"], 1, "a count, as the app's screen shows it: {sr}");
    assert_eq!(sr["situations"][0]["incidentId"], incident.as_str(), "{sr}");
    assert_eq!(sr["trends"]["incidentsLast24h"], 1, "{sr}");

    // The app's Tactical HQ screen asks for the same report as a tRPC query.
    let (status, envelope) = app.trpc_query("r3al.tactical.getOptimaSRAnalysis", Some(&u), &json!({"userId": "u1", "analysisType": "situational"})).await;
    assert_eq!(status, 200, "{envelope}");
    let analysis = &envelope["result"]["data"]["json"]["analysis"];
    assert_eq!(analysis["overallThreatLevel"], "high", "{envelope}");
    assert_eq!(analysis["activeSituations"], 1);
    assert!(analysis["recommendations"].as_array().is_some_and(|r| !r.is_empty()), "{envelope}");
    assert_eq!(analysis["situations"][0]["incidentId"], incident.as_str());
    refused(app.get("/api/tactical/analysis/sr?userId=u1&analysisType=other", Some(&u)).await, 400, "invalid_field").await;
    refused(app.get("/api/tactical/analysis/sr?userId=someone", Some(&u)).await, 403, "not_yourself").await;

    let crisis = json!({"userId": "u1", "sessionType": "crisis",
        "stressIndicators": {"heartRate": 120, "sleepQuality": 0, "moodRating": 0, "recentIncidents": ["a", "b", "c", "d", "e"]}});
    let result = created(app.post_json("/api/tactical/analysis/sr", Some(&u), &crisis).await).await;
    assert_eq!(result["session"]["stressLevel"], 1.0, "{result}");
    assert_eq!(result["session"]["band"], "severe", "{result}");
    assert!(result["supportResources"].as_object().unwrap().contains_key("988 Suicide & Crisis Lifeline"), "{result}");
    assert!(result["recommendations"].as_array().is_some_and(|r| !r.is_empty()), "{result}");
    let session_id = result["session"]["sessionId"].as_str().unwrap().to_owned();

    let bad = json!({"userId": "u1", "sessionType": "crisis", "stressIndicators": {"sleepQuality": 11}});
    let err = refused(app.post_json("/api/tactical/analysis/sr", Some(&u), &bad).await, 400, "invalid_field").await;
    assert_eq!(err["error"]["details"]["field"], "stressIndicators.sleepQuality", "{err}");
    assert_eq!(app.count("SELECT count(*) FROM tactical_sr_checkins", &[]), 1);

    let mine = ok(app.get("/api/tactical/analysis/sr/checkins/u1", Some(&u)).await).await;
    let mine = mine.as_array().unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["sessionId"], session_id.as_str());
    assert_eq!(mine[0]["indicators"]["recentIncidents"].as_array().unwrap().len(), 5);
    refused(app.get("/api/tactical/analysis/sr/checkins/u1", Some(&admin)).await, 403, "member_only").await;
}

#[tokio::test]
async fn deleting_a_public_comm_erases_its_text() {
    let app = TestApp::spawn().await;
    let admin = admin(&app);
    let s = member(&app, &admin, "s1", DEPT, "secret").await;
    member(&app, &admin, "r1", DEPT, "secret").await;
    let marker = unique("PUBLIC-BUT-DELETED");
    let comm = send_id(&app, &s, SEND, json!({"fromUserId": "s1", "toUserId": "r1", "content": marker})).await;
    assert!(!stored_containing(&app, marker.as_bytes()).is_empty(), "stored as text while it exists");
    ok(app.delete(&format!("/api/tactical/comm/{comm}"), Some(&s)).await).await;
    assert_eq!(stored_containing(&app, marker.as_bytes()), Vec::<String>::new());
}

/// The routes the other scenarios reach only through their refusals: the registrations to
/// review, documents added after registering, the teams list, a member leaving or being removed
/// from a team, acknowledging a comm, and the app's `comms` spelling of the list.
#[tokio::test]
async fn review_documents_teams_acknowledgements_and_the_comms_alias() {
    let app = TestApp::spawn().await;
    let admin = admin(&app);
    let lead = member(&app, &admin, "lead1", DEPT, "secret").await;
    let m2 = member(&app, &admin, "m2", DEPT, "confidential").await;
    let pending = registered(&app, "p3", DEPT).await;
    registered(&app, "far", "Elsewhere Station").await;

    // Registrations: admins see every one, by status; members may not review.
    let pending_ids = |list: &Value| -> BTreeSet<String> {
        list.as_array().unwrap().iter().map(|p| p["userId"].as_str().unwrap().to_owned()).collect()
    };
    let all_pending = ok(app.get("/api/tactical/registrations?status=pending", Some(&admin)).await).await;
    assert_eq!(pending_ids(&all_pending), BTreeSet::from(["p3".to_owned(), "far".to_owned()]), "{all_pending}");
    let verified = ok(app.get("/api/tactical/registrations?status=verified", Some(&admin)).await).await;
    assert_eq!(pending_ids(&verified), BTreeSet::from(["lead1".to_owned(), "m2".to_owned()]), "{verified}");
    assert_eq!(ok(app.get("/api/tactical/registrations?status=pending&limit=1", Some(&admin)).await).await.as_array().unwrap().len(), 1);
    assert!(app.get("/api/tactical/registrations", Some(&m2)).await.status().is_client_error());

    // Documents added after registering are sealed, listed, and read back byte-exact by an admin.
    let document = payload(3000, 7);
    let form = Form::new().part("documents", Part::bytes(document.clone()).file_name("id-card.png").mime_str("image/png").unwrap());
    let resp = app.client.post(app.url("/api/tactical/register/p3/documents")).bearer_auth(&pending).multipart(form).send().await.unwrap();
    let profile = ok(resp).await;
    let docs = profile["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 1, "{profile}");
    let doc_id = docs[0]["documentId"].as_str().unwrap();
    assert!(files_containing(&app.bucket_dir(TACTICAL_BUCKET), &document[..64]).is_empty(), "sealed at rest");
    let back = ok_bytes(app.get(&format!("/api/tactical/members/p3/documents/{doc_id}"), Some(&admin)).await).await;
    assert_eq!(back, document);
    // Not for another user's registration.
    let form = Form::new().part("documents", Part::bytes(b"x".to_vec()).file_name("x.png").mime_str("image/png").unwrap());
    let resp = app.client.post(app.url("/api/tactical/register/p3/documents")).bearer_auth(&m2).multipart(form).send().await.unwrap();
    assert_eq!(resp.status(), 403);

    // Teams: listed for the department; a member leaves, the lead removes no one twice.
    let team_id = team(&app, &lead, "Night Patrol").await;
    add_to_team(&app, &lead, &team_id, "m2").await;
    let teams = ok(app.get("/api/tactical/teams", Some(&m2)).await).await;
    let listed = teams.as_array().unwrap().iter().find(|t| t["teamId"] == team_id.as_str()).unwrap_or_else(|| panic!("{teams}"));
    let members: BTreeSet<&str> = listed["members"].as_array().unwrap().iter().map(|m| m["userId"].as_str().unwrap()).collect();
    assert_eq!(members, BTreeSet::from(["lead1", "m2"]));
    // Only verified members of the team's department join it; no profile and another
    // department read the same.
    let members_path = format!("/api/tactical/teams/{team_id}/members");
    let (nobody, elsewhere, unverified) = (json!({"userId": "no-such-user"}), json!({"userId": "far"}), json!({"userId": "p3"}));
    let nobody = refused(app.post_json(&members_path, Some(&lead), &nobody).await, 422, "not_in_department").await;
    let elsewhere = refused(app.post_json(&members_path, Some(&lead), &elsewhere).await, 422, "not_in_department").await;
    assert_eq!(nobody["error"]["message"].as_str().unwrap().replace("no-such-user", "X"), elsewhere["error"]["message"].as_str().unwrap().replace("far", "X"));
    refused(app.post_json(&members_path, Some(&lead), &unverified).await, 422, "not_verified").await;
    let after = ok(app.delete(&format!("/api/tactical/teams/{team_id}/members/m2"), Some(&m2)).await).await;
    assert!(after["members"].as_array().unwrap().iter().all(|m| m["userId"] != "m2"), "{after}");
    assert_eq!(app.delete(&format!("/api/tactical/teams/{team_id}/members/m2"), Some(&lead)).await.status(), 404);

    // Acknowledging a comm marks it read and acknowledged, for the recipient only.
    let comm = send_id(&app, &lead, SEND, json!({"fromUserId": "lead1", "toUserId": "m2", "content": "roll call"})).await;
    let receipt = ok(app.post_json(&format!("/api/tactical/comm/{comm}/ack"), Some(&m2), &json!({})).await).await;
    assert_eq!(receipt["commId"], comm.as_str());
    assert_eq!(receipt["userId"], "m2");
    assert!(receipt["acknowledgedAt"].is_string() && receipt["readAt"].is_string(), "{receipt}");
    assert!(app.post_json(&format!("/api/tactical/comm/{comm}/ack"), Some(&pending), &json!({})).await.status().is_client_error());

    // The app's `comms` spelling lists the same page as `comm`.
    let canonical = list(&app, &m2, "m2").await;
    let alias = ok(app.get("/api/tactical/comms/m2?limit=100", Some(&m2)).await).await;
    assert_eq!(ids(&alias), ids(&canonical));
    assert!(ids(&alias).contains(&comm));
}
