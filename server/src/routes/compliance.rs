//! Compliance for regional managers (their regions) and HQ (all): per
//! store, per region, per standard, and the quarter's downloads (SPEC §5, §9);
//! and the organisation's compliance settings.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};
use storecheck_shared::ErrorBody;
use storecheck_shared::compliance::{
    Band, ComplianceSettings, ItemFailure, RegionCompliance, StoreCompliance,
};
use storecheck_shared::quarter::Quarter;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::compliance::{Quarterly, Selection, export};
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(stores))
        .routes(routes!(regions))
        .routes(routes!(items))
        .routes(routes!(summary_csv))
        .routes(routes!(summary_xlsx))
        .routes(routes!(get_settings, update_settings))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StoreParams {
    /// `YYYY-Qn`
    pub quarter: String,
    pub region_id: Option<Uuid>,
    pub band: Option<Band>,
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QuarterParams {
    /// `YYYY-Qn`
    pub quarter: String,
    pub region_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// `YYYY-Qn`
    pub quarter: String,
    pub region_id: Option<Uuid>,
    pub band: Option<Band>,
}

fn quarter(q: &str) -> Result<Quarter, ApiError> {
    Quarter::parse(q)
        .map_err(|e| ApiError::bad_request("invalid_query", e.clone()).with_detail("quarter", e))
}

/// Where a page of stores resumes: after this store of this region.
fn bad_cursor() -> ApiError {
    ApiError::bad_request("invalid_query", "the cursor is not one this server gave")
        .with_detail("cursor", "not a cursor from a previous page")
}

fn decode_cursor(c: &str) -> Result<(Uuid, Uuid), ApiError> {
    let bad = bad_cursor;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (r, s) = text.split_once(':').ok_or_else(bad)?;
    Ok((r.parse().map_err(|_| bad())?, s.parse().map_err(|_| bad())?))
}

fn encode_cursor(region: Uuid, store: Uuid) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{region}:{store}"))
}

/// Per store: audits counted, score, band, critical flag, dimension
/// scores and gaps to the target, trend against the previous quarter, rank
/// within the region. Only approved audits count; stores without one are
/// listed as `not_audited`. Ordered by region code, then store code.
#[utoipa::path(get, path = "/api/v1/compliance/stores", tag = "compliance",
    params(StoreParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of stores", body = storecheck_shared::org::Page<StoreCompliance>),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Auditors do not see compliance", body = ErrorBody),
        (status = 404, description = "No such region in the caller's scope", body = ErrorBody),
    ))]
async fn stores(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(p): ApiQuery<StoreParams>,
) -> ApiResult<Json<storecheck_shared::org::Page<StoreCompliance>>> {
    let limit = usize::try_from(db::paging::limit(p.limit)?).unwrap_or(500);
    let after = p.cursor.as_deref().map(decode_cursor).transpose()?;
    let (snap, q) = snapshot(&state, &caller, &p.quarter, p.region_id, p.band).await?;
    let start = match after {
        None => 0,
        Some((region, _)) => q
            .regions
            .iter()
            .position(|r| r.id == region)
            .ok_or_else(bad_cursor)?,
    };
    let mut items: Vec<StoreCompliance> = Vec::with_capacity(limit + 1);
    for region in &q.regions[start..] {
        let rows = q.region_stores(&snap, region).await?;
        let skip = match after {
            Some((r, store)) if r == region.id => rows
                .iter()
                .position(|x| x.store_id == store)
                .map_or(0, |i| i + 1),
            _ => 0,
        };
        items.extend(rows.into_iter().skip(skip).filter(|r| q.wanted(r)));
        if items.len() > limit {
            break;
        }
    }
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|r| encode_cursor(r.region_id, r.store_id))
    } else {
        None
    };
    Ok(Json(storecheck_shared::org::Page { items, next_cursor }))
}

/// Per region: stores per band, the mean of the audited stores' scores,
/// and the mean of their dimension scores with the gap to the target.
#[utoipa::path(get, path = "/api/v1/compliance/regions", tag = "compliance",
    params(QuarterParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every region in the caller's scope", body = RegionList),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Auditors do not see compliance", body = ErrorBody),
        (status = 404, description = "No such region in the caller's scope", body = ErrorBody),
    ))]
async fn regions(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(p): ApiQuery<QuarterParams>,
) -> ApiResult<Json<RegionList>> {
    let (snap, q) = snapshot(&state, &caller, &p.quarter, p.region_id, None).await?;
    let mut items = Vec::with_capacity(q.regions.len());
    for region in &q.regions {
        let rows = q.region_stores(&snap, region).await?;
        items.push(q.region_row(region, &rows));
    }
    Ok(Json(RegionList {
        quarter: q.quarter.to_string(),
        items,
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegionList {
    pub quarter: String,
    pub items: Vec<RegionCompliance>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ItemList {
    pub quarter: String,
    /// Most-failed first.
    pub items: Vec<ItemFailure>,
}

/// How often each standard failed in the quarter's approved audits,
/// most-failed first; items of different checklist versions count as one
/// standard when they share its code.
#[utoipa::path(get, path = "/api/v1/compliance/items", tag = "compliance",
    params(QuarterParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Failure rate per standard", body = ItemList),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Auditors do not see compliance", body = ErrorBody),
        (status = 404, description = "No such region in the caller's scope", body = ErrorBody),
    ))]
async fn items(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(p): ApiQuery<QuarterParams>,
) -> ApiResult<Json<ItemList>> {
    let (snap, q) = snapshot(&state, &caller, &p.quarter, p.region_id, None).await?;
    let items = q.items(&snap, &state.versions, &caller.scope()).await?;
    Ok(Json(ItemList {
        quarter: q.quarter.to_string(),
        items,
    }))
}

fn download(content_type: &'static str, name: &str, body: Body) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// The snapshot a read or download is made in, and what it is about.
pub(crate) async fn snapshot(
    state: &AppState,
    caller: &AuthUser,
    quarter_text: &str,
    region_id: Option<Uuid>,
    band: Option<Band>,
) -> ApiResult<(sea_orm::DatabaseTransaction, Quarterly)> {
    let sel = Selection {
        quarter: quarter(quarter_text)?,
        region_id,
        band,
    };
    let snap = db::begin_snapshot(&state.db).await?;
    let q = Quarterly::load(&snap, &caller.scope(), &sel).await?;
    Ok((snap, q))
}

/// The quarter's summary as CSV, one row per store (region, store, audits
/// counted, score, band, critical, each dimension's score and gap, previous
/// score, trend, rank), scores in points with two decimals. Streamed as it
/// is computed; texts that a spreadsheet would run as a formula start with `'`.
#[utoipa::path(get, path = "/api/v1/compliance/summary.csv", tag = "compliance",
    params(ExportParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The summary", content_type = "text/csv", body = String),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Auditors do not see compliance", body = ErrorBody),
        (status = 404, description = "No such region in the caller's scope", body = ErrorBody),
    ))]
async fn summary_csv(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(p): ApiQuery<ExportParams>,
) -> ApiResult<Response> {
    csv_download(&state, &caller, &p).await
}

/// The CSV download (for the API and the console).
pub(crate) async fn csv_download(
    state: &AppState,
    caller: &AuthUser,
    p: &ExportParams,
) -> ApiResult<Response> {
    let (snap, q) = snapshot(state, caller, &p.quarter, p.region_id, p.band).await?;
    let name = export::file_name(&q, "csv");
    let rx = export::csv(snap, q);
    Ok(download(
        "text/csv; charset=utf-8",
        &name,
        Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx)),
    ))
}

/// The quarter's summary as an Excel workbook: the store rows of
/// `summary.csv` (scores as numbers, bands coloured), a sheet per region
/// roll-up and one of the item analysis; bold frozen headers, autofilter.
#[utoipa::path(get, path = "/api/v1/compliance/summary.xlsx", tag = "compliance",
    params(ExportParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Auditors do not see compliance", body = ErrorBody),
        (status = 404, description = "No such region in the caller's scope", body = ErrorBody),
    ))]
async fn summary_xlsx(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(p): ApiQuery<ExportParams>,
) -> ApiResult<Response> {
    xlsx_download(&state, &caller, &p).await
}

/// The workbook download (for the API and the console).
pub(crate) async fn xlsx_download(
    state: &AppState,
    caller: &AuthUser,
    p: &ExportParams,
) -> ApiResult<Response> {
    let (snap, q) = snapshot(state, caller, &p.quarter, p.region_id, p.band).await?;
    let name = export::file_name(&q, "xlsx");
    let file = export::xlsx(&snap, &state.versions, &caller.scope(), &q).await?;
    drop(snap);
    // The open file stays readable after the name is gone.
    let handle = tokio::fs::File::from_std(
        file.reopen()
            .map_err(|e| ApiError::internal(anyhow::anyhow!("xlsx file: {e}")))?,
    );
    drop(file);
    Ok(download(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &name,
        Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(
            export::file_chunks(handle),
        )),
    ))
}

/// Band thresholds, the target and the corrective actions' due time.
#[utoipa::path(get, path = "/api/v1/settings/compliance", tag = "compliance",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The settings (scores in hundredths)", body = ComplianceSettings),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Auditors do not see compliance", body = ErrorBody),
    ))]
async fn get_settings(
    State(state): State<AppState>,
    caller: AuthUser,
) -> ApiResult<Json<ComplianceSettings>> {
    if caller.role == storecheck_shared::Role::Auditor {
        return Err(ApiError::forbidden(
            "compliance is for regional managers and HQ",
        ));
    }
    Ok(Json(db::review::settings(&state.db).await?))
}

/// Change the settings (HQ). Every figure uses them from the next read.
#[utoipa::path(put, path = "/api/v1/settings/compliance", tag = "compliance",
    request_body = ComplianceSettings,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The settings as stored", body = ComplianceSettings),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not HQ", body = ErrorBody),
        (status = 422, description = "A value out of range, or thresholds not rising", body = ErrorBody),
    ))]
async fn update_settings(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiJson(s): ApiJson<ComplianceSettings>,
) -> ApiResult<Json<ComplianceSettings>> {
    caller.require_hq()?;
    let problems = s.problems();
    if !problems.is_empty() {
        return Err(ApiError::validation(
            problems
                .into_iter()
                .map(|(f, m)| storecheck_shared::ErrorDetail::new(f, m))
                .collect(),
        ));
    }
    db::review::save_settings(&state.db, &s, caller.id).await?;
    Ok(Json(db::review::settings(&state.db).await?))
}
