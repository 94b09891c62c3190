//! Review (SPEC §8): a regional manager (in their regions) or HQ approves,
//! returns or rejects a submitted audit, and may correct single answers
//! first. Each review is one transaction under the audit's row lock, names
//! the revision it read, and writes its log entries, the figures
//! compliance counts, the corrective actions and the auditor's change-log
//! entry together with the new state.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, Set};
use serde::Deserialize;
use storecheck_shared::catalog::{ChecklistVersion, VersionItem};
use storecheck_shared::review::{OverrideRequest, ReviewAction, ReviewRequest};
use storecheck_shared::scoring::{Response, score};
use storecheck_shared::sync::{AnswerPayload, AuditPayload, CodeScore, answer_value, check_audit};
use storecheck_shared::{ErrorDetail, Role};
use tracing::instrument;
use uuid::Uuid;

use super::{VersionCache, corrupt};
use crate::db;
use crate::db::scope::Caller;
use crate::entities::enums::{AuditAction, AuditStatus, ChangeEntity, ItemKind};
use crate::entities::{audit_rescores, audits};
use crate::error::ApiError;

/// Longest comment, reason or note kept.
pub(crate) const MAX_TEXT: usize = 4000;
/// Most answers corrected in one review.
const MAX_OVERRIDES: usize = 500;

/// A review request that passed the checks needing no database.
struct Checked {
    action: ReviewAction,
    revision: i64,
    comment: Option<String>,
    overrides: Vec<OverrideRequest>,
}

fn text_problem(t: &str) -> Option<String> {
    (t.chars().count() > MAX_TEXT).then(|| format!("must be at most {MAX_TEXT} characters"))
}

impl Checked {
    fn parse(req: ReviewRequest) -> Result<Checked, ApiError> {
        let mut errors = Vec::new();
        let comment = req
            .comment
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty());
        match (&req.action, &comment) {
            (ReviewAction::Return, None) => errors.push(ErrorDetail::new(
                "comment",
                "returning an audit needs a comment telling the auditor what to fix",
            )),
            (ReviewAction::Reject, None) => errors.push(ErrorDetail::new(
                "comment",
                "rejecting an audit needs the reason, in `comment`",
            )),
            _ => {}
        }
        if let Some(p) = comment.as_deref().and_then(text_problem) {
            errors.push(ErrorDetail::new("comment", p));
        }
        match req.action {
            ReviewAction::Override if req.overrides.is_empty() => errors.push(ErrorDetail::new(
                "overrides",
                "`override` needs at least one corrected answer",
            )),
            ReviewAction::Return | ReviewAction::Reject if !req.overrides.is_empty() => {
                errors.push(ErrorDetail::new(
                    "overrides",
                    "answers are corrected with `approve` or `override`, not when returning or rejecting",
                ))
            }
            _ => {}
        }
        if req.overrides.len() > MAX_OVERRIDES {
            errors.push(ErrorDetail::new(
                "overrides",
                format!("at most {MAX_OVERRIDES} corrections per review"),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, o) in req.overrides.iter().enumerate() {
            if !seen.insert(o.item_id) {
                errors.push(ErrorDetail::new(
                    format!("overrides[{i}].item_id"),
                    "this item is corrected twice",
                ));
            }
            if o.reason.trim().is_empty() {
                errors.push(ErrorDetail::new(
                    format!("overrides[{i}].reason"),
                    "an override needs its reason",
                ));
            } else if let Some(p) = text_problem(&o.reason) {
                errors.push(ErrorDetail::new(format!("overrides[{i}].reason"), p));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        Ok(Checked {
            action: req.action,
            revision: req.revision,
            comment,
            overrides: req.overrides,
        })
    }
}

/// The state of an audit, as a 409 tells it.
fn conflict(code: &'static str, message: String, a: &audits::Model) -> ApiError {
    let status: storecheck_shared::sync::AuditStatus = a.status.into();
    ApiError::conflict(code, message)
        .with_detail("status", status.as_str())
        .with_detail("revision", a.revision.to_string())
}

/// Review one audit. Nothing is written unless all of it is.
#[instrument(skip_all, fields(audit = %id, reviewer = %caller.id, action = ?req.action))]
pub async fn review(
    db: &DatabaseConnection,
    versions: &VersionCache,
    log: &db::sync::LogHead,
    caller: &Caller,
    id: Uuid,
    req: ReviewRequest,
) -> Result<(), ApiError> {
    let req = Checked::parse(req)?;
    // Visible first (404 otherwise), then allowed (SPEC §1).
    db::audits::visible(db, &caller.scope(), id).await?;
    if caller.role == Role::Auditor {
        return Err(ApiError::forbidden(
            "auditors cannot review audits; a regional manager or HQ does",
        ));
    }
    let txn = db::begin_write(db).await?;
    let audit = db::audits::lock(&txn, id).await?;
    if audit.status != AuditStatus::Submitted {
        let status: storecheck_shared::sync::AuditStatus = audit.status.into();
        return Err(conflict(
            "invalid_transition",
            format!(
                "the audit is {}: only a submitted audit can be reviewed",
                status.as_str()
            ),
            &audit,
        ));
    }
    if i64::from(audit.revision) != req.revision {
        return Err(conflict(
            "stale_revision",
            format!(
                "revision {} is in force, not {}: read the audit again",
                audit.revision, req.revision
            ),
            &audit,
        ));
    }
    let version = versions
        .get(&txn, audit.checklist_version_id)
        .await?
        .ok_or_else(|| corrupt(format!("audit {} has no version", audit.id)))?;
    let now = Utc::now();
    let mut row: audits::ActiveModel = audit.clone().into();
    if !req.overrides.is_empty() {
        let (total, critical) =
            apply_overrides(&txn, &version, &audit, &req.overrides, caller.id).await?;
        row.total = Set(total);
        row.critical_failure = Set(critical);
    }
    let (status, action) = match req.action {
        ReviewAction::Approve => (AuditStatus::Approved, Some(AuditAction::Approved)),
        ReviewAction::Return => (AuditStatus::Returned, Some(AuditAction::Returned)),
        ReviewAction::Reject => (AuditStatus::Rejected, Some(AuditAction::Rejected)),
        ReviewAction::Override => (AuditStatus::Submitted, None),
    };
    if let Some(action) = action {
        row.status = Set(status);
        row.review_comment = Set(req.comment.clone());
        row.reviewed_by = Set(Some(caller.id));
        row.reviewed_at = Set(Some(now));
        db::review::record_event(
            &txn,
            audit.id,
            Some(caller.id),
            action,
            audit.revision,
            req.comment.as_deref(),
            None,
        )
        .await?;
    }
    row.updated_at = Set(now);
    let audit = row.update(&txn).await?;
    if status == AuditStatus::Approved {
        let scored = in_force(&txn, &audit).await?;
        let dims: Vec<(String, i32)> = scored
            .dimensions
            .iter()
            .filter_map(|d| Some((d.code.clone(), i32::try_from(d.score?).ok()?)))
            .collect();
        db::review::save_dimension_scores(&txn, audit.id, &dims).await?;
        let answers = db::audits::answers(&txn, audit.id, audit.revision).await?;
        let tallies: Vec<(String, i32, i32)> = answers
            .iter()
            .map(|r| {
                let assessed = !r.override_na.unwrap_or(r.na);
                (
                    r.item_code.clone(),
                    i32::from(assessed),
                    i32::from(assessed && r.failed),
                )
            })
            .collect();
        db::review::add_item_tallies(&txn, audit.store_id, audit.checklist_version_id, &tallies)
            .await?;
        super::actions::on_approval(&txn, &version, &audit, &answers).await?;
    }
    db::sync::record(
        &txn,
        log,
        &[(audit.auditor_id, ChangeEntity::Audit, audit.id)],
    )
    .await?;
    txn.commit().await?;
    tracing::info!(status = ?audit.status, total = audit.total, "audit reviewed");
    Ok(())
}

#[derive(Deserialize)]
struct Dimensions {
    dimensions: Vec<CodeScore>,
    checkin_distance_m: Option<f64>,
}

/// The dimension scores of the revision in force, after any overrides.
async fn in_force(db: &impl ConnectionTrait, a: &audits::Model) -> Result<Dimensions, ApiError> {
    let text = match db::review::rescore(db, a.id, a.revision).await? {
        Some(r) => r.breakdown,
        None => db::review::revision(db, a.id, a.revision).await?.breakdown,
    };
    serde_json::from_str(&text).map_err(|e| corrupt(format!("audit {} breakdown: {e}", a.id)))
}

/// An answer from its stored columns.
pub(crate) fn stored_response(
    kind: ItemKind,
    na: bool,
    number: Option<f64>,
    text: Option<&str>,
) -> Option<Response> {
    if na {
        return Some(Response::NotApplicable);
    }
    let whole = |n: f64| (n >= 0.0 && n <= f64::from(u32::MAX)).then_some(n as u32);
    Some(match kind {
        ItemKind::YesNo => Response::YesNo(number? > 0.5),
        ItemKind::Scale => Response::Scale(whole(number?)?),
        ItemKind::Count => Response::Count(whole(number?)?),
        ItemKind::Measure => Response::Measure(number?),
        ItemKind::Choice => Response::Choice(text?.to_owned()),
    })
}

/// An answer as a phone writes it: true/false, a number, an option code;
/// null for N/A.
pub(crate) fn response_json(r: &Response) -> serde_json::Value {
    match r {
        Response::NotApplicable => serde_json::Value::Null,
        Response::YesNo(b) => serde_json::Value::Bool(*b),
        Response::Scale(v) | Response::Count(v) => serde_json::json!(v),
        Response::Measure(x) => serde_json::json!(x),
        Response::Choice(c) => serde_json::Value::String(c.clone()),
    }
}

/// Correct answers of the revision in force and score it again exactly as
/// a phone's revision with those answers would be; the new total and
/// critical flag.
async fn apply_overrides(
    txn: &impl ConnectionTrait,
    version: &ChecklistVersion,
    audit: &audits::Model,
    overrides: &[OverrideRequest],
    by: Uuid,
) -> Result<(i32, bool), ApiError> {
    let rev = db::review::revision(txn, audit.id, audit.revision).await?;
    let payload: AuditPayload = serde_json::from_str(&rev.payload)
        .map_err(|e| corrupt(format!("audit {} payload: {e}", audit.id)))?;
    let mut responses = check_audit(version, &payload).map_err(|e| {
        corrupt(format!(
            "audit {} revision {} no longer checks: {e:?}",
            audit.id, audit.revision
        ))
    })?;
    // Earlier corrections of this revision stay in force.
    for r in db::audits::answers(txn, audit.id, audit.revision).await? {
        if let Some(na) = r.override_na {
            let resp =
                stored_response(r.kind, na, r.override_number, r.override_text.as_deref())
                    .ok_or_else(|| corrupt(format!("override of {} in {}", r.item_id, audit.id)))?;
            responses.insert(r.item_id, resp);
        }
    }
    let items: HashMap<Uuid, &VersionItem> = version
        .sections
        .iter()
        .flat_map(|s| s.items.iter())
        .map(|i| (i.id, i))
        .collect();
    let mut errors = Vec::new();
    let mut changed = Vec::with_capacity(overrides.len());
    for (i, o) in overrides.iter().enumerate() {
        let Some(item) = items.get(&o.item_id) else {
            errors.push(ErrorDetail::new(
                format!("overrides[{i}].item_id"),
                "no such item in this audit's checklist version",
            ));
            continue;
        };
        let answer = AnswerPayload {
            item_id: o.item_id,
            value: o.value.clone(),
            na: o.na,
            note: None,
            answered_at: None,
            photo_ids: Vec::new(),
        };
        match answer_value(item, &answer) {
            Err(m) => errors.push(ErrorDetail::new(format!("overrides[{i}].value"), m)),
            Ok(r) => {
                let before = responses
                    .insert(item.id, r.clone())
                    .unwrap_or(Response::NotApplicable);
                changed.push((*item, o, before, r));
            }
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let scored = score(&version.sections, &|i| {
        responses
            .get(&i.id)
            .cloned()
            .unwrap_or(Response::NotApplicable)
    })
    .map_err(|e| ApiError::invalid_field("overrides", e.to_string()))?;
    let total = i32::try_from(scored.total).map_err(corrupt)?;
    let now = Utc::now();
    for (item, o, before, after) in changed {
        let (number, text) = db::audits::stored_value(&after);
        db::review::set_override(
            txn,
            db::review::Override {
                audit: audit.id,
                revision: audit.revision,
                item: item.id,
                na: after == Response::NotApplicable,
                number,
                text,
                reason: o.reason.trim(),
                by,
                at: now,
                failed: scored.failed_items.contains(&item.id),
            },
        )
        .await?;
        db::review::record_event(
            txn,
            audit.id,
            Some(by),
            AuditAction::Overridden,
            audit.revision,
            Some(o.reason.trim()),
            Some(serde_json::json!({
                "item_id": item.id,
                "item_code": item.code,
                "before": response_json(&before),
                "after": response_json(&after),
                "total_before": audit.total,
                "total_after": total,
            })),
        )
        .await?;
    }
    let distance: Dimensions = serde_json::from_str(&rev.breakdown)
        .map_err(|e| corrupt(format!("audit {} breakdown: {e}", audit.id)))?;
    let int = |v: i64| i32::try_from(v).map_err(corrupt);
    db::review::save_rescore(
        txn,
        audit_rescores::Model {
            audit_id: audit.id,
            revision: audit.revision,
            total,
            base: int(scored.base)?,
            bonus: int(scored.bonus)?,
            deductions: int(scored.deductions)?,
            critical_failure: scored.critical_failure,
            breakdown: db::audits::breakdown_json(&scored, distance.checkin_distance_m).to_string(),
        },
    )
    .await?;
    Ok((total, scored.critical_failure))
}
