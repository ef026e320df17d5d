//! The situation report of Tactical HQ as a pure, deterministic function: the threat score and
//! level of a department, what drives them, and what to do. No I/O: callers load the facts,
//! pass `now`, and get the same answer for the same input.
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

use super::model::{IncidentStatus, Severity};

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

impl IncidentStatus {
    /// Whether an incident in this status counts towards the threat score.
    pub fn is_open(self) -> bool {
        self != IncidentStatus::Resolved
    }
}

/// What the situation report needs to know about one incident.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentFacts {
    pub incident_id: String,
    pub title: String,
    pub severity: Severity,
    pub status: IncidentStatus,
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
pub struct ScoredIncident {
    pub incident_id: String,
    pub title: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    /// The incident score w × r × e, rounded to 2 decimals.
    pub score: f64,
    pub location: Option<String>,
}

/// Counts behind the report's trend.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendCounts {
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
pub struct ThreatReport {
    /// S, rounded to 2 decimals.
    pub threat_score: f64,
    pub overall_threat_level: ThreatLevel,
    /// Counted incidents, highest score first (ties by incident id).
    pub active_situations: Vec<ScoredIncident>,
    pub trends: TrendCounts,
    /// At least one, in a fixed order.
    pub recommendations: Vec<String>,
}

/// The situation report at `now` (see the module documentation for the formula).
pub fn situation_report(now: DateTime<Utc>, incidents: &[IncidentFacts], comms: &[CommFacts]) -> ThreatReport {
    let mut scored: Vec<(f64, &IncidentFacts)> =
        incidents.iter().filter(|i| i.status.is_open()).map(|i| (incident_score(now, i), i)).collect();
    let comms_score: f64 = comms.iter().map(|c| comm_score(now, c)).sum();
    let threat_score = round2(scored.iter().map(|(score, _)| score).sum::<f64>() + comms_score);
    let overall_threat_level = ThreatLevel::from_score(threat_score);

    scored.sort_by(|(a, ia), (b, ib)| b.total_cmp(a).then_with(|| ia.incident_id.cmp(&ib.incident_id)));
    let active_situations: Vec<ScoredIncident> = scored.into_iter().map(|(score, i)| scored_incident(i, score)).collect();
    let trends = trends(now, incidents, comms);
    let recommendations = threat_recommendations(overall_threat_level, threat_score, &active_situations, &trends);
    ThreatReport { threat_score, overall_threat_level, active_situations, trends, recommendations }
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
        IncidentStatus::Escalated => incident.escalations.max(1),
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

fn scored_incident(incident: &IncidentFacts, score: f64) -> ScoredIncident {
    ScoredIncident {
        incident_id: incident.incident_id.clone(),
        title: incident.title.clone(),
        severity: incident.severity,
        status: incident.status,
        score: round2(score),
        location: incident.location.clone(),
    }
}

fn trends(now: DateTime<Utc>, incidents: &[IncidentFacts], comms: &[CommFacts]) -> TrendCounts {
    let reported_between =
        |from: f64, to: f64| count(incidents.iter().filter(|i| (from..to).contains(&age_hours(now, i.reported_at))));
    let incidents_last_24h = reported_between(0.0, WINDOW_HOURS);
    let incidents_prior_24h = reported_between(WINDOW_HOURS, 2.0 * WINDOW_HOURS);
    TrendCounts {
        incidents_last_24h,
        incidents_prior_24h,
        escalated_now: count(incidents.iter().filter(|i| i.status == IncidentStatus::Escalated)),
        emergency_comms_last_24h: count(
            comms.iter().filter(|c| c.emergency && age_hours(now, c.sent_at) < WINDOW_HOURS),
        ),
        direction: Trend::between(incidents_last_24h, incidents_prior_24h),
    }
}

/// The rules, in this order: critical incidents, escalations, rising trend, emergency comms,
/// nothing active; and, when none applied, a reminder to monitor what is active.
fn threat_recommendations(level: ThreatLevel, score: f64, situations: &[ScoredIncident], trends: &TrendCounts) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    fn incident(id: &str, severity: Severity, status: IncidentStatus, hours_ago: i64, escalations: u32) -> IncidentFacts {
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

    fn report(incidents: &[IncidentFacts], comms: &[CommFacts]) -> ThreatReport {
        situation_report(now(), incidents, comms)
    }

    #[test]
    fn one_critical_incident_now_scores_eight_and_is_high() {
        let r = report(&[incident("a", Severity::Critical, IncidentStatus::Active, 0, 0)], &[]);
        assert_eq!(r.threat_score, 8.0);
        assert_eq!(r.overall_threat_level, ThreatLevel::High);
        assert_eq!(r.active_situations.len(), 1);
        let s = &r.active_situations[0];
        assert_eq!((s.incident_id.as_str(), s.score, s.location.as_deref()), ("a", 8.0, Some("Sector 7")));
        assert_eq!(r.recommendations[0], "Prioritise 1 critical incident(s): Incident a");
    }

    #[test]
    fn a_medium_incident_two_half_lives_old_scores_half() {
        let r = report(&[incident("a", Severity::Medium, IncidentStatus::Active, 48, 0)], &[]);
        assert_eq!(r.threat_score, 0.5);
        assert_eq!(r.overall_threat_level, ThreatLevel::Low);
    }

    #[test]
    fn escalated_status_counts_as_one_escalation() {
        let r = report(&[incident("a", Severity::High, IncidentStatus::Escalated, 0, 0)], &[]);
        assert_eq!(r.threat_score, 6.0);
        assert_eq!(r.overall_threat_level, ThreatLevel::High);
        // Two recorded escalations: e = 2, and the status adds nothing more.
        let r = report(&[incident("a", Severity::High, IncidentStatus::Escalated, 0, 2)], &[]);
        assert_eq!(r.threat_score, 8.0);
        // An active incident with one escalation: e = 1.5.
        let r = report(&[incident("a", Severity::Medium, IncidentStatus::Active, 0, 1)], &[]);
        assert_eq!(r.threat_score, 3.0);
    }

    #[test]
    fn resolved_incidents_are_ignored() {
        let r = report(&[incident("a", Severity::Critical, IncidentStatus::Resolved, 0, 3)], &[]);
        assert_eq!(r.threat_score, 0.0);
        assert_eq!(r.overall_threat_level, ThreatLevel::Low);
        assert!(r.active_situations.is_empty());
        assert_eq!(r.trends.incidents_last_24h, 1, "trends count every status");
        assert!(r.recommendations.contains(&"No active incidents: maintain routine readiness".to_owned()));
    }

    #[test]
    fn future_reports_count_as_now() {
        let r = report(&[incident("a", Severity::Low, IncidentStatus::Active, -5, 0)], &[]);
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
            [incident("a", Severity::Low, IncidentStatus::Active, 0, 0), incident("b", Severity::Low, IncidentStatus::Active, 0, 0)];
        assert_eq!(report(&two_lows, &[]).overall_threat_level, ThreatLevel::Moderate);
        let r = report(&[incident("a", Severity::Critical, IncidentStatus::Escalated, 0, 0)], &[]);
        assert_eq!((r.threat_score, r.overall_threat_level.as_str()), (12.0, "critical"));
    }

    #[test]
    fn situations_are_sorted_by_score_then_id() {
        let incidents = [
            incident("c", Severity::Low, IncidentStatus::Active, 0, 0),
            incident("b", Severity::High, IncidentStatus::Active, 0, 0),
            incident("a", Severity::Low, IncidentStatus::Active, 0, 0),
            incident("d", Severity::Critical, IncidentStatus::Active, 24, 0),
        ];
        let r = report(&incidents, &[]);
        let order: Vec<(&str, f64)> = r.active_situations.iter().map(|s| (s.incident_id.as_str(), s.score)).collect();
        assert_eq!(order, [("b", 4.0), ("d", 4.0), ("a", 1.0), ("c", 1.0)]);
        assert_eq!(r.threat_score, 10.0);
    }

    #[test]
    fn trend_compares_the_last_day_with_the_day_before() {
        let rising = [
            incident("a", Severity::Low, IncidentStatus::Resolved, 1, 0),
            incident("b", Severity::Low, IncidentStatus::Active, 23, 0),
            incident("c", Severity::Low, IncidentStatus::Resolved, 24, 0),
            incident("d", Severity::Low, IncidentStatus::Resolved, 72, 0),
        ];
        let r = report(&rising, &[]);
        assert_eq!((r.trends.incidents_last_24h, r.trends.incidents_prior_24h), (2, 1));
        assert_eq!(r.trends.direction, Trend::Rising);
        assert!(r.recommendations.contains(
            &"Incident reports are rising (2 in the last 24 h vs 1 before): consider raising staffing".to_owned()
        ));

        let falling = [incident("a", Severity::Low, IncidentStatus::Resolved, 30, 0)];
        assert_eq!(report(&falling, &[]).trends.direction, Trend::Falling);
        assert_eq!(report(&[], &[]).trends.direction, Trend::Steady);
        assert_eq!(Trend::between(3, 3).as_str(), "steady");
    }

    #[test]
    fn recommendations_cite_the_figures_in_a_fixed_order() {
        let incidents = [
            incident("a", Severity::Critical, IncidentStatus::Escalated, 0, 1),
            incident("b", Severity::Critical, IncidentStatus::Active, 1, 0),
            incident("c", Severity::Critical, IncidentStatus::Active, 2, 0),
            incident("d", Severity::Critical, IncidentStatus::Active, 3, 0),
            incident("e", Severity::Low, IncidentStatus::Escalated, 4, 0),
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
        let r = report(&[incident("a", Severity::Medium, IncidentStatus::Active, 30, 0)], &[]);
        assert_eq!(r.recommendations, ["Monitor the 1 active incident(s): threat level low (score 0.84)"]);
    }

    #[test]
    fn severity_and_status_names_round_trip() {
        for s in [Severity::Low, Severity::Medium, Severity::High, Severity::Critical] {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
        }
        for s in [IncidentStatus::Active, IncidentStatus::Resolved, IncidentStatus::Escalated] {
            assert_eq!(IncidentStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(Severity::parse("CRITICAL"), Some(Severity::Critical));
        assert_eq!(IncidentStatus::parse("closed"), None);
    }
}
