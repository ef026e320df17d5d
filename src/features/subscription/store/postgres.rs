//! The subscription store on PostgreSQL, shared by several servers. The `*_in` functions run
//! inside a transaction another feature's PostgreSQL store holds: how its operations hold,
//! commit or charge quota together with their own rows.
//!
//! Locking (READ COMMITTED): an admission makes sure its window's counter row exists
//! (`INSERT … ON CONFLICT DO NOTHING`), then locks it (`SELECT … FOR UPDATE`) before deciding,
//! so concurrent holds and charges for the last unit queue on that row and exactly the limit is
//! admitted. A count admission serializes per user on `pg_advisory_xact_lock`. A stale hold is
//! released by the sweeper whose `DELETE … RETURNING` took its row, so once however many sweep.
//! A payment event locks its payment row and records the event with `ON CONFLICT DO NOTHING`
//! in the same transaction, so it is applied at most once.
//!
//! Windows: `window_start` is a `timestamptz` here; the Rust side carries the window key text
//! (`quota::window_key`), converted both ways.

use std::future::Future;

use chrono::{DateTime, Utc};
use tokio_postgres::{GenericClient, IsolationLevel, Transaction};
use uuid::Uuid;

use super::{
    CounterKey, DecidePayment, EventApplied, Hold, NewPayment, PaymentEvent, PaymentOutcome, PaymentRow, SubscriptionRow,
    SubscriptionSnapshot, SubscriptionStore, TierChange, Usage,
};
use crate::db::postgres::PgDb;
use crate::db::postgres::values::{row_id, text, time};
use crate::error::{AppError, AppResult};
use crate::features::subscription::admission::{Admission, CountAdmission, UsageLine};
use crate::features::subscription::plan::Tier;

pub struct PgSubscriptionStore {
    db: PgDb,
}

impl PgSubscriptionStore {
    pub fn new(db: PgDb) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl SubscriptionStore for PgSubscriptionStore {
    async fn subscription(&self, user_id: &str) -> AppResult<SubscriptionRow> {
        let client = self.db.client().await?;
        subscription(&**client, user_id).await
    }

    async fn snapshot(&self, user_id: &str, counters: Box<dyn FnOnce(Tier) -> Vec<CounterKey> + Send>) -> AppResult<SubscriptionSnapshot> {
        let mut client = self.db.client().await?;
        // One snapshot for the row, the counters and the pending payment.
        let tx = client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await?;
        let row = subscription(&*tx, user_id).await?;
        let mut usages = Vec::new();
        for key in counters(row.tier()) {
            usages.push(usage(&*tx, user_id, &key.counter, &key.window_start).await?);
        }
        let pending = pending_tier(&*tx, user_id).await?;
        tx.commit().await?;
        Ok(SubscriptionSnapshot { row, pending, counters: usages })
    }

    async fn standing(&self, admission: Admission) -> AppResult<UsageLine> {
        let mut client = self.db.client().await?;
        let tx = client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await?;
        let line = standing_in(&*tx, &admission).await?;
        tx.commit().await?;
        Ok(line)
    }

    async fn hold(&self, admission: Admission) -> AppResult<Hold> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let hold = hold_in(&tx, &admission).await?;
        tx.commit().await?;
        Ok(hold)
    }

    async fn charge(&self, admission: Admission) -> AppResult<UsageLine> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let line = charge_in(&tx, &admission).await?;
        tx.commit().await?;
        Ok(line)
    }

    async fn release(&self, hold: Hold) -> AppResult<()> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        settle_hold(&tx, &hold, false).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn commit(&self, hold: Hold, standing: Admission) -> AppResult<UsageLine> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        settle_hold(&tx, &hold, true).await?;
        let line = standing_in(&*tx, &standing).await?;
        tx.commit().await?;
        Ok(line)
    }

    async fn release_stale_holds(&self, before: DateTime<Utc>) -> AppResult<usize> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let released = release_holds_before(&tx, before).await?;
        tx.commit().await?;
        Ok(released)
    }

    async fn release_holds_at_start(&self, before: DateTime<Utc>) -> AppResult<usize> {
        // Other servers share the database: their holds younger than `before` may belong to
        // work still running, so only the old ones go.
        self.release_stale_holds(before).await
    }

    async fn change_tier(&self, change: TierChange) -> AppResult<String> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let id = apply_tier_change(&tx, &change).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn insert_payment(&self, p: NewPayment) -> AppResult<()> {
        let payment_id = row_id(&p.payment_id).ok_or_else(|| AppError::internal(format!("payment id `{}` is not a UUID", p.payment_id)))?;
        let client = self.db.client().await?;
        let statement = client
            .prepare_cached(
                "INSERT INTO payments (payment_id, user_id, tier, billing_period, amount_cents, currency, provider, status)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')",
            )
            .await?;
        client
            .execute(&statement, &[&payment_id, &p.user_id, &p.tier.as_str(), &p.billing_period, &p.amount_cents, &p.currency, &p.provider])
            .await?;
        Ok(())
    }

    async fn set_payment_external_id(&self, payment_id: &str, external_id: &str) -> AppResult<()> {
        let Some(payment_id) = row_id(payment_id) else { return Ok(()) };
        let client = self.db.client().await?;
        let statement = client.prepare_cached("UPDATE payments SET external_id = $2, updated_at = now() WHERE payment_id = $1").await?;
        client.execute(&statement, &[&payment_id, &external_id]).await?;
        Ok(())
    }

    async fn delete_payment(&self, payment_id: &str) -> AppResult<()> {
        let Some(payment_id) = row_id(payment_id) else { return Ok(()) };
        let client = self.db.client().await?;
        let statement = client.prepare_cached("DELETE FROM payments WHERE payment_id = $1").await?;
        client.execute(&statement, &[&payment_id]).await?;
        Ok(())
    }

    async fn apply_payment_event(&self, event: PaymentEvent, decide: DecidePayment) -> AppResult<EventApplied> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let mut found = None;
        for id in &event.payment_ids {
            found = payment_for_update(&tx, id).await?;
            if found.is_some() {
                break;
            }
        }
        let Some(payment) = found else { return Ok(EventApplied::NotOurs) };
        let inserted = tx
            .execute(
                "INSERT INTO webhook_events (event_id, provider, event_type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&event.event_id, &event.provider, &event.kind],
            )
            .await?;
        if inserted != 1 {
            return Ok(EventApplied::Duplicate);
        }
        let outcome = decide(&payment, subscription(&*tx, &payment.user_id).await?.tier());
        match &outcome {
            PaymentOutcome::Succeeded(change) => {
                set_payment_status(&tx, &payment.payment_id, "succeeded").await?;
                apply_tier_change(&tx, change).await?;
            }
            PaymentOutcome::Failed => set_payment_status(&tx, &payment.payment_id, "failed").await?,
            PaymentOutcome::Nothing => {}
        }
        tx.commit().await?;
        Ok(EventApplied::Applied { payment, outcome })
    }
}

/// The user's tier, read inside `c`.
pub async fn tier_in(c: &impl GenericClient, user_id: &str) -> AppResult<Tier> {
    let row = c.query_opt("SELECT tier FROM subscription_tiers WHERE user_id = $1", &[&user_id]).await?;
    Ok(row.and_then(|r| Tier::parse(r.get::<_, &str>(0))).unwrap_or(Tier::Free))
}

/// Where the user stands with `admission.feature`, read inside `c`.
pub async fn standing_in(c: &impl GenericClient, admission: &Admission) -> AppResult<UsageLine> {
    let tier = tier_in(c, &admission.user_id).await?;
    let window = admission.window_start(tier);
    Ok(admission.line(tier, usage(c, &admission.user_id, admission.feature.as_str(), &window).await?))
}

/// Admits `admission` inside `tx` with its window's counter row locked until `tx` ends; its
/// window and standing before.
async fn admit_in(tx: &Transaction<'_>, admission: &Admission) -> AppResult<(String, UsageLine)> {
    let (user, feature) = (admission.user_id.as_str(), admission.feature.as_str());
    let mut tier = tier_in(tx, user).await?;
    loop {
        let window = admission.window_start(tier);
        let start = time(&window)?;
        tx.execute(
            "INSERT INTO usage_counters (user_id, feature, window_start) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&user, &feature, &start],
        )
        .await?;
        let row = tx
            .query_one(
                "SELECT used, reserved FROM usage_counters WHERE user_id = $1 AND feature = $2 AND window_start = $3 FOR UPDATE",
                &[&user, &feature, &start],
            )
            .await?;
        // The tier may have changed while this waited for the lock: decide on the one now.
        let now = tier_in(tx, user).await?;
        if now != tier {
            tier = now;
            continue;
        }
        let before = Usage { used: row.get::<_, i64>(0) as u64, reserved: row.get::<_, i64>(1) as u64 };
        let line = admission.admit(tier, before)?;
        return Ok((window, line));
    }
}

/// Admits `admission` and holds its amount inside `tx`.
pub async fn hold_in(tx: &Transaction<'_>, admission: &Admission) -> AppResult<Hold> {
    let (window_start, _) = admit_in(tx, admission).await?;
    let start = time(&window_start)?;
    let amount = admission.amount as i64;
    tx.execute(
        "UPDATE usage_counters SET reserved = reserved + $4 WHERE user_id = $1 AND feature = $2 AND window_start = $3",
        &[&admission.user_id, &admission.feature.as_str(), &start, &amount],
    )
    .await?;
    let hold_id = Uuid::now_v7();
    tx.execute(
        "INSERT INTO quota_holds (hold_id, user_id, feature, window_start, amount, held_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&hold_id, &admission.user_id, &admission.feature.as_str(), &start, &amount, &admission.now],
    )
    .await?;
    Ok(Hold { hold_id: hold_id.to_string(), user_id: admission.user_id.clone(), feature: admission.feature, window_start, amount: admission.amount })
}

/// Admits `admission` and charges its amount inside `tx`, the transaction that stores the
/// finished work; the standing after the charge.
pub async fn charge_in(tx: &Transaction<'_>, admission: &Admission) -> AppResult<UsageLine> {
    let (window_start, before) = admit_in(tx, admission).await?;
    let start = time(&window_start)?;
    tx.execute(
        "UPDATE usage_counters SET used = used + $4 WHERE user_id = $1 AND feature = $2 AND window_start = $3",
        &[&admission.user_id, &admission.feature.as_str(), &start, &(admission.amount as i64)],
    )
    .await?;
    Ok(admission.charged(before))
}

/// Turns the hold into use inside `tx`, the transaction that stores the work's result.
pub async fn commit_hold_in(tx: &Transaction<'_>, hold: &Hold) -> AppResult<()> {
    settle_hold(tx, hold, true).await
}

/// Adds to another counter kept per window (e.g. `quota::AI_WRITING_WORDS`) in the hold's window.
pub async fn add_to_hold_window_in(tx: &Transaction<'_>, hold: &Hold, counter: &str, amount: u64) -> AppResult<()> {
    tx.execute(
        "INSERT INTO usage_counters (user_id, feature, window_start, used) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, feature, window_start) DO UPDATE SET used = usage_counters.used + excluded.used",
        &[&hold.user_id, &counter, &time(&hold.window_start)?, &(amount as i64)],
    )
    .await?;
    Ok(())
}

/// Refuses `user_id` one more of `admission.counted` inside `tx`, the transaction that inserts
/// it; `owned` counts what the user owns (only awaited when the tier has a limit). Count
/// admissions of one user queue on a transaction-scoped advisory lock, so two cannot both take
/// the last place.
pub async fn admit_count_in(
    tx: &Transaction<'_>,
    admission: &CountAdmission,
    user_id: &str,
    owned: impl Future<Output = AppResult<u64>>,
) -> AppResult<()> {
    let tier = tier_in(tx, user_id).await?;
    if !admission.is_limited(tier) {
        return Ok(());
    }
    let key = format!("optima:count:{user_id}");
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", &[&key]).await?;
    // Read again under the lock: a tier change may have committed while this waited.
    let tier = tier_in(tx, user_id).await?;
    admission.admit(tier, owned.await?)
}

async fn subscription(c: &impl GenericClient, user_id: &str) -> AppResult<SubscriptionRow> {
    let row = c
        .query_opt(
            "SELECT tier, subscription_id, status, billing_period, payment_provider, external_subscription_id,
                    current_period_start, current_period_end, upgraded_at
             FROM subscription_tiers WHERE user_id = $1",
            &[&user_id],
        )
        .await?;
    Ok(row
        .map(|r| SubscriptionRow {
            tier: Tier::parse(r.get::<_, &str>(0)),
            subscription_id: Some(r.get::<_, Uuid>(1).to_string()),
            status: r.get(2),
            billing_period: r.get(3),
            payment_provider: r.get(4),
            external_subscription_id: r.get(5),
            current_period_start: r.get::<_, Option<DateTime<Utc>>>(6).map(text),
            current_period_end: r.get::<_, Option<DateTime<Utc>>>(7).map(text),
            upgraded_at: r.get::<_, Option<DateTime<Utc>>>(8).map(text),
        })
        .unwrap_or_default())
}

/// Sets the tier and records who changed it, when, from what, to what, with which receipt.
async fn apply_tier_change(tx: &Transaction<'_>, change: &TierChange) -> AppResult<String> {
    let (start, end) = match &change.period {
        Some((start, end)) => (Some(time(start)?), Some(time(end)?)),
        None => (None, None),
    };
    // An existing subscription keeps its id.
    let row = tx
        .query_one(
            "INSERT INTO subscription_tiers (user_id, tier, subscription_id, status, billing_period, payment_provider,
                                             external_subscription_id, current_period_start, current_period_end, upgraded_at)
             VALUES ($1, $2, $3, 'active', $4, $5, $6, $7, $8, now())
             ON CONFLICT (user_id) DO UPDATE SET tier = excluded.tier, status = 'active',
               billing_period = excluded.billing_period, payment_provider = excluded.payment_provider,
               external_subscription_id = excluded.external_subscription_id,
               current_period_start = excluded.current_period_start, current_period_end = excluded.current_period_end,
               upgraded_at = excluded.upgraded_at
             RETURNING subscription_id",
            &[&change.user_id, &change.to.as_str(), &Uuid::now_v7(), &change.billing_period, &change.provider, &change.external_id, &start, &end],
        )
        .await?;
    tx.execute(
        "INSERT INTO subscription_changes (change_id, user_id, changed_by, from_tier, to_tier, provider, receipt, changed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now())",
        &[&Uuid::now_v7(), &change.user_id, &change.changed_by, &change.from.as_str(), &change.to.as_str(), &change.provider, &change.receipt_id],
    )
    .await?;
    Ok(row.get::<_, Uuid>(0).to_string())
}

/// Committed and reserved use of a counter in the window whose key is `window_start`.
async fn usage(c: &impl GenericClient, user_id: &str, counter: &str, window_start: &str) -> AppResult<Usage> {
    let row = c
        .query_opt(
            "SELECT used, reserved FROM usage_counters WHERE user_id = $1 AND feature = $2 AND window_start = $3",
            &[&user_id, &counter, &time(window_start)?],
        )
        .await?;
    Ok(row.map(|r| Usage { used: r.get::<_, i64>(0) as u64, reserved: r.get::<_, i64>(1) as u64 }).unwrap_or_default())
}

/// Turns a hold into use (`commit`) or drops it. A hold already released as stale is not
/// released twice; its work, if it did finish, is still charged.
async fn settle_hold(tx: &Transaction<'_>, hold: &Hold, commit: bool) -> AppResult<()> {
    let held = match row_id(&hold.hold_id) {
        Some(id) => tx.execute("DELETE FROM quota_holds WHERE hold_id = $1", &[&id]).await? == 1,
        None => false,
    };
    let (release, charge) = (if held { hold.amount } else { 0 }, if commit { hold.amount } else { 0 });
    if release > 0 || charge > 0 {
        tx.execute(
            "UPDATE usage_counters SET reserved = GREATEST(reserved - $4, 0), used = used + $5
             WHERE user_id = $1 AND feature = $2 AND window_start = $3",
            &[&hold.user_id, &hold.feature.as_str(), &time(&hold.window_start)?, &(release as i64), &(charge as i64)],
        )
        .await?;
    }
    Ok(())
}

/// Releases the holds made before `before`; how many. Each hold's row is taken by one
/// sweeper's `DELETE`, and only what that sweeper took is subtracted; counters are updated in
/// key order, so sweepers cannot deadlock on each other.
async fn release_holds_before(tx: &Transaction<'_>, before: DateTime<Utc>) -> AppResult<usize> {
    let rows = tx
        .query(
            "WITH gone AS (DELETE FROM quota_holds WHERE held_at < $1 RETURNING user_id, feature, window_start, amount)
             SELECT user_id, feature, window_start, sum(amount)::bigint, count(*) FROM gone
             GROUP BY user_id, feature, window_start ORDER BY user_id, feature, window_start",
            &[&before],
        )
        .await?;
    let mut released = 0;
    for r in &rows {
        let (user_id, feature, start, amount): (&str, &str, DateTime<Utc>, i64) = (r.get(0), r.get(1), r.get(2), r.get(3));
        tx.execute(
            "UPDATE usage_counters SET reserved = GREATEST(reserved - $4, 0) WHERE user_id = $1 AND feature = $2 AND window_start = $3",
            &[&user_id, &feature, &start, &amount],
        )
        .await?;
        released += r.get::<_, i64>(4) as usize;
    }
    Ok(released)
}

/// A payment by our id or by the provider's, locked until `tx` ends.
async fn payment_for_update(tx: &Transaction<'_>, id: &str) -> AppResult<Option<PaymentRow>> {
    let ours = row_id(id);
    let row = tx
        .query_opt(
            "SELECT payment_id, user_id, tier, billing_period, status FROM payments
             WHERE payment_id = $1 OR external_id = $2 LIMIT 1 FOR UPDATE",
            &[&ours, &id],
        )
        .await?;
    Ok(row.map(|r| PaymentRow {
        payment_id: r.get::<_, Uuid>(0).to_string(),
        user_id: r.get(1),
        tier: Tier::parse(r.get::<_, &str>(2)).unwrap_or(Tier::Free),
        billing_period: r.get(3),
        status: r.get(4),
    }))
}

/// The tier of the user's newest payment still awaiting confirmation.
async fn pending_tier(c: &impl GenericClient, user_id: &str) -> AppResult<Option<Tier>> {
    let row = c
        .query_opt("SELECT tier FROM payments WHERE user_id = $1 AND status = 'pending' ORDER BY created_at DESC LIMIT 1", &[&user_id])
        .await?;
    Ok(row.and_then(|r| Tier::parse(r.get::<_, &str>(0))))
}

async fn set_payment_status(tx: &Transaction<'_>, payment_id: &str, status: &str) -> AppResult<()> {
    let Some(id) = row_id(payment_id) else { return Ok(()) };
    tx.execute("UPDATE payments SET status = $2, updated_at = now() WHERE payment_id = $1", &[&id, &status]).await?;
    Ok(())
}
