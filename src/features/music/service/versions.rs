//! Stems and mix versions: uploads, listing, choosing the current mix, remixing.

use super::*;

impl MusicService {
    /// Stores a user's own stem after checking by content that it really is audio.
    pub async fn upload_stem(&self, caller: &Caller, project_id: &str, instrument: &str, bytes: Vec<u8>) -> AppResult<Stem> {
        let project = self.owned(caller, project_id).await?;
        let instrument = required("instrument", instrument.to_owned(), 50)?;
        if bytes.len() as u64 > self.config.max_stem_bytes {
            return Err(AppError::PayloadTooLarge { message: format!("the stem is {} bytes; the limit is {} bytes", bytes.len(), self.config.max_stem_bytes) });
        }
        let (info, bytes) = tokio::task::spawn_blocking(move || (audio::probe(&bytes), bytes)).await.map_err(AppError::internal)?;
        let info = info.map_err(|e| AppError::Unprocessable { code: "not_audio", message: format!("the file is not usable audio (WAV, MP3, FLAC or OGG): {e}"), details: None })?;
        if info.duration_secs > self.config.max_stem_secs {
            return Err(AppError::Unprocessable {
                code: "stem_too_long",
                message: format!("the stem is {:.0} s long; the limit is {:.0} s", info.duration_secs, self.config.max_stem_secs),
                details: None,
            });
        }
        let stem_id = uuid::Uuid::now_v7().to_string();
        let row = StemRow {
            path: format!("{}/stems/{stem_id}.{}", project.storage_path, info.format.extension()),
            stem_id,
            version_id: None,
            instrument,
            source: "upload".into(),
            format: info.format.extension().into(),
            size_bytes: bytes.len() as u64,
            duration: info.duration_secs,
            created_at: now_text(),
        };
        let blob = BlobPath::parse(&row.path)?;
        self.storage.blobs().put_bytes(BUCKET, &blob, bytes).await?;
        if let Err(e) = self.store.add_stem(&project.project_id, row.clone()).await {
            self.remove_files(&[blob]).await;
            return Err(e);
        }
        self.mirror_changed();
        Ok(self.stem_view(&row))
    }

    pub async fn stems(&self, caller: &Caller, project_id: &str) -> AppResult<Vec<Stem>> {
        self.owned(caller, project_id).await?;
        Ok(self.store.stems(project_id).await?.iter().map(|s| self.stem_view(s)).collect())
    }

    pub(super) fn version_view(&self, v: &VersionRow, current: Option<&str>) -> Version {
        Version {
            version_id: v.version_id.clone(),
            mix_url: self.url(&v.mix_path),
            preview_url: self.url(&v.preview_path),
            midi_url: v.midi_path.as_deref().map(|p| self.url(p)),
            duration_seconds: v.duration,
            prompt: v.prompt.clone(),
            provider: v.provider.clone(),
            current: current == Some(v.version_id.as_str()),
            created_at: v.created_at.clone(),
        }
    }

    pub async fn versions(&self, caller: &Caller, project_id: &str) -> AppResult<Versions> {
        let project = self.owned(caller, project_id).await?;
        let rows = self.store.versions(project_id).await?;
        let current = project.current_version_id.as_deref();
        Ok(Versions { project_id: project_id.to_owned(), versions: rows.iter().map(|v| self.version_view(v, current)).collect() })
    }

    /// Makes an earlier mix current again (its preview becomes the project's preview).
    pub async fn select_version(&self, caller: &Caller, project_id: &str, version_id: &str) -> AppResult<Project> {
        self.owned(caller, project_id).await?;
        let project = self.changeable_now(project_id).await?;
        let version = self
            .store
            .versions(project_id)
            .await?
            .into_iter()
            .find(|v| v.version_id == version_id)
            .ok_or_else(|| AppError::NotFound { code: "version_not_found", message: format!("no version `{version_id}` in this project") })?;
        let (_, stream) = self.storage.blobs().get(BUCKET, &BlobPath::parse(&version.preview_path)?, None).await?;
        let preview = self.path(&project, &format!("preview/{}_preview.mp3", project.project_id))?;
        self.storage.blobs().put(BUCKET, &preview, Box::pin(tokio_util::io::StreamReader::new(stream)), u64::MAX, Durability::Synced).await?;
        self.store
            .make_current(&project.project_id, &version.version_id, version.duration, changeable(false))
            .await?
            .ok_or_else(|| not_found(project_id))?;
        self.mirror_changed();
        self.get(caller, project_id).await
    }

    /// Mixes stems (by default the current version's and every uploaded one) into a new version.
    pub async fn remix(&self, caller: &Caller, project_id: &str, r: MixRequest) -> AppResult<Generated> {
        self.owned(caller, project_id).await?;
        let project = self.changeable_now(project_id).await?;
        let all = self.store.stems(project_id).await?;
        let chosen: Vec<(StemRow, f32, f32)> = match r.stems {
            Some(list) if list.is_empty() => return Err(AppError::invalid_field("stems", "must name at least one stem")),
            Some(list) if list.len() > 32 => return Err(AppError::invalid_field("stems", "at most 32 stems")),
            Some(list) => list
                .into_iter()
                .map(|m| {
                    let gain = m.gain.unwrap_or(1.0);
                    let pan = m.pan.unwrap_or(0.0);
                    if !(0.0..=2.0).contains(&gain) || !(-1.0..=1.0).contains(&pan) {
                        return Err(AppError::invalid_field("stems", "gain must be 0 to 2 and pan -1 to 1"));
                    }
                    let stem = all.iter().find(|s| s.stem_id == m.stem_id).cloned().ok_or_else(|| {
                        AppError::NotFound { code: "stem_not_found", message: format!("no stem `{}` in this project", m.stem_id) }
                    })?;
                    Ok((stem, gain, pan))
                })
                .collect::<AppResult<_>>()?,
            None => all
                .iter()
                .filter(|s| s.source == "upload" || s.version_id == project.current_version_id)
                .map(|s| (s.clone(), 1.0, 0.0))
                .collect(),
        };
        if chosen.is_empty() {
            return Err(AppError::Conflict { code: "no_stems", message: "the project has no stems to mix: generate or upload some first".into() });
        }
        let mut decoded = Vec::with_capacity(chosen.len());
        for (stem, gain, pan) in chosen {
            let bytes = self.storage.blobs().get_bytes(BUCKET, &BlobPath::parse(&stem.path)?).await?;
            decoded.push((bytes, gain, pan));
        }
        let priority = Priority::of(self.subscriptions.tier_of(&project.user_id).await?);
        self.progress(&project.project_id, serde_json::json!({ "status": "queued", "kind": "remix" })).await;
        let outcome = self.mix(&project, decoded, priority).await;
        let step = match &outcome {
            Ok(generated) => serde_json::json!({ "status": "completed", "kind": "remix", "versionId": generated.version_id }),
            Err(e) => serde_json::json!({ "status": "failed", "kind": "remix", "code": e.code(), "error": e.public_message() }),
        };
        self.progress(&project.project_id, step).await;
        outcome
    }

    /// Mixes the decoded stems into a new version of `project`, in the work queue.
    async fn mix(&self, project: &ProjectRow, decoded: Vec<(Vec<u8>, f32, f32)>, priority: Priority) -> AppResult<Generated> {
        // Inside `async`: spawn_blocking starts its work when called, and it must wait its turn.
        let mix = async move {
            tokio::task::spawn_blocking(move || {
                let pcm: Vec<(Vec<f32>, f32, f32)> = decoded
                    .into_iter()
                    .map(|(bytes, gain, pan)| audio::decode_mono(&bytes).map(|s| (s, gain, pan)))
                    .collect::<Result<_, _>>()?;
                let tracks: Vec<MixTrack> = pcm.iter().map(|(samples, gain, pan)| MixTrack { samples, gain: *gain, pan: *pan }).collect();
                mix_and_encode(&tracks)
            })
            .await
        };
        let project_id = project.project_id.clone();
        let started = async move {
            self.progress(&project_id, serde_json::json!({ "status": "encoding", "kind": "remix" })).await;
            mix.await
        };
        let mixed = self
            .work
            .run("mix", priority, started)
            .await?
            .map_err(AppError::internal)?
            .map_err(|e| AppError::Unprocessable { code: "mix_failed", message: format!("the stems could not be mixed: {e}"), details: None })?;
        let music = GeneratedMusic {
            stems: Vec::new(),
            midi: None,
            mix_mp3: mixed.mix_mp3,
            preview_mp3: mixed.preview_mp3,
            duration_secs: mixed.duration_secs,
            model: "optima-mixer".into(),
            bpm: project.bpm,
            key: project.key.clone(),
        };
        self.store_generation(project, music, None, "remix", None).await
    }
}
