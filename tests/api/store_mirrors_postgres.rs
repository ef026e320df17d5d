//! The mirror outbox (`mirror_outbox`, its triggers, and its store) on PostgreSQL against a real
//! server (tests/api/postgres.rs), answering as on SQLite for the same changes and calls; and
//! workers of several servers claiming at once, each entry claimed by one. Each test prints a
//! SKIPPED line and passes when PostgreSQL is not installed.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use optima::db::Db;
use optima::db::postgres::PgDb;
use optima::features::mirrors::MirrorKind;
use optima::features::mirrors::store::postgres::PgMirrorOutbox;
use optima::features::mirrors::store::sqlite::SqliteMirrorOutbox;
use optima::features::mirrors::store::{Claimed, MirrorOutbox};

use crate::postgres::{assert_same_answers, database, migrated, sqlite_db};

/// Where the scenario changes rows behind the store (as the services' stores would).
enum Rows<'a> {
    Lite(&'a Db),
    Pg(&'a PgDb),
}

impl Rows<'_> {
    async fn exec(&self, sql: &str) {
        match self {
            Rows::Lite(db) => {
                let sql = sql.to_owned();
                db.write(move |tx| Ok(tx.execute_batch(&sql)?)).await.unwrap_or_else(|e| panic!("{e}"));
            }
            Rows::Pg(db) => db.client().await.unwrap().batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")),
        }
    }

    /// Every entry: kind, subject, version, attempts, last error, whether claimed; by subject.
    async fn entries(&self) -> Vec<String> {
        const SQL: &str = "SELECT kind, subject_id, version, attempts, last_error, claimed_by IS NOT NULL FROM mirror_outbox ORDER BY subject_id";
        match self {
            Rows::Lite(db) => db
                .read(|c| {
                    let mut stmt = c.prepare(SQL)?;
                    let rows = stmt.query_map([], |r| {
                        Ok(format!(
                            "{} {} v{} a{} {:?} {}",
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, i64>(3)?,
                            r.get::<_, Option<String>>(4)?,
                            r.get::<_, bool>(5)?
                        ))
                    })?;
                    rows.collect()
                })
                .await
                .unwrap(),
            Rows::Pg(db) => db
                .client()
                .await
                .unwrap()
                .query(SQL, &[])
                .await
                .unwrap()
                .iter()
                .map(|r| {
                    format!(
                        "{} {} v{} a{} {:?} {}",
                        r.get::<_, String>(0),
                        r.get::<_, String>(1),
                        r.get::<_, i64>(2),
                        r.get::<_, i64>(3),
                        r.get::<_, Option<String>>(4),
                        r.get::<_, bool>(5)
                    )
                })
                .collect(),
        }
    }
}

const A: &str = "0190b0a0-0000-7000-8000-00000000000a";
const M: &str = "0190b0a0-0000-7000-8000-00000000000b";
const STEM: &str = "0190b0a0-0000-7000-8000-0000000000c1";
const HOUR: Duration = Duration::from_secs(3600);
const MINUTE: Duration = Duration::from_secs(60);

fn sorted(mut claimed: Vec<Claimed>) -> String {
    claimed.sort_by(|a, b| a.subject_id.cmp(&b.subject_id));
    format!("{claimed:?}")
}

async fn scenario(store: &dyn MirrorOutbox, rows: Rows<'_>) -> Vec<String> {
    let mut said = Vec::new();
    // Changes coalesce into one entry per subject, counted by its version.
    rows.exec(&format!("INSERT INTO writing_projects (project_id, user_id, title, storage_path) VALUES ('{A}', 'ann', 'One', 'users/ann/projects/{A}')")).await;
    rows.exec(&format!("UPDATE writing_projects SET title = 'Two' WHERE project_id = '{A}'")).await;
    rows.exec(&format!("UPDATE writing_projects SET title = 'Three' WHERE project_id = '{A}'")).await;
    rows.exec(&format!("INSERT INTO music_projects (project_id, user_id, title, storage_path) VALUES ('{M}', 'ann', 'Song', 'users/ann/projects/{M}')")).await;
    // A play alone is not a change of the mirror; a stem is.
    rows.exec(&format!("UPDATE music_projects SET total_plays = total_plays + 1 WHERE project_id = '{M}'")).await;
    rows.exec(&format!(
        "INSERT INTO music_stems (stem_id, project_id, instrument, source, format, storage_url, size_bytes, duration) \
         VALUES ('{STEM}', '{M}', 'bass', 'upload', 'wav', 'users/ann/projects/{M}/stems/x.wav', 10, 1.5)"
    ))
    .await;
    said.push(format!("{:?}", rows.entries().await));

    // Claimed once; a second worker finds nothing while the claim holds.
    let first = store.claim(10, MINUTE, "w1").await.unwrap();
    said.push(sorted(first.clone()));
    said.push(format!("{:?}", store.claim(10, MINUTE, "w2").await.unwrap()));

    // A change during the write: done deletes the unchanged entry, releases the changed one.
    rows.exec(&format!("UPDATE writing_projects SET title = 'Four' WHERE project_id = '{A}'")).await;
    store.done(&first, "w1").await.unwrap();
    said.push(format!("{:?}", rows.entries().await));
    let again = store.claim(10, MINUTE, "w2").await.unwrap();
    said.push(sorted(again.clone()));

    // A failure: counted, kept, not due until later.
    store.retry(&again[0], "w2", HOUR, "the store said no").await.unwrap();
    said.push(format!("{:?}", rows.entries().await));
    said.push(format!("{:?}", store.claim(10, MINUTE, "w3").await.unwrap()));
    // A change makes it due at once, attempts back to 0.
    rows.exec(&format!("UPDATE writing_projects SET genre = 'Noir' WHERE project_id = '{A}'")).await;
    said.push(format!("{:?}", rows.entries().await));
    // A claim that ran out (a crashed worker's) is claimed again.
    let lapsed = store.claim(10, Duration::ZERO, "w3").await.unwrap();
    said.push(sorted(lapsed));
    tokio::time::sleep(Duration::from_millis(5)).await;
    let retaken = store.claim(10, MINUTE, "w4").await.unwrap();
    said.push(sorted(retaken.clone()));

    // A failure of a write that a change overtook: only released, due at once.
    rows.exec(&format!("UPDATE writing_projects SET genre = 'Crime' WHERE project_id = '{A}'")).await;
    store.retry(&retaken[0], "w4", HOUR, "late").await.unwrap();
    said.push(format!("{:?}", rows.entries().await));
    let last = store.claim(10, MINUTE, "w5").await.unwrap();
    said.push(sorted(last.clone()));

    // Deleting the subject drops its entry; done on it is harmless.
    rows.exec(&format!("DELETE FROM writing_projects WHERE project_id = '{A}'")).await;
    said.push(format!("{:?}", rows.entries().await));
    said.push(format!("{:?}", store.done(&last, "w5").await.map_err(|e| e.code())));
    said.push(format!("{:?}", store.retry(&last[0], "w5", HOUR, "gone").await.map_err(|e| e.code())));
    said.push(format!("{:?}", rows.entries().await));
    said
}

#[tokio::test]
async fn postgres_mirror_outbox_answers_as_sqlite() {
    let Some(config) = database("postgres_mirror_outbox_answers_as_sqlite").await else { return };
    let pg = migrated(&config).await;
    let dir = tempfile::tempdir().unwrap();
    let lite = sqlite_db(&dir);
    let on_pg = scenario(&PgMirrorOutbox::new(pg.clone()), Rows::Pg(&pg)).await;
    let on_lite = scenario(&SqliteMirrorOutbox::new(lite.clone()), Rows::Lite(&lite)).await;
    assert_same_answers(&on_pg, &on_lite);
    // The expectations, on both.
    let claimed = |subject: &str, version: i64, attempts: u32, kind: MirrorKind| {
        format!("{:?}", Claimed { kind, subject_id: subject.into(), version, attempts })
    };
    assert_eq!(
        on_lite[0],
        format!(r#"["writing_project {A} v3 a0 None false", "music_project {M} v2 a0 None false"]"#),
        "one entry each; the play did not count"
    );
    assert_eq!(on_lite[1], format!("[{}, {}]", claimed(A, 3, 0, MirrorKind::WritingProject), claimed(M, 2, 0, MirrorKind::MusicProject)));
    assert_eq!(on_lite[2], "[]");
    assert_eq!(on_lite[3], format!(r#"["writing_project {A} v4 a0 None false"]"#));
    assert_eq!(on_lite[4], format!("[{}]", claimed(A, 4, 0, MirrorKind::WritingProject)));
    assert_eq!(on_lite[5], format!(r#"["writing_project {A} v4 a1 Some(\"the store said no\") false"]"#));
    assert_eq!(on_lite[6], "[]");
    assert_eq!(on_lite[7], format!(r#"["writing_project {A} v5 a0 None false"]"#));
    assert_eq!(on_lite[8], format!("[{}]", claimed(A, 5, 0, MirrorKind::WritingProject)));
    assert_eq!(on_lite[9], format!("[{}]", claimed(A, 5, 0, MirrorKind::WritingProject)));
    assert_eq!(on_lite[10], format!(r#"["writing_project {A} v6 a0 None false"]"#));
    assert_eq!(on_lite[11], format!("[{}]", claimed(A, 6, 0, MirrorKind::WritingProject)));
    assert_eq!(&on_lite[12..], ["[]", "Ok(())", "Ok(())", "[]"]);
}

#[tokio::test]
async fn postgres_mirror_claims_skip_rows_a_transaction_holds() {
    let Some(config) = database("postgres_mirror_claims_skip_rows_a_transaction_holds").await else { return };
    let pg = migrated(&config).await;
    pg.client()
        .await
        .unwrap()
        .batch_execute("INSERT INTO mirror_outbox (kind, subject_id) VALUES ('music_project', 'held'), ('music_project', 'free')")
        .await
        .unwrap();
    // A request's transaction changing `held` (its trigger's upsert locks the row) is not waited for.
    let mut other = pg.client().await.unwrap();
    let tx = other.transaction().await.unwrap();
    tx.batch_execute("UPDATE mirror_outbox SET version = version + 1 WHERE subject_id = 'held'").await.unwrap();
    let store = PgMirrorOutbox::new(pg.clone());
    let claimed = tokio::time::timeout(Duration::from_secs(5), store.claim(10, MINUTE, "w1")).await.expect("not blocked").unwrap();
    assert_eq!(claimed.iter().map(|c| c.subject_id.as_str()).collect::<Vec<_>>(), ["free"]);
    tx.commit().await.unwrap();
    let claimed = store.claim(10, MINUTE, "w2").await.unwrap();
    assert_eq!(claimed.iter().map(|c| (c.subject_id.as_str(), c.version)).collect::<Vec<_>>(), [("held", 2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_mirror_workers_racing_on_two_servers_write_each_entry_once() {
    let Some(config) = database("postgres_mirror_workers_racing_on_two_servers_write_each_entry_once").await else { return };
    let admin = migrated(&config).await;
    const ENTRIES: usize = 300;
    admin
        .client()
        .await
        .unwrap()
        .batch_execute(&format!(
            "INSERT INTO mirror_outbox (kind, subject_id) SELECT 'music_project', 's' || lpad(g::text, 4, '0') FROM generate_series(1, {ENTRIES}) g"
        ))
        .await
        .unwrap();
    let start = Arc::new(tokio::sync::Barrier::new(2));
    let workers: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|name| {
            let (config, start) = (config.clone(), start.clone());
            tokio::spawn(async move {
                // A pool of its own: separate connections, as separate servers have.
                let store = PgMirrorOutbox::new(PgDb::connect(&config).await.unwrap());
                start.wait().await;
                let mut written = Vec::new();
                loop {
                    let claimed = store.claim(7, MINUTE, name).await.unwrap();
                    if claimed.is_empty() {
                        break;
                    }
                    // The writes take a moment, as blob writes do.
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    written.extend(claimed.iter().map(|c| c.subject_id.clone()));
                    store.done(&claimed, name).await.unwrap();
                }
                written
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut each = Vec::new();
    for worker in workers {
        let written = worker.await.unwrap();
        each.push(written.len());
        all.extend(written);
    }
    let distinct: BTreeSet<&String> = all.iter().collect();
    assert_eq!(all.len(), ENTRIES, "every entry written exactly once: {each:?}");
    assert_eq!(distinct.len(), ENTRIES, "no entry written twice");
    assert!(each.iter().all(|n| *n > 0), "both workers took a share: {each:?}");
    let left: i64 = admin.client().await.unwrap().query_one("SELECT count(*) FROM mirror_outbox", &[]).await.unwrap().get(0);
    assert_eq!(left, 0);
}
