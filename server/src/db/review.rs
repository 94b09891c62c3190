//! Review of audits: overrides, re-scores, the audit log, the dimension
//! scores compliance counts, and the organisation's compliance settings.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use storecheck_shared::compliance::ComplianceSettings;
use uuid::Uuid;

use crate::entities::enums::AuditAction;
use crate::entities::{
    audit_answers, audit_dimension_scores, audit_events, audit_rescores, audit_revisions,
    org_settings, store_item_tallies, users,
};
use crate::error::ApiError;

/// One stored revision of an audit.
pub async fn revision(
    db: &impl ConnectionTrait,
    audit: Uuid,
    revision: i32,
) -> Result<audit_revisions::Model, ApiError> {
    audit_revisions::Entity::find()
        .filter(audit_revisions::Column::AuditId.eq(audit))
        .filter(audit_revisions::Column::Revision.eq(revision))
        .one(db)
        .await?
        .ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!(
                "audit {audit} lacks its revision {revision}"
            ))
        })
}

/// The score of a revision after overrides, if it has any.
pub async fn rescore(
    db: &impl ConnectionTrait,
    audit: Uuid,
    revision: i32,
) -> Result<Option<audit_rescores::Model>, ApiError> {
    Ok(audit_rescores::Entity::find_by_id((audit, revision))
        .one(db)
        .await?)
}

pub async fn save_rescore(
    db: &impl ConnectionTrait,
    row: audit_rescores::Model,
) -> Result<(), ApiError> {
    audit_rescores::Entity::insert(audit_rescores::ActiveModel::from(row).reset_all())
        .on_conflict(
            OnConflict::columns([
                audit_rescores::Column::AuditId,
                audit_rescores::Column::Revision,
            ])
            .update_columns([
                audit_rescores::Column::Total,
                audit_rescores::Column::Base,
                audit_rescores::Column::Bonus,
                audit_rescores::Column::Deductions,
                audit_rescores::Column::CriticalFailure,
                audit_rescores::Column::Breakdown,
            ])
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// A reviewer's correction of one answer, beside the phone's.
pub struct Override<'a> {
    pub audit: Uuid,
    pub revision: i32,
    pub item: Uuid,
    pub na: bool,
    pub number: Option<f64>,
    pub text: Option<String>,
    pub reason: &'a str,
    pub by: Uuid,
    pub at: DateTime<Utc>,
    /// Whether the item fails with the corrected answer.
    pub failed: bool,
}

pub async fn set_override(db: &impl ConnectionTrait, o: Override<'_>) -> Result<(), ApiError> {
    let row = audit_answers::ActiveModel {
        audit_id: Set(o.audit),
        revision: Set(o.revision),
        item_id: Set(o.item),
        override_na: Set(Some(o.na)),
        override_number: Set(o.number),
        override_text: Set(o.text),
        override_reason: Set(Some(o.reason.to_owned())),
        overridden_by: Set(Some(o.by)),
        overridden_at: Set(Some(o.at)),
        failed: Set(o.failed),
        ..Default::default()
    };
    row.update(db).await?;
    Ok(())
}

/// Append to an audit's log.
pub async fn record_event(
    db: &impl ConnectionTrait,
    audit: Uuid,
    actor: Option<Uuid>,
    action: AuditAction,
    revision: i32,
    comment: Option<&str>,
    detail: Option<serde_json::Value>,
) -> Result<(), ApiError> {
    audit_events::ActiveModel {
        id: Set(Uuid::now_v7()),
        audit_id: Set(audit),
        at: Set(Utc::now()),
        actor_id: Set(actor),
        action: Set(action),
        revision: Set(revision),
        comment: Set(comment.map(str::to_owned)),
        detail: Set(detail.map(|d| d.to_string())),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// An audit's log, oldest first, with each actor's email.
pub async fn events(
    db: &impl ConnectionTrait,
    audit: Uuid,
) -> Result<Vec<(audit_events::Model, Option<String>)>, ApiError> {
    let rows = audit_events::Entity::find()
        .filter(audit_events::Column::AuditId.eq(audit))
        .order_by_asc(audit_events::Column::At)
        .order_by_asc(audit_events::Column::Id)
        .all(db)
        .await?;
    let mut ids: Vec<Uuid> = rows.iter().filter_map(|r| r.actor_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let emails: std::collections::HashMap<Uuid, String> = if ids.is_empty() {
        Default::default()
    } else {
        users::Entity::find()
            .filter(users::Column::Id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .map(|u| (u.id, u.email))
            .collect()
    };
    Ok(rows
        .into_iter()
        .map(|r| {
            let email = r.actor_id.and_then(|a| emails.get(&a).cloned());
            (r, email)
        })
        .collect())
}

/// The dimension scores an approved audit counts with.
pub async fn save_dimension_scores(
    db: &impl ConnectionTrait,
    audit: Uuid,
    scores: &[(String, i32)],
) -> Result<(), ApiError> {
    audit_dimension_scores::Entity::delete_many()
        .filter(audit_dimension_scores::Column::AuditId.eq(audit))
        .exec(db)
        .await?;
    if scores.is_empty() {
        return Ok(());
    }
    audit_dimension_scores::Entity::insert_many(scores.iter().map(|(code, score)| {
        audit_dimension_scores::ActiveModel {
            audit_id: Set(audit),
            dimension_code: Set(code.clone()),
            score: Set(*score),
        }
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Add an approved audit's items to its store's tallies: per item code,
/// (assessed, failed), each 0 or 1.
pub async fn add_item_tallies(
    db: &impl ConnectionTrait,
    store: Uuid,
    version: Uuid,
    items: &[(String, i32, i32)],
) -> Result<(), ApiError> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait};
    use store_item_tallies::Column as C;
    if items.is_empty() {
        return Ok(());
    }
    let table = store_item_tallies::Entity;
    let rows = items
        .iter()
        .map(|(code, assessed, failed)| store_item_tallies::ActiveModel {
            store_id: Set(store),
            checklist_version_id: Set(version),
            item_code: Set(code.clone()),
            assessed: Set(*assessed),
            failed: Set(*failed),
        });
    store_item_tallies::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([C::StoreId, C::ChecklistVersionId, C::ItemCode])
                .value(
                    C::Assessed,
                    Expr::col((table, C::Assessed))
                        .add(Expr::col((Alias::new("excluded"), C::Assessed))),
                )
                .value(
                    C::Failed,
                    Expr::col((table, C::Failed))
                        .add(Expr::col((Alias::new("excluded"), C::Failed))),
                )
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

fn settings_of(row: &org_settings::Model) -> ComplianceSettings {
    ComplianceSettings {
        target: i64::from(row.target),
        below_from: i64::from(row.below_from),
        meets_from: i64::from(row.meets_from),
        exceeds_from: i64::from(row.exceeds_from),
        action_due_days: i64::from(row.action_due_days),
    }
}

/// The organisation's compliance settings.
pub async fn settings(db: &impl ConnectionTrait) -> Result<ComplianceSettings, ApiError> {
    let row = org_settings::Entity::find_by_id(1)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("org_settings has no row")))?;
    Ok(settings_of(&row))
}

/// Store checked settings.
pub async fn save_settings(
    db: &impl ConnectionTrait,
    s: &ComplianceSettings,
    by: Uuid,
) -> Result<(), ApiError> {
    let int = |v: i64| {
        i32::try_from(v).map_err(|_| ApiError::internal(anyhow::anyhow!("{v} out of range")))
    };
    org_settings::ActiveModel {
        id: Set(1),
        target: Set(int(s.target)?),
        below_from: Set(int(s.below_from)?),
        meets_from: Set(int(s.meets_from)?),
        exceeds_from: Set(int(s.exceeds_from)?),
        action_due_days: Set(int(s.action_due_days)?),
        updated_at: Set(Some(Utc::now())),
        updated_by: Set(Some(by)),
    }
    .update(db)
    .await?;
    Ok(())
}
