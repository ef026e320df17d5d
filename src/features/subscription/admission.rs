//! What a tier admits: the quota rules as plain data and pure functions. A store applies them
//! inside its own atomic operation (hold, charge, insert), so the rule is stated once, here,
//! whichever backend keeps the counters.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::plan::{Feature, Tier, TierPlans, Window};
use crate::error::{AppError, AppResult};

/// Committed and held use of one counter in one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub used: u64,
    pub reserved: u64,
}

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

/// A request to use `amount` of a metered `feature` at `now`: the rule a store applies inside
/// the operation that holds or charges it.
#[derive(Clone)]
pub struct Admission {
    pub plans: Arc<TierPlans>,
    pub user_id: String,
    pub feature: Feature,
    pub amount: u64,
    pub now: DateTime<Utc>,
}

impl Admission {
    /// The key of the window the use falls in for a user on `tier` (see [`window_key`]).
    pub fn window_start(&self, tier: Tier) -> String {
        let quota = self.plans.get(tier).quota(self.feature).expect("metered features have quotas");
        window_key(quota.window.bounds(self.now).0)
    }

    /// The standing of the feature for a user on `tier` whose window counter is `usage`.
    pub fn line(&self, tier: Tier, usage: Usage) -> UsageLine {
        let quota = self.plans.get(tier).quota(self.feature).expect("metered features have quotas");
        let limit = quota.limit.count();
        UsageLine {
            feature: self.feature,
            window: quota.window,
            used: usage.used,
            reserved: usage.reserved,
            limit,
            remaining: limit.map(|l| l.saturating_sub(usage.used + usage.reserved)),
            reset_at: quota.window.bounds(self.now).1,
        }
    }

    /// Admits `amount` more for a user on `tier` whose window counter is `usage`: refuses
    /// with `upgrade_required` (403) or `quota_exceeded` (429); the standing before.
    pub fn admit(&self, tier: Tier, usage: Usage) -> AppResult<UsageLine> {
        if !self.plans.get(tier).includes(self.feature) {
            return Err(upgrade_required(&self.plans, tier, self.feature));
        }
        let line = self.line(tier, usage);
        if let Some(limit) = line.limit
            && line.used + line.reserved + self.amount > limit
        {
            return Err(quota_exceeded(&self.plans, tier, &line, self.now));
        }
        Ok(line)
    }

    /// The standing after this admission's amount is charged on `before`.
    pub fn charged(&self, before: UsageLine) -> UsageLine {
        UsageLine { used: before.used + self.amount, remaining: before.remaining.map(|r| r.saturating_sub(self.amount)), ..before }
    }
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

/// Owning one more of `counted`: the rule a store applies inside the operation that
/// inserts, so two requests cannot both take the last place.
#[derive(Clone)]
pub struct CountAdmission {
    pub plans: Arc<TierPlans>,
    pub counted: Counted,
}

impl CountAdmission {
    /// Whether a user on `tier` is limited at all: counting is a scan of the user's rows, only
    /// done when there is a limit.
    pub fn is_limited(&self, tier: Tier) -> bool {
        self.counted.limit(&self.plans, tier).count().is_some()
    }

    /// Refuses one more for a user on `tier` who owns `owned` already: 403 `upgrade_required`
    /// when the tier includes none, 403 `project_limit_reached` at the limit.
    pub fn admit(&self, tier: Tier, owned: u64) -> AppResult<()> {
        let (plans, counted) = (&self.plans, self.counted);
        let Some(limit) = counted.limit(plans, tier).count() else { return Ok(()) };
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
}
