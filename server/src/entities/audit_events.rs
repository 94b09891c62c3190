use sea_orm::entity::prelude::*;

use super::enums::AuditAction;

/// One entry of an audit's log: who did what, when and why.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub audit_id: Uuid,
    pub at: DateTimeUtc,
    /// None for the auditor's phone pushing a revision.
    pub actor_id: Option<Uuid>,
    pub action: AuditAction,
    pub revision: i32,
    #[sea_orm(column_type = "Text", nullable)]
    pub comment: Option<String>,
    /// JSON: what an override changed.
    #[sea_orm(column_type = "Text", nullable)]
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
