//! Regions.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use super::scope::Scope;
use crate::entities::regions;
use crate::error::ApiError;

pub fn code_taken(code: &str) -> ApiError {
    ApiError::conflict(
        "already_exists",
        format!("a region with code {code:?} already exists"),
    )
    .with_detail("code", "already in use")
}

/// Regions the caller may see, by id, after `cursor`.
pub async fn list(
    db: &impl ConnectionTrait,
    scope: &Scope,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<regions::Model>, ApiError> {
    let mut q = regions::Entity::find()
        .filter(scope.by_region(regions::Column::Id))
        .order_by_asc(regions::Column::Id);
    if let Some(after) = after {
        q = q.filter(regions::Column::Id.gt(after));
    }
    Ok(q.limit(limit + 1).all(db).await?)
}

/// A region the caller may see (404 otherwise).
pub async fn visible(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> Result<regions::Model, ApiError> {
    regions::Entity::find_by_id(id)
        .filter(scope.by_region(regions::Column::Id))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("region"))
}

pub async fn create(
    db: &impl ConnectionTrait,
    code: String,
    name: String,
) -> Result<regions::Model, ApiError> {
    let now = Utc::now();
    regions::ActiveModel {
        id: Set(Uuid::now_v7()),
        code: Set(code.clone()),
        name: Set(name),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|e| super::unique_or(e, || code_taken(&code)))
}

pub async fn update(
    db: &impl ConnectionTrait,
    region: regions::Model,
    code: Option<String>,
    name: Option<String>,
) -> Result<regions::Model, ApiError> {
    let mut active: regions::ActiveModel = region.into();
    let new_code = code.clone();
    if let Some(c) = code {
        active.code = Set(c);
    }
    if let Some(n) = name {
        active.name = Set(n);
    }
    active.updated_at = Set(Utc::now());
    active
        .update(db)
        .await
        .map_err(|e| super::unique_or(e, || code_taken(new_code.as_deref().unwrap_or_default())))
}

/// Which of `ids` name no region, by position.
pub async fn missing(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<Vec<usize>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = std::collections::HashSet::new();
    for chunk in ids.chunks(super::IN_CHUNK) {
        found.extend(
            regions::Entity::find()
                .filter(regions::Column::Id.is_in(chunk.to_vec()))
                .all(db)
                .await?
                .into_iter()
                .map(|r| r.id),
        );
    }
    Ok(ids
        .iter()
        .enumerate()
        .filter(|(_, id)| !found.contains(id))
        .map(|(i, _)| i)
        .collect())
}

pub async fn by_codes(
    db: &impl ConnectionTrait,
    codes: Vec<String>,
) -> Result<Vec<regions::Model>, ApiError> {
    let mut out = Vec::new();
    for chunk in codes.chunks(super::IN_CHUNK) {
        out.extend(
            regions::Entity::find()
                .filter(regions::Column::Code.is_in(chunk.to_vec()))
                .all(db)
                .await?,
        );
    }
    Ok(out)
}

/// The codes of regions by id (any number), for display.
pub async fn codes(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, String>, ApiError> {
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(super::IN_CHUNK) {
        let rows: Vec<(Uuid, String)> = regions::Entity::find()
            .select_only()
            .column(regions::Column::Id)
            .column(regions::Column::Code)
            .filter(regions::Column::Id.is_in(chunk.to_vec()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

pub fn to_wire(m: regions::Model) -> storecheck_shared::org::Region {
    storecheck_shared::org::Region {
        id: m.id,
        code: m.code,
        name: m.name,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}
