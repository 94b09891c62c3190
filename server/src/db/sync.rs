//! The change log phones pull from.
//!
//! Every transaction that changes what an auditor must see bumps one
//! counter row and stamps its log entries with the numbers it got. The
//! counter row is locked until that transaction ends, so numbers are handed
//! out in commit order: once a reader sees the counter at N, every entry up
//! to N is committed and visible, and a cursor never skips one.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use crate::entities::enums::{AssignmentStatus, ChangeEntity};
use crate::entities::{assignments, sync_changes, sync_counter};
use crate::error::ApiError;

/// Record that `entity`s changed for auditors, inside the caller's transaction.
pub async fn record(
    db: &impl ConnectionTrait,
    entries: &[(Uuid, ChangeEntity, Uuid)],
) -> Result<(), ApiError> {
    if entries.is_empty() {
        return Ok(());
    }
    let n = i64::try_from(entries.len()).unwrap_or(i64::MAX);
    sync_counter::Entity::update_many()
        .col_expr(
            sync_counter::Column::Value,
            Expr::col(sync_counter::Column::Value).add(n),
        )
        .filter(sync_counter::Column::Id.eq(1))
        .exec(db)
        .await?;
    let last = current(db).await?;
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

/// The highest sequence number handed out and committed.
pub async fn current(db: &impl ConnectionTrait) -> Result<i64, ApiError> {
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
pub async fn store_changed(db: &impl ConnectionTrait, store: Uuid) -> Result<(), ApiError> {
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
    record(db, &entries).await
}
