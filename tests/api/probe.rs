//! `GET /probe/gateway`: the readiness of the database, the blob store and each configured AI
//! provider, with the offline providers, the `openai` providers against the fake OpenAI server
//! (`fake_openai.rs`) and MusicGen against the fake Hugging Face API (`fake_hf.rs`).

use optima::config::TextProviderKind;
use serde_json::Value;

use crate::fake_hf::{FakeHf, HfMode, MODEL};
use crate::fake_openai::{FakeOpenAi, Scenario};
use crate::helpers::{TestApp, closed_port, eventually};

const PROBE: &str = "/probe/gateway";

/// Long enough that nothing the test does outlives a cached result.
const FOR_THE_WHOLE_TEST: u64 = 3_600;

/// A key long enough to be one; the fake's 401 quotes whatever key it is sent.
const KEY: &str = "sk-probe-0123456789abcdef";
const HF_TOKEN: &str = "hf_probe_0123456789abcdef";

/// Calls the probe without a token: the status, the body as JSON, and the raw text.
async fn probe(app: &TestApp) -> (u16, Value, String) {
    let resp = app.get(PROBE, None).await;
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("the probe answers JSON ({e}): {text}"));
    (status, body, text)
}

/// Asserts a 503 whose `error` names exactly `name`, with `reason` in its check, and returns
/// that check. Keys and what the provider said never show.
async fn expect_not_ready(app: &TestApp, name: &str, reason: &str) -> String {
    let (status, body, text) = probe(app).await;
    assert_eq!(status, 503, "{text}");
    assert_eq!(body["ok"], false, "{text}");
    assert_eq!(body["status"], 503, "{text}");
    let check = body["checks"][name].as_str().unwrap_or_else(|| panic!("a {name} check: {text}")).to_owned();
    assert!(check.contains(reason), "{name} says {reason:?}: {check}");
    assert!(!check.starts_with("ok"), "{check}");
    assert_eq!(body["error"], format!("not ready: {name} ({check})"), "the error names {name} alone: {text}");
    for other in ["database", "storage", "text", "image", "music"].into_iter().filter(|n| *n != name) {
        assert!(body["checks"][other].as_str().is_some_and(|c| c.starts_with("ok")), "{other} stays ok: {text}");
    }
    for secret in [KEY, HF_TOKEN, "Incorrect API key", "Invalid credentials"] {
        assert!(!text.contains(secret), "the answer shows {secret:?}: {text}");
    }
    check
}

/// An app whose text provider is the fake OpenAI server, with [`KEY`].
async fn openai_text_app(fake: &FakeOpenAi) -> TestApp {
    fake.app(|c| {
        c.ai.openai.api_key = KEY.into();
        c.ai.probe_cache_secs = FOR_THE_WHOLE_TEST;
    })
    .await
}

/// An app whose music provider is the fake Hugging Face API, with [`HF_TOKEN`].
async fn hf_app(fake: &FakeHf, adjust: impl FnOnce(&mut optima::config::Config)) -> TestApp {
    TestApp::spawn_with(|c| {
        fake.configure(c, 1, 1);
        c.ai.huggingface.token = HF_TOKEN.into();
        c.ai.probe_cache_secs = FOR_THE_WHOLE_TEST;
        adjust(c);
    })
    .await
}

#[tokio::test]
async fn offline_providers_are_ready_and_the_probe_is_public_and_documented() {
    let app = TestApp::spawn().await;
    let (status, body, text) = probe(&app).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(body["ok"], true);
    assert_eq!(body["status"], 200);
    assert!(body.get("error").is_none(), "no error when ready: {text}");
    assert!(chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).is_ok(), "{text}");
    let checks = body["checks"].as_object().unwrap();
    assert_eq!(checks.len(), 5, "{text}");
    assert_eq!(checks["database"], "ok");
    assert_eq!(checks["storage"], "ok");
    for provider in ["text", "image", "music"] {
        assert_eq!(checks[provider], "ok (offline)", "{provider}");
    }

    let spec: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let operation = &spec["paths"][PROBE]["get"];
    for status in ["200", "503"] {
        assert!(operation["responses"][status].is_object(), "{status} is documented: {operation}");
    }
    assert!(operation.get("security").is_none_or(|s| s == &serde_json::json!([{}])), "public: {operation}");
}

#[tokio::test]
async fn an_openai_text_provider_is_asked_for_its_models_with_the_key() {
    let fake = FakeOpenAi::start().await;
    let app = openai_text_app(&fake).await;
    let (status, body, text) = probe(&app).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(body["checks"]["text"], format!("ok (openai at {})", fake.base_url()), "{text}");
    assert_eq!(body["checks"]["image"], "ok (offline)");
    let asked = fake.requests();
    assert_eq!(asked.len(), 1, "one request, nothing generated: {asked:?}");
    assert_eq!((asked[0].method.as_str(), asked[0].path.as_str()), ("GET", "/v1/models"));
    assert_eq!(asked[0].authorization, Some(format!("Bearer {KEY}")));
    assert!(!text.contains(KEY), "{text}");
}

#[tokio::test]
async fn an_openai_text_provider_that_fails_makes_the_probe_503_naming_text() {
    let cases = [
        (Scenario::ServerError, "answered HTTP 500"),
        (Scenario::Busy, "rate limited (HTTP 429)"),
        (Scenario::Unauthorized, "the key is refused (HTTP 401)"),
        (Scenario::Forbidden, "the key is refused (HTTP 403)"),
        // Longer than the provider's 1 s timeout.
        (Scenario::Slow, "no answer within 1 s"),
    ];
    for (scenario, reason) in cases {
        let fake = FakeOpenAi::start().await;
        fake.set(scenario);
        let app = openai_text_app(&fake).await;
        let check = expect_not_ready(&app, "text", reason).await;
        assert_eq!(check, format!("openai at {}: {reason}", fake.base_url()), "{scenario:?}");
        assert_eq!(fake.requests_to("/v1/models").len(), 1, "{scenario:?}");
    }
}

#[tokio::test]
async fn an_openai_text_provider_that_cannot_be_reached_is_not_ready() {
    let addr = closed_port();
    let app = TestApp::spawn_with(|c| {
        c.ai.text_provider = TextProviderKind::Openai;
        c.ai.openai.base_url = format!("http://{addr}/v1");
        c.ai.openai.api_key = KEY.into();
        c.ai.openai.timeout_secs = 1;
    })
    .await;
    let check = expect_not_ready(&app, "text", "connection refused").await;
    assert_eq!(check, format!("openai at http://{addr}/v1: connection refused"));
}

#[tokio::test]
async fn an_openai_image_provider_is_checked_apart_from_text() {
    let fake = FakeOpenAi::start().await;
    fake.set(Scenario::ServerError);
    let image_app = |image_model: &'static str| {
        fake.image_app(move |c| {
            c.ai.openai.api_key = KEY.into();
            c.ai.openai.image_model = image_model.into();
        })
    };
    let app = image_app("test-image-model").await;
    expect_not_ready(&app, "image", "answered HTTP 500").await;
    assert_eq!(fake.requests_to("/v1/models").len(), 1);

    // Without a model the provider cannot serve: nothing is sent.
    let app = image_app("").await;
    expect_not_ready(&app, "image", "no model is configured (set ai.openai.image_model)").await;
    assert_eq!(fake.requests().len(), 1, "no request for a provider without a model");

    fake.set(Scenario::Ok);
    let app = image_app("test-image-model").await;
    let (status, body, text) = probe(&app).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(body["checks"]["image"], format!("ok (openai at {})", fake.base_url()));
    assert_eq!(body["checks"]["text"], "ok (offline)");
}

#[tokio::test]
async fn a_provider_is_asked_once_per_cache_period_however_many_probes() {
    let fake = FakeOpenAi::start().await;
    // Every probe below arrives while the first check is still waiting for its answer.
    fake.set(Scenario::Delayed);
    let app = openai_text_app(&fake).await;
    let probes: Vec<_> = (0..20).map(|_| probe(&app)).collect();
    for (status, body, text) in futures_util::future::join_all(probes).await {
        assert_eq!(status, 200, "{text}");
        assert!(body["checks"]["text"].as_str().unwrap().starts_with("ok (openai at "), "{text}");
    }
    assert_eq!(fake.requests_to("/v1/models").len(), 1, "concurrent probes share one request");

    // The provider fails now, but within the period the probe answers from its last result.
    fake.set(Scenario::ServerError);
    for _ in 0..5 {
        assert_eq!(probe(&app).await.0, 200);
    }
    assert_eq!(fake.requests_to("/v1/models").len(), 1, "no new request within the period");
}

#[tokio::test]
async fn a_provider_that_fails_and_recovers_shows_once_the_period_has_passed() {
    let fake = FakeOpenAi::start().await;
    let app = fake
        .app(|c| {
            c.ai.openai.api_key = KEY.into();
            c.ai.probe_cache_secs = 1;
        })
        .await;
    assert_eq!(probe(&app).await.0, 200);
    fake.set(Scenario::ServerError);
    eventually(10, "the probe reports the failure", || async { (probe(&app).await.0 == 503).then_some(()) }).await;
    expect_not_ready(&app, "text", "answered HTTP 500").await;
    fake.set(Scenario::Ok);
    eventually(10, "the probe reports the recovery", || async { (probe(&app).await.0 == 200).then_some(()) }).await;
}

#[tokio::test]
async fn hugging_face_is_asked_for_the_model_status_with_the_token() {
    let fake = FakeHf::start(HfMode::Audio(Vec::new())).await;
    let app = hf_app(&fake, |_| {}).await;
    let (status, body, text) = probe(&app).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(body["checks"]["music"], format!("ok (huggingface at {}: {MODEL} loaded)", fake.base_url), "{text}");
    let asked = fake.status_calls();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].path, format!("/status/{MODEL}"));
    assert_eq!(asked[0].authorization, Some(format!("Bearer {HF_TOKEN}")));
    assert!(fake.calls().is_empty(), "nothing was generated");
    assert!(!text.contains(HF_TOKEN), "{text}");

    // A cold model is ready: the first generation waits for it to load.
    let fake = FakeHf::start(HfMode::AlwaysLoading).await;
    let app = hf_app(&fake, |_| {}).await;
    let (status, body, text) = probe(&app).await;
    assert_eq!(status, 200, "{text}");
    assert!(body["checks"]["music"].as_str().unwrap().contains("loads on first use"), "{text}");
    assert!(fake.calls().is_empty(), "the probe did not start loading it");
}

#[tokio::test]
async fn a_hugging_face_provider_that_fails_makes_the_probe_503_naming_music() {
    let cases = [
        (HfMode::Unauthorized, None, "the token is refused (HTTP 401)"),
        (HfMode::ServerError, None, "answered HTTP 500"),
        (HfMode::TooBig, None, "is too big for the Inference API"),
        (HfMode::Audio(Vec::new()), Some("facebook/musicgen-huge"), "does not know facebook/musicgen-huge (HTTP 404)"),
        // Longer than the provider's 1 s timeout.
        (HfMode::Slow(Vec::new(), 3.0), None, "no answer within 1 s"),
    ];
    for (mode, model, reason) in cases {
        let fake = FakeHf::start(mode).await;
        let app = hf_app(&fake, |c| {
            if let Some(model) = model {
                c.ai.huggingface.music_model = model.into();
            }
        })
        .await;
        let check = expect_not_ready(&app, "music", reason).await;
        assert!(check.starts_with(&format!("huggingface at {}: ", fake.base_url)), "{check}");
        assert_eq!(fake.status_calls().len(), 1, "{check}");
    }

    let addr = closed_port();
    let app = TestApp::spawn_with(|c| {
        c.ai.music_provider = optima::config::MusicProviderKind::Huggingface;
        c.ai.huggingface.base_url = format!("http://{addr}");
        c.ai.huggingface.token = HF_TOKEN.into();
        c.ai.huggingface.timeout_secs = 1;
    })
    .await;
    let check = expect_not_ready(&app, "music", "connection refused").await;
    assert_eq!(check, format!("huggingface at http://{addr}: connection refused"));
}

#[tokio::test]
async fn a_blob_store_that_went_away_makes_the_probe_503_naming_storage() {
    let app = TestApp::spawn().await;
    assert_eq!(probe(&app).await.0, 200);
    let blobs = app.server.as_ref().unwrap().state.config.blobs_dir();
    let away = blobs.with_extension("away");
    std::fs::rename(&blobs, &away).unwrap();
    expect_not_ready(&app, "storage", "No such file").await;
    std::fs::rename(&away, &blobs).unwrap();
    assert_eq!(probe(&app).await.0, 200, "ready again as soon as the folder is back");
}
