//! What each tier includes: quotas over calendar windows (UTC), project counts, and gates.
//! All of it comes from `[subscription.*]` in the configuration.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, poem_openapi::Enum)]
#[serde(rename_all = "lowercase")]
#[oai(rename_all = "lowercase")]
pub enum Tier {
    Free,
    Premium,
    Unlimited,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Free, Tier::Premium, Tier::Unlimited];

    /// Accepts the seed's names and the app's `tactical` (which is `unlimited`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "free" => Some(Tier::Free),
            "premium" => Some(Tier::Premium),
            "unlimited" | "tactical" => Some(Tier::Unlimited),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Premium => "premium",
            Tier::Unlimited => "unlimited",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Tier::Free => "Free",
            Tier::Premium => "Premium",
            Tier::Unlimited => "Unlimited",
        }
    }
}

/// Features callers ask about, by the names the app and the seed use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feature {
    AiChat,
    ImageGeneration,
    MusicGeneration,
    AiWriting,
    WritersGuild,
    UnrestrictedContent,
    PriorityProcessing,
    Tactical,
}

impl Feature {
    pub const ALL: [Feature; 8] = [
        Feature::AiChat,
        Feature::ImageGeneration,
        Feature::MusicGeneration,
        Feature::AiWriting,
        Feature::WritersGuild,
        Feature::UnrestrictedContent,
        Feature::PriorityProcessing,
        Feature::Tactical,
    ];
    /// Features counted against a quota.
    pub const METERED: [Feature; 4] =
        [Feature::AiChat, Feature::ImageGeneration, Feature::MusicGeneration, Feature::AiWriting];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ai_chat" | "chat" => Feature::AiChat,
            "image_generation" => Feature::ImageGeneration,
            "music_generation" => Feature::MusicGeneration,
            "ai_writing" => Feature::AiWriting,
            "writers_guild" => Feature::WritersGuild,
            "unrestricted_content" => Feature::UnrestrictedContent,
            "priority_processing" => Feature::PriorityProcessing,
            "tactical" => Feature::Tactical,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Feature::AiChat => "ai_chat",
            Feature::ImageGeneration => "image_generation",
            Feature::MusicGeneration => "music_generation",
            Feature::AiWriting => "ai_writing",
            Feature::WritersGuild => "writers_guild",
            Feature::UnrestrictedContent => "unrestricted_content",
            Feature::PriorityProcessing => "priority_processing",
            Feature::Tactical => "tactical",
        }
    }

    pub fn is_metered(self) -> bool {
        Self::METERED.contains(&self)
    }

    pub fn known_names() -> String {
        "ai_chat (or chat), image_generation, music_generation, ai_writing, writers_guild, \
         unrestricted_content, priority_processing, tactical"
            .to_owned()
    }
}

/// A count, or no limit at all. In configuration: a number, or the string `"unlimited"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Count(u64),
    Unlimited,
}

impl Limit {
    pub fn count(self) -> Option<u64> {
        match self {
            Limit::Count(n) => Some(n),
            Limit::Unlimited => None,
        }
    }

    /// True when nothing of the feature is included.
    pub fn is_zero(self) -> bool {
        self == Limit::Count(0)
    }
}

impl Serialize for Limit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Limit::Count(n) => s.serialize_u64(*n),
            Limit::Unlimited => s.serialize_str("unlimited"),
        }
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Count(u64),
            Word(String),
        }
        match Raw::deserialize(d).map_err(|_| serde::de::Error::custom("expected a whole number or \"unlimited\""))? {
            Raw::Count(n) => Ok(Limit::Count(n)),
            Raw::Word(w) if w == "unlimited" => Ok(Limit::Unlimited),
            Raw::Word(w) => Err(serde::de::Error::custom(format!("expected a whole number or \"unlimited\", found \"{w}\""))),
        }
    }
}

/// A calendar window in UTC; quotas reset at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, poem_openapi::Enum)]
#[serde(rename_all = "lowercase")]
#[oai(rename_all = "lowercase")]
pub enum Window {
    Day,
    /// ISO week: Monday 00:00 UTC to the next Monday.
    Week,
    Month,
}

impl Window {
    pub fn name(self) -> &'static str {
        match self {
            Window::Day => "day",
            Window::Week => "week",
            Window::Month => "month",
        }
    }

    /// The window containing `now`: its start (inclusive) and end (exclusive).
    pub fn bounds(self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let today = now.date_naive();
        let midnight = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists"));
        match self {
            Window::Day => (midnight(today), midnight(today) + Duration::days(1)),
            Window::Week => {
                let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
                (midnight(monday), midnight(monday) + Duration::days(7))
            }
            Window::Month => {
                let first = today.with_day(1).expect("day 1 exists");
                let next = if first.month() == 12 {
                    NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
                }
                .expect("the first of a month exists");
                (midnight(first), midnight(next))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    pub limit: Limit,
    pub window: Window,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, poem_openapi::Enum)]
#[serde(rename_all = "lowercase")]
#[oai(rename_all = "lowercase")]
pub enum AiWritingLevel {
    None,
    Standard,
    Advanced,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TierPlan {
    pub price_monthly: f64,
    pub price_yearly: f64,
    pub description: String,
    pub ai_chat: Quota,
    pub image_generation: Quota,
    pub music_generation: Quota,
    /// AI writing requests (Writers Guild assistance).
    pub ai_writing: Quota,
    pub ai_writing_level: AiWritingLevel,
    /// Music projects a user may own that are not archived.
    pub music_projects: Limit,
    /// Writing projects a user may own that are not archived.
    pub writing_projects: Limit,
    pub writers_guild: bool,
    pub unrestricted_content: bool,
    pub priority_processing: bool,
    pub tactical: bool,
}

impl TierPlan {
    pub fn quota(&self, feature: Feature) -> Option<Quota> {
        match feature {
            Feature::AiChat => Some(self.ai_chat),
            Feature::ImageGeneration => Some(self.image_generation),
            Feature::MusicGeneration => Some(self.music_generation),
            Feature::AiWriting => Some(self.ai_writing),
            _ => None,
        }
    }

    /// Whether the tier includes the feature at all (a quota above zero, or the gate open).
    pub fn includes(&self, feature: Feature) -> bool {
        match feature {
            Feature::AiWriting => self.ai_writing_level != AiWritingLevel::None && !self.ai_writing.limit.is_zero(),
            Feature::WritersGuild => self.writers_guild,
            Feature::UnrestrictedContent => self.unrestricted_content,
            Feature::PriorityProcessing => self.priority_processing,
            Feature::Tactical => self.tactical,
            metered => self.quota(metered).is_some_and(|q| !q.limit.is_zero()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TierPlans {
    pub free: TierPlan,
    pub premium: TierPlan,
    pub unlimited: TierPlan,
}

impl TierPlans {
    pub fn get(&self, tier: Tier) -> &TierPlan {
        match tier {
            Tier::Free => &self.free,
            Tier::Premium => &self.premium,
            Tier::Unlimited => &self.unlimited,
        }
    }

    /// The cheapest tier above `from` that includes `feature`, or that allows more of it.
    pub fn upgrade_for(&self, from: Tier, feature: Feature) -> Option<Tier> {
        let current = self.get(from);
        Tier::ALL.into_iter().filter(|t| *t > from).find(|t| {
            let plan = self.get(*t);
            if !plan.includes(feature) {
                return false;
            }
            match (current.quota(feature), plan.quota(feature)) {
                (Some(have), Some(offer)) => match (have.limit, offer.limit) {
                    (_, Limit::Unlimited) => true,
                    (Limit::Count(a), Limit::Count(b)) => b > a,
                    (Limit::Unlimited, Limit::Count(_)) => false,
                },
                _ => true,
            }
        })
    }
}

impl Default for TierPlans {
    fn default() -> Self {
        let q = |limit, window| Quota { limit, window };
        use Limit::{Count, Unlimited};
        use Window::{Day, Month, Week};
        TierPlans {
            free: TierPlan {
                price_monthly: 0.0,
                price_yearly: 0.0,
                description: "Profile, feed, and a taste of AI chat and images".into(),
                ai_chat: q(Count(3), Day),
                image_generation: q(Count(1), Week),
                music_generation: q(Count(0), Month),
                ai_writing: q(Count(0), Day),
                ai_writing_level: AiWritingLevel::None,
                music_projects: Count(0),
                writing_projects: Count(0),
                writers_guild: false,
                unrestricted_content: false,
                priority_processing: false,
                tactical: false,
            },
            premium: TierPlan {
                price_monthly: 9.99,
                price_yearly: 99.90,
                description: "More chat and images, music and writing projects, standard AI assistance".into(),
                ai_chat: q(Count(100), Day),
                image_generation: q(Count(20), Month),
                music_generation: q(Count(30), Month),
                ai_writing: q(Count(50), Day),
                ai_writing_level: AiWritingLevel::Standard,
                music_projects: Count(5),
                writing_projects: Count(10),
                writers_guild: true,
                unrestricted_content: false,
                priority_processing: false,
                tactical: false,
            },
            unlimited: TierPlan {
                price_monthly: 29.99,
                price_yearly: 299.90,
                description: "Everything unlimited, advanced AI assistance, priority processing, Tactical HQ".into(),
                ai_chat: q(Unlimited, Day),
                image_generation: q(Unlimited, Month),
                music_generation: q(Unlimited, Month),
                ai_writing: q(Unlimited, Day),
                ai_writing_level: AiWritingLevel::Advanced,
                music_projects: Unlimited,
                writing_projects: Unlimited,
                writers_guild: true,
                unrestricted_content: true,
                priority_processing: true,
                tactical: true,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn calendar_windows_in_utc() {
        let now = at("2026-12-31T23:59:59Z"); // a Thursday
        assert_eq!(Window::Day.bounds(now), (at("2026-12-31T00:00:00Z"), at("2027-01-01T00:00:00Z")));
        assert_eq!(Window::Week.bounds(now), (at("2026-12-28T00:00:00Z"), at("2027-01-04T00:00:00Z")));
        assert_eq!(Window::Month.bounds(now), (at("2026-12-01T00:00:00Z"), at("2027-01-01T00:00:00Z")));
        let monday = at("2026-11-23T00:00:00Z");
        assert_eq!(Window::Week.bounds(monday).0, monday);
    }

    #[test]
    fn limits_read_numbers_and_unlimited() {
        #[derive(Deserialize)]
        struct W {
            l: Limit,
        }
        assert_eq!(serde_json::from_str::<W>(r#"{"l":5}"#).unwrap().l, Limit::Count(5));
        assert_eq!(serde_json::from_str::<W>(r#"{"l":"unlimited"}"#).unwrap().l, Limit::Unlimited);
        assert!(serde_json::from_str::<W>(r#"{"l":"lots"}"#).is_err());
        assert!(serde_json::from_str::<W>(r#"{"l":-1}"#).is_err());
    }

    #[test]
    fn defaults_follow_the_seed_and_upgrades_point_up() {
        let plans = TierPlans::default();
        assert_eq!(plans.free.ai_chat, Quota { limit: Limit::Count(3), window: Window::Day });
        assert_eq!(plans.free.image_generation, Quota { limit: Limit::Count(1), window: Window::Week });
        assert_eq!(plans.premium.image_generation, Quota { limit: Limit::Count(20), window: Window::Month });
        assert_eq!(plans.premium.music_projects, Limit::Count(5));
        assert_eq!(plans.premium.writing_projects, Limit::Count(10));
        assert_eq!(plans.upgrade_for(Tier::Free, Feature::AiChat), Some(Tier::Premium));
        assert_eq!(plans.upgrade_for(Tier::Free, Feature::Tactical), Some(Tier::Unlimited));
        assert_eq!(plans.upgrade_for(Tier::Premium, Feature::AiChat), Some(Tier::Unlimited));
        assert_eq!(plans.upgrade_for(Tier::Unlimited, Feature::AiChat), None);
        assert!(!plans.free.includes(Feature::MusicGeneration));
        assert!(plans.unlimited.includes(Feature::Tactical));
    }
}
