//! One index probe for "has this auditor an assignment on this version",
//! asked on every checklist-version read and revalidation: the single-column
//! indexes made the database walk every assignment on a widely used version.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Assignments {
    Table,
    AuditorId,
    ChecklistVersionId,
}

const NAME: &str = "ix_assignments_auditor_version";

// The trait's own signature elides the manager's lifetime.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(Assignments::Table)
                    .col(Assignments::AuditorId)
                    .col(Assignments::ChecklistVersionId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(NAME)
                    .table(Assignments::Table)
                    .to_owned(),
            )
            .await
    }
}
