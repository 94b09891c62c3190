//! Checklist drafts (HQ), their publication as immutable versions, and
//! loading the default catalog.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use storecheck_shared::ErrorBody;
use storecheck_shared::catalog::{
    Checklist, ChecklistUpdate, ChecklistVersion, NewChecklist, PublishRequest,
};
use storecheck_shared::org::Page;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::version_response;
use crate::auth::AuthUser;
use crate::catalog::checklists;
use crate::db::paging;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::regions::PageParams;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_checklists, create_checklist))
        .routes(routes!(get_checklist, replace_checklist))
        .routes(routes!(publish_checklist))
        .routes(routes!(import_default_catalog))
}

/// Checklist drafts (HQ).
#[utoipa::path(get, path = "/api/v1/checklists", tag = "catalog",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of checklists", body = Page<Checklist>),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not HQ", body = ErrorBody),
    ))]
async fn list_checklists(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<Checklist>>> {
    caller.require_hq()?;
    let limit = paging::limit(p.limit)?;
    let after = paging::decode(p.cursor.as_deref())?;
    Ok(Json(checklists::list(&state.db, after, limit).await?))
}

/// Start a checklist draft (HQ). Drafts may be incomplete; `publish` checks them.
#[utoipa::path(post, path = "/api/v1/checklists", tag = "catalog",
    request_body = NewChecklist,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = Checklist),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not HQ", body = ErrorBody),
        (status = 422, description = "Invalid name", body = ErrorBody),
    ))]
async fn create_checklist(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiJson(req): ApiJson<NewChecklist>,
) -> ApiResult<(StatusCode, Json<Checklist>)> {
    caller.require_hq()?;
    let c = checklists::create(&state.db, req).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// A checklist draft and its published versions (HQ).
#[utoipa::path(get, path = "/api/v1/checklists/{id}", tag = "catalog",
    params(("id" = Uuid, Path, description = "Checklist id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The checklist", body = Checklist),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not HQ", body = ErrorBody),
        (status = 404, description = "No such checklist", body = ErrorBody),
    ))]
async fn get_checklist(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Checklist>> {
    caller.require_hq()?;
    Ok(Json(checklists::get(&state.db, id).await?))
}

/// Replace a draft's sections and items (HQ). Published versions are not
/// touched; publish again to make a new version.
#[utoipa::path(put, path = "/api/v1/checklists/{id}", tag = "catalog",
    params(("id" = Uuid, Path, description = "Checklist id")),
    request_body = ChecklistUpdate,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed draft", body = Checklist),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not HQ", body = ErrorBody),
        (status = 404, description = "No such checklist", body = ErrorBody),
        (status = 422, description = "Invalid name", body = ErrorBody),
    ))]
async fn replace_checklist(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<ChecklistUpdate>,
) -> ApiResult<Json<Checklist>> {
    caller.require_hq()?;
    Ok(Json(checklists::replace(&state.db, id, req).await?))
}

/// Publish the draft as a new immutable version for a quarter (HQ). Every
/// rule of SPEC §3 is checked and every problem reported with its path;
/// nothing is stored unless all pass.
#[utoipa::path(post, path = "/api/v1/checklists/{id}/publish", tag = "catalog",
    params(("id" = Uuid, Path, description = "Checklist id")),
    request_body = PublishRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The published version", body = ChecklistVersion),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not HQ", body = ErrorBody),
        (status = 404, description = "No such checklist", body = ErrorBody),
        (status = 409, description = "Published concurrently; try again", body = ErrorBody),
        (status = 422, description = "The draft breaks publish rules (`checklist_invalid`, each problem with its path) or the quarter is invalid", body = ErrorBody),
    ))]
async fn publish_checklist(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<PublishRequest>,
) -> ApiResult<Response> {
    caller.require_hq()?;
    let v = checklists::publish(&state.db, id, &req.quarter, caller.id).await?;
    Ok(version_response(StatusCode::CREATED, &v.body, &v.etag))
}

/// Load the default catalog (SERVQUAL dimensions, the standards written
/// from the domain brief, and a draft checklist using them) into this
/// deployment (HQ). Existing entries with the same codes are kept as they are.
#[utoipa::path(post, path = "/api/v1/catalog/import-default", tag = "catalog",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What was added", body = crate::catalog::ImportReport),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not HQ", body = ErrorBody),
    ))]
async fn import_default_catalog(
    State(state): State<AppState>,
    caller: AuthUser,
) -> ApiResult<Json<crate::catalog::ImportReport>> {
    caller.require_hq()?;
    let report = crate::catalog::import_default_committed(&state.db).await?;
    Ok(Json(report))
}
