//! The photo jobs: processing a received file into derivatives, hash and
//! evidence flags, and the sweep that finds uploads whose completion never
//! arrived. Both are idempotent: a file already processed is left alone, a
//! file processed twice gives the same derivatives and the same record.

use std::time::Duration;

use chrono::Utc;
use sha2::{Digest, Sha256};
use storecheck_shared::sync::{PhotoMatch, distance_m};
use tracing::instrument;
use uuid::Uuid;

use super::process::{self, Invalid, Processed};
use super::{Evidence, original_key, review_key, thumbnail_key};
use crate::db;
use crate::entities::enums::PhotoState;
use crate::entities::{audits, photo_files, stores};
use crate::error::ApiError;
use crate::jobs::{Handler, JobError};
use crate::state::AppState;

pub use crate::db::photos::PROCESS;

/// What evidence rules processing applies.
#[derive(Debug, Clone, Copy)]
pub struct PhotoRules {
    /// A photo taken farther than this outside the audit's visit is flagged.
    pub visit_window: chrono::Duration,
    /// A photo whose GPS is farther than this from the store is flagged.
    pub geofence_m: f64,
    /// Hashes this close (bits of 64) count as the same picture.
    pub reuse_distance: u32,
}

/// Queue processing of a received file, inside the caller's transaction.
pub use crate::db::photos::queue_processing;

/// The handler the job worker runs for every kind this server knows.
pub fn handler(state: AppState) -> Handler {
    std::sync::Arc::new(move |job| {
        let state = state.clone();
        Box::pin(async move {
            match job.kind.as_str() {
                PROCESS => {
                    let key: db::photos::FileKey = serde_json::from_str(&job.payload)
                        .map_err(|e| JobError::Failed(format!("payload: {e}")))?;
                    process_file(&state, key.photo_id, &key.sha256).await
                }
                other => Err(JobError::Failed(format!(
                    "no handler for jobs of kind {other}"
                ))),
            }
        })
    })
}

#[instrument(skip_all, fields(photo = %photo))]
async fn process_file(state: &AppState, photo: Uuid, sha256: &str) -> Result<(), JobError> {
    let db = &state.db;
    let Some((listed, audit, store)) = db::photos::file_context(db, photo, sha256).await? else {
        tracing::info!("no manifest lists the file any more; nothing to process");
        return Ok(());
    };
    if listed.state != PhotoState::Uploaded {
        // Processed already (a retried job), or not received.
        return Ok(());
    }
    let key = original_key(photo, sha256);
    let Some(bytes) = state.storage.read(&key).await.map_err(ApiError::from)? else {
        tracing::warn!("the received file is gone from the store; the phone is asked again");
        back_to_pending(state, &audit, photo, sha256).await?;
        return Ok(());
    };
    if crate::storage::hex(&Sha256::digest(&bytes)) != sha256 {
        tracing::warn!(
            "the stored file is not the one received; removed, the phone is asked again"
        );
        state.storage.delete(&key).await.map_err(ApiError::from)?;
        back_to_pending(state, &audit, photo, sha256).await?;
        return Ok(());
    }
    let declared = listed.content_type.clone();
    let started = std::time::Instant::now();
    // A decoder that panics on a crafted file makes the file invalid,
    // not the job a crash to be retried.
    let outcome = tokio::task::spawn_blocking(move || {
        std::panic::catch_unwind(|| process::process(&bytes, &declared)).unwrap_or_else(|_| {
            Err(Invalid(
                "the file is malformed: the image decoder gave up on it".to_owned(),
            ))
        })
    })
    .await
    .map_err(|e| JobError::Failed(format!("processing stopped: {e}")))?;
    let mut row = db::photos::file_row(db, photo, sha256, audit.id).await?;
    match outcome {
        Err(Invalid(reason)) => {
            tracing::info!(%reason, "photo file is not usable evidence");
            row.invalid_reason = Some(reason);
            row.flags = Evidence::default().to_json()?;
            row.processed_at = Some(Utc::now());
            let txn = db::begin_write(db).await.map_err(ApiError::from)?;
            db::photos::save_file(&txn, row).await?;
            db::photos::set_state(
                &txn,
                photo,
                sha256,
                &[PhotoState::Uploaded],
                PhotoState::Invalid,
            )
            .await?;
            tell_the_phone(&txn, &state.log, &audit).await?;
            txn.commit().await.map_err(ApiError::from)?;
        }
        Ok(p) => {
            let elapsed = started.elapsed();
            state
                .storage
                .write(
                    &thumbnail_key(photo, sha256),
                    "image/jpeg",
                    p.thumbnail.clone(),
                )
                .await
                .map_err(ApiError::from)?;
            state
                .storage
                .write(&review_key(photo, sha256), "image/jpeg", p.review.clone())
                .await
                .map_err(ApiError::from)?;
            let rules = state.photo_rules();
            // The hash is stored first, so of two copies processed at the
            // same moment the later lookup sees the earlier one. Matches
            // other photos recorded here already are kept.
            let known = Evidence::from_json(&row.flags)?.matches;
            fill(&mut row, &p, &store);
            let mut evidence = Evidence {
                flags: own_flags(&p, listed.taken_at, &audit, &store, &rules),
                matches: Vec::new(),
            };
            evidence.set_matches(known);
            row.flags = evidence.to_json()?;
            db::photos::save_file(db, row.clone()).await?;
            let matches = find_matches(db, &row, p.phash, &audit, rules.reuse_distance).await?;
            let txn = db::begin_write(db).await.map_err(ApiError::from)?;
            // Every row this writes, locked in one order, re-read: matches
            // another photo mirrored here meanwhile are merged, not lost.
            let mut ids: Vec<Uuid> = matches.iter().map(|m| m.photo_id).collect();
            ids.push(photo);
            let locked = db::photos::lock_files(&txn, &ids).await?;
            let current = locked
                .iter()
                .find(|f| f.photo_id == photo && f.sha256 == row.sha256)
                .map_or(Ok(evidence.clone()), |f| Evidence::from_json(&f.flags))?;
            let mut merged = Evidence {
                flags: evidence.flags.clone(),
                matches: current.matches,
            };
            merged.set_matches(merged.matches.clone());
            for m in &matches {
                merged.add_match(m.clone());
            }
            row.flags = merged.to_json()?;
            row.processed_at = Some(Utc::now());
            db::photos::save_file(&txn, row).await?;
            for other in locked.into_iter().filter(|f| f.photo_id != photo) {
                if let Some(m) = matches.iter().find(|m| m.photo_id == other.photo_id) {
                    mirror_match(&txn, other, m, photo, audit.id).await?;
                }
            }
            db::photos::set_state(
                &txn,
                photo,
                sha256,
                &[PhotoState::Uploaded],
                PhotoState::Processed,
            )
            .await?;
            tell_the_phone(&txn, &state.log, &audit).await?;
            txn.commit().await.map_err(ApiError::from)?;
            tracing::info!(
                ms = elapsed.as_millis() as u64,
                matches = matches.len(),
                "photo processed"
            );
        }
    }
    Ok(())
}

async fn back_to_pending(
    state: &AppState,
    audit: &audits::Model,
    photo: Uuid,
    sha256: &str,
) -> Result<(), ApiError> {
    let txn = db::begin_write(&state.db).await?;
    db::photos::set_state(
        &txn,
        photo,
        sha256,
        &[PhotoState::Uploaded],
        PhotoState::PendingUpload,
    )
    .await?;
    tell_the_phone(&txn, &state.log, audit).await?;
    txn.commit().await?;
    Ok(())
}

/// The auditor's next pull shows the audit's photo progress.
pub(crate) async fn tell_the_phone(
    db: &impl sea_orm::ConnectionTrait,
    log: &db::sync::LogHead,
    audit: &audits::Model,
) -> Result<(), ApiError> {
    db::sync::record(
        db,
        log,
        &[(
            audit.auditor_id,
            crate::entities::enums::ChangeEntity::Audit,
            audit.id,
        )],
    )
    .await
}

fn fill(row: &mut photo_files::Model, p: &Processed, store: &stores::Model) {
    row.width = i32::try_from(p.width).ok();
    row.height = i32::try_from(p.height).ok();
    row.exif_taken_at = p
        .taken
        .and_then(|t| t.resolve(store.timezone.parse().unwrap_or(chrono_tz::UTC)));
    row.latitude = p.gps.map(|g| g.0);
    row.longitude = p.gps.map(|g| g.1);
    // The hash's bits, stored as the signed integer they make.
    row.phash = Some(i64::from_ne_bytes(p.phash.to_ne_bytes()));
    let [b0, b1, b2, b3] = process::bands(p.phash);
    (row.band0, row.band1, row.band2, row.band3) = (Some(b0), Some(b1), Some(b2), Some(b3));
    row.invalid_reason = None;
}

/// Flags from the file alone: when and where it was taken.
fn own_flags(
    p: &Processed,
    manifest_taken_at: Option<chrono::DateTime<Utc>>,
    audit: &audits::Model,
    store: &stores::Model,
    rules: &PhotoRules,
) -> Vec<String> {
    let mut flags = Vec::new();
    let tz = store.timezone.parse().unwrap_or(chrono_tz::UTC);
    // The camera's own record first; the phone's manifest when it has none.
    let taken = p.taken.and_then(|t| t.resolve(tz)).or(manifest_taken_at);
    if let Some(t) = taken
        && (t < audit.started_at - rules.visit_window || t > audit.finished_at + rules.visit_window)
    {
        flags.push("photo_taken_outside_visit".to_owned());
    }
    if let Some(gps) = p.gps
        && distance_m(gps, (store.latitude, store.longitude)) > rules.geofence_m
    {
        flags.push("photo_off_site".to_owned());
    }
    flags
}

/// Hashes with fewer set bits than this, or more than 64 less this, are
/// of nearly flat pictures (a dark shot, a blank wall): they look alike
/// whatever they show, so they are not compared.
const FLAT_BITS: u32 = 8;
/// Most matches recorded for one photo (the closest).
const MAX_MATCHES: usize = 20;

async fn find_matches(
    db: &impl sea_orm::ConnectionTrait,
    row: &photo_files::Model,
    hash: u64,
    audit: &audits::Model,
    max_distance: u32,
) -> Result<Vec<PhotoMatch>, ApiError> {
    let flat = hash.count_ones() < FLAT_BITS || hash.count_ones() > 64 - FLAT_BITS;
    let mut matches: Vec<PhotoMatch> = if flat {
        Vec::new()
    } else {
        db::photos::reuse_candidates(
            db,
            i64::from_ne_bytes(hash.to_ne_bytes()),
            max_distance,
            &process::probes(hash, max_distance),
            audit.id,
        )
        .await?
        .into_iter()
        .filter_map(|c| {
            let other = u64::from_ne_bytes(c.phash.to_ne_bytes());
            let d = process::distance(hash, other);
            (d <= max_distance).then_some(PhotoMatch {
                photo_id: c.photo_id,
                audit_id: c.audit_id,
                distance: d,
                same_file: c.sha256 == row.sha256,
            })
        })
        .collect()
    };
    for (photo_id, audit_id) in db::photos::same_file_elsewhere(db, &row.sha256, audit.id).await? {
        match matches.iter_mut().find(|m| m.photo_id == photo_id) {
            Some(m) => m.same_file = true,
            None => matches.push(PhotoMatch {
                photo_id,
                audit_id,
                distance: 0,
                same_file: true,
            }),
        }
    }
    matches.sort_by_key(|m| (m.distance, m.photo_id));
    matches.dedup_by_key(|m| m.photo_id);
    matches.truncate(MAX_MATCHES);
    Ok(matches)
}

/// The other photo of a match is flagged too, so both audits' reviewers
/// see it, whichever was processed first. `other` is locked by the caller.
async fn mirror_match(
    db: &impl sea_orm::ConnectionTrait,
    mut other: photo_files::Model,
    m: &PhotoMatch,
    photo: Uuid,
    audit: Uuid,
) -> Result<(), ApiError> {
    let mut evidence = Evidence::from_json(&other.flags)?;
    let before = evidence.clone();
    evidence.add_match(PhotoMatch {
        photo_id: photo,
        audit_id: audit,
        distance: m.distance,
        same_file: m.same_file,
    });
    if evidence != before {
        other.flags = evidence.to_json()?;
        db::photos::save_file(db, other).await?;
    }
    Ok(())
}

/// Look for uploads whose completion never arrived: files whose last
/// upload URL has expired, each looked at once per URL given out. A file
/// found complete in the store is received as `complete` would.
pub async fn sweep(state: &AppState, batch: u64) -> Result<u64, ApiError> {
    let ttl = i64::try_from(state.config.storage.upload_url_ttl)
        .unwrap_or(i64::MAX / 2_000)
        .saturating_mul(1000);
    let now = db::jobs::now_ms();
    let due = db::photos::uncompleted(&state.db, now - ttl, batch).await?;
    let mut received = 0;
    for file in due {
        let still_waiting = db::photos::file_context(&state.db, file.photo_id, &file.sha256)
            .await?
            .is_some_and(|(listed, _, _)| listed.state == PhotoState::PendingUpload);
        if still_waiting {
            match super::receive(state, file.photo_id, &file.sha256, file.audit_id).await {
                Ok(super::Received::Received) => received += 1,
                Ok(_) => {}
                Err(e) => {
                    // Looked at again after the next URL; the rest go on.
                    tracing::warn!(error = %e, photo = %file.photo_id, "sweeping an upload");
                }
            }
        }
        db::photos::mark_swept(&state.db, file.photo_id, &file.sha256, now).await?;
    }
    if received > 0 {
        tracing::info!(
            received,
            "sweep found uploads whose completion never arrived"
        );
    }
    Ok(received)
}

/// Sweep every `every` until `stop` turns true.
pub async fn sweep_loop(
    state: AppState,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if let Err(e) = sweep(&state, 200).await {
            tracing::warn!(error = %e, "photo sweep");
        }
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(every) => {}
        }
        if *stop.borrow() {
            return;
        }
    }
}
