//! Push: audits made offline, stored lossless and idempotent, one
//! transaction per audit, scored on arrival against their own version.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, Set, TransactionTrait};
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use storecheck_shared::ErrorDetail;
use storecheck_shared::catalog::ChecklistVersion;
use storecheck_shared::scoring::{Response, Score, score};
use storecheck_shared::sync::{
    AuditPayload, AuditState, PushOutcome, PushResult, check_audit, distance_m,
};
use tracing::instrument;
use uuid::Uuid;

use super::{Settings, VersionCache, corrupt};
use crate::db;
use crate::db::audits::{NewRevision, StoredScore};
use crate::entities::enums::{AssignmentStatus, AuditAction, AuditStatus};
use crate::entities::{assignments, audits, stores};
use crate::error::ApiError;
use crate::metrics::Metrics;

/// A push body: the phone's clock and its audits, each still unparsed so
/// that one malformed audit cannot block the others.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPush<'a> {
    device_clock: DateTime<Utc>,
    #[serde(borrow)]
    audits: Vec<&'a RawValue>,
}

/// Enough of an audit to answer for it when the rest cannot be read.
#[derive(Debug, Deserialize)]
struct AuditKey {
    id: Uuid,
    revision: i64,
}

/// A push as read: each audit parsed, or refused with its field errors.
pub struct PushBatch {
    pub device_clock: DateTime<Utc>,
    pub audits: Vec<Result<AuditPayload, PushResult>>,
}

impl PushBatch {
    /// Read a push body. Only a body that is not a push at all (no
    /// readable clock or `audits` array, an audit without a readable id and
    /// revision, the same audit twice, too many) fails as a whole.
    pub fn parse(body: &[u8], max_audits: usize) -> Result<PushBatch, ApiError> {
        let raw: RawPush<'_> = crate::extract::parse_json(body)?;
        if !storecheck_shared::sync::plausible_time(raw.device_clock) {
            return Err(ApiError::invalid_field(
                "device_clock",
                "must be a time between the years 2000 and 2100",
            ));
        }
        if raw.audits.len() > max_audits {
            return Err(ApiError::invalid_field(
                "audits",
                format!("at most {max_audits} audits per push; send the rest in another"),
            ));
        }
        let mut seen: HashMap<(Uuid, i64), usize> = HashMap::new();
        let mut audits = Vec::with_capacity(raw.audits.len());
        for (i, a) in raw.audits.into_iter().enumerate() {
            let key: AuditKey = serde_json::from_str(a.get()).map_err(|_| {
                let why = "every audit needs a UUID `id` and a whole-number `revision`";
                ApiError::bad_request("invalid_body", format!("audits[{i}]: {why}"))
                    .with_detail(format!("audits[{i}]"), why)
            })?;
            if let Some(first) = seen.insert((key.id, key.revision), i) {
                return Err(ApiError::invalid_field(
                    format!("audits[{i}]"),
                    format!("the same audit and revision as audits[{first}]"),
                ));
            }
            audits.push(
                crate::extract::parse_part::<AuditPayload>(a.get().as_bytes())
                    .map_err(|e| rejected(key.id, key.revision, vec![e])),
            );
        }
        Ok(PushBatch {
            device_clock: raw.device_clock,
            audits,
        })
    }

    fn payloads(&self) -> impl Iterator<Item = &AuditPayload> {
        self.audits.iter().filter_map(|a| a.as_ref().ok())
    }
}

fn rejected(id: Uuid, revision: i64, errors: Vec<ErrorDetail>) -> PushResult {
    PushResult {
        id,
        revision,
        outcome: PushOutcome::Rejected,
        errors,
        current: None,
        uploads: Vec::new(),
    }
}

/// The one answer for an assignment the caller may not push for, whether
/// it does not exist or belongs to someone else (ids do not leak).
fn no_such_assignment(a: &AuditPayload) -> PushResult {
    rejected(
        a.id,
        a.revision,
        vec![ErrorDetail::new("assignment_id", "no such assignment")],
    )
}

fn payload_hash(a: &AuditPayload) -> Result<(String, String), ApiError> {
    let text = serde_json::to_string(a).map_err(anyhow::Error::from)?;
    let digest = Sha256::digest(text.as_bytes());
    Ok((text, digest.iter().map(|b| format!("{b:02x}")).collect()))
}

/// Evidence flags: never a reason to refuse an audit.
fn flags_for(
    payload: &AuditPayload,
    assignment: &assignments::Model,
    store: &stores::Model,
    auditor: Uuid,
    geofence_m: f64,
) -> Result<(Vec<String>, Option<f64>), ApiError> {
    let mut flags = Vec::new();
    let tz: chrono_tz::Tz = store
        .timezone
        .parse()
        .map_err(|_| corrupt(format!("store {} time zone {:?}", store.id, store.timezone)))?;
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
    if assignment.status == AssignmentStatus::Cancelled {
        flags.push("assignment_cancelled".to_owned());
    }
    if assignment.auditor_id != auditor {
        flags.push("assignment_reassigned".to_owned());
    }
    if assignment.checklist_version_id != payload.checklist_version_id {
        flags.push("version_differs_from_assignment".to_owned());
    }
    Ok((flags, distance))
}

/// The assignments and stores a push refers to, loaded once per push.
struct PushContext {
    assignments: HashMap<Uuid, assignments::Model>,
    /// Assignments of the push the auditor held at some time.
    held: HashSet<Uuid>,
    stores: HashMap<Uuid, stores::Model>,
}

impl PushContext {
    async fn load(
        db: &DatabaseConnection,
        auditor: Uuid,
        batch: &PushBatch,
    ) -> Result<Self, ApiError> {
        let ids: Vec<Uuid> = batch.payloads().map(|p| p.assignment_id).collect();
        let assignments: HashMap<Uuid, assignments::Model> = db::assignments::by_ids(db, &ids)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        let others: Vec<Uuid> = assignments
            .values()
            .filter(|a| a.auditor_id != auditor)
            .map(|a| a.id)
            .collect();
        let held = db::assignments::held_by(db, auditor, &others).await?;
        let store_ids: Vec<Uuid> = assignments.values().map(|a| a.store_id).collect();
        let stores = db::stores::by_ids(db, &store_ids)
            .await?
            .into_iter()
            .map(|s| (s.id, s))
            .collect();
        Ok(PushContext {
            assignments,
            held,
            stores,
        })
    }

    /// The assignment, if the auditor holds it now or held it before.
    fn assignment_of(&self, auditor: Uuid, id: Uuid) -> Option<&assignments::Model> {
        self.assignments
            .get(&id)
            .filter(|a| a.auditor_id == auditor || self.held.contains(&a.id))
    }
}

/// Store every audit of a push (or recognise it), and answer for each in
/// order.
///
/// The audits that pass their checks are written in one transaction, in id
/// order (so that two pushes sharing audits lock them in the same order),
/// each behind a savepoint when it lists photos (the only write that can be
/// refused once begun). Should that transaction fail, nothing of it is
/// kept and each audit is written again in a transaction of its own, so
/// one audit's trouble never costs the others.
#[instrument(skip_all, fields(auditor = %auditor, audits = batch.audits.len()))]
pub async fn push(
    db: &DatabaseConnection,
    versions: &VersionCache,
    settings: Settings,
    metrics: &Metrics,
    auditor: Uuid,
    batch: PushBatch,
) -> Result<Vec<PushResult>, ApiError> {
    let ctx = PushContext::load(db, auditor, &batch).await?;
    let device_clock = batch.device_clock;
    let mut results: Vec<Option<PushResult>> = Vec::with_capacity(batch.audits.len());
    let mut ready = Vec::new();
    for (i, audit) in batch.audits.into_iter().enumerate() {
        let checked = match audit {
            Ok(payload) => {
                prepare(db, versions, settings, &ctx, auditor, device_clock, payload).await?
            }
            Err(refused) => Err(refused),
        };
        match checked {
            Ok(p) => {
                ready.push((i, p));
                results.push(None);
            }
            Err(refused) => results.push(Some(refused)),
        }
    }
    ready.sort_by_key(|(_, p)| p.payload.id);
    let written = match write_together(db, &ready).await {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e.message, "push transaction failed; writing each audit alone");
            let mut w = Vec::with_capacity(ready.len());
            for (_, p) in &ready {
                let txn = db::begin_write(db).await?;
                let (result, keep) = write(&txn, p).await?;
                if keep {
                    txn.commit().await?;
                } else {
                    txn.rollback().await?;
                }
                w.push(result);
            }
            w
        }
    };
    for ((i, _), result) in ready.iter().zip(written) {
        results[*i] = Some(result);
    }
    let results: Vec<PushResult> = results.into_iter().flatten().collect();
    for result in &results {
        metrics.push_outcome(result.outcome);
        tracing::info!(
            audit = %result.id,
            revision = result.revision,
            outcome = ?result.outcome,
            errors = result.errors.len(),
            "audit pushed"
        );
    }
    Ok(results)
}

/// Write the checked audits of a push in one transaction. New audits
/// without photos, the bulk of any push, take one multi-row INSERT per
/// table; the others are written one by one.
async fn write_together(
    db: &DatabaseConnection,
    ready: &[(usize, Prepared)],
) -> Result<Vec<PushResult>, ApiError> {
    if ready.is_empty() {
        return Ok(Vec::new());
    }
    let txn = db::begin_write(db).await?;
    let now = Utc::now();
    let bulk: Vec<&Prepared> = ready
        .iter()
        .map(|(_, p)| p)
        .filter(|p| p.payload.photos.is_empty())
        .collect();
    let created = db::audits::insert_new(
        &txn,
        bulk.iter()
            .map(|p| audits::ActiveModel::from(audit_row(p, now)).reset_all())
            .collect(),
    )
    .await?;
    let revisions: Vec<NewRevision<'_>> = bulk
        .iter()
        .filter(|p| created.contains(&p.payload.id))
        .map(|p| new_revision(p, true))
        .collect();
    db::audits::insert_revisions(&txn, &revisions).await?;
    let mut out = Vec::with_capacity(ready.len());
    for (_, p) in ready {
        if p.payload.photos.is_empty() && created.contains(&p.payload.id) {
            out.push(accepted(p, &audit_row(p, now))?);
        } else if p.payload.photos.is_empty() {
            let (result, keep) = write(&txn, p).await?;
            if !keep {
                return Err(corrupt(format!(
                    "audit {} refused after writing",
                    p.payload.id
                )));
            }
            out.push(result);
        } else {
            let savepoint = txn.begin().await?;
            let (result, keep) = write(&savepoint, p).await?;
            if keep {
                savepoint.commit().await?;
            } else {
                savepoint.rollback().await?;
            }
            out.push(result);
        }
    }
    txn.commit().await?;
    Ok(out)
}

/// The audit row a checked audit makes when it is new.
fn audit_row(p: &Prepared, now: DateTime<Utc>) -> audits::Model {
    let skew = p.received_at - p.device_clock;
    audits::Model {
        id: p.payload.id,
        assignment_id: p.assignment_id,
        auditor_id: p.auditor,
        store_id: p.store_id,
        checklist_version_id: p.payload.checklist_version_id,
        status: AuditStatus::Submitted,
        revision: p.revision,
        total: p.total,
        critical_failure: p.scored.score.critical_failure,
        flags: p.flags_json.clone(),
        started_at: p.payload.started_at,
        finished_at: p.payload.finished_at,
        started_at_server: p.payload.started_at + skew,
        finished_at_server: p.payload.finished_at + skew,
        created_at: now,
        updated_at: now,
        review_comment: None,
        reviewed_by: None,
        reviewed_at: None,
    }
}

fn new_revision(p: &Prepared, first: bool) -> NewRevision<'_> {
    NewRevision {
        payload: &p.payload,
        revision: p.revision,
        version: &p.version,
        score: StoredScore {
            score: &p.scored.score,
            responses: &p.scored.responses,
            flags: &p.flags_json,
            distance_m: p.scored.distance_m,
        },
        text: &p.text,
        hash: &p.hash,
        device_clock: p.device_clock,
        received_at: p.received_at,
        first,
    }
}

fn accepted(p: &Prepared, current: &audits::Model) -> Result<PushResult, ApiError> {
    Ok(PushResult {
        id: p.payload.id,
        revision: p.payload.revision,
        outcome: PushOutcome::Accepted,
        errors: Vec::new(),
        current: Some(state_of(current)?),
        uploads: Vec::new(),
    })
}

/// What a revision stores besides the payload.
struct Scored {
    score: Score,
    responses: HashMap<Uuid, Response>,
    distance_m: Option<f64>,
}

/// An audit that passed every check, ready to be written.
struct Prepared {
    payload: AuditPayload,
    assignment_id: Uuid,
    store_id: Uuid,
    auditor: Uuid,
    version: std::sync::Arc<ChecklistVersion>,
    scored: Scored,
    text: String,
    hash: String,
    revision: i32,
    total: i32,
    flags_json: String,
    device_clock: DateTime<Utc>,
    received_at: DateTime<Utc>,
}

/// Check and score an audit against its version, or say what is wrong.
async fn check_and_score(
    db: &DatabaseConnection,
    versions: &VersionCache,
    payload: &AuditPayload,
) -> Result<
    Result<
        (
            std::sync::Arc<ChecklistVersion>,
            Score,
            HashMap<Uuid, Response>,
        ),
        Vec<ErrorDetail>,
    >,
    ApiError,
> {
    let Some(version) = versions.get(db, payload.checklist_version_id).await? else {
        return Ok(Err(vec![ErrorDetail::new(
            "checklist_version_id",
            "no such checklist version",
        )]));
    };
    let responses = match check_audit(&version, payload) {
        Ok(r) => r,
        Err(errors) => return Ok(Err(errors)),
    };
    let scored = score(&version.sections, &|i| {
        responses
            .get(&i.id)
            .cloned()
            .unwrap_or(Response::NotApplicable)
    });
    Ok(match scored {
        Ok(s) => Ok((version, s, responses)),
        Err(e) => Err(vec![ErrorDetail::new("answers", e.to_string())]),
    })
}

/// Everything about an audit that needs no transaction: ownership, its
/// version, validation, scoring, flags.
#[instrument(skip_all, fields(audit = %payload.id, revision = payload.revision))]
async fn prepare(
    db: &DatabaseConnection,
    versions: &VersionCache,
    settings: Settings,
    ctx: &PushContext,
    auditor: Uuid,
    device_clock: DateTime<Utc>,
    payload: AuditPayload,
) -> Result<Result<Prepared, PushResult>, ApiError> {
    let received_at = Utc::now();
    let Some(assignment) = ctx.assignment_of(auditor, payload.assignment_id) else {
        return Ok(Err(no_such_assignment(&payload)));
    };
    let (version, score, responses) = match check_and_score(db, versions, &payload).await? {
        Ok(v) => v,
        Err(errors) => return Ok(Err(rejected(payload.id, payload.revision, errors))),
    };
    let store = ctx
        .stores
        .get(&assignment.store_id)
        .ok_or_else(|| corrupt(format!("assignment {} has no store", assignment.id)))?;
    let (flags, distance_m) = flags_for(&payload, assignment, store, auditor, settings.geofence_m)?;
    let (text, hash) = payload_hash(&payload)?;
    // Both fit: check_audit bounds the revision, scoring the total.
    let revision = i32::try_from(payload.revision).map_err(corrupt)?;
    let total = i32::try_from(score.total).map_err(corrupt)?;
    let flags_json = serde_json::to_string(&flags).map_err(anyhow::Error::from)?;
    Ok(Ok(Prepared {
        assignment_id: assignment.id,
        store_id: store.id,
        auditor,
        version,
        scored: Scored {
            score,
            responses,
            distance_m,
        },
        text,
        hash,
        revision,
        total,
        flags_json,
        device_clock,
        received_at,
        payload,
    }))
}

/// Write one checked audit inside `txn`: its answer, and whether what was
/// written is to be kept (false: roll back to before it).
async fn write(txn: &impl ConnectionTrait, p: &Prepared) -> Result<(PushResult, bool), ApiError> {
    let payload = &p.payload;
    let (revision, total) = (p.revision, p.total);
    let skew = p.received_at - p.device_clock;
    let now = Utc::now();
    let new_audit = audit_row(p, now);
    // The primary key decides who creates the audit: a racing twin waits
    // here and then finds it made. The row just inserted is ours until
    // commit; one made before is locked and read.
    let insert = audits::ActiveModel::from(new_audit.clone()).reset_all();
    let created = db::audits::insert_if_absent(txn, insert).await?;
    let audit = if created {
        new_audit
    } else {
        db::audits::lock(txn, payload.id).await?
    };
    if !created && (audit.auditor_id != p.auditor || audit.assignment_id != p.assignment_id) {
        // Nothing was written.
        let refused = rejected(
            payload.id,
            payload.revision,
            vec![ErrorDetail::new(
                "id",
                "this audit id is in use for another assignment; make a new id for this audit",
            )],
        );
        return Ok((refused, true));
    }
    let new_revision = new_revision(p, created);
    let existing = if created {
        None
    } else {
        db::audits::revision_hash(txn, audit.id, revision).await?
    };
    let closed = matches!(audit.status, AuditStatus::Approved | AuditStatus::Rejected);
    let quarantine = |reason| {
        db::audits::quarantine(
            txn,
            payload,
            revision,
            p.auditor,
            reason,
            &p.text,
            p.received_at,
        )
    };
    let outcome = match existing.as_deref() {
        _ if created => PushOutcome::Accepted,
        Some(h) if h == p.hash && revision < audit.revision => PushOutcome::Superseded,
        Some(h) if h == p.hash => PushOutcome::Duplicate,
        Some(_) => {
            quarantine("revision_reused").await?;
            PushOutcome::Conflict
        }
        None if closed => {
            quarantine("audit_closed").await?;
            PushOutcome::Conflict
        }
        // Kept in the history, never in force.
        None if revision < audit.revision => PushOutcome::Superseded,
        None => PushOutcome::Accepted,
    };
    let stores_revision =
        existing.is_none() && matches!(outcome, PushOutcome::Accepted | PushOutcome::Superseded);
    if stores_revision {
        if let Err(errors) = db::audits::claim_photos(txn, payload).await? {
            return Ok((rejected(payload.id, payload.revision, errors), false));
        }
        db::audits::insert_revision(txn, &new_revision).await?;
    }
    let current = if outcome == PushOutcome::Accepted && !created {
        if audit.status == AuditStatus::Returned {
            db::review::record_event(
                txn,
                audit.id,
                None,
                AuditAction::Resubmitted,
                revision,
                None,
                None,
            )
            .await?;
        }
        let mut a: audits::ActiveModel = audit.into();
        // The review asked for this revision; its comment is in the log.
        a.review_comment = Set(None);
        a.reviewed_by = Set(None);
        a.reviewed_at = Set(None);
        a.status = Set(AuditStatus::Submitted);
        a.revision = Set(revision);
        a.checklist_version_id = Set(payload.checklist_version_id);
        a.total = Set(total);
        a.critical_failure = Set(p.scored.score.critical_failure);
        a.flags = Set(p.flags_json.clone());
        a.started_at = Set(payload.started_at);
        a.finished_at = Set(payload.finished_at);
        a.started_at_server = Set(payload.started_at + skew);
        a.finished_at_server = Set(payload.finished_at + skew);
        a.updated_at = Set(now);
        a.update(txn).await?
    } else {
        audit
    };
    let current = state_of(&current)?;
    Ok((
        PushResult {
            id: payload.id,
            revision: payload.revision,
            outcome,
            errors: Vec::new(),
            current: Some(current),
            uploads: Vec::new(),
        },
        true,
    ))
}

/// The server's state of an audit, as push replies and pulls tell it.
pub fn state_of(a: &audits::Model) -> Result<AuditState, ApiError> {
    Ok(AuditState {
        id: a.id,
        status: a.status.into(),
        revision: i64::from(a.revision),
        total: i64::from(a.total),
        critical_failure: a.critical_failure,
        flags: serde_json::from_str(&a.flags)
            .map_err(|e| corrupt(format!("audit {} flags: {e}", a.id)))?,
        updated_at: a.updated_at,
        review_comment: a.review_comment.clone(),
        photos: None,
    })
}
