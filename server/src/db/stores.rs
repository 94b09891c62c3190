//! Stores.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use super::scope::Scope;
use crate::entities::stores;
use crate::error::ApiError;

/// A store's checked fields.
#[derive(Debug, Clone)]
pub struct StoreFields {
    pub code: String,
    pub name: String,
    pub address: String,
    pub latitude: f64,
    pub longitude: f64,
    pub timezone: String,
    pub region_id: Uuid,
}

pub fn code_taken(code: &str) -> ApiError {
    ApiError::conflict(
        "already_exists",
        format!("a store with code {code:?} already exists"),
    )
    .with_detail("code", "already in use")
}

/// Stores by id (any number of ids), in no particular order.
pub async fn by_ids(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<stores::Model>, ApiError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(super::IN_CHUNK) {
        out.extend(
            stores::Entity::find()
                .filter(stores::Column::Id.is_in(chunk.to_vec()))
                .all(db)
                .await?,
        );
    }
    Ok(out)
}

/// The store of the scope with this code, if any.
pub async fn by_code(
    db: &impl ConnectionTrait,
    scope: &Scope,
    code: &str,
) -> Result<Option<stores::Model>, ApiError> {
    Ok(stores::Entity::find()
        .filter(scope.by_region(stores::Column::RegionId))
        .filter(stores::Column::Code.eq(code))
        .one(db)
        .await?)
}

pub struct Filter {
    pub region_id: Option<Uuid>,
    pub q: Option<String>,
}

/// `%text%` for LIKE, with the wildcards in `text` taken literally.
pub fn contains_pattern(text: &str) -> LikeExpr {
    let escaped: String = text
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    LikeExpr::new(format!("%{escaped}%")).escape('\\')
}

pub async fn list(
    db: &impl ConnectionTrait,
    scope: &Scope,
    filter: Filter,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<stores::Model>, ApiError> {
    let mut q = stores::Entity::find()
        .filter(scope.by_region(stores::Column::RegionId))
        .order_by_asc(stores::Column::Id);
    if let Some(r) = filter.region_id {
        q = q.filter(stores::Column::RegionId.eq(r));
    }
    if let Some(text) = filter.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let pattern = contains_pattern(text);
        q = q.filter(
            Expr::expr(Func::lower(Expr::col(stores::Column::Code)))
                .like(pattern.clone())
                .or(Expr::expr(Func::lower(Expr::col(stores::Column::Name))).like(pattern)),
        );
    }
    if let Some(after) = after {
        q = q.filter(stores::Column::Id.gt(after));
    }
    Ok(q.limit(limit + 1).all(db).await?)
}

/// A store the caller may see (404 otherwise).
pub async fn visible(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> Result<stores::Model, ApiError> {
    stores::Entity::find_by_id(id)
        .filter(scope.by_region(stores::Column::RegionId))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("store"))
}

fn active(f: StoreFields) -> stores::ActiveModel {
    let now = Utc::now();
    stores::ActiveModel {
        id: Set(Uuid::now_v7()),
        code: Set(f.code),
        name: Set(f.name),
        address: Set(f.address),
        latitude: Set(f.latitude),
        longitude: Set(f.longitude),
        timezone: Set(f.timezone),
        region_id: Set(f.region_id),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

pub async fn create(db: &impl ConnectionTrait, f: StoreFields) -> Result<stores::Model, ApiError> {
    let code = f.code.clone();
    active(f)
        .insert(db)
        .await
        .map_err(|e| super::unique_or(e, || code_taken(&code)))
}

/// Insert many stores (inside the caller's transaction).
pub async fn create_many(
    db: &impl ConnectionTrait,
    rows: Vec<StoreFields>,
) -> Result<Vec<stores::Model>, ApiError> {
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(500) {
        let models: Vec<stores::ActiveModel> = chunk.iter().cloned().map(active).collect();
        let ids: Vec<Uuid> = models
            .iter()
            .filter_map(|m| m.id.try_as_ref().copied())
            .collect();
        stores::Entity::insert_many(models)
            .exec_without_returning(db)
            .await
            .map_err(|e| {
                super::unique_or(e, || {
                    ApiError::conflict(
                        "already_exists",
                        "a store code in the file was taken while importing; nothing was stored",
                    )
                })
            })?;
        out.extend(
            stores::Entity::find()
                .filter(stores::Column::Id.is_in(ids))
                .order_by_asc(stores::Column::Id)
                .all(db)
                .await?,
        );
    }
    Ok(out)
}

pub async fn update(
    db: &impl ConnectionTrait,
    store: stores::Model,
    f: StoreFields,
) -> Result<stores::Model, ApiError> {
    let mut a: stores::ActiveModel = store.into();
    let code = f.code.clone();
    a.code = Set(f.code);
    a.name = Set(f.name);
    a.address = Set(f.address);
    a.latitude = Set(f.latitude);
    a.longitude = Set(f.longitude);
    a.timezone = Set(f.timezone);
    a.region_id = Set(f.region_id);
    a.updated_at = Set(Utc::now());
    a.update(db)
        .await
        .map_err(|e| super::unique_or(e, || code_taken(&code)))
}

/// Which of `codes` are already used by stores.
pub async fn existing_codes(
    db: &impl ConnectionTrait,
    codes: Vec<String>,
) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::new();
    for chunk in codes.chunks(super::IN_CHUNK) {
        out.extend(
            stores::Entity::find()
                .filter(stores::Column::Code.is_in(chunk.to_vec()))
                .all(db)
                .await?
                .into_iter()
                .map(|s| s.code),
        );
    }
    Ok(out)
}

pub fn to_wire(m: stores::Model) -> storecheck_shared::org::Store {
    storecheck_shared::org::Store {
        id: m.id,
        code: m.code,
        name: m.name,
        address: m.address,
        latitude: m.latitude,
        longitude: m.longitude,
        timezone: m.timezone,
        region_id: m.region_id,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}
