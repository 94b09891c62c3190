//! What phones and the server exchange when they sync (SPEC §6), and the
//! check of an audit against the checklist version it was made with.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::catalog::{Assignment, ChecklistVersion, ItemKind, VersionItem};
use crate::error::ErrorDetail;
use crate::org::Store;
use crate::scoring::Response;

pub const MAX_PHOTOS_PER_AUDIT: usize = 200;
pub const MAX_PHOTO_BYTES: u64 = 50 * 1024 * 1024;
/// Photo types the server decodes. HEIC is not among them: phones convert
/// it to JPEG before sending.
pub const PHOTO_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];

/// `POST /api/v1/sync/push`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// The phone's clock when it sent this request; the server measures
    /// the skew against its own clock.
    pub device_clock: DateTime<Utc>,
    pub audits: Vec<AuditPayload>,
}

/// One audit as the phone made it. The same `id` and `revision` with the
/// same content may be sent any number of times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AuditPayload {
    /// Made by the phone.
    pub id: Uuid,
    /// 1 for the first submission; one more for each resubmission.
    pub revision: i64,
    pub assignment_id: Uuid,
    pub checklist_version_id: Uuid,
    /// Device time when the visit started and ended.
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    #[serde(default)]
    pub checkin: Option<GeoPoint>,
    pub answers: Vec<AnswerPayload>,
    #[serde(default)]
    pub photos: Vec<PhotoManifest>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GeoPoint {
    pub latitude: f64,
    pub longitude: f64,
    /// Metres, as the phone reports it.
    #[serde(default)]
    pub accuracy_m: Option<f64>,
}

/// The answer to one item: a `value` of the item's kind, or `na: true`.
/// `yes_no`: true/false; `scale`: 0..=max; `measure`: a number; `choice`:
/// an option code; `count`: a whole number ≥ 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AnswerPayload {
    pub item_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    #[serde(default)]
    pub na: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photo_ids: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PhotoManifest {
    pub id: Uuid,
    pub item_id: Uuid,
    /// Hex SHA-256 of the file.
    pub sha256: String,
    pub bytes: u64,
    pub content_type: String,
    #[serde(default)]
    pub taken_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PushOutcome {
    /// Stored now.
    Accepted,
    /// Already stored with the same content; nothing changed.
    Duplicate,
    /// Not stored: see `errors`; fix and send again.
    Rejected,
    /// Kept aside for the reviewer, not applied: the audit was already
    /// closed, or this revision was sent before with other content.
    Conflict,
    /// A lower revision than the one in force: kept in the history, never
    /// in force. `current.revision` is the revision in force; nothing to
    /// resend.
    Superseded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuditStatus {
    Submitted,
    Returned,
    Approved,
    Rejected,
}

impl AuditStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditStatus::Submitted => "submitted",
            AuditStatus::Returned => "returned",
            AuditStatus::Approved => "approved",
            AuditStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            AuditStatus::Submitted,
            AuditStatus::Returned,
            AuditStatus::Approved,
            AuditStatus::Rejected,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// Where a photo is on its way from the phone to the reviewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PhotoState {
    /// Listed by the phone; the file has not reached storage yet.
    PendingUpload,
    /// The file is stored and verified; processing waits.
    Uploaded,
    /// Derivatives made, checks run.
    Processed,
    /// The file cannot be used (see the reason).
    Invalid,
}

/// The server's state of an audit, as a push reply or pull entry tells it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditState {
    pub id: Uuid,
    pub status: AuditStatus,
    /// The revision in force.
    pub revision: i64,
    /// Total score in hundredths (8533 = 85.33).
    pub total: i64,
    pub critical_failure: bool,
    pub flags: Vec<String>,
    pub updated_at: DateTime<Utc>,
    /// The reviewer's comment when the audit was returned (what to fix) or
    /// rejected (why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_comment: Option<String>,
    /// How many of the photos the revision in force lists the server has
    /// received; in pull answers (absent in push replies, whose `uploads`
    /// list what to send).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photos: Option<PhotoProgress>,
}

/// The photo files of an audit's revision in force: "3 of 5 received".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhotoProgress {
    /// Photos the revision lists.
    pub listed: u32,
    /// Of those, files the server holds (`uploaded`, `processed` or `invalid`).
    pub received: u32,
    /// Of those, processed into derivatives.
    pub processed: u32,
    /// Of those, files that cannot be evidence (see each photo's reason).
    pub invalid: u32,
    /// Photos still expected from the phone: upload each (ask
    /// `POST /api/v1/photos/{id}/upload-url`).
    pub waiting: Vec<Uuid>,
}

/// Another audit's photo that looks the same as this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhotoMatch {
    pub photo_id: Uuid,
    pub audit_id: Uuid,
    /// Bits of the 64-bit perceptual hash that differ (0 for the same file).
    pub distance: u32,
    /// `true` when the file is byte for byte the same (same SHA-256).
    pub same_file: bool,
}

/// Short-lived presigned GET URLs for a photo, given to reviewers only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhotoUrls {
    /// About 320 px on the longer side, JPEG without metadata.
    pub thumbnail: Option<String>,
    /// About 1600 px on the longer side, JPEG without metadata.
    pub review: Option<String>,
    /// The file as the phone sent it.
    pub original: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResult {
    pub id: Uuid,
    pub revision: i64,
    pub outcome: PushOutcome,
    /// Why a `rejected` audit was refused, by field or item.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorDetail>,
    /// The server's state (after this push), when the audit exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<AuditState>,
    /// For every photo of the revision in force whose file the server has
    /// not received yet: where to upload it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uploads: Vec<PhotoUpload>,
}

/// Where and how to upload one photo file: send `method` to `url` with
/// exactly the `headers` listed and the file's bytes as the body, then
/// `POST /api/v1/photos/{photo_id}/complete`. The store refuses other
/// bytes, another length or type, and the URL after `expires_at`; ask
/// `POST /api/v1/photos/{photo_id}/upload-url` for a fresh one at any time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhotoUpload {
    pub photo_id: Uuid,
    /// `PUT`
    pub method: String,
    pub url: String,
    /// Header names (lower case) and the exact values to send.
    pub headers: std::collections::BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// A photo's state after `POST /api/v1/photos/{id}/complete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhotoStatus {
    pub id: Uuid,
    pub audit_id: Uuid,
    pub state: PhotoState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResponse {
    pub results: Vec<PushResult>,
}

/// `GET /api/v1/sync/pull`: what changed for the auditor since `cursor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullResponse {
    /// Send back as `cursor` next time.
    pub cursor: String,
    /// More changes wait: pull again with the new cursor at once.
    pub has_more: bool,
    /// Assignments new or changed, in force.
    pub assignments: Vec<Assignment>,
    /// Assignments cancelled or moved to another auditor: drop them (keep
    /// any audit made for them and push it; it is kept and flagged).
    pub removed_assignments: Vec<Uuid>,
    /// The stores of `assignments`.
    pub stores: Vec<Store>,
    /// Checklist versions the assignments use: fetch each once from
    /// `/api/v1/checklist-versions/{id}` (immutable).
    pub checklist_version_ids: Vec<Uuid>,
    /// Audits of this auditor whose review state changed; the first page
    /// of a pull without a cursor lists every audit returned to the auditor.
    pub audits: Vec<AuditState>,
}

/// One answer read against its item: the response it gives, or what is wrong.
pub fn answer_value(item: &VersionItem, a: &AnswerPayload) -> Result<Response, String> {
    if a.na {
        if a.value.is_some() {
            return Err("give a value or na, not both".into());
        }
        if item.kind == ItemKind::Count || !item.allow_na {
            return Err("this item cannot be N/A".into());
        }
        return Ok(Response::NotApplicable);
    }
    let Some(v) = &a.value else {
        return Err("missing value (or na: true)".into());
    };
    match item.kind {
        ItemKind::YesNo => v
            .as_bool()
            .map(Response::YesNo)
            .ok_or_else(|| "must be true or false".into()),
        ItemKind::Scale => {
            let max = item.max.unwrap_or(0);
            match whole_number(v) {
                Some(n) if n <= u64::from(max) => {
                    Ok(Response::Scale(u32::try_from(n).unwrap_or(0)))
                }
                _ => Err(format!("must be a whole number from 0 to {max}")),
            }
        }
        ItemKind::Measure => match v.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => Ok(Response::Measure(x)),
            _ => Err("must be a number ≥ 0".into()),
        },
        ItemKind::Choice => {
            let code = v.as_str().ok_or("must be the code of an option")?;
            if item.options.iter().flatten().any(|o| o.code == code) {
                Ok(Response::Choice(code.to_owned()))
            } else {
                Err(format!("{code:?} is not an option of this item"))
            }
        }
        ItemKind::Count => match whole_number(v) {
            Some(n) if n <= 10_000 => Ok(Response::Count(u32::try_from(n).unwrap_or(0))),
            _ => Err("must be a whole number from 0 to 10000".into()),
        },
    }
}

/// A whole number ≥ 0 however the phone spelled it: `2`, `2.0` and `2e0`
/// are all 2; `2.5` is none.
fn whole_number(v: &serde_json::Value) -> Option<u64> {
    if let Some(n) = v.as_u64() {
        return Some(n);
    }
    let x = v.as_f64()?;
    // Exact below 2^53; anything larger is out of every range anyway.
    (x.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(&x)).then_some(x as u64)
}

/// Most revisions one audit may have.
pub const MAX_REVISION: i64 = 10_000;

/// Whether a device time is plausible (years 2000 to 2100); anything else
/// is a broken clock or a forged value.
pub fn plausible_time(t: DateTime<Utc>) -> bool {
    use chrono::Datelike;
    (2000..=2100).contains(&t.year())
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Check an audit against its own checklist version: every item answered
/// once, with a value of the item's kind and range or N/A where allowed,
/// required photos listed, a sound photo manifest. Returns each item's
/// response, or every problem with its path.
pub fn check_audit(
    version: &ChecklistVersion,
    audit: &AuditPayload,
) -> Result<HashMap<Uuid, Response>, Vec<ErrorDetail>> {
    let mut errors = Vec::new();
    let mut err = |field: String, msg: &str| errors.push(ErrorDetail::new(field, msg));
    if !(1..=MAX_REVISION).contains(&audit.revision) {
        err(
            "revision".into(),
            &format!("must be from 1 to {MAX_REVISION}"),
        );
    }
    for (field, t) in [
        ("started_at", audit.started_at),
        ("finished_at", audit.finished_at),
    ] {
        if !plausible_time(t) {
            err(
                field.into(),
                "must be a time between the years 2000 and 2100",
            );
        }
    }
    if audit.checklist_version_id != version.id {
        err(
            "checklist_version_id".into(),
            "does not match the version checked against",
        );
    }
    if audit.finished_at < audit.started_at {
        err("finished_at".into(), "must not be before started_at");
    }
    if let Some(c) = audit.checkin {
        if crate::validate::latitude(c.latitude).is_err() {
            err("checkin.latitude".into(), "must be a number from -90 to 90");
        }
        if crate::validate::longitude(c.longitude).is_err() {
            err(
                "checkin.longitude".into(),
                "must be a number from -180 to 180",
            );
        }
        if c.accuracy_m.is_some_and(|a| !a.is_finite() || a < 0.0) {
            err("checkin.accuracy_m".into(), "must be a number ≥ 0");
        }
    }
    let items: HashMap<Uuid, &VersionItem> = version
        .sections
        .iter()
        .flat_map(|s| s.items.iter())
        .map(|i| (i.id, i))
        .collect();
    let mut photos_by_id: HashMap<Uuid, &PhotoManifest> = HashMap::new();
    if audit.photos.len() > MAX_PHOTOS_PER_AUDIT {
        err(
            "photos".into(),
            &format!("at most {MAX_PHOTOS_PER_AUDIT} photos per audit"),
        );
    }
    for (i, p) in audit.photos.iter().enumerate() {
        let path = format!("photos[{i}]");
        if photos_by_id.insert(p.id, p).is_some() {
            err(format!("{path}.id"), "another photo has this id");
        }
        if !items.contains_key(&p.item_id) {
            err(
                format!("{path}.item_id"),
                "no such item in this checklist version",
            );
        }
        if !is_sha256(&p.sha256) {
            err(format!("{path}.sha256"), "must be 64 hexadecimal digits");
        }
        if p.taken_at.is_some_and(|t| !plausible_time(t)) {
            err(
                format!("{path}.taken_at"),
                "must be a time between the years 2000 and 2100",
            );
        }
        if p.bytes == 0 || p.bytes > MAX_PHOTO_BYTES {
            err(
                format!("{path}.bytes"),
                &format!("must be from 1 to {MAX_PHOTO_BYTES}"),
            );
        }
        if p.content_type == "image/heic" || p.content_type == "image/heif" {
            err(
                format!("{path}.content_type"),
                "HEIC/HEIF photos cannot be processed: convert the photo to image/jpeg before sending it",
            );
        } else if !PHOTO_TYPES.contains(&p.content_type.as_str()) {
            err(
                format!("{path}.content_type"),
                "must be image/jpeg, image/png or image/webp",
            );
        }
    }
    let mut responses = HashMap::new();
    let mut seen = HashSet::new();
    for (i, a) in audit.answers.iter().enumerate() {
        let path = format!("answers[{i}]");
        let Some(item) = items.get(&a.item_id) else {
            err(
                format!("{path}.item_id"),
                "no such item in this checklist version",
            );
            continue;
        };
        if !seen.insert(a.item_id) {
            err(format!("{path}.item_id"), "this item is answered twice");
            continue;
        }
        if a.answered_at.is_some_and(|t| !plausible_time(t)) {
            err(
                format!("{path}.answered_at"),
                "must be a time between the years 2000 and 2100",
            );
        }
        if a.note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
            err(format!("{path}.note"), "must be at most 2000 characters");
        }
        for (j, pid) in a.photo_ids.iter().enumerate() {
            match photos_by_id.get(pid) {
                None => err(
                    format!("{path}.photo_ids[{j}]"),
                    "not in the audit's photo list",
                ),
                Some(p) if p.item_id != a.item_id => err(
                    format!("{path}.photo_ids[{j}]"),
                    "the photo belongs to another item",
                ),
                Some(_) => {}
            }
        }
        match answer_value(item, a) {
            Err(m) => err(format!("{path}.value"), &m),
            Ok(r) => {
                let photos = audit.photos.iter().filter(|p| p.item_id == item.id).count();
                if r != Response::NotApplicable
                    && item.photo == crate::catalog::PhotoRule::Required
                    && photos < usize::try_from(item.min_photos).unwrap_or(usize::MAX)
                {
                    err(
                        format!("{path}.photo_ids"),
                        &format!("this item needs at least {} photo(s)", item.min_photos),
                    );
                }
                if photos
                    > usize::try_from(crate::catalog::MAX_PHOTOS_PER_ITEM).unwrap_or(usize::MAX)
                {
                    err(format!("{path}.photo_ids"), "at most 10 photos per item");
                }
                responses.insert(item.id, r);
            }
        }
    }
    for section in &version.sections {
        for item in &section.items {
            if !seen.contains(&item.id) {
                err(
                    format!("items.{}", item.code),
                    &format!("item {} ({}) is not answered", item.code, item.id),
                );
            }
        }
    }
    if errors.is_empty() {
        Ok(responses)
    } else {
        Err(errors)
    }
}

/// Great-circle distance in metres.
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let r = 6_371_008.8;
    let (la1, lo1, la2, lo2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * r * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_in_any_spelling() {
        let n = |s: &str| whole_number(&serde_json::from_str(s).expect("json"));
        assert_eq!(n("2"), Some(2));
        assert_eq!(n("2.0"), Some(2));
        assert_eq!(n("2e0"), Some(2));
        assert_eq!(n("-0.0"), Some(0));
        assert_eq!(n("2.5"), None);
        assert_eq!(n("-1"), None);
        assert_eq!(n("-1.0"), None);
        assert_eq!(n("1e300"), None);
        assert_eq!(n("\"2\""), None);
    }

    #[test]
    fn distances() {
        let shanghai = (31.2304, 121.4737);
        assert!(distance_m(shanghai, shanghai) < 0.001);
        // One thousandth of a degree of latitude is about 111 m.
        let d = distance_m(shanghai, (31.2314, 121.4737));
        assert!((110.0..112.5).contains(&d), "{d}");
        let beijing = (39.9042, 116.4074);
        let d = distance_m(shanghai, beijing);
        assert!((1_060_000.0..1_075_000.0).contains(&d), "{d}");
    }
}

/// An audit as listed for review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditSummary {
    pub id: Uuid,
    pub assignment_id: Uuid,
    pub auditor_id: Uuid,
    pub store_id: Uuid,
    pub checklist_version_id: Uuid,
    pub status: AuditStatus,
    pub revision: i64,
    /// Hundredths (8533 = 85.33).
    pub total: i64,
    pub critical_failure: bool,
    /// Evidence flags: `visit_outside_window`, `checkin_outside_geofence`,
    /// `no_checkin`, `assignment_cancelled`, `assignment_reassigned`,
    /// `version_differs_from_assignment`.
    pub flags: Vec<String>,
    /// As the phone's clock said.
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Corrected by the phone's measured clock skew.
    pub started_at_server: DateTime<Utc>,
    pub finished_at_server: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The last review: its comment (why returned or rejected), who and when.
    pub review_comment: Option<String>,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeScore {
    pub code: String,
    /// Hundredths; null when nothing in it was scored.
    pub score: Option<i64>,
}

/// The scores of the revision in force, in hundredths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScoreBreakdown {
    pub total: i64,
    pub base: i64,
    pub bonus: i64,
    pub deductions: i64,
    pub critical_failure: bool,
    pub sections: Vec<CodeScore>,
    pub dimensions: Vec<CodeScore>,
    pub failed_items: Vec<Uuid>,
    /// Distance of the check-in from the store, when there was one.
    pub checkin_distance_m: Option<f64>,
    /// The scores are those after a reviewer's overrides, not the phone's
    /// revision as sent (which `revisions` keeps).
    #[serde(default)]
    pub overridden: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnswerView {
    pub item_id: Uuid,
    pub item_code: String,
    pub kind: ItemKind,
    pub na: bool,
    /// true/false, a number, or an option code; null when N/A.
    pub value: Option<serde_json::Value>,
    /// Failed as the audit is scored: after any override.
    pub failed: bool,
    pub note: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
    /// A reviewer's correction; `na` and `value` above stay the phone's.
    #[serde(rename = "override", default, skip_serializing_if = "Option::is_none")]
    pub override_: Option<crate::review::AnswerOverride>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhotoView {
    pub id: Uuid,
    pub item_id: Uuid,
    pub sha256: String,
    pub bytes: u64,
    pub content_type: String,
    pub taken_at: Option<DateTime<Utc>>,
    pub state: PhotoState,
    /// Why the file cannot be evidence, when `invalid`.
    pub invalid_reason: Option<String>,
    /// Evidence flags found by processing: `photo_taken_outside_visit`,
    /// `photo_off_site`, `photo_reused`, `photo_file_in_other_audit`.
    /// Never a reason to drop the photo.
    pub flags: Vec<String>,
    /// Photos of other audits that look the same (`photo_reused`) or are
    /// the same file.
    pub matches: Vec<PhotoMatch>,
    /// When the camera says it was taken (EXIF), as processing read it.
    pub exif_taken_at: Option<DateTime<Utc>>,
    /// Where the camera says it was taken (EXIF GPS).
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// Upright size of the original, once processed.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// For reviewers (managers in scope, HQ): where to fetch the file and
    /// its derivatives; absent for auditors and before the file arrived.
    pub urls: Option<PhotoUrls>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevisionView {
    pub revision: i64,
    pub received_at: DateTime<Utc>,
    pub device_clock: DateTime<Utc>,
    /// Server clock minus phone clock when it was pushed.
    pub skew_ms: i64,
    pub total: i64,
    pub critical_failure: bool,
    pub flags: Vec<String>,
}

/// A payload that was kept but not applied (SPEC §6: nothing is lost).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConflictView {
    pub id: Uuid,
    pub revision: i64,
    /// `audit_closed` or `revision_reused`.
    pub reason: String,
    pub received_at: DateTime<Utc>,
    pub payload: AuditPayload,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditDetail {
    #[serde(flatten)]
    pub audit: AuditSummary,
    pub score: ScoreBreakdown,
    pub answers: Vec<AnswerView>,
    pub photos: Vec<PhotoView>,
    pub photo_progress: PhotoProgress,
    pub revisions: Vec<RevisionView>,
    pub conflicts: Vec<ConflictView>,
    /// Every review transition, override and resubmission, oldest first.
    pub history: Vec<crate::review::AuditEvent>,
}
