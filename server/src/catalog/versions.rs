//! Published checklist versions as callers may read them.

use std::sync::Arc;

use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::audits::VersionCache;
use crate::audits::versions::Published;
use crate::db::catalog as queries;
use crate::db::scope::Scope;
use crate::db::sync::{AtPosition, LogHead};
use crate::error::ApiError;

/// Whether an auditor may read a version, as of a change-log position. An
/// auditor's access follows their own assignments only, and every change
/// to those moves the log, so a phone revalidating its checklist is
/// answered from memory while nothing changed for it.
pub struct AccessCache(AtPosition<(Uuid, Uuid), bool>);

impl Default for AccessCache {
    fn default() -> Self {
        AccessCache(AtPosition::new(100_000))
    }
}

/// A published version the caller may read: HQ always, a regional manager
/// when a store of their regions has an assignment on it, an auditor when
/// they have an assignment on it. 404 otherwise, as when there is none.
pub async fn visible(
    cache: &VersionCache,
    access: &AccessCache,
    head: &LogHead,
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> Result<Arc<Published>, ApiError> {
    let Some(v) = cache.published(db, id).await? else {
        return Err(ApiError::not_found("checklist version"));
    };
    let allowed = match scope {
        Scope::Auditor { user, .. } => {
            let at = head.position(db, 0).await?;
            let key = (*user, v.id);
            match access.0.get(&key, at) {
                Some(allowed) => allowed,
                None => {
                    let allowed = queries::version_visible(db, scope, v.id).await?;
                    access.0.put(key, at, allowed);
                    allowed
                }
            }
        }
        _ => queries::version_visible(db, scope, v.id).await?,
    };
    if !allowed {
        return Err(ApiError::not_found("checklist version"));
    }
    Ok(v)
}
