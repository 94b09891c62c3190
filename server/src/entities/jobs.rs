use sea_orm::entity::prelude::*;

use super::enums::JobState;

/// One piece of background work. Times are Unix milliseconds, so both
/// backends compare them in SQL.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: String,
    /// Unique with `kind`: the same work is queued once.
    pub key: String,
    pub payload: String,
    pub state: JobState,
    /// Times the job was taken, this one included; also the fencing token
    /// a worker must still hold to finish it.
    pub attempts: i32,
    /// Failures counted against the retry limit (an unreachable store is
    /// not one).
    pub failures: i32,
    /// The same work was queued again while this ran: run it once more.
    pub rerun: bool,
    pub run_at: i64,
    pub lease_until: Option<i64>,
    pub worker: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
