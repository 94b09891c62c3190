//! The demo organisation of `storecheck serve --demo`: three regions of a
//! fictitious chain with eight stores each, a user of every role with fixed
//! logins, the default catalog published for the current quarter, and an
//! assignment for every auditor at every store of their regions. Loading it
//! again adds only what is missing.

use std::collections::HashMap;

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::Deserialize;
use storecheck_shared::Role;
use storecheck_shared::quarter::Quarter;
use uuid::Uuid;

use crate::db;
use crate::db::stores::StoreFields;
use crate::entities::{assignments, checklist_versions, regions, stores};

const DEMO_ORG: &str = include_str!("demo_org.json");

pub const DEMO_PASSWORD: &str = "demo-password";

#[derive(Deserialize)]
struct DemoOrg {
    regions: Vec<DemoRegion>,
}

#[derive(Deserialize)]
struct DemoRegion {
    code: String,
    name: String,
    stores: Vec<DemoStore>,
}

#[derive(Deserialize)]
struct DemoStore {
    code: String,
    name: String,
    address: String,
    latitude: f64,
    longitude: f64,
    timezone: String,
}

/// The fixed demo logins: e-mail, role, and the codes of their regions.
pub const DEMO_USERS: [(&str, Role, &[&str]); 5] = [
    ("hq@demo.test", Role::Hq, &[]),
    ("manager1@demo.test", Role::RegionalManager, &["east"]),
    (
        "manager2@demo.test",
        Role::RegionalManager,
        &["south", "west"],
    ),
    ("auditor1@demo.test", Role::Auditor, &["east"]),
    ("auditor2@demo.test", Role::Auditor, &["south", "west"]),
];

#[derive(Debug, Default)]
pub struct DemoReport {
    pub created: u32,
    pub quarter: String,
    pub checklist_version_id: Uuid,
}

fn api(e: crate::error::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}: {}", e.code, e.message)
}

/// Create whatever of the demo organisation is missing, for the quarter of `today`.
pub async fn load(conn: &DatabaseConnection, today: NaiveDate) -> anyhow::Result<DemoReport> {
    let org: DemoOrg = serde_json::from_str(DEMO_ORG)?;
    let quarter = Quarter::containing(today);
    let mut hashes = Vec::new();
    for (email, _, _) in DEMO_USERS {
        if db::users::by_email(conn, email)
            .await
            .map_err(api)?
            .is_none()
        {
            hashes.push((
                email,
                crate::auth::hash_password(DEMO_PASSWORD.to_owned()).await?,
            ));
        }
    }
    let txn = crate::db::begin_write(conn).await?;
    let mut report = DemoReport {
        quarter: quarter.to_string(),
        ..DemoReport::default()
    };

    let catalog = crate::catalog::import_default(&txn).await.map_err(api)?;
    report.created += catalog.dimensions_created
        + catalog.standards_created
        + u32::from(catalog.checklist_created);

    let mut region_ids: HashMap<String, Uuid> = HashMap::new();
    let mut stores_by_region: HashMap<String, Vec<Uuid>> = HashMap::new();
    for r in org.regions {
        let existing = regions::Entity::find()
            .filter(regions::Column::Code.eq(r.code.clone()))
            .one(&txn)
            .await?;
        let region = match existing {
            Some(x) => x,
            None => {
                report.created += 1;
                db::regions::create(&txn, r.code.clone(), r.name.clone())
                    .await
                    .map_err(api)?
            }
        };
        region_ids.insert(r.code.clone(), region.id);
        for s in r.stores {
            let existing = stores::Entity::find()
                .filter(stores::Column::Code.eq(s.code.clone()))
                .one(&txn)
                .await?;
            let store = match existing {
                Some(x) => x,
                None => {
                    report.created += 1;
                    db::stores::create(
                        &txn,
                        StoreFields {
                            code: s.code,
                            name: s.name,
                            address: s.address,
                            latitude: s.latitude,
                            longitude: s.longitude,
                            timezone: s.timezone,
                            region_id: region.id,
                        },
                    )
                    .await
                    .map_err(api)?
                }
            };
            stores_by_region
                .entry(r.code.clone())
                .or_default()
                .push(store.id);
        }
    }

    let mut user_ids: HashMap<&str, Uuid> = HashMap::new();
    for (email, role, codes) in DEMO_USERS {
        let ids: Vec<Uuid> = codes
            .iter()
            .filter_map(|c| region_ids.get(*c).copied())
            .collect();
        let id = match db::users::by_email(&txn, email).await.map_err(api)? {
            Some(u) => u.id,
            None => {
                let hash = hashes
                    .iter()
                    .find(|(e, _)| *e == email)
                    .map(|(_, h)| h.clone())
                    .ok_or_else(|| anyhow::anyhow!("demo user {email} appeared while loading"))?;
                report.created += 1;
                db::users::create(&txn, email.to_owned(), hash, role, ids)
                    .await
                    .map_err(api)?
                    .id
            }
        };
        user_ids.insert(email, id);
    }

    let version = checklist_versions::Entity::find()
        .filter(checklist_versions::Column::ChecklistId.eq(catalog.checklist_id))
        .filter(checklist_versions::Column::Quarter.eq(quarter.to_string()))
        .one(&txn)
        .await?;
    let version = match version {
        Some(v) => v,
        None => {
            report.created += 1;
            let checklist = db::catalog::checklist(&txn, catalog.checklist_id)
                .await
                .map_err(api)?;
            db::catalog::publish(&txn, &checklist, quarter, None)
                .await
                .map_err(|e| {
                    let details: Vec<String> = e
                        .details
                        .iter()
                        .map(|d| format!("{}: {}", d.field, d.message))
                        .collect();
                    anyhow::anyhow!(
                        "publishing the default checklist: {} {}",
                        e.message,
                        details.join("; ")
                    )
                })?
        }
    };
    report.checklist_version_id = version.id;

    for (email, role, codes) in DEMO_USERS {
        if role != Role::Auditor {
            continue;
        }
        let auditor = user_ids[email];
        for code in codes {
            for store in stores_by_region.get(*code).into_iter().flatten() {
                let exists = assignments::Entity::find()
                    .filter(assignments::Column::StoreId.eq(*store))
                    .filter(assignments::Column::AuditorId.eq(auditor))
                    .filter(assignments::Column::ChecklistVersionId.eq(version.id))
                    .one(&txn)
                    .await?
                    .is_some();
                if !exists {
                    report.created += 1;
                    db::assignments::create(
                        &txn,
                        // Loaded before the server starts, which reads the
                        // log's position once it does.
                        &db::sync::LogHead::off(),
                        db::assignments::NewRow {
                            store_id: *store,
                            auditor_id: auditor,
                            checklist_version_id: version.id,
                            window_start: quarter.first_day(),
                            window_end: quarter.last_day(),
                            created_by: None,
                        },
                    )
                    .await
                    .map_err(api)?;
                }
            }
        }
    }
    txn.commit().await?;
    Ok(report)
}

/// The lines `serve --demo` prints.
pub fn logins_text() -> String {
    let mut out = String::from("demo logins (password: demo-password):\n");
    for (email, role, regions) in DEMO_USERS {
        let scope = if regions.is_empty() {
            "all regions".to_owned()
        } else {
            regions.join(", ")
        };
        out.push_str(&format!("  {email:<22} {:<17} {scope}\n", role.as_str()));
    }
    out
}
