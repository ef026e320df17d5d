//! Generating a track: quota held, the provider run in the work queue, stems and a mix stored.

use super::*;

impl MusicService {
    pub async fn generate(&self, caller: &Caller, r: GenerateRequest) -> AppResult<Generated> {
        caller.ensure_acts_for(&r.user_id)?;
        let project = self.owned(caller, &r.project_id).await?;
        if project.user_id != r.user_id {
            return Err(not_found(&r.project_id));
        }
        let prompt = required("prompt", r.prompt, 1000)?;
        let duration = r.duration.unwrap_or(30);
        if !(10..=180).contains(&duration) {
            return Err(AppError::invalid_field("duration", "must be 10 to 180 seconds"));
        }
        let style = match r.style.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => parse_style(s)?,
            None => project.genre.as_deref().and_then(|g| Style::parse(&g.to_ascii_lowercase())).unwrap_or(Style::Pop),
        };
        let instrument = trimmed("instrument", r.instrument, 50)?;
        let mut params = MusicParams {
            prompt: prompt.clone(),
            style,
            mood: project.mood.clone(),
            bpm: project.bpm,
            key: project.key.clone(),
            duration_secs: duration,
            instrument,
            seed: 0,
        };
        params.seed = r.seed.unwrap_or_else(|| seed_for(&params));

        let reservation = self.subscriptions.quotas().reserve(&project.user_id, Feature::MusicGeneration, 1).await?;
        let began = self.store.begin_generation(&project.project_id, changeable(false)).await;
        let previous = match began.and_then(|before| before.ok_or_else(|| not_found(&project.project_id))) {
            Ok(before) => ProjectStatus::parse(&before.status).unwrap_or(ProjectStatus::Draft),
            Err(e) => {
                reservation.release().await;
                return Err(e);
            }
        };
        self.mirror_changed();
        self.progress(&project.project_id, serde_json::json!({ "status": "queued" })).await;

        let priority = match self.subscriptions.tier_of(&project.user_id).await {
            Ok(tier) => Priority::of(tier),
            Err(_) => Priority::Standard,
        };
        // The provider's steps are published as it takes them, all before the outcome's.
        let (steps, mut taken) = Steps::channel();
        let relay = async {
            while let Some(step) = taken.recv().await {
                self.progress(&project.project_id, step.to_json()).await;
            }
        };
        let (made, ()) = tokio::join!(self.work.run("music", priority, self.provider.generate(params, steps)), relay);
        let outcome = match made.and_then(|made| made) {
            Ok(music) => self.store_generation(&project, music, Some(&prompt), self.provider.name(), Some(reservation)).await,
            Err(e) => {
                reservation.release().await;
                Err(e)
            }
        };
        match outcome {
            Ok(generated) => {
                let step = serde_json::json!({ "status": "completed", "versionId": generated.version_id });
                self.progress(&project.project_id, step).await;
                Ok(generated)
            }
            Err(e) => {
                let step = serde_json::json!({ "status": "failed", "code": e.code(), "error": e.public_message() });
                self.progress(&project.project_id, step).await;
                self.store.set_status(&project.project_id, previous, Some(e.public_message())).await?;
                self.mirror_changed();
                Err(e)
            }
        }
    }

    /// Writes a generation's files, then its rows (charging the reservation in the same
    /// transaction). Files written before a failure are removed again.
    pub(super) async fn store_generation(
        &self,
        project: &ProjectRow,
        music: GeneratedMusic,
        prompt: Option<&str>,
        provider: &str,
        reservation: Option<crate::features::subscription::Reservation>,
    ) -> AppResult<Generated> {
        let version_id = uuid::Uuid::now_v7().to_string();
        let mix_path = format!("{}/mixed/{version_id}.mp3", project.storage_path);
        let version_preview = format!("{}/mixed/{version_id}_preview.mp3", project.storage_path);
        let preview_path = format!("{}/preview/{}_preview.mp3", project.storage_path, project.project_id);
        let midi_path = music.midi.as_ref().map(|_| format!("{}/midi/{version_id}.mid", project.storage_path));
        let created_at = now_text();
        let stems: Vec<StemRow> = music
            .stems
            .iter()
            .map(|s| {
                let stem_id = uuid::Uuid::now_v7().to_string();
                StemRow {
                    path: format!("{}/stems/{stem_id}.{}", project.storage_path, s.format.extension()),
                    stem_id,
                    version_id: Some(version_id.clone()),
                    instrument: s.instrument.clone(),
                    source: "generated".into(),
                    format: s.format.extension().into(),
                    size_bytes: s.bytes.len() as u64,
                    duration: s.duration_secs,
                    created_at: created_at.clone(),
                }
            })
            .collect();
        let mut files: Vec<(String, Vec<u8>)> = stems.iter().zip(music.stems).map(|(row, s)| (row.path.clone(), s.bytes)).collect();
        files.push((mix_path.clone(), music.mix_mp3));
        files.push((version_preview.clone(), music.preview_mp3.clone()));
        files.push((preview_path.clone(), music.preview_mp3));
        if let (Some(path), Some(midi)) = (&midi_path, music.midi) {
            files.push((path.clone(), midi));
        }
        let mut written = Vec::new();
        for (path, bytes) in files {
            let blob = BlobPath::parse(&path)?;
            if let Err(e) = self.storage.blobs().put_bytes(BUCKET, &blob, bytes).await {
                self.remove_files(&written).await;
                if let Some(r) = reservation {
                    r.release().await;
                }
                return Err(e.into());
            }
            written.push(blob);
        }
        let generation = FinishedGeneration {
            project_id: project.project_id.clone(),
            version: NewVersion {
                version_id: version_id.clone(),
                mix_path: mix_path.clone(),
                preview_path: version_preview.clone(),
                midi_path: midi_path.clone(),
                prompt: prompt.map(str::to_owned),
                provider: provider.to_owned(),
                duration: music.duration_secs,
            },
            stems: stems.clone(),
            hold: reservation.as_ref().map(|r| r.hold()),
        };
        let stored = self.store.finish_generation(generation, changeable(reservation.is_some())).await;
        match stored.and_then(|before| before.ok_or_else(|| not_found(&project.project_id))) {
            Ok(_) => {
                if let Some(r) = reservation {
                    r.committed();
                }
            }
            Err(e) => {
                self.remove_files(&written).await;
                if let Some(r) = reservation {
                    r.release().await;
                }
                return Err(e);
            }
        }
        self.mirror_changed();
        let stems: Vec<Stem> = stems.iter().map(|s| self.stem_view(s)).collect();
        Ok(Generated {
            status: ProjectStatus::Completed,
            project_id: project.project_id.clone(),
            version_id,
            stem_urls: stems.iter().map(|s| s.url.clone()).collect(),
            stems,
            mix_url: self.url(&mix_path),
            preview_url: self.url(&preview_path),
            midi_url: midi_path.as_deref().map(|p| self.url(p)),
            duration_seconds: music.duration_secs,
            model: music.model,
            bpm: music.bpm,
            key: music.key,
        })
    }

    pub(super) async fn remove_files(&self, paths: &[BlobPath]) {
        for path in paths {
            if let Err(e) = self.storage.blobs().delete(BUCKET, path).await {
                tracing::warn!(%path, error = %e, "could not remove a file of a failed generation");
            }
        }
    }
}
