//! Published checklist versions, parsed once per server.

use std::collections::HashMap;
use std::sync::Arc;

use sea_orm::{ConnectionTrait, EntityTrait};
use storecheck_shared::catalog::ChecklistVersion;
use uuid::Uuid;

use crate::entities::checklist_versions;
use crate::error::ApiError;

/// Published versions never change, so each server parses each once.
#[derive(Default)]
pub struct VersionCache(std::sync::Mutex<HashMap<Uuid, Arc<ChecklistVersion>>>);

impl VersionCache {
    pub async fn get(
        &self,
        db: &impl ConnectionTrait,
        id: Uuid,
    ) -> Result<Option<Arc<ChecklistVersion>>, ApiError> {
        if let Some(v) = self.lock().get(&id) {
            return Ok(Some(v.clone()));
        }
        let Some(row) = checklist_versions::Entity::find_by_id(id).one(db).await? else {
            return Ok(None);
        };
        let parsed: ChecklistVersion = serde_json::from_str(&row.body)
            .map_err(|e| super::corrupt(format!("version {id} body: {e}")))?;
        let parsed = Arc::new(parsed);
        self.lock().insert(id, parsed.clone());
        Ok(Some(parsed))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<ChecklistVersion>>> {
        match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}
