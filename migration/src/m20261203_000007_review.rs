//! Review, corrective actions and compliance:
//! - `audits` gains the last review's comment, reviewer and time (the
//!   auditor reads the comment of a returned audit on the next pull);
//! - `audit_answers` gains a reviewer's override beside the phone's answer,
//!   which stays as sent;
//! - `audit_rescores`: the score of a revision after overrides;
//! - `audit_events`: who did what to an audit, when and why;
//! - `audit_dimension_scores`: an approved audit's dimension scores, the
//!   rows compliance averages;
//! - `corrective_actions`: one per failed standard of a store, followed
//!   from open to verified;
//! - `org_settings`: band thresholds, the target and the due time of
//!   corrective actions, which HQ can change.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Audits {
    Table,
    Id,
    StoreId,
    Status,
    ReviewComment,
    ReviewedBy,
    ReviewedAt,
}

#[derive(DeriveIden)]
enum AuditAnswers {
    Table,
    OverrideNa,
    OverrideNumber,
    OverrideText,
    OverrideReason,
    OverriddenBy,
    OverriddenAt,
}

#[derive(DeriveIden)]
enum AuditRescores {
    Table,
    AuditId,
    Revision,
    Total,
    Base,
    Bonus,
    Deductions,
    CriticalFailure,
    Breakdown,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    AuditId,
    At,
    ActorId,
    Action,
    Revision,
    Comment,
    Detail,
}

#[derive(DeriveIden)]
enum AuditDimensionScores {
    Table,
    AuditId,
    DimensionCode,
    Score,
}

#[derive(DeriveIden)]
enum CorrectiveActions {
    Table,
    Id,
    StoreId,
    StandardCode,
    ItemCode,
    ItemId,
    AuditId,
    Answer,
    Status,
    DueOn,
    OpenedAt,
    Reopened,
    LastAuditId,
    ResolvedAt,
    ResolvedBy,
    ResolutionNote,
    PhotoKey,
    PhotoContentType,
    VerifiedAt,
    VerifiedAuditId,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrgSettings {
    Table,
    Id,
    Target,
    BelowFrom,
    MeetsFrom,
    ExceedsFrom,
    ActionDueDays,
    UpdatedAt,
    UpdatedBy,
}

/// Per store, checklist version and item: how often approved audits
/// assessed it (not N/A) and failed it. Approved audits never change, so
/// each approval adds to these once; the item analysis sums them.
#[derive(DeriveIden)]
enum StoreItemTallies {
    Table,
    StoreId,
    ChecklistVersionId,
    ItemCode,
    Assessed,
    Failed,
}

#[derive(DeriveIden)]
enum Stores {
    Table,
    Id,
}

fn fk_audit(name: &str, from: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from_tbl(from)
        .from_col(Alias::new("audit_id"))
        .to(Audits::Table, Audits::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

// The trait's own signature elides the manager's lifetime.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for col in [
            text_null(Audits::ReviewComment),
            uuid_null(Audits::ReviewedBy),
            timestamp_with_time_zone_null(Audits::ReviewedAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Audits::Table)
                        .add_column(col)
                        .to_owned(),
                )
                .await?;
        }
        for col in [
            boolean_null(AuditAnswers::OverrideNa),
            double_null(AuditAnswers::OverrideNumber),
            text_null(AuditAnswers::OverrideText),
            text_null(AuditAnswers::OverrideReason),
            uuid_null(AuditAnswers::OverriddenBy),
            timestamp_with_time_zone_null(AuditAnswers::OverriddenAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuditAnswers::Table)
                        .add_column(col)
                        .to_owned(),
                )
                .await?;
        }
        // Compliance reads a quarter's approved audits store by store.
        manager
            .create_index(
                Index::create()
                    .name("ix_audits_store_status")
                    .table(Audits::Table)
                    .col(Audits::StoreId)
                    .col(Audits::Status)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditRescores::Table)
                    .col(uuid(AuditRescores::AuditId))
                    .col(integer(AuditRescores::Revision))
                    .col(integer(AuditRescores::Total))
                    .col(integer(AuditRescores::Base))
                    .col(integer(AuditRescores::Bonus))
                    .col(integer(AuditRescores::Deductions))
                    .col(boolean(AuditRescores::CriticalFailure))
                    .col(text(AuditRescores::Breakdown))
                    .primary_key(
                        Index::create()
                            .col(AuditRescores::AuditId)
                            .col(AuditRescores::Revision),
                    )
                    .foreign_key(&mut fk_audit(
                        "fk_audit_rescores_audit",
                        AuditRescores::Table,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(pk_uuid(AuditEvents::Id))
                    .col(uuid(AuditEvents::AuditId))
                    .col(timestamp_with_time_zone(AuditEvents::At))
                    .col(uuid_null(AuditEvents::ActorId))
                    .col(string_len(AuditEvents::Action, 32))
                    .col(integer(AuditEvents::Revision))
                    .col(text_null(AuditEvents::Comment))
                    .col(text_null(AuditEvents::Detail))
                    .foreign_key(&mut fk_audit("fk_audit_events_audit", AuditEvents::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_events_audit")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::AuditId)
                    .col(AuditEvents::At)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditDimensionScores::Table)
                    .col(uuid(AuditDimensionScores::AuditId))
                    .col(string_len(AuditDimensionScores::DimensionCode, 64))
                    .col(integer(AuditDimensionScores::Score))
                    .primary_key(
                        Index::create()
                            .col(AuditDimensionScores::AuditId)
                            .col(AuditDimensionScores::DimensionCode),
                    )
                    .foreign_key(&mut fk_audit(
                        "fk_audit_dimension_scores_audit",
                        AuditDimensionScores::Table,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(StoreItemTallies::Table)
                    .col(uuid(StoreItemTallies::StoreId))
                    .col(uuid(StoreItemTallies::ChecklistVersionId))
                    .col(string_len(StoreItemTallies::ItemCode, 64))
                    .col(integer(StoreItemTallies::Assessed))
                    .col(integer(StoreItemTallies::Failed))
                    .primary_key(
                        Index::create()
                            .col(StoreItemTallies::StoreId)
                            .col(StoreItemTallies::ChecklistVersionId)
                            .col(StoreItemTallies::ItemCode),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_store_item_tallies_store")
                            .from(StoreItemTallies::Table, StoreItemTallies::StoreId)
                            .to(Stores::Table, Stores::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_store_item_tallies_version")
                    .table(StoreItemTallies::Table)
                    .col(StoreItemTallies::ChecklistVersionId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CorrectiveActions::Table)
                    .col(pk_uuid(CorrectiveActions::Id))
                    .col(uuid(CorrectiveActions::StoreId))
                    .col(string_len(CorrectiveActions::StandardCode, 64))
                    .col(string_len(CorrectiveActions::ItemCode, 64))
                    .col(uuid(CorrectiveActions::ItemId))
                    .col(uuid(CorrectiveActions::AuditId))
                    .col(text(CorrectiveActions::Answer))
                    .col(string_len(CorrectiveActions::Status, 16))
                    .col(date(CorrectiveActions::DueOn))
                    .col(timestamp_with_time_zone(CorrectiveActions::OpenedAt))
                    .col(integer(CorrectiveActions::Reopened))
                    .col(uuid(CorrectiveActions::LastAuditId))
                    .col(timestamp_with_time_zone_null(CorrectiveActions::ResolvedAt))
                    .col(uuid_null(CorrectiveActions::ResolvedBy))
                    .col(text_null(CorrectiveActions::ResolutionNote))
                    .col(text_null(CorrectiveActions::PhotoKey))
                    .col(string_len_null(CorrectiveActions::PhotoContentType, 64))
                    .col(timestamp_with_time_zone_null(CorrectiveActions::VerifiedAt))
                    .col(uuid_null(CorrectiveActions::VerifiedAuditId))
                    .col(timestamp_with_time_zone(CorrectiveActions::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_corrective_actions_store")
                            .from(CorrectiveActions::Table, CorrectiveActions::StoreId)
                            .to(Stores::Table, Stores::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(&mut fk_audit(
                        "fk_corrective_actions_audit",
                        CorrectiveActions::Table,
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "ix_corrective_actions_store",
                [CorrectiveActions::StoreId, CorrectiveActions::StandardCode],
            ),
            (
                "ix_corrective_actions_status",
                [CorrectiveActions::Status, CorrectiveActions::DueOn],
            ),
        ] {
            let mut i = Index::create();
            i.name(name).table(CorrectiveActions::Table);
            for c in cols {
                i.col(c);
            }
            manager.create_index(i.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(OrgSettings::Table)
                    .col(integer(OrgSettings::Id).primary_key())
                    .col(integer(OrgSettings::Target))
                    .col(integer(OrgSettings::BelowFrom))
                    .col(integer(OrgSettings::MeetsFrom))
                    .col(integer(OrgSettings::ExceedsFrom))
                    .col(integer(OrgSettings::ActionDueDays))
                    .col(timestamp_with_time_zone_null(OrgSettings::UpdatedAt))
                    .col(uuid_null(OrgSettings::UpdatedBy))
                    .to_owned(),
            )
            .await?;
        // SPEC §5 and §8 defaults, in hundredths of a point.
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(OrgSettings::Table)
                    .columns([
                        OrgSettings::Id,
                        OrgSettings::Target,
                        OrgSettings::BelowFrom,
                        OrgSettings::MeetsFrom,
                        OrgSettings::ExceedsFrom,
                        OrgSettings::ActionDueDays,
                    ])
                    .values_panic([
                        1.into(),
                        8500.into(),
                        7000.into(),
                        8500.into(),
                        9500.into(),
                        14.into(),
                    ])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::drop_tables(
            manager,
            vec![
                OrgSettings::Table.into_iden(),
                CorrectiveActions::Table.into_iden(),
                StoreItemTallies::Table.into_iden(),
                AuditDimensionScores::Table.into_iden(),
                AuditEvents::Table.into_iden(),
                AuditRescores::Table.into_iden(),
            ],
        )
        .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_audits_store_status")
                    .table(Audits::Table)
                    .to_owned(),
            )
            .await?;
        for col in [
            AuditAnswers::OverrideNa,
            AuditAnswers::OverrideNumber,
            AuditAnswers::OverrideText,
            AuditAnswers::OverrideReason,
            AuditAnswers::OverriddenBy,
            AuditAnswers::OverriddenAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuditAnswers::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        for col in [
            Audits::ReviewComment,
            Audits::ReviewedBy,
            Audits::ReviewedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Audits::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
