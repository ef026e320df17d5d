//! A fake OpenAI-compatible server on 127.0.0.1:0, shared by the chat and readiness tests. It
//! speaks the two routes optima calls: `POST /v1/chat/completions` and `GET /v1/models`, each
//! answering as the test's [`Scenario`] says; any other route is OpenAI's 404 `unknown_url`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use optima::config::TextProviderKind;
use poem::http::{Method, StatusCode};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Request, Response};
use serde_json::Value;

use crate::helpers::TestApp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Ok,
    Busy,
    ServerError,
    Slow,
    /// Answers well, after 600 ms (within the 1 s timeout).
    Delayed,
    /// Answers well once the test lets it ([`FakeOpenAi::release`]), so a test orders calls
    /// without guessing how long anything takes.
    Gated,
    Garbage,
    NoChoices,
    /// 401, quoting the key it was sent (OpenAI quotes part of it).
    Unauthorized,
    Forbidden,
    NotFound,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
}

pub struct FakeOpenAi {
    pub addr: SocketAddr,
    scenario: Arc<Mutex<Scenario>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    gate: Arc<tokio::sync::Semaphore>,
}

const FAKE_OK: &str = r#"{"id":"x","object":"chat.completion","model":"test-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the fake"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}"#;

const MODELS: &str = r#"{"object":"list","data":[{"id":"test-model","object":"model","created":1700000000,"owned_by":"fake"},{"id":"test-image-model","object":"model","created":1700000000,"owned_by":"fake"}]}"#;

fn json_response(status: StatusCode, body: &str) -> Response {
    Response::builder().status(status).content_type("application/json").body(body.to_owned())
}

/// The answer of a route that succeeds with `ok` in this scenario.
async fn answer(scenario: Scenario, ok: &str, authorization: Option<&str>, gate: &tokio::sync::Semaphore) -> Response {
    match scenario {
        Scenario::Ok => json_response(StatusCode::OK, ok),
        Scenario::Busy => Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header("Retry-After", "7")
            .content_type("application/json")
            .body(r#"{"error":{"message":"Rate limit reached","type":"requests"}}"#),
        Scenario::ServerError => json_response(StatusCode::INTERNAL_SERVER_ERROR, r#"{"error":{"message":"boom"}}"#),
        Scenario::Slow => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            json_response(StatusCode::OK, ok)
        }
        Scenario::Delayed => {
            tokio::time::sleep(Duration::from_millis(600)).await;
            json_response(StatusCode::OK, ok)
        }
        Scenario::Gated => {
            gate.acquire().await.expect("the gate stays open").forget();
            json_response(StatusCode::OK, ok)
        }
        Scenario::Garbage => Response::builder().status(StatusCode::OK).content_type("application/json").body("not json"),
        Scenario::NoChoices => json_response(StatusCode::OK, r#"{"id":"x","object":"chat.completion","choices":[]}"#),
        Scenario::Unauthorized => {
            let key = authorization.and_then(|a| a.strip_prefix("Bearer ")).unwrap_or_default();
            let body = serde_json::json!({ "error": {
                "message": format!("Incorrect API key provided: {key}."),
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }});
            json_response(StatusCode::UNAUTHORIZED, &body.to_string())
        }
        Scenario::Forbidden => json_response(StatusCode::FORBIDDEN, r#"{"error":{"message":"forbidden"}}"#),
        Scenario::NotFound => json_response(StatusCode::NOT_FOUND, r#"{"error":{"message":"The model `test-model` does not exist"}}"#),
    }
}

impl FakeOpenAi {
    pub async fn start() -> Self {
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.expect("fake binds");
        let addr = acceptor.local_addr().first().and_then(|a| a.as_socket_addr().copied()).expect("fake address");
        let scenario = Arc::new(Mutex::new(Scenario::Ok));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let (s, r, g) = (scenario.clone(), requests.clone(), gate.clone());
        let endpoint = poem::endpoint::make(move |mut req: Request| {
            let (s, r, g) = (s.clone(), r.clone(), g.clone());
            async move {
                let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
                let (authorization, content_type) = (header("authorization"), header("content-type"));
                let (method, path) = (req.method().clone(), req.uri().path().to_owned());
                let raw = req.take_body().into_string().await.unwrap_or_default();
                let body = serde_json::from_str(&raw).unwrap_or(Value::String(raw));
                r.lock().unwrap().push(Recorded {
                    method: method.to_string(),
                    path: path.clone(),
                    authorization: authorization.clone(),
                    content_type,
                    body,
                });
                let scenario = *s.lock().unwrap();
                match (method, path.as_str()) {
                    (Method::POST, "/v1/chat/completions") => answer(scenario, FAKE_OK, authorization.as_deref(), &g).await,
                    // The list answers whatever a chat completion would not: a missing model is
                    // simply not listed.
                    (Method::GET, "/v1/models") => {
                        let scenario = if matches!(scenario, Scenario::Garbage | Scenario::NoChoices | Scenario::NotFound) { Scenario::Ok } else { scenario };
                        answer(scenario, MODELS, authorization.as_deref(), &g).await
                    }
                    (method, path) => {
                        let message = format!("Unknown request URL: {method} {path}. Please check the URL for typos.");
                        let body = serde_json::json!({ "error": { "message": message, "type": "invalid_request_error", "code": "unknown_url" } });
                        json_response(StatusCode::NOT_FOUND, &body.to_string())
                    }
                }
            }
        });
        tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(endpoint).await;
        });
        Self { addr, scenario, requests, gate }
    }

    /// The base URL a client configures (`http://127.0.0.1:<port>/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Lets `n` calls waiting in [`Scenario::Gated`] (or arriving later) answer.
    pub fn release(&self, n: usize) {
        self.gate.add_permits(n);
    }

    pub fn set(&self, scenario: Scenario) {
        *self.scenario.lock().unwrap() = scenario;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The requests sent to `path` (e.g. `/v1/models`).
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.path == path).collect()
    }

    pub fn last(&self) -> Recorded {
        self.requests().last().cloned().expect("the fake was called")
    }

    /// An app using this fake as its `openai` text provider.
    pub async fn app(&self, adjust: impl FnOnce(&mut optima::config::Config)) -> TestApp {
        let base = self.base_url();
        TestApp::spawn_with(move |config| {
            config.ai.text_provider = TextProviderKind::Openai;
            config.ai.openai.base_url = base;
            config.ai.openai.api_key = "sk-test".into();
            config.ai.openai.chat_model = "test-model".into();
            config.ai.openai.timeout_secs = 1;
            adjust(config);
        })
        .await
    }
}
