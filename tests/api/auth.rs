use optima::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code};

#[tokio::test]
async fn register_login_me_round_trip() {
    let app = TestApp::spawn().await;
    let creds = json!({"username": "Alice_1", "password": "correct horse battery"});
    let resp = app.post_json("/api/auth/register", None, &creds).await;
    assert_eq!(resp.status(), 201);
    let session: Value = resp.json().await.unwrap();
    let user_id = session["userId"].as_str().unwrap().to_owned();
    assert!(session["token"].as_str().unwrap().len() > 20);

    let resp = app.post_json("/api/auth/login", None, &creds).await;
    assert_eq!(resp.status(), 200);
    let token = resp.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();

    let me: Value = app.get("/api/auth/me", Some(&token)).await.json().await.unwrap();
    assert_eq!(me["userId"], user_id.as_str());
    assert_eq!(me["username"], "Alice_1");
    assert_eq!(me["role"], "user");
}

#[tokio::test]
async fn duplicate_username_is_a_conflict_whatever_the_case() {
    let app = TestApp::spawn().await;
    let first = app.post_json("/api/auth/register", None, &json!({"username": "bob", "password": "password-1"})).await;
    assert_eq!(first.status(), 201);
    let again = app.post_json("/api/auth/register", None, &json!({"username": "BOB", "password": "password-2"})).await;
    assert_eq!(again.status(), 409);
    assert_eq!(error_code(again).await, "username_taken");
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let app = TestApp::spawn().await;
    app.post_json("/api/auth/register", None, &json!({"username": "carol", "password": "password-1"})).await;
    // Of any length: the password policy is for setting a password, not for guessing one.
    for creds in [
        json!({"username": "carol", "password": "password-2"}),
        json!({"username": "nobody", "password": "password-1"}),
        json!({"username": "carol", "password": "abc"}),
        json!({"username": "carol", "password": ""}),
        json!({"username": "c", "password": "x"}),
    ] {
        let resp = app.post_json("/api/auth/login", None, &creds).await;
        assert_eq!(resp.status(), 401, "{creds}");
        assert_eq!(error_code(resp).await, "invalid_credentials");
        let (status, envelope) = app.trpc_mutation("r3al.auth.login", None, &creds).await;
        assert_eq!((status, envelope["error"]["json"]["data"]["code"].clone()), (401, json!("UNAUTHORIZED")), "tRPC, {creds}: {envelope}");
    }
    // What one guess may cost stays bounded.
    let resp = app.post_json("/api/auth/login", None, &json!({"username": "carol", "password": "p".repeat(1025)})).await;
    assert_eq!(resp.status(), 400);
    let (status, _) = app.trpc_mutation("r3al.auth.login", None, &json!({"username": "carol", "password": "p".repeat(1025)})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_apps_root_auth_router_signs_up_and_in_with_an_email_address() {
    let app = TestApp::spawn().await;
    let (status, envelope) =
        app.trpc_mutation("auth.register", None, &json!({"email": " Ann@Example.com", "password": "long enough", "name": "Ann Lee"})).await;
    assert_eq!(status, 200, "{envelope}");
    let session = &envelope["result"]["data"]["json"];
    assert_eq!(session["success"], true);
    assert_eq!(session["email"], "ann@example.com", "addresses compare without case: {session}");
    assert_eq!(session["name"], "Ann Lee");
    let user_id = session["userId"].as_str().unwrap().to_owned();

    let (status, envelope) = app.trpc_mutation("auth.login", None, &json!({"email": "ANN@example.com", "password": "long enough"})).await;
    assert_eq!(status, 200, "{envelope}");
    let token = envelope["result"]["data"]["json"]["token"].as_str().unwrap().to_owned();
    let me: Value = app.get("/api/auth/me", Some(&token)).await.json().await.unwrap();
    assert_eq!((me["userId"].as_str(), me["username"].as_str()), (Some(user_id.as_str()), Some("ann@example.com")));
    // The same account through REST, by its username.
    let resp = app.post_json("/api/auth/login", None, &json!({"username": "ann@example.com", "password": "long enough"})).await;
    assert_eq!(resp.json::<Value>().await.unwrap()["name"], "Ann Lee");

    // The app allows six characters; Optima asks for eight when a password is set.
    let (status, envelope) = app.trpc_mutation("auth.register", None, &json!({"email": "bo@example.com", "password": "sixsix", "name": "Bo"})).await;
    assert_eq!(status, 400, "{envelope}");
    let message = envelope["error"]["json"]["message"].as_str().unwrap();
    assert!(message.contains("password") && message.contains('8'), "names the policy: {message}");
    let (status, envelope) = app.trpc_mutation("auth.login", None, &json!({"email": "ann@example.com", "password": "sixsix"})).await;
    assert_eq!((status, envelope["error"]["json"]["data"]["code"].clone()), (401, json!("UNAUTHORIZED")), "{envelope}");
    for email in ["not-an-address", "a@b", "@example.com", "a@@example.com"] {
        let (status, envelope) = app.trpc_mutation("auth.register", None, &json!({"email": email, "password": "long enough"})).await;
        assert_eq!(status, 400, "{email}: {envelope}");
        assert!(envelope["error"]["json"]["message"].as_str().unwrap().contains("email"), "{envelope}");
    }
    let (status, envelope) = app.trpc_mutation("auth.register", None, &json!({"email": "ann@EXAMPLE.com", "password": "long enough"})).await;
    assert_eq!((status, envelope["error"]["json"]["data"]["code"].clone()), (409, json!("CONFLICT")), "{envelope}");

    let (status, envelope) = app.trpc_query("health", None, &Value::Null).await;
    assert_eq!(status, 200, "{envelope}");
    assert_eq!(envelope["result"]["data"]["json"]["status"], "healthy");
}

#[tokio::test]
async fn bad_registration_input_names_the_field_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({"username": "dave"}), "password"),
        (json!({"password": "password-1"}), "username"),
        (json!({"username": "dave", "password": 12345678}), "password"),
        (json!({"username": "da ve", "password": "password-1"}), "username"),
        (json!({"username": "dave", "password": "short"}), "password"),
    ];
    for (body, field) in cases {
        let resp = app.post_json("/api/auth/register", None, &body).await;
        assert_eq!(resp.status(), 400, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert!(err["error"]["message"].as_str().unwrap().contains(field), "{body} → {err}");
    }
    let malformed = app
        .client
        .post(app.url("/api/auth/register"))
        .header("content-type", "application/json")
        .body("{\"username\":")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(error_code(malformed).await, "malformed_json");
    let login = app.post_json("/api/auth/login", None, &json!({"username": "dave", "password": "password-1"})).await;
    assert_eq!(login.status(), 401, "no account was created by the bad requests");
}

#[tokio::test]
async fn missing_bad_and_expired_tokens_are_401() {
    let app = TestApp::spawn().await;
    let none = app.get("/api/auth/me", None).await;
    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    assert_eq!(error_code(none).await, "unauthorized");

    let garbage = app.get("/api/auth/me", Some("not.a.jwt")).await;
    assert_eq!(garbage.status(), 401);
    assert_eq!(error_code(garbage).await, "invalid_token");

    let foreign = optima::auth::TokenService::new(b"some-other-secret-some-other-secret", "optima", 60);
    let forged = foreign.mint("u1", Role::Admin, 60).unwrap().0;
    let resp = app.get("/api/auth/me", Some(&forged)).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "invalid_token");

    let now = chrono::Utc::now().timestamp();
    let expired = app.signed_token(&json!({ "sub": "u1", "role": "user", "iss": "optima", "iat": now - 120, "exp": now - 1 }));
    let resp = app.get("/api/auth/me", Some(&expired)).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "token_expired");

    // Issued in the future, or not valid before a future time (beyond 30 s of clock skew).
    for (iat, nbf) in [(now + 3600, None), (now, Some(now + 3600))] {
        let mut claims = json!({ "sub": "u1", "role": "user", "iss": "optima", "iat": iat, "exp": now + 7200 });
        if let Some(nbf) = nbf {
            claims["nbf"] = json!(nbf);
        }
        let resp = app.get("/api/auth/me", Some(&app.signed_token(&claims))).await;
        assert_eq!(resp.status(), 401);
        assert_eq!(error_code(resp).await, "token_not_yet_valid");
    }
    // A subject that is a path, not a user id, signed with the real key all the same.
    let path_like = app.signed_token(&json!({ "sub": "../x", "role": "user", "iss": "optima", "iat": now, "exp": now + 60 }));
    assert_eq!(error_code(app.get("/api/auth/me", Some(&path_like)).await).await, "invalid_token");
}

#[tokio::test]
async fn minted_tokens_carry_any_app_user_id_and_role() {
    let app = TestApp::spawn().await;
    for role in [Role::User, Role::Admin, Role::Service] {
        let token = app.token("test_user", role);
        let me: Value = app.get("/api/auth/me", Some(&token)).await.json().await.unwrap();
        assert_eq!(me["userId"], "test_user");
        assert_eq!(me["role"], role.as_str());
        assert!(me.get("username").is_none() && me.get("createdAt").is_none(), "{me}");
    }
}
