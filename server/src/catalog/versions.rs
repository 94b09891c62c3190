//! Published checklist versions as callers may read them.

use std::sync::Arc;

use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::audits::VersionCache;
use crate::audits::versions::Published;
use crate::db::catalog as queries;
use crate::db::scope::Scope;
use crate::error::ApiError;

/// A published version the caller may read: HQ always, a regional manager
/// when a store of their regions has an assignment on it, an auditor when
/// they have an assignment on it. 404 otherwise, as when there is none.
pub async fn visible(
    cache: &VersionCache,
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> Result<Arc<Published>, ApiError> {
    let Some(v) = cache.published(db, id).await? else {
        return Err(ApiError::not_found("checklist version"));
    };
    if !queries::version_visible(db, scope, v.id).await? {
        return Err(ApiError::not_found("checklist version"));
    }
    Ok(v)
}
