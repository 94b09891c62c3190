//! Phone sync: delta pull and idempotent, lossless push (SPEC §6).

use std::collections::{BTreeSet, HashMap};

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;
use storecheck_shared::sync::{PullResponse, PushRequest, PushResponse};
use storecheck_shared::{ErrorBody, Role};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::{assignments, audits, stores, sync};
use crate::entities;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, json_with_limit};
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
    pub limit: Option<u64>,
}

fn encode_cursor(seq: i64) -> String {
    B64.encode(format!("v1:{seq}"))
}

fn decode_cursor(c: &str) -> Option<i64> {
    let raw = B64.decode(c).ok()?;
    let text = std::str::from_utf8(&raw).ok()?;
    text.strip_prefix("v1:")?
        .parse()
        .ok()
        .filter(|n: &i64| *n >= 0)
}

fn resync(message: &str) -> ApiError {
    ApiError::conflict(
        "resync_required",
        format!("{message}: drop the cursor and pull again from scratch"),
    )
    .with_detail("cursor", "pull without a cursor")
}

/// What changed for the calling auditor since `cursor`: assignments new or
/// changed, tombstones of those cancelled or moved away, their stores, the
/// checklist versions they use, and review outcomes of the auditor's audits.
/// A first pull (no cursor) returns the whole current state. The cursor is a
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
) -> ApiResult<Json<PullResponse>> {
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
    // Everything numbered up to here is committed (see db::sync).
    let upto = sync::current(&state.db).await?;
    let after = match p.cursor.as_deref() {
        None => None,
        Some(c) => match decode_cursor(c) {
            None => return Err(resync("the cursor is not one this server gave")),
            Some(n) if n > upto => return Err(resync("the cursor is ahead of this server's data")),
            Some(n) => Some(n),
        },
    };
    let mut audit_ids = BTreeSet::new();
    let (cursor, has_more, rows) = match after {
        // First pull: the current state; changes after `upto` come next time.
        None => (
            upto,
            false,
            assignments::scheduled_for(&state.db, caller.id).await?,
        ),
        Some(after) => {
            let mut changes = sync::changes(&state.db, caller.id, after, upto, limit).await?;
            let has_more = changes.len() as u64 > limit;
            changes.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            let last = if has_more {
                changes.last().map_or(upto, |c| c.seq)
            } else {
                upto
            };
            let mut assignment_ids = BTreeSet::new();
            for c in changes {
                match c.entity.as_str() {
                    sync::ASSIGNMENT => {
                        assignment_ids.insert(c.entity_id);
                    }
                    sync::AUDIT => {
                        audit_ids.insert(c.entity_id);
                    }
                    _ => {}
                }
            }
            let ids: Vec<Uuid> = assignment_ids.into_iter().collect();
            (last, has_more, assignments::by_ids(&state.db, &ids).await?)
        }
    };
    let mut in_force = Vec::new();
    let mut removed = Vec::new();
    for a in rows {
        if a.auditor_id == caller.id && a.status == "scheduled" {
            in_force.push(a);
        } else {
            removed.push(a.id);
        }
    }
    let store_ids: Vec<Uuid> = in_force
        .iter()
        .map(|a| a.store_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let stores = stores::by_ids(&state.db, &store_ids).await?;
    let versions: BTreeSet<Uuid> = in_force.iter().map(|a| a.checklist_version_id).collect();
    let audit_states = if audit_ids.is_empty() {
        Vec::new()
    } else {
        entities::audits::Entity::find()
            .filter(entities::audits::Column::Id.is_in(audit_ids.into_iter().collect::<Vec<_>>()))
            .filter(entities::audits::Column::AuditorId.eq(caller.id))
            .all(&state.db)
            .await?
            .iter()
            .map(audits::state_of)
            .collect::<Result<Vec<_>, _>>()?
    };
    Ok(Json(PullResponse {
        cursor: encode_cursor(cursor),
        has_more,
        assignments: in_force
            .into_iter()
            .map(assignments::to_wire)
            .collect::<Result<_, _>>()?,
        removed_assignments: removed,
        stores: stores.into_iter().map(stores::to_wire).collect(),
        checklist_version_ids: versions.into_iter().collect(),
        audits: audit_states,
    }))
}

/// Push a batch of audits made offline. Each audit is checked against its
/// own checklist version and stored in its own transaction, all or nothing;
/// one bad audit never blocks the others. The reply gives each audit's
/// outcome: `accepted`, `duplicate` (same id, revision and content: nothing
/// changed), `rejected` (errors by field and item; nothing stored) or
/// `conflict` (the audit is closed, or the revision was sent before with
/// other content: the payload is kept for the reviewer).
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
    let req: PushRequest = json_with_limit(&headers, body, state.config.max_push_bytes).await?;
    if !storecheck_shared::sync::plausible_time(req.device_clock) {
        return Err(ApiError::invalid_field(
            "device_clock",
            "must be a time between the years 2000 and 2100",
        ));
    }
    let max = state.config.max_push_audits;
    if req.audits.len() > max {
        return Err(ApiError::invalid_field(
            "audits",
            format!("at most {max} audits per push; send the rest in another"),
        ));
    }
    let mut seen: HashMap<(Uuid, i64), usize> = HashMap::new();
    for (i, a) in req.audits.iter().enumerate() {
        if let Some(first) = seen.insert((a.id, a.revision), i) {
            return Err(ApiError::invalid_field(
                format!("audits[{i}]"),
                format!("the same audit and revision as audits[{first}]"),
            ));
        }
    }
    let ctx = audits::PushContext::load(&state.db, &req.audits).await?;
    let mut results = Vec::with_capacity(req.audits.len());
    for audit in req.audits {
        results.push(audits::push_one(&state, &caller, &ctx, req.device_clock, audit).await?);
    }
    Ok(Json(PushResponse { results }))
}
