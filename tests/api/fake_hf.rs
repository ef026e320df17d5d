//! A fake Hugging Face Inference API on 127.0.0.1:0, shared by the music and readiness tests.
//! It speaks the two routes optima calls: `POST /models/{model}` (MusicGen: the answer's body
//! is audio) and `GET /status/{model}` (the model's status), each as the test's [`HfMode`]
//! says. It serves one model, [`MODEL`]; any other is 404, as on the real API.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use optima::config::MusicProviderKind;
use poem::EndpointExt;
use poem::listener::{Acceptor, Listener, TcpListener};
use serde_json::Value;

use crate::helpers::TestApp;

/// The model the fake serves.
pub const MODEL: &str = "facebook/musicgen-small";

#[derive(Clone)]
pub enum HfMode {
    /// 200 with this WAV.
    Audio(Vec<u8>),
    /// 503 "loading" on the first call, then 200 with this WAV.
    LoadingThenAudio(Vec<u8>),
    /// 503 "loading" for ever.
    AlwaysLoading,
    /// 500.
    ServerError,
    /// 401.
    Unauthorized,
    /// 200 with "hello" as text/plain.
    NotAudio,
    /// Answers 200 with this WAV after `seconds`.
    Slow(Vec<u8>, f64),
    /// Waits for `open`, then 200 with this WAV.
    Gated(Vec<u8>),
    /// The model is too big for the API: its status says `TooBig`, a generation is refused.
    TooBig,
}

#[derive(Debug, Clone)]
pub struct HfCall {
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
}

#[derive(Clone)]
pub struct FakeHf {
    pub base_url: String,
    mode: Arc<Mutex<HfMode>>,
    /// Generations (`POST /models/…`).
    calls: Arc<Mutex<Vec<HfCall>>>,
    /// Status requests (`GET /status/…`).
    status_calls: Arc<Mutex<Vec<HfCall>>>,
    served: Arc<AtomicUsize>,
    pub open: Arc<AtomicBool>,
}

const LOADING: &str = r#"{"error":"Model facebook/musicgen-small is currently loading","estimated_time":0.5}"#;

fn answer(status: u16, content_type: &str, body: Vec<u8>) -> poem::Response {
    poem::Response::builder().status(poem::http::StatusCode::from_u16(status).unwrap()).content_type(content_type).body(body)
}

fn record(req: &poem::Request, body: &[u8]) -> HfCall {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    HfCall {
        path: req.uri().path().to_owned(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
    }
}

/// The 404 the API answers for a model it does not serve, if `path` names one.
fn unknown_model(path: &str, prefix: &str) -> Option<poem::Response> {
    let model = path.strip_prefix(prefix).unwrap_or_default();
    (model != MODEL).then(|| answer(404, "application/json", format!(r#"{{"error":"Model {model} does not exist"}}"#).into_bytes()))
}

#[poem::handler]
async fn generation(req: &poem::Request, body: Vec<u8>, poem::web::Data(fake): poem::web::Data<&FakeHf>) -> poem::Response {
    fake.calls.lock().unwrap().push(record(req, &body));
    if let Some(not_found) = unknown_model(req.uri().path(), "/models/") {
        return not_found;
    }
    let n = fake.served.fetch_add(1, Ordering::SeqCst) + 1;
    let mode = fake.mode.lock().unwrap().clone();
    match mode {
        HfMode::Audio(wav) => answer(200, "audio/wav", wav),
        HfMode::LoadingThenAudio(wav) if n > 1 => answer(200, "audio/wav", wav),
        HfMode::LoadingThenAudio(_) | HfMode::AlwaysLoading => answer(503, "application/json", LOADING.into()),
        HfMode::ServerError => answer(500, "application/json", br#"{"error":"internal error"}"#.to_vec()),
        HfMode::Unauthorized => answer(401, "application/json", br#"{"error":"Invalid credentials in Authorization header"}"#.to_vec()),
        HfMode::NotAudio => answer(200, "text/plain", b"hello".to_vec()),
        HfMode::Slow(wav, secs) => {
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            answer(200, "audio/wav", wav)
        }
        HfMode::Gated(wav) => {
            while !fake.open.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            answer(200, "audio/wav", wav)
        }
        HfMode::TooBig => answer(
            403,
            "application/json",
            br#"{"error":"The model facebook/musicgen-small is too large to be loaded automatically (12GB > 10GB)."}"#.to_vec(),
        ),
    }
}

/// The API's model status: `{loaded, state, compute_type, framework}`.
#[poem::handler]
async fn model_status(req: &poem::Request, poem::web::Data(fake): poem::web::Data<&FakeHf>) -> poem::Response {
    fake.status_calls.lock().unwrap().push(record(req, &[]));
    if let Some(not_found) = unknown_model(req.uri().path(), "/status/") {
        return not_found;
    }
    let state = |loaded: bool, state: &str| {
        let body = serde_json::json!({ "loaded": loaded, "state": state, "compute_type": "gpu", "framework": "transformers" });
        answer(200, "application/json", body.to_string().into_bytes())
    };
    let mode = fake.mode.lock().unwrap().clone();
    match mode {
        HfMode::Audio(_) | HfMode::NotAudio => state(true, "Loaded"),
        HfMode::LoadingThenAudio(_) | HfMode::AlwaysLoading => state(false, "Loadable"),
        HfMode::ServerError => answer(500, "application/json", br#"{"error":"internal error"}"#.to_vec()),
        HfMode::Unauthorized => answer(401, "application/json", br#"{"error":"Invalid credentials in Authorization header"}"#.to_vec()),
        HfMode::Slow(_, secs) => {
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            state(true, "Loaded")
        }
        HfMode::Gated(_) => {
            while !fake.open.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            state(true, "Loaded")
        }
        HfMode::TooBig => state(false, "TooBig"),
    }
}

impl FakeHf {
    pub async fn start(mode: HfMode) -> Self {
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.expect("bind the fake Hugging Face");
        let addr = *acceptor.local_addr()[0].as_socket_addr().expect("a socket address");
        let fake = FakeHf {
            base_url: format!("http://{addr}"),
            mode: Arc::new(Mutex::new(mode)),
            calls: Arc::default(),
            status_calls: Arc::default(),
            served: Arc::default(),
            open: Arc::default(),
        };
        let routes = poem::Route::new()
            .at("/models/*model", poem::post(generation))
            .at("/status/*model", poem::get(model_status))
            .data(fake.clone());
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(routes));
        fake
    }

    /// Changes what the fake answers from now on, and forgets the generations it was asked for.
    pub fn set(&self, mode: HfMode) {
        *self.mode.lock().unwrap() = mode;
        self.calls.lock().unwrap().clear();
        self.served.store(0, Ordering::SeqCst);
    }

    /// The generations asked for since the last [`FakeHf::set`].
    pub fn calls(&self) -> Vec<HfCall> {
        self.calls.lock().unwrap().clone()
    }

    /// Every status request.
    pub fn status_calls(&self) -> Vec<HfCall> {
        self.status_calls.lock().unwrap().clone()
    }

    /// Points `config`'s `huggingface` music provider at this fake, with the token `hf_test`.
    pub fn configure(&self, c: &mut optima::config::Config, timeout_secs: u64, max_wait_secs: u64) {
        c.ai.music_provider = MusicProviderKind::Huggingface;
        c.ai.huggingface.base_url = self.base_url.clone();
        c.ai.huggingface.token = "hf_test".into();
        c.ai.huggingface.music_model = MODEL.into();
        c.ai.huggingface.timeout_secs = timeout_secs;
        c.ai.huggingface.max_wait_secs = max_wait_secs;
    }

    /// The fake, and an app using it as its music provider.
    pub async fn app(mode: HfMode, timeout_secs: u64, max_wait_secs: u64) -> (TestApp, FakeHf) {
        let fake = FakeHf::start(mode).await;
        let app = TestApp::spawn_with(|c| fake.configure(c, timeout_secs, max_wait_secs)).await;
        (app, fake)
    }
}
