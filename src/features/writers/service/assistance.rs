//! AI writing assistance, charged to the `ai_writing` quota, with an offline fallback.

use super::*;

impl WritersService {
    pub async fn assist(&self, caller: &Caller, r: AssistRequest) -> AppResult<Assistance> {
        caller.ensure_acts_for(&r.user_id)?;
        let prompt = trimmed("prompt", r.prompt, MAX_ASSIST_REQUEST_CHARS)?;
        let request = trimmed("request", r.request, MAX_ASSIST_REQUEST_CHARS)?;
        at_most("context", r.context.as_deref(), MAX_ASSIST_TEXT_CHARS)?;
        at_most("selection", r.selection.as_deref(), MAX_ASSIST_TEXT_CHARS)?;
        let p = self.owned(caller, &r.project_id).await?;
        if p.user_id != r.user_id {
            return Err(project_not_found(&r.project_id));
        }
        let tier = self.subscriptions.require(&r.user_id, Feature::AiWriting).await?;
        let plan = self.subscriptions.plans().get(tier);
        // Absent: the most the project allows (the app's default is `mature`).
        let rating = r.content_rating.unwrap_or(if p.mature_content { ContentRating::Mature } else { ContentRating::General });
        if rating >= ContentRating::Mature && !p.mature_content {
            return Err(AppError::invalid_field("contentRating", "mature ratings are only for projects marked matureContent"));
        }
        if rating == ContentRating::Unrestricted && !plan.unrestricted_content {
            return Err(AppError::Forbidden {
                code: "upgrade_required",
                message: "unrestricted content needs the unlimited tier".into(),
                details: Some(serde_json::json!({ "feature": "unrestricted_content", "upgradeTo": "unlimited" })),
            });
        }
        let mode = r.mode.unwrap_or_default();
        let ask = prompt.or(request);
        if mode == AssistMode::Custom && ask.is_none() {
            return Err(AppError::invalid_field("prompt", "say what you need (prompt or request) for the custom mode"));
        }
        let context_chars = if plan.ai_writing_level == AiWritingLevel::Advanced { 16_000 } else { 4_000 };
        let manuscript = self.text_of(&p, None).await?;
        let excerpt: String = {
            let chars: Vec<char> = manuscript.chars().collect();
            chars[chars.len().saturating_sub(context_chars)..].iter().collect()
        };
        let subject = r.selection.clone().or(r.context.clone()).filter(|s| !s.trim().is_empty()).unwrap_or_else(|| excerpt.clone());
        let words = analysis::count_words(&subject) + ask.as_deref().map_or(0, analysis::count_words);

        let reservation = self.subscriptions.quotas().reserve(&r.user_id, Feature::AiWriting, 1).await?;
        let figures = {
            let subject = subject.clone();
            tokio::task::spawn_blocking(move || analysis::analyze(&subject)).await.map_err(AppError::internal)?
        };
        let mut message = format!("Task: {}\nContent rating: {}\n", mode_instruction(mode), rating.as_str());
        if let Some(a) = &ask {
            message += &format!("Request: {a}\n");
        }
        message += &format!("\nText:\n{subject}");
        let system = format!(
            "You are a writing assistant for the R3AL Writers Guild, working on a {} titled \"{}\". Keep to the {} content rating. Answer with the help itself.",
            p.content_type.replace('_', " "),
            p.title,
            rating.as_str()
        );
        let request = TextRequest {
            system,
            history: Vec::new(),
            message,
            temperature: 0.8,
            max_tokens: Some(if plan.ai_writing_level == AiWritingLevel::Advanced { 2_048 } else { 800 }),
            facts: CallerFacts::default(),
        };
        let (suggestion, model, prompt_tokens, completion_tokens) = if self.text.model() == crate::ai::text::LOCAL_MODEL {
            let text = local_suggestion(mode, &figures, &subject);
            (text.clone(), self.text.model().to_owned(), crate::ai::text::estimate_tokens(&subject), crate::ai::text::estimate_tokens(&text))
        } else {
            match self.text.complete(request).await {
                Ok(reply) => (reply.text, reply.model, reply.prompt_tokens, reply.completion_tokens),
                Err(e) => {
                    reservation.release().await;
                    return Err(e);
                }
            }
        };
        match self.store.commit_assistance(reservation.hold(), words).await {
            Ok(()) => reservation.committed(),
            Err(e) => {
                reservation.release().await;
                return Err(e);
            }
        }
        let remaining = self.subscriptions.tier_standing(&r.user_id, Feature::AiWriting).await?.remaining;
        Ok(Assistance {
            suggestion,
            kind: mode,
            model,
            content_rating: rating,
            analysis: Some(figures),
            usage: AssistUsage { prompt_tokens, completion_tokens, total_tokens: prompt_tokens.saturating_add(completion_tokens), remaining },
        })
    }
}

/// What the offline assistant can honestly do: analysis-driven advice and an extractive
/// summary. It says plainly that it does not write prose.
pub(super) fn local_suggestion(mode: AssistMode, a: &TextAnalysis, text: &str) -> String {
    let advice = if a.suggestions.is_empty() {
        "The figures show nothing that needs attention.".to_owned()
    } else {
        a.suggestions.iter().map(|s| format!("- {s}")).collect::<Vec<_>>().join("\n")
    };
    let figures = format!(
        "{} words in {} sentences; reading ease {:.0} (grade {:.1}); {:.0}% dialogue.",
        a.words,
        a.sentences,
        a.flesch_reading_ease,
        a.flesch_kincaid_grade,
        a.dialogue_ratio * 100.0
    );
    match mode {
        AssistMode::Summarize => format!("Key sentences (extracted, offline):\n{}\n\n{figures}", extract_summary(text, 3)),
        AssistMode::Critique => format!("{figures}\n\n{advice}"),
        _ => format!(
            "No language model is configured on this server, so I can't write or rewrite prose (an operator can set \
             ai.text_provider = \"openai\"). From the text's figures — {figures}\n\n{advice}"
        ),
    }
}

/// The `n` sentences that carry the text's most frequent content words, in their original order.
pub(super) fn extract_summary(text: &str, n: usize) -> String {
    let sentences: Vec<&str> = text.split_inclusive(['.', '!', '?']).map(str::trim).filter(|s| s.split_whitespace().count() >= 4).collect();
    let mut freq = std::collections::BTreeMap::<String, u32>::new();
    for w in text.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 3) {
        *freq.entry(w.to_lowercase()).or_default() += 1;
    }
    let mut scored: Vec<(usize, f64)> = sentences
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let words: Vec<String> = s.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 3).map(str::to_lowercase).collect();
            let score = words.iter().map(|w| f64::from(freq[w])).sum::<f64>() / (words.len().max(1) as f64);
            (i, score)
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut chosen: Vec<usize> = scored.into_iter().take(n).map(|(i, _)| i).collect();
    chosen.sort_unstable();
    chosen.into_iter().map(|i| sentences[i]).collect::<Vec<_>>().join(" ")
}
