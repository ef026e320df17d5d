//! What the subscription service keeps: tiers and their changes, usage counters and quota
//! holds, payments and webhook events. The rules (what a tier admits) are the service's; a
//! store guarantees that each operation here is atomic, also with several servers on one
//! database.

pub mod postgres;
pub mod sqlite;

use chrono::{DateTime, Utc};

use super::plan::{Feature, Tier};
pub use super::admission::Usage;
use super::admission::{Admission, UsageLine};
use crate::error::AppResult;

/// A user's subscription row; users without one are on the free tier.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionRow {
    pub tier: Option<Tier>,
    pub subscription_id: Option<String>,
    pub status: Option<String>,
    pub billing_period: Option<String>,
    pub payment_provider: Option<String>,
    pub external_subscription_id: Option<String>,
    pub current_period_start: Option<String>,
    pub current_period_end: Option<String>,
    pub upgraded_at: Option<String>,
}

impl SubscriptionRow {
    pub fn tier(&self) -> Tier {
        self.tier.unwrap_or(Tier::Free)
    }
}

/// A counter to read, in the window starting at `window_start` (see `quota::window_key`).
#[derive(Debug, Clone)]
pub struct CounterKey {
    /// A feature name, or another counter kept per window (`quota::AI_WRITING_WORDS`).
    pub counter: String,
    pub window_start: String,
}

/// What a user's subscription looks like at one moment: read together.
#[derive(Debug, Clone)]
pub struct SubscriptionSnapshot {
    pub row: SubscriptionRow,
    /// The tier of the newest payment still awaiting confirmation.
    pub pending: Option<Tier>,
    /// The counters asked for, in the order asked.
    pub counters: Vec<Usage>,
}

/// Use held for work in progress: plain data, committed by the store operation that keeps the
/// work's result, or released.
#[derive(Debug, Clone)]
pub struct Hold {
    pub hold_id: String,
    pub user_id: String,
    pub feature: Feature,
    pub window_start: String,
    pub amount: u64,
}

/// A tier change and the record of who made it.
#[derive(Debug, Clone)]
pub struct TierChange {
    pub user_id: String,
    pub changed_by: String,
    pub from: Tier,
    pub to: Tier,
    pub provider: String,
    pub receipt_id: String,
    pub billing_period: Option<String>,
    pub external_id: Option<String>,
    /// Start and end of the paid period, RFC 3339.
    pub period: Option<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct NewPayment {
    pub payment_id: String,
    pub user_id: String,
    pub tier: Tier,
    pub billing_period: String,
    pub amount_cents: i64,
    pub currency: String,
    pub provider: String,
}

#[derive(Debug, Clone)]
pub struct PaymentRow {
    pub payment_id: String,
    pub user_id: String,
    pub tier: Tier,
    pub billing_period: String,
    pub status: String,
}

/// A payment provider's event about a payment.
#[derive(Debug, Clone)]
pub struct PaymentEvent {
    pub event_id: String,
    pub provider: String,
    pub kind: String,
    /// Ids the payment may be known by: ours (from the event's metadata) first, then the provider's.
    pub payment_ids: Vec<String>,
}

/// What an event does to the payment it is about, decided by the service.
#[derive(Debug, Clone)]
pub enum PaymentOutcome {
    /// The payment succeeded: mark it so and apply the change.
    Succeeded(Box<TierChange>),
    Failed,
    /// Nothing to change (the event is still recorded as seen).
    Nothing,
}

/// What applying an event came to.
#[derive(Debug, Clone)]
pub enum EventApplied {
    /// No payment of this server has any of the event's ids.
    NotOurs,
    /// The event was applied before.
    Duplicate,
    Applied { payment: PaymentRow, outcome: PaymentOutcome },
}

/// The decision a payment event calls for, given the payment and the user's tier now.
pub type DecidePayment = Box<dyn FnOnce(&PaymentRow, Tier) -> PaymentOutcome + Send>;

#[async_trait::async_trait]
pub trait SubscriptionStore: Send + Sync + 'static {
    async fn subscription(&self, user_id: &str) -> AppResult<SubscriptionRow>;

    /// The row, the pending tier, and the counters `counters(tier)` names, in one read.
    async fn snapshot(&self, user_id: &str, counters: Box<dyn FnOnce(Tier) -> Vec<CounterKey> + Send>) -> AppResult<SubscriptionSnapshot>;

    /// Where the user stands with `admission.feature`, as [`Admission::line`] computes it
    /// from the tier and the counter read together (`admission.amount` is not used).
    async fn standing(&self, admission: Admission) -> AppResult<UsageLine>;

    /// Admits `admission` and holds its amount, atomically: of concurrent requests for the
    /// last unit, across servers too, exactly one is admitted.
    async fn hold(&self, admission: Admission) -> AppResult<Hold>;

    /// Admits `admission` and charges its amount at once; the standing after the charge.
    async fn charge(&self, admission: Admission) -> AppResult<UsageLine>;

    /// Gives a hold back.
    async fn release(&self, hold: Hold) -> AppResult<()>;

    /// Turns a hold into use, for work that keeps no rows of its own; the standing after, as
    /// `standing` reads it.
    async fn commit(&self, hold: Hold, standing: Admission) -> AppResult<UsageLine>;

    /// Gives back the holds made before `before`: work that old has ended one way or the other
    /// (requests are cut at `limits.handler_timeout_secs`), so whatever still holds was left by
    /// a server that stopped. Each hold is released once, however many servers sweep at once.
    /// The number released.
    async fn release_stale_holds(&self, before: DateTime<Utc>) -> AppResult<usize>;

    /// At start: what a starting server may release. A store that only this process uses (the
    /// embedded file) releases every hold; a shared one only those made before `before`, since
    /// other servers' work may still be running.
    async fn release_holds_at_start(&self, before: DateTime<Utc>) -> AppResult<usize>;

    /// Sets the tier and records the change; the subscription's id.
    async fn change_tier(&self, change: TierChange) -> AppResult<String>;

    /// Records a payment before the provider is asked, so its webhook cannot arrive first.
    async fn insert_payment(&self, payment: NewPayment) -> AppResult<()>;

    async fn set_payment_external_id(&self, payment_id: &str, external_id: &str) -> AppResult<()>;

    /// A payment the provider refused leaves nothing behind.
    async fn delete_payment(&self, payment_id: &str) -> AppResult<()>;

    /// Applies a payment event at most once: finds the payment, records the event as seen and
    /// applies the decision, atomically. An event about no payment of this server is not
    /// recorded, so one that arrived before its payment can be retried.
    async fn apply_payment_event(&self, event: PaymentEvent, decide: DecidePayment) -> AppResult<EventApplied>;
}
