//! Phone sync: delta pull and idempotent, lossless push (SPEC §6).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use storecheck_shared::sync::{PullResponse, PushRequest, PushResponse};
use storecheck_shared::{ErrorBody, Role};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audits::{self, push::PushBatch};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, json_bytes, off_thread_if_large};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pull))
        .routes(routes!(push))
}

pub const DEFAULT_PULL_LIMIT: u64 = 200;
pub const MAX_PULL_LIMIT: u64 = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PullParams {
    /// The `cursor` of the last pull; none for the first pull (everything).
    pub cursor: Option<String>,
    /// Most changes per page, 1–1000 (default 200).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
}

/// What changed for the calling auditor since `cursor`: assignments new or
/// changed, tombstones of those cancelled or moved away, their stores, the
/// checklist versions they use, and review outcomes of the auditor's audits.
/// A first pull (no cursor) returns the whole current state, `limit`
/// assignments a page (`has_more` until the last page). The cursor is a
/// position in a change log numbered in commit order, so nothing committed
/// is ever skipped. A cursor the server cannot honour answers 409
/// `resync_required`: pull again without it.
#[utoipa::path(get, path = "/api/v1/sync/pull", tag = "sync",
    params(PullParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Changes since the cursor", body = PullResponse),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Only auditors sync", body = ErrorBody),
        (status = 409, description = "The cursor cannot be honoured: pull from scratch", body = ErrorBody),
    ))]
async fn pull(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiQuery(p): ApiQuery<PullParams>,
) -> ApiResult<axum::response::Response> {
    if caller.role != Role::Auditor {
        return Err(ApiError::forbidden("only auditors sync"));
    }
    let limit = match p.limit {
        None => DEFAULT_PULL_LIMIT,
        Some(n) if (1..=MAX_PULL_LIMIT).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("limit must be from 1 to {MAX_PULL_LIMIT}"),
            )
            .with_detail("limit", format!("must be from 1 to {MAX_PULL_LIMIT}")));
        }
    };
    let body = audits::pull::pull(
        &state.db,
        &state.pulls,
        &state.log,
        caller.id,
        p.cursor.as_deref(),
        limit,
    )
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Push a batch of audits made offline. Each audit is checked against its
/// own checklist version and stored in its own transaction, all or nothing;
/// one bad audit never blocks the others: an audit whose fields cannot be
/// read is `rejected` with the field at fault. The reply gives each audit's
/// outcome: `accepted`, `duplicate` (same id, revision and content: nothing
/// changed), `rejected` (errors by field and item; nothing stored),
/// `conflict` (the audit is closed, or the revision was sent before with
/// other content: the payload is kept for the reviewer) or `superseded` (a
/// revision lower than the one in force: kept in the history, never in
/// force; `current` tells the revision in force). Only a body that is not a
/// push at all answers 400 as a whole: no readable `device_clock` or
/// `audits` array, or an audit without a readable `id` and `revision`.
#[utoipa::path(post, path = "/api/v1/sync/push", tag = "sync",
    request_body = PushRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One result per audit, in order", body = PushResponse),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Only auditors push", body = ErrorBody),
        (status = 413, description = "Body larger than the push limit", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "More audits than one push may carry, or the same audit twice", body = ErrorBody),
    ))]
async fn push(
    State(state): State<AppState>,
    caller: AuthUser,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<PushResponse>> {
    if caller.role != Role::Auditor {
        return Err(ApiError::forbidden("only auditors push audits"));
    }
    let bytes = json_bytes(&headers, body, state.config.max_push_bytes).await?;
    let max = state.config.max_push_audits;
    let batch = off_thread_if_large(bytes, move |b| PushBatch::parse(b, max)).await?;
    let results = audits::push::push(
        &state.db,
        &state.versions,
        state.settings(),
        &state.metrics,
        caller.id,
        batch,
    )
    .await?;
    let mut results = results;
    crate::photos::attach_uploads(
        &state.db,
        &state.storage,
        state.config.storage.upload_ttl(),
        &mut results,
    )
    .await?;
    Ok(Json(PushResponse { results }))
}
