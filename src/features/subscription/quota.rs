//! Quotas as reservations: hold before the work, commit after it succeeds (in the store
//! operation that keeps the work's result), release if it fails. The rules are here, as plain
//! data ([`Admission`], [`CountAdmission`]) a store applies inside its own atomic operation, so
//! concurrent requests for the last unit of a quota cannot both win.

use std::sync::Arc;
use std::time::Duration;

pub use super::admission::{AI_WRITING_WORDS, Admission, CountAdmission, Counted, UsageLine, upgrade_required, window_key};
use super::plan::{Feature, TierPlans};
use super::store::{Hold, SubscriptionStore};
use crate::clock::SharedClock;
use crate::error::AppResult;

#[derive(Clone)]
pub struct Quotas {
    store: Arc<dyn SubscriptionStore>,
    plans: Arc<TierPlans>,
    clock: SharedClock,
    /// How old a hold is when no work can commit it any more.
    hold_expiry: Duration,
}

impl Quotas {
    pub fn new(store: Arc<dyn SubscriptionStore>, plans: Arc<TierPlans>, clock: SharedClock, hold_expiry: Duration) -> Self {
        Self { store, plans, clock, hold_expiry }
    }

    /// How old a hold is when it is released as stale.
    pub fn hold_expiry(&self) -> Duration {
        self.hold_expiry
    }

    fn expired_before(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now() - chrono::Duration::from_std(self.hold_expiry).unwrap_or(chrono::Duration::MAX)
    }

    /// Releases holds older than [`Self::hold_expiry`]: left by a server that stopped mid-work.
    pub async fn release_stale_holds(&self) -> AppResult<usize> {
        self.store.release_stale_holds(self.expired_before()).await
    }

    /// The rule for using `amount` of `feature` now.
    pub fn admission(&self, user_id: &str, feature: Feature, amount: u64) -> Admission {
        Admission { plans: self.plans.clone(), user_id: user_id.to_owned(), feature, amount, now: self.clock.now() }
    }

    /// At start: drops the holds a stopped server left (see `SubscriptionStore::release_holds_at_start`).
    pub async fn clear_stale_holds(&self) -> AppResult<usize> {
        self.store.release_holds_at_start(self.expired_before()).await
    }

    /// Holds `amount` of `feature` for work about to start.
    pub async fn reserve(&self, user_id: &str, feature: Feature, amount: u64) -> AppResult<Reservation> {
        let hold = self.store.hold(self.admission(user_id, feature, amount)).await?;
        Ok(Reservation { store: self.store.clone(), hold, settled: false })
    }

    /// Charges `amount` now (no work to wait for); returns the standing after the charge.
    pub async fn charge(&self, user_id: &str, feature: Feature, amount: u64) -> AppResult<UsageLine> {
        self.store.charge(self.admission(user_id, feature, amount)).await
    }
}

/// A hold on quota. Call [`Reservation::committed`] once the store operation that committed
/// [`Reservation::hold`] with the work's result has succeeded; dropped otherwise, it gives the
/// hold back.
pub struct Reservation {
    store: Arc<dyn SubscriptionStore>,
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

    /// Turns the hold into use, for work that stores nothing else; the standing after, as
    /// `standing` reads it. An error leaves the hold to be given back.
    pub async fn commit(mut self, standing: Admission) -> AppResult<UsageLine> {
        let line = self.store.commit(self.hold.clone(), standing).await?;
        self.settled = true;
        Ok(line)
    }

    /// Gives the hold back now.
    pub async fn release(mut self) {
        self.settled = true;
        release(self.store.clone(), self.hold.clone()).await;
    }
}

async fn release(store: Arc<dyn SubscriptionStore>, hold: Hold) {
    if let Err(e) = store.release(hold).await {
        tracing::error!(error = %e, "releasing a quota hold failed; it is dropped at the next start");
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.settled
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            let (store, hold) = (self.store.clone(), self.hold.clone());
            handle.spawn(release(store, hold));
        }
    }
}

