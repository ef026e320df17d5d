//! Writers Guild members: joining (explicitly or on the first visit), profiles, guild tiers.

use super::*;

impl WritersService {
    pub(super) async fn member_view(&self, m: MemberRow) -> AppResult<Member> {
        let stats = self.store.member_stats(&m.user_id).await?;
        Ok(Member {
            member_id: m.member_id,
            user_id: m.user_id,
            pen_name: m.pen_name,
            bio: m.bio,
            specialties: m.specialties,
            tier: GuildTier::parse(&m.tier).unwrap_or(GuildTier::Novice),
            total_words_written: m.total_words_written,
            total_projects: stats.projects,
            sessions: stats.sessions,
            streak_days: streak(&stats.session_days, Utc::now().date_naive()),
            member_since: m.joined_at,
            updated_at: m.updated_at,
        })
    }

    pub(super) async fn member_row(&self, user_id: &str) -> AppResult<MemberRow> {
        self.store
            .member(user_id)
            .await?
            .ok_or_else(|| AppError::NotFound { code: "member_not_found", message: format!("`{user_id}` is not a member of the Writers Guild") })
    }

    pub async fn register_member(&self, caller: &Caller, r: RegisterMember) -> AppResult<Member> {
        caller.ensure_acts_for(&r.user_id)?;
        self.subscriptions.require(&r.user_id, Feature::WritersGuild).await?;
        let pen_name = required("penName", r.pen_name, 100)?;
        let now = now_text();
        let row = MemberRow {
            member_id: uuid::Uuid::now_v7().to_string(),
            user_id: r.user_id.clone(),
            pen_name,
            bio: trimmed("bio", r.bio, 2000)?,
            specialties: specialties(r.specialties.unwrap_or_default())?,
            tier: GuildTier::Novice.as_str().into(),
            total_words_written: 0,
            joined_at: now.clone(),
            updated_at: now,
        };
        if !self.store.enrol_member(row.clone()).await? {
            return Err(AppError::Conflict { code: "already_member", message: format!("`{}` is already a member", r.user_id) });
        }
        self.member_view(row).await
    }

    pub async fn member(&self, caller: &Caller, user_id: &str) -> AppResult<Member> {
        caller.ensure_acts_for(user_id)?;
        let row = self.member_row(user_id).await?;
        self.member_view(row).await
    }

    /// The member, enrolled as a novice on the first visit when the tier includes the guild
    /// (the app has no screen to join: its guild screen asks for the member). The pen name is
    /// the account's name (an address's local part), or the user id without an account; the
    /// member changes it later. A tier without the guild is 403 `upgrade_required`.
    pub async fn member_enrolling(&self, caller: &Caller, user_id: &str) -> AppResult<Member> {
        caller.ensure_acts_for(user_id)?;
        if let Some(row) = self.store.member(user_id).await? {
            return self.member_view(row).await;
        }
        self.subscriptions.require(user_id, Feature::WritersGuild).await?;
        let name = self.accounts.name_of(user_id).await?.unwrap_or_else(|| user_id.to_owned());
        let name = name.split_once('@').map_or(name.as_str(), |(local, _)| local).trim();
        let pen_name: String = if name.is_empty() { user_id } else { name }.chars().take(100).collect();
        let now = now_text();
        let row = MemberRow {
            member_id: uuid::Uuid::now_v7().to_string(),
            user_id: user_id.to_owned(),
            pen_name,
            bio: None,
            specialties: Vec::new(),
            tier: GuildTier::Novice.as_str().into(),
            total_words_written: 0,
            joined_at: now.clone(),
            updated_at: now,
        };
        // A concurrent first visit may have enrolled the member already: either row will do.
        self.store.enrol_member(row).await?;
        self.member(caller, user_id).await
    }

    pub async fn update_member(&self, caller: &Caller, user_id: &str, u: UpdateMember) -> AppResult<Member> {
        caller.ensure_acts_for(user_id)?;
        self.subscriptions.require(user_id, Feature::WritersGuild).await?;
        let mut m = self.member_row(user_id).await?;
        if let Some(pen) = u.pen_name {
            m.pen_name = required("penName", pen, 100)?;
        }
        if u.bio.is_some() {
            m.bio = trimmed("bio", u.bio, 2000)?;
        }
        if let Some(list) = u.specialties {
            m.specialties = specialties(list)?;
        }
        self.store.save_member(m).await?;
        self.member(caller, user_id).await
    }

    /// Moves a member to `tier`: up when eligible (words written, or the subscription), down at will;
    /// admins and services set any tier.
    pub async fn upgrade_member(&self, caller: &Caller, user_id: &str, tier: &str) -> AppResult<Member> {
        caller.ensure_acts_for(user_id)?;
        let target = GuildTier::parse(tier)
            .ok_or_else(|| AppError::invalid_field("tier", format!("unknown tier `{tier}`: use novice, wordsmith or master")))?;
        let subscription = self.subscriptions.require(user_id, Feature::WritersGuild).await?;
        let mut m = self.member_row(user_id).await?;
        let current = GuildTier::parse(&m.tier).unwrap_or(GuildTier::Novice);
        if target == current {
            return Err(AppError::Conflict { code: "already_on_tier", message: format!("the member is already a {}", target.as_str()) });
        }
        if target > current && !caller.is_privileged() {
            let (words_needed, tier_needed) = match target {
                GuildTier::Wordsmith => (self.config.wordsmith_words, Tier::Premium),
                _ => (self.config.master_words, Tier::Unlimited),
            };
            if m.total_words_written < words_needed && subscription < tier_needed {
                return Err(AppError::Forbidden {
                    code: "not_eligible",
                    message: format!(
                        "{} needs {words_needed} words written (you have {}) or a {} subscription (you have {})",
                        target.as_str(),
                        m.total_words_written,
                        tier_needed.as_str(),
                        subscription.as_str()
                    ),
                    details: Some(serde_json::json!({
                        "wordsNeeded": words_needed, "wordsWritten": m.total_words_written,
                        "subscriptionNeeded": tier_needed.as_str(), "subscription": subscription.as_str(),
                    })),
                });
            }
        }
        m.tier = target.as_str().into();
        self.store.save_member(m).await?;
        self.member(caller, user_id).await
    }
}
