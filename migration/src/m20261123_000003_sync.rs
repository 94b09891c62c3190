//! Offline sync: the change log phones pull from (with a counter that hands
//! out sequence numbers in commit order), and audits with their revisions,
//! answers, photo manifests and quarantined conflicting payloads.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SyncCounter {
    Table,
    Id,
    Value,
}

#[derive(DeriveIden)]
enum SyncChanges {
    Table,
    Seq,
    AuditorId,
    Entity,
    EntityId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Audits {
    Table,
    Id,
    AssignmentId,
    AuditorId,
    StoreId,
    ChecklistVersionId,
    Status,
    Revision,
    Total,
    CriticalFailure,
    Flags,
    StartedAt,
    FinishedAt,
    StartedAtServer,
    FinishedAtServer,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AuditRevisions {
    Table,
    Id,
    AuditId,
    Revision,
    Payload,
    PayloadHash,
    DeviceClock,
    ReceivedAt,
    SkewMs,
    Total,
    Base,
    Bonus,
    Deductions,
    CriticalFailure,
    Breakdown,
    Flags,
    CheckinLatitude,
    CheckinLongitude,
    CheckinAccuracy,
}

#[derive(DeriveIden)]
enum AuditAnswers {
    Table,
    AuditId,
    Revision,
    ItemId,
    ItemCode,
    Kind,
    Na,
    ValueNumber,
    ValueText,
    Failed,
    Note,
    AnsweredAt,
}

#[derive(DeriveIden)]
enum AuditPhotos {
    Table,
    Id,
    AuditId,
    ItemId,
    Sha256,
    Bytes,
    ContentType,
    TakenAt,
    State,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditConflicts {
    Table,
    Id,
    AuditId,
    Revision,
    AuditorId,
    Reason,
    Payload,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum Assignments {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Stores {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ChecklistVersions {
    Table,
    Id,
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

// The trait's signature elides the manager's lifetime.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SyncCounter::Table)
                    .col(integer(SyncCounter::Id).primary_key())
                    .col(big_integer(SyncCounter::Value))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(SyncCounter::Table)
                    .columns([SyncCounter::Id, SyncCounter::Value])
                    .values_panic([1.into(), 0i64.into()])
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SyncChanges::Table)
                    .col(big_integer(SyncChanges::Seq).primary_key())
                    .col(uuid(SyncChanges::AuditorId))
                    .col(string_len(SyncChanges::Entity, 16))
                    .col(uuid(SyncChanges::EntityId))
                    .col(timestamp_with_time_zone(SyncChanges::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sync_changes_auditor_seq")
                    .table(SyncChanges::Table)
                    .col(SyncChanges::AuditorId)
                    .col(SyncChanges::Seq)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Audits::Table)
                    .col(pk_uuid(Audits::Id))
                    .col(uuid(Audits::AssignmentId))
                    .col(uuid(Audits::AuditorId))
                    .col(uuid(Audits::StoreId))
                    .col(uuid(Audits::ChecklistVersionId))
                    .col(string_len(Audits::Status, 16))
                    .col(integer(Audits::Revision))
                    .col(integer(Audits::Total))
                    .col(boolean(Audits::CriticalFailure))
                    .col(text(Audits::Flags))
                    .col(timestamp_with_time_zone(Audits::StartedAt))
                    .col(timestamp_with_time_zone(Audits::FinishedAt))
                    .col(timestamp_with_time_zone(Audits::StartedAtServer))
                    .col(timestamp_with_time_zone(Audits::FinishedAtServer))
                    .col(timestamp_with_time_zone(Audits::CreatedAt))
                    .col(timestamp_with_time_zone(Audits::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_audits_assignment",
                        (Audits::Table, Audits::AssignmentId),
                        (Assignments::Table, Assignments::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_audits_auditor",
                        (Audits::Table, Audits::AuditorId),
                        (Users::Table, Users::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_audits_store",
                        (Audits::Table, Audits::StoreId),
                        (Stores::Table, Stores::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_audits_version",
                        (Audits::Table, Audits::ChecklistVersionId),
                        (ChecklistVersions::Table, ChecklistVersions::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("ix_audits_auditor", Audits::AuditorId),
            ("ix_audits_store", Audits::StoreId),
            ("ix_audits_assignment", Audits::AssignmentId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Audits::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(AuditRevisions::Table)
                    .col(pk_uuid(AuditRevisions::Id))
                    .col(uuid(AuditRevisions::AuditId))
                    .col(integer(AuditRevisions::Revision))
                    .col(text(AuditRevisions::Payload))
                    .col(string_len(AuditRevisions::PayloadHash, 64))
                    .col(timestamp_with_time_zone(AuditRevisions::DeviceClock))
                    .col(timestamp_with_time_zone(AuditRevisions::ReceivedAt))
                    .col(big_integer(AuditRevisions::SkewMs))
                    .col(integer(AuditRevisions::Total))
                    .col(integer(AuditRevisions::Base))
                    .col(integer(AuditRevisions::Bonus))
                    .col(integer(AuditRevisions::Deductions))
                    .col(boolean(AuditRevisions::CriticalFailure))
                    .col(text(AuditRevisions::Breakdown))
                    .col(text(AuditRevisions::Flags))
                    .col(double_null(AuditRevisions::CheckinLatitude))
                    .col(double_null(AuditRevisions::CheckinLongitude))
                    .col(double_null(AuditRevisions::CheckinAccuracy))
                    .foreign_key(&mut fk(
                        "fk_revisions_audit",
                        (AuditRevisions::Table, AuditRevisions::AuditId),
                        (Audits::Table, Audits::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_audit_revisions")
                    .table(AuditRevisions::Table)
                    .col(AuditRevisions::AuditId)
                    .col(AuditRevisions::Revision)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditAnswers::Table)
                    .col(uuid(AuditAnswers::AuditId))
                    .col(integer(AuditAnswers::Revision))
                    .col(uuid(AuditAnswers::ItemId))
                    .col(string_len(AuditAnswers::ItemCode, 64))
                    .col(string_len(AuditAnswers::Kind, 16))
                    .col(boolean(AuditAnswers::Na))
                    .col(double_null(AuditAnswers::ValueNumber))
                    .col(string_len_null(AuditAnswers::ValueText, 64))
                    .col(boolean(AuditAnswers::Failed))
                    .col(text_null(AuditAnswers::Note))
                    .col(timestamp_with_time_zone_null(AuditAnswers::AnsweredAt))
                    .primary_key(
                        Index::create()
                            .col(AuditAnswers::AuditId)
                            .col(AuditAnswers::Revision)
                            .col(AuditAnswers::ItemId),
                    )
                    .foreign_key(&mut fk(
                        "fk_answers_audit",
                        (AuditAnswers::Table, AuditAnswers::AuditId),
                        (Audits::Table, Audits::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditPhotos::Table)
                    .col(pk_uuid(AuditPhotos::Id))
                    .col(uuid(AuditPhotos::AuditId))
                    .col(uuid(AuditPhotos::ItemId))
                    .col(string_len(AuditPhotos::Sha256, 64))
                    .col(big_integer(AuditPhotos::Bytes))
                    .col(string_len(AuditPhotos::ContentType, 32))
                    .col(timestamp_with_time_zone_null(AuditPhotos::TakenAt))
                    .col(string_len(AuditPhotos::State, 16))
                    .col(timestamp_with_time_zone(AuditPhotos::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_photos_audit",
                        (AuditPhotos::Table, AuditPhotos::AuditId),
                        (Audits::Table, Audits::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_photos_audit")
                    .table(AuditPhotos::Table)
                    .col(AuditPhotos::AuditId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditConflicts::Table)
                    .col(pk_uuid(AuditConflicts::Id))
                    .col(uuid(AuditConflicts::AuditId))
                    .col(integer(AuditConflicts::Revision))
                    .col(uuid(AuditConflicts::AuditorId))
                    .col(string_len(AuditConflicts::Reason, 32))
                    .col(text(AuditConflicts::Payload))
                    .col(timestamp_with_time_zone(AuditConflicts::ReceivedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_conflicts_audit")
                    .table(AuditConflicts::Table)
                    .col(AuditConflicts::AuditId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::drop_tables(
            manager,
            vec![
                AuditConflicts::Table.into_iden(),
                AuditPhotos::Table.into_iden(),
                AuditAnswers::Table.into_iden(),
                AuditRevisions::Table.into_iden(),
                Audits::Table.into_iden(),
                SyncChanges::Table.into_iden(),
                SyncCounter::Table.into_iden(),
            ],
        )
        .await
    }
}
