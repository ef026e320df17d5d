//! A fake OpenAI-compatible server on 127.0.0.1:0, shared by the chat, image, writers and
//! readiness tests. It speaks the three routes optima calls: `POST /v1/chat/completions`,
//! `POST /v1/images/generations` and `GET /v1/models`, each answering as the test's
//! [`Scenario`] says; any other route is OpenAI's 404 `unknown_url`. A completion asked with
//! `"stream": true` answers as OpenAI streams: `data: {chat.completion.chunk}` events, a word
//! of the reply each, then one with the usage, then `data: [DONE]`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use optima::config::{Config, ImageProviderKind, TextProviderKind};
use poem::http::{Method, StatusCode};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Request, Response};
use serde_json::{Value, json};

use crate::blobs::encoded;
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
    /// 200 with `application/json` and a body that is not JSON.
    Garbage,
    /// 200 with an HTML page, as a proxy in the way answers.
    NotJson,
    /// A well-formed answer with nothing in it: no choices, no images.
    NoChoices,
    /// OpenAI's 400 `content_policy_violation`.
    ContentPolicy,
    /// An image answer whose `b64_json` is not an image (a completion answers as in `Ok`).
    NotAnImage,
    /// 401, quoting the key it was sent (OpenAI quotes part of it).
    Unauthorized,
    Forbidden,
    NotFound,
    /// A streamed completion that stops after two pieces, without `[DONE]` (a dropped
    /// connection); a completion that is not streamed answers as in `Ok`.
    StreamCut,
    /// A streamed completion whose third event is an error object, as OpenAI sends mid-stream.
    StreamError,
    /// A streamed completion a word every 300 ms: longer in all than the 1 s timeout, never
    /// silent for that long.
    StreamSlowly,
    /// A streamed completion that falls silent for 3 s after two words.
    StreamStall,
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
    completion: Arc<Mutex<String>>,
}

/// The reply of a chat completion until a test sets another ([`FakeOpenAi::reply`]).
const REPLY: &str = "Hello from the fake";

/// A chat completion answering `content`, with its token counts.
fn completion(content: &str, prompt_tokens: u64, completion_tokens: u64) -> String {
    json!({
        "id": "x", "object": "chat.completion", "model": "test-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens},
    })
    .to_string()
}

const MODELS: &str = r#"{"object":"list","data":[{"id":"test-model","object":"model","created":1700000000,"owned_by":"fake"},{"id":"test-image-model","object":"model","created":1700000000,"owned_by":"fake"}]}"#;

/// A real 1792×1024 PNG: a gradient with a marker pixel pattern.
fn provider_png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(1792, 1024, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x / 7 + y / 5) % 256) as u8]));
    encoded(image::DynamicImage::ImageRgb8(img), image::ImageFormat::Png)
}

/// An Images API answer carrying `bytes` as its one image.
fn images(bytes: &[u8], revised_prompt: &str) -> String {
    json!({ "created": 1_700_000_000, "data": [{ "b64_json": STANDARD.encode(bytes), "revised_prompt": revised_prompt }] }).to_string()
}

/// The bodies of a route's 200s: the full answer, an empty one ([`Scenario::NoChoices`]) and
/// one whose image is not an image ([`Scenario::NotAnImage`]).
struct Bodies {
    ok: String,
    empty: String,
    not_an_image: String,
}

impl Bodies {
    /// A route with nothing to leave out: every 200 is `ok`.
    fn always(ok: &str) -> Self {
        Self { ok: ok.to_owned(), empty: ok.to_owned(), not_an_image: ok.to_owned() }
    }
}

/// A completion streamed as OpenAI streams it (`completion` is the whole answer's JSON): a chunk
/// per word. [`Scenario::Gated`] sends the first word at once and the rest when the test lets
/// it; [`Scenario::StreamCut`] and [`Scenario::StreamError`] break off after two words.
fn streamed(completion: &str, scenario: Scenario, gate: Arc<tokio::sync::Semaphore>) -> Response {
    let whole: Value = serde_json::from_str(completion).expect("the completion is JSON");
    let content = whole["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_owned();
    let usage = whole["usage"].clone();
    let chunk = |delta: Value| {
        let chunk = json!({"id": "x", "object": "chat.completion.chunk", "model": "test-model", "choices": [{"index": 0, "delta": delta, "finish_reason": null}]});
        format!("data: {chunk}\n\n")
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        let send = |text: String| {
            let tx = tx.clone();
            async move { tx.send(Ok(bytes::Bytes::from(text))).await.is_ok() }
        };
        if !send(chunk(json!({"role": "assistant", "content": ""}))).await {
            return;
        }
        for (i, word) in content.split_inclusive(' ').enumerate() {
            if i == 1 && scenario == Scenario::Gated {
                gate.acquire().await.expect("the gate stays open").forget();
            }
            if i == 2 && scenario == Scenario::StreamCut {
                return;
            }
            if scenario == Scenario::StreamSlowly && i > 0 {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            if i == 2 && scenario == Scenario::StreamStall {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            if i == 2 && scenario == Scenario::StreamError {
                send("data: {\"error\":{\"message\":\"The server had an error while processing your request.\",\"type\":\"server_error\"}}\n\n".into()).await;
                return;
            }
            if !send(chunk(json!({"content": word}))).await {
                return;
            }
        }
        let last = json!({"id": "x", "object": "chat.completion.chunk", "model": "test-model", "choices": [], "usage": usage});
        send(format!("data: {last}\n\n")).await;
        send("data: [DONE]\n\n".into()).await;
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    Response::builder().status(StatusCode::OK).content_type("text/event-stream").body(poem::Body::from_bytes_stream(body))
}

fn json_response(status: StatusCode, body: &str) -> Response {
    Response::builder().status(status).content_type("application/json").body(body.to_owned())
}

/// The answer of a route with these `bodies` in this scenario.
async fn answer(scenario: Scenario, bodies: &Bodies, authorization: Option<&str>, gate: &tokio::sync::Semaphore) -> Response {
    let ok = bodies.ok.as_str();
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
        Scenario::NotJson => Response::builder().status(StatusCode::OK).content_type("text/html").body("<html>not json</html>"),
        Scenario::NoChoices => json_response(StatusCode::OK, &bodies.empty),
        Scenario::ContentPolicy => json_response(
            StatusCode::BAD_REQUEST,
            r#"{"error":{"code":"content_policy_violation","message":"Your request was rejected","type":"invalid_request_error"}}"#,
        ),
        Scenario::NotAnImage => json_response(StatusCode::OK, &bodies.not_an_image),
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
        Scenario::StreamCut | Scenario::StreamError | Scenario::StreamSlowly | Scenario::StreamStall => json_response(StatusCode::OK, ok),
    }
}

impl FakeOpenAi {
    pub async fn start() -> Self {
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.expect("fake binds");
        let addr = acceptor.local_addr().first().and_then(|a| a.as_socket_addr().copied()).expect("fake address");
        let scenario = Arc::new(Mutex::new(Scenario::Ok));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let completion = Arc::new(Mutex::new(completion(REPLY, 12, 5)));
        let image = Arc::new(Bodies {
            ok: images(&provider_png(), "A revised prompt"),
            empty: r#"{"created":1,"data":[]}"#.into(),
            not_an_image: images(b"definitely not an image", "x"),
        });
        let (s, r, g, c) = (scenario.clone(), requests.clone(), gate.clone(), completion.clone());
        let endpoint = poem::endpoint::make(move |mut req: Request| {
            let (s, r, g, c, image) = (s.clone(), r.clone(), g.clone(), c.clone(), image.clone());
            async move {
                let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
                let (authorization, content_type) = (header("authorization"), header("content-type"));
                let (method, path) = (req.method().clone(), req.uri().path().to_owned());
                let raw = req.take_body().into_string().await.unwrap_or_default();
                let body: Value = serde_json::from_str(&raw).unwrap_or(Value::String(raw));
                let streaming = body["stream"] == true;
                r.lock().unwrap().push(Recorded {
                    method: method.to_string(),
                    path: path.clone(),
                    authorization: authorization.clone(),
                    content_type,
                    body,
                });
                let scenario = *s.lock().unwrap();
                let auth = authorization.as_deref();
                match (method, path.as_str()) {
                    (Method::POST, "/v1/chat/completions") if streaming => {
                        let ok = c.lock().unwrap().clone();
                        match scenario {
                            Scenario::Ok | Scenario::Gated | Scenario::StreamCut | Scenario::StreamError | Scenario::StreamSlowly | Scenario::StreamStall => {
                                streamed(&ok, scenario, g.clone())
                            }
                            other => answer(other, &Bodies::always(&ok), auth, &g).await,
                        }
                    }
                    (Method::POST, "/v1/chat/completions") => {
                        let ok = c.lock().unwrap().clone();
                        let bodies = Bodies { empty: r#"{"id":"x","object":"chat.completion","choices":[]}"#.into(), ..Bodies::always(&ok) };
                        answer(scenario, &bodies, auth, &g).await
                    }
                    (Method::POST, "/v1/images/generations") => answer(scenario, &image, auth, &g).await,
                    // The list answers whatever a generation would not: a missing model is
                    // simply not listed.
                    (Method::GET, "/v1/models") => {
                        let scenario = match scenario {
                            Scenario::StreamCut | Scenario::StreamError | Scenario::StreamSlowly | Scenario::StreamStall => Scenario::Ok,
                            Scenario::Garbage | Scenario::NoChoices | Scenario::NotFound | Scenario::ContentPolicy | Scenario::NotAnImage => Scenario::Ok,
                            other => other,
                        };
                        answer(scenario, &Bodies::always(MODELS), auth, &g).await
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
        Self { addr, scenario, requests, gate, completion }
    }

    /// Chat completions answer `content` from now on, with these token counts.
    pub fn reply(&self, content: &str, prompt_tokens: u64, completion_tokens: u64) {
        *self.completion.lock().unwrap() = completion(content, prompt_tokens, completion_tokens);
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
    pub async fn app(&self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        self.spawn(|config| {
            config.ai.text_provider = TextProviderKind::Openai;
            config.ai.openai.chat_model = "test-model".into();
            adjust(config);
        })
        .await
    }

    /// An app using this fake as its `openai` image provider (the default image model).
    pub async fn image_app(&self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        self.spawn(|config| {
            config.ai.image_provider = ImageProviderKind::Openai;
            adjust(config);
        })
        .await
    }

    /// An app whose `openai` settings point here, with the key `sk-test` and a 1 s timeout;
    /// `adjust` picks the providers that use them.
    async fn spawn(&self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let base = self.base_url();
        TestApp::spawn_with(move |config| {
            config.ai.openai.base_url = base;
            config.ai.openai.api_key = "sk-test".into();
            config.ai.openai.timeout_secs = 1;
            adjust(config);
        })
        .await
    }
}
