//! The accounts store on PostgreSQL against a real server (tests/api/postgres.rs), answering as
//! the SQLite store does for the same calls. Each test prints a SKIPPED line and passes when
//! PostgreSQL is not installed.

use std::sync::Arc;

use optima::auth::Role;
use optima::db::postgres::PgDb;
use optima::error::AppResult;
use optima::features::accounts::store::postgres::PgAccountsStore;
use optima::features::accounts::store::sqlite::SqliteAccountsStore;
use optima::features::accounts::store::{AccountsStore, UserRow};

use crate::postgres::{database, migrated, sqlite_db};

fn sqlite(dir: &tempfile::TempDir) -> SqliteAccountsStore {
    SqliteAccountsStore::new(sqlite_db(dir))
}

fn user(id: &str, username: &str) -> UserRow {
    UserRow {
        user_id: id.into(),
        username: username.into(),
        display_name: None,
        password_hash: format!("hash-of-{id}"),
        role: Role::User,
        created_at: "2026-01-02T03:04:05.678Z".into(),
    }
}

/// What a caller can see of a row.
type Seen = (String, String, Option<String>, String, &'static str, String);

fn seen(row: Option<UserRow>) -> Option<Seen> {
    row.map(|u| (u.user_id, u.username, u.display_name, u.password_hash, u.role.as_str(), u.created_at))
}

fn outcome<T>(result: AppResult<T>) -> Result<T, (u16, &'static str)> {
    result.map_err(|e| (e.status().as_u16(), e.code()))
}

/// The same calls on both stores, and what each answered, as text.
async fn scenario(store: &dyn AccountsStore) -> Vec<String> {
    let mut said = Vec::new();
    let mut ann = user("u-ann", "Ann");
    ann.display_name = Some("Ann A.".into());
    ann.role = Role::Admin;
    said.push(format!("{:?}", outcome(store.insert_user(&ann).await)));
    // Another case of a taken name is taken; nothing is written.
    for taken in ["ann", "ANN", "aNn"] {
        said.push(format!("{taken}: {:?}", outcome(store.insert_user(&user(&format!("u-taken-{taken}"), taken)).await)));
        said.push(format!("{taken} by id: {:?}", seen(store.user_by_id(&format!("u-taken-{taken}")).await.unwrap())));
    }
    // Sign-in finds the account under any ASCII case, with the name as registered.
    for name in ["Ann", "ann", "ANN", "aNN"] {
        said.push(format!("{name}: {:?}", seen(store.user_by_username(name).await.unwrap())));
    }
    // Only ASCII letters fold; other names do not reach Ann's, nor a near miss.
    for name in ["Än", "Ann ", "An", "Anne", "Ａnn", ""] {
        said.push(format!("{name:?}: {:?}", seen(store.user_by_username(name).await.unwrap())));
    }
    said.push(format!("{:?}", outcome(store.insert_user(&user("u-kelvin", "kelvin")).await)));
    for name in ["KELVIN", "\u{212A}elvin", "kelvın"] {
        said.push(format!("{name:?}: {:?}", seen(store.user_by_username(name).await.unwrap())));
    }
    // Names made of the other characters the service allows.
    said.push(format!("{:?}", outcome(store.insert_user(&user("u-mail", "Bob.Smith+x@Example.com")).await)));
    said.push(format!("{:?}", seen(store.user_by_username("bob.smith+X@example.COM").await.unwrap())));
    said.push(format!("{:?}", outcome(store.insert_user(&user("u-mail-2", "BOB.SMITH+X@EXAMPLE.COM")).await)));
    // The id is the other key: a second account with Ann's id is refused as a conflict.
    said.push(format!("{:?}", outcome(store.insert_user(&user("u-ann", "someone-else")).await)));
    said.push(format!("{:?}", seen(store.user_by_username("someone-else").await.unwrap())));
    // Ids are the token's text: any id is looked up, none that is unknown is found.
    for id in ["u-ann", "U-ANN", "u-kelvin", "not-a-user", "0190b0a0-0000-7000-8000-000000000000", ""] {
        said.push(format!("{id:?}: {:?}", seen(store.user_by_id(id).await.unwrap())));
    }
    said
}

#[tokio::test]
async fn postgres_accounts_store_answers_as_sqlite() {
    let Some(config) = database("postgres_accounts_store_answers_as_sqlite").await else { return };
    let pg = PgAccountsStore::new(migrated(&config).await);
    let dir = tempfile::tempdir().unwrap();
    let lite = sqlite(&dir);
    let (on_pg, on_lite) = (scenario(&pg).await, scenario(&lite).await);
    assert_eq!(on_pg, on_lite);
    // The scenario's expectations, on both.
    assert_eq!(on_pg[0], "Ok(true)");
    assert!(on_pg[1..7].iter().step_by(2).all(|s| s.ends_with("Ok(false)")), "{on_pg:?}");
    assert!(on_pg[2..8].iter().step_by(2).all(|s| s.ends_with("None")), "{on_pg:?}");
    for line in &on_pg[7..11] {
        assert!(line.contains(r#"Some(("u-ann", "Ann", Some("Ann A."), "hash-of-u-ann", "admin", "2026-01-02T03:04:05.678Z"))"#), "{line}");
    }
    assert!(on_pg[11..17].iter().all(|s| s.ends_with("None")), "{on_pg:?}");
    assert!(on_pg[18].contains("u-kelvin") && on_pg[19].ends_with("None") && on_pg[20].ends_with("None"), "{on_pg:?}");
    assert!(on_pg[22].contains("u-mail") && on_pg[23] == "Ok(false)", "{on_pg:?}");
    assert!(on_pg[24].starts_with("Err((409,"), "{on_pg:?}");
    assert_eq!(on_pg[25], "None");
}

#[tokio::test]
async fn postgres_accounts_store_keeps_times_to_the_millisecond_in_utc() {
    let Some(config) = database("postgres_accounts_store_keeps_times_to_the_millisecond_in_utc").await else { return };
    let pg = PgAccountsStore::new(migrated(&config).await);
    let mut row = user("u-time", "timely");
    row.created_at = "2026-06-30T23:59:59.999Z".into();
    assert!(pg.insert_user(&row).await.unwrap());
    assert_eq!(pg.user_by_id("u-time").await.unwrap().unwrap().created_at, "2026-06-30T23:59:59.999Z");
    let mut row = user("u-offset", "offset");
    row.created_at = "2026-07-01T01:30:00.250+02:00".into();
    assert!(pg.insert_user(&row).await.unwrap());
    assert_eq!(pg.user_by_username("OFFSET").await.unwrap().unwrap().created_at, "2026-06-30T23:30:00.250Z");
}

/// Ten servers register one name in ten cases at once: one account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_accounts_registrations_of_one_name_racing_across_servers_add_one_account() {
    let Some(config) = database("postgres_accounts_registrations_of_one_name_racing_across_servers_add_one_account").await else { return };
    migrated(&config).await;
    let names = ["racer", "Racer", "RACER", "rAcer", "raCer", "racEr", "raceR", "RAcer", "racER", "RaCeR"];
    let mut stores = Vec::new();
    for _ in names {
        // A pool of its own each: separate connections, as separate servers have.
        stores.push(Arc::new(PgAccountsStore::new(PgDb::connect(&config).await.unwrap())));
    }
    let start = Arc::new(tokio::sync::Barrier::new(names.len()));
    let tasks: Vec<_> = stores
        .into_iter()
        .zip(names)
        .enumerate()
        .map(|(i, (store, name))| {
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                store.insert_user(&user(&format!("u-{i}"), name)).await.unwrap()
            })
        })
        .collect();
    let mut added = 0;
    for task in tasks {
        added += usize::from(task.await.unwrap());
    }
    assert_eq!(added, 1);
    let pg = PgAccountsStore::new(PgDb::connect(&config).await.unwrap());
    let winner = pg.user_by_username("RACER").await.unwrap().expect("one account");
    let ids: Vec<bool> = futures_ids(&pg, names.len()).await;
    assert_eq!(ids.iter().filter(|found| **found).count(), 1);
    assert!(names.contains(&winner.username.as_str()));
}

async fn futures_ids(store: &PgAccountsStore, n: usize) -> Vec<bool> {
    let mut found = Vec::new();
    for i in 0..n {
        found.push(store.user_by_id(&format!("u-{i}")).await.unwrap().is_some());
    }
    found
}

/// In a database whose locale folds more than ASCII (`C.utf8`: the Kelvin sign `K` lowers to
/// `k`), citext alone would let `Kelvin` sign in as `kelvin`; the store still folds ASCII only.
#[tokio::test]
async fn postgres_accounts_lookups_fold_only_ascii_letters_whatever_the_databases_locale() {
    let Some(cluster) = crate::postgres::shared() else {
        crate::postgres::skipped("postgres_accounts_lookups_fold_only_ascii_letters_whatever_the_databases_locale");
        return;
    };
    let name = format!("optima_{}_utf8_locale", std::process::id());
    let created = cluster
        .admin("postgres")
        .await
        .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.utf8' LC_CTYPE 'C.utf8'"))
        .await;
    if let Err(e) = created {
        eprintln!("SKIPPED: no C.utf8 locale for PostgreSQL here: {e}");
        return;
    }
    let config = cluster.settings_for(&name);
    let pg = PgAccountsStore::new(migrated(&config).await);
    let dir = tempfile::tempdir().unwrap();
    let lite = sqlite(&dir);
    let admin = cluster.admin(&name).await;
    let citext_folds: bool = admin.query_one("SELECT 'Kelvin'::citext = 'kelvin'::citext", &[]).await.unwrap().get(0);
    let citext_folds_umlaut: bool = admin.query_one("SELECT 'Änn'::citext = 'änn'::citext", &[]).await.unwrap().get(0);
    eprintln!("citext folds the Kelvin sign here: {citext_folds}; Ä: {citext_folds_umlaut}");
    for store in [&pg as &dyn AccountsStore, &lite] {
        assert!(store.insert_user(&user("u-kelvin", "kelvin")).await.unwrap());
        assert!(!store.insert_user(&user("u-kelvin-2", "KELVIN")).await.unwrap());
    }
    for lookup in ["kelvin", "KELVIN", "Kelvin", "\u{212A}elvin", "kelvın", "KELVİN"] {
        let (on_pg, on_lite) = (seen(pg.user_by_username(lookup).await.unwrap()), seen(lite.user_by_username(lookup).await.unwrap()));
        assert_eq!(on_pg, on_lite, "{lookup}");
        assert_eq!(on_pg.is_some(), lookup.is_ascii(), "{lookup}");
    }
}
