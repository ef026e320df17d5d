use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize};

use super::analysis::TextAnalysis;

/// Projects in a page of a user's projects when the request names no `limit` (at most
/// `Page::MAX_LIMIT`).
pub const PER_PAGE: u32 = 50;

/// The longest `prompt` or `request` of an assistance request, in characters.
pub const MAX_ASSIST_REQUEST_CHARS: usize = 5_000;

/// The longest `context` or `selection` of an assistance request, in characters.
pub const MAX_ASSIST_TEXT_CHARS: usize = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Enum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[oai(rename = "GuildTier", rename_all = "lowercase")]
pub enum GuildTier {
    Novice,
    Wordsmith,
    Master,
}

impl GuildTier {
    pub fn as_str(self) -> &'static str {
        match self {
            GuildTier::Novice => "novice",
            GuildTier::Wordsmith => "wordsmith",
            GuildTier::Master => "master",
        }
    }

    /// The guild's names, and the app's (basic, premium, unlimited).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "novice" | "basic" => Some(GuildTier::Novice),
            "wordsmith" | "premium" => Some(GuildTier::Wordsmith),
            "master" | "unlimited" => Some(GuildTier::Master),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "GuildRegisterMember", rename_all = "camelCase")]
pub struct RegisterMember {
    #[oai(validator(min_length = 1, max_length = 255))]
    pub user_id: String,
    #[oai(validator(min_length = 1, max_length = 100))]
    pub pen_name: String,
    #[oai(validator(max_length = 2000))]
    pub bio: Option<String>,
    #[oai(validator(max_items = 20))]
    #[serde(default)]
    pub specialties: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "GuildUpdateMember", rename_all = "camelCase")]
pub struct UpdateMember {
    #[oai(validator(min_length = 1, max_length = 100))]
    pub pen_name: Option<String>,
    #[oai(validator(max_length = 2000))]
    pub bio: Option<String>,
    #[oai(validator(max_items = 20))]
    pub specialties: Option<Vec<String>>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[oai(rename = "GuildUpgradeMember")]
pub struct UpgradeMember {
    /// novice, wordsmith, master (the app's basic, premium, unlimited are accepted).
    #[oai(validator(min_length = 1, max_length = 32))]
    pub tier: String,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "GuildMember", rename_all = "camelCase")]
pub struct Member {
    pub member_id: String,
    pub user_id: String,
    pub pen_name: String,
    #[oai(nullable)]
    pub bio: Option<String>,
    pub specialties: Vec<String>,
    pub tier: GuildTier,
    pub total_words_written: u64,
    pub total_projects: u64,
    pub sessions: u64,
    /// Consecutive days (UTC) with a writing session, up to today or yesterday.
    pub streak_days: u64,
    pub member_since: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[oai(rename = "WritingContentType", rename_all = "snake_case")]
pub enum ContentType {
    Novel,
    ShortStory,
    Screenplay,
    Poetry,
    Other,
}

impl ContentType {
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Novel => "novel",
            ContentType::ShortStory => "short_story",
            ContentType::Screenplay => "screenplay",
            ContentType::Poetry => "poetry",
            ContentType::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "novel" => ContentType::Novel,
            "short_story" => ContentType::ShortStory,
            "screenplay" => ContentType::Screenplay,
            "poetry" => ContentType::Poetry,
            "other" => ContentType::Other,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[oai(rename = "WritingProjectStatus", rename_all = "lowercase")]
pub enum WritingStatus {
    Active,
    Completed,
    Archived,
}

impl WritingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WritingStatus::Active => "active",
            WritingStatus::Completed => "completed",
            WritingStatus::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => WritingStatus::Active,
            "completed" => WritingStatus::Completed,
            "archived" => WritingStatus::Archived,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "WritingCreateProject", rename_all = "camelCase")]
pub struct CreateProject {
    #[oai(validator(min_length = 1, max_length = 255))]
    pub user_id: String,
    #[oai(validator(min_length = 1, max_length = 500))]
    pub title: String,
    #[oai(validator(max_length = 100))]
    pub genre: Option<String>,
    pub content_type: ContentType,
    #[oai(validator(max_length = 5000))]
    pub description: Option<String>,
    #[serde(default)]
    pub mature_content: Option<bool>,
}

#[derive(Debug, Clone, Default, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "WritingUpdateProject", rename_all = "camelCase")]
pub struct UpdateProject {
    #[oai(validator(min_length = 1, max_length = 500))]
    pub title: Option<String>,
    #[oai(validator(max_length = 100))]
    pub genre: Option<String>,
    pub content_type: Option<ContentType>,
    #[oai(validator(max_length = 5000))]
    pub description: Option<String>,
    pub mature_content: Option<bool>,
    pub status: Option<WritingStatus>,
    /// The whole manuscript (auto-save). A version is written only when the text changed.
    pub content: Option<String>,
    /// The version the edit is based on; 409 when someone saved another since.
    #[oai(validator(max_length = 64))]
    pub base_version_id: Option<String>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "WritingProject", rename_all = "camelCase")]
pub struct Project {
    pub project_id: String,
    pub user_id: String,
    pub title: String,
    #[oai(nullable)]
    pub genre: Option<String>,
    pub content_type: ContentType,
    #[oai(nullable)]
    pub description: Option<String>,
    pub word_count: u64,
    pub mature_content: bool,
    pub status: WritingStatus,
    #[oai(nullable)]
    pub current_version_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "WritingSaved", rename_all = "camelCase")]
pub struct Saved {
    pub project: Project,
    /// The manuscript's version after the save.
    #[oai(nullable)]
    pub version_id: Option<String>,
    /// False when the text was the same as the current version.
    pub new_version: bool,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "WritingProjectList", rename_all = "camelCase")]
pub struct ProjectList {
    pub user_id: String,
    pub projects: Vec<Project>,
    pub total: u64,
    pub has_more: bool,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "WritingVersion", rename_all = "camelCase")]
pub struct Version {
    pub version_id: String,
    pub author_id: String,
    pub word_count: u64,
    pub size_bytes: u64,
    pub sha256: String,
    /// Set when the version restores an earlier one.
    #[oai(nullable)]
    pub restored_from: Option<String>,
    pub current: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "WritingVersionText", rename_all = "camelCase")]
pub struct VersionText {
    pub version: Version,
    pub content: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "WritingStartSession", rename_all = "camelCase")]
pub struct StartSession {
    #[oai(validator(min_length = 1, max_length = 255))]
    pub user_id: String,
    #[oai(validator(min_length = 1, max_length = 64))]
    pub project_id: String,
    #[oai(validator(minimum(value = "0"), maximum(value = "10000")))]
    pub chapter_number: Option<u32>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "WritingCapabilities", rename_all = "camelCase")]
pub struct Capabilities {
    pub tier: String,
    pub ai_writing_level: String,
    #[oai(rename = "unrestrictedAI")]
    #[serde(rename = "unrestrictedAI")]
    pub unrestricted_ai: bool,
    pub unlimited_chat: bool,
    pub content_rating: String,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "WritingSession", rename_all = "camelCase")]
pub struct Session {
    pub session_id: String,
    pub project_id: String,
    pub user_id: String,
    #[oai(nullable)]
    pub chapter_number: Option<u32>,
    pub started_at: String,
    #[oai(nullable)]
    pub ended_at: Option<String>,
    pub words_written: u64,
    #[oai(nullable)]
    pub duration_seconds: Option<u64>,
    pub capabilities: Capabilities,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[oai(rename = "WritingAssistMode", rename_all = "lowercase")]
pub enum AssistMode {
    Continue,
    Rewrite,
    Critique,
    Brainstorm,
    Dialogue,
    Summarize,
    #[default]
    Custom,
}

impl AssistMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AssistMode::Continue => "continue",
            AssistMode::Rewrite => "rewrite",
            AssistMode::Critique => "critique",
            AssistMode::Brainstorm => "brainstorm",
            AssistMode::Dialogue => "dialogue",
            AssistMode::Summarize => "summarize",
            AssistMode::Custom => "custom",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Enum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[oai(rename = "WritingContentRating", rename_all = "lowercase")]
pub enum ContentRating {
    General,
    Teen,
    Mature,
    Adult,
    Unrestricted,
}

impl ContentRating {
    pub fn as_str(self) -> &'static str {
        match self {
            ContentRating::General => "general",
            ContentRating::Teen => "teen",
            ContentRating::Mature => "mature",
            ContentRating::Adult => "adult",
            ContentRating::Unrestricted => "unrestricted",
        }
    }
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "WritingAssistRequest", rename_all = "camelCase")]
pub struct AssistRequest {
    #[oai(validator(min_length = 1, max_length = 255))]
    pub user_id: String,
    #[oai(validator(min_length = 1, max_length = 64))]
    pub project_id: String,
    /// Default custom.
    pub mode: Option<AssistMode>,
    /// What to do (the seed's `prompt`, the app's `request`): at most
    /// `MAX_ASSIST_REQUEST_CHARS` (5,000) characters each.
    #[oai(validator(max_length = 5000))]
    pub prompt: Option<String>,
    #[oai(validator(max_length = 5000))]
    pub request: Option<String>,
    /// Text to work on besides the manuscript (the app's `context`): at most
    /// `MAX_ASSIST_TEXT_CHARS` (50,000) characters.
    #[oai(validator(max_length = 50000))]
    pub context: Option<String>,
    /// The part of the manuscript selected: at most `MAX_ASSIST_TEXT_CHARS` characters.
    #[oai(validator(max_length = 50000))]
    pub selection: Option<String>,
    /// Default: mature for projects marked mature, general otherwise; mature and above only
    /// for projects marked mature; unrestricted needs the unlimited tier.
    pub content_rating: Option<ContentRating>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "WritingAssistUsage", rename_all = "camelCase")]
pub struct AssistUsage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
    /// AI writing requests left in the window (`null`: unlimited).
    #[oai(nullable)]
    pub remaining: Option<u64>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "WritingAssistance", rename_all = "camelCase")]
pub struct Assistance {
    pub suggestion: String,
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub kind: AssistMode,
    pub model: String,
    pub content_rating: ContentRating,
    /// Figures about the text worked on.
    #[oai(nullable)]
    pub analysis: Option<TextAnalysis>,
    pub usage: AssistUsage,
}
