//! The media store on PostgreSQL against a real server (tests/api/postgres.rs), answering as the
//! SQLite store does for the same calls. Each test prints a SKIPPED line and passes when
//! PostgreSQL is not installed.

use std::sync::Arc;

use optima::db::postgres::PgDb;
use optima::error::AppResult;
use optima::features::media::store::postgres::PgMediaStore;
use optima::features::media::store::sqlite::SqliteMediaStore;
use optima::features::media::store::{MediaStore, NftRow, PhotoRow};

use crate::postgres::{assert_same_answers, database, migrated, sqlite_db};

fn sqlite(dir: &tempfile::TempDir) -> SqliteMediaStore {
    SqliteMediaStore::new(sqlite_db(dir))
}

/// A UUID ending in `n`, as the service's `Uuid::now_v7` ids are written.
fn id(n: u32) -> String {
    format!("0190b0a0-0000-7000-8000-{n:012x}")
}

fn photo(n: u32, user: &str, created_at: &str) -> PhotoRow {
    PhotoRow {
        photo_id: id(n),
        user_id: user.into(),
        caption: n.is_multiple_of(2).then(|| format!("caption {n}")),
        path: format!("photos/{user}/{n}.jpg"),
        thumbnail_path: format!("photos/{user}/{n}.thumb.jpg"),
        width: 640 + n,
        height: u32::MAX - n,
        size_bytes: (1 << 40) + u64::from(n),
        created_at: created_at.into(),
    }
}

fn nft(n: u32, user: &str, token_id: u64, created_at: &str) -> NftRow {
    NftRow {
        nft_id: id(1000 + n),
        user_id: user.into(),
        token_id,
        name: format!("R3AL Genesis #{n}"),
        image_path: format!("nfts/{user}/{n}.png"),
        metadata_path: format!("nfts/{user}/{n}.json"),
        sha256: format!("{n:064x}"),
        // As the service writes it: serde_json::to_string of `{trait_type, value}` objects.
        attributes: format!(r#"[{{"trait_type":"Style","value":"Waves {n}"}},{{"trait_type":"Rarity","value":"Rare"}}]"#),
        created_at: created_at.into(),
    }
}

fn outcome<T: std::fmt::Debug>(result: AppResult<T>) -> String {
    format!("{:?}", result.map_err(|e| (e.status().as_u16(), e.code())))
}

const T1: &str = "2026-01-01T00:00:00.001Z";
const T2: &str = "2026-01-01T00:00:00.002Z";
const T3: &str = "2026-02-01T10:00:00.000Z";

async fn photo_scenario(store: &dyn MediaStore) -> Vec<String> {
    let mut said = Vec::new();
    // Ties on the time are ordered by id; ids and times out of insertion order.
    for (n, at) in [(5, T1), (3, T2), (9, T1), (4, T3), (7, T2)] {
        said.push(outcome(store.insert_photo_within_limit(&photo(n, "ann", at), 10).await));
    }
    said.push(outcome(store.insert_photo_within_limit(&photo(20, "bob", T1), 10).await));
    for (limit, offset) in [(10, 0), (2, 0), (2, 2), (2, 4), (3, 5), (0, 0), (100, 1)] {
        let (rows, total) = store.photos_of("ann", limit, offset).await.unwrap();
        said.push(format!("{limit}/{offset}: {total} {rows:?}"));
    }
    said.push(format!("{:?}", store.photos_of("nobody", 10, 0).await.unwrap()));
    said.push(format!("{:?}", store.photo(&id(4)).await.unwrap()));
    for missing in [id(99), "not-a-uuid".into(), String::new(), id(4).to_uppercase()] {
        said.push(format!("{missing:?}: {:?} {}", store.photo(&missing).await.unwrap(), outcome(store.delete_photo(&missing).await)));
    }
    // At the limit: refused, nothing written; below it again after a delete.
    said.push(outcome(store.insert_photo_within_limit(&photo(30, "ann", T3), 5).await));
    said.push(outcome(store.insert_photo_within_limit(&photo(31, "ann", T3), 4).await));
    said.push(format!("{:?}", store.photo(&id(30)).await.unwrap()));
    said.push(outcome(store.delete_photo(&id(9)).await));
    said.push(outcome(store.delete_photo(&id(9)).await));
    said.push(outcome(store.insert_photo_within_limit(&photo(30, "ann", T3), 5).await));
    said.push(outcome(store.insert_photo_within_limit(&photo(32, "ann", T3), 5).await));
    // The limit is the user's own: Bob's one photo does not count against Ann.
    said.push(outcome(store.insert_photo_within_limit(&photo(21, "bob", T3), 2).await));
    said.push(outcome(store.insert_photo_within_limit(&photo(22, "bob", T3), 2).await));
    // A taken id is an error, whatever the limit.
    said.push(outcome(store.insert_photo_within_limit(&photo(4, "carol", T3), 5).await));
    let (rows, total) = store.photos_of("ann", 10, 0).await.unwrap();
    said.push(format!("{total} {rows:?}"));
    said
}

#[tokio::test]
async fn postgres_media_store_photos_answer_as_sqlite() {
    let Some(config) = database("postgres_media_store_photos_answer_as_sqlite").await else { return };
    let pg = PgMediaStore::new(migrated(&config).await);
    let dir = tempfile::tempdir().unwrap();
    let (on_pg, on_lite) = (photo_scenario(&pg).await, photo_scenario(&sqlite(&dir)).await);
    assert_same_answers(&on_pg, &on_lite);
    // The expectations, on both.
    assert!(on_pg[..6].iter().all(|s| s == "Ok(true)"), "{on_pg:?}");
    // Newest first, ties by id descending.
    let at = |n: u32| on_pg[6].find(&id(n)).unwrap_or_else(|| panic!("photo {n} in {}", on_pg[6]));
    assert!(on_pg[6].starts_with("10/0: 5 ") && at(4) < at(7) && at(7) < at(3) && at(3) < at(9) && at(9) < at(5), "{}", on_pg[6]);
    let (rows, total) = pg.photos_of("ann", 10, 0).await.unwrap();
    assert_eq!(total, 5);
    assert_eq!(rows.iter().map(|r| r.photo_id.clone()).collect::<Vec<_>>(), [id(30), id(4), id(7), id(3), id(5)]);
    assert_eq!((rows[1].width, rows[1].height, rows[1].size_bytes, rows[1].created_at.as_str()), (644, u32::MAX - 4, (1 << 40) + 4, T3));
    assert!(on_pg[11].starts_with("0/0: 5 []"), "{}", on_pg[11]);
    assert_eq!(on_pg[13], "([], 0)");
    assert!(on_pg[15..19].iter().all(|s| s.ends_with("None Ok(false)")), "{on_pg:?}");
    assert_eq!(&on_pg[19..21], ["Ok(false)", "Ok(false)"]);
    assert_eq!(on_pg[21], "None");
    assert_eq!(&on_pg[22..28], ["Ok(true)", "Ok(false)", "Ok(true)", "Ok(false)", "Ok(true)", "Ok(false)"]);
    assert!(on_pg[28].starts_with("Err((409,"), "{}", on_pg[28]);
}

async fn nft_scenario(store: &dyn MediaStore) -> Vec<String> {
    let mut said = Vec::new();
    let biggest = (1 << 63) - 1;
    for (n, token, at) in [(1, 7, T1), (2, biggest, T1), (3, 0, T2), (4, 1 << 40, T3)] {
        said.push(outcome(store.insert_nft(&nft(n, "ann", token, at)).await));
    }
    said.push(outcome(store.insert_nft(&nft(5, "bob", 8, T1)).await));
    // A taken token id, a taken artwork id: conflicts, nothing written.
    said.push(outcome(store.insert_nft(&nft(6, "bob", 7, T1)).await));
    said.push(outcome(store.insert_nft(&nft(1, "bob", 9, T1)).await));
    for (limit, offset) in [(10, 0), (1, 0), (2, 1), (5, 4), (0, 0)] {
        let (rows, total) = store.nfts_of("ann", limit, offset).await.unwrap();
        said.push(format!("{limit}/{offset}: {total} {rows:?}"));
    }
    said.push(format!("{:?}", store.nfts_of("bob", 10, 0).await.unwrap()));
    said.push(format!("{:?}", store.nfts_of("nobody", 10, 0).await.unwrap()));
    for key in [id(1002), id(1006), id(1009), "not-a-uuid".into(), String::new()] {
        said.push(format!("{key:?}: {:?}", store.nft(&key).await.unwrap()));
    }
    said
}

#[tokio::test]
async fn postgres_media_store_nfts_answer_as_sqlite() {
    let Some(config) = database("postgres_media_store_nfts_answer_as_sqlite").await else { return };
    let pg = PgMediaStore::new(migrated(&config).await);
    let dir = tempfile::tempdir().unwrap();
    let (on_pg, on_lite) = (nft_scenario(&pg).await, nft_scenario(&sqlite(&dir)).await);
    assert_same_answers(&on_pg, &on_lite);
    assert!(on_pg[..5].iter().all(|s| s == "Ok(())"), "{on_pg:?}");
    assert!(on_pg[5].starts_with("Err((409,") && on_pg[6].starts_with("Err((409,"), "{on_pg:?}");
    let (rows, total) = pg.nfts_of("ann", 10, 0).await.unwrap();
    assert_eq!(total, 4);
    assert_eq!(rows.iter().map(|r| r.nft_id.clone()).collect::<Vec<_>>(), [id(1004), id(1003), id(1002), id(1001)]);
    let top = pg.nft(&id(1002)).await.unwrap().unwrap();
    assert_eq!(top.token_id, (1 << 63) - 1);
    assert_eq!(top.attributes, r#"[{"trait_type":"Style","value":"Waves 2"},{"trait_type":"Rarity","value":"Rare"}]"#);
    assert_eq!(top.created_at, T1);
    assert!(on_pg[14].contains("Some(") && on_pg[15..].iter().all(|s| s.ends_with("None")), "{on_pg:?}");
    // 2^63 and beyond do not fit the column: an error, never a wrapped number.
    assert!(pg.insert_nft(&nft(8, "ann", 1 << 63, T1)).await.is_err());
    assert!(pg.insert_nft(&nft(8, "ann", u64::MAX, T1)).await.is_err());
    assert!(pg.nft(&id(1008)).await.unwrap().is_none());
}

/// Ten uploads of one user on ten servers at once, against a limit of 3:
/// exactly 3 are added, three rounds over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_media_photo_limit_holds_exactly_under_a_race_across_servers() {
    let Some(config) = database("postgres_media_photo_limit_holds_exactly_under_a_race_across_servers").await else { return };
    migrated(&config).await;
    for round in 0..3u32 {
        let mut stores = Vec::new();
        for _ in 0..10 {
            // A pool of its own each: separate connections, as separate servers have.
            stores.push(Arc::new(PgMediaStore::new(PgDb::connect(&config).await.unwrap())));
        }
        let user = format!("racer-{round}");
        let start = Arc::new(tokio::sync::Barrier::new(stores.len()));
        let tasks: Vec<_> = stores
            .into_iter()
            .enumerate()
            .map(|(i, store)| {
                let (start, user) = (start.clone(), user.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    let row = photo(round * 100 + i as u32, &user, T1);
                    store.insert_photo_within_limit(&row, 3).await.unwrap()
                })
            })
            .collect();
        let mut added = 0;
        for task in tasks {
            added += usize::from(task.await.unwrap());
        }
        assert_eq!(added, 3, "round {round}");
        let pg = PgMediaStore::new(PgDb::connect(&config).await.unwrap());
        let (rows, total) = pg.photos_of(&user, 100, 0).await.unwrap();
        assert_eq!((rows.len(), total), (3, 3), "round {round}");
    }
}
