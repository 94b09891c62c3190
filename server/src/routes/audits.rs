//! Reading audits: auditors their own, managers their regions', HQ all.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use storecheck_shared::ErrorBody;
use storecheck_shared::org::Page;
use storecheck_shared::quarter::Quarter;
use storecheck_shared::review::ReviewRequest;
use storecheck_shared::sync::{AuditDetail, AuditStatus, AuditSummary};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::audits::{review, view};
use crate::auth::AuthUser;
use crate::db::{audits, paging};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audits))
        .routes(routes!(get_audit))
        .routes(routes!(review_audit))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    pub status: Option<AuditStatus>,
    pub region_id: Option<Uuid>,
    pub store_id: Option<Uuid>,
    pub auditor_id: Option<Uuid>,
    /// `YYYY-Qn`: audits made with a checklist version of that quarter.
    pub quarter: Option<String>,
    /// Only audits with (`true`) or without (`false`) evidence flags, on the
    /// audit or on any of its photo files.
    pub flagged: Option<bool>,
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// Audits the caller may see, with filters.
#[utoipa::path(get, path = "/api/v1/audits", tag = "audits",
    params(AuditParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of audits", body = Page<AuditSummary>),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn list_audits(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> ApiResult<Json<Page<AuditSummary>>> {
    let limit = paging::limit(p.limit)?;
    let after = paging::decode(p.cursor.as_deref())?;
    let quarter = match p.quarter.as_deref() {
        None => None,
        Some(q) => Some(
            Quarter::parse(q)
                .map_err(|e| {
                    ApiError::bad_request("invalid_query", e.clone()).with_detail("quarter", e)
                })?
                .to_string(),
        ),
    };
    let f = audits::Filter {
        status: p.status.map(Into::into),
        region_id: p.region_id,
        store_id: p.store_id,
        auditor_id: p.auditor_id,
        quarter,
        flagged: p.flagged,
        newest_first: false,
    };
    let rows = audits::list(&state.db, &caller.scope(), f, after, limit).await?;
    let (rows, next_cursor) = paging::page(rows, limit, |a| a.id);
    let items = rows
        .into_iter()
        .map(view::summary)
        .collect::<Result<_, _>>()?;
    Ok(Json(Page { items, next_cursor }))
}

/// One audit: answers, photos (with their evidence flags and, for
/// reviewers, short-lived URLs of the original and its derivatives), how
/// many photo files have arrived, scores with section and dimension
/// breakdown, evidence flags, every revision, and payloads kept aside as
/// conflicts.
#[utoipa::path(get, path = "/api/v1/audits/{id}", tag = "audits",
    params(("id" = Uuid, Path, description = "Audit id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The audit", body = AuditDetail),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such audit in the caller's scope", body = ErrorBody),
        (status = 503, description = "The photo store cannot be reached to sign photo URLs; retry after `Retry-After` seconds", body = ErrorBody),
    ))]
async fn get_audit(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<AuditDetail>> {
    detail_for(&state, &caller, id).await.map(Json)
}

pub(crate) async fn detail_for(
    state: &AppState,
    caller: &AuthUser,
    id: Uuid,
) -> ApiResult<AuditDetail> {
    let mut detail = view::detail(&state.db, &caller.scope(), id).await?;
    if caller.role != storecheck_shared::Role::Auditor {
        crate::photos::attach_review_urls(
            &state.storage,
            std::time::Duration::from_secs(state.config.review_url_ttl),
            &mut detail.photos,
        )
        .await?;
    }
    Ok(detail)
}

/// Review a submitted audit: `approve` (it counts towards compliance and
/// opens a corrective action per failed standard), `return` (back to the
/// auditor with a comment, seen on the next pull; the new revision they push
/// comes back for review), `reject` (with the reason), or only `override`.
///
/// Overrides correct single answers with a reason: the audit is scored
/// again exactly as a phone's revision with those answers would be, and
/// the phone's answer is kept beside the correction. Every transition and
/// override goes into the audit's `history`. The request names the
/// revision it read: if another review or a new revision came first, the
/// answer is 409 with the audit's current `status` and `revision` in
/// `details`, and nothing changes.
#[utoipa::path(post, path = "/api/v1/audits/{id}/review", tag = "audits",
    params(("id" = Uuid, Path, description = "Audit id")),
    request_body = ReviewRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The audit as reviewed", body = AuditDetail),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Auditors cannot review", body = ErrorBody),
        (status = 404, description = "No such audit in the caller's scope", body = ErrorBody),
        (status = 409, description = "`invalid_transition` (the audit is not submitted) or `stale_revision` (another revision is in force); `details` give the current status and revision", body = ErrorBody),
        (status = 422, description = "A comment or reason missing, or an override that does not fit its item", body = ErrorBody),
        (status = 503, description = "The photo store cannot be reached to sign photo URLs; the review is stored, read the audit again", body = ErrorBody),
    ))]
async fn review_audit(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<ReviewRequest>,
) -> ApiResult<Json<AuditDetail>> {
    review::review(&state.db, &state.versions, &state.log, &caller, id, req).await?;
    detail_for(&state, &caller, id).await.map(Json)
}
