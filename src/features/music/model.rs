use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize};

/// Projects in a page of a user's projects when the request names no `limit` (at most
/// `Page::MAX_LIMIT`).
pub const PER_PAGE: u32 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[oai(rename_all = "lowercase")]
#[oai(rename = "MusicProjectStatus")]
pub enum ProjectStatus {
    Draft,
    Generating,
    Completed,
    Published,
    Archived,
}

impl ProjectStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectStatus::Draft => "draft",
            ProjectStatus::Generating => "generating",
            ProjectStatus::Completed => "completed",
            ProjectStatus::Published => "published",
            ProjectStatus::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "draft" => ProjectStatus::Draft,
            "generating" => ProjectStatus::Generating,
            "completed" => ProjectStatus::Completed,
            "published" => ProjectStatus::Published,
            "archived" => ProjectStatus::Archived,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[oai(rename_all = "lowercase")]
#[oai(rename = "MusicVisibility")]
pub enum Visibility {
    Private,
    Public,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Public => "public",
        }
    }
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
#[oai(rename = "MusicCreateProject")]
pub struct CreateProject {
    #[oai(validator(min_length = 1, max_length = 255))]
    pub user_id: String,
    #[oai(validator(min_length = 1, max_length = 500))]
    pub title: String,
    #[oai(validator(max_length = 100))]
    pub genre: Option<String>,
    /// 40 to 200.
    #[oai(validator(minimum(value = "40"), maximum(value = "200")))]
    pub bpm: Option<u32>,
    #[oai(validator(max_length = 100))]
    pub mood: Option<String>,
    /// e.g. `C`, `F#`, `Bb minor`, `Am`.
    #[oai(validator(max_length = 20))]
    pub key: Option<String>,
}

#[derive(Debug, Clone, Default, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
#[oai(rename = "MusicUpdateProject")]
pub struct UpdateProject {
    #[oai(validator(min_length = 1, max_length = 500))]
    pub title: Option<String>,
    #[oai(validator(max_length = 100))]
    pub genre: Option<String>,
    #[oai(validator(minimum(value = "40"), maximum(value = "200")))]
    pub bpm: Option<u32>,
    #[oai(validator(max_length = 100))]
    pub mood: Option<String>,
    #[oai(validator(max_length = 20))]
    pub key: Option<String>,
    /// draft, completed, published or archived (`generating` is set by generation only).
    pub status: Option<ProjectStatus>,
    pub visibility: Option<Visibility>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
#[oai(rename = "MusicProject")]
pub struct Project {
    pub project_id: String,
    pub user_id: String,
    pub title: String,
    #[oai(nullable)]
    pub genre: Option<String>,
    #[oai(nullable)]
    pub bpm: Option<u32>,
    #[oai(nullable)]
    pub mood: Option<String>,
    #[oai(nullable)]
    pub key: Option<String>,
    pub status: ProjectStatus,
    pub visibility: Visibility,
    pub stem_count: u64,
    pub total_plays: u64,
    /// Length of the current mix.
    #[oai(nullable)]
    pub duration: Option<f64>,
    #[oai(nullable)]
    pub current_version_id: Option<String>,
    /// Why the last generation failed.
    #[oai(nullable)]
    pub last_error: Option<String>,
    /// The public page, once shared.
    #[oai(nullable)]
    pub share_url: Option<String>,
    /// A playable (signed) URL of the current preview.
    #[oai(nullable)]
    pub preview_url: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
#[oai(rename = "MusicProjectList")]
pub struct ProjectList {
    pub user_id: String,
    pub projects: Vec<Project>,
    pub total: u64,
    pub has_more: bool,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
#[oai(rename = "MusicGenerateRequest")]
pub struct GenerateRequest {
    #[oai(validator(min_length = 1, max_length = 64))]
    pub project_id: String,
    #[oai(validator(min_length = 1, max_length = 255))]
    pub user_id: String,
    #[oai(validator(min_length = 1, max_length = 1000))]
    pub prompt: String,
    /// Seconds, 10 to 180; default 30.
    #[oai(validator(minimum(value = "10"), maximum(value = "180")))]
    pub duration: Option<u32>,
    /// ambient, electronic, pop, rock, classical, jazz, hiphop, custom; default from the project's genre.
    #[oai(validator(max_length = 32))]
    pub style: Option<String>,
    /// Lead instrument hint (piano, guitar, synth, strings, bell, flute…).
    #[oai(validator(max_length = 50))]
    pub instrument: Option<String>,
    /// Same inputs and seed give the same track; default: derived from the inputs.
    pub seed: Option<u64>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
#[oai(rename = "MusicStem")]
pub struct Stem {
    pub stem_id: String,
    pub instrument: String,
    /// `generated` or `upload`.
    pub source: String,
    pub format: String,
    /// A playable (signed) URL.
    pub url: String,
    pub duration: f64,
    pub size_bytes: u64,
    #[oai(nullable)]
    pub version_id: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
#[oai(rename = "MusicGenerated")]
pub struct Generated {
    pub status: ProjectStatus,
    pub project_id: String,
    pub version_id: String,
    pub stem_urls: Vec<String>,
    pub stems: Vec<Stem>,
    pub mix_url: String,
    pub preview_url: String,
    #[oai(nullable)]
    pub midi_url: Option<String>,
    pub duration_seconds: f64,
    pub model: String,
    #[oai(nullable)]
    pub bpm: Option<u32>,
    #[oai(nullable)]
    pub key: Option<String>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
#[oai(rename = "MusicVersion")]
pub struct Version {
    pub version_id: String,
    pub mix_url: String,
    pub preview_url: String,
    #[oai(nullable)]
    pub midi_url: Option<String>,
    pub duration_seconds: f64,
    #[oai(nullable)]
    pub prompt: Option<String>,
    pub provider: String,
    pub current: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
#[oai(rename = "MusicVersions")]
pub struct Versions {
    pub project_id: String,
    pub versions: Vec<Version>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
#[oai(rename = "MusicMixStem")]
pub struct MixStem {
    #[oai(validator(min_length = 1, max_length = 64))]
    pub stem_id: String,
    /// Linear gain, 0 to 2; default 1.
    #[oai(validator(minimum(value = "0"), maximum(value = "2")))]
    pub gain: Option<f32>,
    /// -1 (left) to 1 (right); default 0.
    #[oai(validator(minimum(value = "-1"), maximum(value = "1")))]
    pub pan: Option<f32>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
#[oai(rename = "MusicMixRequest")]
pub struct MixRequest {
    /// The stems to mix (1 to 32); default: the current version's stems and every uploaded stem.
    #[oai(validator(max_items = 32))]
    pub stems: Option<Vec<MixStem>>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
#[oai(rename = "MusicShareRequest")]
pub struct ShareRequest {
    /// The owner, as the app names it; when given, the project must be theirs (404 otherwise).
    #[oai(validator(max_length = 255))]
    pub user_id: Option<String>,
    /// One platform (the seed's form).
    #[oai(validator(max_length = 32))]
    pub platform: Option<String>,
    /// Several platforms (the app's form): facebook, twitter, x, instagram, soundcloud,
    /// tiktok, youtube, reddit, linkedin, whatsapp, telegram, email.
    #[oai(validator(max_items = 12))]
    pub platforms: Option<Vec<String>>,
    #[oai(validator(max_length = 500))]
    pub caption: Option<String>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
#[oai(rename = "MusicShareEntry")]
pub struct ShareEntry {
    pub platform: String,
    /// This server's public page for the track.
    pub share_url: String,
    /// The platform's own share link, when it has one.
    #[oai(nullable)]
    pub external_url: Option<String>,
    /// Times the track was shared to this platform.
    pub share_count: u64,
    /// Why there is no `externalUrl`, when there is none.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
#[oai(rename = "MusicShared")]
pub struct Shared {
    pub project_id: String,
    pub status: ProjectStatus,
    pub share_url: String,
    pub shares: Vec<ShareEntry>,
}

#[derive(Debug, Clone, Object, Serialize)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
#[oai(rename = "MusicDeleted")]
pub struct Deleted {
    pub project_id: String,
    pub status: ProjectStatus,
    /// True when the files were removed too.
    pub purged: bool,
    pub files_removed: u64,
}
