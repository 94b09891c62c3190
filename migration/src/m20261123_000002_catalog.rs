//! Dimensions (seeded with the SERVQUAL five), the standards library,
//! checklist drafts, their immutable published versions, and assignments.

use sea_orm_migration::{prelude::*, schema::*};
use uuid::Uuid;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Dimensions {
    Table,
    Id,
    Code,
    NameZh,
    NameEn,
    Position,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Standards {
    Table,
    Id,
    Code,
    DimensionId,
    Factor,
    TextZh,
    TextEn,
    GuidanceZh,
    GuidanceEn,
    Retired,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Checklists {
    Table,
    Id,
    Name,
    Content,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ChecklistVersions {
    Table,
    Id,
    ChecklistId,
    Version,
    Quarter,
    Body,
    Etag,
    PublishedAt,
    PublishedBy,
}

#[derive(DeriveIden)]
enum Assignments {
    Table,
    Id,
    StoreId,
    AuditorId,
    ChecklistVersionId,
    WindowStart,
    WindowEnd,
    Status,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Stores {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

/// SERVQUAL (seed 001): the default dimension set.
const SERVQUAL: [(&str, &str, &str); 5] = [
    ("reliability", "可靠性", "Reliability"),
    ("responsiveness", "响应性", "Responsiveness"),
    ("assurance", "保证性", "Assurance"),
    ("empathy", "移情性", "Empathy"),
    ("tangibles", "有形性", "Tangibles"),
];

fn index(name: &str, table: impl IntoIden, cols: &[&'static str]) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table);
    for c in cols {
        i.col(Alias::new(*c));
    }
    i.to_owned()
}

// The trait's signature elides the manager's lifetime.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Dimensions::Table)
                    .col(pk_uuid(Dimensions::Id))
                    .col(string_len(Dimensions::Code, 32))
                    .col(string_len(Dimensions::NameZh, 200))
                    .col(string_len(Dimensions::NameEn, 200))
                    .col(integer(Dimensions::Position))
                    .col(timestamp_with_time_zone(Dimensions::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("ux_dimensions_code", Dimensions::Table, &["code"])
                    .unique()
                    .to_owned(),
            )
            .await?;
        let now = chrono_now();
        let mut insert = Query::insert();
        insert.into_table(Dimensions::Table).columns([
            Dimensions::Id,
            Dimensions::Code,
            Dimensions::NameZh,
            Dimensions::NameEn,
            Dimensions::Position,
            Dimensions::CreatedAt,
        ]);
        for (i, (code, zh, en)) in SERVQUAL.iter().enumerate() {
            insert.values_panic([
                Uuid::now_v7().into(),
                (*code).into(),
                (*zh).into(),
                (*en).into(),
                <i32 as std::convert::TryFrom<usize>>::try_from(i + 1)
                    .unwrap_or(0)
                    .into(),
                now.into(),
            ]);
        }
        manager.exec_stmt(insert).await?;

        manager
            .create_table(
                Table::create()
                    .table(Standards::Table)
                    .col(pk_uuid(Standards::Id))
                    .col(string_len(Standards::Code, 64))
                    .col(uuid(Standards::DimensionId))
                    .col(string_len(Standards::Factor, 16))
                    .col(text(Standards::TextZh))
                    .col(text(Standards::TextEn))
                    .col(text(Standards::GuidanceZh))
                    .col(text(Standards::GuidanceEn))
                    .col(boolean(Standards::Retired).default(false))
                    .col(timestamp_with_time_zone(Standards::CreatedAt))
                    .col(timestamp_with_time_zone(Standards::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_standards_dimension")
                            .from(Standards::Table, Standards::DimensionId)
                            .to(Dimensions::Table, Dimensions::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("ux_standards_code", Standards::Table, &["code"])
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Checklists::Table)
                    .col(pk_uuid(Checklists::Id))
                    .col(string_len(Checklists::Name, 200))
                    .col(text(Checklists::Content))
                    .col(timestamp_with_time_zone(Checklists::CreatedAt))
                    .col(timestamp_with_time_zone(Checklists::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ChecklistVersions::Table)
                    .col(pk_uuid(ChecklistVersions::Id))
                    .col(uuid(ChecklistVersions::ChecklistId))
                    .col(integer(ChecklistVersions::Version))
                    .col(string_len(ChecklistVersions::Quarter, 7))
                    .col(text(ChecklistVersions::Body))
                    .col(string_len(ChecklistVersions::Etag, 80))
                    .col(timestamp_with_time_zone(ChecklistVersions::PublishedAt))
                    .col(uuid_null(ChecklistVersions::PublishedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_versions_checklist")
                            .from(ChecklistVersions::Table, ChecklistVersions::ChecklistId)
                            .to(Checklists::Table, Checklists::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "ux_versions_checklist_version",
                    ChecklistVersions::Table,
                    &["checklist_id", "version"],
                )
                .unique()
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Assignments::Table)
                    .col(pk_uuid(Assignments::Id))
                    .col(uuid(Assignments::StoreId))
                    .col(uuid(Assignments::AuditorId))
                    .col(uuid(Assignments::ChecklistVersionId))
                    .col(date(Assignments::WindowStart))
                    .col(date(Assignments::WindowEnd))
                    .col(string_len(Assignments::Status, 16))
                    .col(uuid_null(Assignments::CreatedBy))
                    .col(timestamp_with_time_zone(Assignments::CreatedAt))
                    .col(timestamp_with_time_zone(Assignments::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_assignments_store")
                            .from(Assignments::Table, Assignments::StoreId)
                            .to(Stores::Table, Stores::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_assignments_auditor")
                            .from(Assignments::Table, Assignments::AuditorId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_assignments_version")
                            .from(Assignments::Table, Assignments::ChecklistVersionId)
                            .to(ChecklistVersions::Table, ChecklistVersions::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("ix_assignments_store", "store_id"),
            ("ix_assignments_auditor", "auditor_id"),
            ("ix_assignments_version", "checklist_version_id"),
        ] {
            manager
                .create_index(index(name, Assignments::Table, &[col]))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::drop_tables(
            manager,
            vec![
                Assignments::Table.into_iden(),
                ChecklistVersions::Table.into_iden(),
                Checklists::Table.into_iden(),
                Standards::Table.into_iden(),
                Dimensions::Table.into_iden(),
            ],
        )
        .await
    }
}

fn chrono_now() -> sea_orm_migration::sea_orm::prelude::DateTimeUtc {
    sea_orm_migration::sea_orm::prelude::DateTimeUtc::from(std::time::SystemTime::now())
}
