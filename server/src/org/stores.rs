//! Store rules: the field checks, creating and changing a store, and the
//! all-or-nothing import of stores from a CSV file (header checks, row
//! parsing, region and code look-ups, duplicates within the file).

use std::collections::{HashMap, HashSet};

use axum::body::Bytes;
use axum::http::StatusCode;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use storecheck_shared::org::{NewStore, StorePatch};
use storecheck_shared::{ErrorDetail, validate};
use uuid::Uuid;

use crate::check::{Check, checked, timezone};
use crate::db::stores::StoreFields;
use crate::db::{regions, stores};
use crate::entities::stores::Model as StoreModel;
use crate::error::ApiError;

/// Check every field of a store but its region.
pub fn check_store(check: &mut Check, s: NewStore) -> Option<StoreFields> {
    let code = check.field("code", validate::store_code(&s.code));
    let name = check.field("name", validate::text(&s.name, 200));
    let address = check.field("address", validate::text(&s.address, 500));
    let latitude = check.field("latitude", validate::latitude(s.latitude));
    let longitude = check.field("longitude", validate::longitude(s.longitude));
    let timezone = check.field("timezone", timezone(&s.timezone));
    Some(StoreFields {
        code: code?,
        name: name?,
        address: address?,
        latitude: latitude?,
        longitude: longitude?,
        timezone: timezone?,
        region_id: s.region_id,
    })
}

/// Note on `check` when `region` is no region.
pub async fn check_region(
    db: &impl ConnectionTrait,
    check: &mut Check,
    region: Uuid,
) -> Result<(), ApiError> {
    if !regions::missing(db, &[region]).await?.is_empty() {
        check.fail("region_id", "no such region");
    }
    Ok(())
}

/// Create a store: every field checked (all problems reported at once), the
/// region must exist, the code must be free.
pub async fn create(db: &impl ConnectionTrait, req: NewStore) -> Result<StoreModel, ApiError> {
    let mut check = Check::new();
    check_region(db, &mut check, req.region_id).await?;
    let fields = check_store(&mut check, req);
    check.finish()?;
    let fields = checked(fields)?;
    stores::create(db, fields).await
}

/// Change a store: fields left out of `patch` keep their values; the result
/// is checked as a whole and written together with its change-log entry.
pub async fn update(
    db: &DatabaseConnection,
    log: &crate::db::sync::LogHead,
    store: StoreModel,
    patch: StorePatch,
) -> Result<StoreModel, ApiError> {
    let merged = NewStore {
        code: patch.code.unwrap_or_else(|| store.code.clone()),
        name: patch.name.unwrap_or_else(|| store.name.clone()),
        address: patch.address.unwrap_or_else(|| store.address.clone()),
        latitude: patch.latitude.unwrap_or(store.latitude),
        longitude: patch.longitude.unwrap_or(store.longitude),
        timezone: patch.timezone.unwrap_or_else(|| store.timezone.clone()),
        region_id: patch.region_id.unwrap_or(store.region_id),
    };
    let mut check = Check::new();
    if merged.region_id != store.region_id {
        check_region(db, &mut check, merged.region_id).await?;
    }
    let fields = check_store(&mut check, merged);
    check.finish()?;
    let fields = checked(fields)?;
    let txn = crate::db::begin_write(db).await?;
    let store = stores::update(&txn, store, fields).await?;
    crate::db::sync::store_changed(&txn, log, store.id).await?;
    txn.commit().await?;
    Ok(store)
}

const IMPORT_COLUMNS: [&str; 7] = [
    "code",
    "name",
    "address",
    "latitude",
    "longitude",
    "timezone",
    "region_code",
];

/// Import the stores of a CSV file (its bytes), all or nothing.
///
/// The header line names the columns `code,name,address,latitude,longitude,timezone,region_code`
/// (any order; `region_id` may stand in for `region_code`). If any row is
/// bad, nothing is stored and the error lists every bad cell by line and
/// column. The stores made, in id order. A large file is parsed on a
/// blocking thread.
pub async fn import_csv(
    db: &DatabaseConnection,
    bytes: Bytes,
) -> Result<Vec<StoreModel>, ApiError> {
    let rows = crate::extract::off_thread_if_large(bytes, parse_csv).await?;

    // Look up regions and taken codes for the whole file at once.
    let codes: Vec<String> = rows
        .iter()
        .filter_map(|r| r.region_code.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let by_code: HashMap<String, Uuid> = regions::by_codes(db, codes)
        .await?
        .into_iter()
        .map(|r| (r.code, r.id))
        .collect();
    let ids: Vec<Uuid> = rows
        .iter()
        .filter_map(|r| r.region_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let missing = regions::missing(db, &ids).await?;
    let missing_ids: HashSet<Uuid> = missing.into_iter().map(|i| ids[i]).collect();
    let store_codes: Vec<String> = rows
        .iter()
        .filter_map(|r| r.fields.as_ref().map(|f| f.code.clone()))
        .collect();
    let taken: HashSet<String> = stores::existing_codes(db, store_codes)
        .await?
        .into_iter()
        .collect();

    let mut errors: Vec<ErrorDetail> = rows.iter().flat_map(|r| r.errors.clone()).collect();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut fields = Vec::with_capacity(rows.len());
    for row in rows {
        let region = match (&row.region_code, row.region_id) {
            (Some(code), _) => match by_code.get(code) {
                Some(id) => Some(*id),
                None => {
                    errors.push(ErrorDetail::at_line(
                        row.line,
                        "region_code",
                        format!("no region with code {code:?}"),
                    ));
                    None
                }
            },
            (None, Some(id)) if missing_ids.contains(&id) => {
                errors.push(ErrorDetail::at_line(
                    row.line,
                    "region_id",
                    "no such region",
                ));
                None
            }
            (None, id) => id,
        };
        let Some(mut f) = row.fields else { continue };
        if taken.contains(&f.code) {
            errors.push(ErrorDetail::at_line(
                row.line,
                "code",
                format!("a store with code {:?} already exists", f.code),
            ));
        }
        if let Some(first) = seen.insert(f.code.clone(), row.line) {
            errors.push(ErrorDetail::at_line(
                row.line,
                "code",
                format!("code {:?} is also on line {first}", f.code),
            ));
        }
        if let Some(region) = region {
            f.region_id = region;
            fields.push(f);
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        let lines: HashSet<u64> = errors.iter().filter_map(|e| e.line).collect();
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_rows",
            format!("{} bad row(s); nothing was imported", lines.len()),
        )
        .with_details(errors));
    }
    let txn = crate::db::begin_write(db).await?;
    let created = stores::create_many(&txn, fields).await?;
    txn.commit().await?;
    tracing::info!(count = created.len(), "stores imported");
    Ok(created)
}

/// One data line of the file: its checked fields (none if any is bad), the
/// region it names, and what is wrong with it.
struct CsvRow {
    line: u64,
    fields: Option<StoreFields>,
    region_code: Option<String>,
    region_id: Option<Uuid>,
    errors: Vec<ErrorDetail>,
}

fn parse_csv(bytes: &[u8]) -> Result<Vec<CsvRow>, ApiError> {
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|_| ApiError::bad_request("invalid_csv", "the file is not UTF-8 text"))?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| {
            ApiError::bad_request(
                "invalid_csv",
                format!("the header line cannot be read: {e}"),
            )
        })?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    // A column named twice is ambiguous: which one holds the data?
    let twice: Vec<ErrorDetail> = header
        .iter()
        .enumerate()
        .filter(|(i, h)| !h.is_empty() && header[..*i].contains(h))
        .map(|(i, h)| {
            ErrorDetail::at_line(1, h.clone(), format!("column {} names {h:?} again", i + 1))
        })
        .collect();
    if !twice.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_rows",
            "the header line names a column twice",
        )
        .with_details(twice));
    }
    let col = |name: &str| header.iter().position(|h| h == name);
    let mut missing: Vec<ErrorDetail> = IMPORT_COLUMNS
        .iter()
        .filter(|c| **c != "region_code" && col(c).is_none())
        .map(|c| ErrorDetail::at_line(1, *c, "missing column"))
        .collect();
    if col("region_code").is_none() && col("region_id").is_none() {
        missing.push(ErrorDetail::at_line(
            1,
            "region_code",
            "missing column (region_code or region_id)",
        ));
    }
    if !missing.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_rows",
            "the header line lacks columns",
        )
        .with_details(missing));
    }
    let idx = |name: &str| col(name).unwrap_or(usize::MAX);
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            ApiError::bad_request("invalid_csv", format!("line {line} cannot be read: {e}"))
        })?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.iter().all(str::is_empty) {
            continue;
        }
        let get = |name: &str| record.get(idx(name)).unwrap_or("");
        let mut check = Check::new();
        // An unreadable number is reported here; 0 stands in for it so
        // that the range check below does not report it twice.
        let number = |check: &mut Check, name: &str| {
            let raw = get(name);
            check
                .field(
                    name,
                    raw.parse::<f64>()
                        .map_err(|_| format!("{raw:?} is not a number")),
                )
                .unwrap_or(0.0)
        };
        let latitude = number(&mut check, "latitude");
        let longitude = number(&mut check, "longitude");
        let (region_code, region_id) = match (col("region_code"), col("region_id")) {
            (Some(_), _) if !get("region_code").is_empty() => {
                (Some(get("region_code").to_owned()), None)
            }
            (_, Some(_)) if !get("region_id").is_empty() => (
                None,
                check.field(
                    "region_id",
                    Uuid::parse_str(get("region_id")).map_err(|_| "must be a UUID".to_owned()),
                ),
            ),
            _ => {
                check.fail("region_code", "must not be empty");
                (None, None)
            }
        };
        let fields = check_store(
            &mut check,
            NewStore {
                code: get("code").to_owned(),
                name: get("name").to_owned(),
                address: get("address").to_owned(),
                latitude,
                longitude,
                timezone: get("timezone").to_owned(),
                region_id: Uuid::nil(),
            },
        );
        let errors: Vec<ErrorDetail> = check
            .into_details()
            .into_iter()
            .map(|e| ErrorDetail::at_line(line, e.field, e.message))
            .collect();
        rows.push(CsvRow {
            line,
            fields: if errors.is_empty() { fields } else { None },
            region_code,
            region_id,
            errors,
        });
    }
    if rows.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_rows",
            "the file has no store rows",
        )
        .with_detail("body", "no rows after the header line"));
    }
    Ok(rows)
}
