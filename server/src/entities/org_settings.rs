use sea_orm::entity::prelude::*;

/// The organisation's compliance settings: one row, id 1. Scores in
/// hundredths.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "org_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub target: i32,
    pub below_from: i32,
    pub meets_from: i32,
    pub exceeds_from: i32,
    pub action_due_days: i32,
    pub updated_at: Option<DateTimeUtc>,
    pub updated_by: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
