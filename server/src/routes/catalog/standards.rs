//! Standards: the library of bilingual standards checklists are made of.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use storecheck_shared::ErrorBody;
use storecheck_shared::catalog::{Factor, NewStandard, Standard, StandardPatch};
use storecheck_shared::org::Page;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::catalog::standards;
use crate::db::{catalog as db, paging};
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_standards, create_standard))
        .routes(routes!(get_standard, update_standard))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StandardParams {
    pub dimension_id: Option<Uuid>,
    pub factor: Option<Factor>,
    pub retired: Option<bool>,
    /// Only standards whose code or text contains this.
    pub q: Option<String>,
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// The standards library.
#[utoipa::path(get, path = "/api/v1/standards", tag = "catalog",
    params(StandardParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of standards", body = Page<Standard>),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn list_standards(
    State(state): State<AppState>,
    _caller: AuthUser,
    ApiQuery(p): ApiQuery<StandardParams>,
) -> ApiResult<Json<Page<Standard>>> {
    let limit = paging::limit(p.limit)?;
    let after = paging::decode(p.cursor.as_deref())?;
    let f = db::StandardFilter {
        dimension_id: p.dimension_id,
        factor: p.factor,
        retired: p.retired,
        q: p.q,
    };
    let rows = db::list_standards(&state.db, f, after, limit).await?;
    let (rows, next_cursor) = paging::page(rows, limit, |s| s.id);
    let items = rows
        .into_iter()
        .map(db::standard_to_wire)
        .collect::<Result<_, _>>()?;
    Ok(Json(Page { items, next_cursor }))
}

/// Add a standard to the library (HQ).
#[utoipa::path(post, path = "/api/v1/standards", tag = "catalog",
    request_body = NewStandard,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = Standard),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not HQ", body = ErrorBody),
        (status = 409, description = "Code already in use", body = ErrorBody),
        (status = 422, description = "Invalid values or unknown dimension", body = ErrorBody),
    ))]
async fn create_standard(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiJson(req): ApiJson<NewStandard>,
) -> ApiResult<(StatusCode, Json<Standard>)> {
    caller.require_hq()?;
    let s = standards::create(&state.db, req).await?;
    Ok((StatusCode::CREATED, Json(db::standard_to_wire(s)?)))
}

/// One standard.
#[utoipa::path(get, path = "/api/v1/standards/{id}", tag = "catalog",
    params(("id" = Uuid, Path, description = "Standard id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The standard", body = Standard),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such standard", body = ErrorBody),
    ))]
async fn get_standard(
    State(state): State<AppState>,
    _caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Standard>> {
    Ok(Json(db::standard_to_wire(
        db::standard(&state.db, id).await?,
    )?))
}

/// Change or retire a standard (HQ). Published versions keep the text they
/// were published with.
#[utoipa::path(patch, path = "/api/v1/standards/{id}", tag = "catalog",
    params(("id" = Uuid, Path, description = "Standard id")),
    request_body = StandardPatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed standard", body = Standard),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not HQ", body = ErrorBody),
        (status = 404, description = "No such standard", body = ErrorBody),
        (status = 422, description = "Invalid values or unknown dimension", body = ErrorBody),
    ))]
async fn update_standard(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<StandardPatch>,
) -> ApiResult<Json<Standard>> {
    let s = db::standard(&state.db, id).await?;
    caller.require_hq()?;
    let s = standards::update(&state.db, s, req).await?;
    Ok(Json(db::standard_to_wire(s)?))
}
