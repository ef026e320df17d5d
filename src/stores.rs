//! Every feature's store, built for the database `database.url` chose: the one place that names
//! both backends' implementations, so that adding a backend adds one arm here and its stores.

use std::sync::Arc;

use crate::db::Database;
use crate::events::store::{EventStore, postgres::PgEventStore, sqlite::SqliteEventStore};
use crate::features::accounts::store::{AccountsStore, postgres::PgAccountsStore, sqlite::SqliteAccountsStore};
use crate::features::chat::store::{ChatStore, postgres::PgChatStore, sqlite::SqliteChatStore};
use crate::features::mirrors::store::{MirrorOutbox, postgres::PgMirrorOutbox, sqlite::SqliteMirrorOutbox};
use crate::features::media::store::{MediaStore, postgres::PgMediaStore, sqlite::SqliteMediaStore};
use crate::features::music::store::{MusicStore, postgres::PgMusicStore, sqlite::SqliteMusicStore};
use crate::features::premium::store::{PremiumStore, postgres::PgPremiumStore, sqlite::SqlitePremiumStore};
use crate::features::subscription::store::{SubscriptionStore, postgres::PgSubscriptionStore, sqlite::SqliteSubscriptionStore};
use crate::features::tactical::store::{TacticalStore, postgres::PgTacticalStore, sqlite::SqliteTacticalStore};
use crate::features::writers::store::{WritersStore, postgres::PgWritersStore, sqlite::SqliteWritersStore};

pub struct Stores {
    pub accounts: Arc<dyn AccountsStore>,
    pub subscription: Arc<dyn SubscriptionStore>,
    pub chat: Arc<dyn ChatStore>,
    pub music: Arc<dyn MusicStore>,
    pub writers: Arc<dyn WritersStore>,
    pub tactical: Arc<dyn TacticalStore>,
    pub premium: Arc<dyn PremiumStore>,
    pub media: Arc<dyn MediaStore>,
    pub mirrors: Arc<dyn MirrorOutbox>,
    pub events: Arc<dyn EventStore>,
}

impl Stores {
    pub fn of(database: &Database) -> Self {
        match database {
            Database::Sqlite(db) => Self {
                accounts: Arc::new(SqliteAccountsStore::new(db.clone())),
                subscription: Arc::new(SqliteSubscriptionStore::new(db.clone())),
                chat: Arc::new(SqliteChatStore::new(db.clone())),
                music: Arc::new(SqliteMusicStore::new(db.clone())),
                writers: Arc::new(SqliteWritersStore::new(db.clone())),
                tactical: Arc::new(SqliteTacticalStore::new(db.clone())),
                premium: Arc::new(SqlitePremiumStore::new(db.clone())),
                media: Arc::new(SqliteMediaStore::new(db.clone())),
                mirrors: Arc::new(SqliteMirrorOutbox::new(db.clone())),
                events: Arc::new(SqliteEventStore::new(db.clone())),
            },
            Database::Postgres(db) => Self {
                accounts: Arc::new(PgAccountsStore::new(db.clone())),
                subscription: Arc::new(PgSubscriptionStore::new(db.clone())),
                chat: Arc::new(PgChatStore::new(db.clone())),
                music: Arc::new(PgMusicStore::new(db.clone())),
                writers: Arc::new(PgWritersStore::new(db.clone())),
                tactical: Arc::new(PgTacticalStore::new(db.clone())),
                premium: Arc::new(PgPremiumStore::new(db.clone())),
                media: Arc::new(PgMediaStore::new(db.clone())),
                mirrors: Arc::new(PgMirrorOutbox::new(db.clone())),
                events: Arc::new(PgEventStore::new(db.clone())),
            },
        }
    }
}
