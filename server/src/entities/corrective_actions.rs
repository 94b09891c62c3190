use sea_orm::entity::prelude::*;

use super::enums::ActionStatus;

/// What a store must fix: one failed standard, from open to verified.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "corrective_actions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub store_id: Uuid,
    pub standard_code: String,
    pub item_code: String,
    pub item_id: Uuid,
    /// The audit whose approval opened it.
    pub audit_id: Uuid,
    /// JSON: the failed answer.
    #[sea_orm(column_type = "Text")]
    pub answer: String,
    pub status: ActionStatus,
    pub due_on: Date,
    pub opened_at: DateTimeUtc,
    /// Times a later audit failed the standard again.
    pub reopened: i32,
    /// The last approved audit that assessed the standard.
    pub last_audit_id: Uuid,
    pub resolved_at: Option<DateTimeUtc>,
    pub resolved_by: Option<Uuid>,
    #[sea_orm(column_type = "Text", nullable)]
    pub resolution_note: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub photo_key: Option<String>,
    pub photo_content_type: Option<String>,
    pub verified_at: Option<DateTimeUtc>,
    pub verified_audit_id: Option<Uuid>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
