//! Corrective actions (SPEC §8). Approving an audit opens one for each
//! standard it failed; the store resolves it (note, optional photo); the
//! next approved audit of the store that assesses the standard verifies it
//! when it passes, or reopens it when it fails again. An action the store
//! never marked resolved is verified all the same when a later audit passes
//! the standard: the evidence says it is fixed.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, QuerySelect, Set};
use storecheck_shared::catalog::ChecklistVersion;
use storecheck_shared::review::{
    ActionPatch, ActionPhoto, ActionStatus as WireStatus, ActionUpdated, CorrectiveAction,
    UploadTarget,
};
use storecheck_shared::{ErrorDetail, Role};
use tracing::instrument;
use uuid::Uuid;

use super::corrupt;
use super::review::{MAX_TEXT, response_json, stored_response};
use crate::db;
use crate::db::scope::{Caller, Scope};
use crate::entities::enums::ActionStatus;
use crate::entities::{audit_answers, audits, corrective_actions as ca, stores};
use crate::error::ApiError;
use crate::storage::Storage;

/// How one approved audit met one standard.
struct Assessed {
    failed: bool,
    item_id: Uuid,
    item_code: String,
    answer: serde_json::Value,
}

/// Open, reopen and verify the store's actions for an audit approved in
/// this transaction.
pub(crate) async fn on_approval(
    txn: &impl ConnectionTrait,
    version: &ChecklistVersion,
    audit: &audits::Model,
    answers: &[audit_answers::Model],
) -> Result<(), ApiError> {
    // One approval at a time per store: two approved at once cannot both
    // open the same action.
    stores::Entity::find_by_id(audit.store_id)
        .lock_exclusive()
        .one(txn)
        .await?;
    let standard_of: HashMap<Uuid, &str> = version
        .sections
        .iter()
        .flat_map(|s| s.items.iter())
        .map(|i| (i.id, i.standard_code.as_str()))
        .collect();
    let mut assessed: BTreeMap<String, Assessed> = BTreeMap::new();
    for r in answers {
        let (na, number, text) = match r.override_na {
            Some(na) => (na, r.override_number, r.override_text.clone()),
            None => (r.na, r.value_number, r.value_text.clone()),
        };
        if na {
            continue;
        }
        let code = standard_of.get(&r.item_id).ok_or_else(|| {
            corrupt(format!(
                "answer {} of {} not in its version",
                r.item_id, audit.id
            ))
        })?;
        let resp = stored_response(r.kind, false, number, text.as_deref())
            .ok_or_else(|| corrupt(format!("answer {} of {}", r.item_id, audit.id)))?;
        let a = Assessed {
            failed: r.failed,
            item_id: r.item_id,
            item_code: r.item_code.clone(),
            answer: response_json(&resp),
        };
        // A standard checked by two items fails when either fails.
        match assessed.get(*code) {
            Some(prev) if prev.failed || !a.failed => {}
            _ => {
                assessed.insert((*code).to_owned(), a);
            }
        }
    }
    let settings = db::review::settings(txn).await?;
    let now = Utc::now();
    let due_on = now.date_naive() + chrono::Duration::days(settings.action_due_days);
    let mut active: HashMap<String, ca::Model> = db::actions::active_at_store(txn, audit.store_id)
        .await?
        .into_iter()
        .map(|a| (a.standard_code.clone(), a))
        .collect();
    for (code, a) in assessed {
        match (active.remove(&code), a.failed) {
            (Some(existing), true) => {
                let reopened = existing.status == ActionStatus::Resolved;
                let mut row: ca::ActiveModel = existing.clone().into();
                row.status = Set(ActionStatus::Open);
                row.last_audit_id = Set(audit.id);
                row.answer = Set(a.answer.to_string());
                if reopened {
                    row.reopened = Set(existing.reopened + 1);
                    row.due_on = Set(due_on);
                }
                row.updated_at = Set(now);
                db::actions::update(txn, row).await?;
            }
            (Some(existing), false) => {
                let mut row: ca::ActiveModel = existing.into();
                row.status = Set(ActionStatus::Verified);
                row.verified_at = Set(Some(now));
                row.verified_audit_id = Set(Some(audit.id));
                row.last_audit_id = Set(audit.id);
                row.updated_at = Set(now);
                db::actions::update(txn, row).await?;
            }
            (None, true) => {
                db::actions::insert(
                    txn,
                    ca::Model {
                        id: Uuid::now_v7(),
                        store_id: audit.store_id,
                        standard_code: code,
                        item_code: a.item_code,
                        item_id: a.item_id,
                        audit_id: audit.id,
                        answer: a.answer.to_string(),
                        status: ActionStatus::Open,
                        due_on,
                        opened_at: now,
                        reopened: 0,
                        last_audit_id: audit.id,
                        resolved_at: None,
                        resolved_by: None,
                        resolution_note: None,
                        photo_key: None,
                        photo_content_type: None,
                        verified_at: None,
                        verified_audit_id: None,
                        updated_at: now,
                    },
                )
                .await?;
            }
            (None, false) => {}
        }
    }
    Ok(())
}

/// Short-lived URLs for resolution photos.
const PHOTO_URL_TTL: Duration = Duration::from_secs(600);
/// Largest resolution photo.
const MAX_PHOTO_BYTES: u64 = 30 * 1024 * 1024;

/// An action as the API shows it.
pub async fn view(
    storage: &Storage,
    region_of: &HashMap<Uuid, Uuid>,
    today: NaiveDate,
    a: ca::Model,
) -> Result<CorrectiveAction, ApiError> {
    let photo = match (&a.photo_key, &a.photo_content_type) {
        (Some(key), Some(ct)) => Some(ActionPhoto {
            content_type: ct.clone(),
            url: storage.presign_get(key, PHOTO_URL_TTL).await?.url,
        }),
        _ => None,
    };
    let answer = serde_json::from_str(&a.answer)
        .map_err(|e| corrupt(format!("corrective action {} answer: {e}", a.id)))?;
    let region_id = *region_of
        .get(&a.store_id)
        .ok_or_else(|| corrupt(format!("corrective action {} has no store", a.id)))?;
    Ok(CorrectiveAction {
        id: a.id,
        store_id: a.store_id,
        region_id,
        standard_code: a.standard_code,
        item_code: a.item_code,
        item_id: a.item_id,
        audit_id: a.audit_id,
        answer,
        status: a.status.into(),
        overdue: a.status != ActionStatus::Verified && a.due_on < today,
        due_on: a.due_on,
        opened_at: a.opened_at,
        reopened: i64::from(a.reopened),
        last_audit_id: a.last_audit_id,
        resolved_at: a.resolved_at,
        resolved_by: a.resolved_by,
        resolution_note: a.resolution_note,
        photo,
        verified_at: a.verified_at,
        verified_audit_id: a.verified_audit_id,
        updated_at: a.updated_at,
    })
}

/// The region of each store the actions concern.
pub async fn regions_of(
    db: &impl ConnectionTrait,
    actions: &[ca::Model],
) -> Result<HashMap<Uuid, Uuid>, ApiError> {
    let mut ids: Vec<Uuid> = actions.iter().map(|a| a.store_id).collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(db::stores::by_ids(db, &ids)
        .await?
        .into_iter()
        .map(|s| (s.id, s.region_id))
        .collect())
}

/// Resolve an action (or take a resolution back, or move its due date).
#[instrument(skip_all, fields(action = %id, by = %caller.id))]
pub async fn patch(
    db: &DatabaseConnection,
    storage: &Storage,
    caller: &Caller,
    id: Uuid,
    p: ActionPatch,
) -> Result<ActionUpdated, ApiError> {
    if caller.role == Role::Auditor {
        return Err(ApiError::forbidden(
            "auditors cannot change corrective actions",
        ));
    }
    let scope: Scope = caller.scope();
    let mut errors = Vec::new();
    let note = p.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > MAX_TEXT) {
        errors.push(ErrorDetail::new(
            "note",
            format!("must be at most {MAX_TEXT} characters"),
        ));
    }
    match p.status {
        Some(WireStatus::Resolved) if note.is_none() => errors.push(ErrorDetail::new(
            "note",
            "resolving an action needs a note saying what was done",
        )),
        Some(WireStatus::Verified) => errors.push(ErrorDetail::new(
            "status",
            "an action is verified by the next approved audit that passes the standard, not by hand",
        )),
        _ => {}
    }
    if p.status.is_none() && p.due_on.is_none() && note.is_none() && p.photo.is_none() {
        errors.push(ErrorDetail::new(
            "status",
            "nothing to change: give status, note, due_on or photo",
        ));
    }
    if let Some(photo) = &p.photo {
        if p.status != Some(WireStatus::Resolved) {
            errors.push(ErrorDetail::new(
                "photo",
                "a photo comes with `status: resolved`",
            ));
        }
        if !["image/jpeg", "image/png", "image/webp"].contains(&photo.content_type.as_str()) {
            errors.push(ErrorDetail::new(
                "photo.content_type",
                "must be image/jpeg, image/png or image/webp",
            ));
        }
        if photo.bytes == 0 || photo.bytes > MAX_PHOTO_BYTES {
            errors.push(ErrorDetail::new(
                "photo.bytes",
                format!("must be from 1 to {MAX_PHOTO_BYTES}"),
            ));
        }
        if crate::storage::hex_to_base64(&photo.sha256).is_none() || photo.sha256.len() != 64 {
            errors.push(ErrorDetail::new(
                "photo.sha256",
                "must be 64 hexadecimal digits",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    db::actions::visible(db, &scope, id, false).await?;
    let txn = db::begin_write(db).await?;
    let existing = db::actions::visible(&txn, &scope, id, true).await?;
    if existing.status == ActionStatus::Verified {
        return Err(ApiError::conflict(
            "action_verified",
            "the action is verified by an audit and can no longer change",
        )
        .with_detail("status", "verified"));
    }
    let now = Utc::now();
    let mut row: ca::ActiveModel = existing.clone().into();
    let mut upload = None;
    match p.status {
        Some(WireStatus::Resolved) => {
            row.status = Set(ActionStatus::Resolved);
            row.resolved_at = Set(Some(now));
            row.resolved_by = Set(Some(caller.id));
            row.resolution_note = Set(note.map(str::to_owned));
            if let Some(photo) = &p.photo {
                let sha = photo.sha256.to_ascii_lowercase();
                let key = format!("corrective-actions/{id}/{sha}");
                let signed = storage
                    .presign_put(&key, &photo.content_type, photo.bytes, &sha, PHOTO_URL_TTL)
                    .await?;
                row.photo_key = Set(Some(key));
                row.photo_content_type = Set(Some(photo.content_type.clone()));
                upload = Some(UploadTarget {
                    method: signed.method,
                    url: signed.url,
                    headers: signed.headers.into_iter().collect(),
                    expires_at: signed.expires_at,
                });
            }
        }
        Some(WireStatus::Open) => {
            row.status = Set(ActionStatus::Open);
            row.resolved_at = Set(None);
            row.resolved_by = Set(None);
            if let Some(n) = note {
                row.resolution_note = Set(Some(n.to_owned()));
            }
        }
        Some(WireStatus::Verified) | None => {
            if let Some(n) = note {
                row.resolution_note = Set(Some(n.to_owned()));
            }
        }
    }
    if let Some(due) = p.due_on {
        row.due_on = Set(due);
    }
    row.updated_at = Set(now);
    let updated = db::actions::update(&txn, row).await?;
    txn.commit().await?;
    let regions = regions_of(db, std::slice::from_ref(&updated)).await?;
    Ok(ActionUpdated {
        action: view(storage, &regions, now.date_naive(), updated).await?,
        photo_upload: upload,
    })
}
