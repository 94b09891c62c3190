//! The audit lifecycle's ground truth, independent of the change log:
//! - `assignment_holders`: every auditor an assignment was ever given to,
//!   so offline work done under a past assignment is still accepted;
//! - `photos`: which audit owns each photo id;
//! - `audit_photos` keyed by audit, revision and photo, so that every
//!   revision's manifest is kept (rebuilt from the stored revisions, which
//!   recovers manifests the old photo-id key had dropped);
//! - `checklists.origin`: a unique mark on the default checklist, so that
//!   concurrent default-catalog imports create it once.

use sea_orm_migration::sea_orm::prelude::ChronoDateTimeUtc;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};
use sea_orm_migration::{prelude::*, schema::*};
use uuid::Uuid;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AssignmentHolders {
    Table,
    AssignmentId,
    AuditorId,
    Since,
}

#[derive(DeriveIden)]
enum Photos {
    Table,
    Id,
    AuditId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditPhotos {
    Table,
    AuditId,
    Revision,
    Id,
    ItemId,
    Sha256,
    Bytes,
    ContentType,
    TakenAt,
    State,
    CreatedAt,
}

/// The new table while it is filled from the old one.
#[derive(DeriveIden)]
enum AuditPhotosNext {
    Table,
}

#[derive(DeriveIden)]
enum Checklists {
    Table,
    Origin,
}

#[derive(DeriveIden)]
enum Assignments {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Audits {
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

fn audit_photos_table(name: impl IntoIden) -> TableCreateStatement {
    Table::create()
        .table(name)
        .col(uuid(AuditPhotos::AuditId))
        .col(integer(AuditPhotos::Revision))
        .col(uuid(AuditPhotos::Id))
        .col(uuid(AuditPhotos::ItemId))
        .col(string_len(AuditPhotos::Sha256, 64))
        .col(big_integer(AuditPhotos::Bytes))
        .col(string_len(AuditPhotos::ContentType, 32))
        .col(timestamp_with_time_zone_null(AuditPhotos::TakenAt))
        .col(string_len(AuditPhotos::State, 16))
        .col(timestamp_with_time_zone(AuditPhotos::CreatedAt))
        .primary_key(
            Index::create()
                .col(AuditPhotos::AuditId)
                .col(AuditPhotos::Revision)
                .col(AuditPhotos::Id),
        )
        .foreign_key(&mut fk(
            "fk_audit_photos_photo",
            (AuditPhotos::Table, AuditPhotos::Id),
            (Photos::Table, Photos::Id),
        ))
        .to_owned()
}

// The trait's signature elides the manager's lifetime.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // One connection and all or nothing on every backend: the steps read
    // back what the ones before them wrote.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();

        manager
            .create_table(
                Table::create()
                    .table(AssignmentHolders::Table)
                    .col(uuid(AssignmentHolders::AssignmentId))
                    .col(uuid(AssignmentHolders::AuditorId))
                    .col(timestamp_with_time_zone(AssignmentHolders::Since))
                    .primary_key(
                        Index::create()
                            .col(AssignmentHolders::AssignmentId)
                            .col(AssignmentHolders::AuditorId),
                    )
                    .foreign_key(&mut fk(
                        "fk_holders_assignment",
                        (AssignmentHolders::Table, AssignmentHolders::AssignmentId),
                        (Assignments::Table, Assignments::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // Every auditor who holds an assignment now, or was told of it
        // (the change log has an entry for each auditor it concerned).
        db.execute_unprepared(
            "INSERT INTO assignment_holders (assignment_id, auditor_id, since) \
             SELECT id, auditor_id, created_at FROM assignments",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO assignment_holders (assignment_id, auditor_id, since) \
             SELECT c.entity_id, c.auditor_id, MIN(c.created_at) FROM sync_changes c \
             JOIN assignments a ON a.id = c.entity_id \
             WHERE c.entity = 'assignment' AND c.auditor_id <> a.auditor_id \
             GROUP BY c.entity_id, c.auditor_id",
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Photos::Table)
                    .col(pk_uuid(Photos::Id))
                    .col(uuid(Photos::AuditId))
                    .col(timestamp_with_time_zone(Photos::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_photos_owner_audit",
                        (Photos::Table, Photos::AuditId),
                        (Audits::Table, Audits::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_photos_audit")
                    .table(Photos::Table)
                    .col(Photos::AuditId)
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared(
            "INSERT INTO photos (id, audit_id, created_at) \
             SELECT id, audit_id, created_at FROM audit_photos",
        )
        .await?;

        // A new table, filled from the stored revisions while the old one
        // is still there to read states from, then copied into the old
        // one's place.
        manager
            .create_table(audit_photos_table(AuditPhotosNext::Table))
            .await?;
        rebuild_manifests(db).await?;
        manager
            .drop_table(Table::drop().table(AuditPhotos::Table).to_owned())
            .await?;
        manager
            .create_table(audit_photos_table(AuditPhotos::Table))
            .await?;
        db.execute_unprepared("INSERT INTO audit_photos SELECT * FROM audit_photos_next")
            .await?;
        manager
            .drop_table(Table::drop().table(AuditPhotosNext::Table).to_owned())
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_photos_photo")
                    .table(AuditPhotos::Table)
                    .col(AuditPhotos::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(Checklists::Table)
                    .add_column(string_len_null(Checklists::Origin, 32))
                    .to_owned(),
            )
            .await?;
        // Mark the oldest checklist named as the default one as its origin.
        db.execute_unprepared(
            "UPDATE checklists SET origin = 'default' WHERE id = (SELECT id FROM checklists \
             WHERE name = 'Store service audit' ORDER BY created_at, id LIMIT 1)",
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_checklists_origin")
                    .table(Checklists::Table)
                    .col(Checklists::Origin)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        manager
            .drop_index(
                Index::drop()
                    .name("ux_checklists_origin")
                    .table(Checklists::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Checklists::Table)
                    .drop_column(Checklists::Origin)
                    .to_owned(),
            )
            .await?;
        // One row per photo, as before: its first revision's.
        db.execute_unprepared(
            "CREATE TABLE audit_photos_v1 AS SELECT p.id, p.audit_id, p.item_id, p.sha256, \
             p.bytes, p.content_type, p.taken_at, p.state, p.created_at FROM audit_photos p \
             WHERE p.revision = (SELECT MIN(q.revision) FROM audit_photos q \
             WHERE q.audit_id = p.audit_id AND q.id = p.id)",
        )
        .await?;
        crate::drop_tables(
            manager,
            vec![
                AuditPhotos::Table.into_iden(),
                Photos::Table.into_iden(),
                AssignmentHolders::Table.into_iden(),
            ],
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
        db.execute_unprepared(
            "INSERT INTO audit_photos (id, audit_id, item_id, sha256, bytes, content_type, \
             taken_at, state, created_at) SELECT id, audit_id, item_id, sha256, bytes, \
             content_type, taken_at, state, created_at FROM audit_photos_v1",
        )
        .await?;
        db.execute_unprepared("DROP TABLE audit_photos_v1").await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_photos_audit")
                    .table(AuditPhotos::Table)
                    .col(AuditPhotos::AuditId)
                    .to_owned(),
            )
            .await
    }
}

/// Every stored revision's photo list, one row per photo, with the state
/// the old table held for that photo id (`pending_upload` when none).
async fn rebuild_manifests(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let states: std::collections::HashMap<Uuid, String> = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT id, state FROM audit_photos",
        ))
        .await?
        .into_iter()
        .map(|r| {
            Ok((
                r.try_get::<Uuid>("", "id")?,
                r.try_get::<String>("", "state")?,
            ))
        })
        .collect::<Result<_, DbErr>>()?;
    let mut after: Option<Uuid> = None;
    loop {
        let mut q = Query::select()
            .columns([
                Alias::new("id"),
                Alias::new("audit_id"),
                Alias::new("revision"),
                Alias::new("payload"),
                Alias::new("received_at"),
            ])
            .from(Alias::new("audit_revisions"))
            .order_by(Alias::new("id"), Order::Asc)
            .limit(200)
            .to_owned();
        if let Some(a) = after {
            q.and_where(Expr::col(Alias::new("id")).gt(a));
        }
        let rows = db.query_all(&q).await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.try_get::<Uuid>("", "id")?);
        for r in rows {
            let audit: Uuid = r.try_get("", "audit_id")?;
            let revision: i32 = r.try_get("", "revision")?;
            let payload: String = r.try_get("", "payload")?;
            let received: Value = r.try_get::<ChronoDateTimeUtc>("", "received_at")?.into();
            let body: serde_json::Value = serde_json::from_str(&payload)
                .map_err(|e| DbErr::Custom(format!("revision {revision} of {audit}: {e}")))?;
            let photos = body
                .get("photos")
                .and_then(|p| p.as_array())
                .cloned()
                .unwrap_or_default();
            if photos.is_empty() {
                continue;
            }
            let mut insert = Query::insert()
                .into_table(AuditPhotosNext::Table)
                .columns([
                    AuditPhotos::AuditId,
                    AuditPhotos::Revision,
                    AuditPhotos::Id,
                    AuditPhotos::ItemId,
                    AuditPhotos::Sha256,
                    AuditPhotos::Bytes,
                    AuditPhotos::ContentType,
                    AuditPhotos::TakenAt,
                    AuditPhotos::State,
                    AuditPhotos::CreatedAt,
                ])
                .to_owned();
            for p in photos {
                let field = |k: &str| p.get(k).cloned().unwrap_or(serde_json::Value::Null);
                let uuid_of = |k: &str| {
                    field(k)
                        .as_str()
                        .and_then(|s| Uuid::parse_str(s).ok())
                        .ok_or_else(|| DbErr::Custom(format!("photo of {audit}: bad {k}")))
                };
                let id = uuid_of("id")?;
                let taken: Option<ChronoDateTimeUtc> =
                    match field("taken_at").as_str() {
                        Some(t) => Some(t.parse().map_err(|e| {
                            DbErr::Custom(format!("photo {id} taken_at {t:?}: {e}"))
                        })?),
                        None => None,
                    };
                let state = states
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| "pending_upload".to_owned());
                insert.values_panic([
                    audit.into(),
                    revision.into(),
                    id.into(),
                    uuid_of("item_id")?.into(),
                    field("sha256")
                        .as_str()
                        .unwrap_or_default()
                        .to_ascii_lowercase()
                        .into(),
                    field("bytes").as_i64().unwrap_or(0).into(),
                    field("content_type")
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                        .into(),
                    taken.into(),
                    state.into(),
                    received.clone().into(),
                ]);
                // A photo listed only by a revision the old table missed
                // still needs its owner row.
                let owner = Query::insert()
                    .into_table(Photos::Table)
                    .columns([Photos::Id, Photos::AuditId, Photos::CreatedAt])
                    .values_panic([id.into(), audit.into(), received.clone().into()])
                    .on_conflict(OnConflict::column(Photos::Id).do_nothing().to_owned())
                    .to_owned();
                db.execute(&owner).await?;
            }
            db.execute(&insert).await?;
        }
    }
    Ok(())
}
