//! Copying every object from one blob store to another (`optima storage copy`): skips what the
//! target already holds with the same size and SHA-256, reports progress, stops cleanly between
//! objects when asked, and ends by verifying each source object against the target.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};

use super::{BlobPath, BlobStore, Bucket, Durability, ObjectMeta, StoreError};

/// Where a copy stands; handed to the progress callback.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Progress {
    pub objects_total: u64,
    pub bytes_total: u64,
    /// Objects looked at so far (copied, skipped or failed).
    pub objects_done: u64,
    pub bytes_done: u64,
    pub copied: u64,
    pub bytes_copied: u64,
    pub skipped: u64,
    pub failed: u64,
    /// Objects deleted from the source after it was listed (only counted with
    /// [`CopyJob::vanished_ok`]; otherwise they fail).
    pub vanished: u64,
    #[serde(skip)]
    pub elapsed: Duration,
}

impl Progress {
    /// Copy rate in bytes per second.
    pub fn rate(&self) -> f64 {
        self.bytes_copied as f64 / self.elapsed.as_secs_f64().max(1e-3)
    }

    /// Time left at the current rate, once there is a rate to go by.
    pub fn eta(&self) -> Option<Duration> {
        let rate = self.rate();
        let left = self.bytes_total.saturating_sub(self.bytes_done);
        (self.bytes_copied > 0 && rate > 0.0).then(|| Duration::from_secs_f64(left as f64 / rate))
    }
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CopyReport {
    pub progress: Progress,
    /// Set when the copy stopped early because it was asked to.
    pub interrupted: bool,
    /// Source objects found in the target with the same size and checksum.
    pub verified: u64,
    /// `bucket/path: why` for every object that failed to copy or to verify.
    pub problems: Vec<String>,
    /// Every object now in the target (copied or skipped) with its SHA-256 from the source.
    #[serde(skip)]
    pub checksums: Vec<ObjectChecksum>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ObjectChecksum {
    /// The seed's bucket name (`r3al-user-media`).
    pub bucket: String,
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

pub struct CopyJob<'a> {
    pub from: &'a dyn BlobStore,
    pub to: &'a dyn BlobStore,
    pub buckets: Vec<Bucket>,
    pub dry_run: bool,
    /// Checked between objects: once set, the copy stops after the object in hand.
    pub stop: &'a AtomicBool,
    /// An object deleted from the source between the listing and its copy is passed over, not
    /// a failure: a backup copies a live store, where deletions go on (the migration copy
    /// runs against a stopped server and wants to hear of any).
    pub vanished_ok: bool,
}

impl ObjectChecksum {
    fn of(bucket: Bucket, meta: &ObjectMeta, sha256: Option<String>) -> Self {
        Self { bucket: bucket.name().to_owned(), path: meta.path.clone(), size: meta.size, sha256: sha256.unwrap_or_default() }
    }
}

/// The SHA-256 of an object: kept by the store, or computed from its bytes.
async fn checksum(store: &dyn BlobStore, bucket: Bucket, meta: &ObjectMeta) -> Result<String, StoreError> {
    if let Some(sha) = &meta.sha256 {
        return Ok(sha.clone());
    }
    let path = BlobPath::parse(&meta.path).map_err(|e| StoreError::Unsupported(e.to_string()))?;
    let (_, stream) = store.get(bucket, &path, None).await?;
    let hasher = stream
        .try_fold(Sha256::new(), |mut h, chunk| async move {
            h.update(&chunk);
            Ok(h)
        })
        .await?;
    Ok(crate::crypto::hex(&hasher.finalize()))
}

/// Whether `target` already holds the object with the same size and checksum.
async fn same_in_target(job: &CopyJob<'_>, bucket: Bucket, source: &ObjectMeta, source_sha: &str) -> Result<bool, StoreError> {
    let path = BlobPath::parse(&source.path).map_err(|e| StoreError::Unsupported(e.to_string()))?;
    match job.to.head(bucket, &path).await {
        Ok(target) if target.size == source.size => Ok(checksum(job.to, bucket, &target).await? == source_sha),
        Ok(_) | Err(StoreError::NotFound) => Ok(false),
        Err(e) => Err(e),
    }
}

async fn copy_one(job: &CopyJob<'_>, bucket: Bucket, source: &ObjectMeta) -> Result<(), StoreError> {
    let path = BlobPath::parse(&source.path).map_err(|e| StoreError::Unsupported(e.to_string()))?;
    let (_, stream) = job.from.get(bucket, &path, None).await?;
    let reader = Box::pin(tokio_util::io::StreamReader::new(stream));
    let written = job.to.put(bucket, &path, reader, u64::MAX, Durability::Synced).await?;
    if written.size != source.size {
        return Err(StoreError::Backend(format!("wrote {} bytes of {}", written.size, source.size)));
    }
    Ok(())
}

/// Runs the copy, calling `on_progress` after every object.
pub async fn copy(job: CopyJob<'_>, on_progress: &mut (dyn FnMut(&Progress) + Send)) -> Result<CopyReport, StoreError> {
    let started = Instant::now();
    let mut listing = Vec::new();
    for &bucket in &job.buckets {
        listing.push((bucket, job.from.list(bucket, "").await?));
    }
    let mut report = CopyReport::default();
    let p = &mut report.progress;
    p.objects_total = listing.iter().map(|(_, objects)| objects.len() as u64).sum();
    p.bytes_total = listing.iter().flat_map(|(_, objects)| objects).map(|o| o.size).sum();
    on_progress(p);

    // Copied objects and their source checksums, checked in the target once all are copied.
    // Skipped ones were just found equal there.
    let mut copied: Vec<(Bucket, &ObjectMeta, String)> = Vec::new();
    'buckets: for (bucket, objects) in &listing {
        for source in objects {
            if job.stop.load(Ordering::SeqCst) {
                report.interrupted = true;
                break 'buckets;
            }
            let mut checksum_skipped = None;
            let outcome = async {
                let sha = checksum(job.from, *bucket, source).await?;
                if same_in_target(&job, *bucket, source, &sha).await? {
                    checksum_skipped = Some(sha);
                    return Ok(None);
                }
                if !job.dry_run {
                    copy_one(&job, *bucket, source).await?;
                }
                Ok::<_, StoreError>(Some(sha))
            }
            .await;
            let p = &mut report.progress;
            match outcome {
                Ok(Some(sha)) => {
                    p.copied += 1;
                    p.bytes_copied += source.size;
                    copied.push((*bucket, source, sha));
                }
                Ok(None) => {
                    p.skipped += 1;
                    report.checksums.push(ObjectChecksum::of(*bucket, source, checksum_skipped.take()));
                }
                Err(StoreError::NotFound) if job.vanished_ok => p.vanished += 1,
                Err(e) => {
                    p.failed += 1;
                    report.problems.push(format!("{bucket}/{}: {e}", source.path));
                }
            }
            p.objects_done += 1;
            p.bytes_done += source.size;
            p.elapsed = started.elapsed();
            on_progress(p);
        }
    }
    if !job.dry_run && !report.interrupted {
        report.verified = report.progress.skipped;
        for (bucket, source, sha) in copied {
            match same_in_target(&job, bucket, source, &sha).await {
                Ok(true) => {
                    report.verified += 1;
                    report.checksums.push(ObjectChecksum::of(bucket, source, Some(sha)));
                }
                Ok(false) => report.problems.push(format!("{bucket}/{}: differs in the target after the copy", source.path)),
                Err(e) => report.problems.push(format!("{bucket}/{}: cannot verify: {e}", source.path)),
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blobs::LocalStore;

    fn p(s: &str) -> BlobPath {
        BlobPath::parse(s).unwrap()
    }

    async fn run(from: &dyn BlobStore, to: &dyn BlobStore, dry_run: bool, stop_after: Option<u64>) -> CopyReport {
        let stop = AtomicBool::new(false);
        let job = CopyJob { from, to, buckets: Bucket::ALL.to_vec(), dry_run, stop: &stop, vanished_ok: false };
        copy(job, &mut |progress| {
            if stop_after.is_some_and(|n| progress.objects_done >= n) {
                stop.store(true, Ordering::SeqCst);
            }
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn copies_skips_resumes_and_verifies() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (from, to): (Box<dyn BlobStore>, Box<dyn BlobStore>) = (Box::new(LocalStore::new(a.path())), Box::new(LocalStore::new(b.path())));
        for (i, path) in ["users/u/1.bin", "users/u/2.bin", "users/v/3.bin", "users/v/4.bin"].iter().enumerate() {
            from.put_bytes(Bucket::Media, &p(path), vec![i as u8; 1000 * (i + 1)]).await.unwrap();
        }
        from.put_bytes(Bucket::Music, &p("users/u/song.mp3"), b"la la".to_vec()).await.unwrap();

        let dry = run(&*from, &*to, true, None).await;
        assert_eq!((dry.progress.copied, dry.progress.objects_total, dry.verified), (5, 5, 0));
        assert!(to.list(Bucket::Media, "").await.unwrap().is_empty(), "a dry run writes nothing");

        let partial = run(&*from, &*to, false, Some(2)).await;
        assert!(partial.interrupted);
        assert_eq!(partial.progress.copied, 2);

        let rest = run(&*from, &*to, false, None).await;
        assert_eq!((rest.progress.skipped, rest.progress.copied, rest.verified), (2, 3, 5), "{rest:?}");
        assert!(rest.problems.is_empty());
        assert_eq!(to.get_bytes(Bucket::Media, &p("users/v/4.bin")).await.unwrap(), vec![3u8; 4000]);

        // Same size, other bytes: copied again.
        from.put_bytes(Bucket::Media, &p("users/u/1.bin"), vec![9u8; 1000]).await.unwrap();
        let again = run(&*from, &*to, false, None).await;
        assert_eq!((again.progress.copied, again.progress.skipped, again.verified), (1, 4, 5));
        assert_eq!(to.get_bytes(Bucket::Media, &p("users/u/1.bin")).await.unwrap(), vec![9u8; 1000]);
    }
}
