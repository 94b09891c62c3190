//! Assignments: an auditor's visit to a store with a checklist version.

use chrono::{NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use storecheck_shared::catalog::Assignment;
use uuid::Uuid;

use super::scope::{Scope, stores_in_regions};
use super::sync::LogHead;
use crate::entities::enums::{AssignmentStatus, ChangeEntity};
use crate::entities::{assignment_holders, assignments, stores};
use crate::error::ApiError;

#[derive(Default)]
pub struct Filter {
    pub store_id: Option<Uuid>,
    pub auditor_id: Option<Uuid>,
    pub region_id: Option<Uuid>,
    pub checklist_version_id: Option<Uuid>,
    pub status: Option<storecheck_shared::catalog::AssignmentStatus>,
}

/// Assignments the caller may see: HQ all, a manager those of stores in
/// their regions, an auditor their own.
pub async fn list(
    db: &impl ConnectionTrait,
    scope: &Scope,
    f: Filter,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<assignments::Model>, ApiError> {
    let mut q = assignments::Entity::find()
        .filter(in_scope(scope))
        .order_by_asc(assignments::Column::Id);
    if let Some(s) = f.store_id {
        q = q.filter(assignments::Column::StoreId.eq(s));
    }
    if let Some(a) = f.auditor_id {
        q = q.filter(assignments::Column::AuditorId.eq(a));
    }
    if let Some(r) = f.region_id {
        q = q.filter(assignments::Column::StoreId.in_subquery(stores_in_regions(vec![r])));
    }
    if let Some(v) = f.checklist_version_id {
        q = q.filter(assignments::Column::ChecklistVersionId.eq(v));
    }
    if let Some(s) = f.status {
        q = q.filter(assignments::Column::Status.eq(AssignmentStatus::from(s)));
    }
    if let Some(after) = after {
        q = q.filter(assignments::Column::Id.gt(after));
    }
    Ok(q.limit(limit + 1).all(db).await?)
}

/// Assignments by id (any number of ids), in no particular order.
pub async fn by_ids(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<assignments::Model>, ApiError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(super::IN_CHUNK) {
        out.extend(
            assignments::Entity::find()
                .filter(assignments::Column::Id.is_in(chunk.to_vec()))
                .all(db)
                .await?,
        );
    }
    Ok(out)
}

/// The assignments in force for an auditor with their stores, by id after
/// `after`, at most `limit + 1`: what a first pull hands over, page by page.
pub async fn scheduled_for(
    db: &impl ConnectionTrait,
    auditor: Uuid,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<(assignments::Model, Option<stores::Model>)>, ApiError> {
    let mut q = assignments::Entity::find()
        .find_also_related(stores::Entity)
        .filter(assignments::Column::AuditorId.eq(auditor))
        .filter(assignments::Column::Status.eq(AssignmentStatus::Scheduled));
    if let Some(after) = after {
        q = q.filter(assignments::Column::Id.gt(after));
    }
    Ok(q.order_by_asc(assignments::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?)
}

/// Which of these assignments the auditor held at some time.
pub async fn held_by(
    db: &impl ConnectionTrait,
    auditor: Uuid,
    ids: &[Uuid],
) -> Result<std::collections::HashSet<Uuid>, ApiError> {
    let mut out = std::collections::HashSet::new();
    for chunk in ids.chunks(super::IN_CHUNK) {
        let rows: Vec<Uuid> = assignment_holders::Entity::find()
            .select_only()
            .column(assignment_holders::Column::AssignmentId)
            .filter(assignment_holders::Column::AuditorId.eq(auditor))
            .filter(assignment_holders::Column::AssignmentId.is_in(chunk.to_vec()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

/// Remember that an auditor holds an assignment (kept for good).
async fn record_holder(
    db: &impl ConnectionTrait,
    assignment: Uuid,
    auditor: Uuid,
) -> Result<(), ApiError> {
    assignment_holders::Entity::insert(assignment_holders::ActiveModel {
        assignment_id: Set(assignment),
        auditor_id: Set(auditor),
        since: Set(Utc::now()),
    })
    .on_conflict_do_nothing_on([
        assignment_holders::Column::AssignmentId,
        assignment_holders::Column::AuditorId,
    ])
    .exec_without_returning(db)
    .await?;
    Ok(())
}

fn in_scope(scope: &Scope) -> sea_orm::Condition {
    scope.by_store_or_auditor(assignments::Column::StoreId, assignments::Column::AuditorId)
}

fn in_scope_by_id(scope: &Scope, id: Uuid) -> sea_orm::Select<assignments::Entity> {
    assignments::Entity::find_by_id(id).filter(in_scope(scope))
}

/// An assignment the caller may see (404 otherwise).
pub async fn visible(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> Result<assignments::Model, ApiError> {
    in_scope_by_id(scope, id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("assignment"))
}

/// The same, read inside a write transaction and locked until it ends
/// (`FOR UPDATE` on PostgreSQL; SQLite's write transactions hold the whole
/// database), so that concurrent changes to it apply one after the other.
pub async fn visible_for_update(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> Result<assignments::Model, ApiError> {
    in_scope_by_id(scope, id)
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("assignment"))
}

pub struct NewRow {
    pub store_id: Uuid,
    pub auditor_id: Uuid,
    pub checklist_version_id: Uuid,
    pub window_start: NaiveDate,
    pub window_end: NaiveDate,
    pub created_by: Option<Uuid>,
}

pub async fn create(
    db: &impl ConnectionTrait,
    log: &LogHead,
    r: NewRow,
) -> Result<assignments::Model, ApiError> {
    let now = Utc::now();
    let a = assignments::ActiveModel {
        id: Set(Uuid::now_v7()),
        store_id: Set(r.store_id),
        auditor_id: Set(r.auditor_id),
        checklist_version_id: Set(r.checklist_version_id),
        window_start: Set(r.window_start),
        window_end: Set(r.window_end),
        status: Set(AssignmentStatus::Scheduled),
        created_by: Set(r.created_by),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    record_holder(db, a.id, a.auditor_id).await?;
    super::sync::record(db, log, &[(a.auditor_id, ChangeEntity::Assignment, a.id)]).await?;
    Ok(a)
}

pub struct Changes {
    pub auditor_id: Option<Uuid>,
    pub window_start: NaiveDate,
    pub window_end: NaiveDate,
    pub status: Option<AssignmentStatus>,
}

/// Change an assignment read with [`visible_for_update`] in the same
/// transaction; the auditors it concerns (the one it moves away from too)
/// get a change-log entry.
pub async fn update(
    db: &impl ConnectionTrait,
    log: &LogHead,
    a: assignments::Model,
    c: Changes,
) -> Result<assignments::Model, ApiError> {
    let before = a.auditor_id;
    let id = a.id;
    let mut m: assignments::ActiveModel = a.into();
    if let Some(u) = c.auditor_id {
        m.auditor_id = Set(u);
    }
    m.window_start = Set(c.window_start);
    m.window_end = Set(c.window_end);
    if let Some(s) = c.status {
        m.status = Set(s);
    }
    m.updated_at = Set(Utc::now());
    let a = m.update(db).await?;
    // The auditor it moved away from learns that it is gone.
    let mut entries = vec![(a.auditor_id, ChangeEntity::Assignment, id)];
    if before != a.auditor_id {
        record_holder(db, id, a.auditor_id).await?;
        entries.push((before, ChangeEntity::Assignment, id));
    }
    super::sync::record(db, log, &entries).await?;
    Ok(a)
}

pub fn to_wire(m: assignments::Model) -> Assignment {
    Assignment {
        id: m.id,
        store_id: m.store_id,
        auditor_id: m.auditor_id,
        checklist_version_id: m.checklist_version_id,
        window_start: m.window_start,
        window_end: m.window_end,
        status: m.status.into(),
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}
