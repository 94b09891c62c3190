//! Users and their regions.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use storecheck_shared::Role;
use storecheck_shared::org::User;
use uuid::Uuid;

use super::scope::{Scope, users_in_regions};
use crate::entities::{user_regions, users};
use crate::error::ApiError;

pub fn email_taken() -> ApiError {
    ApiError::conflict(
        "already_exists",
        "a user with this e-mail address already exists",
    )
    .with_detail("email", "already in use")
}

pub async fn by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<users::Model>, ApiError> {
    Ok(users::Entity::find()
        .filter(users::Column::Email.eq(email))
        .one(db)
        .await?)
}

pub struct Filter {
    pub role: Option<Role>,
    pub region_id: Option<Uuid>,
    pub disabled: Option<bool>,
    pub q: Option<String>,
}

/// Users the caller may see: HQ all; a regional manager themself and the
/// users who share one of their regions; an auditor only themself.
pub async fn list(
    db: &impl ConnectionTrait,
    scope: &Scope,
    filter: Filter,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<User>, ApiError> {
    let mut q = users::Entity::find()
        .filter(scope.by_user(users::Column::Id))
        .order_by_asc(users::Column::Id);
    if let Some(role) = filter.role {
        q = q.filter(users::Column::Role.eq(role.as_str()));
    }
    if let Some(region) = filter.region_id {
        q = q.filter(users::Column::Id.in_subquery(users_in_regions(vec![region])));
    }
    if let Some(disabled) = filter.disabled {
        q = q.filter(users::Column::Disabled.eq(disabled));
    }
    if let Some(text) = filter.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        q = q.filter(
            Expr::expr(Func::lower(Expr::col(users::Column::Email)))
                .like(super::stores::contains_pattern(text)),
        );
    }
    if let Some(after) = after {
        q = q.filter(users::Column::Id.gt(after));
    }
    let rows = q.limit(limit + 1).all(db).await?;
    with_regions(db, rows).await
}

/// E-mail addresses of users by id (any number), for display.
pub async fn emails(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, String>, ApiError> {
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(super::IN_CHUNK) {
        let rows: Vec<(Uuid, String)> = users::Entity::find()
            .select_only()
            .column(users::Column::Id)
            .column(users::Column::Email)
            .filter(users::Column::Id.is_in(chunk.to_vec()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

/// Attach each user's regions (one query for the lot).
pub async fn with_regions(
    db: &impl ConnectionTrait,
    rows: Vec<users::Model>,
) -> Result<Vec<User>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|u| u.id).collect();
    let mut regions: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    if !ids.is_empty() {
        for link in user_regions::Entity::find()
            .filter(user_regions::Column::UserId.is_in(ids))
            .order_by_asc(user_regions::Column::RegionId)
            .all(db)
            .await?
        {
            regions
                .entry(link.user_id)
                .or_default()
                .push(link.region_id);
        }
    }
    rows.into_iter()
        .map(|u| {
            let r = regions.remove(&u.id).unwrap_or_default();
            to_wire(u, r)
        })
        .collect()
}

/// A user the caller may see (404 otherwise).
pub async fn visible(db: &impl ConnectionTrait, scope: &Scope, id: Uuid) -> Result<User, ApiError> {
    let Some(model) = users::Entity::find_by_id(id)
        .filter(scope.by_user(users::Column::Id))
        .one(db)
        .await?
    else {
        return Err(ApiError::not_found("user"));
    };
    with_regions(db, vec![model])
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found("user"))
}

pub async fn create(
    db: &impl ConnectionTrait,
    email: String,
    password_hash: String,
    role: Role,
    region_ids: Vec<Uuid>,
) -> Result<User, ApiError> {
    let now = Utc::now();
    let id = Uuid::now_v7();
    let model = users::ActiveModel {
        id: Set(id),
        email: Set(email),
        password_hash: Set(password_hash),
        role: Set(role.as_str().to_owned()),
        disabled: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|e| super::unique_or(e, email_taken))?;
    set_regions(db, id, &region_ids).await?;
    to_wire(model, region_ids)
}

pub async fn set_regions(
    db: &impl ConnectionTrait,
    user: Uuid,
    region_ids: &[Uuid],
) -> Result<(), ApiError> {
    user_regions::Entity::delete_many()
        .filter(user_regions::Column::UserId.eq(user))
        .exec(db)
        .await?;
    if !region_ids.is_empty() {
        user_regions::Entity::insert_many(region_ids.iter().map(|r| user_regions::ActiveModel {
            user_id: Set(user),
            region_id: Set(*r),
        }))
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

pub struct Changes {
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

pub async fn update(db: &impl ConnectionTrait, id: Uuid, changes: Changes) -> Result<(), ApiError> {
    let Some(model) = users::Entity::find_by_id(id).one(db).await? else {
        return Err(ApiError::not_found("user"));
    };
    let mut a: users::ActiveModel = model.into();
    if let Some(e) = changes.email {
        a.email = Set(e);
    }
    if let Some(h) = changes.password_hash {
        a.password_hash = Set(h);
    }
    if let Some(r) = changes.role {
        a.role = Set(r.as_str().to_owned());
    }
    if let Some(d) = changes.disabled {
        a.disabled = Set(d);
    }
    a.updated_at = Set(Utc::now());
    a.update(db)
        .await
        .map_err(|e| super::unique_or(e, email_taken))?;
    Ok(())
}

/// A stored role; an unknown one is a server fault, not the client's.
pub fn role_of(user: Uuid, stored: &str) -> Result<Role, ApiError> {
    Role::parse(stored)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("user {user} has unknown role {stored}")))
}

pub fn to_wire(m: users::Model, region_ids: Vec<Uuid>) -> Result<User, ApiError> {
    let role = role_of(m.id, &m.role)?;
    Ok(User {
        id: m.id,
        email: m.email,
        role,
        region_ids,
        disabled: m.disabled,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}
