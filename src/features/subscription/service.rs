use std::sync::Arc;

use chrono::{DateTime, Months, Utc};

use super::model::*;
use super::payment::{MANUAL_REFUSAL, PaymentProvider, PaymentRequest, StripePayments};
use super::plan::{Feature, Tier, TierPlan, TierPlans, Window};
use super::quota::{AI_WRITING_WORDS, Admission, CountAdmission, Counted, Quotas, UsageLine, upgrade_required, window_key};
use super::store::{
    CounterKey, EventApplied, NewPayment, PaymentEvent, PaymentOutcome, SubscriptionRow, SubscriptionSnapshot, SubscriptionStore, TierChange,
};
use crate::auth::Caller;
use crate::clock::SharedClock;
use crate::error::{AppError, AppResult};

pub struct SubscriptionService {
    store: Arc<dyn SubscriptionStore>,
    plans: Arc<TierPlans>,
    quotas: Quotas,
    payments: Arc<dyn PaymentProvider>,
    stripe: Option<Arc<StripePayments>>,
    clock: SharedClock,
}

fn parse_feature(raw: &str) -> AppResult<Feature> {
    Feature::parse(raw).ok_or_else(|| AppError::invalid_field("feature", format!("unknown feature `{raw}`: use one of {}", Feature::known_names())))
}

fn parse_tier(field: &str, raw: &str) -> AppResult<Tier> {
    Tier::parse(raw).ok_or_else(|| AppError::invalid_field(field, format!("unknown tier `{raw}`: use free, premium or unlimited (tactical)")))
}

pub fn usage_of(line: &UsageLine) -> Usage {
    Usage {
        feature: line.feature.as_str().to_owned(),
        window: line.window,
        used: line.used,
        limit: line.limit,
        remaining: line.remaining,
        reset_at: line.reset_at,
    }
}

fn limits_of(plan: &TierPlan) -> TierLimits {
    let q = |quota: super::plan::Quota| QuotaInfo { limit: quota.limit.count(), window: quota.window };
    TierLimits {
        ai_chat: q(plan.ai_chat),
        image_generation: q(plan.image_generation),
        music_generation: q(plan.music_generation),
        ai_writing: q(plan.ai_writing),
        music_projects: plan.music_projects.count(),
        writing_projects: plan.writing_projects.count(),
        ai_writing_level: plan.ai_writing_level,
        writers_guild: plan.writers_guild,
        unrestricted_content: plan.unrestricted_content,
        priority_processing: plan.priority_processing,
        tactical: plan.tactical,
    }
}

fn price_cents(plan: &TierPlan, period: BillingPeriod) -> i64 {
    let price = match period {
        BillingPeriod::Monthly => plan.price_monthly,
        BillingPeriod::Yearly => plan.price_yearly,
    };
    (price * 100.0).round() as i64
}

fn period_from(now: DateTime<Utc>, period: BillingPeriod) -> (String, String) {
    let months = match period {
        BillingPeriod::Monthly => 1,
        BillingPeriod::Yearly => 12,
    };
    let end = now.checked_add_months(Months::new(months)).unwrap_or(now);
    let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    (fmt(now), fmt(end))
}

/// A user's subscription and the standing of every metered feature, read together.
struct Snapshot {
    row: SubscriptionRow,
    pending: Option<Tier>,
    lines: Vec<UsageLine>,
    words: u64,
}

impl SubscriptionService {
    pub fn new(
        store: Arc<dyn SubscriptionStore>,
        plans: TierPlans,
        payments: Arc<dyn PaymentProvider>,
        stripe: Option<Arc<StripePayments>>,
        clock: SharedClock,
        hold_expiry: std::time::Duration,
    ) -> Self {
        let plans = Arc::new(plans);
        let quotas = Quotas::new(store.clone(), plans.clone(), clock.clone(), hold_expiry);
        Self { store, plans, quotas, payments, stripe, clock }
    }

    pub fn quotas(&self) -> &Quotas {
        &self.quotas
    }

    pub fn plans(&self) -> &TierPlans {
        &self.plans
    }

    pub async fn tier_of(&self, user_id: &str) -> AppResult<Tier> {
        Ok(self.store.subscription(user_id).await?.tier())
    }

    /// What `tier` gives.
    pub fn facts(&self, tier: Tier) -> PlanFacts {
        let plan = self.plans.get(tier);
        PlanFacts {
            tier,
            unlimited_chat: plan.ai_chat.limit.count().is_none(),
            unlimited_images: plan.image_generation.limit.count().is_none(),
            unrestricted_content: plan.includes(Feature::UnrestrictedContent),
            ai_writing: plan.includes(Feature::AiWriting),
            ai_writing_level: plan.ai_writing_level,
        }
    }

    /// What the user's tier gives them.
    pub async fn plan_facts(&self, caller: &Caller, user_id: &str) -> AppResult<PlanFacts> {
        caller.ensure_acts_for(user_id)?;
        Ok(self.facts(self.tier_of(user_id).await?))
    }

    /// The rule for owning one more of `counted`, for the store operation that inserts it.
    pub fn count_admission(&self, counted: Counted) -> CountAdmission {
        CountAdmission { plans: self.plans.clone(), counted }
    }

    /// The rule for using `amount` of `feature` now, for a store operation that charges it
    /// together with the work's result.
    pub fn admission(&self, user_id: &str, feature: Feature, amount: u64) -> Admission {
        self.quotas.admission(user_id, feature, amount)
    }

    /// Where a user stands with a metered feature now.
    pub async fn tier_standing(&self, user_id: &str, feature: Feature) -> AppResult<UsageLine> {
        self.store.standing(self.admission(user_id, feature, 0)).await
    }

    /// Refuses (403 `upgrade_required`) when the user's tier does not include `feature`.
    pub async fn require(&self, user_id: &str, feature: Feature) -> AppResult<Tier> {
        let tier = self.tier_of(user_id).await?;
        self.ensure_includes(tier, feature)?;
        Ok(tier)
    }

    /// Refuses (403 `upgrade_required`) when `tier` does not include `feature`.
    pub fn ensure_includes(&self, tier: Tier, feature: Feature) -> AppResult<()> {
        if self.plans.get(tier).includes(feature) { Ok(()) } else { Err(upgrade_required(&self.plans, tier, feature)) }
    }

    async fn snapshot(&self, user_id: &str) -> AppResult<Snapshot> {
        let (plans, now) = (self.plans.clone(), self.clock.now());
        let counters = move |tier: Tier| {
            let plan = plans.get(tier);
            let mut keys: Vec<CounterKey> = Feature::METERED
                .into_iter()
                .map(|f| CounterKey {
                    counter: f.as_str().to_owned(),
                    window_start: window_key(plan.quota(f).expect("metered").window.bounds(now).0),
                })
                .collect();
            keys.push(CounterKey { counter: AI_WRITING_WORDS.to_owned(), window_start: window_key(plan.ai_writing.window.bounds(now).0) });
            keys
        };
        let SubscriptionSnapshot { row, pending, counters } = self.store.snapshot(user_id, Box::new(counters)).await?;
        let tier = row.tier();
        let lines = Feature::METERED.into_iter().zip(&counters).map(|(f, usage)| self.admission(user_id, f, 0).line(tier, *usage)).collect();
        let words = counters.last().map_or(0, |u| u.used);
        Ok(Snapshot { row, pending, lines, words })
    }

    pub async fn tier_info(&self, caller: &Caller, user_id: &str) -> AppResult<TierInfo> {
        caller.ensure_acts_for(user_id)?;
        let Snapshot { row, pending, lines, .. } = self.snapshot(user_id).await?;
        let tier = row.tier();
        let plan = self.plans.get(tier);
        let line = |f: Feature| usage_of(lines.iter().find(|l| l.feature == f).expect("every metered feature"));
        Ok(TierInfo {
            user_id: user_id.to_owned(),
            tier,
            display_name: tier.display_name().to_owned(),
            description: plan.description.clone(),
            status: if pending.is_some() { "pending".into() } else { row.status.clone().unwrap_or_else(|| "active".into()) },
            pending_tier: pending,
            subscription_id: row.subscription_id.clone(),
            billing_period: row.billing_period.clone(),
            payment_provider: row.payment_provider.clone(),
            external_subscription_id: row.external_subscription_id.clone(),
            current_period_start: row.current_period_start.clone(),
            current_period_end: row.current_period_end.clone(),
            upgraded_at: row.upgraded_at.clone(),
            prices: Prices { monthly: plan.price_monthly, yearly: plan.price_yearly, currency: self.payments.currency().to_owned() },
            limits: limits_of(plan),
            usage: UsageByFeature {
                ai_chat: line(Feature::AiChat),
                image_generation: line(Feature::ImageGeneration),
                music_generation: line(Feature::MusicGeneration),
                ai_writing: line(Feature::AiWriting),
            },
            reset_at: lines.iter().filter(|l| l.limit.is_some_and(|n| n > 0)).map(|l| l.reset_at).min(),
        })
    }

    pub async fn check_access(&self, caller: &Caller, user_id: &str, feature: &str) -> AppResult<AccessCheck> {
        caller.ensure_acts_for(user_id)?;
        let feature = parse_feature(feature)?;
        let Snapshot { row, lines, .. } = self.snapshot(user_id).await?;
        let tier = row.tier();
        let plan = self.plans.get(tier);
        let upgrade_to = self.plans.upgrade_for(tier, feature);
        let line = lines.iter().find(|l| l.feature == feature);
        let (has_access, reason) = if !plan.includes(feature) {
            (false, format!("`{}` is not included in the {} tier", feature.as_str(), tier.as_str()))
        } else {
            match line {
                Some(l) if l.remaining == Some(0) => (false, format!("the {} quota for this {} is used up", feature.as_str(), l.window.name())),
                _ => (true, format!("included in the {} tier", tier.as_str())),
            }
        };
        Ok(AccessCheck {
            user_id: user_id.to_owned(),
            feature: feature.as_str().to_owned(),
            has_access,
            reason,
            upgrade_required: !has_access && upgrade_to.is_some(),
            upgrade_to,
            usage_remaining: line.and_then(|l| l.remaining),
            used: line.map(|l| l.used),
            limit: line.and_then(|l| l.limit),
            reset_at: line.map(|l| l.reset_at),
            tier,
            tier_name: tier.display_name().to_owned(),
        })
    }

    pub async fn track_usage(&self, caller: &Caller, request: TrackUsageRequest) -> AppResult<TrackUsageResult> {
        caller.ensure_acts_for(&request.user_id)?;
        let feature = parse_feature(&request.feature)?;
        if !feature.is_metered() {
            return Err(AppError::invalid_field("feature", format!("`{}` is not metered: use ai_chat, image_generation, music_generation or ai_writing", feature.as_str())));
        }
        if !(1..=1000).contains(&request.amount) {
            return Err(AppError::invalid_field("amount", "must be 1 to 1000"));
        }
        let line = self.quotas.charge(&request.user_id, feature, request.amount).await?;
        Ok(TrackUsageResult {
            user_id: request.user_id,
            feature: feature.as_str().to_owned(),
            new_usage: line.used,
            limit_reached: line.remaining == Some(0),
            limit: line.limit,
            remaining: line.remaining,
            reset_at: line.reset_at,
        })
    }

    pub async fn upgrade(&self, caller: &Caller, request: UpgradeRequest) -> AppResult<UpgradeResult> {
        caller.ensure_acts_for(&request.user_id)?;
        let target = parse_tier("newTier", &request.new_tier)?;
        let period = request.billing_period.unwrap_or(BillingPeriod::Monthly);
        let current = self.tier_of(&request.user_id).await?;
        if current == target {
            return Err(AppError::Conflict { code: "already_on_tier", message: format!("the user is already on the {} tier", target.as_str()) });
        }
        let plan = self.plans.get(target);
        let now = self.clock.now();
        if caller.is_privileged() || (target == Tier::Free && self.payments.self_service()) {
            let provider = if caller.is_privileged() { "manual" } else { self.payments.name() };
            return self.change_now(caller, &request.user_id, current, target, period, provider, price_cents(plan, period), now).await;
        }
        if !self.payments.self_service() {
            return Err(AppError::forbidden_code("manual_billing", MANUAL_REFUSAL));
        }
        let method = request
            .payment_method
            .as_deref()
            .filter(|m| !m.is_empty())
            .ok_or_else(|| AppError::invalid_field("paymentMethod", "is required to pay for a tier (a Stripe PaymentMethod id, pm_…)"))?;
        let payment_id = uuid::Uuid::now_v7().to_string();
        let amount_cents = price_cents(plan, period);
        let (provider, currency) = (self.payments.name(), self.payments.currency().to_owned());
        self.store
            .insert_payment(NewPayment {
                payment_id: payment_id.clone(),
                user_id: request.user_id.clone(),
                tier: target,
                billing_period: period.as_str().to_owned(),
                amount_cents,
                currency: currency.clone(),
                provider: provider.to_owned(),
            })
            .await?;
        let started = self
            .payments
            .start_payment(PaymentRequest {
                payment_id: &payment_id,
                user_id: &request.user_id,
                tier: target,
                billing_period: period.as_str(),
                amount_cents,
                payment_method: method,
            })
            .await;
        let started = match started {
            Ok(started) => {
                self.store.set_payment_external_id(&payment_id, &started.external_id).await?;
                started
            }
            Err(e) => {
                self.store.delete_payment(&payment_id).await?;
                return Err(e);
            }
        };
        Ok(UpgradeResult {
            success: true,
            user_id: request.user_id,
            tier: current,
            previous_tier: current,
            requested_tier: target,
            status: "pending".into(),
            subscription_id: None,
            external_subscription_id: Some(started.external_id.clone()),
            receipt: Receipt {
                receipt_id: started.external_id,
                provider: provider.into(),
                tier: target,
                billing_period: Some(period.as_str().into()),
                amount: amount_cents as f64 / 100.0,
                currency,
                status: "pending".into(),
                issued_at: now,
            },
            message: format!("payment started ({}); the {} tier is activated when the payment is confirmed", started.status, target.as_str()),
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn change_now(
        &self,
        caller: &Caller,
        user_id: &str,
        from: Tier,
        to: Tier,
        period: BillingPeriod,
        provider: &'static str,
        amount_cents: i64,
        now: DateTime<Utc>,
    ) -> AppResult<UpgradeResult> {
        let receipt_id = format!("rcpt_{}", uuid::Uuid::now_v7().simple());
        let paid = to != Tier::Free;
        let subscription_id = self
            .store
            .change_tier(TierChange {
                user_id: user_id.to_owned(),
                changed_by: caller.user_id.clone(),
                from,
                to,
                provider: provider.to_owned(),
                receipt_id: receipt_id.clone(),
                billing_period: paid.then(|| period.as_str().to_owned()),
                external_id: None,
                period: paid.then(|| period_from(now, period)),
            })
            .await?;
        tracing::info!(user = user_id, from = from.as_str(), to = to.as_str(), by = %caller.user_id, "tier changed");
        Ok(UpgradeResult {
            success: true,
            user_id: user_id.to_owned(),
            tier: to,
            previous_tier: from,
            requested_tier: to,
            status: "active".into(),
            subscription_id: Some(subscription_id),
            external_subscription_id: None,
            receipt: Receipt {
                receipt_id,
                provider: provider.into(),
                tier: to,
                billing_period: paid.then(|| period.as_str().to_owned()),
                amount: if paid { amount_cents as f64 / 100.0 } else { 0.0 },
                currency: self.payments.currency().to_owned(),
                status: "recorded".into(),
                issued_at: now,
            },
            message: format!("now on the {} tier{}", to.as_str(), if to < from { "; existing data is kept, limits apply to new actions" } else { "" }),
        })
    }

    pub async fn usage_summary(&self, caller: &Caller, user_id: &str) -> AppResult<UsageSummary> {
        caller.ensure_acts_for(user_id)?;
        let Snapshot { row, lines, words, .. } = self.snapshot(user_id).await?;
        let tier = row.tier();
        let plan = self.plans.get(tier);
        let line = |f: Feature| lines.iter().find(|l| l.feature == f).expect("every metered feature");
        let used_of = |f: Feature| UsedOf { used: line(f).used, limit: line(f).limit };
        let parse = |t: &Option<String>| t.as_deref().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|d| d.with_timezone(&Utc));
        let (start, end) = match (parse(&row.current_period_start), parse(&row.current_period_end)) {
            (Some(s), Some(e)) => (s, e),
            _ => Window::Month.bounds(self.clock.now()),
        };
        Ok(UsageSummary {
            user_id: user_id.to_owned(),
            tier,
            images_generated: line(Feature::ImageGeneration).used,
            music_generated: line(Feature::MusicGeneration).used,
            ai_chat_messages: line(Feature::AiChat).used,
            current_period: Period { start, end },
            chat: used_of(Feature::AiChat),
            image_generation: used_of(Feature::ImageGeneration),
            music_generation: used_of(Feature::MusicGeneration),
            ai_writing: AiWritingUsage { sessions_used: line(Feature::AiWriting).used, words_processed: words, limit: line(Feature::AiWriting).limit },
            features: FeatureFlags {
                unrestricted_content: plan.unrestricted_content,
                writers_guild_access: plan.writers_guild,
                priority_support: plan.priority_processing,
                tactical_access: plan.tactical,
            },
        })
    }

    /// Applies a Stripe webhook event after checking its signature. A payment this server
    /// started and Stripe confirms activates its tier; an event seen before changes nothing.
    pub async fn stripe_webhook(&self, signature: Option<&str>, body: &[u8]) -> AppResult<WebhookAck> {
        // A request without the header is malformed whether or not Stripe is on: the documented
        // 400, the same answer on every server.
        if signature.is_none() {
            return Err(AppError::bad_request("invalid_signature", "Stripe-Signature: the header is missing"));
        }
        let stripe = self.stripe.as_ref().ok_or_else(|| AppError::not_found("Stripe payments are not enabled on this server"))?;
        // Stripe stamps its signatures with the real time: checked against the system clock.
        stripe.verify_webhook(signature, body, Utc::now().timestamp())?;
        let event: StripeEvent = serde_json::from_slice(body)
            .map_err(|e| AppError::bad_request("invalid_event", format!("the event is not a Stripe event: {e}")))?;
        let now = self.clock.now();
        let object = event.data.object;
        let ours = object.metadata.and_then(|m| m.payment_id);
        let kind = event.kind.clone();
        let object_id = object.id.clone();
        // What the event does to a payment still pending: the rule, applied by the store
        // atomically with recording the event.
        let decide = move |payment: &super::store::PaymentRow, from: Tier| match (kind.as_str(), payment.status.as_str()) {
            ("payment_intent.succeeded", "pending") => {
                let period = if payment.billing_period == "yearly" { BillingPeriod::Yearly } else { BillingPeriod::Monthly };
                PaymentOutcome::Succeeded(Box::new(TierChange {
                    user_id: payment.user_id.clone(),
                    changed_by: "stripe".into(),
                    from,
                    to: payment.tier,
                    provider: "stripe".into(),
                    receipt_id: object_id.clone(),
                    billing_period: Some(payment.billing_period.clone()),
                    external_id: Some(object_id.clone()),
                    period: Some(period_from(now, period)),
                }))
            }
            ("payment_intent.payment_failed" | "payment_intent.canceled", "pending") => PaymentOutcome::Failed,
            _ => PaymentOutcome::Nothing,
        };
        let payment_event = PaymentEvent {
            event_id: event.id.clone(),
            provider: "stripe".into(),
            kind: event.kind.clone(),
            payment_ids: ours.into_iter().chain([object.id]).collect(),
        };
        let ack = match self.store.apply_payment_event(payment_event, Box::new(decide)).await? {
            EventApplied::NotOurs => WebhookAck { received: true, duplicate: false, effect: "none: not a payment of this server".into() },
            EventApplied::Duplicate => WebhookAck { received: true, duplicate: true, effect: "none: event already applied".into() },
            EventApplied::Applied { payment, outcome } => {
                let effect = match outcome {
                    PaymentOutcome::Succeeded(change) => format!("activated {} for {}", change.to.as_str(), change.user_id),
                    PaymentOutcome::Failed => format!("payment for {} failed; the tier is unchanged", payment.user_id),
                    PaymentOutcome::Nothing => format!("none: `{}` for a payment that is {}", event.kind, payment.status),
                };
                tracing::info!(event = %event.id, %effect, "stripe webhook");
                WebhookAck { received: true, duplicate: false, effect }
            }
        };
        Ok(ack)
    }
}

#[derive(serde::Deserialize)]
struct StripeEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: StripeEventData,
}

#[derive(serde::Deserialize)]
struct StripeEventData {
    object: StripeObject,
}

#[derive(serde::Deserialize)]
struct StripeObject {
    id: String,
    metadata: Option<StripeMetadata>,
}

#[derive(serde::Deserialize)]
struct StripeMetadata {
    payment_id: Option<String>,
}
