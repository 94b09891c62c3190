//! Regions: HQ manages them; managers and auditors see their own.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use storecheck_shared::ErrorBody;
use storecheck_shared::org::{NewRegion, Page, Region, RegionPatch};
use storecheck_shared::validate;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::check::{Check, checked};
use crate::db::{paging, regions};
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_regions, create_region))
        .routes(routes!(get_region, update_region))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// Regions the caller may see: all for HQ, their own for others.
#[utoipa::path(
    get, path = "/api/v1/regions", tag = "organisation",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of regions", body = Page<Region>),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
    )
)]
async fn list_regions(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<Region>>> {
    let limit = paging::limit(p.limit)?;
    let after = paging::decode(p.cursor.as_deref())?;
    let rows = regions::list(&state.db, &caller.scope(), after, limit).await?;
    let (rows, next_cursor) = paging::page(rows, limit, |r| r.id);
    Ok(Json(Page {
        items: rows.into_iter().map(regions::to_wire).collect(),
        next_cursor,
    }))
}

/// Create a region (HQ).
#[utoipa::path(
    post, path = "/api/v1/regions", tag = "organisation",
    request_body = NewRegion,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = Region),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not HQ", body = ErrorBody),
        (status = 409, description = "Code already in use", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
    )
)]
async fn create_region(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiJson(req): ApiJson<NewRegion>,
) -> ApiResult<(StatusCode, Json<Region>)> {
    caller.require_hq()?;
    let mut check = Check::new();
    let code = check.field("code", validate::region_code(&req.code));
    let name = check.field("name", validate::text(&req.name, 200));
    check.finish()?;
    let region = regions::create(&state.db, checked(code)?, checked(name)?).await?;
    Ok((StatusCode::CREATED, Json(regions::to_wire(region))))
}

/// One region.
#[utoipa::path(
    get, path = "/api/v1/regions/{id}", tag = "organisation",
    params(("id" = Uuid, Path, description = "Region id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The region", body = Region),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such region in the caller's scope", body = ErrorBody),
    )
)]
async fn get_region(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Region>> {
    let region = regions::visible(&state.db, &caller.scope(), id).await?;
    Ok(Json(regions::to_wire(region)))
}

/// Change a region's code or name (HQ).
#[utoipa::path(
    patch, path = "/api/v1/regions/{id}", tag = "organisation",
    params(("id" = Uuid, Path, description = "Region id")),
    request_body = RegionPatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed region", body = Region),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not HQ", body = ErrorBody),
        (status = 404, description = "No such region in the caller's scope", body = ErrorBody),
        (status = 409, description = "Code already in use", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
    )
)]
async fn update_region(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<RegionPatch>,
) -> ApiResult<Json<Region>> {
    let region = regions::visible(&state.db, &caller.scope(), id).await?;
    caller.require_hq()?;
    let mut check = Check::new();
    let code = check.optional("code", req.code, |c| validate::region_code(&c));
    let name = check.optional("name", req.name, |n| validate::text(&n, 200));
    check.finish()?;
    let region = regions::update(&state.db, region, code, name).await?;
    Ok(Json(regions::to_wire(region)))
}
