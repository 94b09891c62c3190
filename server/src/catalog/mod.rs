//! The standards catalog's rules, written against a database connection and
//! plain values, never the HTTP layer: dimensions, standards, checklist
//! drafts and their publication, published versions (one module each).
//!
//! Here, the default catalog, written from the domain brief: the SERVQUAL
//! dimensions, bilingual standards for every moment of a store visit, and a
//! checklist draft that uses them all. Any deployment can load it.

pub mod checklists;
pub mod dimensions;
pub mod standards;
pub mod versions;

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, Set};
use serde::{Deserialize, Serialize};
use storecheck_shared::catalog::{ChecklistContent, DraftSection, Factor};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::entities;
use crate::error::ApiError;

const DEFAULT_CATALOG: &str = include_str!("default_catalog.json");

/// The origin that marks the checklist the default catalog made.
const DEFAULT_ORIGIN: &str = "default";

#[derive(Debug, Deserialize)]
pub struct DefaultCatalog {
    pub dimensions: Vec<DefaultDimension>,
    pub standards: Vec<DefaultStandard>,
    pub checklist: DefaultChecklist,
}

#[derive(Debug, Deserialize)]
pub struct DefaultDimension {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
}

#[derive(Debug, Deserialize)]
pub struct DefaultStandard {
    pub code: String,
    pub dimension: String,
    pub factor: Factor,
    pub text_zh: String,
    pub text_en: String,
    pub guidance_zh: String,
    pub guidance_en: String,
}

#[derive(Debug, Deserialize)]
pub struct DefaultChecklist {
    pub name: String,
    pub sections: Vec<DraftSection>,
}

pub fn default_catalog() -> anyhow::Result<DefaultCatalog> {
    Ok(serde_json::from_str(DEFAULT_CATALOG)?)
}

/// What an import added.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    pub dimensions_created: u32,
    pub standards_created: u32,
    /// The default checklist draft (made now or found from before).
    pub checklist_id: Uuid,
    pub checklist_created: bool,
}

/// Add whatever of the default catalog is missing, by code (and the
/// checklist by its origin mark). Running it again adds nothing.
pub async fn import_default(db: &impl ConnectionTrait) -> Result<ImportReport, ApiError> {
    let catalog = default_catalog()?;
    let now = Utc::now();
    // The unique codes decide what is new, so two imports at once add each
    // entry once and neither fails.
    let known = entities::dimensions::Entity::find().all(db).await?.len();
    let mut dimensions_created = 0;
    for (i, d) in catalog.dimensions.iter().enumerate() {
        let row = entities::dimensions::ActiveModel {
            id: Set(Uuid::now_v7()),
            code: Set(d.code.clone()),
            name_zh: Set(d.name_zh.clone()),
            name_en: Set(d.name_en.clone()),
            position: Set(i32::try_from(known + i + 1).unwrap_or(i32::MAX)),
            created_at: Set(now),
        };
        dimensions_created += inserted(
            entities::dimensions::Entity::insert(row)
                .on_conflict_do_nothing_on([entities::dimensions::Column::Code])
                .exec_without_returning(db)
                .await?,
        );
    }
    let dims: HashMap<String, Uuid> = entities::dimensions::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|d| (d.code, d.id))
        .collect();
    let mut standards_created = 0;
    for s in &catalog.standards {
        let dimension_id = *dims.get(&s.dimension).ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!(
                "default standard {} names unknown dimension {}",
                s.code,
                s.dimension
            ))
        })?;
        let row = entities::standards::ActiveModel {
            id: Set(Uuid::now_v7()),
            code: Set(s.code.clone()),
            dimension_id: Set(dimension_id),
            factor: Set(s.factor.as_str().to_owned()),
            text_zh: Set(s.text_zh.clone()),
            text_en: Set(s.text_en.clone()),
            guidance_zh: Set(s.guidance_zh.clone()),
            guidance_en: Set(s.guidance_en.clone()),
            retired: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
        };
        standards_created += inserted(
            entities::standards::Entity::insert(row)
                .on_conflict_do_nothing_on([entities::standards::Column::Code])
                .exec_without_returning(db)
                .await?,
        );
    }
    let content = ChecklistContent {
        sections: catalog.checklist.sections,
    };
    let (checklist_id, checklist_created) = crate::db::catalog::checklist_from_origin(
        db,
        DEFAULT_ORIGIN,
        catalog.checklist.name,
        &content,
    )
    .await?;
    Ok(ImportReport {
        dimensions_created,
        standards_created,
        checklist_id,
        checklist_created,
    })
}

/// [`import_default`] in a write transaction of its own.
pub async fn import_default_committed(db: &DatabaseConnection) -> Result<ImportReport, ApiError> {
    let txn = crate::db::begin_write(db).await?;
    let report = import_default(&txn).await?;
    txn.commit().await?;
    Ok(report)
}

/// 1 when an insert that skips conflicts added its row, else 0.
fn inserted(r: sea_orm::TryInsertResult<u64>) -> u32 {
    match r {
        sea_orm::TryInsertResult::Inserted(n) if n > 0 => 1,
        _ => 0,
    }
}
