use sea_orm::entity::prelude::*;

/// Per store, checklist version and item: approved audits that assessed
/// it (not N/A) and that failed it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "store_item_tallies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub store_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub checklist_version_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub item_code: String,
    pub assessed: i32,
    pub failed: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
