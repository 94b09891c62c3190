//! Assignments: HQ anywhere, regional managers within their regions;
//! auditors read their own.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use sea_orm::ConnectionTrait;
use serde::Deserialize;
use storecheck_shared::catalog::{Assignment, AssignmentPatch, AssignmentStatus, NewAssignment};
use storecheck_shared::org::Page;
use storecheck_shared::quarter::Quarter;
use storecheck_shared::{ErrorBody, Role};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::{AuthUser, Scope};
use crate::check::Check;
use crate::db::{assignments, catalog, paging, stores, users};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_assignments, create_assignment))
        .routes(routes!(get_assignment, update_assignment))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AssignmentParams {
    pub store_id: Option<Uuid>,
    pub auditor_id: Option<Uuid>,
    pub region_id: Option<Uuid>,
    pub checklist_version_id: Option<Uuid>,
    pub status: Option<AssignmentStatus>,
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// Assignments the caller may see: all for HQ, those of their regions'
/// stores for a manager, their own for an auditor.
#[utoipa::path(get, path = "/api/v1/assignments", tag = "assignments",
    params(AssignmentParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of assignments", body = Page<Assignment>),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn list_assignments(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(p): ApiQuery<AssignmentParams>,
) -> ApiResult<Json<Page<Assignment>>> {
    let limit = paging::limit(p.limit)?;
    let after = paging::decode(p.cursor.as_deref())?;
    let f = assignments::Filter {
        store_id: p.store_id,
        auditor_id: p.auditor_id,
        region_id: p.region_id,
        checklist_version_id: p.checklist_version_id,
        status: p.status,
    };
    let rows = assignments::list(&state.db, &caller.scope(), f, after, limit).await?;
    let (rows, next_cursor) = paging::page(rows, limit, |a| a.id);
    let items = rows.into_iter().map(assignments::to_wire).collect();
    Ok(Json(Page { items, next_cursor }))
}

/// The auditor must be an enabled auditor the caller can see, working in
/// the store's region (SPEC §6: an assignment only ever pairs an auditor
/// with a store of the auditor's regions, whoever makes it).
async fn check_auditor(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    check: &mut Check,
    id: Uuid,
    store_region: Uuid,
) -> ApiResult<()> {
    match users::visible(db, &caller.scope(), id).await {
        Ok(u) if u.role != Role::Auditor => check.fail(
            "auditor_id",
            format!("the user is a {}, not an auditor", u.role),
        ),
        Ok(u) if u.disabled => check.fail("auditor_id", "the auditor is disabled"),
        Ok(u) if !u.region_ids.contains(&store_region) => check.fail(
            "auditor_id",
            "the auditor does not work in the store's region; give them the region first",
        ),
        Ok(_) => {}
        Err(e) if e.status == StatusCode::NOT_FOUND => check.fail("auditor_id", "no such auditor"),
        Err(e) => return Err(e),
    }
    Ok(())
}

fn check_window(
    check: &mut Check,
    quarter: Quarter,
    start: chrono::NaiveDate,
    end: chrono::NaiveDate,
) {
    let span = format!(
        "{quarter} ({} to {})",
        quarter.first_day(),
        quarter.last_day()
    );
    if !quarter.contains(start) {
        check.fail(
            "window_start",
            format!("must fall within the checklist version's quarter {span}"),
        );
    }
    if !quarter.contains(end) {
        check.fail(
            "window_end",
            format!("must fall within the checklist version's quarter {span}"),
        );
    }
    if end < start {
        check.fail("window_end", "must not be before window_start");
    }
}

async fn version_quarter(
    db: &impl ConnectionTrait,
    check: &mut Check,
    id: Uuid,
) -> ApiResult<Option<Quarter>> {
    match catalog::version(db, id).await? {
        None => {
            check.fail("checklist_version_id", "no such checklist version");
            Ok(None)
        }
        Some(v) => Ok(Some(
            Quarter::parse(&v.quarter).map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?,
        )),
    }
}

/// Assign an auditor to visit a store with a checklist version (HQ, or a
/// regional manager for a store of their regions). The window is in dates
/// of the store's time zone and must lie within the version's quarter.
#[utoipa::path(post, path = "/api/v1/assignments", tag = "assignments",
    request_body = NewAssignment,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = Assignment),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Auditors may not assign", body = ErrorBody),
        (status = 404, description = "No such store in the caller's scope", body = ErrorBody),
        (status = 422, description = "Not an enabled auditor, unknown version, or a window outside its quarter", body = ErrorBody),
    ))]
async fn create_assignment(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiJson(req): ApiJson<NewAssignment>,
) -> ApiResult<(StatusCode, Json<Assignment>)> {
    if caller.role == Role::Auditor {
        return Err(ApiError::forbidden("auditors may not create assignments"));
    }
    let store = stores::visible(&state.db, &caller.scope(), req.store_id)
        .await
        .map_err(|e| e.with_detail("store_id", "no such store in your regions"))?;
    let mut check = Check::new();
    check_auditor(
        &state.db,
        &caller,
        &mut check,
        req.auditor_id,
        store.region_id,
    )
    .await?;
    if let Some(q) = version_quarter(&state.db, &mut check, req.checklist_version_id).await? {
        check_window(&mut check, q, req.window_start, req.window_end);
    }
    check.finish()?;
    let txn = crate::db::begin_write(&state.db).await?;
    let a = assignments::create(
        &txn,
        &state.log,
        assignments::NewRow {
            store_id: store.id,
            auditor_id: req.auditor_id,
            checklist_version_id: req.checklist_version_id,
            window_start: req.window_start,
            window_end: req.window_end,
            created_by: Some(caller.id),
        },
    )
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(assignments::to_wire(a))))
}

/// One assignment.
#[utoipa::path(get, path = "/api/v1/assignments/{id}", tag = "assignments",
    params(("id" = Uuid, Path, description = "Assignment id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The assignment", body = Assignment),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such assignment in the caller's scope", body = ErrorBody),
    ))]
async fn get_assignment(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Assignment>> {
    let a = assignments::visible(&state.db, &caller.scope(), id).await?;
    Ok(Json(assignments::to_wire(a)))
}

/// Reassign (another auditor or window) or cancel (`status: cancelled`) an
/// assignment (HQ, or a regional manager of the store's region).
#[utoipa::path(patch, path = "/api/v1/assignments/{id}", tag = "assignments",
    params(("id" = Uuid, Path, description = "Assignment id")),
    request_body = AssignmentPatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed assignment", body = Assignment),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Auditors may not change assignments", body = ErrorBody),
        (status = 404, description = "No such assignment in the caller's scope", body = ErrorBody),
        (status = 422, description = "Not an enabled auditor, or a window outside the quarter", body = ErrorBody),
    ))]
async fn update_assignment(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<AssignmentPatch>,
) -> ApiResult<Json<Assignment>> {
    if caller.role == Role::Auditor {
        // Visible or not, the same answer an auditor gets for any id.
        assignments::visible(&state.db, &caller.scope(), id).await?;
        return Err(ApiError::forbidden("auditors may not change assignments"));
    }
    // Read and locked inside the transaction: of two changes at once, the
    // second sees the first's auditor, so every auditor it leaves hears it.
    let txn = crate::db::begin_write(&state.db).await?;
    let a = assignments::visible_for_update(&txn, &caller.scope(), id).await?;
    let mut check = Check::new();
    if let Some(auditor) = req.auditor_id {
        let store = stores::visible(&txn, &Scope::All, a.store_id).await?;
        check_auditor(&txn, &caller, &mut check, auditor, store.region_id).await?;
    }
    let start = req.window_start.unwrap_or(a.window_start);
    let end = req.window_end.unwrap_or(a.window_end);
    if let Some(q) = version_quarter(&txn, &mut check, a.checklist_version_id).await? {
        check_window(&mut check, q, start, end);
    }
    check.finish()?;
    let a = assignments::update(
        &txn,
        &state.log,
        a,
        assignments::Changes {
            auditor_id: req.auditor_id,
            window_start: start,
            window_end: end,
            status: req.status.map(Into::into),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Json(assignments::to_wire(a)))
}
