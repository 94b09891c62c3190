//! Published checklist versions, read and parsed once per server.

use std::collections::HashMap;
use std::sync::Arc;

use sea_orm::{ConnectionTrait, EntityTrait};
use storecheck_shared::catalog::ChecklistVersion;
use uuid::Uuid;

use crate::entities::checklist_versions;
use crate::error::ApiError;

/// A published version as stored (the exact bytes served) and as parsed.
pub struct Published {
    pub id: Uuid,
    /// The JSON body, byte for byte as published.
    pub body: Arc<str>,
    pub etag: String,
    pub version: Arc<ChecklistVersion>,
}

/// Published versions never change, so each server reads each once.
#[derive(Default)]
pub struct VersionCache(std::sync::Mutex<HashMap<Uuid, Arc<Published>>>);

impl VersionCache {
    /// The parsed version, if it exists.
    pub async fn get(
        &self,
        db: &impl ConnectionTrait,
        id: Uuid,
    ) -> Result<Option<Arc<ChecklistVersion>>, ApiError> {
        Ok(self.published(db, id).await?.map(|p| p.version.clone()))
    }

    /// The stored version, if it exists.
    pub async fn published(
        &self,
        db: &impl ConnectionTrait,
        id: Uuid,
    ) -> Result<Option<Arc<Published>>, ApiError> {
        if let Some(v) = self.lock().get(&id) {
            return Ok(Some(v.clone()));
        }
        let Some(row) = checklist_versions::Entity::find_by_id(id).one(db).await? else {
            return Ok(None);
        };
        let parsed: ChecklistVersion = serde_json::from_str(&row.body)
            .map_err(|e| super::corrupt(format!("version {id} body: {e}")))?;
        let published = Arc::new(Published {
            id: row.id,
            body: row.body.into(),
            etag: row.etag,
            version: Arc::new(parsed),
        });
        self.lock().insert(id, published.clone());
        Ok(Some(published))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<Published>>> {
        match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}
