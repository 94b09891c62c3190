//! The job table: queue, take, finish, retry. Every server process shares
//! it. On PostgreSQL a worker takes jobs with `FOR UPDATE SKIP LOCKED`, so
//! two workers never take the same row; on SQLite the taking `UPDATE` is one
//! write under the database's single writer lock. A taken job carries a
//! lease: when it runs out (the worker crashed or hung) any worker takes the
//! job again. `attempts` counts every taking and is the fencing token: a
//! worker whose lease was taken over can no longer finish or retry the job.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, PaginatorTrait, QueryFilter, Set,
    Statement,
};
use uuid::Uuid;

use crate::entities::enums::JobState;
use crate::entities::jobs;
use crate::error::ApiError;

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Queue `kind` work on `key`. The same work queued already is not queued
/// twice; while it runs, it is marked to run once more when done (what it
/// works on changed meanwhile); given up, it is queued afresh.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    kind: &str,
    key: &str,
    payload: &str,
    run_at: i64,
) -> Result<(), ApiError> {
    let row = jobs::ActiveModel {
        id: Set(Uuid::now_v7()),
        kind: Set(kind.to_owned()),
        key: Set(key.to_owned()),
        payload: Set(payload.to_owned()),
        state: Set(JobState::Queued),
        attempts: Set(0),
        failures: Set(0),
        rerun: Set(false),
        run_at: Set(run_at),
        lease_until: Set(None),
        worker: Set(None),
        last_error: Set(None),
        created_at: Set(Utc::now()),
    };
    let when = |state: &str, then: &str, otherwise: &str| {
        Expr::cust(format!(
            "CASE WHEN jobs.state = '{state}' THEN {then} ELSE {otherwise} END"
        ))
    };
    jobs::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([jobs::Column::Kind, jobs::Column::Key])
                .value(jobs::Column::Rerun, when("running", "TRUE", "jobs.rerun"))
                .value(jobs::Column::Failures, when("failed", "0", "jobs.failures"))
                .value(
                    jobs::Column::RunAt,
                    when("failed", "excluded.run_at", "jobs.run_at"),
                )
                .value(
                    jobs::Column::State,
                    when("failed", "'queued'", "jobs.state"),
                )
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Take up to `limit` jobs that are due, or whose lease ran out, for
/// `worker` until `lease_until`.
pub async fn take(
    db: &impl ConnectionTrait,
    worker: &str,
    now: i64,
    lease_until: i64,
    limit: u64,
) -> Result<Vec<jobs::Model>, ApiError> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => {
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = $1, worker = $2 \
             WHERE id IN (SELECT id FROM jobs \
               WHERE (state = 'queued' AND run_at <= $3) OR (state = 'running' AND lease_until < $3) \
               ORDER BY run_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING *"
        }
        _ => {
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = ?, worker = ? \
             WHERE id IN (SELECT id FROM jobs \
               WHERE (state = 'queued' AND run_at <= ?) OR (state = 'running' AND lease_until < ?) \
               ORDER BY run_at LIMIT ?) \
             RETURNING *"
        }
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let values: Vec<sea_orm::Value> = match backend {
        DatabaseBackend::Postgres => {
            vec![lease_until.into(), worker.into(), now.into(), limit.into()]
        }
        _ => vec![
            lease_until.into(),
            worker.into(),
            now.into(),
            now.into(),
            limit.into(),
        ],
    };
    let taken = jobs::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
        .all(db)
        .await?;
    Ok(taken)
}

fn held(id: Uuid, attempts: i32) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(jobs::Column::Id.eq(id))
        .add(jobs::Column::Attempts.eq(attempts))
        .add(jobs::Column::State.eq(JobState::Running))
}

/// The job is done: its row goes, or, when it was queued again while it
/// ran, it is due again at once. False when the lease was lost meanwhile.
pub async fn finish(db: &impl ConnectionTrait, id: Uuid, attempts: i32) -> Result<bool, ApiError> {
    let done = jobs::Entity::delete_many()
        .filter(held(id, attempts))
        .filter(jobs::Column::Rerun.eq(false))
        .exec(db)
        .await?;
    if done.rows_affected > 0 {
        return Ok(true);
    }
    let again = jobs::Entity::update_many()
        .col_expr(jobs::Column::State, Expr::value(JobState::Queued))
        .col_expr(jobs::Column::Rerun, Expr::value(false))
        .col_expr(jobs::Column::RunAt, Expr::value(now_ms()))
        .col_expr(jobs::Column::LeaseUntil, Expr::value(Option::<i64>::None))
        .col_expr(jobs::Column::Worker, Expr::value(Option::<String>::None))
        .col_expr(
            jobs::Column::Attempts,
            Expr::col(jobs::Column::Attempts).sub(1),
        )
        .filter(held(id, attempts))
        .exec(db)
        .await?;
    Ok(again.rows_affected > 0)
}

/// Keep a running job this worker's until `lease_until`. False when the
/// lease was lost already.
pub async fn extend(
    db: &impl ConnectionTrait,
    id: Uuid,
    attempts: i32,
    lease_until: i64,
) -> Result<bool, ApiError> {
    let done = jobs::Entity::update_many()
        .col_expr(jobs::Column::LeaseUntil, Expr::value(lease_until))
        .filter(held(id, attempts))
        .exec(db)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Put the job back to run at `run_at`, noting the error; `counted` adds it
/// to the failures the retry limit counts, otherwise the taking is handed
/// back (`attempts` less one), so waiting is not mistaken for crashing.
pub async fn retry(
    db: &impl ConnectionTrait,
    id: Uuid,
    attempts: i32,
    run_at: i64,
    error: &str,
    counted: bool,
) -> Result<bool, ApiError> {
    let done = jobs::Entity::update_many()
        .col_expr(jobs::Column::State, Expr::value(JobState::Queued))
        .col_expr(jobs::Column::RunAt, Expr::value(run_at))
        .col_expr(jobs::Column::LeaseUntil, Expr::value(Option::<i64>::None))
        .col_expr(jobs::Column::Worker, Expr::value(Option::<String>::None))
        .col_expr(jobs::Column::LastError, Expr::value(error))
        .col_expr(
            jobs::Column::Failures,
            Expr::col(jobs::Column::Failures).add(i32::from(counted)),
        )
        .col_expr(
            jobs::Column::Attempts,
            Expr::col(jobs::Column::Attempts).sub(i32::from(!counted)),
        )
        .filter(held(id, attempts))
        .exec(db)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Give the job up after the retry limit; the row stays for inspection.
pub async fn fail(
    db: &impl ConnectionTrait,
    id: Uuid,
    attempts: i32,
    error: &str,
) -> Result<bool, ApiError> {
    let done = jobs::Entity::update_many()
        .col_expr(jobs::Column::State, Expr::value(JobState::Failed))
        .col_expr(jobs::Column::LeaseUntil, Expr::value(Option::<i64>::None))
        .col_expr(jobs::Column::LastError, Expr::value(error))
        .col_expr(
            jobs::Column::Failures,
            Expr::col(jobs::Column::Failures).add(1),
        )
        .filter(held(id, attempts))
        .exec(db)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Hand back every job `worker` holds (shutdown): due at once, the taking
/// not counted.
pub async fn release_worker(db: &impl ConnectionTrait, worker: &str) -> Result<u64, ApiError> {
    let done = jobs::Entity::update_many()
        .col_expr(jobs::Column::State, Expr::value(JobState::Queued))
        .col_expr(jobs::Column::LeaseUntil, Expr::value(Option::<i64>::None))
        .col_expr(jobs::Column::Worker, Expr::value(Option::<String>::None))
        .col_expr(
            jobs::Column::Attempts,
            Expr::col(jobs::Column::Attempts).sub(1),
        )
        .filter(jobs::Column::Worker.eq(worker))
        .filter(jobs::Column::State.eq(JobState::Running))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

/// Jobs by state: (queued, running, failed).
pub async fn depth(db: &impl ConnectionTrait) -> Result<(u64, u64, u64), ApiError> {
    let count = |state| {
        jobs::Entity::find()
            .filter(jobs::Column::State.eq(state))
            .count(db)
    };
    Ok((
        count(JobState::Queued).await?,
        count(JobState::Running).await?,
        count(JobState::Failed).await?,
    ))
}

/// Queue every given-up job again, due at once, its failures forgotten.
pub async fn retry_failed(db: &impl ConnectionTrait) -> Result<u64, ApiError> {
    let done = jobs::Entity::update_many()
        .col_expr(jobs::Column::State, Expr::value(JobState::Queued))
        .col_expr(jobs::Column::Failures, Expr::value(0))
        .col_expr(jobs::Column::RunAt, Expr::value(now_ms()))
        .filter(jobs::Column::State.eq(JobState::Failed))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}
