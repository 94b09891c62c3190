use sea_orm::entity::prelude::*;

/// A revision's score after a reviewer's overrides.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_rescores")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub audit_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub revision: i32,
    pub total: i32,
    pub base: i32,
    pub bonus: i32,
    pub deductions: i32,
    pub critical_failure: bool,
    #[sea_orm(column_type = "Text")]
    pub breakdown: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
