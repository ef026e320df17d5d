//! Writing sessions: what the writer may ask of the AI while one is open, and their end.

use super::*;

impl WritersService {
    pub(super) async fn capabilities(&self, user_id: &str, mature: bool) -> AppResult<Capabilities> {
        let facts = self.subscriptions.facts(self.subscriptions.tier_of(user_id).await?);
        let level = match facts.ai_writing_level {
            AiWritingLevel::None => "none",
            AiWritingLevel::Standard => "standard",
            AiWritingLevel::Advanced => "advanced",
        };
        let rating = match (mature, facts.unrestricted_content) {
            (true, true) => ContentRating::Unrestricted,
            (true, false) => ContentRating::Mature,
            _ => ContentRating::General,
        };
        Ok(Capabilities {
            tier: facts.tier.as_str().into(),
            ai_writing_level: level.into(),
            unrestricted_ai: facts.unrestricted_content,
            unlimited_chat: facts.unlimited_chat,
            content_rating: rating.as_str().into(),
        })
    }

    /// Starts a session; one open session per user and project, so an open one is ended first.
    pub async fn start_session(&self, caller: &Caller, r: StartSession) -> AppResult<Session> {
        caller.ensure_acts_for(&r.user_id)?;
        let p = self.owned(caller, &r.project_id).await?;
        if p.user_id != r.user_id {
            return Err(project_not_found(&r.project_id));
        }
        let session = SessionRow {
            session_id: uuid::Uuid::now_v7().to_string(),
            project_id: p.project_id.clone(),
            user_id: r.user_id.clone(),
            chapter_number: r.chapter_number,
            start_word_count: 0,
            words_written: 0,
            duration_seconds: None,
            started_at: now_text(),
            ended_at: None,
        };
        let started = self.store.open_session(session).await?;
        Ok(session_view(&started, self.capabilities(&p.user_id, p.mature_content).await?))
    }

    pub async fn end_session(&self, caller: &Caller, session_id: &str) -> AppResult<Session> {
        let s = match self.store.session(session_id).await? {
            Some(s) if s.user_id == caller.user_id || caller.is_privileged() => s,
            _ => return Err(AppError::NotFound { code: "session_not_found", message: format!("no writing session `{session_id}`") }),
        };
        if s.ended_at.is_some() {
            return Err(AppError::Conflict { code: "session_ended", message: "the session has ended already".into() });
        }
        let ended = self.store.close_session(s.clone(), &now_text()).await?;
        let mature = self.reload(&s.project_id).await.map(|p| p.mature_content).unwrap_or(false);
        Ok(session_view(&ended, self.capabilities(&s.user_id, mature).await?))
    }

    /// Ends sessions with no save for `writers.session_idle_minutes`, at their last activity.
    pub async fn close_idle_sessions(&self) -> AppResult<usize> {
        self.store.close_idle_sessions(Utc::now() - Duration::minutes(self.config.session_idle_minutes as i64)).await
    }
}
