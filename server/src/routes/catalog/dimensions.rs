//! Dimensions: the classes standards are sorted by (default: SERVQUAL's five).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use storecheck_shared::ErrorBody;
use storecheck_shared::catalog::{Dimension, DimensionPatch, NewDimension};
use storecheck_shared::org::Page;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::catalog::dimensions;
use crate::db::catalog as db;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_dimensions, create_dimension))
        .routes(routes!(get_dimension, update_dimension))
}

/// The dimensions standards are classified by (default: SERVQUAL's five).
#[utoipa::path(get, path = "/api/v1/dimensions", tag = "catalog",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every dimension, in report order", body = Page<Dimension>),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn list_dimensions(
    State(state): State<AppState>,
    _caller: AuthUser,
) -> ApiResult<Json<Page<Dimension>>> {
    let items = db::dimensions(&state.db)
        .await?
        .into_iter()
        .map(db::dimension_to_wire)
        .collect();
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

/// Add a dimension (HQ), for example one of the eleven determinants.
#[utoipa::path(post, path = "/api/v1/dimensions", tag = "catalog",
    request_body = NewDimension,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = Dimension),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not HQ", body = ErrorBody),
        (status = 409, description = "Code already in use", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
    ))]
async fn create_dimension(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiJson(req): ApiJson<NewDimension>,
) -> ApiResult<(StatusCode, Json<Dimension>)> {
    caller.require_hq()?;
    let d = dimensions::create(&state.db, req).await?;
    Ok((StatusCode::CREATED, Json(db::dimension_to_wire(d))))
}

/// One dimension.
#[utoipa::path(get, path = "/api/v1/dimensions/{id}", tag = "catalog",
    params(("id" = Uuid, Path, description = "Dimension id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The dimension", body = Dimension),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such dimension", body = ErrorBody),
    ))]
async fn get_dimension(
    State(state): State<AppState>,
    _caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Dimension>> {
    Ok(Json(db::dimension_to_wire(
        db::dimension(&state.db, id).await?,
    )))
}

/// Rename or reorder a dimension (HQ). Its code never changes.
#[utoipa::path(patch, path = "/api/v1/dimensions/{id}", tag = "catalog",
    params(("id" = Uuid, Path, description = "Dimension id")),
    request_body = DimensionPatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed dimension", body = Dimension),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not HQ", body = ErrorBody),
        (status = 404, description = "No such dimension", body = ErrorBody),
        (status = 422, description = "Invalid values", body = ErrorBody),
    ))]
async fn update_dimension(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<DimensionPatch>,
) -> ApiResult<Json<Dimension>> {
    let d = db::dimension(&state.db, id).await?;
    caller.require_hq()?;
    let d = dimensions::update(&state.db, d, req).await?;
    Ok(Json(db::dimension_to_wire(d)))
}
