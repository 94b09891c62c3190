//! Photo uploads: fresh upload URLs and the completion check (SPEC §7).

use axum::Json;
use axum::extract::State;
use storecheck_shared::sync::{PhotoStatus, PhotoUpload};
use storecheck_shared::{ErrorBody, Role};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use crate::photos;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_url))
        .routes(routes!(complete))
}

fn auditor_only(caller: &AuthUser) -> Result<(), ApiError> {
    if caller.role == Role::Auditor {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only the auditor who took a photo uploads it",
        ))
    }
}

/// A fresh presigned upload URL for one of the caller's photos whose file
/// the server has not received. Ask at any time: after an expired URL, a
/// cut connection or a refused upload. A phone resumes a large photo by
/// asking for a fresh URL and sending the whole file again; the store keeps
/// only a complete file whose length and SHA-256 match the manifest.
#[utoipa::path(post, path = "/api/v1/photos/{id}/upload-url", tag = "sync",
    params(("id" = Uuid, Path, description = "Photo id, as the manifest lists it")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Where and how to upload the file", body = PhotoUpload),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Only auditors upload photos", body = ErrorBody),
        (status = 404, description = "No such photo of the caller's", body = ErrorBody),
        (status = 409, description = "The file is received already (`photo_already_received`), or the revision in force does not list the photo (`photo_not_in_force`)", body = ErrorBody),
        (status = 503, description = "The photo store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    ))]
async fn upload_url(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<PhotoUpload>> {
    auditor_only(&caller)?;
    let ttl = state.config.storage.upload_ttl();
    Ok(Json(
        photos::upload_url(&state.db, &state.storage, ttl, caller.id, id).await?,
    ))
}

/// The file is uploaded: the server checks that the store holds exactly the
/// listed bytes (length and SHA-256), moves the photo to `uploaded` and
/// queues its processing (then `processed`, or `invalid` with a reason, as
/// the audit and the pull show). Safe to repeat: asked again, it answers
/// the photo's state. A completion that never arrives is made up for by a
/// sweep once the upload URL has expired.
#[utoipa::path(post, path = "/api/v1/photos/{id}/complete", tag = "sync",
    params(("id" = Uuid, Path, description = "Photo id, as the manifest lists it")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The photo's state", body = PhotoStatus),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Only auditors upload photos", body = ErrorBody),
        (status = 404, description = "No such photo of the caller's", body = ErrorBody),
        (status = 409, description = "Nothing arrived (`upload_missing`), other bytes arrived and were removed (`upload_mismatch`), or the revision in force does not list the photo (`photo_not_in_force`)", body = ErrorBody),
        (status = 503, description = "The photo store cannot be reached; retry after `Retry-After` seconds", body = ErrorBody),
    ))]
async fn complete(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<PhotoStatus>> {
    auditor_only(&caller)?;
    Ok(Json(photos::complete(&state, caller.id, id).await?))
}
