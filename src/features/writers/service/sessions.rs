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
        let inserted = session.clone();
        let started = self
            .db
            .write(move |tx| {
                for open in repo::open_sessions(tx, &inserted.user_id, &inserted.project_id)? {
                    repo::end_session(tx, &open, &inserted.started_at)?;
                }
                let words = repo::project(tx, &inserted.project_id)?.map_or(0, |p| p.word_count);
                let row = SessionRow { start_word_count: words, ..inserted };
                repo::insert_session(tx, &row)?;
                Ok(row)
            })
            .await?;
        Ok(session_view(&started, self.capabilities(&p.user_id, p.mature_content).await?))
    }

    pub async fn end_session(&self, caller: &Caller, session_id: &str) -> AppResult<Session> {
        let id = session_id.to_owned();
        let s = match self.db.read(move |c| repo::session(c, &id)).await? {
            Some(s) if s.user_id == caller.user_id || caller.is_privileged() => s,
            _ => return Err(AppError::NotFound { code: "session_not_found", message: format!("no writing session `{session_id}`") }),
        };
        if s.ended_at.is_some() {
            return Err(AppError::Conflict { code: "session_ended", message: "the session has ended already".into() });
        }
        let open = s.clone();
        let ended = self.db.write(move |tx| Ok(repo::end_session(tx, &open, &now_text())?)).await?;
        let mature = self.reload(&s.project_id).await.map(|p| p.mature_content).unwrap_or(false);
        Ok(session_view(&ended, self.capabilities(&s.user_id, mature).await?))
    }

    /// Ends sessions with no save for `writers.session_idle_minutes`, at their last activity.
    pub async fn close_idle_sessions(&self) -> AppResult<usize> {
        let cutoff = (Utc::now() - Duration::minutes(self.config.session_idle_minutes as i64)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.db
            .write(move |tx| {
                let idle = repo::idle_sessions(tx, &cutoff)?;
                for (session, last_activity) in &idle {
                    repo::end_session(tx, session, last_activity)?;
                }
                Ok(idle.len())
            })
            .await
    }
}
