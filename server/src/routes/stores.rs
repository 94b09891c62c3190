//! Stores: HQ manages them (one by one or from a CSV file); managers and
//! auditors see those of their regions.

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use storecheck_shared::org::{NewStore, Page, Store, StoreImport, StorePatch};
use storecheck_shared::{ErrorBody, ErrorDetail, validate};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::check::{Check, checked, timezone};
use crate::db::stores::StoreFields;
use crate::db::{paging, regions, stores};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
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

/// Check every field of a store but its region.
fn check_store(check: &mut Check, s: NewStore) -> Option<StoreFields> {
    let code = check.field("code", validate::store_code(&s.code));
    let name = check.field("name", validate::text(&s.name, 200));
    let address = check.field("address", validate::text(&s.address, 500));
    let latitude = check.field("latitude", validate::latitude(s.latitude));
    let longitude = check.field("longitude", validate::longitude(s.longitude));
    let timezone = check.field("timezone", timezone(&s.timezone));
    Some(StoreFields {
        code: code?,
        name: name?,
        address: address?,
        latitude: latitude?,
        longitude: longitude?,
        timezone: timezone?,
        region_id: s.region_id,
    })
}

async fn check_region(state: &AppState, check: &mut Check, region: Uuid) -> ApiResult<()> {
    if !regions::missing(&state.db, &[region]).await?.is_empty() {
        check.fail("region_id", "no such region");
    }
    Ok(())
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
    let mut check = Check::new();
    check_region(&state, &mut check, req.region_id).await?;
    let fields = check_store(&mut check, req);
    check.finish()?;
    let fields = checked(fields)?;
    let store = stores::create(&state.db, fields).await?;
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
    let merged = NewStore {
        code: req.code.unwrap_or_else(|| store.code.clone()),
        name: req.name.unwrap_or_else(|| store.name.clone()),
        address: req.address.unwrap_or_else(|| store.address.clone()),
        latitude: req.latitude.unwrap_or(store.latitude),
        longitude: req.longitude.unwrap_or(store.longitude),
        timezone: req.timezone.unwrap_or_else(|| store.timezone.clone()),
        region_id: req.region_id.unwrap_or(store.region_id),
    };
    let mut check = Check::new();
    if merged.region_id != store.region_id {
        check_region(&state, &mut check, merged.region_id).await?;
    }
    let fields = check_store(&mut check, merged);
    check.finish()?;
    let fields = checked(fields)?;
    let txn = crate::db::begin_write(&state.db).await?;
    let store = stores::update(&txn, store, fields).await?;
    crate::db::sync::store_changed(&txn, store.id).await?;
    txn.commit().await?;
    Ok(Json(stores::to_wire(store)))
}

const IMPORT_COLUMNS: [&str; 7] = [
    "code",
    "name",
    "address",
    "latitude",
    "longitude",
    "timezone",
    "region_code",
];

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
    let rows = parse_csv(&bytes)?;

    // Look up regions and taken codes for the whole file at once.
    let codes: Vec<String> = rows
        .iter()
        .filter_map(|r| r.region_code.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let by_code: HashMap<String, Uuid> = regions::by_codes(&state.db, codes)
        .await?
        .into_iter()
        .map(|r| (r.code, r.id))
        .collect();
    let ids: Vec<Uuid> = rows
        .iter()
        .filter_map(|r| r.region_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let missing = regions::missing(&state.db, &ids).await?;
    let missing_ids: HashSet<Uuid> = missing.into_iter().map(|i| ids[i]).collect();
    let store_codes: Vec<String> = rows
        .iter()
        .filter_map(|r| r.fields.as_ref().map(|f| f.code.clone()))
        .collect();
    let taken: HashSet<String> = stores::existing_codes(&state.db, store_codes)
        .await?
        .into_iter()
        .collect();

    let mut errors: Vec<ErrorDetail> = rows.iter().flat_map(|r| r.errors.clone()).collect();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut fields = Vec::with_capacity(rows.len());
    for row in rows {
        let region = match (&row.region_code, row.region_id) {
            (Some(code), _) => match by_code.get(code) {
                Some(id) => Some(*id),
                None => {
                    errors.push(ErrorDetail::at_line(
                        row.line,
                        "region_code",
                        format!("no region with code {code:?}"),
                    ));
                    None
                }
            },
            (None, Some(id)) if missing_ids.contains(&id) => {
                errors.push(ErrorDetail::at_line(
                    row.line,
                    "region_id",
                    "no such region",
                ));
                None
            }
            (None, id) => id,
        };
        let Some(mut f) = row.fields else { continue };
        if taken.contains(&f.code) {
            errors.push(ErrorDetail::at_line(
                row.line,
                "code",
                format!("a store with code {:?} already exists", f.code),
            ));
        }
        if let Some(first) = seen.insert(f.code.clone(), row.line) {
            errors.push(ErrorDetail::at_line(
                row.line,
                "code",
                format!("code {:?} is also on line {first}", f.code),
            ));
        }
        if let Some(region) = region {
            f.region_id = region;
            fields.push(f);
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        let lines: HashSet<u64> = errors.iter().filter_map(|e| e.line).collect();
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_rows",
            format!("{} bad row(s); nothing was imported", lines.len()),
        )
        .with_details(errors));
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let created = stores::create_many(&txn, fields).await?;
    txn.commit().await?;
    tracing::info!(count = created.len(), "stores imported");
    Ok((
        StatusCode::CREATED,
        Json(StoreImport {
            imported: created.len() as u64,
            items: created.into_iter().map(stores::to_wire).collect(),
        }),
    ))
}

struct CsvRow {
    line: u64,
    fields: Option<StoreFields>,
    region_code: Option<String>,
    region_id: Option<Uuid>,
    errors: Vec<ErrorDetail>,
}

fn parse_csv(bytes: &[u8]) -> ApiResult<Vec<CsvRow>> {
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|_| ApiError::bad_request("invalid_csv", "the file is not UTF-8 text"))?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| {
            ApiError::bad_request(
                "invalid_csv",
                format!("the header line cannot be read: {e}"),
            )
        })?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    // A column named twice is ambiguous: which one holds the data?
    let twice: Vec<ErrorDetail> = header
        .iter()
        .enumerate()
        .filter(|(i, h)| !h.is_empty() && header[..*i].contains(h))
        .map(|(i, h)| {
            ErrorDetail::at_line(1, h.clone(), format!("column {} names {h:?} again", i + 1))
        })
        .collect();
    if !twice.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_rows",
            "the header line names a column twice",
        )
        .with_details(twice));
    }
    let col = |name: &str| header.iter().position(|h| h == name);
    let mut missing: Vec<ErrorDetail> = IMPORT_COLUMNS
        .iter()
        .filter(|c| **c != "region_code" && col(c).is_none())
        .map(|c| ErrorDetail::at_line(1, *c, "missing column"))
        .collect();
    if col("region_code").is_none() && col("region_id").is_none() {
        missing.push(ErrorDetail::at_line(
            1,
            "region_code",
            "missing column (region_code or region_id)",
        ));
    }
    if !missing.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_rows",
            "the header line lacks columns",
        )
        .with_details(missing));
    }
    let idx = |name: &str| col(name).unwrap_or(usize::MAX);
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            ApiError::bad_request("invalid_csv", format!("line {line} cannot be read: {e}"))
        })?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.iter().all(str::is_empty) {
            continue;
        }
        let get = |name: &str| record.get(idx(name)).unwrap_or("");
        let mut check = Check::new();
        // An unreadable number is reported here; 0 stands in for it so
        // that the range check below does not report it twice.
        let number = |check: &mut Check, name: &str| {
            let raw = get(name);
            check
                .field(
                    name,
                    raw.parse::<f64>()
                        .map_err(|_| format!("{raw:?} is not a number")),
                )
                .unwrap_or(0.0)
        };
        let latitude = number(&mut check, "latitude");
        let longitude = number(&mut check, "longitude");
        let (region_code, region_id) = match (col("region_code"), col("region_id")) {
            (Some(_), _) if !get("region_code").is_empty() => {
                (Some(get("region_code").to_owned()), None)
            }
            (_, Some(_)) if !get("region_id").is_empty() => (
                None,
                check.field(
                    "region_id",
                    Uuid::parse_str(get("region_id")).map_err(|_| "must be a UUID".to_owned()),
                ),
            ),
            _ => {
                check.fail("region_code", "must not be empty");
                (None, None)
            }
        };
        let fields = check_store(
            &mut check,
            NewStore {
                code: get("code").to_owned(),
                name: get("name").to_owned(),
                address: get("address").to_owned(),
                latitude,
                longitude,
                timezone: get("timezone").to_owned(),
                region_id: Uuid::nil(),
            },
        );
        let errors: Vec<ErrorDetail> = check
            .into_details()
            .into_iter()
            .map(|e| ErrorDetail::at_line(line, e.field, e.message))
            .collect();
        rows.push(CsvRow {
            line,
            fields: if errors.is_empty() { fields } else { None },
            region_code,
            region_id,
            errors,
        });
    }
    if rows.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_rows",
            "the file has no store rows",
        )
        .with_detail("body", "no rows after the header line"));
    }
    Ok(rows)
}
