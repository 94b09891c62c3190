//! Photo files: who owns them, what each revision's manifest lists, and
//! where each file is on its way to the reviewer.

use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use crate::entities::enums::PhotoState;
use crate::entities::{audit_photos, audits, photo_files, photos, stores};
use crate::error::ApiError;

/// Job kind: process one received photo file.
pub const PROCESS: &str = "photo.process";

/// What a processing job works on.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct FileKey {
    pub photo_id: Uuid,
    pub sha256: String,
}

/// Queue processing of a received file, inside the caller's transaction
/// (once: asked again while it runs, it runs once more afterwards).
pub async fn queue_processing(
    db: &impl ConnectionTrait,
    photo: Uuid,
    sha256: &str,
) -> Result<(), ApiError> {
    let key = FileKey {
        photo_id: photo,
        sha256: sha256.to_ascii_lowercase(),
    };
    let payload = serde_json::to_string(&key).map_err(anyhow::Error::from)?;
    super::jobs::enqueue(
        db,
        PROCESS,
        &format!("{photo}/{}", key.sha256),
        &payload,
        super::jobs::now_ms(),
    )
    .await
}

/// Ids per `IN (…)` list, well inside every backend's parameter limit.
const IDS_PER_QUERY: usize = 500;

/// The photos of these (audit, revision) manifests still waiting for their
/// file, in the manifests' order.
pub async fn pending(
    db: &impl ConnectionTrait,
    manifests: &[(Uuid, i32)],
) -> Result<Vec<audit_photos::Model>, ApiError> {
    let mut found = Vec::new();
    for chunk in manifests.chunks(IDS_PER_QUERY) {
        let ids: Vec<Uuid> = chunk.iter().map(|(a, _)| *a).collect();
        let rows = audit_photos::Entity::find()
            .filter(audit_photos::Column::AuditId.is_in(ids))
            .filter(audit_photos::Column::State.eq(PhotoState::PendingUpload))
            .order_by_asc(audit_photos::Column::AuditId)
            .order_by_asc(audit_photos::Column::CreatedAt)
            .order_by_asc(audit_photos::Column::Id)
            .all(db)
            .await?;
        found.extend(
            rows.into_iter()
                .filter(|p| chunk.contains(&(p.audit_id, p.revision))),
        );
    }
    Ok(found)
}

/// A photo as the audit's revision in force lists it, with the audit;
/// `None` when no audit owns the id. The manifest row is `None` when the
/// revision in force no longer lists the photo.
pub async fn in_force(
    db: &impl ConnectionTrait,
    photo: Uuid,
) -> Result<Option<(audits::Model, Option<audit_photos::Model>)>, ApiError> {
    let Some(owner) = photos::Entity::find_by_id(photo).one(db).await? else {
        return Ok(None);
    };
    let Some(audit) = audits::Entity::find_by_id(owner.audit_id).one(db).await? else {
        return Ok(None);
    };
    let listed = audit_photos::Entity::find_by_id((audit.id, audit.revision, photo))
        .one(db)
        .await?;
    Ok(Some((audit, listed)))
}

/// Record that the file `sha256` of `photo` is stored and verified: every
/// revision listing that file moves on from `pending_upload`.
pub async fn mark_uploaded(
    db: &impl ConnectionTrait,
    photo: Uuid,
    sha256: &str,
) -> Result<u64, ApiError> {
    let done = audit_photos::Entity::update_many()
        .col_expr(
            audit_photos::Column::State,
            Expr::value(PhotoState::Uploaded),
        )
        .filter(audit_photos::Column::Id.eq(photo))
        .filter(
            Expr::expr(Func::lower(Expr::col(audit_photos::Column::Sha256)))
                .eq(sha256.to_ascii_lowercase()),
        )
        .filter(audit_photos::Column::State.eq(PhotoState::PendingUpload))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

/// Set the state of every manifest row listing the file `sha256` of
/// `photo` that is in one of `from`; returns the rows changed.
pub async fn set_state(
    db: &impl ConnectionTrait,
    photo: Uuid,
    sha256: &str,
    from: &[PhotoState],
    to: PhotoState,
) -> Result<u64, ApiError> {
    let done = audit_photos::Entity::update_many()
        .col_expr(audit_photos::Column::State, Expr::value(to))
        .filter(audit_photos::Column::Id.eq(photo))
        .filter(audit_photos::Column::Sha256.eq(sha256.to_ascii_lowercase()))
        .filter(audit_photos::Column::State.is_in(from.iter().copied()))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

/// What processing needs of a file: the newest manifest row listing it,
/// its audit and the audit's store. `None` when no manifest lists it.
pub async fn file_context(
    db: &impl ConnectionTrait,
    photo: Uuid,
    sha256: &str,
) -> Result<Option<(audit_photos::Model, audits::Model, stores::Model)>, ApiError> {
    let Some(listed) = audit_photos::Entity::find()
        .filter(audit_photos::Column::Id.eq(photo))
        .filter(audit_photos::Column::Sha256.eq(sha256.to_ascii_lowercase()))
        .order_by_desc(audit_photos::Column::Revision)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(audit) = audits::Entity::find_by_id(listed.audit_id).one(db).await? else {
        return Ok(None);
    };
    let Some(store) = stores::Entity::find_by_id(audit.store_id).one(db).await? else {
        return Ok(None);
    };
    Ok(Some((listed, audit, store)))
}

fn blank_file(
    photo: Uuid,
    sha256: &str,
    audit: Uuid,
    url_issued_at: Option<i64>,
) -> photo_files::ActiveModel {
    photo_files::ActiveModel {
        photo_id: Set(photo),
        sha256: Set(sha256.to_ascii_lowercase()),
        audit_id: Set(audit),
        url_issued_at: Set(url_issued_at),
        swept_at: Set(None),
        width: Set(None),
        height: Set(None),
        exif_taken_at: Set(None),
        latitude: Set(None),
        longitude: Set(None),
        phash: Set(None),
        band0: Set(None),
        band1: Set(None),
        band2: Set(None),
        band3: Set(None),
        invalid_reason: Set(None),
        flags: Set("{}".to_owned()),
        processed_at: Set(None),
    }
}

/// Note that upload URLs for these files (photo, SHA-256, audit) were
/// given out at `at` (Unix ms), so the sweep can look for uploads whose
/// completion never arrived once the URLs have expired.
pub async fn note_urls_issued(
    db: &impl ConnectionTrait,
    files: &[(Uuid, String, Uuid)],
    at: i64,
) -> Result<(), ApiError> {
    for chunk in files.chunks(IDS_PER_QUERY / 2) {
        let rows = chunk
            .iter()
            .map(|(photo, sha, audit)| blank_file(*photo, sha, *audit, Some(at)));
        photo_files::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([photo_files::Column::PhotoId, photo_files::Column::Sha256])
                    .update_column(photo_files::Column::UrlIssuedAt)
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Files whose last upload URL expired before `expired_before` without a
/// completion, not looked at by the sweep since that URL was given out.
pub async fn uncompleted(
    db: &impl ConnectionTrait,
    expired_before: i64,
    limit: u64,
) -> Result<Vec<photo_files::Model>, ApiError> {
    let files = photo_files::Entity::find()
        .filter(photo_files::Column::UrlIssuedAt.lt(expired_before))
        .filter(photo_files::Column::ProcessedAt.is_null())
        .filter(photo_files::Column::Phash.is_null())
        .filter(
            sea_orm::Condition::any()
                .add(photo_files::Column::SweptAt.is_null())
                .add(
                    Expr::col(photo_files::Column::SweptAt)
                        .lt(Expr::col(photo_files::Column::UrlIssuedAt)),
                ),
        )
        .order_by_asc(photo_files::Column::UrlIssuedAt)
        .limit(limit)
        .all(db)
        .await?;
    Ok(files)
}

pub async fn mark_swept(
    db: &impl ConnectionTrait,
    photo: Uuid,
    sha256: &str,
    at: i64,
) -> Result<(), ApiError> {
    photo_files::Entity::update_many()
        .col_expr(photo_files::Column::SweptAt, Expr::value(at))
        .filter(photo_files::Column::PhotoId.eq(photo))
        .filter(photo_files::Column::Sha256.eq(sha256))
        .exec(db)
        .await?;
    Ok(())
}

/// The file's processing record, made when missing.
pub async fn file_row(
    db: &impl ConnectionTrait,
    photo: Uuid,
    sha256: &str,
    audit: Uuid,
) -> Result<photo_files::Model, ApiError> {
    if let Some(row) = photo_files::Entity::find_by_id((photo, sha256.to_owned()))
        .one(db)
        .await?
    {
        return Ok(row);
    }
    let row = blank_file(photo, sha256, audit, None);
    photo_files::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([photo_files::Column::PhotoId, photo_files::Column::Sha256])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    photo_files::Entity::find_by_id((photo, sha256.to_owned()))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("photo file {photo} vanished")))
}

/// Save what processing found of a file.
pub async fn save_file(db: &impl ConnectionTrait, row: photo_files::Model) -> Result<(), ApiError> {
    let mut active: photo_files::ActiveModel = row.into();
    for c in [
        photo_files::Column::Width,
        photo_files::Column::Height,
        photo_files::Column::ExifTakenAt,
        photo_files::Column::Latitude,
        photo_files::Column::Longitude,
        photo_files::Column::Phash,
        photo_files::Column::Band0,
        photo_files::Column::Band1,
        photo_files::Column::Band2,
        photo_files::Column::Band3,
        photo_files::Column::InvalidReason,
        photo_files::Column::Flags,
        photo_files::Column::ProcessedAt,
    ] {
        sea_orm::ActiveModelTrait::reset(&mut active, c);
    }
    sea_orm::ActiveModelTrait::update(active, db).await?;
    Ok(())
}

/// A stored file's hash, for the reuse lookup.
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct HashedFile {
    pub photo_id: Uuid,
    pub audit_id: Uuid,
    pub sha256: String,
    pub phash: i64,
}

/// Files of other audits whose hash bands take one of the probed values
/// (see `photos::process::probes`): the candidates for a reused photo. On
/// PostgreSQL only those within `max_distance` bits of `hash` come back;
/// elsewhere the caller measures the distance.
pub async fn reuse_candidates(
    db: &impl ConnectionTrait,
    hash: i64,
    max_distance: u32,
    probes: &[Vec<i32>; 4],
    not_audit: Uuid,
) -> Result<Vec<HashedFile>, ApiError> {
    let columns = [
        photo_files::Column::Band0,
        photo_files::Column::Band1,
        photo_files::Column::Band2,
        photo_files::Column::Band3,
    ];
    let mut any = sea_orm::Condition::any();
    for (column, values) in columns.into_iter().zip(probes.iter()) {
        any = any.add(column.is_in(values.iter().copied()));
    }
    let mut query = photo_files::Entity::find()
        .select_only()
        .columns([
            photo_files::Column::PhotoId,
            photo_files::Column::AuditId,
            photo_files::Column::Sha256,
            photo_files::Column::Phash,
        ])
        .filter(any)
        .filter(photo_files::Column::Phash.is_not_null())
        .filter(photo_files::Column::AuditId.ne(not_audit));
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        query = query.filter(Expr::cust_with_values(
            "bit_count((phash # $1)::bit(64)) <= $2",
            [
                sea_orm::Value::from(hash),
                sea_orm::Value::from(i64::from(max_distance)),
            ],
        ));
    }
    Ok(query.into_model::<HashedFile>().all(db).await?)
}

/// Photos of other audits whose manifests list the same file bytes.
pub async fn same_file_elsewhere(
    db: &impl ConnectionTrait,
    sha256: &str,
    not_audit: Uuid,
) -> Result<Vec<(Uuid, Uuid)>, ApiError> {
    let mut found: Vec<(Uuid, Uuid)> = audit_photos::Entity::find()
        .filter(audit_photos::Column::Sha256.eq(sha256.to_ascii_lowercase()))
        .filter(audit_photos::Column::AuditId.ne(not_audit))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.audit_id))
        .collect();
    found.sort_unstable();
    found.dedup();
    Ok(found)
}

/// Processing records of these files.
pub async fn files(
    db: &impl ConnectionTrait,
    keys: &[(Uuid, String)],
) -> Result<Vec<photo_files::Model>, ApiError> {
    let mut found = Vec::new();
    for chunk in keys.chunks(IDS_PER_QUERY) {
        let ids: Vec<Uuid> = chunk.iter().map(|(p, _)| *p).collect();
        found.extend(
            photo_files::Entity::find()
                .filter(photo_files::Column::PhotoId.is_in(ids))
                .all(db)
                .await?
                .into_iter()
                .filter(|f| {
                    chunk
                        .iter()
                        .any(|(p, s)| *p == f.photo_id && *s == f.sha256)
                }),
        );
    }
    Ok(found)
}

/// The manifests of these audits' revisions in force.
pub async fn listed_in_force(
    db: &impl ConnectionTrait,
    audits: &[audits::Model],
) -> Result<Vec<audit_photos::Model>, ApiError> {
    let manifests: Vec<(Uuid, i32)> = audits.iter().map(|a| (a.id, a.revision)).collect();
    let mut found = Vec::new();
    for chunk in manifests.chunks(IDS_PER_QUERY) {
        let ids: Vec<Uuid> = chunk.iter().map(|(a, _)| *a).collect();
        found.extend(
            audit_photos::Entity::find()
                .filter(audit_photos::Column::AuditId.is_in(ids))
                .order_by_asc(audit_photos::Column::Id)
                .all(db)
                .await?
                .into_iter()
                .filter(|p| chunk.contains(&(p.audit_id, p.revision))),
        );
    }
    Ok(found)
}

/// The processing records of these photos' files, locked for the caller's
/// transaction in one order (photo, SHA-256), so writers never wait on
/// each other in a circle.
pub async fn lock_files(
    db: &impl ConnectionTrait,
    photos: &[Uuid],
) -> Result<Vec<photo_files::Model>, ApiError> {
    let mut ids = photos.to_vec();
    ids.sort_unstable();
    ids.dedup();
    Ok(photo_files::Entity::find()
        .filter(photo_files::Column::PhotoId.is_in(ids))
        .order_by_asc(photo_files::Column::PhotoId)
        .order_by_asc(photo_files::Column::Sha256)
        .lock_exclusive()
        .all(db)
        .await?)
}
