//! Quotas as reservations: hold before the work, commit after it succeeds (in the same
//! transaction as the work's own rows), release if it fails. Each decision is one
//! `BEGIN IMMEDIATE` transaction on the single writer, so concurrent requests for the last
//! unit of a quota cannot both win.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::clock::SharedClock;
use rusqlite::Transaction;
use serde_json::json;

use super::plan::{Feature, Tier, TierPlans, Window};
use super::repo;
use crate::db::Db;
use crate::error::{AppError, AppResult};

/// One metered feature's standing in its current window.
#[derive(Debug, Clone)]
pub struct UsageLine {
    pub feature: Feature,
    pub window: Window,
    /// Committed use.
    pub used: u64,
    /// Held by work in progress.
    pub reserved: u64,
    /// `None`: unlimited.
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    pub reset_at: DateTime<Utc>,
}

/// Words sent for AI writing assistance, counted per `ai_writing` window beside it.
pub const AI_WRITING_WORDS: &str = "ai_writing_words";

pub fn window_key(start: DateTime<Utc>) -> String {
    start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The standing of `feature` for a user on `tier` at `now`, read inside `c`.
pub fn standing(c: &rusqlite::Connection, plans: &TierPlans, user_id: &str, tier: Tier, feature: Feature, now: DateTime<Utc>) -> rusqlite::Result<UsageLine> {
    let quota = plans.get(tier).quota(feature).expect("metered features have quotas");
    let (start, end) = quota.window.bounds(now);
    let (used, reserved) = repo::usage(c, user_id, feature.as_str(), &window_key(start))?;
    let limit = quota.limit.count();
    Ok(UsageLine {
        feature,
        window: quota.window,
        used,
        reserved,
        limit,
        remaining: limit.map(|l| l.saturating_sub(used + reserved)),
        reset_at: end,
    })
}

pub fn upgrade_required(plans: &TierPlans, tier: Tier, feature: Feature) -> AppError {
    let target = plans.upgrade_for(tier, feature);
    let advice = target.map_or_else(|| "no tier of this server includes it".to_owned(), |t| format!("upgrade to {} to use it", t.as_str()));
    AppError::Forbidden {
        code: "upgrade_required",
        message: format!("`{}` is not included in the {} tier: {advice}", feature.as_str(), tier.as_str()),
        details: Some(json!({ "feature": feature.as_str(), "tier": tier.as_str(), "upgradeTo": target.map(Tier::as_str) })),
    }
}

fn quota_exceeded(plans: &TierPlans, tier: Tier, line: &UsageLine, now: DateTime<Utc>) -> AppError {
    let target = plans.upgrade_for(tier, line.feature);
    let window = line.window.name();
    let reset = line.reset_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let advice = target.map_or_else(String::new, |t| format!("; upgrade to {} for more", t.as_str()));
    AppError::TooManyRequests {
        code: "quota_exceeded",
        message: format!(
            "the {} tier allows {} {} per {window} and it is used up; it resets at {reset}{advice}",
            tier.as_str(),
            line.limit.unwrap_or(0),
            line.feature.as_str(),
        ),
        retry_after_secs: (line.reset_at - now).num_seconds().max(1) as u64,
        details: Some(json!({
            "feature": line.feature.as_str(), "tier": tier.as_str(), "used": line.used, "limit": line.limit, "remaining": line.remaining,
            "resetAt": reset, "upgradeTo": target.map(Tier::as_str),
        })),
    }
}

/// Decides, inside the transaction, whether `amount` more fits; refuses with
/// `upgrade_required` (403) or `quota_exceeded` (429).
fn admit(tx: &Transaction, plans: &TierPlans, user_id: &str, feature: Feature, amount: u64, now: DateTime<Utc>) -> AppResult<(String, UsageLine)> {
    let tier = repo::subscription(tx, user_id)?.tier();
    let plan = plans.get(tier);
    if !plan.includes(feature) {
        return Err(upgrade_required(plans, tier, feature));
    }
    let line = standing(tx, plans, user_id, tier, feature, now)?;
    if let Some(limit) = line.limit
        && line.used + line.reserved + amount > limit
    {
        return Err(quota_exceeded(plans, tier, &line, now));
    }
    let start = plan.quota(feature).expect("metered").window.bounds(now).0;
    Ok((window_key(start), line))
}

#[derive(Clone)]
pub struct Quotas {
    db: Db,
    plans: Arc<TierPlans>,
    clock: SharedClock,
}

impl Quotas {
    pub fn new(db: Db, plans: Arc<TierPlans>, clock: SharedClock) -> Self {
        Self { db, plans, clock }
    }

    /// Drops holds left by a previous process (work cannot survive a restart).
    pub async fn clear_stale_holds(&self) -> AppResult<usize> {
        self.db.write(|tx| Ok(repo::clear_holds(tx)?)).await
    }

    /// Holds `amount` of `feature` for work about to start.
    pub async fn reserve(&self, user_id: &str, feature: Feature, amount: u64) -> AppResult<Reservation> {
        let (plans, clock) = (self.plans.clone(), self.clock.clone());
        let user = user_id.to_owned();
        let window_start = self
            .db
            .write(move |tx| {
                let (window_start, _) = admit(tx, &plans, &user, feature, amount, clock.now())?;
                repo::add_usage(tx, &user, feature, &window_start, 0, amount)?;
                Ok(window_start)
            })
            .await?;
        Ok(Reservation {
            db: self.db.clone(),
            hold: Hold { user_id: user_id.to_owned(), feature, window_start, amount },
            settled: false,
        })
    }

    /// Charges `amount` now (no work to wait for); returns the standing after the charge.
    pub async fn charge(&self, user_id: &str, feature: Feature, amount: u64) -> AppResult<UsageLine> {
        let quotas = self.clone();
        let user = user_id.to_owned();
        self.db.write(move |tx| quotas.charge_in(tx, &user, feature, amount)).await
    }

    /// Charges `amount` inside `tx`, the transaction that stores the finished work, for work
    /// too cheap to be worth a hold; refuses like [`Self::reserve`]. The standing after it.
    pub fn charge_in(&self, tx: &Transaction, user_id: &str, feature: Feature, amount: u64) -> AppResult<UsageLine> {
        let (window_start, before) = admit(tx, &self.plans, user_id, feature, amount, self.clock.now())?;
        repo::add_usage(tx, user_id, feature, &window_start, amount, 0)?;
        Ok(UsageLine { used: before.used + amount, remaining: before.remaining.map(|r| r.saturating_sub(amount)), ..before })
    }
}

/// What a reservation holds; committed inside the work's own transaction.
#[derive(Debug, Clone)]
pub struct Hold {
    user_id: String,
    feature: Feature,
    window_start: String,
    amount: u64,
}

impl Hold {
    pub fn commit_in(&self, tx: &Transaction) -> rusqlite::Result<()> {
        repo::settle_hold(tx, &self.user_id, self.feature, &self.window_start, self.amount, true)
    }

    /// Adds to another counter kept per window (e.g. [`AI_WRITING_WORDS`]) in the hold's window.
    pub fn add_to_counter_in(&self, tx: &Transaction, counter: &str, amount: u64) -> rusqlite::Result<()> {
        repo::add_to_counter(tx, &self.user_id, counter, &self.window_start, amount, 0)
    }
}

/// A hold on quota. Call [`Reservation::committed`] once the transaction that ran
/// [`Hold::commit_in`] has committed; dropped otherwise, it gives the hold back.
pub struct Reservation {
    db: Db,
    hold: Hold,
    settled: bool,
}

impl Reservation {
    pub fn hold(&self) -> Hold {
        self.hold.clone()
    }

    /// The hold was committed with the work's rows.
    pub fn committed(mut self) {
        self.settled = true;
    }

    /// Gives the hold back now.
    pub async fn release(mut self) {
        self.settled = true;
        release(&self.db, self.hold.clone()).await;
    }
}

async fn release(db: &Db, hold: Hold) {
    let result = db
        .write(move |tx| Ok(repo::settle_hold(tx, &hold.user_id, hold.feature, &hold.window_start, hold.amount, false)?))
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "releasing a quota hold failed; it is dropped at the next start");
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.settled
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            let (db, hold) = (self.db.clone(), self.hold.clone());
            handle.spawn(async move { release(&db, hold).await });
        }
    }
}

/// Things a tier limits by how many a user owns (not archived), rather than by use per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    MusicProjects,
    WritingProjects,
}

impl Counted {
    fn name(self) -> &'static str {
        match self {
            Counted::MusicProjects => "music_projects",
            Counted::WritingProjects => "writing_projects",
        }
    }

    fn limit(self, plans: &TierPlans, tier: Tier) -> super::plan::Limit {
        match self {
            Counted::MusicProjects => plans.get(tier).music_projects,
            Counted::WritingProjects => plans.get(tier).writing_projects,
        }
    }
}

/// Refuses one more of `counted` for a user who owns `owned` already: 403 `upgrade_required`
/// when the tier includes none, 403 `project_limit_reached` at the limit. Call it inside the
/// transaction that inserts, so two requests cannot both take the last place.
pub fn admit_count(
    c: &rusqlite::Connection,
    plans: &TierPlans,
    user_id: &str,
    counted: Counted,
    owned: impl FnOnce() -> rusqlite::Result<u64>,
) -> AppResult<()> {
    let tier = repo::subscription(c, user_id)?.tier();
    // Counting is a scan of the user's projects: only done when the tier has a limit.
    let Some(limit) = counted.limit(plans, tier).count() else { return Ok(()) };
    let owned = owned()?;
    if owned < limit {
        return Ok(());
    }
    let target = Tier::ALL.into_iter().filter(|t| *t > tier).find(|t| counted.limit(plans, *t).count().is_none_or(|l| l > limit));
    let advice = target.map_or_else(String::new, |t| format!("; upgrade to {} for more", t.as_str()));
    let details = Some(json!({ "feature": counted.name(), "tier": tier.as_str(), "limit": limit, "used": owned, "upgradeTo": target.map(Tier::as_str) }));
    Err(if limit == 0 {
        AppError::Forbidden {
            code: "upgrade_required",
            message: format!("`{}` are not included in the {} tier{advice}", counted.name(), tier.as_str()),
            details,
        }
    } else {
        AppError::Forbidden {
            code: "project_limit_reached",
            message: format!("the {} tier allows {limit} {} that are not archived; archive one{advice}", tier.as_str(), counted.name()),
            details,
        }
    })
}
