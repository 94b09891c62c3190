//! What compliance reads: approved audits summed per store, their dimension
//! scores, and how often each item failed. Only `approved` audits count
//! (SPEC §5), and an audit belongs to the quarter of its checklist version.

use std::collections::HashMap;

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query, SelectStatement};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use storecheck_shared::compliance::Counted;
use uuid::Uuid;

use super::scope::Scope;
use crate::entities::enums::AuditStatus;
use crate::entities::{
    audit_dimension_scores as ads, audits, checklist_versions, dimensions, regions,
    store_item_tallies, stores,
};
use crate::error::ApiError;

/// The checklist versions published for a quarter.
pub async fn versions_of(db: &impl ConnectionTrait, quarter: &str) -> Result<Vec<Uuid>, ApiError> {
    Ok(checklist_versions::Entity::find()
        .select_only()
        .column(checklist_versions::Column::Id)
        .filter(checklist_versions::Column::Quarter.eq(quarter))
        .into_tuple()
        .all(db)
        .await?)
}

/// The quarters that have published checklist versions, latest first.
pub async fn quarters(db: &impl ConnectionTrait) -> Result<Vec<String>, ApiError> {
    Ok(checklist_versions::Entity::find()
        .select_only()
        .column(checklist_versions::Column::Quarter)
        .distinct()
        .order_by_desc(checklist_versions::Column::Quarter)
        .into_tuple()
        .all(db)
        .await?)
}

/// Dimension codes in their order.
pub async fn dimension_codes(db: &impl ConnectionTrait) -> Result<Vec<String>, ApiError> {
    Ok(dimensions::Entity::find()
        .select_only()
        .column(dimensions::Column::Code)
        .order_by_asc(dimensions::Column::Position)
        .order_by_asc(dimensions::Column::Code)
        .into_tuple()
        .all(db)
        .await?)
}

/// The regions the caller may see (one, when `only` is given), by code.
pub async fn regions(
    db: &impl ConnectionTrait,
    scope: &Scope,
    only: Option<Uuid>,
) -> Result<Vec<regions::Model>, ApiError> {
    let mut q = regions::Entity::find()
        .filter(scope.by_region(regions::Column::Id))
        .order_by_asc(regions::Column::Code)
        .order_by_asc(regions::Column::Id);
    if let Some(r) = only {
        q = q.filter(regions::Column::Id.eq(r));
    }
    Ok(q.all(db).await?)
}

/// A region's stores, by code.
pub async fn stores_of(
    db: &impl ConnectionTrait,
    region: Uuid,
) -> Result<Vec<stores::Model>, ApiError> {
    Ok(stores::Entity::find()
        .filter(stores::Column::RegionId.eq(region))
        .order_by_asc(stores::Column::Code)
        .order_by_asc(stores::Column::Id)
        .all(db)
        .await?)
}

/// `store_id IN (SELECT id FROM stores WHERE region_id = …)`, approved,
/// made with one of `versions`.
fn counted(region: Uuid, versions: &[Uuid]) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(audits::Column::Status.eq(AuditStatus::Approved))
        .add(audits::Column::ChecklistVersionId.is_in(versions.to_vec()))
        .add(audits::Column::StoreId.in_subquery(super::scope::stores_in_regions(vec![region])))
}

/// The approved audits of a region's stores made with `versions`, summed
/// per store, with their dimension scores.
pub async fn counted_in_region(
    db: &impl ConnectionTrait,
    region: Uuid,
    versions: &[Uuid],
    with_dimensions: bool,
) -> Result<HashMap<Uuid, Counted>, ApiError> {
    let mut out: HashMap<Uuid, Counted> = HashMap::new();
    if versions.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(Uuid, i64, i64, i64)> = audits::Entity::find()
        .select_only()
        .column(audits::Column::StoreId)
        .column_as(audits::Column::Id.count(), "n")
        .column_as(
            Expr::expr(Func::cast_as(
                audits::Column::Total.sum(),
                Alias::new("bigint"),
            )),
            "s",
        )
        .column_as(
            Expr::cust("SUM(CASE WHEN critical_failure THEN 1 ELSE 0 END)"),
            "c",
        )
        .filter(counted(region, versions))
        .group_by(audits::Column::StoreId)
        .into_tuple()
        .all(db)
        .await?;
    for (store, n, sum, critical) in rows {
        out.insert(
            store,
            Counted {
                audits: n,
                total_sum: sum,
                critical: critical > 0,
                dimensions: Vec::new(),
            },
        );
    }
    if !with_dimensions || out.is_empty() {
        return Ok(out);
    }
    let q: SelectStatement = Query::select()
        .column((audits::Entity, audits::Column::StoreId))
        .column((ads::Entity, ads::Column::DimensionCode))
        .expr_as(
            Expr::col((ads::Entity, ads::Column::Score)).count(),
            Alias::new("n"),
        )
        .expr_as(
            Func::cast_as(
                Expr::col((ads::Entity, ads::Column::Score)).sum(),
                Alias::new("bigint"),
            ),
            Alias::new("s"),
        )
        .from(ads::Entity)
        .inner_join(
            audits::Entity,
            Expr::col((ads::Entity, ads::Column::AuditId))
                .equals((audits::Entity, audits::Column::Id)),
        )
        .cond_where(counted(region, versions))
        .group_by_col((audits::Entity, audits::Column::StoreId))
        .group_by_col((ads::Entity, ads::Column::DimensionCode))
        .to_owned();
    for row in db.query_all(&q).await? {
        let store: Uuid = row.try_get("", "store_id")?;
        let code: String = row.try_get("", "dimension_code")?;
        let n: i64 = row.try_get("", "n")?;
        let s: i64 = row.try_get("", "s")?;
        if let Some(c) = out.get_mut(&store) {
            c.dimensions.push((code, s, n));
        }
    }
    Ok(out)
}

/// Per checklist version and item code: answered (not N/A) and failed,
/// over the approved audits of these regions (all when `None`), from the
/// stores' tallies.
pub async fn item_failures(
    db: &impl ConnectionTrait,
    regions: Option<Vec<Uuid>>,
    versions: &[Uuid],
) -> Result<Vec<(Uuid, String, i64, i64)>, ApiError> {
    use store_item_tallies::Column as C;
    if versions.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = store_item_tallies::Entity::find()
        .select_only()
        .column(C::ChecklistVersionId)
        .column(C::ItemCode)
        .column_as(
            Expr::expr(Func::cast_as(C::Assessed.sum(), Alias::new("bigint"))),
            "assessed",
        )
        .column_as(
            Expr::expr(Func::cast_as(C::Failed.sum(), Alias::new("bigint"))),
            "failed",
        )
        .filter(C::ChecklistVersionId.is_in(versions.to_vec()))
        .group_by(C::ChecklistVersionId)
        .group_by(C::ItemCode);
    if let Some(r) = regions {
        q = q.filter(C::StoreId.in_subquery(super::scope::stores_in_regions(r)));
    }
    Ok(q.into_tuple().all(db).await?)
}
