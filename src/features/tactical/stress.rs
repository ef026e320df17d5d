//! The stress-resilience check-in of Tactical HQ as pure, deterministic functions: [`validate`]
//! the responder's readings, then [`assess_stress`] them into a stress level, a band, a short
//! analysis and recommendations. No I/O.
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
pub struct StressReadings {
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
pub fn validate(indicators: &StressReadings) -> Result<(), (&'static str, String)> {
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
pub fn assess_stress(session: SessionType, indicators: &StressReadings) -> StressAssessment {
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

fn components(indicators: &StressReadings) -> Vec<Component> {
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
fn stress_recommendations(band: StressBand, level: f64, indicators: &StressReadings) -> Vec<String> {
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

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A reported figure to at most one decimal, without a trailing ".0".
fn figure(x: f64) -> String {
    format!("{}", (x * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indicators(heart: Option<f64>, sleep: Option<f64>, mood: Option<f64>, incidents: usize) -> StressReadings {
        StressReadings {
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
        let field = |i: StressReadings| validate(&i).unwrap_err().0;
        assert_eq!(field(indicators(Some(24.0), None, None, 0)), "heartRate");
        assert_eq!(field(indicators(Some(250.5), None, None, 0)), "heartRate");
        assert_eq!(field(indicators(Some(f64::NAN), None, None, 0)), "heartRate");
        assert_eq!(field(indicators(None, Some(-0.5), None, 0)), "sleepQuality");
        assert_eq!(field(indicators(None, None, Some(10.5), 0)), "moodRating");
        assert_eq!(field(indicators(None, None, None, 21)), "recentIncidents");
        let blank = StressReadings { recent_incidents: vec!["  ".to_owned()], ..Default::default() };
        assert_eq!(field(blank), "recentIncidents");
        let long = StressReadings { recent_incidents: vec!["x".repeat(201)], ..Default::default() };
        assert_eq!(field(long), "recentIncidents");
        assert_eq!(
            validate(&StressReadings::default()),
            Err(("stressIndicators", "give at least one indicator".to_owned()))
        );

        assert_eq!(validate(&indicators(Some(25.0), Some(0.0), Some(10.0), 20)), Ok(()));
        assert_eq!(validate(&indicators(Some(250.0), None, None, 0)), Ok(()));
        let padded =
            StressReadings { recent_incidents: vec![format!(" {} ", "x".repeat(200))], ..Default::default() };
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
