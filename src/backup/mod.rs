//! Whole backups of one server, with no outside tool: a snapshot of the database (SQLite's
//! online backup API), then every blob (copied and verified by the storage copy loop), then
//! the key files, described by a manifest of SHA-256 sums that `restore` checks before it
//! declares success. A backup is built in a hidden folder renamed into place at the end (in
//! GCS: its manifest is written last), so a half-done one never looks whole.
//!
//! Layout: `manifest.json`, `optima.db`, `keys/<file>`, `blobs/<bucket>/<path>` (the local
//! store's layout, so a backup folder is also a data directory's blobs).

pub mod cron;
pub mod schedule;

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{Config, StorageBackend};
use crate::db::DbOpenError;
use crate::blobs::transfer::{CopyJob, ObjectChecksum, Progress, copy};
use crate::blobs::{BlobPath, BlobStore, Bucket, LocalStore, StoreError};

pub const MANIFEST: &str = "manifest.json";
const FORMAT: &str = "optima-backup";
const VERSION: u32 = 1;
const DATABASE: &str = "optima.db";
const KEYS: &str = "keys";
const BLOBS: &str = "blobs";
/// Folders the schedule writes are named this, then the time: `optima-20261202T030000.000Z`.
pub const NAME_PREFIX: &str = "optima-";

/// What started a backup. Retention deletes only the schedule's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Command,
    Schedule,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `optima-backup`: what marks a folder as a backup.
    pub format: String,
    pub version: u32,
    /// When the database snapshot was taken: every row acknowledged before it is in the backup.
    pub created_at: DateTime<Utc>,
    pub trigger: Trigger,
    pub optima_version: String,
    /// The store the blobs were copied from (`local` or `gcs`).
    pub storage_backend: String,
    /// The database and the key files, by their path inside the backup.
    pub files: Vec<FileEntry>,
    pub blob_count: u64,
    pub blob_bytes: u64,
    pub blobs: Vec<ObjectChecksum>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The request cannot be carried out as asked (target exists, data directory not empty).
    #[error("{0}")]
    Refused(String),
    /// The backup being restored is damaged or incomplete.
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(transparent)]
    Db(#[from] DbOpenError),
    #[error("blob store: {0}")]
    Store(#[from] StoreError),
    #[error("stopped before the end; nothing was kept")]
    Interrupted,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io { path: path.display().to_string(), source }
}

/// Where a backup goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// This folder, which must not exist yet.
    Dir(PathBuf),
    /// The folder `name` in a GCS bucket (`"bucket"` or `"bucket/prefix"`).
    Gcs { bucket: String, name: String },
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Dir(dir) => write!(f, "{}", dir.display()),
            Target::Gcs { bucket, name } => write!(f, "gs://{bucket}/{name}"),
        }
    }
}

/// A folder name for a backup taken now; names sort by time.
pub fn timestamped_name(now: DateTime<Utc>) -> String {
    format!("{NAME_PREFIX}{}", now.format("%Y%m%dT%H%M%S%.3fZ"))
}

/// Writes a whole backup of the server `config` describes to `target`. `stop` ends it early
/// (nothing is kept); `on_progress` sees the blob copy.
pub async fn write(
    config: &Config,
    target: &Target,
    trigger: Trigger,
    stop: &AtomicBool,
    on_progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<Manifest, BackupError> {
    let db = config.database_path();
    if !db.is_file() {
        return Err(BackupError::Refused(format!("no database at {}", db.display())));
    }
    let staging = match target {
        Target::Dir(out) => {
            if out.exists() {
                return Err(BackupError::Refused(format!("{} already exists; choose a new folder", out.display())));
            }
            beside(out, "partial")?
        }
        Target::Gcs { .. } => config.data_dir.join("tmp").join(format!("backup-{}", uuid::Uuid::new_v4())),
    };
    create_private_dir(&staging)?;
    let result = async {
        let manifest = fill(config, target, &staging, trigger, stop, on_progress).await?;
        match target {
            Target::Dir(out) => {
                make_private(&staging.join(BLOBS))?;
                std::fs::rename(&staging, out).map_err(io(out))?;
                sync_dir(out.parent().unwrap_or(Path::new(".")))?;
            }
            Target::Gcs { bucket, name } => upload_files(config, bucket, name, &staging, &manifest).await?,
        }
        Ok(manifest)
    }
    .await;
    if staging.exists() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

/// A hidden sibling of `path` for work in progress: `.name.<what>-<uuid>`.
fn beside(path: &Path, what: &str) -> Result<PathBuf, BackupError> {
    let name = path
        .file_name()
        .ok_or_else(|| BackupError::Refused(format!("{} does not name a folder", path.display())))?
        .to_string_lossy();
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.exists() {
        // A folder made to hold backups holds keys: private like the backups themselves.
        create_private_dir(&parent)?;
    }
    Ok(parent.join(format!(".{name}.{what}-{}", uuid::Uuid::new_v4())))
}

/// The database, the keys and the blobs into `staging` (the blobs straight to GCS for a GCS
/// target), then the manifest.
async fn fill(
    config: &Config,
    target: &Target,
    staging: &Path,
    trigger: Trigger,
    stop: &AtomicBool,
    on_progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<Manifest, BackupError> {
    // The database first: a blob that a row in the snapshot names existed before the snapshot
    // and is there when the blobs are listed after it.
    let created_at = Utc::now();
    let (db, out, db_config) = (config.database_path(), staging.join(DATABASE), config.database.clone());
    tokio::task::spawn_blocking(move || crate::db::backup(&db, &out, &db_config))
        .await
        .map_err(|e| BackupError::Io { path: DATABASE.into(), source: std::io::Error::other(e) })??;
    let mut files = vec![file_entry(staging, DATABASE)?];
    files.extend(copy_keys(&config.keys_dir(), &staging.join(KEYS))?);

    let source = crate::blobs::open(config, config.storage.backend)?;
    let dest: Arc<dyn BlobStore> = match target {
        Target::Dir(_) => Arc::new(LocalStore::new(staging.join(BLOBS))),
        Target::Gcs { bucket, name } => Arc::new(gcs_folder(config, bucket, &format!("{name}/{BLOBS}"), true)?),
    };
    dest.ensure_buckets().await?;
    let job = CopyJob { from: &*source, to: &*dest, buckets: Bucket::ALL.to_vec(), dry_run: false, stop, vanished_ok: true };
    let report = copy(job, on_progress).await?;
    if report.interrupted {
        return Err(BackupError::Interrupted);
    }
    if !report.problems.is_empty() {
        return Err(BackupError::Invalid(format!(
            "{} objects were not copied: {}",
            report.problems.len(),
            report.problems.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
        )));
    }
    let mut blobs = report.checksums;
    blobs.sort();
    let manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        created_at,
        trigger,
        optima_version: env!("CARGO_PKG_VERSION").into(),
        storage_backend: config.storage.backend.as_str().into(),
        files,
        blob_count: blobs.len() as u64,
        blob_bytes: blobs.iter().map(|b| b.size).sum(),
        blobs,
    };
    let text = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
    write_private(&staging.join(MANIFEST), &text)?;
    Ok(manifest)
}

/// The size and SHA-256 of `root/rel`.
fn file_entry(root: &Path, rel: &str) -> Result<FileEntry, BackupError> {
    let path = root.join(rel);
    use std::io::Read;
    let mut file = std::fs::File::open(&path).map_err(io(&path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io(&path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok(FileEntry { path: rel.to_owned(), size, sha256: crate::crypto::hex(&hasher.finalize()) })
}

/// Copies the key files (not the hidden leftovers of a key being created); none when the
/// secrets come from configuration.
fn copy_keys(from: &Path, to: &Path) -> Result<Vec<FileEntry>, BackupError> {
    let entries = match std::fs::read_dir(from) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(from)(e)),
    };
    let mut names: Vec<String> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io(from))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && entry.file_type().map_err(io(from))?.is_file() {
            names.push(name);
        }
    }
    names.sort();
    create_private_dir(to)?;
    let mut copied = Vec::with_capacity(names.len());
    for name in names {
        let bytes = std::fs::read(from.join(&name)).map_err(io(&from.join(&name)))?;
        write_private(&to.join(&name), &bytes)?;
        copied.push(FileEntry { path: format!("{KEYS}/{name}"), size: bytes.len() as u64, sha256: sha256_hex(&bytes) });
    }
    Ok(copied)
}

fn sha256_hex(bytes: &[u8]) -> String {
    crate::crypto::hex(&Sha256::digest(bytes))
}

fn create_private_dir(dir: &Path) -> Result<(), BackupError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io(dir))
}

/// A new file readable by its owner only, on disk when this returns.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io(path))?;
    file.write_all(bytes).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// Folders 0700 and files 0600 below `dir`, and the store's empty temp folder gone: the blob
/// store writes with the process's umask.
fn make_private(dir: &Path) -> Result<(), BackupError> {
    let _ = std::fs::remove_dir(dir.join(".tmp"));
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
    for entry in entries {
        let path = entry.map_err(io(dir))?.path();
        if path.is_dir() {
            make_private(&path)?;
        } else {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io(&path))?;
        }
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// A GCS store whose buckets all live in the folder `folder` of `bucket` (`"bucket"` or
/// `"bucket/prefix"`): with `per_bucket`, each in its own subfolder named after it (the blobs
/// of a backup); without, all five are the folder itself, and any one of them addresses it.
fn gcs_folder(config: &Config, bucket: &str, folder: &str, per_bucket: bool) -> Result<crate::blobs::GcsStore, StoreError> {
    let mut storage = config.storage.clone();
    let base = [bucket.trim_end_matches('/'), folder].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join("/");
    storage.gcs.bucket_prefix = String::new();
    storage.gcs.buckets = Bucket::ALL
        .iter()
        .map(|b| (b.name().to_owned(), if per_bucket { format!("{base}/{}", b.name()) } else { base.clone() }))
        .collect();
    crate::blobs::GcsStore::new(&storage, config.data_dir.join("tmp")).map_err(StoreError::Unsupported)
}

/// The bucket of [`gcs_folder`] stores that stand for a plain folder.
const FOLDER: Bucket = Bucket::Media;

/// Uploads the database and keys of a GCS backup, then its manifest: until the manifest is
/// there the backup is not whole, and nothing treats it as a backup.
async fn upload_files(config: &Config, bucket: &str, name: &str, staging: &Path, manifest: &Manifest) -> Result<(), BackupError> {
    let folder = gcs_folder(config, bucket, name, false)?;
    let manifest_entry = file_entry(staging, MANIFEST)?;
    for entry in manifest.files.iter().chain([&manifest_entry]) {
        let path = BlobPath::parse(&entry.path).map_err(|e| BackupError::Invalid(e.to_string()))?;
        let file = tokio::fs::File::open(staging.join(&entry.path)).await.map_err(io(&staging.join(&entry.path)))?;
        let written = folder.put(FOLDER, &path, Box::pin(file), u64::MAX, crate::blobs::Durability::Synced).await?;
        if written.size != entry.size {
            return Err(BackupError::Invalid(format!("{}: wrote {} bytes of {}", entry.path, written.size, entry.size)));
        }
    }
    Ok(())
}

/// Deletes the oldest backups that `trigger` wrote in `target`'s place beyond the newest
/// `keep`; returns their names. Folders without a manifest of ours are never touched.
pub async fn prune(config: &Config, target: &Target, trigger: Trigger, keep: usize) -> Result<Vec<String>, BackupError> {
    match target {
        Target::Dir(dir) => {
            let root = dir.parent().unwrap_or(Path::new("."));
            let mut found = Vec::new();
            for entry in std::fs::read_dir(root).map_err(io(root))?.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Ok(text) = std::fs::read(entry.path().join(MANIFEST)) else { continue };
                if let Some(m) = ours(&text, trigger) {
                    found.push((m.created_at, name));
                }
            }
            let old = oldest_beyond(found, keep);
            for name in &old {
                // The manifest first: a folder half deleted no longer passes for a backup.
                let folder = root.join(name);
                std::fs::remove_file(folder.join(MANIFEST)).map_err(io(&folder))?;
                std::fs::remove_dir_all(&folder).map_err(io(&folder))?;
            }
            Ok(old)
        }
        Target::Gcs { bucket, .. } => {
            let root = gcs_folder(config, bucket, "", false)?;
            let root: &dyn BlobStore = &root;
            let mut found = Vec::new();
            for object in root.list(FOLDER, NAME_PREFIX).await? {
                let Some(name) = object.path.strip_suffix(&format!("/{MANIFEST}")) else { continue };
                if name.contains('/') {
                    continue;
                }
                let path = BlobPath::parse(&object.path).map_err(|e| BackupError::Invalid(e.to_string()))?;
                if let Some(m) = ours(&root.get_bytes(FOLDER, &path).await?, trigger) {
                    found.push((m.created_at, name.to_owned()));
                }
            }
            let old = oldest_beyond(found, keep);
            for name in &old {
                let manifest = BlobPath::parse(&format!("{name}/{MANIFEST}")).map_err(|e| BackupError::Invalid(e.to_string()))?;
                root.delete(FOLDER, &manifest).await?;
                for object in root.list(FOLDER, &format!("{name}/")).await? {
                    if let Ok(path) = BlobPath::parse(&object.path) {
                        root.delete(FOLDER, &path).await?;
                    }
                }
            }
            Ok(old)
        }
    }
}

fn ours(manifest: &[u8], trigger: Trigger) -> Option<Manifest> {
    serde_json::from_slice::<Manifest>(manifest).ok().filter(|m| m.format == FORMAT && m.trigger == trigger)
}

fn oldest_beyond(mut found: Vec<(DateTime<Utc>, String)>, keep: usize) -> Vec<String> {
    found.sort();
    let excess = found.len().saturating_sub(keep);
    found.into_iter().take(excess).map(|(_, name)| name).collect()
}

/// Reads and checks the manifest of the backup in `from`.
pub fn read_manifest(from: &Path) -> Result<Manifest, BackupError> {
    let path = from.join(MANIFEST);
    let text = std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => BackupError::Refused(format!("{} holds no {MANIFEST}: not a whole backup", from.display())),
        _ => io(&path)(e),
    })?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| BackupError::Invalid(format!("{}: not a backup manifest: {e}", path.display())))?;
    if manifest.format != FORMAT {
        return Err(BackupError::Invalid(format!("{}: format `{}`, not `{FORMAT}`", path.display(), manifest.format)));
    }
    if manifest.version > VERSION {
        return Err(BackupError::Refused(format!(
            "the backup has format version {}; this optima reads up to {VERSION}: restore with a newer optima",
            manifest.version
        )));
    }
    Ok(manifest)
}

/// Brings the backup in `from` back into the empty data directory of `config` (blobs into the
/// configured store, which must hold none), verifying every file and blob against the
/// manifest. On any failure the data directory is left as it was.
pub async fn restore(
    config: &Config,
    from: &Path,
    stop: &AtomicBool,
    on_progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<Manifest, BackupError> {
    let manifest = read_manifest(from)?;
    let data = &config.data_dir;
    if let Ok(mut entries) = std::fs::read_dir(data) {
        if entries.next().is_some() {
            return Err(BackupError::Refused(format!(
                "{} is not empty: restore only into an empty (or new) data directory",
                data.display()
            )));
        }
    } else if data.exists() {
        return Err(BackupError::Refused(format!("{} is not a folder", data.display())));
    }
    let store = match config.storage.backend {
        StorageBackend::Local => None,
        StorageBackend::Gcs => {
            let store = crate::blobs::open(config, StorageBackend::Gcs)?;
            for bucket in Bucket::ALL {
                if !store.list(bucket, "").await?.is_empty() {
                    return Err(BackupError::Refused(format!("the GCS bucket of {bucket} is not empty: restore only into empty buckets")));
                }
            }
            Some(store)
        }
    };
    for entry in &manifest.files {
        if !entry.path.split('/').all(|part| !part.is_empty() && part != "..") {
            return Err(BackupError::Invalid(format!("the manifest names a file outside the backup: {}", entry.path)));
        }
        let found = file_entry(from, &entry.path).map_err(|e| BackupError::Invalid(format!("{}: {e}", entry.path)))?;
        if &found != entry {
            return Err(BackupError::Invalid(format!("{}: does not match the manifest (damaged or changed)", entry.path)));
        }
    }

    let staging = beside(data, "restoring")?;
    create_private_dir(&staging)?;
    let mut copied_to_gcs = Vec::new();
    let result = async {
        for entry in &manifest.files {
            let (src, dst) = (from.join(&entry.path), staging.join(&entry.path));
            if let Some(dir) = dst.parent() {
                create_private_dir(dir)?;
            }
            let bytes = std::fs::read(&src).map_err(io(&src))?;
            write_private(&dst, &bytes)?;
        }
        let source = LocalStore::new(from.join(BLOBS));
        let dest: Arc<dyn BlobStore> = match &store {
            Some(gcs) => gcs.clone(),
            None => Arc::new(LocalStore::new(staging.join(BLOBS))),
        };
        dest.ensure_buckets().await?;
        let job = CopyJob { from: &source, to: &*dest, buckets: Bucket::ALL.to_vec(), dry_run: false, stop, vanished_ok: false };
        let report = copy(job, on_progress).await?;
        copied_to_gcs = report.checksums.clone();
        if report.interrupted {
            return Err(BackupError::Interrupted);
        }
        if let Some(problem) = report.problems.first() {
            return Err(BackupError::Invalid(format!("{} blobs did not copy or verify, such as {problem}", report.problems.len())));
        }
        let mut restored = report.checksums;
        restored.sort();
        if restored != manifest.blobs {
            let differing = restored.iter().filter(|b| !manifest.blobs.contains(b)).count();
            let missing = manifest.blobs.iter().filter(|b| !restored.contains(b)).count();
            return Err(BackupError::Invalid(format!(
                "the blobs do not match the manifest: {missing} listed there are missing or changed, {differing} found are not listed"
            )));
        }
        check_database(&staging.join(DATABASE))?;
        if data.exists() {
            std::fs::remove_dir(data).map_err(io(data))?;
        }
        std::fs::rename(&staging, data).map_err(io(data))?;
        sync_dir(data.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")))?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&staging);
        if let Some(gcs) = &store {
            // Leave the buckets empty, as they were, so that the restore can run again.
            for object in &copied_to_gcs {
                if let (Some(bucket), Ok(path)) = (Bucket::parse(&object.bucket), BlobPath::parse(&object.path)) {
                    let _ = gcs.delete(bucket, &path).await;
                }
            }
        }
        return Err(e);
    }
    Ok(manifest)
}

/// SQLite's own check of the restored file (the checksum proved the bytes; this proves that
/// the bytes are a database).
fn check_database(path: &Path) -> Result<(), BackupError> {
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(DbOpenError::from)?;
    let verdict: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(DbOpenError::from)?;
    if verdict != "ok" {
        return Err(BackupError::Invalid(format!("{DATABASE} fails SQLite's check: {verdict}")));
    }
    Ok(())
}
