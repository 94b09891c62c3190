//! Corrective actions: the queries.

use chrono::NaiveDate;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::scope::{Scope, stores_in_regions};
use crate::entities::corrective_actions as ca;
use crate::entities::enums::ActionStatus;
use crate::error::ApiError;

/// Managers see their regions' stores' actions, HQ all, auditors none.
fn in_scope(scope: &Scope) -> Condition {
    match scope {
        Scope::All => Condition::all(),
        Scope::Regions { regions, .. } => Condition::all()
            .add(ca::Column::StoreId.in_subquery(stores_in_regions(regions.clone()))),
        Scope::Auditor { .. } => Condition::all().add(Expr::val(false)),
    }
}

/// A store's actions not yet verified, locked until the transaction ends.
pub async fn active_at_store(
    db: &impl ConnectionTrait,
    store: Uuid,
) -> Result<Vec<ca::Model>, ApiError> {
    Ok(ca::Entity::find()
        .filter(ca::Column::StoreId.eq(store))
        .filter(ca::Column::Status.ne(ActionStatus::Verified))
        .order_by_asc(ca::Column::Id)
        .lock_exclusive()
        .all(db)
        .await?)
}

pub async fn insert(db: &impl ConnectionTrait, row: ca::Model) -> Result<(), ApiError> {
    ca::ActiveModel::from(row).reset_all().insert(db).await?;
    Ok(())
}

pub async fn update(
    db: &impl ConnectionTrait,
    row: ca::ActiveModel,
) -> Result<ca::Model, ApiError> {
    Ok(row.update(db).await?)
}

#[derive(Default)]
pub struct Filter {
    pub store_id: Option<Uuid>,
    pub region_id: Option<Uuid>,
    pub status: Option<ActionStatus>,
    /// Only those (not) past their due date and not verified, as of `today`.
    pub overdue: Option<bool>,
    pub today: Option<NaiveDate>,
}

pub async fn list(
    db: &impl ConnectionTrait,
    scope: &Scope,
    f: Filter,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<ca::Model>, ApiError> {
    let mut q = ca::Entity::find()
        .filter(in_scope(scope))
        .order_by_asc(ca::Column::Id);
    if let Some(s) = f.store_id {
        q = q.filter(ca::Column::StoreId.eq(s));
    }
    if let Some(r) = f.region_id {
        q = q.filter(ca::Column::StoreId.in_subquery(stores_in_regions(vec![r])));
    }
    if let Some(s) = f.status {
        q = q.filter(ca::Column::Status.eq(s));
    }
    if let (Some(overdue), Some(today)) = (f.overdue, f.today) {
        let late = Condition::all()
            .add(ca::Column::Status.ne(ActionStatus::Verified))
            .add(ca::Column::DueOn.lt(today));
        q = q.filter(if overdue { late } else { late.not() });
    }
    if let Some(after) = after {
        q = q.filter(ca::Column::Id.gt(after));
    }
    Ok(q.limit(limit + 1).all(db).await?)
}

/// An action the caller may see (404 otherwise), locked when `lock`.
pub async fn visible(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
    lock: bool,
) -> Result<ca::Model, ApiError> {
    let mut q = ca::Entity::find_by_id(id).filter(in_scope(scope));
    if lock {
        q = q.lock_exclusive();
    }
    q.one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("corrective action"))
}
