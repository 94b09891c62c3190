//! The change log phones pull from.
//!
//! Every transaction that changes what an auditor must see bumps one
//! counter row and stamps its log entries with the numbers it got. The
//! counter row is locked until that transaction ends, so numbers are handed
//! out in commit order: once a reader sees the counter at N, every entry up
//! to N is committed and visible, and a cursor never skips one.
//!
//! Each server also keeps the position in memory ([`LogHead`]), so that a
//! poll with nothing new, and any answer that depends only on the position,
//! costs no database read. It learns of its own writers' numbers as they
//! are handed out and of other servers' commits through a PostgreSQL
//! notification sent inside the writing transaction; whenever it cannot be
//! sure, it reads the counter.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use chrono::Utc;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement,
};
use uuid::Uuid;

use crate::entities::enums::{AssignmentStatus, ChangeEntity};
use crate::entities::{assignments, sync_changes, sync_counter};
use crate::error::ApiError;

/// The PostgreSQL channel that tells every server the log moved.
pub const CHANNEL: &str = "storecheck_log";

/// Where the change log stands, as far as this server can tell without
/// asking the database.
///
/// `known` only ever holds a committed position: one read from the
/// database, or one another server's notification announced (notifications
/// are delivered on commit). A position is trusted without a read only when
/// every commit is heard (`live`), no writer of this server was handed a
/// number beyond it, and it was checked against the database less than
/// [`LogHead::TRUST_MS`] ago. A writer's number is noted before its
/// transaction commits, so a request that starts after a write here was
/// answered always sees it; other servers see it once the notification
/// arrives. The periodic check notices a log that went back (a database
/// restored under running servers) within that time.
pub struct LogHead {
    known: AtomicI64,
    handed_out: AtomicI64,
    live: AtomicBool,
    /// Until when `known` is trusted without a read, in ms after `born`
    /// (0 at first: the first position is read).
    trusted_until_ms: AtomicU64,
    born: Instant,
}

impl LogHead {
    /// How long a position read from the database is trusted, in ms.
    pub const TRUST_MS: u64 = 1000;

    /// A head that hears every commit from the start: one server process
    /// on its own database (SQLite).
    pub fn live() -> Self {
        LogHead {
            known: AtomicI64::new(0),
            handed_out: AtomicI64::new(0),
            live: AtomicBool::new(true),
            trusted_until_ms: AtomicU64::new(0),
            born: Instant::now(),
        }
    }

    /// A head that reads the database until [`LogHead::set_live`] turns it
    /// on (servers sharing PostgreSQL, while the notification feed is down).
    pub fn off() -> Self {
        LogHead {
            live: AtomicBool::new(false),
            ..LogHead::live()
        }
    }

    /// Whether every commit is heard (the notification feed's state).
    pub fn set_live(&self, live: bool) {
        self.live.store(live, Ordering::Release);
    }

    /// A committed position heard of (a notification payload).
    pub fn apply(&self, payload: &str) {
        match payload.parse::<i64>() {
            Ok(n) => {
                self.known.fetch_max(n, Ordering::AcqRel);
            }
            Err(_) => tracing::warn!(payload, "unreadable change-log notification"),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A position up to which every change is committed: from memory when
    /// that is sure, otherwise read from the database (and remembered).
    /// `at_least` is a position the caller was given elsewhere (a cursor
    /// from another server): a head that has not heard of it yet reads.
    pub async fn position(
        &self,
        db: &impl ConnectionTrait,
        at_least: i64,
    ) -> Result<i64, ApiError> {
        let handed_out = self.handed_out.load(Ordering::Acquire);
        let known = self.known.load(Ordering::Acquire);
        let fresh = self.now_ms() < self.trusted_until_ms.load(Ordering::Acquire);
        if fresh && self.live.load(Ordering::Acquire) && handed_out <= known && at_least <= known {
            return Ok(known);
        }
        self.refresh(db).await
    }

    /// Read the committed position now, and remember it as it is: a read
    /// racing a notification may set it back a little (it is committed all
    /// the same), and a log that went back is believed.
    pub async fn refresh(&self, db: &impl ConnectionTrait) -> Result<i64, ApiError> {
        let committed = current(db).await?;
        self.known.store(committed, Ordering::Release);
        self.trusted_until_ms.store(
            self.now_ms().saturating_add(Self::TRUST_MS),
            Ordering::Release,
        );
        Ok(committed)
    }
}

/// Answers that hold while the change log stands at the position they were
/// made at (every change to what they show moves the log). Bounded: starts
/// over when full.
pub struct AtPosition<K, V> {
    entries: Mutex<HashMap<K, (i64, V)>>,
    max: usize,
}

impl<K: Eq + Hash, V: Clone> AtPosition<K, V> {
    pub fn new(max: usize) -> Self {
        AtPosition {
            entries: Mutex::default(),
            max,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (i64, V)>> {
        match self.entries.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The answer made at `position`, if there is one.
    pub fn get(&self, key: &K, position: i64) -> Option<V> {
        self.lock()
            .get(key)
            .filter(|(at, _)| *at == position)
            .map(|(_, v)| v.clone())
    }

    pub fn put(&self, key: K, position: i64, value: V) {
        let mut map = self.lock();
        if map.len() >= self.max {
            map.clear();
        }
        map.insert(key, (position, value));
    }
}

/// Record that `entity`s changed for auditors, inside the caller's
/// transaction; `head` is this server's (see [`LogHead`]).
pub async fn record(
    db: &impl ConnectionTrait,
    head: &LogHead,
    entries: &[(Uuid, ChangeEntity, Uuid)],
) -> Result<(), ApiError> {
    if entries.is_empty() {
        return Ok(());
    }
    let n = i64::try_from(entries.len()).unwrap_or(i64::MAX);
    let last = bump(db, n).await?;
    head.handed_out.fetch_max(last, Ordering::AcqRel);
    let now = Utc::now();
    let rows = entries
        .iter()
        .enumerate()
        .map(|(i, (auditor, entity, id))| sync_changes::ActiveModel {
            seq: Set(last - n + 1 + i64::try_from(i).unwrap_or(0)),
            auditor_id: Set(*auditor),
            entity: Set(*entity),
            entity_id: Set(*id),
            created_at: Set(now),
        });
    sync_changes::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Move the counter on by `n` (the row stays locked until the transaction
/// ends) and return where it now stands; on PostgreSQL the same statement
/// tells every server, once the transaction commits.
async fn bump(db: &impl ConnectionTrait, n: i64) -> Result<i64, ApiError> {
    let backend = db.get_database_backend();
    let (sql, values): (_, Vec<sea_orm::Value>) = match backend {
        DatabaseBackend::Postgres => (
            "WITH moved AS (UPDATE sync_counter SET value = value + $1 WHERE id = 1 RETURNING value) \
             SELECT value, pg_notify($2, value::text) AS told FROM moved",
            vec![n.into(), CHANNEL.into()],
        ),
        _ => (
            "UPDATE sync_counter SET value = value + ? WHERE id = 1 RETURNING value",
            vec![n.into()],
        ),
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("the change-log counter row is missing"))
        })?;
    Ok(row.try_get::<i64>("", "value")?)
}

/// The highest sequence number handed out and committed.
async fn current(db: &impl ConnectionTrait) -> Result<i64, ApiError> {
    Ok(sync_counter::Entity::find_by_id(1)
        .one(db)
        .await?
        .map_or(0, |c| c.value))
}

/// An auditor's log entries after `after`, up to `upto`, at most `limit + 1`.
pub async fn changes(
    db: &impl ConnectionTrait,
    auditor: Uuid,
    after: i64,
    upto: i64,
    limit: u64,
) -> Result<Vec<sync_changes::Model>, ApiError> {
    Ok(sync_changes::Entity::find()
        .filter(sync_changes::Column::AuditorId.eq(auditor))
        .filter(sync_changes::Column::Seq.gt(after))
        .filter(sync_changes::Column::Seq.lte(upto))
        .order_by_asc(sync_changes::Column::Seq)
        .limit(limit + 1)
        .all(db)
        .await?)
}

/// Tell the auditors with assignments at a store that the store changed.
pub async fn store_changed(
    db: &impl ConnectionTrait,
    head: &LogHead,
    store: Uuid,
) -> Result<(), ApiError> {
    let rows: Vec<(Uuid, Uuid)> = assignments::Entity::find()
        .select_only()
        .columns([assignments::Column::AuditorId, assignments::Column::Id])
        .filter(assignments::Column::StoreId.eq(store))
        .filter(assignments::Column::Status.eq(AssignmentStatus::Scheduled))
        .into_tuple()
        .all(db)
        .await?;
    let entries: Vec<(Uuid, ChangeEntity, Uuid)> = rows
        .into_iter()
        .map(|(a, id)| (a, ChangeEntity::Assignment, id))
        .collect();
    record(db, head, &entries).await
}
