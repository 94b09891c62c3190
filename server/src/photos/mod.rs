//! Photo evidence on its way from the phone to storage (SPEC §7): upload
//! URLs for what the server has not received yet, and the check that what
//! arrived is the file the manifest promised.

pub mod process;
pub mod work;

use std::time::Duration;

use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use storecheck_shared::sync::{
    PhotoMatch, PhotoProgress, PhotoState, PhotoStatus, PhotoUpload, PhotoUrls, PhotoView,
    PushOutcome, PushResult,
};
use tracing::instrument;
use uuid::Uuid;

use crate::db;
use crate::entities::enums::PhotoState as StoredState;
use crate::entities::{audit_photos, audits, photo_files};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::{Presigned, Storage};

/// The key of a photo's original file. It names the file's SHA-256, so a
/// later revision that lists other bytes under the same photo id gets a
/// key of its own and never overwrites evidence.
pub fn original_key(photo: Uuid, sha256: &str) -> String {
    format!("photos/{photo}/{}/original", sha256.to_ascii_lowercase())
}

/// The key of a file's thumbnail (JPEG, about 320 px, no metadata).
pub fn thumbnail_key(photo: Uuid, sha256: &str) -> String {
    format!(
        "photos/{photo}/{}/thumbnail.jpg",
        sha256.to_ascii_lowercase()
    )
}

/// The key of a file's review image (JPEG, about 1600 px, no metadata).
pub fn review_key(photo: Uuid, sha256: &str) -> String {
    format!("photos/{photo}/{}/review.jpg", sha256.to_ascii_lowercase())
}

/// What processing found that a reviewer should weigh, as stored in
/// `photo_files.flags`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    #[serde(default)]
    pub flags: Vec<String>,
    #[serde(default)]
    pub matches: Vec<PhotoMatch>,
}

impl Evidence {
    pub fn from_json(text: &str) -> Result<Self, ApiError> {
        serde_json::from_str(text)
            .map_err(|e| ApiError::internal(anyhow::anyhow!("stored photo evidence: {e}")))
    }

    pub fn to_json(&self) -> Result<String, ApiError> {
        Ok(serde_json::to_string(self).map_err(anyhow::Error::from)?)
    }

    fn refresh_flags(&mut self) {
        self.flags
            .retain(|f| f != "photo_reused" && f != "photo_file_in_other_audit");
        if self.matches.iter().any(|m| !m.same_file) {
            self.flags.push("photo_reused".to_owned());
        }
        if self.matches.iter().any(|m| m.same_file) {
            self.flags.push("photo_file_in_other_audit".to_owned());
        }
    }

    pub fn set_matches(&mut self, matches: Vec<PhotoMatch>) {
        self.matches = matches;
        self.refresh_flags();
    }

    pub fn add_match(&mut self, m: PhotoMatch) {
        if !self.matches.iter().any(|x| x.photo_id == m.photo_id) {
            self.matches.push(m);
            self.matches.sort_by_key(|m| (m.distance, m.photo_id));
        }
        self.refresh_flags();
    }
}

/// How many of these manifest rows have their file.
pub fn progress(listed: &[audit_photos::Model]) -> PhotoProgress {
    let count = |f: &dyn Fn(StoredState) -> bool| {
        u32::try_from(listed.iter().filter(|p| f(p.state)).count()).unwrap_or(u32::MAX)
    };
    PhotoProgress {
        listed: u32::try_from(listed.len()).unwrap_or(u32::MAX),
        received: count(&|s| s != StoredState::PendingUpload),
        processed: count(&|s| s == StoredState::Processed),
        invalid: count(&|s| s == StoredState::Invalid),
        waiting: listed
            .iter()
            .filter(|p| p.state == StoredState::PendingUpload)
            .map(|p| p.id)
            .collect(),
    }
}

/// The photos a revision lists, with what processing found of each file.
pub async fn views(
    db: &impl ConnectionTrait,
    listed: Vec<audit_photos::Model>,
) -> Result<(Vec<PhotoView>, PhotoProgress), ApiError> {
    let keys: Vec<(Uuid, String)> = listed.iter().map(|p| (p.id, p.sha256.clone())).collect();
    let files = db::photos::files(db, &keys).await?;
    let progress = progress(&listed);
    let views = listed
        .into_iter()
        .map(|p| {
            let file: Option<&photo_files::Model> = files
                .iter()
                .find(|f| f.photo_id == p.id && f.sha256 == p.sha256);
            let evidence = match file {
                Some(f) if f.processed_at.is_some() => Evidence::from_json(&f.flags)?,
                _ => Evidence::default(),
            };
            let processed = file.filter(|f| f.processed_at.is_some());
            Ok(PhotoView {
                id: p.id,
                item_id: p.item_id,
                sha256: p.sha256,
                bytes: u64::try_from(p.bytes).unwrap_or(0),
                content_type: p.content_type,
                taken_at: p.taken_at,
                state: p.state.into(),
                invalid_reason: processed.and_then(|f| f.invalid_reason.clone()),
                flags: evidence.flags,
                matches: evidence.matches,
                exif_taken_at: processed.and_then(|f| f.exif_taken_at),
                latitude: processed.and_then(|f| f.latitude),
                longitude: processed.and_then(|f| f.longitude),
                width: processed
                    .and_then(|f| f.width)
                    .and_then(|w| u32::try_from(w).ok()),
                height: processed
                    .and_then(|f| f.height)
                    .and_then(|h| u32::try_from(h).ok()),
                urls: None,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok((views, progress))
}

/// Presigned GET URLs for reviewers: the original once received, the
/// derivatives once processed.
pub async fn attach_review_urls(
    storage: &Storage,
    ttl: Duration,
    photos: &mut [PhotoView],
) -> Result<(), ApiError> {
    for p in photos.iter_mut() {
        if p.state == PhotoState::PendingUpload {
            continue;
        }
        let original = storage
            .presign_get(&original_key(p.id, &p.sha256), ttl)
            .await?;
        let derivative = |key: String| async move {
            Ok::<_, ApiError>(storage.presign_get(&key, ttl).await?.url)
        };
        let (thumbnail, review) = if p.state == PhotoState::Processed {
            (
                Some(derivative(thumbnail_key(p.id, &p.sha256)).await?),
                Some(derivative(review_key(p.id, &p.sha256)).await?),
            )
        } else {
            (None, None)
        };
        p.urls = Some(PhotoUrls {
            thumbnail,
            review,
            original: original.url,
            expires_at: original.expires_at,
        });
    }
    Ok(())
}

async fn ticket(
    storage: &Storage,
    ttl: Duration,
    photo: &audit_photos::Model,
) -> Result<PhotoUpload, ApiError> {
    let bytes = u64::try_from(photo.bytes)
        .map_err(|_| ApiError::internal(anyhow::anyhow!("stored photo length {}", photo.bytes)))?;
    let Presigned {
        method,
        url,
        headers,
        expires_at,
    } = storage
        .presign_put(
            &original_key(photo.id, &photo.sha256),
            &photo.content_type,
            bytes,
            &photo.sha256,
            ttl,
        )
        .await?;
    Ok(PhotoUpload {
        photo_id: photo.id,
        method,
        url,
        headers: headers
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect(),
        expires_at,
    })
}

/// Give every push result whose revision is in force the upload URLs of
/// its photos still waiting for their file. A lost reply is answered
/// `duplicate` on the resend, with fresh URLs.
pub async fn attach_uploads(
    db: &impl ConnectionTrait,
    storage: &Storage,
    ttl: Duration,
    results: &mut [PushResult],
) -> Result<(), ApiError> {
    let in_force: Vec<(Uuid, i32)> = results
        .iter()
        .filter(|r| matches!(r.outcome, PushOutcome::Accepted | PushOutcome::Duplicate))
        .filter(|r| r.current.as_ref().is_some_and(|c| c.revision == r.revision))
        .filter_map(|r| Some((r.id, i32::try_from(r.revision).ok()?)))
        .collect();
    if in_force.is_empty() {
        return Ok(());
    }
    let waiting = db::photos::pending(db, &in_force).await?;
    let files: Vec<(Uuid, String, Uuid)> = waiting
        .iter()
        .map(|p| (p.id, p.sha256.clone(), p.audit_id))
        .collect();
    db::photos::note_urls_issued(db, &files, db::jobs::now_ms()).await?;
    for photo in &waiting {
        let upload = ticket(storage, ttl, photo).await?;
        if let Some(r) = results.iter_mut().find(|r| r.id == photo.audit_id) {
            r.uploads.push(upload);
        }
    }
    Ok(())
}

/// The caller's photo as the audit in force lists it; 404 for another
/// auditor's photo as for an unknown one.
async fn own_listed(
    db: &impl ConnectionTrait,
    auditor: Uuid,
    photo: Uuid,
) -> Result<(audits::Model, audit_photos::Model), ApiError> {
    let Some((audit, listed)) = db::photos::in_force(db, photo)
        .await?
        .filter(|(a, _)| a.auditor_id == auditor)
    else {
        return Err(ApiError::not_found("photo"));
    };
    let Some(listed) = listed else {
        return Err(ApiError::conflict(
            "photo_not_in_force",
            format!(
                "revision {} of the audit, the one in force, does not list this photo: nothing to upload",
                audit.revision
            ),
        ));
    };
    Ok((audit, listed))
}

/// A fresh upload URL for one of the caller's photos still waiting for
/// its file.
#[instrument(skip_all, fields(photo = %photo))]
pub async fn upload_url(
    db: &impl ConnectionTrait,
    storage: &Storage,
    ttl: Duration,
    auditor: Uuid,
    photo: Uuid,
) -> Result<PhotoUpload, ApiError> {
    let (_, listed) = own_listed(db, auditor, photo).await?;
    if listed.state != StoredState::PendingUpload {
        return Err(ApiError::conflict(
            "photo_already_received",
            "the server has this photo's file already: nothing to upload",
        )
        .with_detail("state", state_name(listed.state.into())));
    }
    db::photos::note_urls_issued(
        db,
        &[(listed.id, listed.sha256.clone(), listed.audit_id)],
        db::jobs::now_ms(),
    )
    .await?;
    ticket(storage, ttl, &listed).await
}

fn state_name(s: PhotoState) -> &'static str {
    match s {
        PhotoState::PendingUpload => "pending_upload",
        PhotoState::Uploaded => "uploaded",
        PhotoState::Processed => "processed",
        PhotoState::Invalid => "invalid",
    }
}

/// What the store holds under a file's key, against the manifest.
pub enum Received {
    /// The listed bytes: the photo moved on to `uploaded`, its processing
    /// queued.
    Received,
    /// Nothing stored yet.
    Missing,
    /// Other bytes: removed, so a correct upload can take their place.
    Mismatch { bytes: u64, promised: u64 },
}

/// Check that the store holds exactly the bytes the manifest promised
/// (length and SHA-256, computed from the stored bytes); if so, move every
/// manifest row of the file to `uploaded` and queue its processing in the
/// same transaction.
pub async fn receive(
    state: &AppState,
    photo: Uuid,
    sha256: &str,
    audit: Uuid,
) -> Result<Received, ApiError> {
    let Some(listed) = db::photos::file_context(&state.db, photo, sha256)
        .await?
        .map(|(l, _, _)| l)
    else {
        return Ok(Received::Missing);
    };
    let key = original_key(photo, sha256);
    let Some(stored) = state.storage.stat(&key).await? else {
        return Ok(Received::Missing);
    };
    let promised = u64::try_from(listed.bytes).unwrap_or(0);
    if stored.bytes != promised || !stored.sha256.eq_ignore_ascii_case(sha256) {
        state.storage.delete(&key).await?;
        tracing::warn!(
            bytes = stored.bytes,
            promised,
            "uploaded file differs from the manifest; removed"
        );
        return Ok(Received::Mismatch {
            bytes: stored.bytes,
            promised,
        });
    }
    let Some(owner) = db::photos::in_force(&state.db, photo)
        .await?
        .map(|(a, _)| a)
    else {
        return Ok(Received::Missing);
    };
    let txn = db::begin_write(&state.db).await?;
    db::photos::mark_uploaded(&txn, photo, sha256).await?;
    work::queue_processing(&txn, photo, sha256).await?;
    work::tell_the_phone(&txn, &state.log, &owner).await?;
    txn.commit().await?;
    state.jobs.wake();
    tracing::info!(%audit, "photo file received");
    Ok(Received::Received)
}

/// The phone says the file is up: check it (see `receive`) and answer the
/// photo's state. Asked again, it answers the state the photo is in.
#[instrument(skip_all, fields(photo = %photo))]
pub async fn complete(
    state: &AppState,
    auditor: Uuid,
    photo: Uuid,
) -> Result<PhotoStatus, ApiError> {
    let (audit, listed) = own_listed(&state.db, auditor, photo).await?;
    let status = |state| PhotoStatus {
        id: photo,
        audit_id: audit.id,
        state,
    };
    if listed.state != StoredState::PendingUpload {
        return Ok(status(listed.state.into()));
    }
    match receive(state, photo, &listed.sha256, audit.id).await? {
        Received::Received => Ok(status(PhotoState::Uploaded)),
        Received::Missing => Err(ApiError::conflict(
            "upload_missing",
            "the photo's file has not arrived: upload it to its URL (ask upload-url for a fresh one), then complete again",
        )),
        Received::Mismatch { bytes, promised } => Err(ApiError::conflict(
            "upload_mismatch",
            "the file that arrived is not the one the audit lists; upload the listed file again",
        )
        .with_detail("bytes", format!("{bytes} arrived, {promised} listed"))
        .with_detail("sha256", "must be the SHA-256 the manifest lists")),
    }
}
