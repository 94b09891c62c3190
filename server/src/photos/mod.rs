//! Photo evidence on its way from the phone to storage (SPEC §7): upload
//! URLs for what the server has not received yet, and the check that what
//! arrived is the file the manifest promised.

use std::time::Duration;

use sea_orm::ConnectionTrait;
use storecheck_shared::sync::{PhotoState, PhotoStatus, PhotoUpload, PushOutcome, PushResult};
use tracing::instrument;
use uuid::Uuid;

use crate::db;
use crate::entities::{audit_photos, audits};
use crate::error::ApiError;
use crate::storage::{Presigned, Storage};

/// The key of a photo's original file. It names the file's SHA-256, so a
/// later revision that lists other bytes under the same photo id gets a
/// key of its own and never overwrites evidence.
pub fn original_key(photo: Uuid, sha256: &str) -> String {
    format!("photos/{photo}/{}/original", sha256.to_ascii_lowercase())
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
    if listed.state != crate::entities::enums::PhotoState::PendingUpload {
        return Err(ApiError::conflict(
            "photo_already_received",
            "the server has this photo's file already: nothing to upload",
        )
        .with_detail("state", state_name(listed.state.into())));
    }
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

/// The phone says the file is up: check that the store holds exactly the
/// bytes the manifest promised (length and SHA-256, computed from the
/// stored bytes) and move the photo on to `uploaded`. Asked again, it
/// answers the state the photo is in.
#[instrument(skip_all, fields(photo = %photo))]
pub async fn complete(
    db: &impl ConnectionTrait,
    storage: &Storage,
    auditor: Uuid,
    photo: Uuid,
) -> Result<PhotoStatus, ApiError> {
    let (audit, listed) = own_listed(db, auditor, photo).await?;
    let status = |state| PhotoStatus {
        id: photo,
        audit_id: audit.id,
        state,
    };
    if listed.state != crate::entities::enums::PhotoState::PendingUpload {
        return Ok(status(listed.state.into()));
    }
    let key = original_key(photo, &listed.sha256);
    let Some(stored) = storage.stat(&key).await? else {
        return Err(ApiError::conflict(
            "upload_missing",
            "the photo's file has not arrived: upload it to its URL (ask upload-url for a fresh one), then complete again",
        ));
    };
    let promised = u64::try_from(listed.bytes).unwrap_or(0);
    if stored.bytes != promised || !stored.sha256.eq_ignore_ascii_case(&listed.sha256) {
        // Not the evidence the audit lists: dropped, so a correct upload
        // can take its place.
        storage.delete(&key).await?;
        tracing::warn!(
            bytes = stored.bytes,
            promised,
            "uploaded file differs from the manifest; removed"
        );
        return Err(ApiError::conflict(
            "upload_mismatch",
            "the file that arrived is not the one the audit lists; upload the listed file again",
        )
        .with_detail(
            "bytes",
            format!("{} arrived, {promised} listed", stored.bytes),
        )
        .with_detail("sha256", "must be the SHA-256 the manifest lists"));
    }
    db::photos::mark_uploaded(db, photo, &listed.sha256).await?;
    tracing::info!(audit = %audit.id, "photo file received");
    Ok(status(PhotoState::Uploaded))
}
