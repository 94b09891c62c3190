use sea_orm::entity::prelude::*;

use super::enums::ItemKind;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_answers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub audit_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub revision: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub item_id: Uuid,
    pub item_code: String,
    pub kind: ItemKind,
    pub na: bool,
    #[sea_orm(column_type = "Double", nullable)]
    pub value_number: Option<f64>,
    pub value_text: Option<String>,
    pub failed: bool,
    #[sea_orm(column_type = "Text")]
    pub note: Option<String>,
    pub answered_at: Option<DateTimeUtc>,
    pub override_na: Option<bool>,
    #[sea_orm(column_type = "Double", nullable)]
    pub override_number: Option<f64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub override_text: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub override_reason: Option<String>,
    pub overridden_by: Option<Uuid>,
    pub overridden_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
