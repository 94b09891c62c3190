//! Assignments: an auditor's visit to a store with a checklist version.

use chrono::{NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use storecheck_shared::Role;
use storecheck_shared::catalog::{Assignment, AssignmentStatus};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::entities::{assignments, stores};
use crate::error::ApiError;

#[derive(Default)]
pub struct Filter {
    pub store_id: Option<Uuid>,
    pub auditor_id: Option<Uuid>,
    pub region_id: Option<Uuid>,
    pub checklist_version_id: Option<Uuid>,
    pub status: Option<AssignmentStatus>,
}

/// Assignments the caller may see: HQ all, a manager those of stores in
/// their regions, an auditor their own.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    f: Filter,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<assignments::Model>, ApiError> {
    let mut q = assignments::Entity::find().order_by_asc(assignments::Column::Id);
    match caller.role {
        Role::Hq => {}
        Role::RegionalManager => {
            q = q.filter(
                assignments::Column::StoreId
                    .in_subquery(super::stores::ids_in_regions(caller.region_ids.clone())),
            )
        }
        Role::Auditor => q = q.filter(assignments::Column::AuditorId.eq(caller.id)),
    }
    if let Some(s) = f.store_id {
        q = q.filter(assignments::Column::StoreId.eq(s));
    }
    if let Some(a) = f.auditor_id {
        q = q.filter(assignments::Column::AuditorId.eq(a));
    }
    if let Some(r) = f.region_id {
        q = q.filter(
            assignments::Column::StoreId.in_subquery(super::stores::ids_in_regions(vec![r])),
        );
    }
    if let Some(v) = f.checklist_version_id {
        q = q.filter(assignments::Column::ChecklistVersionId.eq(v));
    }
    if let Some(s) = f.status {
        q = q.filter(assignments::Column::Status.eq(s.as_str()));
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

/// Every assignment in force for an auditor: what a first pull hands over.
pub async fn scheduled_for(
    db: &impl ConnectionTrait,
    auditor: Uuid,
) -> Result<Vec<assignments::Model>, ApiError> {
    Ok(assignments::Entity::find()
        .filter(assignments::Column::AuditorId.eq(auditor))
        .filter(assignments::Column::Status.eq(AssignmentStatus::Scheduled.as_str()))
        .order_by_asc(assignments::Column::Id)
        .all(db)
        .await?)
}

/// An assignment the caller may see (404 otherwise), with its store.
pub async fn visible(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    id: Uuid,
) -> Result<(assignments::Model, stores::Model), ApiError> {
    let not_found = || ApiError::not_found("assignment");
    let a = assignments::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    let store = stores::Entity::find_by_id(a.store_id)
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    let seen = match caller.role {
        Role::Hq => true,
        Role::RegionalManager => caller.region_ids.contains(&store.region_id),
        Role::Auditor => a.auditor_id == caller.id,
    };
    if seen {
        Ok((a, store))
    } else {
        Err(not_found())
    }
}

pub struct NewRow {
    pub store_id: Uuid,
    pub auditor_id: Uuid,
    pub checklist_version_id: Uuid,
    pub window_start: NaiveDate,
    pub window_end: NaiveDate,
    pub created_by: Option<Uuid>,
}

pub async fn create(db: &impl ConnectionTrait, r: NewRow) -> Result<assignments::Model, ApiError> {
    let now = Utc::now();
    let a = assignments::ActiveModel {
        id: Set(Uuid::now_v7()),
        store_id: Set(r.store_id),
        auditor_id: Set(r.auditor_id),
        checklist_version_id: Set(r.checklist_version_id),
        window_start: Set(r.window_start),
        window_end: Set(r.window_end),
        status: Set(AssignmentStatus::Scheduled.as_str().to_owned()),
        created_by: Set(r.created_by),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    super::sync::record(db, &[(a.auditor_id, super::sync::ASSIGNMENT, a.id)]).await?;
    Ok(a)
}

pub struct Changes {
    pub auditor_id: Option<Uuid>,
    pub window_start: NaiveDate,
    pub window_end: NaiveDate,
    pub status: Option<AssignmentStatus>,
}

pub async fn update(
    db: &impl ConnectionTrait,
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
        m.status = Set(s.as_str().to_owned());
    }
    m.updated_at = Set(Utc::now());
    let a = m.update(db).await?;
    // The auditor it moved away from learns that it is gone.
    let mut entries = vec![(a.auditor_id, super::sync::ASSIGNMENT, id)];
    if before != a.auditor_id {
        entries.push((before, super::sync::ASSIGNMENT, id));
    }
    super::sync::record(db, &entries).await?;
    Ok(a)
}

pub fn to_wire(m: assignments::Model) -> Result<Assignment, ApiError> {
    let status = AssignmentStatus::parse(&m.status).ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!(
            "assignment {} has unknown status {}",
            m.id,
            m.status
        ))
    })?;
    Ok(Assignment {
        id: m.id,
        store_id: m.store_id,
        auditor_id: m.auditor_id,
        checklist_version_id: m.checklist_version_id,
        window_start: m.window_start,
        window_end: m.window_end,
        status,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}
