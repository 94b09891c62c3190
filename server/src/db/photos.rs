//! Photo files: who owns them, what each revision's manifest lists, and
//! where each file is on its way to the reviewer.

use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::entities::enums::PhotoState;
use crate::entities::{audit_photos, audits, photos};
use crate::error::ApiError;

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
