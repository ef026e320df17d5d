//! SQL of subscriptions, usage counters, tier changes, payments and webhook events.

use rusqlite::{OptionalExtension, Transaction, params};

use super::plan::{Feature, Tier};
use crate::db::{CachedSql, now_text};

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

pub fn subscription(c: &rusqlite::Connection, user_id: &str) -> rusqlite::Result<SubscriptionRow> {
    c.query_row_cached(
        "SELECT tier, subscription_id, status, billing_period, payment_provider, external_subscription_id,
                current_period_start, current_period_end, upgraded_at
         FROM subscription_tiers WHERE user_id = ?1",
        [user_id],
        |r| {
            Ok(SubscriptionRow {
                tier: Tier::parse(&r.get::<_, String>(0)?),
                subscription_id: r.get(1)?,
                status: r.get(2)?,
                billing_period: r.get(3)?,
                payment_provider: r.get(4)?,
                external_subscription_id: r.get(5)?,
                current_period_start: r.get(6)?,
                current_period_end: r.get(7)?,
                upgraded_at: r.get(8)?,
            })
        },
    )
    .optional()
    .map(Option::unwrap_or_default)
}

pub struct TierChange<'a> {
    pub user_id: &'a str,
    pub changed_by: &'a str,
    pub from: Tier,
    pub to: Tier,
    pub provider: &'a str,
    pub receipt_id: &'a str,
    pub billing_period: Option<&'a str>,
    pub external_id: Option<&'a str>,
    pub period: Option<(String, String)>,
}

/// Sets the tier and records who changed it, when, from what, to what, with which receipt.
pub fn apply_tier_change(tx: &Transaction, change: &TierChange) -> rusqlite::Result<String> {
    let now = now_text();
    let existing: Option<String> = tx
        .query_row_cached("SELECT subscription_id FROM subscription_tiers WHERE user_id = ?1", [change.user_id], |r| r.get(0))
        .optional()?;
    let subscription_id = existing.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let (start, end) = change.period.clone().unzip();
    tx.execute_cached(
        "INSERT INTO subscription_tiers (user_id, tier, subscription_id, status, billing_period, payment_provider,
                                         external_subscription_id, current_period_start, current_period_end, upgraded_at)
         VALUES (?1, ?2, ?3, 'active', ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (user_id) DO UPDATE SET tier = excluded.tier, status = 'active',
           billing_period = excluded.billing_period, payment_provider = excluded.payment_provider,
           external_subscription_id = excluded.external_subscription_id,
           current_period_start = excluded.current_period_start, current_period_end = excluded.current_period_end,
           upgraded_at = excluded.upgraded_at",
        params![
            change.user_id,
            change.to.as_str(),
            subscription_id,
            change.billing_period,
            change.provider,
            change.external_id,
            start,
            end,
            now
        ],
    )?;
    tx.execute_cached(
        "INSERT INTO subscription_changes (change_id, user_id, changed_by, from_tier, to_tier, provider, receipt, changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            uuid::Uuid::now_v7().to_string(),
            change.user_id,
            change.changed_by,
            change.from.as_str(),
            change.to.as_str(),
            change.provider,
            change.receipt_id,
            now
        ],
    )?;
    Ok(subscription_id)
}

/// Committed and reserved use of a feature in the window starting at `window_start`.
/// `counter` is a feature name, or another counter kept per window (e.g. words processed).
pub fn usage(c: &rusqlite::Connection, user_id: &str, counter: &str, window_start: &str) -> rusqlite::Result<(u64, u64)> {
    c.query_row_cached(
        "SELECT used, reserved FROM usage_counters WHERE user_id = ?1 AND feature = ?2 AND window_start = ?3",
        params![user_id, counter, window_start],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map(Option::unwrap_or_default)
}

/// Adds to `used` (a charge) or to `reserved` (a hold) of the window's counter.
pub fn add_usage(tx: &Transaction, user_id: &str, feature: Feature, window_start: &str, used: u64, reserved: u64) -> rusqlite::Result<()> {
    add_to_counter(tx, user_id, feature.as_str(), window_start, used, reserved)
}

pub fn add_to_counter(tx: &Transaction, user_id: &str, counter: &str, window_start: &str, used: u64, reserved: u64) -> rusqlite::Result<()> {
    tx.execute_cached(
        "INSERT INTO usage_counters (user_id, feature, window_start, used, reserved) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (user_id, feature, window_start)
         DO UPDATE SET used = used + excluded.used, reserved = reserved + excluded.reserved",
        params![user_id, counter, window_start, used, reserved],
    )?;
    Ok(())
}

/// Turns a hold into use (`commit`) or drops it.
pub fn settle_hold(tx: &Transaction, user_id: &str, feature: Feature, window_start: &str, amount: u64, commit: bool) -> rusqlite::Result<()> {
    tx.execute_cached(
        "UPDATE usage_counters SET reserved = max(reserved - ?4, 0), used = used + ?5
         WHERE user_id = ?1 AND feature = ?2 AND window_start = ?3",
        params![user_id, feature.as_str(), window_start, amount, if commit { amount } else { 0 }],
    )?;
    Ok(())
}

/// Holds cannot outlive the process that made them: drop them all at start.
pub fn clear_holds(tx: &Transaction) -> rusqlite::Result<usize> {
    tx.execute_cached("UPDATE usage_counters SET reserved = 0 WHERE reserved > 0", [])
}

pub struct PaymentRow {
    pub payment_id: String,
    pub user_id: String,
    pub tier: Tier,
    pub billing_period: String,
    pub status: String,
}

pub struct NewPayment<'a> {
    pub payment_id: &'a str,
    pub user_id: &'a str,
    pub tier: Tier,
    pub billing_period: &'a str,
    pub amount_cents: i64,
    pub currency: &'a str,
    pub provider: &'a str,
}

/// Recorded before the provider is asked, so its webhook can never arrive first.
pub fn insert_payment(tx: &Transaction, p: &NewPayment) -> rusqlite::Result<()> {
    tx.execute_cached(
        "INSERT INTO payments (payment_id, user_id, tier, billing_period, amount_cents, currency, provider, status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending')",
        params![p.payment_id, p.user_id, p.tier.as_str(), p.billing_period, p.amount_cents, p.currency, p.provider],
    )?;
    Ok(())
}

pub fn set_payment_external_id(tx: &Transaction, payment_id: &str, external_id: &str) -> rusqlite::Result<()> {
    tx.execute_cached(
        "UPDATE payments SET external_id = ?2, updated_at = ?3 WHERE payment_id = ?1",
        params![payment_id, external_id, now_text()],
    )?;
    Ok(())
}

/// A payment the provider refused leaves nothing behind.
pub fn delete_payment(tx: &Transaction, payment_id: &str) -> rusqlite::Result<()> {
    tx.execute_cached("DELETE FROM payments WHERE payment_id = ?1", [payment_id])?;
    Ok(())
}

/// A payment by our id or by the provider's.
pub fn payment(tx: &Transaction, id: &str) -> rusqlite::Result<Option<PaymentRow>> {
    tx.query_row_cached(
        "SELECT payment_id, user_id, tier, billing_period, status FROM payments WHERE payment_id = ?1 OR external_id = ?1",
        [id],
        |r| {
            Ok(PaymentRow {
                payment_id: r.get(0)?,
                user_id: r.get(1)?,
                tier: Tier::parse(&r.get::<_, String>(2)?).unwrap_or(Tier::Free),
                billing_period: r.get(3)?,
                status: r.get(4)?,
            })
        },
    )
    .optional()
}

/// The tier of the user's newest payment still awaiting confirmation.
pub fn pending_tier(c: &rusqlite::Connection, user_id: &str) -> rusqlite::Result<Option<Tier>> {
    c.query_row_cached(
        "SELECT tier FROM payments WHERE user_id = ?1 AND status = 'pending' ORDER BY created_at DESC LIMIT 1",
        [user_id],
        |r| Ok(Tier::parse(&r.get::<_, String>(0)?)),
    )
    .optional()
    .map(Option::flatten)
}

pub fn set_payment_status(tx: &Transaction, payment_id: &str, status: &str) -> rusqlite::Result<()> {
    tx.execute_cached(
        "UPDATE payments SET status = ?2, updated_at = ?3 WHERE payment_id = ?1",
        params![payment_id, status, now_text()],
    )?;
    Ok(())
}

/// Records a webhook event; false when it was seen before. Only events that changed
/// something are recorded, so one that arrived too early can still be retried.
pub fn first_sight_of_event(tx: &Transaction, event_id: &str, provider: &str, event_type: &str) -> rusqlite::Result<bool> {
    let inserted = tx.execute_cached(
        "INSERT INTO webhook_events (event_id, provider, event_type) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        params![event_id, provider, event_type],
    )?;
    Ok(inserted == 1)
}
