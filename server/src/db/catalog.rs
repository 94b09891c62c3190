//! Dimensions, standards, checklist drafts and published versions.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use sha2::{Digest, Sha256};
use storecheck_shared::catalog::{
    ChecklistContent, ChecklistVersion, Dimension, Factor, Standard, StandardInfo,
    VersionDimension, VersionSummary, resolve_for_publish,
};
use storecheck_shared::quarter::Quarter;
use uuid::Uuid;

use super::scope::Scope;
use crate::entities::{assignments, checklist_versions, checklists, dimensions, standards};
use crate::error::ApiError;

// ---- dimensions -------------------------------------------------------------

pub async fn dimensions(db: &impl ConnectionTrait) -> Result<Vec<dimensions::Model>, ApiError> {
    Ok(dimensions::Entity::find()
        .order_by_asc(dimensions::Column::Position)
        .order_by_asc(dimensions::Column::Code)
        .all(db)
        .await?)
}

pub async fn dimension(db: &impl ConnectionTrait, id: Uuid) -> Result<dimensions::Model, ApiError> {
    dimensions::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("dimension"))
}

pub async fn create_dimension(
    db: &impl ConnectionTrait,
    code: String,
    name_zh: String,
    name_en: String,
    position: Option<i32>,
) -> Result<dimensions::Model, ApiError> {
    let position = match position {
        Some(p) => p,
        None => {
            let last = dimensions::Entity::find()
                .order_by_desc(dimensions::Column::Position)
                .one(db)
                .await?;
            last.map_or(1, |d| d.position.saturating_add(1))
        }
    };
    dimensions::ActiveModel {
        id: Set(Uuid::now_v7()),
        code: Set(code.clone()),
        name_zh: Set(name_zh),
        name_en: Set(name_en),
        position: Set(position),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .map_err(|e| {
        super::unique_or(e, || {
            ApiError::conflict(
                "already_exists",
                format!("a dimension with code {code:?} already exists"),
            )
            .with_detail("code", "already in use")
        })
    })
}

pub fn dimension_to_wire(m: dimensions::Model) -> Dimension {
    Dimension {
        id: m.id,
        code: m.code,
        name_zh: m.name_zh,
        name_en: m.name_en,
        position: m.position,
    }
}

// ---- standards --------------------------------------------------------------

pub struct StandardFilter {
    pub dimension_id: Option<Uuid>,
    pub factor: Option<Factor>,
    pub retired: Option<bool>,
    pub q: Option<String>,
}

pub async fn list_standards(
    db: &impl ConnectionTrait,
    f: StandardFilter,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<standards::Model>, ApiError> {
    let mut q = standards::Entity::find().order_by_asc(standards::Column::Id);
    if let Some(d) = f.dimension_id {
        q = q.filter(standards::Column::DimensionId.eq(d));
    }
    if let Some(fa) = f.factor {
        q = q.filter(standards::Column::Factor.eq(fa.as_str()));
    }
    if let Some(r) = f.retired {
        q = q.filter(standards::Column::Retired.eq(r));
    }
    if let Some(text) = f.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let p = super::stores::contains_pattern(text);
        q = q.filter(
            Expr::expr(Func::lower(Expr::col(standards::Column::Code)))
                .like(p.clone())
                .or(Expr::expr(Func::lower(Expr::col(standards::Column::TextEn))).like(p.clone()))
                .or(Expr::col(standards::Column::TextZh).like(p)),
        );
    }
    if let Some(after) = after {
        q = q.filter(standards::Column::Id.gt(after));
    }
    Ok(q.limit(limit + 1).all(db).await?)
}

/// The texts (English, Chinese) of standards by code, for display.
pub async fn standard_texts(
    db: &impl ConnectionTrait,
    codes: &[String],
) -> Result<HashMap<String, (String, String)>, ApiError> {
    let mut out = HashMap::with_capacity(codes.len());
    for chunk in codes.chunks(super::IN_CHUNK) {
        let rows: Vec<(String, String, String)> = standards::Entity::find()
            .select_only()
            .column(standards::Column::Code)
            .column(standards::Column::TextEn)
            .column(standards::Column::TextZh)
            .filter(standards::Column::Code.is_in(chunk.to_vec()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(rows.into_iter().map(|(c, en, zh)| (c, (en, zh))));
    }
    Ok(out)
}

pub async fn standard(db: &impl ConnectionTrait, id: Uuid) -> Result<standards::Model, ApiError> {
    standards::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("standard"))
}

pub fn standard_code_taken(code: &str) -> ApiError {
    ApiError::conflict(
        "already_exists",
        format!("a standard with code {code:?} already exists"),
    )
    .with_detail("code", "already in use")
}

pub async fn insert_standard(
    db: &impl ConnectionTrait,
    m: standards::ActiveModel,
    code: &str,
) -> Result<standards::Model, ApiError> {
    m.insert(db)
        .await
        .map_err(|e| super::unique_or(e, || standard_code_taken(code)))
}

pub fn standard_to_wire(m: standards::Model) -> Result<Standard, ApiError> {
    Ok(Standard {
        factor: parse_factor(&m.factor)?,
        id: m.id,
        code: m.code,
        dimension_id: m.dimension_id,
        text_zh: m.text_zh,
        text_en: m.text_en,
        guidance_zh: m.guidance_zh,
        guidance_en: m.guidance_en,
        retired: m.retired,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn parse_factor(s: &str) -> Result<Factor, ApiError> {
    Factor::parse(s)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("stored factor {s:?} is unknown")))
}

// ---- checklists -------------------------------------------------------------

pub async fn checklist(db: &impl ConnectionTrait, id: Uuid) -> Result<checklists::Model, ApiError> {
    checklists::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("checklist"))
}

/// A page of checklists in id order, after the cursor: one more row than
/// `limit`, for [`paging::page`](super::paging::page).
pub async fn list_checklists(
    db: &impl ConnectionTrait,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<checklists::Model>, ApiError> {
    let mut q = checklists::Entity::find().order_by_asc(checklists::Column::Id);
    if let Some(a) = after {
        q = q.filter(checklists::Column::Id.gt(a));
    }
    Ok(q.limit(limit + 1).all(db).await?)
}

pub fn content_of(m: &checklists::Model) -> Result<ChecklistContent, ApiError> {
    serde_json::from_str(&m.content)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("checklist {} content: {e}", m.id)))
}

pub async fn create_checklist(
    db: &impl ConnectionTrait,
    name: String,
    content: &ChecklistContent,
) -> Result<checklists::Model, ApiError> {
    let now = Utc::now();
    Ok(checklists::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name),
        content: Set(serde_json::to_string(content).map_err(anyhow::Error::from)?),
        origin: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// The checklist made from a source such as the default catalog, made now
/// unless it exists: the unique origin decides between concurrent imports.
/// Whether it was made now, and its id.
pub async fn checklist_from_origin(
    db: &impl ConnectionTrait,
    origin: &str,
    name: String,
    content: &ChecklistContent,
) -> Result<(Uuid, bool), ApiError> {
    let now = Utc::now();
    let row = checklists::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name),
        content: Set(serde_json::to_string(content).map_err(anyhow::Error::from)?),
        origin: Set(Some(origin.to_owned())),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let r = checklists::Entity::insert(row)
        .on_conflict_do_nothing_on([checklists::Column::Origin])
        .exec_without_returning(db)
        .await?;
    let created = matches!(r, sea_orm::TryInsertResult::Inserted(n) if n > 0);
    let id: Uuid = checklists::Entity::find()
        .select_only()
        .column(checklists::Column::Id)
        .filter(checklists::Column::Origin.eq(origin))
        .into_tuple()
        .one(db)
        .await?
        .ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("checklist of origin {origin} vanished"))
        })?;
    Ok((id, created))
}

pub async fn replace_checklist(
    db: &impl ConnectionTrait,
    m: checklists::Model,
    name: Option<String>,
    content: &ChecklistContent,
) -> Result<checklists::Model, ApiError> {
    let mut a: checklists::ActiveModel = m.into();
    if let Some(n) = name {
        a.name = Set(n);
    }
    a.content = Set(serde_json::to_string(content).map_err(anyhow::Error::from)?);
    a.updated_at = Set(Utc::now());
    Ok(a.update(db).await?)
}

/// The published versions of some checklists, by checklist, oldest first:
/// one query for a whole page of checklists.
pub async fn versions_of(
    db: &impl ConnectionTrait,
    checklists: &[Uuid],
) -> Result<HashMap<Uuid, Vec<VersionSummary>>, ApiError> {
    let mut out: HashMap<Uuid, Vec<VersionSummary>> = HashMap::new();
    for chunk in checklists.chunks(super::IN_CHUNK) {
        let rows = checklist_versions::Entity::find()
            .select_only()
            .columns([
                checklist_versions::Column::ChecklistId,
                checklist_versions::Column::Id,
                checklist_versions::Column::Version,
                checklist_versions::Column::Quarter,
                checklist_versions::Column::PublishedAt,
            ])
            .filter(checklist_versions::Column::ChecklistId.is_in(chunk.to_vec()))
            .order_by_asc(checklist_versions::Column::Version)
            .into_tuple::<(Uuid, Uuid, i32, String, chrono::DateTime<Utc>)>()
            .all(db)
            .await?;
        for (checklist, id, version, quarter, published_at) in rows {
            out.entry(checklist).or_default().push(VersionSummary {
                id,
                version,
                quarter,
                published_at,
            });
        }
    }
    Ok(out)
}

/// Validate a draft and freeze it as the checklist's next version. The body
/// is serialised once and stored; it is served byte for byte from then on.
pub async fn publish(
    db: &impl ConnectionTrait,
    checklist: &checklists::Model,
    quarter: Quarter,
    by: Option<Uuid>,
) -> Result<checklist_versions::Model, ApiError> {
    let content = content_of(checklist)?;
    let dims: HashMap<Uuid, dimensions::Model> = dimensions(db)
        .await?
        .into_iter()
        .map(|d| (d.id, d))
        .collect();
    let ids: Vec<Uuid> = content
        .sections
        .iter()
        .flat_map(|s| s.items.iter().filter_map(|i| i.standard_id))
        .collect();
    let codes: Vec<String> = content
        .sections
        .iter()
        .flat_map(|s| s.items.iter().filter_map(|i| i.standard_code.clone()))
        .collect();
    let mut found = Vec::new();
    for chunk in ids.chunks(super::IN_CHUNK) {
        found.extend(
            standards::Entity::find()
                .filter(standards::Column::Id.is_in(chunk.to_vec()))
                .all(db)
                .await?,
        );
    }
    for chunk in codes.chunks(super::IN_CHUNK) {
        found.extend(
            standards::Entity::find()
                .filter(standards::Column::Code.is_in(chunk.to_vec()))
                .all(db)
                .await?,
        );
    }
    let mut infos = Vec::with_capacity(found.len());
    for s in found {
        let dim = dims.get(&s.dimension_id).ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("standard {} has no dimension", s.code))
        })?;
        infos.push(StandardInfo {
            id: s.id,
            code: s.code.clone(),
            dimension: dim.code.clone(),
            factor: parse_factor(&s.factor)?,
            text_zh: s.text_zh,
            text_en: s.text_en,
            guidance_zh: s.guidance_zh,
            guidance_en: s.guidance_en,
            retired: s.retired,
        });
    }
    let lookup = |id: Option<Uuid>, code: Option<&str>| {
        infos
            .iter()
            .find(|s| match (id, code) {
                (Some(id), _) => s.id == id,
                (None, Some(c)) => s.code == c.trim(),
                (None, None) => false,
            })
            .cloned()
    };
    let sections =
        resolve_for_publish(&content, &lookup, &mut Uuid::now_v7).map_err(|details| {
            ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "checklist_invalid",
                format!(
                    "the checklist cannot be published: {} problem(s)",
                    details.len()
                ),
            )
            .with_details(details)
        })?;
    let mut used: Vec<&dimensions::Model> = dims
        .values()
        .filter(|d| {
            sections
                .iter()
                .any(|s| s.items.iter().any(|i| i.dimension == d.code))
        })
        .collect();
    used.sort_by_key(|d| (d.position, d.code.clone()));
    let next = checklist_versions::Entity::find()
        .filter(checklist_versions::Column::ChecklistId.eq(checklist.id))
        .order_by_desc(checklist_versions::Column::Version)
        .one(db)
        .await?
        .map_or(1, |v| v.version + 1);
    let now = Utc::now();
    let version = ChecklistVersion {
        id: Uuid::now_v7(),
        checklist_id: checklist.id,
        name: checklist.name.clone(),
        version: next,
        quarter: quarter.to_string(),
        published_at: now,
        dimensions: used
            .into_iter()
            .map(|d| VersionDimension {
                code: d.code.clone(),
                name_zh: d.name_zh.clone(),
                name_en: d.name_en.clone(),
            })
            .collect(),
        sections,
    };
    let body = serde_json::to_string(&version).map_err(anyhow::Error::from)?;
    let digest = Sha256::digest(body.as_bytes());
    let etag: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    checklist_versions::ActiveModel {
        id: Set(version.id),
        checklist_id: Set(checklist.id),
        version: Set(next),
        quarter: Set(version.quarter.clone()),
        body: Set(body),
        etag: Set(etag),
        published_at: Set(now),
        published_by: Set(by),
    }
    .insert(db)
    .await
    .map_err(|e| {
        super::unique_or(e, || {
            ApiError::conflict(
                "publish_conflict",
                "another publish of this checklist happened at the same time; try again",
            )
        })
    })
}

pub async fn version(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<checklist_versions::Model>, ApiError> {
    Ok(checklist_versions::Entity::find_by_id(id).one(db).await?)
}

/// Whether the caller may read a published version: HQ always; a regional
/// manager when a store of their regions has an assignment on it; an auditor
/// when they have an assignment on it.
pub async fn version_visible(
    db: &impl ConnectionTrait,
    scope: &Scope,
    version: Uuid,
) -> Result<bool, ApiError> {
    if *scope == Scope::All {
        return Ok(true);
    }
    Ok(assignments::Entity::find()
        .filter(assignments::Column::ChecklistVersionId.eq(version))
        .filter(
            scope.by_store_or_auditor(assignments::Column::StoreId, assignments::Column::AuditorId),
        )
        .one(db)
        .await?
        .is_some())
}
