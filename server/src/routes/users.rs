//! Users: HQ manages them; managers see the users of their regions.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use storecheck_shared::org::{NewUser, Page, User, UserPatch};
use storecheck_shared::{ErrorBody, Role, validate};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::{AuthUser, hash_password};
use crate::check::{Check, checked};
use crate::db::session_cache::{Change, announce};
use crate::db::{paging, regions, sessions, users};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UserParams {
    pub role: Option<Role>,
    /// Only users of this region.
    pub region_id: Option<Uuid>,
    pub disabled: Option<bool>,
    /// Only users whose e-mail address contains this text.
    pub q: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// Users the caller may see: all for HQ; for a regional manager themself and
/// the users of their regions. Auditors may not list users.
#[utoipa::path(
    get, path = "/api/v1/users", tag = "organisation",
    params(UserParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of users", body = Page<User>),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Auditors may not list users", body = ErrorBody),
    )
)]
async fn list_users(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(p): ApiQuery<UserParams>,
) -> ApiResult<Json<Page<User>>> {
    if caller.role == Role::Auditor {
        return Err(ApiError::forbidden("auditors may not list users"));
    }
    let limit = paging::limit(p.limit)?;
    let after = paging::decode(p.cursor.as_deref())?;
    let filter = users::Filter {
        role: p.role,
        region_id: p.region_id,
        disabled: p.disabled,
        q: p.q,
    };
    let rows = users::list(&state.db, &caller.scope(), filter, after, limit).await?;
    let (items, next_cursor) = paging::page(rows, limit, |u| u.id);
    Ok(Json(Page { items, next_cursor }))
}

async fn check_regions(state: &AppState, check: &mut Check, ids: &[Uuid]) -> ApiResult<()> {
    for i in regions::missing(&state.db, ids).await? {
        check.fail(format!("region_ids[{i}]"), "no such region");
    }
    let mut sorted = ids.to_vec();
    sorted.sort();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        check.fail("region_ids", "lists a region twice");
    }
    Ok(())
}

/// Create a user (HQ).
#[utoipa::path(
    post, path = "/api/v1/users", tag = "organisation",
    request_body = NewUser,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = User),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not HQ", body = ErrorBody),
        (status = 409, description = "E-mail address already in use", body = ErrorBody),
        (status = 422, description = "Invalid values or unknown regions", body = ErrorBody),
    )
)]
async fn create_user(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiJson(req): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    caller.require_hq()?;
    let mut check = Check::new();
    let email = check.field("email", validate::email(&req.email));
    check.field("password", validate::password(&req.password));
    check_regions(&state, &mut check, &req.region_ids).await?;
    check.finish()?;
    let email = checked(email)?;
    let hash = hash_password(req.password).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let user = users::create(&txn, email, hash, req.role, req.region_ids).await?;
    txn.commit().await?;
    tracing::info!(user = %user.id, role = %user.role, "user created");
    Ok((StatusCode::CREATED, Json(user)))
}

/// One user.
#[utoipa::path(
    get, path = "/api/v1/users/{id}", tag = "organisation",
    params(("id" = Uuid, Path, description = "User id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such user in the caller's scope", body = ErrorBody),
    )
)]
async fn get_user(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<User>> {
    Ok(Json(users::visible(&state.db, &caller.scope(), id).await?))
}

/// Change a user (HQ): e-mail, password, role, regions, disabled. Disabling
/// a user or setting their password ends all their sessions at once.
#[utoipa::path(
    patch, path = "/api/v1/users/{id}", tag = "organisation",
    params(("id" = Uuid, Path, description = "User id")),
    request_body = UserPatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed user", body = User),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not HQ", body = ErrorBody),
        (status = 404, description = "No such user in the caller's scope", body = ErrorBody),
        (status = 409, description = "E-mail address in use, or an HQ user locking themself out", body = ErrorBody),
        (status = 422, description = "Invalid values or unknown regions", body = ErrorBody),
    )
)]
async fn update_user(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<UserPatch>,
) -> ApiResult<Json<User>> {
    let target = users::visible(&state.db, &caller.scope(), id).await?;
    caller.require_hq()?;
    if target.id == caller.id
        && (req.disabled == Some(true) || req.role.is_some_and(|r| r != Role::Hq))
    {
        return Err(ApiError::conflict(
            "self_lockout",
            "you may not disable yourself or give up your own hq role",
        ));
    }
    let mut check = Check::new();
    let email = check.optional("email", req.email, |e| validate::email(&e));
    if let Some(p) = &req.password {
        check.field("password", validate::password(p));
    }
    if let Some(ids) = &req.region_ids {
        check_regions(&state, &mut check, ids).await?;
    }
    check.finish()?;
    let password_hash = match req.password {
        Some(p) => Some(hash_password(p).await?),
        None => None,
    };
    let end_sessions = req.disabled == Some(true) || password_hash.is_some();
    let txn = crate::db::begin_write(&state.db).await?;
    users::update(
        &txn,
        id,
        users::Changes {
            email,
            password_hash,
            role: req.role,
            disabled: req.disabled,
        },
    )
    .await?;
    if let Some(ids) = &req.region_ids {
        users::set_regions(&txn, id, ids).await?;
    }
    if end_sessions {
        sessions::revoke_all(&txn, id, "account_changed").await?;
    } else {
        // Role, regions or email may have changed: servers reload the caller.
        announce(&txn, Change::User(id)).await?;
    }
    txn.commit().await?;
    state.sessions.forget_user(id);
    Ok(Json(users::visible(&state.db, &caller.scope(), id).await?))
}
