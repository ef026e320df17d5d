use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};

use super::analysis::{self, TextAnalysis};
use super::diff::{self, DiffGranularity, TextDiff};
use super::export::{self, Format, Manuscript};
use super::model::*;
use super::store::{MemberRow, ProjectRow, SessionRow, VersionRow, VersionSaved, WritersStore};
use crate::ai::text::{CallerFacts, TextProvider, TextRequest};
use crate::auth::Caller;
use crate::config::WritersConfig;
use crate::error::{AppError, AppResult};
use crate::features::accounts::AccountsService;
use crate::features::fields::{at_most, required, trimmed};
use crate::features::mirrors::{Mirror, MirrorKind, MirrorRenderer, MirrorSignal};
use crate::features::page::Page;
use crate::features::storage::StorageService;
use crate::features::subscription::SubscriptionService;
use crate::features::subscription::plan::{AiWritingLevel, Feature, Tier};
use crate::features::subscription::quota::Counted;
use crate::blobs::{BlobPath, Bucket};
use crate::clock::now_text;

mod assistance;
mod members;
mod projects;
mod sessions;

const BUCKET: Bucket = Bucket::Writing;

pub struct WritersService {
    store: Arc<dyn WritersStore>,
    storage: Arc<StorageService>,
    subscriptions: Arc<SubscriptionService>,
    accounts: Arc<AccountsService>,
    text: Arc<dyn TextProvider>,
    config: WritersConfig,
    /// Wakes the worker that rewrites a project's `metadata.json` after a change.
    mirrors: MirrorSignal,
}


fn project_not_found(id: &str) -> AppError {
    AppError::NotFound { code: "project_not_found", message: format!("no writing project `{id}`") }
}

fn specialties(list: Vec<String>) -> AppResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for s in list {
        let s = s.trim().to_owned();
        if s.is_empty() || s.chars().count() > 50 {
            return Err(AppError::invalid_field("specialties", "each must be 1 to 50 characters"));
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    if out.len() > 20 {
        return Err(AppError::invalid_field("specialties", "at most 20"));
    }
    Ok(out)
}

/// Consecutive UTC days with a session, ending today or yesterday. `days` are `YYYY-MM-DD`, newest first.
fn streak(days: &[String], today: NaiveDate) -> u64 {
    let mut expected = today;
    let mut count = 0;
    for (i, day) in days.iter().filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()).enumerate() {
        if i == 0 && day == today - Duration::days(1) {
            expected = day;
        }
        if day != expected {
            break;
        }
        count += 1;
        expected = day - Duration::days(1);
    }
    count
}


fn view(p: &ProjectRow) -> Project {
    Project {
        project_id: p.project_id.clone(),
        user_id: p.user_id.clone(),
        title: p.title.clone(),
        genre: p.genre.clone(),
        content_type: ContentType::parse(&p.content_type).unwrap_or(ContentType::Other),
        description: p.description.clone(),
        word_count: p.word_count,
        mature_content: p.mature_content,
        status: WritingStatus::parse(&p.status).unwrap_or(WritingStatus::Active),
        current_version_id: p.current_version_id.clone(),
        created_at: p.created_at.clone(),
        updated_at: p.updated_at.clone(),
    }
}

fn version_view(v: &VersionRow, current: Option<&str>) -> Version {
    Version {
        version_id: v.version_id.clone(),
        author_id: v.author_id.clone(),
        word_count: v.word_count,
        size_bytes: v.size_bytes,
        sha256: v.sha256.clone(),
        restored_from: v.restored_from.clone(),
        current: current == Some(v.version_id.as_str()),
        created_at: v.created_at.clone(),
    }
}

fn session_view(s: &SessionRow, capabilities: Capabilities) -> Session {
    Session {
        session_id: s.session_id.clone(),
        project_id: s.project_id.clone(),
        user_id: s.user_id.clone(),
        chapter_number: s.chapter_number,
        started_at: s.started_at.clone(),
        ended_at: s.ended_at.clone(),
        words_written: s.words_written,
        duration_seconds: s.duration_seconds,
        capabilities,
    }
}

fn mode_instruction(mode: AssistMode) -> &'static str {
    match mode {
        AssistMode::Continue => "Continue the manuscript from where it stops, in the author's voice, for a few paragraphs.",
        AssistMode::Rewrite => "Rewrite the selected passage to read better, keeping its meaning and the author's voice.",
        AssistMode::Critique => "Critique the passage as an experienced editor: what works, what does not, and concrete fixes.",
        AssistMode::Brainstorm => "Brainstorm ideas the author could use next: plot turns, scenes, character beats.",
        AssistMode::Dialogue => "Write or improve dialogue for the scene, with distinct voices for each character.",
        AssistMode::Summarize => "Summarize the passage briefly and faithfully.",
        AssistMode::Custom => "Help the author with their request.",
    }
}

impl WritersService {
    pub fn new(
        store: Arc<dyn WritersStore>,
        storage: Arc<StorageService>,
        subscriptions: Arc<SubscriptionService>,
        accounts: Arc<AccountsService>,
        text: Arc<dyn TextProvider>,
        config: WritersConfig,
        mirrors: MirrorSignal,
    ) -> Self {
        Self { store, storage, subscriptions, accounts, text, config, mirrors }
    }

    fn path(&self, p: &ProjectRow, rest: &str) -> AppResult<BlobPath> {
        BlobPath::parse(&format!("{}/{rest}", p.storage_path))
    }

    /// A project's rows changed: its `metadata.json` is due (the change's transaction marked it
    /// so in the outbox); wakes the worker that writes it. No blob work in the request.
    fn mirror_changed(&self) {
        self.mirrors.poke();
    }
}

/// A writing project's `metadata.json` describes it from its row; the mirror worker writes it
/// shortly after each change.
#[async_trait::async_trait]
impl MirrorRenderer for WritersService {
    fn kind(&self) -> MirrorKind {
        MirrorKind::WritingProject
    }

    async fn render_mirror(&self, project_id: &str) -> AppResult<Option<Mirror>> {
        let Some(p) = self.store.project(project_id).await? else { return Ok(None) };
        let doc = serde_json::json!({ "project": p, "writtenAt": now_text() });
        let bytes = serde_json::to_vec_pretty(&doc).map_err(AppError::internal)?;
        Ok(Some(Mirror { bucket: BUCKET, path: self.path(&p, "metadata.json")?, bytes }))
    }

    async fn mirror_subject_exists(&self, project_id: &str) -> AppResult<bool> {
        Ok(self.store.project(project_id).await?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::assistance::extract_summary;
    use super::*;

    #[test]
    fn streaks_count_consecutive_days_up_to_today_or_yesterday() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let days = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(streak(&days(&["2026-11-25", "2026-11-24", "2026-11-22"]), today), 2);
        assert_eq!(streak(&days(&["2026-11-24", "2026-11-23"]), today), 2);
        assert_eq!(streak(&days(&["2026-11-23"]), today), 0);
        assert_eq!(streak(&[], today), 0);
    }

    #[test]
    fn extractive_summary_keeps_order() {
        let text = "The storm broke over the harbour at dawn. Fishermen hauled their boats higher on the harbour stones. \
                    Nobody spoke about the missing boat. The harbour storm kept every boat ashore for a week.";
        let s = extract_summary(text, 2);
        assert!(s.contains("harbour"), "{s}");
        assert_eq!(s.matches('.').count(), 2);
    }
}
