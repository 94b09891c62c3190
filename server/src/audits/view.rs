//! Audits as reviewers and their auditors read them.

use sea_orm::ConnectionTrait;
use serde::Deserialize;
use storecheck_shared::review::{AnswerOverride, AuditEvent};
use storecheck_shared::sync::{
    AnswerView, AuditDetail, AuditPayload, AuditSummary, CodeScore, ConflictView, RevisionView,
    ScoreBreakdown,
};
use uuid::Uuid;

use super::corrupt;
use crate::db;
use crate::db::scope::Scope;
use crate::entities::enums::ItemKind;
use crate::entities::{audit_answers, audits};
use crate::error::ApiError;

pub fn summary(a: audits::Model) -> Result<AuditSummary, ApiError> {
    let state = super::push::state_of(&a)?;
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
        review_comment: a.review_comment,
        reviewed_by: a.reviewed_by,
        reviewed_at: a.reviewed_at,
    })
}

fn flags_of(text: &str, what: impl std::fmt::Display) -> Result<Vec<String>, ApiError> {
    serde_json::from_str(text).map_err(|e| corrupt(format!("{what} flags: {e}")))
}

/// An answer's value as a phone writes it, from its columns.
fn value_of(
    kind: ItemKind,
    na: bool,
    number: Option<f64>,
    text: Option<&str>,
) -> Option<serde_json::Value> {
    if na {
        return None;
    }
    match kind {
        ItemKind::YesNo => number.map(|n| serde_json::Value::Bool(n > 0.5)),
        ItemKind::Choice => text.map(|t| serde_json::Value::String(t.to_owned())),
        // Whole numbers as stored (f64 holds them exactly).
        ItemKind::Scale | ItemKind::Count => number.map(|n| serde_json::json!(n as i64)),
        ItemKind::Measure => number.map(|n| serde_json::json!(n)),
    }
}

fn answer_view(r: audit_answers::Model) -> AnswerView {
    let value = value_of(r.kind, r.na, r.value_number, r.value_text.as_deref());
    let override_ = match (
        r.override_na,
        r.override_reason,
        r.overridden_by,
        r.overridden_at,
    ) {
        (Some(na), Some(reason), Some(by), Some(at)) => Some(AnswerOverride {
            na,
            value: value_of(r.kind, na, r.override_number, r.override_text.as_deref()),
            reason,
            by,
            at,
        }),
        _ => None,
    };
    AnswerView {
        item_id: r.item_id,
        item_code: r.item_code,
        kind: r.kind.into(),
        na: r.na,
        value,
        failed: r.failed,
        note: r.note,
        answered_at: r.answered_at,
        override_,
    }
}

/// One audit in the caller's scope (404 otherwise), with everything a
/// reviewer reads: scores by section and dimension, answers and photos of
/// the revision in force, every revision, and the payloads kept aside.
pub async fn detail(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> Result<AuditDetail, ApiError> {
    let a = db::audits::visible(db, scope, id).await?;
    let revisions = db::audits::revisions(db, a.id).await?;
    let current = revisions
        .iter()
        .find(|r| r.revision == a.revision)
        .ok_or_else(|| corrupt(format!("audit {} lacks its revision {}", a.id, a.revision)))?;
    #[derive(Deserialize)]
    struct Breakdown {
        sections: Vec<CodeScore>,
        dimensions: Vec<CodeScore>,
        failed_items: Vec<Uuid>,
        checkin_distance_m: Option<f64>,
    }
    // After a reviewer's overrides, the re-score is in force.
    let rescore = db::review::rescore(db, a.id, a.revision).await?;
    let (total, base, bonus, deductions, critical, breakdown) = match &rescore {
        Some(r) => (
            r.total,
            r.base,
            r.bonus,
            r.deductions,
            r.critical_failure,
            &r.breakdown,
        ),
        None => (
            current.total,
            current.base,
            current.bonus,
            current.deductions,
            current.critical_failure,
            &current.breakdown,
        ),
    };
    let b: Breakdown = serde_json::from_str(breakdown)
        .map_err(|e| corrupt(format!("audit {} breakdown: {e}", a.id)))?;
    let score = ScoreBreakdown {
        total: i64::from(total),
        base: i64::from(base),
        bonus: i64::from(bonus),
        deductions: i64::from(deductions),
        critical_failure: critical,
        overridden: rescore.is_some(),
        sections: b.sections,
        dimensions: b.dimensions,
        failed_items: b.failed_items,
        checkin_distance_m: b.checkin_distance_m,
    };
    let answers = db::audits::answers(db, a.id, a.revision)
        .await?
        .into_iter()
        .map(answer_view)
        .collect();
    let (photos, photo_progress) =
        crate::photos::views(db, db::audits::photos(db, a.id, a.revision).await?).await?;
    let conflicts = db::audits::conflicts(db, a.id)
        .await?
        .into_iter()
        .map(|c| {
            let payload: AuditPayload = serde_json::from_str(&c.payload)
                .map_err(|e| corrupt(format!("conflict {}: {e}", c.id)))?;
            Ok(ConflictView {
                id: c.id,
                revision: i64::from(c.revision),
                reason: c.reason,
                received_at: c.received_at,
                payload,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let revisions = revisions
        .into_iter()
        .map(|r| {
            Ok(RevisionView {
                revision: i64::from(r.revision),
                received_at: r.received_at,
                device_clock: r.device_clock,
                skew_ms: r.skew_ms,
                total: i64::from(r.total),
                critical_failure: r.critical_failure,
                flags: flags_of(
                    &r.flags,
                    format_args!("revision {} of {}", r.revision, a.id),
                )?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let history = db::review::events(db, a.id)
        .await?
        .into_iter()
        .map(|(e, email)| {
            let detail = match e.detail.as_deref() {
                None => None,
                Some(d) => Some(
                    serde_json::from_str(d)
                        .map_err(|err| corrupt(format!("event {} detail: {err}", e.id)))?,
                ),
            };
            Ok(AuditEvent {
                at: e.at,
                actor_id: e.actor_id,
                actor_email: email,
                action: e.action.into(),
                revision: i64::from(e.revision),
                comment: e.comment,
                detail,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(AuditDetail {
        history,
        audit: summary(a)?,
        score,
        answers,
        photos,
        photo_progress,
        revisions,
        conflicts,
    })
}
