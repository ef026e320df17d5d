//! How users pay for a tier: the `PaymentProvider` trait, `manual` (operators change tiers)
//! and `stripe` (a PaymentIntent through Stripe's HTTP API, activated by a signed webhook).

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::plan::Tier;
use crate::config::StripeConfig;
use crate::error::{AppError, AppResult};

pub struct PaymentRequest<'a> {
    /// Our id for the payment; also the provider's idempotency key.
    pub payment_id: &'a str,
    pub user_id: &'a str,
    pub tier: Tier,
    pub billing_period: &'a str,
    pub amount_cents: i64,
    pub payment_method: &'a str,
}

pub struct StartedPayment {
    /// The provider's id of the payment (a Stripe PaymentIntent id).
    pub external_id: String,
    pub status: String,
}

#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync {
    fn name(&self) -> &'static str;
    fn currency(&self) -> &str;
    /// Whether users change their own tier (paying for upgrades, cancelling to free).
    fn self_service(&self) -> bool;
    /// Starts a user's payment for a paid tier. The tier is activated later, by the webhook.
    async fn start_payment(&self, request: PaymentRequest<'_>) -> AppResult<StartedPayment>;
}

/// Tiers are changed by operators (admin or service tokens) only.
pub struct ManualPayments;

pub const MANUAL_REFUSAL: &str = "tier changes on this server are made by an operator (payment provider `manual`): \
ask an administrator, or an operator can enable `subscription.payment_provider = \"stripe\"`";

#[async_trait::async_trait]
impl PaymentProvider for ManualPayments {
    fn name(&self) -> &'static str {
        "manual"
    }

    fn currency(&self) -> &str {
        "usd"
    }

    fn self_service(&self) -> bool {
        false
    }

    async fn start_payment(&self, _: PaymentRequest<'_>) -> AppResult<StartedPayment> {
        Err(AppError::forbidden_code("manual_billing", MANUAL_REFUSAL))
    }
}

pub struct StripePayments {
    client: reqwest::Client,
    config: StripeConfig,
}

#[derive(Deserialize)]
struct StripeError {
    error: StripeErrorBody,
}

#[derive(Deserialize)]
struct StripeErrorBody {
    message: Option<String>,
    code: Option<String>,
}

#[derive(Deserialize)]
struct PaymentIntent {
    id: String,
    status: String,
}

impl StripePayments {
    pub fn new(config: StripeConfig) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .build()
            .expect("an HTTP client with rustls builds");
        Self { client, config }
    }

    /// Checks `Stripe-Signature: t=…,v1=…` (HMAC-SHA256 of `t.body` with the webhook secret),
    /// refusing bad signatures and timestamps outside the tolerance (replays).
    pub fn verify_webhook(&self, header: Option<&str>, body: &[u8], now: i64) -> AppResult<()> {
        verify_signature(&self.config.webhook_secret, self.config.webhook_tolerance_secs, header, body, now)
    }
}

pub fn verify_signature(secret: &str, tolerance_secs: u64, header: Option<&str>, body: &[u8], now: i64) -> AppResult<()> {
    let invalid = |why: &str| AppError::bad_request("invalid_signature", format!("Stripe-Signature: {why}"));
    let header = header.ok_or_else(|| invalid("the header is missing"))?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => signatures.extend(decode_hex(sig)),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(|| invalid("no timestamp"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any size");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    if !signatures.iter().any(|sig| mac.clone().verify_slice(sig).is_ok()) {
        return Err(invalid("no signature matches"));
    }
    if (now - timestamp).unsigned_abs() > tolerance_secs {
        return Err(invalid("the signed timestamp is outside the tolerance (a replay?)"));
    }
    Ok(())
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[async_trait::async_trait]
impl PaymentProvider for StripePayments {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn currency(&self) -> &str {
        &self.config.currency
    }

    fn self_service(&self) -> bool {
        true
    }

    async fn start_payment(&self, r: PaymentRequest<'_>) -> AppResult<StartedPayment> {
        let url = format!("{}/v1/payment_intents", self.config.api_base.trim_end_matches('/'));
        let amount = r.amount_cents.to_string();
        let form = [
            ("amount", amount.as_str()),
            ("currency", self.config.currency.as_str()),
            ("payment_method", r.payment_method),
            ("confirm", "true"),
            ("automatic_payment_methods[enabled]", "true"),
            ("automatic_payment_methods[allow_redirects]", "never"),
            ("description", &format!("Optima {} ({})", r.tier.display_name(), r.billing_period)),
            ("metadata[payment_id]", r.payment_id),
            ("metadata[user_id]", r.user_id),
            ("metadata[tier]", r.tier.as_str()),
            ("metadata[billing_period]", r.billing_period),
        ];
        let failed = |message: String| AppError::BadGateway { code: "payment_failed", message };
        let resp = self
            .client
            .post(&url)
            .bearer_auth(&self.config.secret_key)
            .header("Idempotency-Key", r.payment_id)
            .form(&form)
            .send()
            .await
            .map_err(|e| failed(format!("Stripe could not be reached: {}", if e.is_timeout() { "timed out".to_owned() } else { e.to_string() })))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| failed(format!("reading Stripe's answer failed: {e}")))?;
        if status.is_success() {
            let intent: PaymentIntent =
                serde_json::from_str(&text).map_err(|_| failed("Stripe answered with an unreadable payment intent".into()))?;
            return Ok(StartedPayment { external_id: intent.id, status: intent.status });
        }
        let detail = serde_json::from_str::<StripeError>(&text).ok().map(|e| e.error);
        let message = detail.as_ref().and_then(|d| d.message.clone()).unwrap_or_else(|| format!("HTTP {status}"));
        Err(match status.as_u16() {
            402 => AppError::Unprocessable {
                code: "payment_declined",
                message: format!("the payment was declined: {message}"),
                details: detail.and_then(|d| d.code).map(|c| serde_json::json!({ "providerCode": c })),
            },
            400 | 404 => AppError::Unprocessable { code: "payment_rejected", message: format!("Stripe refused the payment: {message}"), details: None },
            401 | 403 => AppError::unavailable("payment_unconfigured", "payments are misconfigured on this server (Stripe refused its API key)"),
            429 => AppError::Unavailable { code: "payment_busy", message: "Stripe is rate limiting; retry shortly".into(), retry_after_secs: Some(5) },
            _ => failed(format!("Stripe failed: {message}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, t: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        format!("t={t},v1={hex}")
    }

    #[test]
    fn stripe_signatures() {
        let body = br#"{"id":"evt_1"}"#;
        let good = sign("whsec_x", 1000, body);
        assert!(verify_signature("whsec_x", 300, Some(&good), body, 1100).is_ok());
        assert!(verify_signature("whsec_x", 300, Some(&format!("v1=00,{good}")), body, 1100).is_ok(), "any v1 may match");
        for (header, now) in [
            (Some(good.as_str()), 1301),                                 // too old: a replay
            (Some(sign("whsec_other", 1000, body).as_str()), 1100),      // wrong secret
            (Some("t=1000,v1=zz"), 1100),                                 // garbage
            (Some(good.replace("t=1000", "t=1001").as_str()), 1100),     // altered timestamp
            (None, 1100),
        ] {
            assert_eq!(verify_signature("whsec_x", 300, header, body, now).unwrap_err().code(), "invalid_signature");
        }
        assert!(verify_signature("whsec_x", 300, Some(&good), br#"{"id":"evt_2"}"#, 1100).is_err(), "altered body");
    }
}
