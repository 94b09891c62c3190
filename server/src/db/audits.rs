//! Audits pushed by phones: stored lossless and idempotent, one transaction
//! per audit, scored on arrival against their own checklist version.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use sha2::{Digest, Sha256};
use storecheck_shared::catalog::{ChecklistVersion, ItemKind};
use storecheck_shared::scoring::{Response, Score, score};
use storecheck_shared::sync::{
    AuditPayload, AuditState, AuditStatus, PushOutcome, PushResult, check_audit, distance_m,
};
use storecheck_shared::{ErrorDetail, Role};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::entities::{
    assignments, audit_answers, audit_conflicts, audit_photos, audit_revisions, audits,
    checklist_versions, stores,
};
use crate::error::ApiError;
use crate::state::AppState;

/// Published versions never change, so each server parses each once.
#[derive(Default)]
pub struct VersionCache(std::sync::Mutex<HashMap<Uuid, Arc<ChecklistVersion>>>);

impl VersionCache {
    pub async fn get(
        &self,
        db: &impl ConnectionTrait,
        id: Uuid,
    ) -> Result<Option<Arc<ChecklistVersion>>, ApiError> {
        if let Some(v) = self.lock().get(&id) {
            return Ok(Some(v.clone()));
        }
        let Some(row) = checklist_versions::Entity::find_by_id(id).one(db).await? else {
            return Ok(None);
        };
        let parsed: ChecklistVersion = serde_json::from_str(&row.body)
            .map_err(|e| ApiError::internal(anyhow::anyhow!("version {id} body: {e}")))?;
        let parsed = Arc::new(parsed);
        self.lock().insert(id, parsed.clone());
        Ok(Some(parsed))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<ChecklistVersion>>> {
        match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

fn rejected(a: &AuditPayload, errors: Vec<ErrorDetail>) -> PushResult {
    PushResult {
        id: a.id,
        revision: a.revision,
        outcome: PushOutcome::Rejected,
        errors,
        current: None,
    }
}

fn payload_hash(a: &AuditPayload) -> Result<(String, String), ApiError> {
    let text = serde_json::to_string(a).map_err(anyhow::Error::from)?;
    let digest = Sha256::digest(text.as_bytes());
    Ok((text, digest.iter().map(|b| format!("{b:02x}")).collect()))
}

pub fn state_of(a: &audits::Model) -> Result<AuditState, ApiError> {
    Ok(AuditState {
        id: a.id,
        status: AuditStatus::parse(&a.status).ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("audit {} has status {}", a.id, a.status))
        })?,
        revision: i64::from(a.revision),
        total: i64::from(a.total),
        critical_failure: a.critical_failure,
        flags: serde_json::from_str(&a.flags).unwrap_or_default(),
        updated_at: a.updated_at,
    })
}

/// What a revision stores besides the payload.
struct Scored {
    score: Score,
    responses: HashMap<Uuid, Response>,
    flags: Vec<String>,
    distance_m: Option<f64>,
}

/// Evidence flags: never a reason to refuse an audit.
fn flags_for(
    payload: &AuditPayload,
    assignment: &assignments::Model,
    store: &stores::Model,
    caller: Uuid,
    geofence_m: f64,
) -> (Vec<String>, Option<f64>) {
    let mut flags = Vec::new();
    let tz: chrono_tz::Tz = store.timezone.parse().unwrap_or(chrono_tz::UTC);
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
    let in_window = |t| (assignment.window_start..=assignment.window_end).contains(&local(t));
    if !in_window(payload.started_at) || !in_window(payload.finished_at) {
        flags.push("visit_outside_window".to_owned());
    }
    let distance = payload
        .checkin
        .map(|c| distance_m((c.latitude, c.longitude), (store.latitude, store.longitude)));
    match distance {
        None => flags.push("no_checkin".to_owned()),
        Some(d) if d > geofence_m => flags.push("checkin_outside_geofence".to_owned()),
        Some(_) => {}
    }
    if assignment.status == "cancelled" {
        flags.push("assignment_cancelled".to_owned());
    }
    if assignment.auditor_id != caller {
        flags.push("assignment_reassigned".to_owned());
    }
    if assignment.checklist_version_id != payload.checklist_version_id {
        flags.push("version_differs_from_assignment".to_owned());
    }
    (flags, distance)
}

/// The assignments and stores a push refers to, loaded once per push.
pub struct PushContext {
    assignments: HashMap<Uuid, assignments::Model>,
    stores: HashMap<Uuid, stores::Model>,
}

impl PushContext {
    pub async fn load(
        db: &impl ConnectionTrait,
        payloads: &[AuditPayload],
    ) -> Result<Self, ApiError> {
        let ids: Vec<Uuid> = payloads.iter().map(|p| p.assignment_id).collect();
        let assignments: HashMap<Uuid, assignments::Model> = super::assignments::by_ids(db, &ids)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        let store_ids: Vec<Uuid> = assignments.values().map(|a| a.store_id).collect();
        let stores = super::stores::by_ids(db, &store_ids)
            .await?
            .into_iter()
            .map(|s| (s.id, s))
            .collect();
        Ok(PushContext {
            assignments,
            stores,
        })
    }
}

/// Store one pushed audit (or recognise it), in its own transaction.
pub async fn push_one(
    state: &AppState,
    caller: &AuthUser,
    ctx: &PushContext,
    device_clock: DateTime<Utc>,
    payload: AuditPayload,
) -> Result<PushResult, ApiError> {
    let db = &state.db;
    let received_at = Utc::now();
    let Some(assignment) = ctx.assignments.get(&payload.assignment_id) else {
        return Ok(rejected(
            &payload,
            vec![ErrorDetail::new("assignment_id", "no such assignment")],
        ));
    };
    if assignment.auditor_id != caller.id
        && !super::sync::was_assigned(db, caller.id, assignment.id).await?
    {
        return Ok(rejected(
            &payload,
            vec![ErrorDetail::new(
                "assignment_id",
                "this assignment is not yours",
            )],
        ));
    }
    let Some(version) = state.versions.get(db, payload.checklist_version_id).await? else {
        return Ok(rejected(
            &payload,
            vec![ErrorDetail::new(
                "checklist_version_id",
                "no such checklist version",
            )],
        ));
    };
    let responses = match check_audit(&version, &payload) {
        Ok(r) => r,
        Err(errors) => return Ok(rejected(&payload, errors)),
    };
    let score = match score(&version.sections, &|i| {
        responses
            .get(&i.id)
            .cloned()
            .unwrap_or(Response::NotApplicable)
    }) {
        Ok(s) => s,
        Err(e) => {
            return Ok(rejected(
                &payload,
                vec![ErrorDetail::new("answers", e.to_string())],
            ));
        }
    };
    let store = ctx.stores.get(&assignment.store_id).ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!("assignment {} has no store", assignment.id))
    })?;
    let (flags, distance_m) = flags_for(
        &payload,
        assignment,
        store,
        caller.id,
        state.config.geofence_m,
    );
    let scored = Scored {
        score,
        responses,
        flags,
        distance_m,
    };
    let (text, hash) = payload_hash(&payload)?;
    let skew = received_at - device_clock;

    let txn = super::begin_write(db).await?;
    let now = Utc::now();
    let new_audit = audits::ActiveModel {
        id: Set(payload.id),
        assignment_id: Set(assignment.id),
        auditor_id: Set(caller.id),
        store_id: Set(store.id),
        checklist_version_id: Set(payload.checklist_version_id),
        status: Set(AuditStatus::Submitted.as_str().to_owned()),
        revision: Set(revision_i32(payload.revision)),
        total: Set(hundredths_i32(scored.score.total)),
        critical_failure: Set(scored.score.critical_failure),
        flags: Set(serde_json::to_string(&scored.flags).map_err(anyhow::Error::from)?),
        started_at: Set(payload.started_at),
        finished_at: Set(payload.finished_at),
        started_at_server: Set(payload.started_at + skew),
        finished_at_server: Set(payload.finished_at + skew),
        created_at: Set(now),
        updated_at: Set(now),
    };
    // The primary key decides who creates the audit: a racing twin waits
    // here and then finds it made.
    let created = audits::Entity::insert(new_audit)
        .on_conflict_do_nothing_on([audits::Column::Id])
        .exec_without_returning(&txn)
        .await?;
    let created = matches!(created, sea_orm::TryInsertResult::Inserted(n) if n > 0);
    let created_state = AuditState {
        id: payload.id,
        status: AuditStatus::Submitted,
        revision: payload.revision,
        total: scored.score.total,
        critical_failure: scored.score.critical_failure,
        flags: scored.flags.clone(),
        updated_at: now,
    };
    let outcome = if created {
        insert_revision(
            &txn,
            &payload,
            &version,
            &scored,
            &text,
            &hash,
            device_clock,
            received_at,
        )
        .await?;
        PushOutcome::Accepted
    } else {
        let audit = audits::Entity::find_by_id(payload.id)
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("audit {} vanished", payload.id)))?;
        if audit.auditor_id != caller.id {
            txn.rollback().await?;
            return Ok(rejected(
                &payload,
                vec![ErrorDetail::new(
                    "id",
                    "another auditor's audit has this id",
                )],
            ));
        }
        let same_revision = audit_revisions::Entity::find()
            .filter(audit_revisions::Column::AuditId.eq(audit.id))
            .filter(audit_revisions::Column::Revision.eq(revision_i32(payload.revision)))
            .one(&txn)
            .await?;
        let status = AuditStatus::parse(&audit.status);
        match same_revision {
            Some(r) if r.payload_hash == hash => PushOutcome::Duplicate,
            Some(_) => {
                quarantine(
                    &txn,
                    &payload,
                    caller.id,
                    "revision_reused",
                    &text,
                    received_at,
                )
                .await?;
                PushOutcome::Conflict
            }
            None if matches!(status, Some(AuditStatus::Approved | AuditStatus::Rejected)) => {
                quarantine(
                    &txn,
                    &payload,
                    caller.id,
                    "audit_closed",
                    &text,
                    received_at,
                )
                .await?;
                PushOutcome::Conflict
            }
            None => {
                insert_revision(
                    &txn,
                    &payload,
                    &version,
                    &scored,
                    &text,
                    &hash,
                    device_clock,
                    received_at,
                )
                .await?;
                if revision_i32(payload.revision) > audit.revision {
                    let mut a: audits::ActiveModel = audit.into();
                    a.status = Set(AuditStatus::Submitted.as_str().to_owned());
                    a.revision = Set(revision_i32(payload.revision));
                    a.checklist_version_id = Set(payload.checklist_version_id);
                    a.total = Set(hundredths_i32(scored.score.total));
                    a.critical_failure = Set(scored.score.critical_failure);
                    a.flags =
                        Set(serde_json::to_string(&scored.flags).map_err(anyhow::Error::from)?);
                    a.started_at = Set(payload.started_at);
                    a.finished_at = Set(payload.finished_at);
                    a.started_at_server = Set(payload.started_at + skew);
                    a.finished_at_server = Set(payload.finished_at + skew);
                    a.updated_at = Set(now);
                    a.update(&txn).await?;
                }
                PushOutcome::Accepted
            }
        }
    };
    let current = if created {
        Some(created_state)
    } else {
        audits::Entity::find_by_id(payload.id)
            .one(&txn)
            .await?
            .as_ref()
            .map(state_of)
            .transpose()?
    };
    txn.commit().await?;
    Ok(PushResult {
        id: payload.id,
        revision: payload.revision,
        outcome,
        errors: Vec::new(),
        current,
    })
}

fn revision_i32(r: i64) -> i32 {
    i32::try_from(r).unwrap_or(i32::MAX)
}

fn hundredths_i32(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

async fn quarantine(
    db: &impl ConnectionTrait,
    payload: &AuditPayload,
    auditor: Uuid,
    reason: &str,
    text: &str,
    received_at: DateTime<Utc>,
) -> Result<(), ApiError> {
    audit_conflicts::ActiveModel {
        id: Set(Uuid::now_v7()),
        audit_id: Set(payload.id),
        revision: Set(revision_i32(payload.revision)),
        auditor_id: Set(auditor),
        reason: Set(reason.to_owned()),
        payload: Set(text.to_owned()),
        received_at: Set(received_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn insert_revision(
    db: &impl ConnectionTrait,
    payload: &AuditPayload,
    version: &ChecklistVersion,
    scored: &Scored,
    text: &str,
    hash: &str,
    device_clock: DateTime<Utc>,
    received_at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let skew = received_at - device_clock;
    let s = &scored.score;
    let breakdown = serde_json::json!({
        "sections": s.sections.iter().map(|(c, v)| serde_json::json!({"code": c, "score": v})).collect::<Vec<_>>(),
        "dimensions": s.dimensions.iter().map(|(c, v)| serde_json::json!({"code": c, "score": v})).collect::<Vec<_>>(),
        "failed_items": s.failed_items,
        "checkin_distance_m": scored.distance_m,
    });
    audit_revisions::ActiveModel {
        id: Set(Uuid::now_v7()),
        audit_id: Set(payload.id),
        revision: Set(revision_i32(payload.revision)),
        payload: Set(text.to_owned()),
        payload_hash: Set(hash.to_owned()),
        device_clock: Set(device_clock),
        received_at: Set(received_at),
        skew_ms: Set(skew.num_milliseconds()),
        total: Set(hundredths_i32(s.total)),
        base: Set(hundredths_i32(s.base)),
        bonus: Set(hundredths_i32(s.bonus)),
        deductions: Set(hundredths_i32(s.deductions)),
        critical_failure: Set(s.critical_failure),
        breakdown: Set(breakdown.to_string()),
        flags: Set(serde_json::to_string(&scored.flags).map_err(anyhow::Error::from)?),
        checkin_latitude: Set(payload.checkin.map(|c| c.latitude)),
        checkin_longitude: Set(payload.checkin.map(|c| c.longitude)),
        checkin_accuracy: Set(payload.checkin.and_then(|c| c.accuracy_m)),
    }
    .insert(db)
    .await?;
    let answers_by_item: HashMap<Uuid, &storecheck_shared::sync::AnswerPayload> =
        payload.answers.iter().map(|a| (a.item_id, a)).collect();
    let mut rows = Vec::new();
    for item in version.sections.iter().flat_map(|s| s.items.iter()) {
        let r = scored
            .responses
            .get(&item.id)
            .cloned()
            .unwrap_or(Response::NotApplicable);
        let a = answers_by_item.get(&item.id);
        let (number, text) = match &r {
            Response::NotApplicable => (None, None),
            Response::YesNo(b) => (Some(if *b { 1.0 } else { 0.0 }), None),
            Response::Scale(v) | Response::Count(v) => (Some(f64::from(*v)), None),
            Response::Measure(x) => (Some(*x), None),
            Response::Choice(c) => (None, Some(c.clone())),
        };
        rows.push(audit_answers::ActiveModel {
            audit_id: Set(payload.id),
            revision: Set(revision_i32(payload.revision)),
            item_id: Set(item.id),
            item_code: Set(item.code.clone()),
            kind: Set(kind_str(item.kind).to_owned()),
            na: Set(r == Response::NotApplicable),
            value_number: Set(number),
            value_text: Set(text),
            failed: Set(s.failed_items.contains(&item.id)),
            note: Set(a.and_then(|a| a.note.clone())),
            answered_at: Set(a.and_then(|a| a.answered_at)),
        });
    }
    for chunk in rows.chunks(200) {
        audit_answers::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    let photos: Vec<audit_photos::ActiveModel> = payload
        .photos
        .iter()
        .map(|p| audit_photos::ActiveModel {
            id: Set(p.id),
            audit_id: Set(payload.id),
            item_id: Set(p.item_id),
            sha256: Set(p.sha256.to_ascii_lowercase()),
            bytes: Set(i64::try_from(p.bytes).unwrap_or(i64::MAX)),
            content_type: Set(p.content_type.clone()),
            taken_at: Set(p.taken_at),
            state: Set("pending_upload".to_owned()),
            created_at: Set(received_at),
        })
        .collect();
    for chunk in photos.chunks(200) {
        audit_photos::Entity::insert_many(chunk.to_vec())
            .on_conflict_do_nothing_on([audit_photos::Column::Id])
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

pub fn kind_str(k: ItemKind) -> &'static str {
    match k {
        ItemKind::YesNo => "yes_no",
        ItemKind::Scale => "scale",
        ItemKind::Measure => "measure",
        ItemKind::Choice => "choice",
        ItemKind::Count => "count",
    }
}

// ---- reading ----------------------------------------------------------------

#[derive(Default)]
pub struct Filter {
    pub status: Option<AuditStatus>,
    pub region_id: Option<Uuid>,
    pub store_id: Option<Uuid>,
    pub auditor_id: Option<Uuid>,
    pub quarter: Option<String>,
}

pub async fn list(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    f: Filter,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<audits::Model>, ApiError> {
    use sea_orm::sea_query::Query;
    let mut q = audits::Entity::find().order_by_asc(audits::Column::Id);
    match caller.role {
        Role::Hq => {}
        Role::RegionalManager => {
            q = q.filter(
                audits::Column::StoreId
                    .in_subquery(super::stores::ids_in_regions(caller.region_ids.clone())),
            )
        }
        Role::Auditor => q = q.filter(audits::Column::AuditorId.eq(caller.id)),
    }
    if let Some(s) = f.status {
        q = q.filter(audits::Column::Status.eq(s.as_str()));
    }
    if let Some(r) = f.region_id {
        q = q.filter(audits::Column::StoreId.in_subquery(super::stores::ids_in_regions(vec![r])));
    }
    if let Some(s) = f.store_id {
        q = q.filter(audits::Column::StoreId.eq(s));
    }
    if let Some(a) = f.auditor_id {
        q = q.filter(audits::Column::AuditorId.eq(a));
    }
    if let Some(quarter) = f.quarter {
        q = q.filter(
            audits::Column::ChecklistVersionId.in_subquery(
                Query::select()
                    .column(checklist_versions::Column::Id)
                    .from(checklist_versions::Entity)
                    .and_where(checklist_versions::Column::Quarter.eq(quarter))
                    .to_owned(),
            ),
        );
    }
    if let Some(after) = after {
        q = q.filter(audits::Column::Id.gt(after));
    }
    Ok(q.limit(limit + 1).all(db).await?)
}

/// An audit the caller may see (404 otherwise).
pub async fn visible(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    id: Uuid,
) -> Result<audits::Model, ApiError> {
    let not_found = || ApiError::not_found("audit");
    let a = audits::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    let seen = match caller.role {
        Role::Hq => true,
        Role::Auditor => a.auditor_id == caller.id,
        Role::RegionalManager => stores::Entity::find_by_id(a.store_id)
            .one(db)
            .await?
            .is_some_and(|s| caller.region_ids.contains(&s.region_id)),
    };
    if seen { Ok(a) } else { Err(not_found()) }
}

pub async fn revisions(
    db: &impl ConnectionTrait,
    audit: Uuid,
) -> Result<Vec<audit_revisions::Model>, ApiError> {
    Ok(audit_revisions::Entity::find()
        .filter(audit_revisions::Column::AuditId.eq(audit))
        .order_by_asc(audit_revisions::Column::Revision)
        .all(db)
        .await?)
}

pub async fn answers(
    db: &impl ConnectionTrait,
    audit: Uuid,
    revision: i32,
) -> Result<Vec<audit_answers::Model>, ApiError> {
    Ok(audit_answers::Entity::find()
        .filter(audit_answers::Column::AuditId.eq(audit))
        .filter(audit_answers::Column::Revision.eq(revision))
        .all(db)
        .await?)
}

pub async fn photos(
    db: &impl ConnectionTrait,
    audit: Uuid,
) -> Result<Vec<audit_photos::Model>, ApiError> {
    Ok(audit_photos::Entity::find()
        .filter(audit_photos::Column::AuditId.eq(audit))
        .order_by_asc(audit_photos::Column::Id)
        .all(db)
        .await?)
}

pub async fn conflicts(
    db: &impl ConnectionTrait,
    audit: Uuid,
) -> Result<Vec<audit_conflicts::Model>, ApiError> {
    Ok(audit_conflicts::Entity::find()
        .filter(audit_conflicts::Column::AuditId.eq(audit))
        .order_by_asc(audit_conflicts::Column::Id)
        .all(db)
        .await?)
}
