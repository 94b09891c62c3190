//! Standards: the checks and writes of adding one to the library and of
//! changing or retiring one (published versions keep the text they were
//! published with).

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use storecheck_shared::catalog::{NewStandard, StandardPatch};
use storecheck_shared::validate;
use uuid::Uuid;

use crate::check::{Check, checked};
use crate::db::catalog as queries;
use crate::entities::{dimensions, standards};
use crate::error::ApiError;

/// Note on `check` when `id` is no dimension.
pub async fn check_dimension(
    db: &impl ConnectionTrait,
    check: &mut Check,
    id: Uuid,
) -> Result<(), ApiError> {
    if dimensions::Entity::find_by_id(id).one(db).await?.is_none() {
        check.fail("dimension_id", "no such dimension");
    }
    Ok(())
}

/// Add a standard: every field checked (all problems reported at once), the
/// dimension must exist, the code must be free.
pub async fn create(
    db: &impl ConnectionTrait,
    req: NewStandard,
) -> Result<standards::Model, ApiError> {
    let mut check = Check::new();
    let code = check.field("code", validate::standard_code(&req.code));
    let tzh = check.field("text_zh", validate::text(&req.text_zh, 1000));
    let ten = check.field("text_en", validate::text(&req.text_en, 1000));
    let guide_zh = check.field(
        "guidance_zh",
        validate::optional_text(&req.guidance_zh, 4000),
    );
    let guide_en = check.field(
        "guidance_en",
        validate::optional_text(&req.guidance_en, 4000),
    );
    check_dimension(db, &mut check, req.dimension_id).await?;
    check.finish()?;
    let code = checked(code)?;
    let now = Utc::now();
    let m = standards::ActiveModel {
        id: Set(Uuid::now_v7()),
        code: Set(code.clone()),
        dimension_id: Set(req.dimension_id),
        factor: Set(req.factor.as_str().to_owned()),
        text_zh: Set(checked(tzh)?),
        text_en: Set(checked(ten)?),
        guidance_zh: Set(checked(guide_zh)?),
        guidance_en: Set(checked(guide_en)?),
        retired: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    };
    queries::insert_standard(db, m, &code).await
}

/// Change or retire a standard; fields left out of `patch` keep their
/// values, a new dimension must exist.
pub async fn update(
    db: &impl ConnectionTrait,
    s: standards::Model,
    patch: StandardPatch,
) -> Result<standards::Model, ApiError> {
    let mut check = Check::new();
    let tzh = check.optional("text_zh", patch.text_zh, |v| validate::text(&v, 1000));
    let ten = check.optional("text_en", patch.text_en, |v| validate::text(&v, 1000));
    let guide_zh = check.optional("guidance_zh", patch.guidance_zh, |v| {
        validate::optional_text(&v, 4000)
    });
    let guide_en = check.optional("guidance_en", patch.guidance_en, |v| {
        validate::optional_text(&v, 4000)
    });
    if let Some(d) = patch.dimension_id {
        check_dimension(db, &mut check, d).await?;
    }
    check.finish()?;
    let mut a: standards::ActiveModel = s.into();
    if let Some(d) = patch.dimension_id {
        a.dimension_id = Set(d);
    }
    if let Some(f) = patch.factor {
        a.factor = Set(f.as_str().to_owned());
    }
    if let Some(v) = tzh {
        a.text_zh = Set(v);
    }
    if let Some(v) = ten {
        a.text_en = Set(v);
    }
    if let Some(v) = guide_zh {
        a.guidance_zh = Set(v);
    }
    if let Some(v) = guide_en {
        a.guidance_en = Set(v);
    }
    if let Some(r) = patch.retired {
        a.retired = Set(r);
    }
    a.updated_at = Set(Utc::now());
    Ok(a.update(db).await?)
}
