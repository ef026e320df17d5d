//! One suite for every `BlobStore`: each case runs against the local store and against GCS
//! (the fake-gcs-server emulator), and both must behave the same.

use std::sync::Arc;

use futures_util::TryStreamExt;
use optima::config::{Config, StorageBackend};
use optima::blobs::{BlobPath, BlobStore, Bucket, Durability, StoreError};

use crate::fake_gcs::{FakeGcs, use_gcs};

/// A store under test, with whatever keeps its backend alive.
pub struct Backend {
    pub store: Arc<dyn BlobStore>,
    _dir: tempfile::TempDir,
    _gcs: Option<FakeGcs>,
}

async fn open(backend: StorageBackend) -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
    let gcs = match backend {
        StorageBackend::Local => None,
        StorageBackend::Gcs => {
            let gcs = FakeGcs::start().await;
            use_gcs(&mut config, &gcs.endpoint());
            Some(gcs)
        }
    };
    let store = optima::blobs::open(&config, backend).expect("store opens");
    store.ensure_buckets().await.expect("buckets exist");
    Backend { store, _dir: dir, _gcs: gcs }
}

fn p(s: &str) -> BlobPath {
    BlobPath::parse(s).unwrap()
}

/// Bytes that differ at every offset, so a shifted or spliced read cannot pass.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

async fn put(store: &dyn BlobStore, path: &str, bytes: Vec<u8>) {
    store.put_bytes(Bucket::Media, &p(path), bytes).await.expect("put");
}

async fn read(store: &dyn BlobStore, path: &str, range: Option<std::ops::Range<u64>>) -> Result<Vec<u8>, StoreError> {
    let (_, stream) = store.get(Bucket::Media, &p(path), range).await?;
    Ok(stream.map_ok(|b| b.to_vec()).try_concat().await?)
}

fn listed(metas: Vec<optima::blobs::ObjectMeta>) -> Vec<String> {
    metas.into_iter().map(|m| m.path).collect()
}

pub async fn round_trips_are_byte_exact(store: &dyn BlobStore) {
    for (i, len) in [0usize, 1, 65_535, 1_048_583, 24 * 1024 * 1024 + 3].into_iter().enumerate() {
        let bytes = pattern(len, i as u32);
        let path = format!("users/u/size-{len}.bin");
        let meta = store.put_bytes(Bucket::Media, &p(&path), bytes.clone()).await.unwrap();
        assert_eq!(meta.size, len as u64);
        let head = store.head(Bucket::Media, &p(&path)).await.unwrap();
        assert_eq!(head.size, len as u64, "{path}");
        assert!(head.etag.starts_with('"') && head.etag.len() > 2, "a quoted etag: {}", head.etag);
        let back = read(store, &path, None).await.unwrap();
        assert!(back == bytes, "{path}: {} bytes back for {len}", back.len());
    }
}

pub async fn ranges_return_exactly_the_bytes_asked_for(store: &dyn BlobStore) {
    let bytes = pattern(300_000, 7);
    put(store, "users/u/ranged.bin", bytes.clone()).await;
    for range in [0..1, 0..1000, 123_456..200_001, 299_999..300_000, 0..300_000] {
        let got = read(store, "users/u/ranged.bin", Some(range.clone())).await.unwrap();
        assert!(got == bytes[range.start as usize..range.end as usize], "range {range:?}");
    }
}

pub async fn missing_objects_are_not_found(store: &dyn BlobStore) {
    assert!(matches!(store.head(Bucket::Media, &p("users/u/none.bin")).await, Err(StoreError::NotFound)));
    assert!(matches!(read(store, "users/u/none.bin", None).await, Err(StoreError::NotFound)));
    assert!(!store.delete(Bucket::Media, &p("users/u/none.bin")).await.unwrap());
    assert!(store.list(Bucket::Media, "users/nobody/").await.unwrap().is_empty());
}

pub async fn listing_matches_the_prefix_in_path_order(store: &dyn BlobStore) {
    for path in ["users/a/x.txt", "users/a/deep/er/y.txt", "users/ab/w.txt", "users/b/z.txt"] {
        put(store, path, path.as_bytes().to_vec()).await;
    }
    put_other_bucket(store).await;
    assert_eq!(listed(store.list(Bucket::Media, "users/a/").await.unwrap()), ["users/a/deep/er/y.txt", "users/a/x.txt"]);
    assert_eq!(
        listed(store.list(Bucket::Media, "users/a").await.unwrap()),
        ["users/a/deep/er/y.txt", "users/a/x.txt", "users/ab/w.txt"],
        "a prefix is a string prefix, not only a folder"
    );
    assert_eq!(listed(store.list(Bucket::Media, "users/a/deep/").await.unwrap()), ["users/a/deep/er/y.txt"]);
    assert_eq!(listed(store.list(Bucket::Media, "").await.unwrap()).len(), 4, "the other bucket is not listed");
    let metas = store.list(Bucket::Media, "users/b/").await.unwrap();
    assert_eq!(metas[0].size, "users/b/z.txt".len() as u64);
}

async fn put_other_bucket(store: &dyn BlobStore) {
    store.put_bytes(Bucket::Music, &p("users/a/elsewhere.txt"), b"music".to_vec()).await.unwrap();
}

pub async fn concurrent_writers_leave_one_whole_object(store: Arc<dyn BlobStore>) {
    let writers: Vec<_> = (0..6u8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.put_bytes(Bucket::Media, &p("users/u/race.bin"), vec![i; 2 * 1024 * 1024]).await })
        })
        .collect();
    for w in writers {
        w.await.unwrap().expect("every writer succeeds");
    }
    let got = read(&*store, "users/u/race.bin", None).await.unwrap();
    assert_eq!(got.len(), 2 * 1024 * 1024);
    assert!(got.iter().all(|b| *b == got[0]), "one writer's bytes, never a mix");
    assert!(got[0] < 6);
    assert_eq!(listed(store.list(Bucket::Media, "users/u/").await.unwrap()), ["users/u/race.bin"], "no temporary leftovers");
}

pub async fn delete_then_get_is_not_found(store: &dyn BlobStore) {
    put(store, "users/u/gone.txt", b"soon gone".to_vec()).await;
    assert!(store.delete(Bucket::Media, &p("users/u/gone.txt")).await.unwrap());
    assert!(matches!(read(store, "users/u/gone.txt", None).await, Err(StoreError::NotFound)));
    assert!(matches!(store.head(Bucket::Media, &p("users/u/gone.txt")).await, Err(StoreError::NotFound)));
    assert!(store.list(Bucket::Media, "users/u/").await.unwrap().is_empty());
    assert!(!store.delete(Bucket::Media, &p("users/u/gone.txt")).await.unwrap(), "a second delete finds nothing");
}

pub async fn unicode_and_spaces_in_paths(store: &dyn BlobStore) {
    let path = "users/ü/Ünïcødé dir/naïve file ✓ #1?.txt";
    put(store, path, "ok ✓".as_bytes().to_vec()).await;
    assert_eq!(read(store, path, None).await.unwrap(), "ok ✓".as_bytes());
    assert_eq!(listed(store.list(Bucket::Media, "users/ü/Ünïcødé dir/").await.unwrap()), [path]);
    assert!(store.delete(Bucket::Media, &p(path)).await.unwrap());
}

pub async fn metadata_follows_the_object(store: &dyn BlobStore) {
    put(store, "users/u/song.mp3", vec![1, 2, 3]).await;
    let first = store.head(Bucket::Media, &p("users/u/song.mp3")).await.unwrap();
    assert_eq!(first.content_type, "audio/mpeg");
    put(store, "users/u/song.mp3", vec![4, 5, 6, 7]).await;
    let second = store.head(Bucket::Media, &p("users/u/song.mp3")).await.unwrap();
    assert_eq!(second.size, 4);
    assert_ne!(first.etag, second.etag, "a new version has a new etag");
}

pub async fn too_large_is_refused_and_nothing_is_stored(store: &dyn BlobStore) {
    let body = Box::pin(std::io::Cursor::new(vec![9u8; 10_001]));
    let err = store.put(Bucket::Media, &p("users/u/big.bin"), body, 10_000, Durability::Synced).await.unwrap_err();
    assert!(matches!(err, StoreError::TooLarge { limit: 10_000 }), "{err}");
    assert!(matches!(store.head(Bucket::Media, &p("users/u/big.bin")).await, Err(StoreError::NotFound)));
    assert!(store.list(Bucket::Media, "users/u/").await.unwrap().is_empty());
}

macro_rules! conformance {
    ($module:ident => $backend:ident: $($case:ident),* ; shared: $($shared:ident),*) => {
        mod $module {
            use optima::config::StorageBackend;
            $(
                #[tokio::test]
                async fn $case() {
                    let b = super::open(StorageBackend::$backend).await;
                    super::$case(&*b.store).await;
                }
            )*
            $(
                #[tokio::test]
                async fn $shared() {
                    let b = super::open(StorageBackend::$backend).await;
                    super::$shared(b.store.clone()).await;
                }
            )*
        }
    };
}

macro_rules! suite {
    ($($module:ident => $backend:ident),*) => {
        $(
            conformance!($module => $backend:
                round_trips_are_byte_exact, ranges_return_exactly_the_bytes_asked_for,
                missing_objects_are_not_found, listing_matches_the_prefix_in_path_order,
                delete_then_get_is_not_found, unicode_and_spaces_in_paths, metadata_follows_the_object,
                too_large_is_refused_and_nothing_is_stored;
                shared: concurrent_writers_leave_one_whole_object);
        )*
    };
}

suite!(local => Local, gcs => Gcs);
