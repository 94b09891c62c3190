//! Database access: connecting, migrating, and the queries of each aggregate.

pub mod actions;
pub mod assignments;
pub mod audits;
pub mod catalog;
pub mod compliance;
pub mod jobs;
pub mod notify;
pub mod photos;
pub mod regions;
pub mod review;
pub mod scope;
pub mod session_cache;
pub mod sessions;
pub mod stores;
pub mod sync;
pub mod throttle;
pub mod users;

use anyhow::Context;
use base64::Engine;
use chrono::Utc;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction,
    DbBackend, EntityTrait, IsolationLevel, Set, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

use crate::config::DataConfig;
use crate::entities::server_secrets;
use crate::error::ApiError;

/// Connect to the configured database, creating the data folder (for the
/// embedded SQLite default) when missing.
pub async fn connect(cfg: &DataConfig) -> anyhow::Result<DatabaseConnection> {
    let url = cfg.database_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&cfg.data_dir)
            .with_context(|| format!("creating data folder {}", cfg.data_dir.display()))?;
    }
    let mut opts = ConnectOptions::new(url);
    opts.max_connections(cfg.db_max_connections)
        .min_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(std::time::Duration::from_secs(10))
                .foreign_keys(true)
        });
    let db = Database::connect(opts)
        .await
        .context("connecting to the database")?;
    Ok(db)
}

/// Begin a transaction that will write. On SQLite it takes the write lock at
/// once (`BEGIN IMMEDIATE`), so that concurrent writers wait for each other
/// instead of failing when a read lock cannot be upgraded.
pub async fn begin_write<C: TransactionTrait>(db: &C) -> Result<C::Transaction, sea_orm::DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// Begin a transaction that only reads and sees one committed state from
/// its first query to its last, so figures read in several queries agree
/// with each other: `REPEATABLE READ, READ ONLY` on PostgreSQL; on SQLite
/// a deferred transaction, whose first read fixes the snapshot (WAL).
pub async fn begin_snapshot(
    db: &DatabaseConnection,
) -> Result<DatabaseTransaction, sea_orm::DbErr> {
    let pg = db.get_database_backend() == DbBackend::Postgres;
    db.begin_with_options(TransactionOptions {
        isolation_level: pg.then_some(IsolationLevel::RepeatableRead),
        access_mode: pg.then_some(AccessMode::ReadOnly),
        sqlite_transaction_mode: None,
    })
    .await
}

/// Apply every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .context("applying database migrations")
}

/// A random secret kept in the database under `name`, made by whichever
/// server asks first, so that every server of a deployment shares it.
pub async fn shared_secret(db: &impl ConnectionTrait, name: &str) -> anyhow::Result<Vec<u8>> {
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh).map_err(|e| anyhow::anyhow!("random bytes: {e}"))?;
    let row = server_secrets::ActiveModel {
        name: Set(name.to_owned()),
        value: Set(base64::engine::general_purpose::STANDARD.encode(fresh)),
        created_at: Set(Utc::now()),
    };
    server_secrets::Entity::insert(row)
        .on_conflict_do_nothing_on([server_secrets::Column::Name])
        .exec_without_returning(db)
        .await
        .context("storing server secret")?;
    let stored = server_secrets::Entity::find_by_id(name.to_owned())
        .one(db)
        .await
        .context("reading server secret")?
        .context("server secret vanished")?;
    base64::engine::general_purpose::STANDARD
        .decode(stored.value)
        .context("decoding server secret")
}

/// Random bytes as URL-safe base64, for tokens.
pub fn random_token(bytes: usize) -> anyhow::Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("random bytes: {e}"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

/// Most values bound in one `IN (…)` list, well under SQLite's limit of
/// bound parameters per statement.
pub const IN_CHUNK: usize = 1000;

/// `conflict()` when a write broke a unique constraint, else the error as is.
pub fn unique_or(err: sea_orm::DbErr, conflict: impl FnOnce() -> ApiError) -> ApiError {
    if is_unique_violation(&err) {
        conflict()
    } else {
        err.into()
    }
}

/// Whether a database error is a unique-constraint violation.
pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Keyset paging over UUIDv7 ids (which sort by creation time).
pub mod paging {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use uuid::Uuid;

    use crate::error::ApiError;

    pub const DEFAULT_LIMIT: u64 = 50;
    pub const MAX_LIMIT: u64 = 500;

    pub fn limit(requested: Option<u64>) -> Result<u64, ApiError> {
        match requested {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::bad_request(
                "invalid_query",
                format!("limit must be from 1 to {MAX_LIMIT}"),
            )
            .with_detail("limit", format!("must be from 1 to {MAX_LIMIT}"))),
        }
    }

    pub fn decode(cursor: Option<&str>) -> Result<Option<Uuid>, ApiError> {
        let Some(c) = cursor else { return Ok(None) };
        B64.decode(c)
            .ok()
            .and_then(|b| Uuid::from_slice(&b).ok())
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad_request("invalid_cursor", "the cursor is not one this server gave")
                    .with_detail("cursor", "unknown cursor")
            })
    }

    pub fn encode(last: Uuid) -> String {
        B64.encode(last.as_bytes())
    }

    /// Given one row more than the page holds, split off the extra row and
    /// make the cursor for the next page.
    pub fn page<T>(
        mut rows: Vec<T>,
        limit: u64,
        id: impl Fn(&T) -> Uuid,
    ) -> (Vec<T>, Option<String>) {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if rows.len() > limit {
            rows.truncate(limit);
            let next = rows.last().map(|r| encode(id(r)));
            (rows, next)
        } else {
            (rows, None)
        }
    }
}
