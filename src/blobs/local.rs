//! The local filesystem store: `<root>/<bucket>/<object path>`.

use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use tokio::fs;
use tokio::io::AsyncWriteExt;

use super::{BlobPath, BlobStore, Bucket, ByteReader, ByteStream, Durability, ObjectMeta, StoreError, content_type_for, copy_limited};

/// Uploads are written to `<root>/.tmp/` first, then renamed into place (atomic on one file
/// system). No bucket or object path can address that folder.
const TMP_DIR: &str = ".tmp";
/// A temporary file untouched this long is left from a crash: the next start removes it.
const STALE_TMP: std::time::Duration = std::time::Duration::from_secs(600);
/// Read size when streaming an object out: each read is a trip to the blocking pool, so larger
/// reads cost fewer thread hand-offs (a 1 MiB object in 2), at up to this much memory per
/// download in flight.
const CHUNK: usize = 512 * 1024;

pub struct LocalStore {
    root: PathBuf,
    /// Whether [`Durability::Mirror`] writes are synced too (the database runs with
    /// `synchronous = "full"`).
    sync_mirrors: bool,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into(), sync_mirrors: false }
    }

    pub fn sync_mirrors(self, sync_mirrors: bool) -> Self {
        Self { sync_mirrors, ..self }
    }

    fn must_sync(&self, durability: Durability) -> bool {
        durability == Durability::Synced || self.sync_mirrors
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join(TMP_DIR)
    }

    /// Removes temporary files a crash left behind; returns how many.
    async fn sweep_stale_tmp(&self) -> Result<usize, StoreError> {
        let mut removed = 0;
        let mut entries = fs::read_dir(self.tmp_dir()).await?;
        while let Some(entry) = entries.next_entry().await? {
            let age = entry.metadata().await?.modified()?.elapsed().unwrap_or_default();
            if age >= STALE_TMP && fs::remove_file(entry.path()).await.is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn bucket_dir(&self, bucket: Bucket) -> PathBuf {
        self.root.join(bucket.name())
    }

    fn file_path(&self, bucket: Bucket, path: &BlobPath) -> PathBuf {
        self.bucket_dir(bucket).join(path.as_str())
    }

    /// The object (`NotFound` when it is no longer the version tagged `etag`) and its bytes, or
    /// those of `range`. Opening it and reading the first chunk take one trip to the blocking
    /// pool: an object up to [`CHUNK`] is served in one.
    async fn open_and_read(
        &self,
        bucket: Bucket,
        path: &BlobPath,
        range: Option<Range<u64>>,
        etag: Option<String>,
    ) -> Result<(ObjectMeta, ByteStream), StoreError> {
        let target = self.file_path(bucket, path);
        let stored = path.as_str().to_owned();
        let (file, meta, first, left) = blocking(move || {
            let mut file = std::fs::File::open(target).map_err(not_found_or)?;
            let md = file.metadata()?;
            let meta = meta_of(&stored, &md);
            if !md.is_file() || etag.is_some_and(|e| e != meta.etag) {
                return Err(StoreError::NotFound);
            }
            let len = match &range {
                Some(r) => {
                    file.seek(SeekFrom::Start(r.start))?;
                    r.end - r.start
                }
                None => md.len(),
            };
            let first = read_chunk(&mut file, len.min(CHUNK as u64) as usize)?;
            let left = len - first.len() as u64;
            Ok((file, meta, first, left))
        })
        .await?;
        Ok((meta, read_stream(file, first, left)))
    }
}

fn meta_of(path: &str, md: &std::fs::Metadata) -> ObjectMeta {
    let modified = md.modified().unwrap_or(std::time::UNIX_EPOCH);
    let nanos = modified.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    ObjectMeta {
        path: path.to_owned(),
        size: md.len(),
        etag: format!("\"{:x}-{:x}\"", md.len(), nanos),
        last_modified: modified.into(),
        content_type: content_type_for(path),
        sha256: None,
    }
}

/// A file where a folder is needed (or the reverse): `users/u/a` exists and `users/u/a/b` is
/// asked for.
fn is_shape_conflict(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), NotADirectory | IsADirectory | AlreadyExists | DirectoryNotEmpty)
}

fn shape_error(e: std::io::Error) -> StoreError {
    if is_shape_conflict(&e) { StoreError::PathConflict } else { StoreError::Io(e) }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, StoreError> + Send + 'static) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StoreError::Io(std::io::Error::other(e)))?
}

/// Up to `want` bytes of `file` from where it stands, read straight into the buffer that is
/// sent (not zeroed first).
fn read_chunk(file: &mut std::fs::File, want: usize) -> std::io::Result<bytes::Bytes> {
    let mut buf = Vec::with_capacity(want);
    file.take(want as u64).read_to_end(&mut buf)?;
    if buf.len() < want {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the object shrank while it was read"));
    }
    Ok(buf.into())
}

/// `first`, then `left` more bytes of `file` from where it stands, one blocking read of up to
/// [`CHUNK`] bytes per item.
fn read_stream(file: std::fs::File, first: bytes::Bytes, left: u64) -> ByteStream {
    let first = futures_util::stream::iter((!first.is_empty()).then_some(Ok::<_, std::io::Error>(first)));
    let rest = futures_util::stream::try_unfold((file, left), |(mut file, left)| async move {
        if left == 0 {
            return Ok(None);
        }
        let want = left.min(CHUNK as u64) as usize;
        let (file, chunk) = tokio::task::spawn_blocking(move || read_chunk(&mut file, want).map(|chunk| (file, chunk)))
            .await
            .map_err(std::io::Error::other)??;
        Ok(Some((chunk, (file, left - want as u64))))
    });
    Box::pin(futures_util::StreamExt::chain(first, rest))
}

/// No object at the path: nothing there, a file where a folder would be, or a folder.
fn not_found_or(e: std::io::Error) -> StoreError {
    use std::io::ErrorKind::*;
    if matches!(e.kind(), NotFound | NotADirectory | IsADirectory) {
        StoreError::NotFound
    } else {
        StoreError::Io(e)
    }
}

#[async_trait::async_trait]
impl BlobStore for LocalStore {
    async fn ensure_buckets(&self) -> Result<(), StoreError> {
        let dirs: Vec<PathBuf> = Bucket::ALL.into_iter().map(|b| self.bucket_dir(b)).chain([self.tmp_dir()]).collect();
        blocking(move || Ok(dirs.iter().try_for_each(|d| crate::private_fs::create_dir_all(d))?)).await?;
        let removed = self.sweep_stale_tmp().await?;
        if removed > 0 {
            tracing::info!(removed, "removed temporary files left by an interrupted upload");
        }
        Ok(())
    }

    async fn check(&self) -> Result<(), StoreError> {
        let dirs: Vec<PathBuf> = Bucket::ALL.into_iter().map(|b| self.bucket_dir(b)).chain([self.tmp_dir()]).collect();
        blocking(move || {
            for dir in &dirs {
                if !std::fs::metadata(dir)?.is_dir() {
                    return Err(StoreError::Backend(format!("{} is not a folder", dir.display())));
                }
            }
            Ok(())
        })
        .await
    }

    async fn put(
        &self,
        bucket: Bucket,
        path: &BlobPath,
        mut body: ByteReader,
        max_bytes: u64,
        durability: Durability,
    ) -> Result<ObjectMeta, StoreError> {
        let target = self.file_path(bucket, path);
        let sync = self.must_sync(durability);
        let tmp = self.tmp_dir().join(uuid::Uuid::new_v4().to_string());
        // Each step is a trip to the blocking pool: folders and the temporary file in one, the
        // rename (with the syncs `durability` asks for) in another.
        let file = blocking({
            let (target, tmp) = (target.clone(), tmp.clone());
            move || {
                let dir = target.parent().expect("object paths have a parent");
                crate::private_fs::create_dir_all(dir).map_err(shape_error)?;
                crate::private_fs::create_dir_all(tmp.parent().expect("the temporary folder"))?;
                Ok(crate::private_fs::create_new(&tmp)?)
            }
        })
        .await?;
        let mut file = fs::File::from_std(file);
        let written = match copy_limited(&mut body, &mut file, max_bytes, |_| {}).await {
            Ok(_) => file.flush().await.map_err(StoreError::Io),
            Err(e) => Err(e),
        };
        let file = file.into_std().await;
        let stored = path.as_str().to_owned();
        blocking(move || {
            let finished = written.and_then(|()| {
                if sync {
                    file.sync_all()?;
                }
                std::fs::rename(&tmp, &target).map_err(shape_error)
            });
            if let Err(e) = finished {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
            // Make the rename itself durable.
            if sync && let Ok(dir) = std::fs::File::open(target.parent().expect("object paths have a parent")) {
                let _ = dir.sync_all();
            }
            Ok(meta_of(&stored, &std::fs::metadata(&target)?))
        })
        .await
    }

    async fn head(&self, bucket: Bucket, path: &BlobPath) -> Result<ObjectMeta, StoreError> {
        let md = fs::metadata(self.file_path(bucket, path)).await.map_err(not_found_or)?;
        if !md.is_file() {
            return Err(StoreError::NotFound);
        }
        Ok(meta_of(path.as_str(), &md))
    }

    async fn get(
        &self,
        bucket: Bucket,
        path: &BlobPath,
        range: Option<Range<u64>>,
    ) -> Result<(ObjectMeta, ByteStream), StoreError> {
        self.open_and_read(bucket, path, range, None).await
    }

    async fn get_version(
        &self,
        bucket: Bucket,
        path: &BlobPath,
        meta: &ObjectMeta,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StoreError> {
        Ok(self.open_and_read(bucket, path, range, Some(meta.etag.clone())).await?.1)
    }

    async fn delete(&self, bucket: Bucket, path: &BlobPath) -> Result<bool, StoreError> {
        let target = self.file_path(bucket, path);
        match fs::remove_file(&target).await {
            Ok(()) => {}
            Err(e) => {
                return match not_found_or(e) {
                    StoreError::NotFound => Ok(false),
                    other => Err(other),
                };
            }
        }
        // Drop folders the delete left empty, up to the bucket's own.
        let root = self.bucket_dir(bucket);
        let mut dir = target.parent().map(Path::to_path_buf);
        while let Some(d) = dir {
            if d == root || fs::remove_dir(&d).await.is_err() {
                break;
            }
            dir = d.parent().map(Path::to_path_buf);
        }
        Ok(true)
    }

    async fn shred(&self, bucket: Bucket, path: &BlobPath) -> Result<bool, StoreError> {
        let target = self.file_path(bucket, path);
        let overwrite = async {
            let mut file = fs::OpenOptions::new().write(true).open(&target).await?;
            let len = file.metadata().await?.len();
            let zeros = vec![0u8; 64 * 1024];
            let mut left = len;
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                file.write_all(&zeros[..n]).await?;
                left -= n as u64;
            }
            file.sync_all().await
        };
        match overwrite.await {
            Ok(()) => self.delete(bucket, path).await,
            Err(e) => match not_found_or(e) {
                StoreError::NotFound => Ok(false),
                other => Err(other),
            },
        }
    }

    async fn list(&self, bucket: Bucket, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let root = self.bucket_dir(bucket);
        let prefix = prefix.to_owned();
        blocking(move || {
            let mut found = Vec::new();
            walk(&root, &root, &prefix, &mut found)?;
            found.sort_by(|a, b| a.path.cmp(&b.path));
            Ok(found)
        })
        .await
    }
}

fn walk(root: &Path, dir: &Path, prefix: &str, found: &mut Vec<ObjectMeta>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned();
        let md = entry.metadata()?;
        if md.is_dir() {
            // Only descend where the prefix can still match.
            let as_dir = format!("{rel}/");
            if as_dir.starts_with(prefix) || prefix.starts_with(&as_dir) {
                walk(root, &path, prefix, found)?;
            }
        } else if rel.starts_with(prefix) {
            found.push(meta_of(&rel, &md));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;

    fn p(s: &str) -> BlobPath {
        BlobPath::parse(s).unwrap()
    }

    async fn read_all(stream: ByteStream) -> Vec<u8> {
        stream.map_ok(|b| b.to_vec()).try_concat().await.unwrap()
    }

    #[tokio::test]
    async fn put_get_range_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store: Box<dyn BlobStore> = Box::new(LocalStore::new(dir.path()));
        store.ensure_buckets().await.unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let meta = store
            .put(Bucket::Media, &p("users/u/a.bin"), Box::pin(std::io::Cursor::new(data.clone())), 1 << 20, Durability::Synced)
            .await
            .unwrap();
        assert_eq!(meta.size, data.len() as u64);
        let (_, whole) = store.get(Bucket::Media, &p("users/u/a.bin"), None).await.unwrap();
        assert_eq!(read_all(whole).await, data);
        let (_, part) = store.get(Bucket::Media, &p("users/u/a.bin"), Some(1000..1010)).await.unwrap();
        assert_eq!(read_all(part).await, &data[1000..1010]);
        let listed = store.list(Bucket::Media, "users/u/").await.unwrap();
        assert_eq!(listed.iter().map(|m| m.path.as_str()).collect::<Vec<_>>(), ["users/u/a.bin"]);
        assert!(store.list(Bucket::Media, "users/v/").await.unwrap().is_empty());
        assert!(store.delete(Bucket::Media, &p("users/u/a.bin")).await.unwrap());
        assert!(!store.delete(Bucket::Media, &p("users/u/a.bin")).await.unwrap());
        assert!(matches!(store.head(Bucket::Media, &p("users/u/a.bin")).await, Err(StoreError::NotFound)));
        assert!(!dir.path().join("r3al-user-media/users").exists(), "empty folders are pruned");
    }

    #[tokio::test]
    async fn too_large_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let body = Box::pin(std::io::Cursor::new(vec![7u8; 1000]));
        let err = store.put(Bucket::Music, &p("users/u/x"), body, 999, Durability::Synced).await.unwrap_err();
        assert!(matches!(err, StoreError::TooLarge { limit: 999 }));
        let left: Vec<_> = std::fs::read_dir(dir.path().join("r3al-studio-music/users/u")).unwrap().collect();
        assert!(left.is_empty(), "no object is left");
        assert_eq!(std::fs::read_dir(dir.path().join(TMP_DIR)).unwrap().count(), 0, "no temp file is left");
    }

    #[tokio::test]
    async fn start_up_removes_stale_temp_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        store.ensure_buckets().await.unwrap();
        let (stale, fresh) = (dir.path().join(".tmp/crashed-upload"), dir.path().join(".tmp/in-flight-upload"));
        std::fs::write(&stale, b"half").unwrap();
        std::fs::write(&fresh, b"half").unwrap();
        let old = std::time::SystemTime::now() - STALE_TMP - std::time::Duration::from_secs(1);
        std::fs::File::options().write(true).open(&stale).unwrap().set_modified(old).unwrap();
        store.ensure_buckets().await.unwrap();
        assert!(!stale.exists(), "a crash leftover is removed");
        assert!(fresh.exists(), "an upload still being written is kept");
    }

    #[tokio::test]
    async fn file_in_the_way_of_a_folder_is_a_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let store: Box<dyn BlobStore> = Box::new(LocalStore::new(dir.path()));
        store.put_bytes(Bucket::Media, &p("users/u/a"), b"x".to_vec()).await.unwrap();
        let err = store.put_bytes(Bucket::Media, &p("users/u/a/b"), b"y".to_vec()).await.unwrap_err();
        assert!(matches!(err, StoreError::PathConflict));
        assert!(!store.delete(Bucket::Media, &p("users/u")).await.unwrap(), "a folder is no object");
        assert!(matches!(store.head(Bucket::Media, &p("users/u")).await, Err(StoreError::NotFound)));
    }

    #[tokio::test]
    async fn mirrors_replace_atomically_and_are_synced_only_when_configured() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        assert!(store.must_sync(Durability::Synced));
        assert!(!store.must_sync(Durability::Mirror), "a copy of rows is left to the OS under synchronous = normal");
        assert!(LocalStore::new(dir.path()).sync_mirrors(true).must_sync(Durability::Mirror));
        let store: Box<dyn BlobStore> = Box::new(store);
        store.ensure_buckets().await.unwrap();
        let path = p("users/u/projects/x/metadata.json");
        store.put_mirror(Bucket::Music, &path, b"{\"v\":1}".to_vec()).await.unwrap();
        store.put_mirror(Bucket::Music, &path, b"{\"v\":2}".to_vec()).await.unwrap();
        let (meta, body) = store.get(Bucket::Music, &path, None).await.unwrap();
        assert_eq!((meta.size, read_all(body).await), (7, b"{\"v\":2}".to_vec()));
        assert_eq!(std::fs::read_dir(dir.path().join(TMP_DIR)).unwrap().count(), 0, "no temp file is left");
    }

    #[tokio::test]
    async fn a_version_replaced_after_its_head_is_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let store: Box<dyn BlobStore> = Box::new(LocalStore::new(dir.path()));
        store.ensure_buckets().await.unwrap();
        let path = p("users/u/a.bin");
        let data: Vec<u8> = (0..(CHUNK as u32 * 2 + 10)).map(|i| (i % 251) as u8).collect();
        store.put_bytes(Bucket::Media, &path, data.clone()).await.unwrap();
        let first = store.head(Bucket::Media, &path).await.unwrap();
        let body = store.get_version(Bucket::Media, &path, &first, None).await.unwrap();
        assert_eq!(read_all(body).await, data, "three chunks, the first read with the open");
        let tail = store.get_version(Bucket::Media, &path, &first, Some(CHUNK as u64 - 1..CHUNK as u64 * 2 + 1)).await.unwrap();
        assert_eq!(read_all(tail).await, &data[CHUNK - 1..CHUNK * 2 + 1]);

        store.put_bytes(Bucket::Media, &path, b"replaced".to_vec()).await.unwrap();
        assert!(matches!(store.get_version(Bucket::Media, &path, &first, None).await, Err(StoreError::NotFound)));
        let current = store.head(Bucket::Media, &path).await.unwrap();
        assert_eq!(read_all(store.get_version(Bucket::Media, &path, &current, None).await.unwrap()).await, b"replaced");
    }
}
