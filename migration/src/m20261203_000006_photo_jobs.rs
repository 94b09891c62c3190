//! Photo evidence after the upload:
//! - `jobs`: background work (photo processing) shared by every server
//!   process through the database, with leases so a crashed worker's job is
//!   taken again, and a unique key so the same work is queued once;
//! - `photo_files`: one row per stored file (photo id and SHA-256), holding
//!   when its last upload URL was given out, what processing found (size,
//!   EXIF time and place, perceptual hash split into four indexed bands so a
//!   reused photo is found without scanning), the reason a file is invalid,
//!   and its evidence flags;
//! - an index on the manifests' SHA-256, to find the same file sent for two
//!   audits.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    Kind,
    Key,
    Payload,
    State,
    Attempts,
    Failures,
    Rerun,
    RunAt,
    LeaseUntil,
    Worker,
    LastError,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PhotoFiles {
    Table,
    PhotoId,
    Sha256,
    AuditId,
    UrlIssuedAt,
    SweptAt,
    Width,
    Height,
    ExifTakenAt,
    Latitude,
    Longitude,
    Phash,
    Band0,
    Band1,
    Band2,
    Band3,
    InvalidReason,
    Flags,
    ProcessedAt,
}

#[derive(DeriveIden)]
enum Photos {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum AuditPhotos {
    Table,
    Sha256,
}

const BANDS: [PhotoFiles; 4] = [
    PhotoFiles::Band0,
    PhotoFiles::Band1,
    PhotoFiles::Band2,
    PhotoFiles::Band3,
];

// The trait's own signature elides the manager's lifetime.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(pk_uuid(Jobs::Id))
                    .col(string_len(Jobs::Kind, 32))
                    .col(string_len(Jobs::Key, 200))
                    .col(text(Jobs::Payload))
                    .col(string_len(Jobs::State, 16))
                    .col(integer(Jobs::Attempts))
                    .col(integer(Jobs::Failures))
                    // Queued again while running: run once more when done.
                    .col(boolean(Jobs::Rerun))
                    // Unix milliseconds: compared in SQL on both backends.
                    .col(big_integer(Jobs::RunAt))
                    .col(big_integer_null(Jobs::LeaseUntil))
                    .col(string_len_null(Jobs::Worker, 64))
                    .col(text_null(Jobs::LastError))
                    .col(timestamp_with_time_zone(Jobs::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_jobs_kind_key")
                    .table(Jobs::Table)
                    .col(Jobs::Kind)
                    .col(Jobs::Key)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_jobs_state_run_at")
                    .table(Jobs::Table)
                    .col(Jobs::State)
                    .col(Jobs::RunAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PhotoFiles::Table)
                    .col(uuid(PhotoFiles::PhotoId))
                    .col(string_len(PhotoFiles::Sha256, 64))
                    .col(uuid(PhotoFiles::AuditId))
                    .col(big_integer_null(PhotoFiles::UrlIssuedAt))
                    .col(big_integer_null(PhotoFiles::SweptAt))
                    .col(integer_null(PhotoFiles::Width))
                    .col(integer_null(PhotoFiles::Height))
                    .col(timestamp_with_time_zone_null(PhotoFiles::ExifTakenAt))
                    .col(double_null(PhotoFiles::Latitude))
                    .col(double_null(PhotoFiles::Longitude))
                    .col(big_integer_null(PhotoFiles::Phash))
                    .col(integer_null(PhotoFiles::Band0))
                    .col(integer_null(PhotoFiles::Band1))
                    .col(integer_null(PhotoFiles::Band2))
                    .col(integer_null(PhotoFiles::Band3))
                    .col(text_null(PhotoFiles::InvalidReason))
                    .col(text(PhotoFiles::Flags))
                    .col(timestamp_with_time_zone_null(PhotoFiles::ProcessedAt))
                    .primary_key(
                        Index::create()
                            .col(PhotoFiles::PhotoId)
                            .col(PhotoFiles::Sha256),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_photo_files_photo")
                            .from(PhotoFiles::Table, PhotoFiles::PhotoId)
                            .to(Photos::Table, Photos::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        for (i, band) in BANDS.into_iter().enumerate() {
            manager
                .create_index(
                    Index::create()
                        .name(format!("ix_photo_files_band{i}"))
                        .table(PhotoFiles::Table)
                        .col(band)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_photo_files_audit")
                    .table(PhotoFiles::Table)
                    .col(PhotoFiles::AuditId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_photos_sha256")
                    .table(AuditPhotos::Table)
                    .col(AuditPhotos::Sha256)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_audit_photos_sha256")
                    .table(AuditPhotos::Table)
                    .to_owned(),
            )
            .await?;
        crate::drop_tables(
            manager,
            vec![PhotoFiles::Table.into_iden(), Jobs::Table.into_iden()],
        )
        .await
    }
}
