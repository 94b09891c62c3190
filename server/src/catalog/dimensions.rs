//! Dimensions: the checks and writes of adding one and of renaming or
//! reordering one (its code never changes).

use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use storecheck_shared::catalog::{DimensionPatch, NewDimension};
use storecheck_shared::validate;

use crate::check::{Check, checked};
use crate::db::catalog as queries;
use crate::entities::dimensions;
use crate::error::ApiError;

/// Add a dimension: every field checked (all problems reported at once), the
/// code must be free; without a position it goes last.
pub async fn create(
    db: &impl ConnectionTrait,
    req: NewDimension,
) -> Result<dimensions::Model, ApiError> {
    let mut check = Check::new();
    let code = check.field("code", validate::dimension_code(&req.code));
    let zh = check.field("name_zh", validate::text(&req.name_zh, 200));
    let en = check.field("name_en", validate::text(&req.name_en, 200));
    check.finish()?;
    queries::create_dimension(db, checked(code)?, checked(zh)?, checked(en)?, req.position).await
}

/// Change a dimension's names or position; fields left out of `patch` keep
/// their values.
pub async fn update(
    db: &impl ConnectionTrait,
    d: dimensions::Model,
    patch: DimensionPatch,
) -> Result<dimensions::Model, ApiError> {
    let mut check = Check::new();
    let zh = check.optional("name_zh", patch.name_zh, |v| validate::text(&v, 200));
    let en = check.optional("name_en", patch.name_en, |v| validate::text(&v, 200));
    check.finish()?;
    let mut a: dimensions::ActiveModel = d.into();
    if let Some(v) = zh {
        a.name_zh = Set(v);
    }
    if let Some(v) = en {
        a.name_en = Set(v);
    }
    if let Some(p) = patch.position {
        a.position = Set(p);
    }
    Ok(a.update(db).await?)
}
