//! A fake Stripe API on 127.0.0.1:0 for the subscription tests. It speaks the one route optima
//! calls, `POST /v1/payment_intents` (a form, the secret key as Bearer, an `Idempotency-Key`),
//! records every request, and answers as Stripe's test payment methods do: `pm_card_visa`
//! succeeds, `pm_card_chargeDeclined` is a 402 `card_declined`, `pm_fake_server_error` a 500;
//! `pm_card_visa_fast_webhook` succeeds and delivers `payment_intent.succeeded` to the app (see
//! [`FakeStripe::deliver_webhooks_to`]) before answering. [`sign`] signs a webhook as Stripe does.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use optima::config::PaymentProviderKind;
use poem::EndpointExt;
use poem::listener::{Acceptor, Listener, TcpListener};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::TestApp;

/// The secret key the app is given; Stripe sees it as `Bearer sk_test_x`.
pub const SECRET_KEY: &str = "sk_test_x";
/// The webhook signing secret the app is given.
pub const WEBHOOK_SECRET: &str = "whsec_test";

#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub path: String,
    pub authorization: Option<String>,
    pub idempotency_key: Option<String>,
    pub content_type: Option<String>,
    pub form: HashMap<String, String>,
}

#[derive(Clone, Default)]
pub struct FakeStripe {
    addr: Option<SocketAddr>,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
    next_id: Arc<AtomicUsize>,
    /// Where to deliver `payment_intent.succeeded` at once, before answering the API call
    /// (for payment method `pm_card_visa_fast_webhook`), and the app's answers to it.
    webhook_url: Arc<Mutex<Option<String>>>,
    webhook_answers: Arc<Mutex<Vec<(u16, Value)>>>,
}

/// A `Stripe-Signature` header for `body` sent at `t` (Unix seconds), signed with `secret`.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

impl FakeStripe {
    pub async fn start() -> Self {
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.expect("bind the fake Stripe");
        let addr = *acceptor.local_addr()[0].as_socket_addr().expect("a socket address");
        let fake = Self { addr: Some(addr), ..Self::default() };
        let routes = poem::Route::new().at("/v1/payment_intents", poem::post(payment_intents)).data(fake.clone());
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(routes));
        fake
    }

    /// The base URL a client configures (`http://127.0.0.1:<port>`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr.expect("started"))
    }

    /// An app whose payment provider is this fake, with [`SECRET_KEY`] and [`WEBHOOK_SECRET`].
    pub async fn app(&self) -> TestApp {
        let base = self.base_url();
        TestApp::spawn_with(move |c| {
            c.subscription.payment_provider = PaymentProviderKind::Stripe;
            c.subscription.stripe.api_base = base;
            c.subscription.stripe.secret_key = SECRET_KEY.into();
            c.subscription.stripe.webhook_secret = WEBHOOK_SECRET.into();
        })
        .await
    }

    /// Every request Stripe received, oldest first.
    pub fn seen(&self) -> Vec<SeenRequest> {
        self.seen.lock().unwrap().clone()
    }

    /// From now on a `pm_card_visa_fast_webhook` payment delivers its event to `url` before
    /// Stripe answers the app.
    pub fn deliver_webhooks_to(&self, url: String) {
        *self.webhook_url.lock().unwrap() = Some(url);
    }

    /// The app's answers to the webhooks delivered: status and body.
    pub fn webhook_answers(&self) -> Vec<(u16, Value)> {
        self.webhook_answers.lock().unwrap().clone()
    }
}

#[poem::handler]
async fn payment_intents(
    req: &poem::Request,
    poem::web::Form(form): poem::web::Form<HashMap<String, String>>,
    poem::web::Data(fake): poem::web::Data<&FakeStripe>,
) -> poem::Response {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    fake.seen.lock().unwrap().push(SeenRequest {
        path: req.uri().path().to_owned(),
        authorization: header("authorization"),
        idempotency_key: header("idempotency-key"),
        content_type: header("content-type"),
        form: form.clone(),
    });
    let answer = |status: u16, body: Value| {
        poem::Response::builder()
            .status(poem::http::StatusCode::from_u16(status).unwrap())
            .content_type("application/json")
            .body(body.to_string())
    };
    match form.get("payment_method").map(String::as_str) {
        Some("pm_card_chargeDeclined") => answer(
            402,
            json!({"error": {"type": "card_error", "code": "card_declined", "message": "Your card was declined."}}),
        ),
        Some("pm_fake_server_error") => answer(500, json!({"error": {"type": "api_error", "message": "Something went wrong on Stripe's end."}})),
        method => {
            let n = fake.next_id.fetch_add(1, Ordering::SeqCst) + 1;
            let id = format!("pi_test_{n}");
            let url = fake.webhook_url.lock().unwrap().clone();
            if let (Some("pm_card_visa_fast_webhook"), Some(url)) = (method, url) {
                // Stripe creates the event when the confirmed intent succeeds; its delivery
                // may reach the app before the app has read this answer.
                let body = serde_json::to_vec(&json!({
                    "id": format!("evt_fast_{n}"), "object": "event", "type": "payment_intent.succeeded",
                    "data": {"object": {"id": id, "object": "payment_intent", "status": "succeeded",
                        "metadata": {"payment_id": form.get("metadata[payment_id]"), "user_id": form.get("metadata[user_id]")}}}
                }))
                .unwrap();
                let resp = reqwest::Client::new()
                    .post(url)
                    .header("content-type", "application/json")
                    .header("stripe-signature", sign(WEBHOOK_SECRET, Utc::now().timestamp(), &body))
                    .body(body)
                    .send()
                    .await
                    .expect("deliver the webhook");
                let status = resp.status().as_u16();
                let ack: Value = resp.json().await.unwrap_or(Value::Null);
                fake.webhook_answers.lock().unwrap().push((status, ack));
            }
            answer(200, json!({"id": id, "object": "payment_intent", "status": "succeeded", "amount": form.get("amount")}))
        }
    }
}
