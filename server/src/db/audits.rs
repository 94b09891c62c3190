//! Audits, their revisions, answers, photo manifests and quarantined
//! payloads: the queries. The lifecycle that uses them is in `audits/`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Set, Statement,
};
use storecheck_shared::ErrorDetail;
use storecheck_shared::catalog::ChecklistVersion;
use storecheck_shared::scoring::{Response, Score};
use storecheck_shared::sync::{AnswerPayload, AuditPayload};
use uuid::Uuid;

use super::scope::{Scope, stores_in_regions};
use crate::entities::enums::{AuditStatus, PhotoState};
use crate::entities::{
    audit_answers, audit_conflicts, audit_photos, audit_revisions, audits, checklist_versions,
    photo_files, photos,
};
use crate::error::ApiError;

/// Insert an audit unless one with its id exists; whether it was inserted.
pub async fn insert_if_absent(
    db: &impl ConnectionTrait,
    audit: audits::ActiveModel,
) -> Result<bool, ApiError> {
    let r = audits::Entity::insert(audit)
        .on_conflict_do_nothing_on([audits::Column::Id])
        .exec_without_returning(db)
        .await?;
    Ok(matches!(r, sea_orm::TryInsertResult::Inserted(n) if n > 0))
}

/// Insert the audits whose ids are not taken, in the order given, with one
/// statement; the ids it inserted.
pub async fn insert_new(
    db: &impl ConnectionTrait,
    rows: Vec<audits::ActiveModel>,
) -> Result<std::collections::HashSet<Uuid>, ApiError> {
    let mut created = std::collections::HashSet::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut q = audits::Entity::insert_many(chunk.to_vec()).into_query();
        q.on_conflict(
            OnConflict::column(audits::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .returning_col(audits::Column::Id);
        for row in db.query_all(&q).await? {
            created.insert(row.try_get::<Uuid>("", "id")?);
        }
    }
    Ok(created)
}

/// An audit, locked until the transaction ends.
pub async fn lock(db: &impl ConnectionTrait, id: Uuid) -> Result<audits::Model, ApiError> {
    audits::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("audit {id} vanished")))
}

/// The payload hash of one stored revision, if it is stored.
pub async fn revision_hash(
    db: &impl ConnectionTrait,
    audit: Uuid,
    revision: i32,
) -> Result<Option<String>, ApiError> {
    Ok(audit_revisions::Entity::find()
        .select_only()
        .column(audit_revisions::Column::PayloadHash)
        .filter(audit_revisions::Column::AuditId.eq(audit))
        .filter(audit_revisions::Column::Revision.eq(revision))
        .into_tuple()
        .one(db)
        .await?)
}

/// Keep a payload that is not applied, for the reviewer (nothing is lost).
pub async fn quarantine(
    db: &impl ConnectionTrait,
    payload: &AuditPayload,
    revision: i32,
    auditor: Uuid,
    reason: &str,
    text: &str,
    received_at: DateTime<Utc>,
) -> Result<(), ApiError> {
    audit_conflicts::ActiveModel {
        id: Set(Uuid::now_v7()),
        audit_id: Set(payload.id),
        revision: Set(revision),
        auditor_id: Set(auditor),
        reason: Set(reason.to_owned()),
        payload: Set(text.to_owned()),
        received_at: Set(received_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Make the audit the owner of the photo ids it lists. A photo id that
/// another audit owns is an error for that photo; the unique key decides
/// between two audits claiming one id at once.
pub async fn claim_photos(
    db: &impl ConnectionTrait,
    payload: &AuditPayload,
) -> Result<Result<(), Vec<ErrorDetail>>, ApiError> {
    if payload.photos.is_empty() {
        return Ok(Ok(()));
    }
    let now = Utc::now();
    let rows = payload.photos.iter().map(|p| photos::ActiveModel {
        id: Set(p.id),
        audit_id: Set(payload.id),
        created_at: Set(now),
    });
    photos::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([photos::Column::Id])
        .exec_without_returning(db)
        .await?;
    let ids: Vec<Uuid> = payload.photos.iter().map(|p| p.id).collect();
    let taken: Vec<Uuid> = photos::Entity::find()
        .select_only()
        .column(photos::Column::Id)
        .filter(photos::Column::Id.is_in(ids))
        .filter(photos::Column::AuditId.ne(payload.id))
        .into_tuple()
        .all(db)
        .await?;
    if taken.is_empty() {
        return Ok(Ok(()));
    }
    Ok(Err(payload
        .photos
        .iter()
        .enumerate()
        .filter(|(_, p)| taken.contains(&p.id))
        .map(|(i, _)| {
            ErrorDetail::new(
                format!("photos[{i}].id"),
                "this photo id is in use by another audit; give the photo a new id",
            )
        })
        .collect()))
}

/// Scores and flags of a revision.
pub struct StoredScore<'a> {
    pub score: &'a Score,
    pub responses: &'a HashMap<Uuid, Response>,
    /// JSON array of flag names.
    pub flags: &'a str,
    pub distance_m: Option<f64>,
}

/// One revision as it is stored: the payload as sent, its scores, every
/// item's answer and its photo manifest.
pub struct NewRevision<'a> {
    pub payload: &'a AuditPayload,
    pub revision: i32,
    pub version: &'a ChecklistVersion,
    pub score: StoredScore<'a>,
    pub text: &'a str,
    pub hash: &'a str,
    pub device_clock: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// The audit's first stored revision (no earlier photo states to carry).
    pub first: bool,
}

fn i32_of(v: i64) -> Result<i32, ApiError> {
    i32::try_from(v).map_err(|_| ApiError::internal(anyhow::anyhow!("{v} does not fit a column")))
}

/// The rows one revision writes.
struct RevisionRows {
    revision: audit_revisions::ActiveModel,
    answers: Vec<audit_answers::Model>,
    photos: Vec<audit_photos::ActiveModel>,
}

/// Rows per multi-row INSERT: well inside the bind-parameter limits of both
/// databases for the widest table written here.
const ROWS_PER_INSERT: usize = 1500;

/// Store one revision: its row, every answer, its photo manifest.
pub async fn insert_revision(
    db: &impl ConnectionTrait,
    r: &NewRevision<'_>,
) -> Result<(), ApiError> {
    insert_revisions(db, std::slice::from_ref(r)).await
}

/// Store several revisions with one multi-row INSERT per table.
pub async fn insert_revisions(
    db: &impl ConnectionTrait,
    revisions: &[NewRevision<'_>],
) -> Result<(), ApiError> {
    let mut heads = Vec::with_capacity(revisions.len());
    let mut answers = Vec::new();
    let mut photos = Vec::new();
    for r in revisions {
        let rows = revision_rows(db, r).await?;
        heads.push(rows.revision);
        answers.extend(rows.answers);
        photos.extend(rows.photos);
    }
    for chunk in heads.chunks(ROWS_PER_INSERT) {
        audit_revisions::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    insert_answers(db, answers).await?;
    // A file an earlier revision listed may be received but still being
    // processed: processing is asked for again, so this revision's row
    // comes along even if the job's update ran before it existed.
    let received: Vec<(Uuid, String)> = photos
        .iter()
        .filter(|p| p.state.as_ref() == &PhotoState::Uploaded)
        .map(|p| (p.id.as_ref().to_owned(), p.sha256.as_ref().to_owned()))
        .collect();
    for chunk in photos.chunks(ROWS_PER_INSERT) {
        audit_photos::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    for (photo, sha256) in received {
        super::photos::queue_processing(db, photo, &sha256).await?;
    }
    Ok(())
}

/// Insert answer rows. On PostgreSQL they travel as one JSON parameter
/// unpacked by `json_to_recordset`: a statement of constant size, where a
/// multi-row VALUES list costs the server planning work for every value.
async fn insert_answers(
    db: &impl ConnectionTrait,
    answers: Vec<audit_answers::Model>,
) -> Result<(), ApiError> {
    if answers.is_empty() {
        return Ok(());
    }
    if db.get_database_backend() != DatabaseBackend::Postgres {
        for chunk in answers.chunks(ROWS_PER_INSERT) {
            audit_answers::Entity::insert_many(
                chunk
                    .iter()
                    .map(|m| audit_answers::ActiveModel::from(m.clone()).reset_all()),
            )
            .exec_without_returning(db)
            .await?;
        }
        return Ok(());
    }
    #[derive(serde::Serialize)]
    struct Row<'a> {
        audit_id: Uuid,
        revision: i32,
        item_id: Uuid,
        item_code: &'a str,
        kind: String,
        na: bool,
        value_number: Option<f64>,
        value_text: Option<&'a str>,
        failed: bool,
        note: Option<&'a str>,
        answered_at: Option<DateTime<Utc>>,
    }
    let rows: Vec<Row<'_>> = answers
        .iter()
        .map(|m| Row {
            audit_id: m.audit_id,
            revision: m.revision,
            item_id: m.item_id,
            item_code: &m.item_code,
            kind: sea_orm::ActiveEnum::to_value(&m.kind),
            na: m.na,
            value_number: m.value_number,
            value_text: m.value_text.as_deref(),
            failed: m.failed,
            note: m.note.as_deref(),
            answered_at: m.answered_at,
        })
        .collect();
    let json = serde_json::to_string(&rows).map_err(anyhow::Error::from)?;
    db.execute_raw(Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "INSERT INTO audit_answers (audit_id, revision, item_id, item_code, kind, na, \
         value_number, value_text, failed, note, answered_at) \
         SELECT audit_id, revision, item_id, item_code, kind, na, value_number, value_text, \
         failed, note, answered_at FROM json_to_recordset($1::json) AS r(audit_id uuid, \
         revision integer, item_id uuid, item_code text, kind text, na boolean, \
         value_number double precision, value_text text, failed boolean, note text, \
         answered_at timestamptz)",
        [json.into()],
    ))
    .await?;
    Ok(())
}

/// A revision's scores by section and dimension, as stored beside its totals.
pub fn breakdown_json(s: &Score, distance_m: Option<f64>) -> serde_json::Value {
    serde_json::json!({
        "sections": s.sections.iter().map(|(c, v)| serde_json::json!({"code": c, "score": v})).collect::<Vec<_>>(),
        "dimensions": s.dimensions.iter().map(|(c, v)| serde_json::json!({"code": c, "score": v})).collect::<Vec<_>>(),
        "failed_items": s.failed_items,
        "checkin_distance_m": distance_m,
    })
}

/// An answer as its columns hold it: a number (yes/no as 1/0) or a text.
pub fn stored_value(resp: &Response) -> (Option<f64>, Option<String>) {
    match resp {
        Response::NotApplicable => (None, None),
        Response::YesNo(b) => (Some(if *b { 1.0 } else { 0.0 }), None),
        Response::Scale(v) | Response::Count(v) => (Some(f64::from(*v)), None),
        Response::Measure(x) => (Some(*x), None),
        Response::Choice(c) => (None, Some(c.clone())),
    }
}

async fn revision_rows(
    db: &impl ConnectionTrait,
    r: &NewRevision<'_>,
) -> Result<RevisionRows, ApiError> {
    let payload = r.payload;
    let skew = r.received_at - r.device_clock;
    let s = r.score.score;
    let breakdown = breakdown_json(s, r.score.distance_m);
    let revision = audit_revisions::ActiveModel {
        id: Set(Uuid::now_v7()),
        audit_id: Set(payload.id),
        revision: Set(r.revision),
        payload: Set(r.text.to_owned()),
        payload_hash: Set(r.hash.to_owned()),
        device_clock: Set(r.device_clock),
        received_at: Set(r.received_at),
        skew_ms: Set(skew.num_milliseconds()),
        total: Set(i32_of(s.total)?),
        base: Set(i32_of(s.base)?),
        bonus: Set(i32_of(s.bonus)?),
        deductions: Set(i32_of(s.deductions)?),
        critical_failure: Set(s.critical_failure),
        breakdown: Set(breakdown.to_string()),
        flags: Set(r.score.flags.to_owned()),
        checkin_latitude: Set(payload.checkin.map(|c| c.latitude)),
        checkin_longitude: Set(payload.checkin.map(|c| c.longitude)),
        checkin_accuracy: Set(payload.checkin.and_then(|c| c.accuracy_m)),
    };
    let answers_by_item: HashMap<Uuid, &AnswerPayload> =
        payload.answers.iter().map(|a| (a.item_id, a)).collect();
    let mut rows = Vec::new();
    for item in r.version.sections.iter().flat_map(|s| s.items.iter()) {
        let resp = r
            .score
            .responses
            .get(&item.id)
            .cloned()
            .unwrap_or(Response::NotApplicable);
        let a = answers_by_item.get(&item.id);
        let (number, text) = stored_value(&resp);
        rows.push(audit_answers::Model {
            audit_id: payload.id,
            revision: r.revision,
            item_id: item.id,
            item_code: item.code.clone(),
            kind: item.kind.into(),
            na: resp == Response::NotApplicable,
            value_number: number,
            value_text: text,
            failed: s.failed_items.contains(&item.id),
            note: a.and_then(|a| a.note.clone()),
            answered_at: a.and_then(|a| a.answered_at),
            override_na: None,
            override_number: None,
            override_text: None,
            override_reason: None,
            overridden_by: None,
            overridden_at: None,
        });
    }
    // A file an earlier revision listed keeps the state it reached.
    let known = if r.first || payload.photos.is_empty() {
        HashMap::new()
    } else {
        photo_states(db, payload.id).await?
    };
    let photos: Vec<audit_photos::ActiveModel> = payload
        .photos
        .iter()
        .map(|p| {
            let sha256 = p.sha256.to_ascii_lowercase();
            let state = known
                .get(&(p.id, sha256.clone()))
                .copied()
                .unwrap_or(PhotoState::PendingUpload);
            Ok(audit_photos::ActiveModel {
                audit_id: Set(payload.id),
                revision: Set(r.revision),
                id: Set(p.id),
                item_id: Set(p.item_id),
                sha256: Set(sha256),
                bytes: Set(i64::try_from(p.bytes).map_err(|_| {
                    ApiError::internal(anyhow::anyhow!("photo size {} too large", p.bytes))
                })?),
                content_type: Set(p.content_type.clone()),
                taken_at: Set(p.taken_at),
                state: Set(state),
                created_at: Set(r.received_at),
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(RevisionRows {
        revision,
        answers: rows,
        photos,
    })
}

/// The furthest state each (photo, file hash) of an audit has reached.
async fn photo_states(
    db: &impl ConnectionTrait,
    audit: Uuid,
) -> Result<HashMap<(Uuid, String), PhotoState>, ApiError> {
    let rows: Vec<(Uuid, String, PhotoState)> = audit_photos::Entity::find()
        .select_only()
        .columns([
            audit_photos::Column::Id,
            audit_photos::Column::Sha256,
            audit_photos::Column::State,
        ])
        .filter(audit_photos::Column::AuditId.eq(audit))
        .order_by_asc(audit_photos::Column::Revision)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, sha, st)| ((id, sha), st))
        .collect())
}

// ---- reading ----------------------------------------------------------------

#[derive(Default)]
pub struct Filter {
    pub status: Option<AuditStatus>,
    pub region_id: Option<Uuid>,
    pub store_id: Option<Uuid>,
    pub auditor_id: Option<Uuid>,
    pub quarter: Option<String>,
    pub flagged: Option<bool>,
    /// Newest first (the console's queue); the API lists oldest first.
    pub newest_first: bool,
}

fn in_scope(scope: &Scope) -> sea_orm::Condition {
    scope.by_store_or_auditor(audits::Column::StoreId, audits::Column::AuditorId)
}

/// The audits of a scope that pass a filter, in id order (oldest first,
/// ids being time-ordered), or newest first.
fn filtered(scope: &Scope, f: Filter) -> sea_orm::Select<audits::Entity> {
    let mut q = audits::Entity::find().filter(in_scope(scope));
    if let Some(s) = f.status {
        q = q.filter(audits::Column::Status.eq(s));
    }
    if let Some(r) = f.region_id {
        q = q.filter(audits::Column::StoreId.in_subquery(stores_in_regions(vec![r])));
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
    if let Some(flagged) = f.flagged {
        // Flags are stored as JSON arrays (the audit's) or objects whose
        // `flags` array comes first (a photo file's), written by this server.
        let photo_flagged = Query::select()
            .column(photo_files::Column::AuditId)
            .from(photo_files::Entity)
            .and_where(photo_files::Column::Flags.not_like(r#"{"flags":[]%"#))
            .to_owned();
        let c = sea_orm::Condition::any()
            .add(audits::Column::Flags.ne("[]"))
            .add(audits::Column::Id.in_subquery(photo_flagged));
        q = q.filter(if flagged { c } else { c.not() });
    }
    q
}

/// A page of audits (one more row than `limit`, for `paging::page`),
/// oldest first after `after`, or with `newest_first` newest first before it.
pub async fn list(
    db: &impl ConnectionTrait,
    scope: &Scope,
    f: Filter,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<audits::Model>, ApiError> {
    let newest_first = f.newest_first;
    let mut q = filtered(scope, f);
    q = if newest_first {
        if let Some(after) = after {
            q = q.filter(audits::Column::Id.lt(after));
        }
        q.order_by_desc(audits::Column::Id)
    } else {
        if let Some(after) = after {
            q = q.filter(audits::Column::Id.gt(after));
        }
        q.order_by_asc(audits::Column::Id)
    };
    Ok(q.limit(limit + 1).all(db).await?)
}

/// How many audits of the filter are in each status.
pub async fn count_by_status(
    db: &impl ConnectionTrait,
    scope: &Scope,
    mut f: Filter,
) -> Result<Vec<(AuditStatus, i64)>, ApiError> {
    f.status = None;
    let rows: Vec<(AuditStatus, i64)> = filtered(scope, f)
        .select_only()
        .column(audits::Column::Status)
        .column_as(audits::Column::Id.count(), "n")
        .group_by(audits::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows)
}

/// An audit the caller may see (404 otherwise).
pub async fn visible(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> Result<audits::Model, ApiError> {
    audits::Entity::find_by_id(id)
        .filter(in_scope(scope))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("audit"))
}

/// The auditor's audits a reviewer returned, waiting for a new revision.
pub async fn returned_to(db: &impl ConnectionTrait, auditor: Uuid) -> Result<Vec<Uuid>, ApiError> {
    Ok(audits::Entity::find()
        .select_only()
        .column(audits::Column::Id)
        .filter(audits::Column::AuditorId.eq(auditor))
        .filter(audits::Column::Status.eq(AuditStatus::Returned))
        .into_tuple()
        .all(db)
        .await?)
}

pub async fn of_auditor(
    db: &impl ConnectionTrait,
    auditor: Uuid,
    ids: Vec<Uuid>,
) -> Result<Vec<audits::Model>, ApiError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(super::IN_CHUNK) {
        out.extend(
            audits::Entity::find()
                .filter(audits::Column::Id.is_in(chunk.to_vec()))
                .filter(audits::Column::AuditorId.eq(auditor))
                .all(db)
                .await?,
        );
    }
    Ok(out)
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

/// The photo manifest of one revision.
pub async fn photos(
    db: &impl ConnectionTrait,
    audit: Uuid,
    revision: i32,
) -> Result<Vec<audit_photos::Model>, ApiError> {
    Ok(audit_photos::Entity::find()
        .filter(audit_photos::Column::AuditId.eq(audit))
        .filter(audit_photos::Column::Revision.eq(revision))
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
