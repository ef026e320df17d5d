//! GCS V4 signed URLs checked independently of the code that signs them: the fake GCS server
//! does not verify signatures, so these tests rebuild the canonical request from the URL by
//! Google's V4 rules (cloud.google.com/storage/docs/authentication/canonical-requests) and verify
//! the RSA-SHA256 signature with the public half of the fixture's service-account key.

use ring::signature::{self, KeyPair, RsaKeyPair};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::fake_gcs::{FakeGcs, use_gcs};
use crate::helpers::TestApp;

const GCS_HOST: &str = "storage.googleapis.com";

fn fixture_public_key() -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/fixtures/fake-gcs-service-account.json");
    let account: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let pem = account["private_key"].as_str().unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    RsaKeyPair::from_pkcs8(&der).expect("the fixture is a PKCS#8 RSA key").public_key().as_ref().to_vec()
}

/// Verifies `url`'s V4 signature for `method` with `headers` (the extra headers the client sends)
/// as Google would; `Err` says what does not match.
fn verify_v4(url: &str, method: &str, headers: &Map<String, Value>) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
    let (_, query) = url.split_once('?').ok_or("no query")?;
    let mut pairs: Vec<(&str, &str)> = query.split('&').map(|p| p.split_once('=').unwrap_or((p, ""))).collect();
    let signature = pairs.iter().find(|(k, _)| *k == "X-Goog-Signature").ok_or("no X-Goog-Signature")?.1.to_owned();
    pairs.retain(|(k, _)| *k != "X-Goog-Signature");
    pairs.sort();
    let canonical_query = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let get = |k: &str| pairs.iter().find(|(name, _)| *name == k).map(|(_, v)| percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned());
    let signed_headers = get("X-Goog-SignedHeaders").ok_or("no X-Goog-SignedHeaders")?;
    // In production these URLs point at storage.googleapis.com, the host the signer binds; here
    // they point at the emulator's address instead, so the host is checked as production's.
    let host = GCS_HOST;
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        let value = if name == "host" {
            host.to_owned()
        } else {
            headers.get(name).and_then(Value::as_str).ok_or(format!("the client is not told to send `{name}`"))?.trim().to_owned()
        };
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    let path = &url[url.find(parsed.path()).ok_or("path")?..].split('?').next().unwrap().to_owned();
    let canonical_request = format!("{method}\n{path}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\nUNSIGNED-PAYLOAD");
    let credential = get("X-Goog-Credential").ok_or("no X-Goog-Credential")?;
    let scope = credential.split_once('/').ok_or("credential without a scope")?.1;
    let date = get("X-Goog-Date").ok_or("no X-Goog-Date")?;
    let string_to_sign = format!("GOOG4-RSA-SHA256\n{date}\n{scope}\n{}", hex(&Sha256::digest(canonical_request.as_bytes())));
    let signature = (0..signature.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&signature[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|e| e.to_string())?;
    signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, fixture_public_key())
        .verify(string_to_sign.as_bytes(), &signature)
        .map_err(|_| format!("the signature does not verify over:\n{canonical_request}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn signed_urls_verify_by_googles_v4_rules_and_bind_the_upload_size() {
    let gcs = FakeGcs::start().await;
    let app = TestApp::spawn_with(|c| use_gcs(c, &gcs.endpoint())).await;
    let token = app.token("u1", optima::auth::Role::User);
    let sign = |method: &'static str, path: &'static str| {
        let body = json!({ "bucket": "media", "path": path, "method": method, "expiresIn": 600 });
        let (app, token) = (&app, token.clone());
        async move { app.post_json("/api/storage/signed-url", Some(&token), &body).await.json::<Value>().await.unwrap() }
    };

    let put = sign("PUT", "users/u1/uploads/direct.txt").await;
    let url = put["url"].as_str().unwrap();
    let headers = put["headers"].as_object().unwrap().clone();
    verify_v4(url, "PUT", &headers).unwrap();

    // The size range is part of what is signed: a client that sends another range, or none,
    // no longer has a valid signature, so GCS refuses the upload.
    let range = headers["x-goog-content-length-range"].as_str().unwrap().to_owned();
    let mut wider = headers.clone();
    wider.insert("x-goog-content-length-range".into(), json!("0,99999999999"));
    assert!(verify_v4(url, "PUT", &wider).is_err(), "{range} is bound into the signature");
    let mut without = headers.clone();
    without.remove("x-goog-content-length-range");
    assert!(verify_v4(url, "PUT", &without).is_err());
    // Nor is the URL good for another method.
    assert!(verify_v4(url, "GET", &headers).is_err());

    let get = sign("GET", "users/u1/uploads/direct.txt").await;
    verify_v4(get["url"].as_str().unwrap(), "GET", &Map::new()).unwrap();
    // A tampered expiry breaks it.
    let tampered = get["url"].as_str().unwrap().replace("X-Goog-Expires=600", "X-Goog-Expires=604800");
    assert!(verify_v4(&tampered, "GET", &Map::new()).is_err());
}
