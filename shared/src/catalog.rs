//! Dimensions, standards, checklists and their published versions, and the
//! rules a checklist must keep to be published (SPEC §3).

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ErrorDetail;

/// BPM factor of a standard or item (seed 002).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    /// Must simply be there; failing one is a critical failure.
    Basic,
    /// More is better; weighted.
    Performance,
    /// Delighters; bonus points.
    Motivation,
}

impl Factor {
    pub fn as_str(self) -> &'static str {
        match self {
            Factor::Basic => "basic",
            Factor::Performance => "performance",
            Factor::Motivation => "motivation",
        }
    }

    pub fn parse(s: &str) -> Option<Factor> {
        [Factor::Basic, Factor::Performance, Factor::Motivation]
            .into_iter()
            .find(|f| f.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// true earns the weight, false nothing.
    YesNo,
    /// 0..=max earns value/max of the weight.
    Scale,
    /// A number (seconds waited, …) compared with a target.
    Measure,
    /// One of the options, each with its own score 0..=100.
    Choice,
    /// Incidents (complaints, errors): deductions, never in the denominator.
    Count,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    AtMost,
    AtLeast,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PhotoRule {
    #[default]
    None,
    Optional,
    Required,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dimension {
    pub id: Uuid,
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub position: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewDimension {
    /// 1–32 letters, digits, `-`, `_`; unique.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 32, pattern = r"^\s*[A-Za-z0-9_-]+\s*$")
    )]
    pub code: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub name_zh: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub name_en: String,
    /// Order in reports (default: after the others).
    #[serde(default)]
    pub position: Option<i32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DimensionPatch {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub name_zh: Option<String>,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub name_en: Option<String>,
    pub position: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Standard {
    pub id: Uuid,
    pub code: String,
    pub dimension_id: Uuid,
    pub factor: Factor,
    pub text_zh: String,
    pub text_en: String,
    pub guidance_zh: String,
    pub guidance_en: String,
    /// Retired standards stay for history but cannot be published again.
    pub retired: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewStandard {
    /// 1–64 letters, digits, `-`, `_`, `.`; unique.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 64, pattern = r"^\s*[A-Za-z0-9_.-]+\s*$")
    )]
    pub code: String,
    pub dimension_id: Uuid,
    pub factor: Factor,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1000))]
    pub text_zh: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1000))]
    pub text_en: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
    pub guidance_zh: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
    pub guidance_en: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StandardPatch {
    pub dimension_id: Option<Uuid>,
    pub factor: Option<Factor>,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1000))]
    pub text_zh: Option<String>,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1000))]
    pub text_en: Option<String>,
    #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
    pub guidance_zh: Option<String>,
    #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
    pub guidance_en: Option<String>,
    pub retired: Option<bool>,
}

/// One option of a `choice` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChoiceOption {
    pub code: String,
    pub label_zh: String,
    pub label_en: String,
    /// 0..=100: the percentage of the weight this answer earns.
    pub score: i64,
}

/// An item of a draft, as HQ edits it. Numbers are wide so that an
/// out-of-range value is reported by `publish` with its path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DraftItem {
    /// Unique within the checklist.
    pub code: String,
    /// The standard this item checks (by id or by code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standard_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standard_code: Option<String>,
    pub kind: ItemKind,
    /// 1..=100
    pub weight: i64,
    /// Default: the standard's factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<Factor>,
    #[serde(default)]
    pub allow_na: bool,
    #[serde(default)]
    pub photo: PhotoRule,
    #[serde(default)]
    pub min_photos: i64,
    /// Default: the standard's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_zh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_en: Option<String>,
    /// `scale`: 2..=10
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    /// `measure`: the target to meet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<Compare>,
    /// `measure`: unit of the number, for example `s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// `choice`: at least two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<ChoiceOption>>,
    /// `count`: points deducted per incident, ≥ 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points_each: Option<i64>,
    /// `count`: most points deducted, ≥ 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_points: Option<i64>,
}

/// A moment of the customer journey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DraftSection {
    pub code: String,
    pub title_zh: String,
    pub title_en: String,
    #[serde(default)]
    pub items: Vec<DraftItem>,
}

/// A draft checklist's content: what `PUT /api/v1/checklists/{id}` replaces.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChecklistContent {
    #[serde(default)]
    pub sections: Vec<DraftSection>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewChecklist {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub name: String,
    #[serde(default)]
    pub sections: Vec<DraftSection>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChecklistUpdate {
    /// Default: keep the name.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub name: Option<String>,
    pub sections: Vec<DraftSection>,
}

/// A published version, in short.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionSummary {
    pub id: Uuid,
    pub version: i32,
    pub quarter: String,
    pub published_at: DateTime<Utc>,
}

/// A draft checklist and the versions published from it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Checklist {
    pub id: Uuid,
    pub name: String,
    pub sections: Vec<DraftSection>,
    pub versions: Vec<VersionSummary>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// `YYYY-Qn`
    pub quarter: String,
}

/// An item as published: everything a phone needs, frozen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionItem {
    pub id: Uuid,
    pub code: String,
    pub standard_id: Uuid,
    pub standard_code: String,
    /// Dimension code.
    pub dimension: String,
    pub kind: ItemKind,
    pub weight: u32,
    pub factor: Factor,
    pub allow_na: bool,
    pub photo: PhotoRule,
    pub min_photos: u32,
    pub text_zh: String,
    pub text_en: String,
    pub guidance_zh: String,
    pub guidance_en: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<Compare>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<ChoiceOption>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points_each: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_points: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionSection {
    pub code: String,
    pub title_zh: String,
    pub title_en: String,
    pub items: Vec<VersionItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionDimension {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
}

/// A published checklist version: immutable, served with a strong ETag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChecklistVersion {
    pub id: Uuid,
    pub checklist_id: Uuid,
    pub name: String,
    pub version: i32,
    pub quarter: String,
    pub published_at: DateTime<Utc>,
    /// The dimensions its items use, in report order.
    pub dimensions: Vec<VersionDimension>,
    pub sections: Vec<VersionSection>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AssignmentStatus {
    Scheduled,
    Cancelled,
}

impl AssignmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AssignmentStatus::Scheduled => "scheduled",
            AssignmentStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "scheduled" => Some(AssignmentStatus::Scheduled),
            "cancelled" => Some(AssignmentStatus::Cancelled),
            _ => None,
        }
    }
}

/// An auditor's visit to a store, with the checklist version to use. The
/// window is in dates of the store's time zone, both days included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Assignment {
    pub id: Uuid,
    pub store_id: Uuid,
    pub auditor_id: Uuid,
    pub checklist_version_id: Uuid,
    pub window_start: NaiveDate,
    pub window_end: NaiveDate,
    pub status: AssignmentStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewAssignment {
    pub store_id: Uuid,
    pub auditor_id: Uuid,
    pub checklist_version_id: Uuid,
    pub window_start: NaiveDate,
    pub window_end: NaiveDate,
}

/// Reassign (auditor, window) or cancel (`status: cancelled`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AssignmentPatch {
    pub auditor_id: Option<Uuid>,
    pub window_start: Option<NaiveDate>,
    pub window_end: Option<NaiveDate>,
    pub status: Option<AssignmentStatus>,
}

/// What the publish rules need to know of a standard.
#[derive(Debug, Clone)]
pub struct StandardInfo {
    pub id: Uuid,
    pub code: String,
    pub dimension: String,
    pub factor: Factor,
    pub text_zh: String,
    pub text_en: String,
    pub guidance_zh: String,
    pub guidance_en: String,
    pub retired: bool,
}

pub const MAX_PHOTOS_PER_ITEM: i64 = 10;

/// Finds a standard by id or, failing that, by code.
pub type StandardLookup<'a> = dyn Fn(Option<Uuid>, Option<&str>) -> Option<StandardInfo> + 'a;

/// Check a draft against every publish rule and resolve it into the
/// sections of a version. Every problem is reported, each with its path
/// (`sections[1].items[0].weight`). `standard` looks a standard up by id or
/// by code; `new_id` names each published item.
pub fn resolve_for_publish(
    content: &ChecklistContent,
    standard: &StandardLookup<'_>,
    new_id: &mut dyn FnMut() -> Uuid,
) -> Result<Vec<VersionSection>, Vec<ErrorDetail>> {
    let mut errors = Vec::new();
    let mut err = |path: String, msg: &str| errors.push(ErrorDetail::new(path, msg));
    let mut sections = Vec::new();
    let mut section_codes = HashSet::new();
    let mut item_codes = HashSet::new();
    let mut scored = 0usize;
    if content.sections.is_empty() {
        err("sections".into(), "a checklist needs at least one section");
    }
    for (si, s) in content.sections.iter().enumerate() {
        let sp = format!("sections[{si}]");
        if let Err(m) = crate::validate::region_code(&s.code) {
            err(format!("{sp}.code"), &m);
        } else if !section_codes.insert(s.code.trim().to_owned()) {
            err(format!("{sp}.code"), "another section has this code");
        }
        for (field, v) in [("title_zh", &s.title_zh), ("title_en", &s.title_en)] {
            if let Err(m) = crate::validate::text(v, 200) {
                err(format!("{sp}.{field}"), &m);
            }
        }
        if s.items.is_empty() {
            err(format!("{sp}.items"), "a section needs at least one item");
        }
        let mut items = Vec::new();
        for (ii, it) in s.items.iter().enumerate() {
            let p = format!("{sp}.items[{ii}]");
            match crate::validate::store_code(&it.code) {
                Err(m) => err(format!("{p}.code"), &m),
                Ok(c) => {
                    if !item_codes.insert(c) {
                        err(format!("{p}.code"), "another item has this code");
                    }
                }
            }
            let std = match (it.standard_id, it.standard_code.as_deref()) {
                (None, None) => {
                    err(
                        format!("{p}.standard_id"),
                        "an item must refer to a standard (standard_id or standard_code)",
                    );
                    None
                }
                (id, code) => match standard(id, code) {
                    None => {
                        let field = if id.is_some() {
                            "standard_id"
                        } else {
                            "standard_code"
                        };
                        err(format!("{p}.{field}"), "no such standard");
                        None
                    }
                    Some(st) if st.retired => {
                        err(format!("{p}.standard_id"), "the standard is retired");
                        None
                    }
                    Some(st) => Some(st),
                },
            };
            if !(1..=100).contains(&it.weight) {
                err(format!("{p}.weight"), "must be an integer from 1 to 100");
            }
            let factor = it.factor.or(std.as_ref().map(|s| s.factor));
            if factor == Some(Factor::Basic)
                && !matches!(it.kind, ItemKind::YesNo | ItemKind::Measure)
            {
                err(
                    format!("{p}.factor"),
                    "a basic item must be yes_no or measure",
                );
            }
            if it.kind == ItemKind::Count && it.allow_na {
                err(format!("{p}.allow_na"), "a count item cannot be N/A");
            }
            match it.photo {
                PhotoRule::None if it.min_photos != 0 => {
                    err(format!("{p}.min_photos"), "must be 0 when photo is none")
                }
                PhotoRule::Required if !(1..=MAX_PHOTOS_PER_ITEM).contains(&it.min_photos) => err(
                    format!("{p}.min_photos"),
                    "must be from 1 to 10 when a photo is required",
                ),
                PhotoRule::Optional if !(0..=MAX_PHOTOS_PER_ITEM).contains(&it.min_photos) => {
                    err(format!("{p}.min_photos"), "must be from 0 to 10")
                }
                _ => {}
            }
            for (field, v) in [("text_zh", &it.text_zh), ("text_en", &it.text_en)] {
                if let Some(t) = v
                    && let Err(m) = crate::validate::text(t, 1000)
                {
                    err(format!("{p}.{field}"), &m);
                }
            }
            let kind_fields: [(&str, bool, ItemKind); 7] = [
                ("max", it.max.is_some(), ItemKind::Scale),
                ("target", it.target.is_some(), ItemKind::Measure),
                ("compare", it.compare.is_some(), ItemKind::Measure),
                ("unit", it.unit.is_some(), ItemKind::Measure),
                ("options", it.options.is_some(), ItemKind::Choice),
                ("points_each", it.points_each.is_some(), ItemKind::Count),
                ("max_points", it.max_points.is_some(), ItemKind::Count),
            ];
            for (field, present, owner) in kind_fields {
                if present && owner != it.kind {
                    err(format!("{p}.{field}"), "only for items of another kind");
                }
            }
            match it.kind {
                ItemKind::YesNo => {}
                ItemKind::Scale => match it.max {
                    Some(m) if (2..=10).contains(&m) => {}
                    Some(_) => err(format!("{p}.max"), "must be an integer from 2 to 10"),
                    None => err(format!("{p}.max"), "a scale item needs max"),
                },
                ItemKind::Measure => {
                    match it.target {
                        Some(t) if t.is_finite() => {}
                        Some(_) => err(format!("{p}.target"), "must be a finite number"),
                        None => err(format!("{p}.target"), "a measure item needs a target"),
                    }
                    if it.compare.is_none() {
                        err(
                            format!("{p}.compare"),
                            "a measure item needs compare (at_most or at_least)",
                        );
                    }
                    if let Some(u) = &it.unit
                        && let Err(m) = crate::validate::text(u, 16)
                    {
                        err(format!("{p}.unit"), &m);
                    }
                }
                ItemKind::Choice => match &it.options {
                    None => err(format!("{p}.options"), "a choice item needs options"),
                    Some(opts) => {
                        if opts.len() < 2 {
                            err(format!("{p}.options"), "needs at least two options");
                        }
                        let mut codes = HashSet::new();
                        for (oi, o) in opts.iter().enumerate() {
                            let op = format!("{p}.options[{oi}]");
                            if !(0..=100).contains(&o.score) {
                                err(format!("{op}.score"), "must be an integer from 0 to 100");
                            }
                            match crate::validate::store_code(&o.code) {
                                Err(m) => err(format!("{op}.code"), &m),
                                Ok(c) => {
                                    if !codes.insert(c) {
                                        err(format!("{op}.code"), "another option has this code");
                                    }
                                }
                            }
                            for (field, v) in [("label_zh", &o.label_zh), ("label_en", &o.label_en)]
                            {
                                if let Err(m) = crate::validate::text(v, 200) {
                                    err(format!("{op}.{field}"), &m);
                                }
                            }
                        }
                    }
                },
                ItemKind::Count => {
                    match it.points_each {
                        Some(n) if (1..=100).contains(&n) => {}
                        Some(_) => err(
                            format!("{p}.points_each"),
                            "must be an integer from 1 to 100",
                        ),
                        None => err(format!("{p}.points_each"), "a count item needs points_each"),
                    }
                    match it.max_points {
                        Some(n) if (1..=100).contains(&n) => {}
                        Some(_) => err(
                            format!("{p}.max_points"),
                            "must be an integer from 1 to 100",
                        ),
                        None => err(format!("{p}.max_points"), "a count item needs max_points"),
                    }
                }
            }
            if it.kind != ItemKind::Count
                && matches!(factor, Some(Factor::Basic | Factor::Performance))
            {
                scored += 1;
            }
            if let Some(st) = std {
                let to_u32 = |v: i64| u32::try_from(v).unwrap_or(0);
                items.push(VersionItem {
                    id: new_id(),
                    code: it.code.trim().to_owned(),
                    standard_id: st.id,
                    standard_code: st.code.clone(),
                    dimension: st.dimension.clone(),
                    kind: it.kind,
                    weight: to_u32(it.weight),
                    factor: factor.unwrap_or(st.factor),
                    allow_na: it.allow_na,
                    photo: it.photo,
                    min_photos: to_u32(it.min_photos),
                    text_zh: it
                        .text_zh
                        .clone()
                        .unwrap_or(st.text_zh.clone())
                        .trim()
                        .to_owned(),
                    text_en: it
                        .text_en
                        .clone()
                        .unwrap_or(st.text_en.clone())
                        .trim()
                        .to_owned(),
                    guidance_zh: st.guidance_zh.clone(),
                    guidance_en: st.guidance_en.clone(),
                    max: it.max.map(to_u32),
                    target: it.target,
                    compare: it.compare,
                    unit: it.unit.as_ref().map(|u| u.trim().to_owned()),
                    options: it.options.clone(),
                    points_each: it.points_each.map(to_u32),
                    max_points: it.max_points.map(to_u32),
                });
            }
        }
        sections.push(VersionSection {
            code: s.code.trim().to_owned(),
            title_zh: s.title_zh.trim().to_owned(),
            title_en: s.title_en.trim().to_owned(),
            items,
        });
    }
    if scored == 0 && !content.sections.is_empty() {
        err(
            "sections".into(),
            "needs at least one scored item (basic or performance, not count)",
        );
    }
    if errors.is_empty() {
        Ok(sections)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(code: &str, factor: Factor, retired: bool) -> StandardInfo {
        StandardInfo {
            id: Uuid::from_u128(code.len() as u128 + factor as u128 * 100),
            code: code.into(),
            dimension: "reliability".into(),
            factor,
            text_zh: format!("{code} 中文"),
            text_en: format!("{code} English"),
            guidance_zh: String::new(),
            guidance_en: String::new(),
            retired,
        }
    }

    fn item(code: &str, std: &str, kind: ItemKind) -> DraftItem {
        DraftItem {
            code: code.into(),
            standard_id: None,
            standard_code: Some(std.into()),
            kind,
            weight: 10,
            factor: None,
            allow_na: false,
            photo: PhotoRule::None,
            min_photos: 0,
            text_zh: None,
            text_en: None,
            max: None,
            target: None,
            compare: None,
            unit: None,
            options: None,
            points_each: None,
            max_points: None,
        }
    }

    fn lookup() -> impl Fn(Option<Uuid>, Option<&str>) -> Option<StandardInfo> {
        let all = [
            info("B", Factor::Basic, false),
            info("PP", Factor::Performance, false),
            info("MMM", Factor::Motivation, false),
            info("RRRR", Factor::Performance, true),
        ];
        move |_, code| all.iter().find(|s| Some(s.code.as_str()) == code).cloned()
    }

    fn content(items: Vec<DraftItem>) -> ChecklistContent {
        ChecklistContent {
            sections: vec![DraftSection {
                code: "s".into(),
                title_zh: "节".into(),
                title_en: "Section".into(),
                items,
            }],
        }
    }

    fn paths(c: &ChecklistContent) -> Vec<String> {
        match resolve_for_publish(c, &lookup(), &mut Uuid::new_v4) {
            Ok(_) => Vec::new(),
            Err(e) => e.into_iter().map(|d| d.field).collect(),
        }
    }

    #[test]
    fn resolves_texts_factor_and_dimension_from_the_standard() {
        let mut scale = item("Q2", "PP", ItemKind::Scale);
        scale.max = Some(4);
        scale.text_en = Some("  Own words  ".into());
        let c = content(vec![item("Q1", "B", ItemKind::YesNo), scale]);
        let sections = resolve_for_publish(&c, &lookup(), &mut Uuid::new_v4).expect("valid");
        let items = &sections[0].items;
        assert_eq!(
            items[0].factor,
            Factor::Basic,
            "inherited from the standard"
        );
        assert_eq!(items[0].text_en, "B English");
        assert_eq!(items[0].dimension, "reliability");
        assert_eq!(items[1].text_en, "Own words");
        assert_eq!(items[1].max, Some(4));
    }

    #[test]
    fn basic_items_must_be_yes_no_or_measure() {
        let mut choice = item("Q1", "B", ItemKind::Choice);
        choice.options = Some(vec![
            ChoiceOption {
                code: "a".into(),
                label_zh: "好".into(),
                label_en: "Good".into(),
                score: 100,
            },
            ChoiceOption {
                code: "b".into(),
                label_zh: "差".into(),
                label_en: "Poor".into(),
                score: 0,
            },
        ]);
        assert_eq!(
            paths(&content(vec![choice])),
            ["sections[0].items[0].factor"]
        );
        let mut measure = item("Q1", "B", ItemKind::Measure);
        measure.target = Some(180.0);
        measure.compare = Some(Compare::AtMost);
        assert!(paths(&content(vec![measure])).is_empty());
    }

    #[test]
    fn bonus_and_deductions_alone_are_not_enough() {
        let mut count = item("C", "PP", ItemKind::Count);
        count.points_each = Some(5);
        count.max_points = Some(10);
        let bonus = item("M", "MMM", ItemKind::YesNo);
        assert_eq!(paths(&content(vec![count, bonus])), ["sections"]);
    }

    #[test]
    fn fields_of_another_kind_and_retired_standards_are_refused() {
        let mut yes_no = item("Q1", "PP", ItemKind::YesNo);
        yes_no.max = Some(5);
        let retired = item("Q2", "RRRR", ItemKind::YesNo);
        assert_eq!(
            paths(&content(vec![yes_no, retired])),
            [
                "sections[0].items[0].max",
                "sections[0].items[1].standard_id"
            ]
        );
    }

    #[test]
    fn photo_rules() {
        let mut a = item("Q1", "PP", ItemKind::YesNo);
        a.photo = PhotoRule::Required;
        a.min_photos = 11;
        let mut b = item("Q2", "PP", ItemKind::YesNo);
        b.min_photos = 1;
        let mut ok = item("Q3", "PP", ItemKind::YesNo);
        ok.photo = PhotoRule::Required;
        ok.min_photos = 2;
        assert_eq!(
            paths(&content(vec![a, b, ok])),
            [
                "sections[0].items[0].min_photos",
                "sections[0].items[1].min_photos"
            ]
        );
    }
}
