//! The subscription store on the embedded SQLite database. The `*_in` functions run inside a
//! transaction another feature's SQLite store holds: how its operations hold, commit or charge
//! quota together with their own rows.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{
    CounterKey, DecidePayment, EventApplied, Hold, NewPayment, PaymentEvent, PaymentOutcome, PaymentRow, SubscriptionRow,
    SubscriptionSnapshot, SubscriptionStore, TierChange, Usage,
};
use crate::db::{CachedSql, Db, now_text};
use crate::error::AppResult;
use crate::features::subscription::plan::Tier;
use crate::features::subscription::admission::{Admission, CountAdmission, UsageLine};

pub struct SqliteSubscriptionStore {
    db: Db,
}

impl SqliteSubscriptionStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl SubscriptionStore for SqliteSubscriptionStore {
    async fn subscription(&self, user_id: &str) -> AppResult<SubscriptionRow> {
        let user = user_id.to_owned();
        self.db.read(move |c| subscription(c, &user)).await
    }

    async fn snapshot(&self, user_id: &str, counters: Box<dyn FnOnce(Tier) -> Vec<CounterKey> + Send>) -> AppResult<SubscriptionSnapshot> {
        let user = user_id.to_owned();
        self.db
            .read(move |c| {
                let row = subscription(c, &user)?;
                let counters = counters(row.tier())
                    .iter()
                    .map(|k| usage(c, &user, &k.counter, &k.window_start))
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let pending = pending_tier(c, &user)?;
                Ok(SubscriptionSnapshot { row, pending, counters })
            })
            .await
    }

    async fn standing(&self, admission: Admission) -> AppResult<UsageLine> {
        self.db.read(move |c| standing_in(c, &admission)).await
    }

    async fn hold(&self, admission: Admission) -> AppResult<Hold> {
        self.db.write(move |tx| hold_in(tx, &admission)).await
    }

    async fn charge(&self, admission: Admission) -> AppResult<UsageLine> {
        self.db.write(move |tx| charge_in(tx, &admission)).await
    }

    async fn release(&self, hold: Hold) -> AppResult<()> {
        self.db.write(move |tx| Ok(settle_hold(tx, &hold, false)?)).await
    }

    async fn commit(&self, hold: Hold, standing: Admission) -> AppResult<UsageLine> {
        self.db
            .write(move |tx| {
                settle_hold(tx, &hold, true)?;
                Ok(standing_in(tx, &standing)?)
            })
            .await
    }

    async fn release_stale_holds(&self, before: DateTime<Utc>) -> AppResult<usize> {
        let before = before.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.db.write(move |tx| Ok(release_holds_before(tx, &before)?)).await
    }

    async fn release_holds_at_start(&self, _before: DateTime<Utc>) -> AppResult<usize> {
        // Only this process opens the file: no hold made before it started can still commit.
        self.db
            .write(|tx| {
                let released = tx.execute_cached("DELETE FROM quota_holds", [])?;
                tx.execute_cached("UPDATE usage_counters SET reserved = 0 WHERE reserved > 0", [])?;
                Ok(released)
            })
            .await
    }

    async fn change_tier(&self, change: TierChange) -> AppResult<String> {
        self.db.write(move |tx| Ok(apply_tier_change(tx, &change)?)).await
    }

    async fn insert_payment(&self, payment: NewPayment) -> AppResult<()> {
        self.db.write(move |tx| Ok(insert_payment(tx, &payment)?)).await
    }

    async fn set_payment_external_id(&self, payment_id: &str, external_id: &str) -> AppResult<()> {
        let (id, external) = (payment_id.to_owned(), external_id.to_owned());
        self.db.write(move |tx| Ok(set_payment_external_id(tx, &id, &external)?)).await
    }

    async fn delete_payment(&self, payment_id: &str) -> AppResult<()> {
        let id = payment_id.to_owned();
        self.db.write(move |tx| Ok(tx.execute_cached("DELETE FROM payments WHERE payment_id = ?1", [&id]).map(drop)?)).await
    }

    async fn apply_payment_event(&self, event: PaymentEvent, decide: DecidePayment) -> AppResult<EventApplied> {
        self.db
            .write(move |tx| {
                let mut found = None;
                for id in &event.payment_ids {
                    found = payment(tx, id)?;
                    if found.is_some() {
                        break;
                    }
                }
                let Some(payment) = found else { return Ok(EventApplied::NotOurs) };
                if !first_sight_of_event(tx, &event.event_id, &event.provider, &event.kind)? {
                    return Ok(EventApplied::Duplicate);
                }
                let outcome = decide(&payment, subscription(tx, &payment.user_id)?.tier());
                match &outcome {
                    PaymentOutcome::Succeeded(change) => {
                        set_payment_status(tx, &payment.payment_id, "succeeded")?;
                        apply_tier_change(tx, change)?;
                    }
                    PaymentOutcome::Failed => set_payment_status(tx, &payment.payment_id, "failed")?,
                    PaymentOutcome::Nothing => {}
                }
                Ok(EventApplied::Applied { payment, outcome })
            })
            .await
    }
}

/// The user's tier, read inside `c`.
pub fn tier_in(c: &Connection, user_id: &str) -> rusqlite::Result<Tier> {
    Ok(subscription(c, user_id)?.tier())
}

/// Where the user stands with `admission.feature`, read inside `c`.
pub fn standing_in(c: &Connection, admission: &Admission) -> rusqlite::Result<UsageLine> {
    let tier = tier_in(c, &admission.user_id)?;
    let window = admission.window_start(tier);
    Ok(admission.line(tier, usage(c, &admission.user_id, admission.feature.as_str(), &window)?))
}

/// Admits `admission` inside `tx`; its tier, window and standing before.
fn admit_in(tx: &Transaction, admission: &Admission) -> AppResult<(Tier, String, UsageLine)> {
    let tier = tier_in(tx, &admission.user_id)?;
    let window = admission.window_start(tier);
    let before = usage(tx, &admission.user_id, admission.feature.as_str(), &window)?;
    let line = admission.admit(tier, before)?;
    Ok((tier, window, line))
}

/// Admits `admission` and holds its amount inside `tx`.
pub fn hold_in(tx: &Transaction, admission: &Admission) -> AppResult<Hold> {
    let (_, window_start, _) = admit_in(tx, admission)?;
    add_to_counter(tx, &admission.user_id, admission.feature.as_str(), &window_start, 0, admission.amount)?;
    let hold = Hold {
        hold_id: uuid::Uuid::now_v7().to_string(),
        user_id: admission.user_id.clone(),
        feature: admission.feature,
        window_start,
        amount: admission.amount,
    };
    tx.execute_cached(
        "INSERT INTO quota_holds (hold_id, user_id, feature, window_start, amount, held_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            hold.hold_id,
            hold.user_id,
            hold.feature.as_str(),
            hold.window_start,
            hold.amount,
            admission.now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ],
    )?;
    Ok(hold)
}

/// Admits `admission` and charges its amount inside `tx`, the transaction that stores the
/// finished work; the standing after the charge.
pub fn charge_in(tx: &Transaction, admission: &Admission) -> AppResult<UsageLine> {
    let (_, window_start, before) = admit_in(tx, admission)?;
    add_to_counter(tx, &admission.user_id, admission.feature.as_str(), &window_start, admission.amount, 0)?;
    Ok(admission.charged(before))
}

/// Turns the hold into use inside `tx`, the transaction that stores the work's result.
pub fn commit_hold_in(tx: &Transaction, hold: &Hold) -> rusqlite::Result<()> {
    settle_hold(tx, hold, true)
}

/// Adds to another counter kept per window (e.g. `quota::AI_WRITING_WORDS`) in the hold's window.
pub fn add_to_hold_window_in(tx: &Transaction, hold: &Hold, counter: &str, amount: u64) -> rusqlite::Result<()> {
    add_to_counter(tx, &hold.user_id, counter, &hold.window_start, amount, 0)
}

/// Refuses `user_id` one more of `admission.counted` inside `c`, the transaction that inserts
/// it; `owned` counts what the user owns (only called when the tier has a limit).
pub fn admit_count_in(c: &Connection, admission: &CountAdmission, user_id: &str, owned: impl FnOnce() -> rusqlite::Result<u64>) -> AppResult<()> {
    let tier = tier_in(c, user_id)?;
    if !admission.is_limited(tier) {
        return Ok(());
    }
    admission.admit(tier, owned()?)
}

fn subscription(c: &Connection, user_id: &str) -> rusqlite::Result<SubscriptionRow> {
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

/// Sets the tier and records who changed it, when, from what, to what, with which receipt.
fn apply_tier_change(tx: &Transaction, change: &TierChange) -> rusqlite::Result<String> {
    let now = now_text();
    let existing: Option<String> = tx
        .query_row_cached("SELECT subscription_id FROM subscription_tiers WHERE user_id = ?1", [&change.user_id], |r| r.get(0))
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
fn usage(c: &Connection, user_id: &str, counter: &str, window_start: &str) -> rusqlite::Result<Usage> {
    c.query_row_cached(
        "SELECT used, reserved FROM usage_counters WHERE user_id = ?1 AND feature = ?2 AND window_start = ?3",
        params![user_id, counter, window_start],
        |r| Ok(Usage { used: r.get(0)?, reserved: r.get(1)? }),
    )
    .optional()
    .map(Option::unwrap_or_default)
}

/// Adds to `used` (a charge) or to `reserved` (a hold) of the window's counter.
fn add_to_counter(tx: &Transaction, user_id: &str, counter: &str, window_start: &str, used: u64, reserved: u64) -> rusqlite::Result<()> {
    tx.execute_cached(
        "INSERT INTO usage_counters (user_id, feature, window_start, used, reserved) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (user_id, feature, window_start)
         DO UPDATE SET used = used + excluded.used, reserved = reserved + excluded.reserved",
        params![user_id, counter, window_start, used, reserved],
    )?;
    Ok(())
}

/// Turns a hold into use (`commit`) or drops it. A hold already released as stale is not
/// released twice; its work, if it did finish, is still charged.
fn settle_hold(tx: &Transaction, hold: &Hold, commit: bool) -> rusqlite::Result<()> {
    let held = tx.execute_cached("DELETE FROM quota_holds WHERE hold_id = ?1", [&hold.hold_id])? == 1;
    let (release, charge) = (if held { hold.amount } else { 0 }, if commit { hold.amount } else { 0 });
    if release > 0 || charge > 0 {
        tx.execute_cached(
            "UPDATE usage_counters SET reserved = max(reserved - ?4, 0), used = used + ?5
             WHERE user_id = ?1 AND feature = ?2 AND window_start = ?3",
            params![hold.user_id, hold.feature.as_str(), hold.window_start, release, charge],
        )?;
    }
    Ok(())
}

/// Releases the holds made before `before`; how many.
fn release_holds_before(tx: &Transaction, before: &str) -> rusqlite::Result<usize> {
    let stale = tx
        .prepare_cached("DELETE FROM quota_holds WHERE held_at < ?1 RETURNING user_id, feature, window_start, amount")?
        .query_map([before], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, u64>(3)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (user_id, feature, window_start, amount) in &stale {
        tx.execute_cached(
            "UPDATE usage_counters SET reserved = max(reserved - ?4, 0) WHERE user_id = ?1 AND feature = ?2 AND window_start = ?3",
            params![user_id, feature, window_start, amount],
        )?;
    }
    Ok(stale.len())
}

/// Recorded before the provider is asked, so its webhook can never arrive first.
fn insert_payment(tx: &Transaction, p: &NewPayment) -> rusqlite::Result<()> {
    tx.execute_cached(
        "INSERT INTO payments (payment_id, user_id, tier, billing_period, amount_cents, currency, provider, status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending')",
        params![p.payment_id, p.user_id, p.tier.as_str(), p.billing_period, p.amount_cents, p.currency, p.provider],
    )?;
    Ok(())
}

fn set_payment_external_id(tx: &Transaction, payment_id: &str, external_id: &str) -> rusqlite::Result<()> {
    tx.execute_cached(
        "UPDATE payments SET external_id = ?2, updated_at = ?3 WHERE payment_id = ?1",
        params![payment_id, external_id, now_text()],
    )?;
    Ok(())
}

/// A payment by our id or by the provider's.
fn payment(tx: &Transaction, id: &str) -> rusqlite::Result<Option<PaymentRow>> {
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
fn pending_tier(c: &Connection, user_id: &str) -> rusqlite::Result<Option<Tier>> {
    c.query_row_cached(
        "SELECT tier FROM payments WHERE user_id = ?1 AND status = 'pending' ORDER BY created_at DESC LIMIT 1",
        [user_id],
        |r| Ok(Tier::parse(&r.get::<_, String>(0)?)),
    )
    .optional()
    .map(Option::flatten)
}

fn set_payment_status(tx: &Transaction, payment_id: &str, status: &str) -> rusqlite::Result<()> {
    tx.execute_cached(
        "UPDATE payments SET status = ?2, updated_at = ?3 WHERE payment_id = ?1",
        params![payment_id, status, now_text()],
    )?;
    Ok(())
}

/// Records a webhook event; false when it was seen before. Only events that changed
/// something are recorded, so one that arrived too early can still be retried.
fn first_sight_of_event(tx: &Transaction, event_id: &str, provider: &str, event_type: &str) -> rusqlite::Result<bool> {
    let inserted = tx.execute_cached(
        "INSERT INTO webhook_events (event_id, provider, event_type) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        params![event_id, provider, event_type],
    )?;
    Ok(inserted == 1)
}
