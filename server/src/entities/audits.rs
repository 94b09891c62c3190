use sea_orm::entity::prelude::*;

use super::enums::AuditStatus;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audits")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub assignment_id: Uuid,
    pub auditor_id: Uuid,
    pub store_id: Uuid,
    pub checklist_version_id: Uuid,
    pub status: AuditStatus,
    pub revision: i32,
    pub total: i32,
    pub critical_failure: bool,
    #[sea_orm(column_type = "Text")]
    pub flags: String,
    pub started_at: DateTimeUtc,
    pub finished_at: DateTimeUtc,
    pub started_at_server: DateTimeUtc,
    pub finished_at_server: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    #[sea_orm(column_type = "Text", nullable)]
    pub review_comment: Option<String>,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
