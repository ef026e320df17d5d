//! REST and tRPC are two skins over the same services, so they cannot disagree. For each rule
//! the tRPC skin used to state itself (page bounds, text lengths, a vocabulary, an owner check,
//! plan facts, how input is read), the same request through both skins gets the same answer:
//! the same status class, and for a refusal the same error code naming the same field.

use optima::auth::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// What the two skins must agree on.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    /// 2 for a success, 4 for a client error, …
    class: u16,
    /// The error's code (`invalid_field`, …); `None` for a success.
    code: Option<String>,
    /// The field an `invalid_field` error names.
    field: Option<String>,
}

fn success() -> Outcome {
    Outcome { class: 2, code: None, field: None }
}

fn refused(status: u16, code: &str) -> Outcome {
    Outcome { class: status / 100, code: Some(code.to_owned()), field: None }
}

fn invalid(field: &str) -> Outcome {
    Outcome { class: 4, code: Some("invalid_field".into()), field: Some(field.to_owned()) }
}

/// A REST answer: its outcome and its body. An `invalid_field` names its field in
/// `details.field` and at the start of its message.
async fn rest(resp: reqwest::Response) -> (Outcome, Value) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("a JSON body");
    if status < 400 {
        return (Outcome { class: status / 100, code: None, field: None }, body);
    }
    let error = &body["error"];
    let code = error["code"].as_str().expect("an error code").to_owned();
    let field = (code == "invalid_field").then(|| {
        let field = error["details"]["field"].as_str().expect("details.field").to_owned();
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(&format!("{field}: ")), "the message names `{field}`: {body}");
        field
    });
    (Outcome { class: status / 100, code: Some(code), field }, body)
}

/// A tRPC answer: its outcome and its output. The envelope carries our code as `appCode`; an
/// `invalid_field` names its field at the start of its message.
fn trpc((status, envelope): (u16, Value)) -> (Outcome, Value) {
    if status < 400 {
        let output = envelope["result"]["data"]["json"].clone();
        assert_eq!(output["success"], true, "{envelope}");
        return (Outcome { class: status / 100, code: None, field: None }, output);
    }
    let error = &envelope["error"]["json"];
    assert_eq!(error["data"]["httpStatus"], status, "{envelope}");
    let code = error["data"]["appCode"].as_str().expect("an appCode").to_owned();
    let field = (code == "invalid_field").then(|| {
        let message = error["message"].as_str().expect("a message");
        message.split_once(": ").expect("`field: why`").0.to_owned()
    });
    (Outcome { class: status / 100, code: Some(code), field }, envelope)
}

/// A request's answers over REST and over tRPC.
type Both = ((Outcome, Value), (Outcome, Value));

/// The same read as `GET path` and as the tRPC query `procedure` with `input`.
async fn read_both(app: &TestApp, token: &str, path: String, procedure: &str, input: Value) -> Both {
    (rest(app.get(&path, Some(token)).await).await, trpc(app.trpc_query(procedure, Some(token), &input).await))
}

/// The same write as `POST route` with `body` and as the tRPC mutation `procedure` with `input`.
async fn write_both(app: &TestApp, token: &str, route: &str, body: &Value, procedure: &str, input: &Value) -> Both {
    (rest(app.post_json(route, Some(token), body).await).await, trpc(app.trpc_mutation(procedure, Some(token), input).await))
}

/// Both answers are `expected`; returns their bodies (REST's, then tRPC's output).
#[track_caller]
fn agree(what: &str, ((rest, rest_body), (trpc, trpc_body)): Both, expected: &Outcome) -> (Value, Value) {
    assert_eq!(rest, *expected, "{what} over REST: {rest_body}");
    assert_eq!(trpc, *expected, "{what} over tRPC: {trpc_body}");
    (rest_body, trpc_body)
}

/// `user`'s token, after an admin moved the user to `tier` (unless it is `free`).
async fn user_on(app: &TestApp, user: &str, tier: &str) -> String {
    if tier != "free" {
        let admin = app.token("skins-admin", Role::Admin);
        let resp = app.post_json("/api/subscription/upgrade", Some(&admin), &json!({"userId": user, "newTier": tier})).await;
        assert_eq!(resp.status(), 200, "{user} moves to {tier}");
    }
    app.token(user, Role::User)
}

/// Creates something over REST (201) and returns its `field`.
async fn created(app: &TestApp, path: &str, token: &str, body: Value, field: &str) -> String {
    let resp = app.post_json(path, Some(token), &body).await;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "{path}: {body}");
    body[field].as_str().expect(field).to_owned()
}

fn ids(list: &Value) -> Vec<Value> {
    list["projects"].as_array().expect("projects").iter().map(|p| p["projectId"].clone()).collect()
}

#[tokio::test]
async fn music_project_pages_are_the_services_page() {
    let app = TestApp::spawn().await;
    let token = app.token("s1", Role::User);
    // The tRPC skin capped `limit` at 100; the page is 1 to `Page::MAX_LIMIT` (200) in both.
    let cases = [("0", invalid("limit")), ("201", invalid("limit")), ("150", success()), ("200", success())];
    for (limit, expected) in cases {
        let input = json!({"userId": "s1", "limit": limit.parse::<u32>().unwrap(), "offset": 0});
        let both = read_both(&app, &token, format!("/api/music/user/s1/projects?limit={limit}&offset=0"), "r3al.studio.getProjects", input).await;
        agree(&format!("limit {limit}"), both, &expected);
    }
    let input = json!({"userId": "s1", "status": "lost"});
    let both = read_both(&app, &token, "/api/music/user/s1/projects?status=lost".into(), "r3al.studio.getProjects", input).await;
    agree("an unknown status", both, &invalid("status"));
}

#[tokio::test]
async fn writing_project_pages_are_the_services_page() {
    let app = TestApp::spawn().await;
    let token = user_on(&app, "w1", "premium").await;
    for title in ["First", "Second"] {
        created(&app, "/api/writers/project/create", &token, json!({"userId": "w1", "title": title, "contentType": "novel"}), "projectId").await;
    }
    // The tRPC skin read every list as the page 200/0 whatever was asked; now both take the
    // caller's page and the service bounds it.
    let list = |query: String, input: Value| read_both(&app, &token, format!("/api/writers/user/w1/projects{query}"), "r3al.writersGuild.getProjects", input);
    for (limit, expected) in [(0, invalid("limit")), (201, invalid("limit"))] {
        agree(&format!("limit {limit}"), list(format!("?limit={limit}"), json!({"userId": "w1", "limit": limit})).await, &expected);
    }
    for ((limit, offset), has_more) in [((1, 0), true), ((1, 1), false)] {
        let both = list(format!("?limit={limit}&offset={offset}"), json!({"userId": "w1", "limit": limit, "offset": offset})).await;
        let (r, t) = agree(&format!("the page {limit}/{offset}"), both, &success());
        assert_eq!(ids(&r).len(), 1, "{r}");
        assert_eq!(ids(&r), ids(&t), "the same project on the page {limit}/{offset}");
        assert_eq!((&r["total"], &r["hasMore"]), (&json!(2), &json!(has_more)), "{r}");
        assert_eq!((&t["total"], &t["hasMore"]), (&json!(2), &json!(has_more)), "{t}");
    }
    let (r, t) = agree("the default page", list(String::new(), json!({"userId": "w1"})).await, &success());
    assert_eq!(ids(&r), ids(&t));
    assert_eq!(ids(&t).len(), 2);
    agree("an unknown status", list("?status=lost".into(), json!({"userId": "w1", "status": "lost"})).await, &invalid("status"));
}

#[tokio::test]
async fn assistance_text_bounds_are_the_services() {
    let app = TestApp::spawn().await;
    let token = user_on(&app, "w2", "premium").await;
    let project = created(&app, "/api/writers/project/create", &token, json!({"userId": "w2", "title": "Harbour", "contentType": "novel"}), "projectId").await;
    let ask = |extra: Value| {
        let mut body = json!({"userId": "w2", "projectId": project, "contentRating": "general", "request": "Suggest a next line."});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    // The tRPC skin allowed 1,000 characters of request and 5,000 of context, and the service
    // checked nothing; now the service allows MAX_ASSIST_REQUEST_CHARS (5,000) and
    // MAX_ASSIST_TEXT_CHARS (50,000), for both skins.
    let cases = [
        (json!({"request": "r".repeat(5_001)}), invalid("request")),
        (json!({"prompt": "p".repeat(5_001)}), invalid("prompt")),
        (json!({"context": "c".repeat(50_001)}), invalid("context")),
        (json!({"selection": "s".repeat(50_001)}), invalid("selection")),
        (json!({"request": "r".repeat(5_000), "context": "c ".repeat(25_000)}), success()),
    ];
    for (extra, expected) in cases {
        let what = extra.as_object().unwrap().keys().cloned().collect::<Vec<_>>().join(" and ");
        let body = ask(extra);
        agree(&what, write_both(&app, &token, "/api/writers/ai/assist", &body, "r3al.writersGuild.getAssistance", &body).await, &expected);
    }
}

/// A verified Tactical HQ member of `D1`; returns their token.
async fn member(app: &TestApp, user: &str) -> String {
    let token = user_on(app, user, "unlimited").await;
    created(app, "/api/tactical/register", &token, json!({"userId": user, "serviceBranch": "police", "department": "D1"}), "userId").await;
    let admin = app.token("skins-admin", Role::Admin);
    let verified = app
        .client
        .put(app.url(&format!("/api/tactical/verify/{user}")))
        .bearer_auth(&admin)
        .json(&json!({"status": "verified", "clearanceLevel": "secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), 200, "{user} is verified");
    token
}

#[tokio::test]
async fn comm_types_are_the_services_vocabulary() {
    let app = TestApp::spawn().await;
    let token = member(&app, "o1").await;
    // The tRPC skin took alert, update, request and status for a comm, and message, alert,
    // briefing, sitrep and request for a secure one; both now take the service's words.
    for (word, expected) in [("briefing", success()), ("secure", success()), ("gossip", invalid("messageType"))] {
        let body = json!({"fromUserId": "o1", "messageType": word, "content": "all units"});
        let input = json!({"fromUserId": "o1", "messageType": word, "messageContent": "all units"});
        let both = write_both(&app, &token, "/api/tactical/comm/send", &body, "r3al.tactical.sendComm", &input).await;
        let (r, t) = agree(&format!("a comm of type {word}"), both, &expected);
        if expected == success() {
            assert_eq!(r["label"], word, "{r}");
            assert_eq!(t["comm"]["messageType"], word, "{t}");
        }
    }
    for (word, expected) in [("status", success()), ("emergency", success()), ("gossip", invalid("messageType"))] {
        let body = json!({"fromUserId": "o1", "messageType": word, "content": "sealed"});
        let input = json!({"senderId": "o1", "commType": word, "content": "sealed", "encrypted": true});
        let both = write_both(&app, &token, "/api/tactical/comm/secure", &body, "r3al.tactical.sendSecureComm", &input).await;
        let (r, t) = agree(&format!("a secure comm of type {word}"), both, &expected);
        if expected == success() {
            assert_eq!((&r["label"], &r["encrypted"]), (&json!(word), &json!(true)), "{r}");
            assert_eq!((&t["comm"]["commType"], &t["comm"]["encrypted"]), (&json!(word), &json!(true)), "{t}");
        }
    }
    // A check-in without indicators: the tRPC skin defaulted them (for the service to refuse)
    // where REST's body required them; both now require them.
    let check_in = json!({"userId": "o1", "sessionType": "routine_check"});
    let both = write_both(&app, &token, "/api/tactical/analysis/sr", &check_in, "r3al.tactical.getOptimaSRAnalysis", &check_in).await;
    agree("a check-in without indicators", both, &invalid("stressIndicators"));
}

#[tokio::test]
async fn a_share_names_its_owner_alike() {
    let app = TestApp::spawn().await;
    let owner = user_on(&app, "a1", "premium").await;
    let other = app.token("b1", Role::User);
    let admin = app.token("skins-admin", Role::Admin);
    let project = created(&app, "/api/music/project/create", &owner, json!({"userId": "a1", "title": "Night Drive"}), "projectId").await;
    // The tRPC skin checked that the named user owns the project; the service does, for both.
    let cases = [
        (&other, "a1", refused(403, "forbidden")),
        (&admin, "b1", refused(404, "project_not_found")),
        (&other, "b1", refused(404, "project_not_found")),
        // The owner gets past the check: the project is not shareable until it has a mix.
        (&owner, "a1", refused(409, "not_shareable")),
    ];
    for (token, named, expected) in cases {
        let body = json!({"userId": named, "platforms": ["facebook"]});
        let input = json!({"projectId": project, "userId": named, "platforms": ["facebook"]});
        let both = write_both(&app, token, &format!("/api/music/share/{project}"), &body, "r3al.studio.shareMusic", &input).await;
        agree(&format!("sharing naming {named}"), both, &expected);
    }
}

#[tokio::test]
async fn plan_facts_are_the_subscriptions() {
    let app = TestApp::spawn().await;
    for tier in ["free", "premium", "unlimited"] {
        let user = format!("pf-{tier}");
        let token = user_on(&app, &user, tier).await;
        let (_, info) = rest(app.get(&format!("/api/subscription/tier/{user}"), Some(&token)).await).await;
        let limits = &info["limits"];
        let message = json!({"userId": user, "message": "hello"});
        let (outcome, sent) = trpc(app.trpc_mutation("r3al.aiChat.sendMessage", Some(&token), &message).await);
        assert_eq!(outcome, success(), "{sent}");
        assert_eq!(sent["hasUnrestrictedAccess"], limits["unrestrictedContent"], "{tier}: {sent} against {info}");
        if tier == "free" {
            continue;
        }
        // The guild tier the subscription makes the member eligible for.
        let guild = if tier == "premium" { "premium" } else { "unlimited" };
        trpc(app.trpc_query("r3al.writersGuild.getMember", Some(&token), &json!({"userId": user})).await);
        let (outcome, upgraded) = trpc(app.trpc_mutation("r3al.writersGuild.upgradeMember", Some(&token), &json!({"userId": user, "tier": guild})).await);
        assert_eq!(outcome, success(), "{upgraded}");
        let m = &upgraded["member"];
        assert_eq!(m["unlimitedChat"], limits["aiChat"]["limit"].is_null(), "{tier}: {m} against {info}");
        assert_eq!(m["unlimitedImages"], limits["imageGeneration"]["limit"].is_null(), "{tier}: {m} against {info}");
        assert_eq!(m["unrestrictedAI"], limits["unrestrictedContent"], "{tier}: {m} against {info}");
    }
}

#[tokio::test]
async fn inputs_are_read_alike() {
    let app = TestApp::spawn().await;
    let token = user_on(&app, "i1", "premium").await;
    let cases = [
        ("/api/writers/project/create", "r3al.writersGuild.createProject", json!({"userId": "i1", "contentType": "novel"}), invalid("title")),
        ("/api/writers/project/create", "r3al.writersGuild.createProject", json!({"userId": "i1", "title": "T", "contentType": "saga"}), invalid("contentType")),
        ("/api/music/project/create", "r3al.studio.createProject", json!({"userId": "i1", "title": "T", "bpm": "fast"}), invalid("bpm")),
        ("/api/music/project/create", "r3al.studio.createProject", json!({"userId": "i1", "title": "T", "bpm": 500}), invalid("bpm")),
    ];
    for (route, procedure, body, expected) in cases {
        agree(&format!("{procedure} {body}"), write_both(&app, &token, route, &body, procedure, &body).await, &expected);
    }
    // A signed URL's method and lifetime default alike (the tRPC skin had defaults REST lacked),
    // and its lifetime is bounded alike.
    let path = "users/i1/a.png";
    // A field neither knows is ignored by both (the tRPC skin refused it, REST's schema allows
    // it, as the app's own zod schemas do).
    let cases = [
        (json!({}), success()),
        (json!({"note": "a field no model has"}), success()),
        (json!({"expiresIn": 0}), invalid("expiresIn")),
        (json!({"expiresIn": 604_801}), invalid("expiresIn")),
    ];
    for (extra, expected) in cases {
        let mut body = json!({"bucket": "media", "path": path});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let both = write_both(&app, &token, "/api/storage/signed-url", &body, "r3al.storage.getSignedUrl", &body).await;
        let (r, t) = agree(&format!("a signed URL {extra}"), both, &expected);
        if expected == success() {
            assert_eq!((&r["method"], &t["method"]), (&json!("GET"), &json!("GET")));
        }
    }
}
