//! Checklist drafts: starting, listing and replacing them, showing them with
//! their published versions, and publishing one as an immutable version.

use sea_orm::{ConnectionTrait, DatabaseConnection};
use storecheck_shared::catalog::{Checklist, ChecklistContent, ChecklistUpdate, NewChecklist};
use storecheck_shared::org::Page;
use storecheck_shared::quarter::Quarter;
use storecheck_shared::validate;
use uuid::Uuid;

use crate::check::{Check, checked};
use crate::db::{catalog as queries, paging};
use crate::entities::{checklist_versions, checklists};
use crate::error::ApiError;

/// Checklists as the API shows them, with their versions (one query for all).
pub async fn to_wire(
    db: &impl ConnectionTrait,
    rows: Vec<checklists::Model>,
) -> Result<Vec<Checklist>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|c| c.id).collect();
    let mut versions = queries::versions_of(db, &ids).await?;
    rows.into_iter()
        .map(|m| {
            let content = queries::content_of(&m)?;
            Ok(Checklist {
                versions: versions.remove(&m.id).unwrap_or_default(),
                id: m.id,
                name: m.name,
                sections: content.sections,
                created_at: m.created_at,
                updated_at: m.updated_at,
            })
        })
        .collect()
}

/// One checklist as the API shows it.
pub async fn one_to_wire(
    db: &impl ConnectionTrait,
    m: checklists::Model,
) -> Result<Checklist, ApiError> {
    to_wire(db, vec![m])
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("checklist vanished")))
}

/// A page of checklists in id order, after the cursor's id.
pub async fn list(
    db: &impl ConnectionTrait,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Page<Checklist>, ApiError> {
    let rows = queries::list_checklists(db, after, limit).await?;
    let (rows, next_cursor) = paging::page(rows, limit, |c| c.id);
    let items = to_wire(db, rows).await?;
    Ok(Page { items, next_cursor })
}

/// One checklist draft with its published versions (404 if none).
pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> Result<Checklist, ApiError> {
    let m = queries::checklist(db, id).await?;
    one_to_wire(db, m).await
}

/// Start a draft. Drafts may be incomplete; only the name is checked here,
/// the rest when it is published.
pub async fn create(db: &impl ConnectionTrait, req: NewChecklist) -> Result<Checklist, ApiError> {
    let mut check = Check::new();
    let name = check.field("name", validate::text(&req.name, 200));
    check.finish()?;
    let m = queries::create_checklist(
        db,
        checked(name)?,
        &ChecklistContent {
            sections: req.sections,
        },
    )
    .await?;
    one_to_wire(db, m).await
}

/// Replace a draft's sections and items (and its name, if given). Published
/// versions are not touched.
pub async fn replace(
    db: &impl ConnectionTrait,
    id: Uuid,
    req: ChecklistUpdate,
) -> Result<Checklist, ApiError> {
    let m = queries::checklist(db, id).await?;
    let mut check = Check::new();
    let name = check.optional("name", req.name, |n| validate::text(&n, 200));
    check.finish()?;
    let m = queries::replace_checklist(
        db,
        m,
        name,
        &ChecklistContent {
            sections: req.sections,
        },
    )
    .await?;
    one_to_wire(db, m).await
}

/// Publish the draft `id` as its next version for `quarter` (`YYYY-Qn`), by
/// the user `by`. Every publish rule is checked and every problem reported
/// with its path; nothing is stored unless all pass.
pub async fn publish(
    db: &DatabaseConnection,
    id: Uuid,
    quarter: &str,
    by: Uuid,
) -> Result<checklist_versions::Model, ApiError> {
    let m = queries::checklist(db, id).await?;
    let quarter = Quarter::parse(quarter).map_err(|e| ApiError::invalid_field("quarter", e))?;
    let txn = crate::db::begin_write(db).await?;
    let v = queries::publish(&txn, &m, quarter, Some(by)).await?;
    txn.commit().await?;
    tracing::info!(checklist = %m.id, version = v.version, quarter = %v.quarter, "checklist published");
    Ok(v)
}
