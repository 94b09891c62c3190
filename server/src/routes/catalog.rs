//! The standards catalog (dimensions, standards), checklist drafts, and
//! their publication as immutable versions.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use sea_orm::{EntityTrait, Set};
use serde::Deserialize;
use storecheck_shared::catalog::{
    Checklist, ChecklistContent, ChecklistUpdate, ChecklistVersion, Dimension, DimensionPatch,
    Factor, NewChecklist, NewDimension, NewStandard, PublishRequest, Standard, StandardPatch,
};
use storecheck_shared::org::Page;
use storecheck_shared::quarter::Quarter;
use storecheck_shared::{ErrorBody, validate};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::check::{Check, checked};
use crate::db::{catalog as db, paging};
use crate::entities::{dimensions, standards};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::regions::PageParams;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_dimensions, create_dimension))
        .routes(routes!(get_dimension, update_dimension))
        .routes(routes!(list_standards, create_standard))
        .routes(routes!(get_standard, update_standard))
        .routes(routes!(list_checklists, create_checklist))
        .routes(routes!(get_checklist, replace_checklist))
        .routes(routes!(publish_checklist))
        .routes(routes!(get_version))
        .routes(routes!(import_default_catalog))
}

// ---- dimensions -------------------------------------------------------------

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
    let mut check = Check::new();
    let code = check.field("code", validate::dimension_code(&req.code));
    let zh = check.field("name_zh", validate::text(&req.name_zh, 200));
    let en = check.field("name_en", validate::text(&req.name_en, 200));
    check.finish()?;
    let d = db::create_dimension(
        &state.db,
        checked(code)?,
        checked(zh)?,
        checked(en)?,
        req.position,
    )
    .await?;
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
    let mut check = Check::new();
    let zh = check.optional("name_zh", req.name_zh, |v| validate::text(&v, 200));
    let en = check.optional("name_en", req.name_en, |v| validate::text(&v, 200));
    check.finish()?;
    let mut a: dimensions::ActiveModel = d.into();
    if let Some(v) = zh {
        a.name_zh = Set(v);
    }
    if let Some(v) = en {
        a.name_en = Set(v);
    }
    if let Some(p) = req.position {
        a.position = Set(p);
    }
    let d = sea_orm::ActiveModelTrait::update(a, &state.db).await?;
    Ok(Json(db::dimension_to_wire(d)))
}

// ---- standards --------------------------------------------------------------

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

async fn check_dimension(state: &AppState, check: &mut Check, id: Uuid) -> ApiResult<()> {
    if dimensions::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .is_none()
    {
        check.fail("dimension_id", "no such dimension");
    }
    Ok(())
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
    let mut check = Check::new();
    let code = check.field("code", validate::standard_code(&req.code));
    let tzh = check.field("text_zh", validate::text(&req.text_zh, 1000));
    let ten = check.field("text_en", validate::text(&req.text_en, 1000));
    let guide_zh = check.field(
        "guidance_zh",
        validate::optional_text(&req.guidance_zh, 4000),
    );
    let guide_en = check.field(
        "guidance_en",
        validate::optional_text(&req.guidance_en, 4000),
    );
    check_dimension(&state, &mut check, req.dimension_id).await?;
    check.finish()?;
    let code = checked(code)?;
    let now = Utc::now();
    let m = standards::ActiveModel {
        id: Set(Uuid::now_v7()),
        code: Set(code.clone()),
        dimension_id: Set(req.dimension_id),
        factor: Set(req.factor.as_str().to_owned()),
        text_zh: Set(checked(tzh)?),
        text_en: Set(checked(ten)?),
        guidance_zh: Set(checked(guide_zh)?),
        guidance_en: Set(checked(guide_en)?),
        retired: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let s = db::insert_standard(&state.db, m, &code).await?;
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
    let mut check = Check::new();
    let tzh = check.optional("text_zh", req.text_zh, |v| validate::text(&v, 1000));
    let ten = check.optional("text_en", req.text_en, |v| validate::text(&v, 1000));
    let guide_zh = check.optional("guidance_zh", req.guidance_zh, |v| {
        validate::optional_text(&v, 4000)
    });
    let guide_en = check.optional("guidance_en", req.guidance_en, |v| {
        validate::optional_text(&v, 4000)
    });
    if let Some(d) = req.dimension_id {
        check_dimension(&state, &mut check, d).await?;
    }
    check.finish()?;
    let mut a: standards::ActiveModel = s.into();
    if let Some(d) = req.dimension_id {
        a.dimension_id = Set(d);
    }
    if let Some(f) = req.factor {
        a.factor = Set(f.as_str().to_owned());
    }
    if let Some(v) = tzh {
        a.text_zh = Set(v);
    }
    if let Some(v) = ten {
        a.text_en = Set(v);
    }
    if let Some(v) = guide_zh {
        a.guidance_zh = Set(v);
    }
    if let Some(v) = guide_en {
        a.guidance_en = Set(v);
    }
    if let Some(r) = req.retired {
        a.retired = Set(r);
    }
    a.updated_at = Set(Utc::now());
    let s = sea_orm::ActiveModelTrait::update(a, &state.db).await?;
    Ok(Json(db::standard_to_wire(s)?))
}

// ---- checklists -------------------------------------------------------------

/// Checklists as the API shows them, with their versions (one query for all).
async fn checklists_wire(
    state: &AppState,
    rows: Vec<crate::entities::checklists::Model>,
) -> ApiResult<Vec<Checklist>> {
    let ids: Vec<Uuid> = rows.iter().map(|c| c.id).collect();
    let mut versions = db::versions_of(&state.db, &ids).await?;
    rows.into_iter()
        .map(|m| {
            let content = db::content_of(&m)?;
            Ok(Checklist {
                versions: versions.remove(&m.id).unwrap_or_default(),
                id: m.id,
                name: m.name,
                sections: content.sections,
                created_at: m.created_at,
                updated_at: m.updated_at,
            })
        })
        .collect()
}

async fn checklist_wire(
    state: &AppState,
    m: crate::entities::checklists::Model,
) -> ApiResult<Checklist> {
    checklists_wire(state, vec![m])
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("checklist vanished")))
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
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
    let limit = paging::limit(p.limit)?;
    let after = paging::decode(p.cursor.as_deref())?;
    let mut q = crate::entities::checklists::Entity::find()
        .order_by_asc(crate::entities::checklists::Column::Id);
    if let Some(a) = after {
        q = q.filter(crate::entities::checklists::Column::Id.gt(a));
    }
    let rows = q.limit(limit + 1).all(&state.db).await?;
    let (rows, next_cursor) = paging::page(rows, limit, |c| c.id);
    let items = checklists_wire(&state, rows).await?;
    Ok(Json(Page { items, next_cursor }))
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
    let mut check = Check::new();
    let name = check.field("name", validate::text(&req.name, 200));
    check.finish()?;
    let m = db::create_checklist(
        &state.db,
        checked(name)?,
        &ChecklistContent {
            sections: req.sections,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(checklist_wire(&state, m).await?)))
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
    let m = db::checklist(&state.db, id).await?;
    Ok(Json(checklist_wire(&state, m).await?))
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
    let m = db::checklist(&state.db, id).await?;
    let mut check = Check::new();
    let name = check.optional("name", req.name, |n| validate::text(&n, 200));
    check.finish()?;
    let m = db::replace_checklist(
        &state.db,
        m,
        name,
        &ChecklistContent {
            sections: req.sections,
        },
    )
    .await?;
    Ok(Json(checklist_wire(&state, m).await?))
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
    let m = db::checklist(&state.db, id).await?;
    let quarter =
        Quarter::parse(&req.quarter).map_err(|e| ApiError::invalid_field("quarter", e))?;
    let txn = crate::db::begin_write(&state.db).await?;
    let v = db::publish(&txn, &m, quarter, Some(caller.id)).await?;
    txn.commit().await?;
    tracing::info!(checklist = %m.id, version = v.version, quarter = %v.quarter, "checklist published");
    Ok(version_response(StatusCode::CREATED, &v.body, &v.etag))
}

fn version_response(status: StatusCode, body: &str, etag: &str) -> Response {
    let body = if status == StatusCode::NOT_MODIFIED {
        axum::body::Body::empty()
    } else {
        axum::body::Body::from(body.to_owned())
    };
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(tag) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        h.insert(header::ETAG, tag);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    res
}

/// Whether `If-None-Match` names this entity tag. RFC 9110 §13.1.2: the
/// weak comparison, so `W/"tag"` matches too.
fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/").trim_matches('"') == etag)
}

/// A published checklist version: immutable, with a strong `ETag`
/// (`If-None-Match` answers 304) and `Cache-Control: immutable`. Visible to
/// HQ, to managers of regions with an assignment on it, and to auditors
/// with an assignment on it.
#[utoipa::path(get, path = "/api/v1/checklist-versions/{id}", tag = "catalog",
    params(
        ("id" = Uuid, Path, description = "Version id"),
        ("If-None-Match" = Option<String>, Header, description = "ETag of a copy the client has"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The version", body = ChecklistVersion),
        (status = 304, description = "The client's copy is current"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such version in the caller's scope", body = ErrorBody),
    ))]
async fn get_version(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Some(v) = state.versions.published(&state.db, id).await? else {
        return Err(ApiError::not_found("checklist version"));
    };
    if !db::version_visible(&state.db, &caller.scope(), v.id).await? {
        return Err(ApiError::not_found("checklist version"));
    }
    if matches_etag(&headers, &v.etag) {
        let mut res = version_response(StatusCode::NOT_MODIFIED, &v.body, &v.etag);
        res.headers_mut().remove(header::CONTENT_TYPE);
        return Ok(res);
    }
    Ok(version_response(StatusCode::OK, &v.body, &v.etag))
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
    let txn = crate::db::begin_write(&state.db).await?;
    let report = crate::catalog::import_default(&txn).await?;
    txn.commit().await?;
    Ok(Json(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_matching() {
        let mut h = HeaderMap::new();
        assert!(!matches_etag(&h, "abc"));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", \"abc\""),
        );
        assert!(matches_etag(&h, "abc"));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("W/\"abc\""));
        assert!(matches_etag(&h, "abc"), "If-None-Match compares weakly");
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("W/\"abd\""));
        assert!(!matches_etag(&h, "abc"));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(matches_etag(&h, "abc"));
    }
}
