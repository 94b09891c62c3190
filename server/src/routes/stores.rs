//! Stores: HQ manages them (one by one or from a CSV file); managers and
//! auditors see those of their regions.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use storecheck_shared::ErrorBody;
use storecheck_shared::org::{NewStore, Page, Store, StoreImport, StorePatch};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::{paging, stores};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::org;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_stores, create_store))
        .routes(routes!(get_store, update_store))
        .routes(routes!(import_stores))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StoreParams {
    /// Only stores of this region.
    pub region_id: Option<Uuid>,
    /// Only stores whose code or name contains this text (any case).
    pub q: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// Stores the caller may see: all for HQ, those of their regions for others.
#[utoipa::path(
    get, path = "/api/v1/stores", tag = "organisation",
    params(StoreParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of stores", body = Page<Store>),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
    )
)]
async fn list_stores(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(p): ApiQuery<StoreParams>,
) -> ApiResult<Json<Page<Store>>> {
    let limit = paging::limit(p.limit)?;
    let after = paging::decode(p.cursor.as_deref())?;
    let filter = stores::Filter {
        region_id: p.region_id,
        q: p.q,
    };
    let rows = stores::list(&state.db, &caller.scope(), filter, after, limit).await?;
    let (rows, next_cursor) = paging::page(rows, limit, |s| s.id);
    Ok(Json(Page {
        items: rows.into_iter().map(stores::to_wire).collect(),
        next_cursor,
    }))
}

/// Create a store (HQ).
#[utoipa::path(
    post, path = "/api/v1/stores", tag = "organisation",
    request_body = NewStore,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = Store),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not HQ", body = ErrorBody),
        (status = 409, description = "Code already in use", body = ErrorBody),
        (status = 422, description = "Invalid values or unknown region", body = ErrorBody),
    )
)]
async fn create_store(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiJson(req): ApiJson<NewStore>,
) -> ApiResult<(StatusCode, Json<Store>)> {
    caller.require_hq()?;
    let store = org::stores::create(&state.db, req).await?;
    Ok((StatusCode::CREATED, Json(stores::to_wire(store))))
}

/// One store.
#[utoipa::path(
    get, path = "/api/v1/stores/{id}", tag = "organisation",
    params(("id" = Uuid, Path, description = "Store id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The store", body = Store),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such store in the caller's scope", body = ErrorBody),
    )
)]
async fn get_store(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Store>> {
    Ok(Json(stores::to_wire(
        stores::visible(&state.db, &caller.scope(), id).await?,
    )))
}

/// Change a store (HQ). Fields left out keep their values.
#[utoipa::path(
    patch, path = "/api/v1/stores/{id}", tag = "organisation",
    params(("id" = Uuid, Path, description = "Store id")),
    request_body = StorePatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed store", body = Store),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not HQ", body = ErrorBody),
        (status = 404, description = "No such store in the caller's scope", body = ErrorBody),
        (status = 409, description = "Code already in use", body = ErrorBody),
        (status = 422, description = "Invalid values or unknown region", body = ErrorBody),
    )
)]
async fn update_store(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<StorePatch>,
) -> ApiResult<Json<Store>> {
    let store = stores::visible(&state.db, &caller.scope(), id).await?;
    caller.require_hq()?;
    let store = org::stores::update(&state.db, &state.log, store, req).await?;
    Ok(Json(stores::to_wire(store)))
}

/// Import stores from a CSV file (HQ), all or nothing.
///
/// The header line names the columns `code,name,address,latitude,longitude,timezone,region_code`
/// (any order; `region_id` may stand in for `region_code`). If any row is bad,
/// nothing is stored and the reply lists every bad cell by line and column.
#[utoipa::path(
    post, path = "/api/v1/stores/import", tag = "organisation",
    request_body(content = String, content_type = "text/csv", description = "CSV with a header line"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Every row was stored", body = StoreImport),
        (status = 400, description = "Not readable as CSV", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not HQ", body = ErrorBody),
        (status = 409, description = "A code was taken while importing", body = ErrorBody),
        (status = 413, description = "File too large", body = ErrorBody),
        (status = 415, description = "Not text/csv", body = ErrorBody),
        (status = 422, description = "Bad rows, each listed with its line and column; nothing stored", body = ErrorBody),
    )
)]
async fn import_stores(
    State(state): State<AppState>,
    caller: AuthUser,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<StoreImport>)> {
    caller.require_hq()?;
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if !matches!(mime.as_deref(), Some("text/csv" | "application/csv")) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected a body with Content-Type: text/csv",
        ));
    }
    let limit = state.config.max_import_bytes;
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::payload_too_large(limit))?;
    let created = org::stores::import_csv(&state.db, bytes).await?;
    Ok((
        StatusCode::CREATED,
        Json(StoreImport {
            imported: created.len() as u64,
            items: created.into_iter().map(stores::to_wire).collect(),
        }),
    ))
}
