//! Database migrations for storecheck. `storecheck migrate` and `storecheck
//! serve` apply them; each capability adds its tables in a migration of its own.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_organisation;
mod m20261123_000002_catalog;
mod m20261123_000003_sync;
mod m20261202_000004_lifecycle;
mod m20261202_000005_assignment_lookup;
mod m20261203_000006_photo_jobs;
mod m20261203_000007_review;

pub struct Migrator;

/// Drop tables in the order given (dependents first), for `down` migrations.
pub(crate) async fn drop_tables(
    manager: &SchemaManager<'_>,
    tables: Vec<DynIden>,
) -> Result<(), DbErr> {
    for table in tables {
        manager
            .drop_table(Table::drop().table(table).to_owned())
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_organisation::Migration),
            Box::new(m20261123_000002_catalog::Migration),
            Box::new(m20261123_000003_sync::Migration),
            Box::new(m20261202_000004_lifecycle::Migration),
            Box::new(m20261202_000005_assignment_lookup::Migration),
            Box::new(m20261203_000006_photo_jobs::Migration),
            Box::new(m20261203_000007_review::Migration),
        ]
    }
}
