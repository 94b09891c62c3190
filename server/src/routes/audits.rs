//! Reading audits: auditors their own, managers their regions', HQ all.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use storecheck_shared::ErrorBody;
use storecheck_shared::org::Page;
use storecheck_shared::quarter::Quarter;
use storecheck_shared::sync::{
    AnswerView, AuditDetail, AuditPayload, AuditStatus, AuditSummary, CodeScore, ConflictView,
    PhotoView, RevisionView, ScoreBreakdown,
};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::{audits, paging};
use crate::entities;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audits))
        .routes(routes!(get_audit))
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
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u64>,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(anyhow::anyhow!("{e}"))
}

fn summary(a: entities::audits::Model) -> ApiResult<AuditSummary> {
    let state = audits::state_of(&a)?;
    Ok(AuditSummary {
        id: a.id,
        assignment_id: a.assignment_id,
        auditor_id: a.auditor_id,
        store_id: a.store_id,
        checklist_version_id: a.checklist_version_id,
        status: state.status,
        revision: state.revision,
        total: state.total,
        critical_failure: a.critical_failure,
        flags: state.flags,
        started_at: a.started_at,
        finished_at: a.finished_at,
        started_at_server: a.started_at_server,
        finished_at_server: a.finished_at_server,
        created_at: a.created_at,
        updated_at: a.updated_at,
    })
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
        status: p.status,
        region_id: p.region_id,
        store_id: p.store_id,
        auditor_id: p.auditor_id,
        quarter,
    };
    let rows = audits::list(&state.db, &caller, f, after, limit).await?;
    let (rows, next_cursor) = paging::page(rows, limit, |a| a.id);
    let items = rows.into_iter().map(summary).collect::<Result<_, _>>()?;
    Ok(Json(Page { items, next_cursor }))
}

/// One audit: answers, photos, scores with section and dimension breakdown,
/// evidence flags, every revision, and payloads kept aside as conflicts.
#[utoipa::path(get, path = "/api/v1/audits/{id}", tag = "audits",
    params(("id" = Uuid, Path, description = "Audit id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The audit", body = AuditDetail),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such audit in the caller's scope", body = ErrorBody),
    ))]
async fn get_audit(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<AuditDetail>> {
    let a = audits::visible(&state.db, &caller, id).await?;
    let revisions = audits::revisions(&state.db, a.id).await?;
    let current = revisions
        .iter()
        .find(|r| r.revision == a.revision)
        .ok_or_else(|| internal(format!("audit {} lacks its revision {}", a.id, a.revision)))?;
    #[derive(Deserialize)]
    struct Breakdown {
        sections: Vec<CodeScore>,
        dimensions: Vec<CodeScore>,
        failed_items: Vec<Uuid>,
        checkin_distance_m: Option<f64>,
    }
    let b: Breakdown = serde_json::from_str(&current.breakdown).map_err(internal)?;
    let score = ScoreBreakdown {
        total: i64::from(current.total),
        base: i64::from(current.base),
        bonus: i64::from(current.bonus),
        deductions: i64::from(current.deductions),
        critical_failure: current.critical_failure,
        sections: b.sections,
        dimensions: b.dimensions,
        failed_items: b.failed_items,
        checkin_distance_m: b.checkin_distance_m,
    };
    let answers = audits::answers(&state.db, a.id, a.revision)
        .await?
        .into_iter()
        .map(|r| {
            let value = if r.na {
                None
            } else {
                match r.kind.as_str() {
                    "yes_no" => r.value_number.map(|n| serde_json::Value::Bool(n > 0.5)),
                    "choice" => r.value_text.clone().map(serde_json::Value::String),
                    "scale" | "count" => r.value_number.map(|n| serde_json::json!(n as i64)),
                    _ => r.value_number.map(|n| serde_json::json!(n)),
                }
            };
            AnswerView {
                item_id: r.item_id,
                item_code: r.item_code,
                kind: r.kind,
                na: r.na,
                value,
                failed: r.failed,
                note: r.note,
                answered_at: r.answered_at,
            }
        })
        .collect();
    let photos = audits::photos(&state.db, a.id)
        .await?
        .into_iter()
        .map(|p| PhotoView {
            id: p.id,
            item_id: p.item_id,
            sha256: p.sha256,
            bytes: u64::try_from(p.bytes).unwrap_or(0),
            content_type: p.content_type,
            taken_at: p.taken_at,
            state: p.state,
        })
        .collect();
    let conflicts = audits::conflicts(&state.db, a.id)
        .await?
        .into_iter()
        .map(|c| {
            let payload: AuditPayload = serde_json::from_str(&c.payload).map_err(internal)?;
            Ok(ConflictView {
                id: c.id,
                revision: i64::from(c.revision),
                reason: c.reason,
                received_at: c.received_at,
                payload,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let revisions = revisions
        .into_iter()
        .map(|r| RevisionView {
            revision: i64::from(r.revision),
            received_at: r.received_at,
            device_clock: r.device_clock,
            skew_ms: r.skew_ms,
            total: i64::from(r.total),
            critical_failure: r.critical_failure,
            flags: serde_json::from_str(&r.flags).unwrap_or_default(),
        })
        .collect();
    Ok(Json(AuditDetail {
        audit: summary(a)?,
        score,
        answers,
        photos,
        revisions,
        conflicts,
    }))
}
