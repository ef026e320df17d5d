//! What every REST skin shares: the spec's tags, the JSON body extractor with its bounds, and
//! reading an uploaded file under a limit.

pub mod body;
mod upload;

pub use body::JsonBody;
use poem_openapi::Tags;
pub use upload::read_upload;

#[derive(Tags)]
pub enum ApiTags {
    /// Index, health and readiness
    System,
    /// Accounts and bearer tokens
    Auth,
    /// Object storage: uploads, deletes, signed URLs
    Storage,
    /// Tiers, feature access, usage quotas and tier changes
    Subscription,
    /// AI chat sessions
    Chat,
    /// Music Studio: projects, generation, stems, mix versions, sharing
    Music,
    /// Writers Guild: members, manuscripts with revision history, sessions, AI help, export
    Writers,
    /// Tactical HQ: verified members, clearance-gated encrypted comms, incidents, analyses, audit
    Tactical,
    /// Premium image generation
    Premium,
    /// Profile media (avatar, photos) and NFT artwork
    Media,
    /// Live events: comms, incidents and generation progress as they happen (server-sent events)
    Live,
}
