//! Tactical HQ's two analyses as pure, deterministic functions: the situation report (threat
//! level) and the stress-resilience check-in. No I/O: callers load the facts, pass `now`, and
//! get the same answer for the same input.
//!
//! # Situation report ([`situation_report`])
//!
//! - Only active or escalated incidents count. Severity weight w: low 1, medium 2, high 4, critical 8.
//! - Recency r = 0.5^(age_hours / 24) (half-life 24 h; an incident reported now counts fully; age
//!   clamped at >= 0).
//! - Escalation factor e = 1 + 0.5 × escalations (+0.5 more when status is escalated now, i.e.
//!   status escalated counts as at least one escalation: use max(escalations, 1) when status is
//!   Escalated).
//! - Incident score = w × r × e. Emergency comms in the last 24 h add 0.5 × their own recency each.
//! - Threat score S = sum. Level: S < 2 → "low", < 6 → "moderate", < 12 → "high", else "critical".
//!
//! "The last 24 h" is an age in [0 h, 24 h) and "the 24 h before" an age in [24 h, 48 h), with
//! ages clamped at >= 0 (a timestamp in the future counts as now). S is rounded to 2 decimals
//! before the level is read from it, so the figure shown and the level agree. The trend compares
//! incidents of any status reported in the last 24 h with those of the 24 h before: more →
//! rising, fewer → falling, same → steady.
//!
//! # Stress-resilience check-in ([`validate`], [`assess_stress`])
//!
//! - Components in 0..1: heart = clamp((heartRate − 60) / 60, 0, 1); sleep = (10 − sleepQuality) / 10;
//!   mood = (10 − moodRating) / 10; incidents = min(count, 5) / 5.
//! - Weights heart 0.25, sleep 0.25, mood 0.30, incidents 0.20; stress = weighted mean over the
//!   components present (weights renormalised).
//! - Session modifier added: crisis +0.15, post_incident +0.05, others 0; result clamped to 0..1
//!   and rounded to 2 decimals.
//! - Bands: < 0.3 low, < 0.6 moderate, < 0.8 high, else severe.
//!
//! A component is present when its indicator is given; the incidents component when at least
//! one recent incident is listed. The band is read from the rounded level.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

/// Hours over which an incident's or a message's weight halves.
pub const HALF_LIFE_HOURS: f64 = 24.0;
/// Width of the "last 24 h" window (and of the window before it) for trends and comms.
pub const WINDOW_HOURS: f64 = 24.0;
/// Added to the escalation factor per escalation.
pub const ESCALATION_STEP: f64 = 0.5;
/// Weight of one emergency message sent now.
pub const EMERGENCY_COMM_WEIGHT: f64 = 0.5;
/// Lowest threat score read as moderate.
pub const MODERATE_THREAT_FROM: f64 = 2.0;
/// Lowest threat score read as high.
pub const HIGH_THREAT_FROM: f64 = 6.0;
/// Lowest threat score read as critical.
pub const CRITICAL_THREAT_FROM: f64 = 12.0;
/// Emergency messages in the last 24 h from which a comms watch is recommended.
pub const MANY_EMERGENCY_COMMS: u32 = 3;
/// Titles named in the "prioritise critical incidents" recommendation.
const CRITICAL_TITLES_NAMED: usize = 3;

pub use super::model::{IncidentStatus as Status, Severity};

impl Severity {
    /// The severity weight w of the threat formula.
    pub fn weight(self) -> f64 {
        match self {
            Severity::Low => 1.0,
            Severity::Medium => 2.0,
            Severity::High => 4.0,
            Severity::Critical => 8.0,
        }
    }
}

impl Status {
    /// Whether an incident in this status counts towards the threat score.
    pub fn is_open(self) -> bool {
        self != Status::Resolved
    }
}

/// What the situation report needs to know about one incident.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentFacts {
    pub incident_id: String,
    pub title: String,
    pub severity: Severity,
    pub status: Status,
    pub reported_at: DateTime<Utc>,
    pub escalations: u32,
    pub location: Option<String>,
}

/// What the situation report needs to know about one message.
#[derive(Debug, Clone, PartialEq)]
pub struct CommFacts {
    pub sent_at: DateTime<Utc>,
    pub emergency: bool,
}

/// The overall threat level read from the threat score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ThreatLevel {
    Low,
    Moderate,
    High,
    Critical,
}

impl ThreatLevel {
    /// The level for a threat score, by [`MODERATE_THREAT_FROM`], [`HIGH_THREAT_FROM`] and
    /// [`CRITICAL_THREAT_FROM`].
    pub fn from_score(score: f64) -> Self {
        if score < MODERATE_THREAT_FROM {
            ThreatLevel::Low
        } else if score < HIGH_THREAT_FROM {
            ThreatLevel::Moderate
        } else if score < CRITICAL_THREAT_FROM {
            ThreatLevel::High
        } else {
            ThreatLevel::Critical
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ThreatLevel::Low => "low",
            ThreatLevel::Moderate => "moderate",
            ThreatLevel::High => "high",
            ThreatLevel::Critical => "critical",
        }
    }
}

/// Which way incident reports are going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    Rising,
    Steady,
    Falling,
}

impl Trend {
    /// Rising when `recent` exceeds `before`, falling when it is lower, steady otherwise.
    pub fn between(recent: u32, before: u32) -> Self {
        match recent.cmp(&before) {
            Ordering::Greater => Trend::Rising,
            Ordering::Less => Trend::Falling,
            Ordering::Equal => Trend::Steady,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Trend::Rising => "rising",
            Trend::Steady => "steady",
            Trend::Falling => "falling",
        }
    }
}

/// One counted (active or escalated) incident and its share of the threat score.
#[derive(Debug, Clone, PartialEq)]
pub struct Situation {
    pub incident_id: String,
    pub title: String,
    pub severity: Severity,
    pub status: Status,
    /// The incident score w × r × e, rounded to 2 decimals.
    pub score: f64,
    pub location: Option<String>,
}

/// Counts behind the report's trend.
#[derive(Debug, Clone, PartialEq)]
pub struct Trends {
    /// Incidents of any status reported in the last 24 h.
    pub incidents_last_24h: u32,
    /// Incidents of any status reported in the 24 h before that.
    pub incidents_prior_24h: u32,
    /// Incidents whose status is escalated.
    pub escalated_now: u32,
    /// Emergency messages sent in the last 24 h.
    pub emergency_comms_last_24h: u32,
    pub direction: Trend,
}

/// The situation report: threat score and level, what drives them, and what to do.
#[derive(Debug, Clone, PartialEq)]
pub struct SituationReport {
    /// S, rounded to 2 decimals.
    pub threat_score: f64,
    pub overall_threat_level: ThreatLevel,
    /// Counted incidents, highest score first (ties by incident id).
    pub active_situations: Vec<Situation>,
    pub trends: Trends,
    /// At least one, in a fixed order.
    pub recommendations: Vec<String>,
}

/// The situation report at `now` (see the module documentation for the formula).
pub fn situation_report(now: DateTime<Utc>, incidents: &[IncidentFacts], comms: &[CommFacts]) -> SituationReport {
    let mut scored: Vec<(f64, &IncidentFacts)> =
        incidents.iter().filter(|i| i.status.is_open()).map(|i| (incident_score(now, i), i)).collect();
    let comms_score: f64 = comms.iter().map(|c| comm_score(now, c)).sum();
    let threat_score = round2(scored.iter().map(|(score, _)| score).sum::<f64>() + comms_score);
    let overall_threat_level = ThreatLevel::from_score(threat_score);

    scored.sort_by(|(a, ia), (b, ib)| b.total_cmp(a).then_with(|| ia.incident_id.cmp(&ib.incident_id)));
    let active_situations: Vec<Situation> = scored.into_iter().map(|(score, i)| situation(i, score)).collect();
    let trends = trends(now, incidents, comms);
    let recommendations = threat_recommendations(overall_threat_level, threat_score, &active_situations, &trends);
    SituationReport { threat_score, overall_threat_level, active_situations, trends, recommendations }
}

/// The incident score w × r × e (unrounded); 0 for a resolved incident.
pub fn incident_score(now: DateTime<Utc>, incident: &IncidentFacts) -> f64 {
    if !incident.status.is_open() {
        return 0.0;
    }
    incident.severity.weight() * recency(age_hours(now, incident.reported_at)) * escalation_factor(incident)
}

/// e = 1 + 0.5 × escalations, an escalated status counting as at least one escalation.
fn escalation_factor(incident: &IncidentFacts) -> f64 {
    let escalations = match incident.status {
        Status::Escalated => incident.escalations.max(1),
        _ => incident.escalations,
    };
    1.0 + ESCALATION_STEP * f64::from(escalations)
}

/// 0.5 × recency for an emergency message of the last 24 h; 0 otherwise.
fn comm_score(now: DateTime<Utc>, comm: &CommFacts) -> f64 {
    let age = age_hours(now, comm.sent_at);
    if comm.emergency && age < WINDOW_HOURS { EMERGENCY_COMM_WEIGHT * recency(age) } else { 0.0 }
}

/// Hours from `at` to `now`, never negative.
fn age_hours(now: DateTime<Utc>, at: DateTime<Utc>) -> f64 {
    ((now - at).num_milliseconds() as f64 / 3_600_000.0).max(0.0)
}

/// r = 0.5^(age_hours / 24).
fn recency(age_hours: f64) -> f64 {
    0.5_f64.powf(age_hours / HALF_LIFE_HOURS)
}

fn situation(incident: &IncidentFacts, score: f64) -> Situation {
    Situation {
        incident_id: incident.incident_id.clone(),
        title: incident.title.clone(),
        severity: incident.severity,
        status: incident.status,
        score: round2(score),
        location: incident.location.clone(),
    }
}

fn trends(now: DateTime<Utc>, incidents: &[IncidentFacts], comms: &[CommFacts]) -> Trends {
    let reported_between =
        |from: f64, to: f64| count(incidents.iter().filter(|i| (from..to).contains(&age_hours(now, i.reported_at))));
    let incidents_last_24h = reported_between(0.0, WINDOW_HOURS);
    let incidents_prior_24h = reported_between(WINDOW_HOURS, 2.0 * WINDOW_HOURS);
    Trends {
        incidents_last_24h,
        incidents_prior_24h,
        escalated_now: count(incidents.iter().filter(|i| i.status == Status::Escalated)),
        emergency_comms_last_24h: count(
            comms.iter().filter(|c| c.emergency && age_hours(now, c.sent_at) < WINDOW_HOURS),
        ),
        direction: Trend::between(incidents_last_24h, incidents_prior_24h),
    }
}

/// The rules, in this order: critical incidents, escalations, rising trend, emergency comms,
/// nothing active; and, when none applied, a reminder to monitor what is active.
fn threat_recommendations(level: ThreatLevel, score: f64, situations: &[Situation], trends: &Trends) -> Vec<String> {
    let mut recommendations = Vec::new();
    let critical: Vec<&str> =
        situations.iter().filter(|s| s.severity == Severity::Critical).map(|s| s.title.as_str()).collect();
    if !critical.is_empty() {
        recommendations.push(format!("Prioritise {} critical incident(s): {}", critical.len(), name_some(&critical)));
    }
    if trends.escalated_now > 0 {
        recommendations.push(format!("Review the {} escalated incident(s) with command", trends.escalated_now));
    }
    if trends.direction == Trend::Rising {
        recommendations.push(format!(
            "Incident reports are rising ({} in the last 24 h vs {} before): consider raising staffing",
            trends.incidents_last_24h, trends.incidents_prior_24h
        ));
    }
    if trends.emergency_comms_last_24h >= MANY_EMERGENCY_COMMS {
        recommendations.push(format!(
            "{} emergency communications in the last 24 h: keep a dedicated comms watch and confirm each sender is safe",
            trends.emergency_comms_last_24h
        ));
    }
    if situations.is_empty() && level == ThreatLevel::Low {
        recommendations.push("No active incidents: maintain routine readiness".to_owned());
    }
    if recommendations.is_empty() {
        recommendations.push(format!(
            "Monitor the {} active incident(s): threat level {} (score {score:.2})",
            situations.len(),
            level.as_str()
        ));
    }
    recommendations
}

/// Up to [`CRITICAL_TITLES_NAMED`] titles, then how many more there are.
fn name_some(titles: &[&str]) -> String {
    let named = titles[..titles.len().min(CRITICAL_TITLES_NAMED)].join(", ");
    match titles.len().saturating_sub(CRITICAL_TITLES_NAMED) {
        0 => named,
        more => format!("{named} and {more} more"),
    }
}

fn count<T>(items: impl Iterator<Item = T>) -> u32 {
    u32::try_from(items.count()).unwrap_or(u32::MAX)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Resting heart rate: the heart component is 0 at or below it.
pub const RESTING_HEART_RATE: f64 = 60.0;
/// Beats per minute above rest at which the heart component reaches 1.
pub const HEART_RATE_SPAN: f64 = 60.0;
/// Accepted heart rates, beats per minute.
pub const HEART_RATE_RANGE: std::ops::RangeInclusive<f64> = 25.0..=250.0;
/// Top of the sleep-quality and mood scales (0 is the bottom).
pub const RATING_MAX: f64 = 10.0;
/// Recent incidents at which the incidents component reaches 1.
pub const INCIDENTS_FOR_FULL: usize = 5;
/// Most recent incidents accepted.
pub const MAX_RECENT_INCIDENTS: usize = 20;
/// Most characters in one recent incident (after trimming).
pub const MAX_INCIDENT_CHARS: usize = 200;
/// Weights of the stress components, renormalised over those present.
pub const HEART_WEIGHT: f64 = 0.25;
pub const SLEEP_WEIGHT: f64 = 0.25;
pub const MOOD_WEIGHT: f64 = 0.30;
pub const INCIDENTS_WEIGHT: f64 = 0.20;
/// Lowest stress level read as moderate.
pub const MODERATE_STRESS_FROM: f64 = 0.3;
/// Lowest stress level read as high.
pub const HIGH_STRESS_FROM: f64 = 0.6;
/// Lowest stress level read as severe.
pub const SEVERE_STRESS_FROM: f64 = 0.8;
/// A component at or above this is treated as raised and gets its own recommendation.
pub const RAISED_COMPONENT: f64 = 0.5;
/// Recent incidents from which a critical-incident debrief is recommended.
pub const SEVERAL_INCIDENTS: usize = 3;

/// Why the check-in happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionType {
    StressAssessment,
    PreDeployment,
    PostIncident,
    RoutineCheck,
    Crisis,
}

impl SessionType {
    pub const ALL: [SessionType; 5] =
        [Self::StressAssessment, Self::PreDeployment, Self::PostIncident, Self::RoutineCheck, Self::Crisis];

    /// The snake_case names, any case.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "stress_assessment" => Some(SessionType::StressAssessment),
            "pre_deployment" => Some(SessionType::PreDeployment),
            "post_incident" => Some(SessionType::PostIncident),
            "routine_check" => Some(SessionType::RoutineCheck),
            "crisis" => Some(SessionType::Crisis),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SessionType::StressAssessment => "stress_assessment",
            SessionType::PreDeployment => "pre_deployment",
            SessionType::PostIncident => "post_incident",
            SessionType::RoutineCheck => "routine_check",
            SessionType::Crisis => "crisis",
        }
    }

    /// What the session adds to the stress level.
    pub fn modifier(self) -> f64 {
        match self {
            SessionType::Crisis => 0.15,
            SessionType::PostIncident => 0.05,
            SessionType::StressAssessment | SessionType::PreDeployment | SessionType::RoutineCheck => 0.0,
        }
    }
}

/// What the responder reports; every indicator is optional.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StressIndicators {
    /// Beats per minute.
    pub heart_rate: Option<f64>,
    /// 0 (worst) to 10 (best).
    pub sleep_quality: Option<f64>,
    /// 0 (worst) to 10 (best).
    pub mood_rating: Option<f64>,
    /// Short descriptions of incidents the responder was recently involved in.
    pub recent_incidents: Vec<String>,
}

/// Stress bands read from the stress level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StressBand {
    Low,
    Moderate,
    High,
    Severe,
}

impl StressBand {
    /// The band for a stress level, by [`MODERATE_STRESS_FROM`], [`HIGH_STRESS_FROM`] and
    /// [`SEVERE_STRESS_FROM`].
    pub fn from_level(level: f64) -> Self {
        if level < MODERATE_STRESS_FROM {
            StressBand::Low
        } else if level < HIGH_STRESS_FROM {
            StressBand::Moderate
        } else if level < SEVERE_STRESS_FROM {
            StressBand::High
        } else {
            StressBand::Severe
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StressBand::Low => "low",
            StressBand::Moderate => "moderate",
            StressBand::High => "high",
            StressBand::Severe => "severe",
        }
    }
}

/// The result of a check-in.
#[derive(Debug, Clone, PartialEq)]
pub struct StressAssessment {
    /// 0 to 1, rounded to 2 decimals.
    pub stress_level: f64,
    pub band: StressBand,
    /// The components present, in the order heart, sleep, mood, incidents, rounded to 2 decimals.
    pub components: Vec<(&'static str, f64)>,
    /// One or two plain sentences: band, level, largest contributor.
    pub analysis: String,
    /// At least one; "Contact a support line now…" comes first when the band is high or severe.
    pub recommendations: Vec<String>,
}

/// Checks the indicators; the error names the offending field (in the API's camelCase) and why.
pub fn validate(indicators: &StressIndicators) -> Result<(), (&'static str, String)> {
    if let Some(heart_rate) = indicators.heart_rate
        && !HEART_RATE_RANGE.contains(&heart_rate)
    {
        let (low, high) = HEART_RATE_RANGE.into_inner();
        return Err(("heartRate", format!("must be {low} to {high} beats per minute")));
    }
    check_rating("sleepQuality", indicators.sleep_quality)?;
    check_rating("moodRating", indicators.mood_rating)?;
    if indicators.recent_incidents.len() > MAX_RECENT_INCIDENTS {
        return Err(("recentIncidents", format!("at most {MAX_RECENT_INCIDENTS}")));
    }
    if indicators.recent_incidents.iter().any(|i| !(1..=MAX_INCIDENT_CHARS).contains(&i.trim().chars().count())) {
        return Err(("recentIncidents", format!("each must be 1 to {MAX_INCIDENT_CHARS} characters")));
    }
    if components(indicators).is_empty() {
        return Err(("stressIndicators", "give at least one indicator".to_owned()));
    }
    Ok(())
}

fn check_rating(field: &'static str, rating: Option<f64>) -> Result<(), (&'static str, String)> {
    match rating {
        Some(r) if !(0.0..=RATING_MAX).contains(&r) => Err((field, format!("must be 0 to {RATING_MAX}"))),
        _ => Ok(()),
    }
}

/// The check-in's stress level, band, analysis and recommendations (see the module
/// documentation for the formula). Expects indicators that passed [`validate`]; with none, the
/// level is the session modifier alone.
pub fn assess_stress(session: SessionType, indicators: &StressIndicators) -> StressAssessment {
    let parts = components(indicators);
    let total_weight: f64 = parts.iter().map(|c| c.weight).sum();
    let mean =
        if parts.is_empty() { 0.0 } else { parts.iter().map(Component::contribution).sum::<f64>() / total_weight };
    let stress_level = round2((mean + session.modifier()).clamp(0.0, 1.0));
    let band = StressBand::from_level(stress_level);
    StressAssessment {
        stress_level,
        band,
        components: parts.iter().map(|c| (c.name, round2(c.value))).collect(),
        analysis: stress_analysis(session, band, stress_level, &parts),
        recommendations: stress_recommendations(band, stress_level, indicators),
    }
}

/// One present component of the stress formula.
struct Component {
    name: &'static str,
    weight: f64,
    value: f64,
}

impl Component {
    fn contribution(&self) -> f64 {
        self.weight * self.value
    }
}

fn components(indicators: &StressIndicators) -> Vec<Component> {
    let component = |name, weight, value| Component { name, weight, value };
    [
        indicators.heart_rate.map(|hr| component("heart", HEART_WEIGHT, heart_component(hr))),
        indicators.sleep_quality.map(|q| component("sleep", SLEEP_WEIGHT, rating_component(q))),
        indicators.mood_rating.map(|m| component("mood", MOOD_WEIGHT, rating_component(m))),
        (!indicators.recent_incidents.is_empty())
            .then(|| component("incidents", INCIDENTS_WEIGHT, incidents_component(indicators.recent_incidents.len()))),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// clamp((heartRate − 60) / 60, 0, 1).
fn heart_component(heart_rate: f64) -> f64 {
    ((heart_rate - RESTING_HEART_RATE) / HEART_RATE_SPAN).clamp(0.0, 1.0)
}

/// (10 − rating) / 10, for sleep quality and mood.
fn rating_component(rating: f64) -> f64 {
    (RATING_MAX - rating) / RATING_MAX
}

/// min(count, 5) / 5.
fn incidents_component(count: usize) -> f64 {
    count.min(INCIDENTS_FOR_FULL) as f64 / INCIDENTS_FOR_FULL as f64
}

fn stress_analysis(session: SessionType, band: StressBand, level: f64, parts: &[Component]) -> String {
    let modifier = match session.modifier() {
        m if m > 0.0 => format!(", including +{m:.2} for a {} session", session.as_str().replace('_', "-")),
        _ => String::new(),
    };
    let largest = parts.iter().reduce(|best, c| if c.contribution() > best.contribution() { c } else { best });
    let driver = match largest {
        Some(c) if c.value > 0.0 => format!("The largest contributor is {} ({:.2} of 1).", c.name, c.value),
        _ => "No indicator is raised.".to_owned(),
    };
    format!("Stress is {} at {level:.2} on a 0 to 1 scale{modifier}. {driver}", band.as_str())
}

/// The rules, in this order: support line (high or severe band), poor sleep, raised heart rate,
/// low mood, several recent incidents; and, when none applied, routine check-ins.
fn stress_recommendations(band: StressBand, level: f64, indicators: &StressIndicators) -> Vec<String> {
    let mut recommendations = Vec::new();
    if band >= StressBand::High {
        recommendations.push(format!("Contact a support line now: a stress level of {level:.2} is {}", band.as_str()));
    }
    if let Some(sleep) = indicators.sleep_quality
        && rating_component(sleep) >= RAISED_COMPONENT
    {
        recommendations.push(format!(
            "Sleep quality {}/10 is poor: keep fixed sleep and wake times, and avoid screens and caffeine before rest",
            figure(sleep)
        ));
    }
    if let Some(heart_rate) = indicators.heart_rate
        && heart_component(heart_rate) >= RAISED_COMPONENT
    {
        recommendations.push(format!(
            "Heart rate {} bpm is raised: try box breathing (inhale 4 s, hold 4 s, exhale 4 s, hold 4 s) for a few minutes",
            figure(heart_rate)
        ));
    }
    if let Some(mood) = indicators.mood_rating
        && rating_component(mood) >= RAISED_COMPONENT
    {
        recommendations.push(format!("Mood {}/10 is low: talk to a peer-support colleague today", figure(mood)));
    }
    let incidents = indicators.recent_incidents.len();
    if incidents >= SEVERAL_INCIDENTS {
        recommendations.push(format!("{incidents} recent incidents: attend a critical-incident debrief"));
    }
    if recommendations.is_empty() {
        recommendations.push(format!("Keep up routine check-ins: a stress level of {level:.2} is {}", band.as_str()));
    }
    recommendations
}

/// A reported figure to at most one decimal, without a trailing ".0".
fn figure(x: f64) -> String {
    format!("{}", (x * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    fn incident(id: &str, severity: Severity, status: Status, hours_ago: i64, escalations: u32) -> IncidentFacts {
        IncidentFacts {
            incident_id: id.to_owned(),
            title: format!("Incident {id}"),
            severity,
            status,
            reported_at: now() - Duration::hours(hours_ago),
            escalations,
            location: Some("Sector 7".to_owned()),
        }
    }

    fn emergency(hours_ago: i64) -> CommFacts {
        CommFacts { sent_at: now() - Duration::hours(hours_ago), emergency: true }
    }

    fn report(incidents: &[IncidentFacts], comms: &[CommFacts]) -> SituationReport {
        situation_report(now(), incidents, comms)
    }

    #[test]
    fn one_critical_incident_now_scores_eight_and_is_high() {
        let r = report(&[incident("a", Severity::Critical, Status::Active, 0, 0)], &[]);
        assert_eq!(r.threat_score, 8.0);
        assert_eq!(r.overall_threat_level, ThreatLevel::High);
        assert_eq!(r.active_situations.len(), 1);
        let s = &r.active_situations[0];
        assert_eq!((s.incident_id.as_str(), s.score, s.location.as_deref()), ("a", 8.0, Some("Sector 7")));
        assert_eq!(r.recommendations[0], "Prioritise 1 critical incident(s): Incident a");
    }

    #[test]
    fn a_medium_incident_two_half_lives_old_scores_half() {
        let r = report(&[incident("a", Severity::Medium, Status::Active, 48, 0)], &[]);
        assert_eq!(r.threat_score, 0.5);
        assert_eq!(r.overall_threat_level, ThreatLevel::Low);
    }

    #[test]
    fn escalated_status_counts_as_one_escalation() {
        let r = report(&[incident("a", Severity::High, Status::Escalated, 0, 0)], &[]);
        assert_eq!(r.threat_score, 6.0);
        assert_eq!(r.overall_threat_level, ThreatLevel::High);
        // Two recorded escalations: e = 2, and the status adds nothing more.
        let r = report(&[incident("a", Severity::High, Status::Escalated, 0, 2)], &[]);
        assert_eq!(r.threat_score, 8.0);
        // An active incident with one escalation: e = 1.5.
        let r = report(&[incident("a", Severity::Medium, Status::Active, 0, 1)], &[]);
        assert_eq!(r.threat_score, 3.0);
    }

    #[test]
    fn resolved_incidents_are_ignored() {
        let r = report(&[incident("a", Severity::Critical, Status::Resolved, 0, 3)], &[]);
        assert_eq!(r.threat_score, 0.0);
        assert_eq!(r.overall_threat_level, ThreatLevel::Low);
        assert!(r.active_situations.is_empty());
        assert_eq!(r.trends.incidents_last_24h, 1, "trends count every status");
        assert!(r.recommendations.contains(&"No active incidents: maintain routine readiness".to_owned()));
    }

    #[test]
    fn future_reports_count_as_now() {
        let r = report(&[incident("a", Severity::Low, Status::Active, -5, 0)], &[]);
        assert_eq!(r.threat_score, 1.0);
        assert_eq!(r.trends.incidents_last_24h, 1);
    }

    #[test]
    fn emergency_comms_of_the_last_day_add_half_their_recency() {
        let quiet = CommFacts { sent_at: now(), emergency: false };
        let r = report(&[], &[emergency(0), emergency(0), quiet, emergency(24)]);
        assert_eq!(r.threat_score, 1.0);
        assert_eq!(r.trends.emergency_comms_last_24h, 2);
        // 12 h old: 0.5 × 0.5^0.5 ≈ 0.354.
        assert_eq!(report(&[], &[emergency(12)]).threat_score, 0.35);
    }

    #[test]
    fn many_emergency_comms_get_a_recommendation() {
        let r = report(&[], &[emergency(1), emergency(2), emergency(3)]);
        assert_eq!(r.trends.emergency_comms_last_24h, 3);
        assert!(
            r.recommendations[0].starts_with("3 emergency communications in the last 24 h"),
            "{:?}",
            r.recommendations
        );
        assert!(!report(&[], &[emergency(1), emergency(2)]).recommendations[0].contains("emergency"));
    }

    #[test]
    fn threat_levels_change_at_the_thresholds() {
        let cases = [
            (1.99, ThreatLevel::Low),
            (2.0, ThreatLevel::Moderate),
            (5.99, ThreatLevel::Moderate),
            (6.0, ThreatLevel::High),
            (11.99, ThreatLevel::High),
            (12.0, ThreatLevel::Critical),
        ];
        for (score, level) in cases {
            assert_eq!(ThreatLevel::from_score(score), level, "{score}");
        }
        let two_lows =
            [incident("a", Severity::Low, Status::Active, 0, 0), incident("b", Severity::Low, Status::Active, 0, 0)];
        assert_eq!(report(&two_lows, &[]).overall_threat_level, ThreatLevel::Moderate);
        let r = report(&[incident("a", Severity::Critical, Status::Escalated, 0, 0)], &[]);
        assert_eq!((r.threat_score, r.overall_threat_level.as_str()), (12.0, "critical"));
    }

    #[test]
    fn situations_are_sorted_by_score_then_id() {
        let incidents = [
            incident("c", Severity::Low, Status::Active, 0, 0),
            incident("b", Severity::High, Status::Active, 0, 0),
            incident("a", Severity::Low, Status::Active, 0, 0),
            incident("d", Severity::Critical, Status::Active, 24, 0),
        ];
        let r = report(&incidents, &[]);
        let order: Vec<(&str, f64)> = r.active_situations.iter().map(|s| (s.incident_id.as_str(), s.score)).collect();
        assert_eq!(order, [("b", 4.0), ("d", 4.0), ("a", 1.0), ("c", 1.0)]);
        assert_eq!(r.threat_score, 10.0);
    }

    #[test]
    fn trend_compares_the_last_day_with_the_day_before() {
        let rising = [
            incident("a", Severity::Low, Status::Resolved, 1, 0),
            incident("b", Severity::Low, Status::Active, 23, 0),
            incident("c", Severity::Low, Status::Resolved, 24, 0),
            incident("d", Severity::Low, Status::Resolved, 72, 0),
        ];
        let r = report(&rising, &[]);
        assert_eq!((r.trends.incidents_last_24h, r.trends.incidents_prior_24h), (2, 1));
        assert_eq!(r.trends.direction, Trend::Rising);
        assert!(r.recommendations.contains(
            &"Incident reports are rising (2 in the last 24 h vs 1 before): consider raising staffing".to_owned()
        ));

        let falling = [incident("a", Severity::Low, Status::Resolved, 30, 0)];
        assert_eq!(report(&falling, &[]).trends.direction, Trend::Falling);
        assert_eq!(report(&[], &[]).trends.direction, Trend::Steady);
        assert_eq!(Trend::between(3, 3).as_str(), "steady");
    }

    #[test]
    fn recommendations_cite_the_figures_in_a_fixed_order() {
        let incidents = [
            incident("a", Severity::Critical, Status::Escalated, 0, 1),
            incident("b", Severity::Critical, Status::Active, 1, 0),
            incident("c", Severity::Critical, Status::Active, 2, 0),
            incident("d", Severity::Critical, Status::Active, 3, 0),
            incident("e", Severity::Low, Status::Escalated, 4, 0),
        ];
        let r = report(&incidents, &[emergency(0), emergency(1), emergency(2)]);
        assert_eq!(r.trends.escalated_now, 2);
        assert_eq!(
            r.recommendations,
            [
                "Prioritise 4 critical incident(s): Incident a, Incident b, Incident c and 1 more",
                "Review the 2 escalated incident(s) with command",
                "Incident reports are rising (5 in the last 24 h vs 0 before): consider raising staffing",
                "3 emergency communications in the last 24 h: keep a dedicated comms watch and confirm each sender is safe",
            ]
        );
    }

    #[test]
    fn there_is_always_a_recommendation() {
        let r = report(&[], &[]);
        assert_eq!(r.recommendations, ["No active incidents: maintain routine readiness"]);
        // One old medium incident: no rule fires, so the fallback names it.
        let r = report(&[incident("a", Severity::Medium, Status::Active, 30, 0)], &[]);
        assert_eq!(r.recommendations, ["Monitor the 1 active incident(s): threat level low (score 0.84)"]);
    }

    #[test]
    fn severity_and_status_names_round_trip() {
        for s in [Severity::Low, Severity::Medium, Severity::High, Severity::Critical] {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
        }
        for s in [Status::Active, Status::Resolved, Status::Escalated] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Severity::parse("CRITICAL"), Some(Severity::Critical));
        assert_eq!(Status::parse("closed"), None);
    }

    fn indicators(heart: Option<f64>, sleep: Option<f64>, mood: Option<f64>, incidents: usize) -> StressIndicators {
        StressIndicators {
            heart_rate: heart,
            sleep_quality: sleep,
            mood_rating: mood,
            recent_incidents: (1..=incidents).map(|i| format!("Call-out {i}")).collect(),
        }
    }

    #[test]
    fn all_four_indicators() {
        // heart (96 − 60) / 60 = 0.6, sleep 0.6, mood 0.7, incidents 2/5 = 0.4:
        // 0.25 × 0.6 + 0.25 × 0.6 + 0.30 × 0.7 + 0.20 × 0.4 = 0.59.
        let a = assess_stress(SessionType::RoutineCheck, &indicators(Some(96.0), Some(4.0), Some(3.0), 2));
        assert_eq!(a.stress_level, 0.59);
        assert_eq!(a.band, StressBand::Moderate);
        assert_eq!(a.components, [("heart", 0.6), ("sleep", 0.6), ("mood", 0.7), ("incidents", 0.4)]);
        assert_eq!(
            a.analysis,
            "Stress is moderate at 0.59 on a 0 to 1 scale. The largest contributor is mood (0.70 of 1)."
        );
        assert_eq!(
            a.recommendations,
            [
                "Sleep quality 4/10 is poor: keep fixed sleep and wake times, and avoid screens and caffeine before rest",
                "Heart rate 96 bpm is raised: try box breathing (inhale 4 s, hold 4 s, exhale 4 s, hold 4 s) for a few minutes",
                "Mood 3/10 is low: talk to a peer-support colleague today",
            ]
        );
    }

    #[test]
    fn weights_are_renormalised_over_the_components_present() {
        let a = assess_stress(SessionType::StressAssessment, &indicators(None, None, Some(2.0), 0));
        assert_eq!(a.stress_level, 0.8);
        assert_eq!(a.band, StressBand::Severe);
        assert_eq!(a.components, [("mood", 0.8)]);
        assert!(a.recommendations[0].starts_with("Contact a support line now"), "{:?}", a.recommendations);
        // Heart 0 and sleep 1 weigh equally: 0.5.
        let a = assess_stress(SessionType::PreDeployment, &indicators(Some(50.0), Some(0.0), None, 0));
        assert_eq!(a.stress_level, 0.5);
    }

    #[test]
    fn session_modifiers_are_added_and_the_level_clamped() {
        let calm = indicators(Some(60.0), Some(10.0), Some(10.0), 0);
        assert_eq!(assess_stress(SessionType::RoutineCheck, &calm).stress_level, 0.0);
        assert_eq!(assess_stress(SessionType::PostIncident, &calm).stress_level, 0.05);
        let a = assess_stress(SessionType::Crisis, &calm);
        assert_eq!(a.stress_level, 0.15);
        assert_eq!(
            a.analysis,
            "Stress is low at 0.15 on a 0 to 1 scale, including +0.15 for a crisis session. No indicator is raised."
        );
        assert_eq!(a.recommendations, ["Keep up routine check-ins: a stress level of 0.15 is low"]);

        let a = assess_stress(SessionType::Crisis, &indicators(Some(200.0), Some(0.0), Some(0.0), 7));
        assert_eq!(a.stress_level, 1.0);
        assert_eq!(a.band, StressBand::Severe);
        assert_eq!(a.components, [("heart", 1.0), ("sleep", 1.0), ("mood", 1.0), ("incidents", 1.0)]);
        assert_eq!(a.recommendations[0], "Contact a support line now: a stress level of 1.00 is severe");
        assert_eq!(a.recommendations.last().unwrap(), "7 recent incidents: attend a critical-incident debrief");
    }

    #[test]
    fn stress_bands_change_at_the_thresholds() {
        let cases = [
            (0.29, StressBand::Low),
            (0.3, StressBand::Moderate),
            (0.59, StressBand::Moderate),
            (0.6, StressBand::High),
            (0.79, StressBand::High),
            (0.8, StressBand::Severe),
        ];
        for (level, band) in cases {
            assert_eq!(StressBand::from_level(level), band, "{level}");
        }
        // Mood 4 alone: 0.6, high.
        let a = assess_stress(SessionType::RoutineCheck, &indicators(None, None, Some(4.0), 0));
        assert_eq!((a.stress_level, a.band.as_str()), (0.6, "high"));
    }

    #[test]
    fn validation_names_the_field() {
        let field = |i: StressIndicators| validate(&i).unwrap_err().0;
        assert_eq!(field(indicators(Some(24.0), None, None, 0)), "heartRate");
        assert_eq!(field(indicators(Some(250.5), None, None, 0)), "heartRate");
        assert_eq!(field(indicators(Some(f64::NAN), None, None, 0)), "heartRate");
        assert_eq!(field(indicators(None, Some(-0.5), None, 0)), "sleepQuality");
        assert_eq!(field(indicators(None, None, Some(10.5), 0)), "moodRating");
        assert_eq!(field(indicators(None, None, None, 21)), "recentIncidents");
        let blank = StressIndicators { recent_incidents: vec!["  ".to_owned()], ..Default::default() };
        assert_eq!(field(blank), "recentIncidents");
        let long = StressIndicators { recent_incidents: vec!["x".repeat(201)], ..Default::default() };
        assert_eq!(field(long), "recentIncidents");
        assert_eq!(
            validate(&StressIndicators::default()),
            Err(("stressIndicators", "give at least one indicator".to_owned()))
        );

        assert_eq!(validate(&indicators(Some(25.0), Some(0.0), Some(10.0), 20)), Ok(()));
        assert_eq!(validate(&indicators(Some(250.0), None, None, 0)), Ok(()));
        let padded =
            StressIndicators { recent_incidents: vec![format!(" {} ", "x".repeat(200))], ..Default::default() };
        assert_eq!(validate(&padded), Ok(()));
    }

    #[test]
    fn session_types_parse_from_snake_case() {
        let all = [
            SessionType::StressAssessment,
            SessionType::PreDeployment,
            SessionType::PostIncident,
            SessionType::RoutineCheck,
            SessionType::Crisis,
        ];
        for s in all {
            assert_eq!(SessionType::parse(s.as_str()), Some(s));
        }
        assert_eq!(SessionType::parse("post_incident"), Some(SessionType::PostIncident));
        assert_eq!(SessionType::parse("debrief"), None);
        assert_eq!(SessionType::parse("postIncident"), None);
    }
}
