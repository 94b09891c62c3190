//! Corrective actions (SPEC §8): managers follow their regions', HQ all.

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use serde::Deserialize;
use storecheck_shared::ErrorBody;
use storecheck_shared::org::Page;
use storecheck_shared::review::{ActionPatch, ActionStatus, ActionUpdated, CorrectiveAction};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::audits::actions;
use crate::auth::AuthUser;
use crate::db::{self, paging};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_actions))
        .routes(routes!(update_action))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ActionParams {
    pub store_id: Option<Uuid>,
    pub region_id: Option<Uuid>,
    pub status: Option<ActionStatus>,
    /// `true`: only those past their due date and not verified; `false`:
    /// only the others.
    pub overdue: Option<bool>,
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// Corrective actions the caller may see, with filters.
#[utoipa::path(get, path = "/api/v1/corrective-actions", tag = "review",
    params(ActionParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of corrective actions", body = Page<CorrectiveAction>),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Auditors do not follow corrective actions", body = ErrorBody),
        (status = 503, description = "The photo store cannot be reached to sign photo URLs", body = ErrorBody),
    ))]
async fn list_actions(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(p): ApiQuery<ActionParams>,
) -> ApiResult<Json<Page<CorrectiveAction>>> {
    if caller.role == storecheck_shared::Role::Auditor {
        return Err(ApiError::forbidden(
            "corrective actions are for regional managers and HQ",
        ));
    }
    let limit = paging::limit(p.limit)?;
    let after = paging::decode(p.cursor.as_deref())?;
    let today = Utc::now().date_naive();
    let f = db::actions::Filter {
        store_id: p.store_id,
        region_id: p.region_id,
        status: p.status.map(Into::into),
        overdue: p.overdue,
        today: Some(today),
    };
    let rows = db::actions::list(&state.db, &caller.scope(), f, after, limit).await?;
    let (rows, next_cursor) = paging::page(rows, limit, |a| a.id);
    let regions = actions::regions_of(&state.db, &rows).await?;
    let mut items = Vec::with_capacity(rows.len());
    for a in rows {
        items.push(actions::view(&state.storage, &regions, today, a).await?);
    }
    Ok(Json(Page { items, next_cursor }))
}

/// Resolve a corrective action (`status: resolved` with a `note`, and
/// optionally a `photo` of the fix: the reply carries the presigned URL to
/// PUT it to), take a resolution back (`status: open`), or move its due
/// date. `verified` comes only from the next approved audit of the store
/// that passes the standard; a verified action no longer changes (409).
#[utoipa::path(patch, path = "/api/v1/corrective-actions/{id}", tag = "review",
    params(("id" = Uuid, Path, description = "Corrective action id")),
    request_body = ActionPatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The action as changed", body = ActionUpdated),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Auditors cannot change corrective actions", body = ErrorBody),
        (status = 404, description = "No such action in the caller's scope", body = ErrorBody),
        (status = 409, description = "The action is verified already", body = ErrorBody),
        (status = 422, description = "A note missing, `verified` asked for, or a bad photo description", body = ErrorBody),
        (status = 503, description = "The photo store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    ))]
async fn update_action(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(p): ApiJson<ActionPatch>,
) -> ApiResult<Json<ActionUpdated>> {
    Ok(Json(
        actions::patch(&state.db, &state.storage, &caller, id, p).await?,
    ))
}
