use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_revisions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub audit_id: Uuid,
    pub revision: i32,
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub payload_hash: String,
    pub device_clock: DateTimeUtc,
    pub received_at: DateTimeUtc,
    pub skew_ms: i64,
    pub total: i32,
    pub base: i32,
    pub bonus: i32,
    pub deductions: i32,
    pub critical_failure: bool,
    #[sea_orm(column_type = "Text")]
    pub breakdown: String,
    #[sea_orm(column_type = "Text")]
    pub flags: String,
    #[sea_orm(column_type = "Double", nullable)]
    pub checkin_latitude: Option<f64>,
    #[sea_orm(column_type = "Double", nullable)]
    pub checkin_longitude: Option<f64>,
    #[sea_orm(column_type = "Double", nullable)]
    pub checkin_accuracy: Option<f64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
