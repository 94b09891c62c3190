//! One audit as a reviewer reads it, and the review forms.
//!
//! The page is `GET /api/v1/audits/{id}` (the same use-case, scope and
//! photo URLs) laid out by the checklist version's sections, with the
//! standard's text in both languages; the forms post to the same review
//! use-case as `POST /api/v1/audits/{id}/review`.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use storecheck_shared::catalog::{ChecklistVersion, ItemKind, VersionItem};
use storecheck_shared::review::{AuditAction, OverrideRequest, ReviewAction, ReviewRequest};
use storecheck_shared::sync::{AuditDetail, AuditStatus, PhotoState};
use uuid::Uuid;

use super::i18n::Tr;
use super::session::Viewer;
use super::{Chrome, Posted, explain, given, page_with, path_id, points, see_other, when};
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

pub struct PhotoCard {
    pub id: Uuid,
    pub thumbnail: Option<String>,
    pub review: Option<String>,
    pub state_text: &'static str,
    pub flags: Vec<String>,
    pub matches: usize,
    pub taken: String,
    pub size: String,
}

pub struct OptionChoice {
    pub code: String,
    pub label: String,
}

pub struct ItemRow {
    pub id: Uuid,
    pub code: String,
    pub standard_code: String,
    pub text: String,
    pub text_other: String,
    pub guidance: String,
    /// The kind's code, for the correction form's input.
    pub kind: &'static str,
    pub answer: String,
    pub failed: bool,
    pub note: Option<String>,
    /// What the phone said, when a reviewer corrected it; and why.
    pub phone_said: Option<String>,
    pub override_reason: Option<String>,
    pub allow_na: bool,
    pub unit: String,
    pub max: Option<u32>,
    pub options: Vec<OptionChoice>,
    pub photos: Vec<PhotoCard>,
}

pub struct SectionBlock {
    pub code: String,
    pub title: String,
    pub score: String,
    pub items: Vec<ItemRow>,
}

pub struct Score {
    pub code: String,
    pub name: String,
    pub score: String,
}

pub struct Event {
    pub at: String,
    pub who: String,
    pub what: &'static str,
    pub revision: i64,
    pub comment: String,
}

pub struct RevisionRow {
    pub revision: i64,
    pub received: String,
    pub skew: String,
    pub score: String,
    pub critical: bool,
    pub flags: Vec<String>,
    pub in_force: bool,
}

pub struct ConflictRow {
    pub revision: i64,
    pub reason: String,
    pub received: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    c: Chrome,
    id: Uuid,
    store: String,
    auditor: String,
    checklist: String,
    status: AuditStatus,
    status_text: &'static str,
    revision: i64,
    visited: String,
    total: String,
    base: String,
    bonus: String,
    deductions: String,
    critical: bool,
    rescored: bool,
    checkin: String,
    flags: Vec<String>,
    review_comment: Option<String>,
    sections: Vec<SectionBlock>,
    section_scores: Vec<Score>,
    dimension_scores: Vec<Score>,
    photos_waiting: u32,
    revisions: Vec<RevisionRow>,
    conflicts: Vec<ConflictRow>,
    history: Vec<Event>,
    reviewable: bool,
    comment: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    done: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    v: Viewer,
    Path(raw): Path<String>,
    Query(d): Query<Done>,
) -> Result<Response, ApiError> {
    let id = path_id(&raw, "audit")?;
    let mut p = load(&state, &v, id).await?;
    let t = v.t();
    p.c.notice = match given(&d.done) {
        Some("approve") => Some(t.s("done.approve").to_owned()),
        Some("return") => Some(t.s("done.return").to_owned()),
        Some("reject") => Some(t.s("done.reject").to_owned()),
        Some("override") => Some(t.s("done.override").to_owned()),
        _ => None,
    };
    page_with(StatusCode::OK, &p)
}

/// What the review forms send (the decision form, or one correction),
/// besides the CSRF token `Posted` checks.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReviewForm {
    action: String,
    revision: Option<i64>,
    comment: Option<String>,
    item_id: Option<String>,
    value: Option<String>,
    na: Option<String>,
    reason: Option<String>,
}

pub async fn review(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Posted(v, f): Posted<ReviewForm>,
) -> Result<Response, ApiError> {
    let id = path_id(&raw, "audit")?;
    let outcome = match request(&state, &v, id, &f).await {
        Ok(req) => {
            crate::audits::review::review(
                &state.db,
                &state.versions,
                &state.log,
                &v.caller,
                id,
                req,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => Ok(see_other(&format!("/audits/{id}?done={}", f.action))),
        Err(e) if e.status == StatusCode::NOT_FOUND || e.status == StatusCode::FORBIDDEN => Err(e),
        Err(e) => {
            // The page again, as it is now, with what went wrong and what
            // the reviewer typed.
            let mut p = load(&state, &v, id).await?;
            p.c.error = Some(explain(&e));
            p.comment = f.comment.unwrap_or_default();
            page_with(e.status, &p)
        }
    }
}

/// The review request a form stands for.
async fn request(
    state: &AppState,
    v: &Viewer,
    id: Uuid,
    f: &ReviewForm,
) -> Result<ReviewRequest, ApiError> {
    let action = match f.action.as_str() {
        "approve" => ReviewAction::Approve,
        "return" => ReviewAction::Return,
        "reject" => ReviewAction::Reject,
        "override" => ReviewAction::Override,
        _ => {
            return Err(ApiError::invalid_field(
                "action",
                "choose approve, return or reject",
            ));
        }
    };
    let mut overrides = Vec::new();
    if action == ReviewAction::Override {
        let item_id = super::uuid_field("item_id", &f.item_id)?
            .ok_or_else(|| ApiError::invalid_field("item_id", "which answer to correct"))?;
        let audit = db::audits::visible(&state.db, &v.caller.scope(), id).await?;
        let version = state
            .versions
            .get(&state.db, audit.checklist_version_id)
            .await?
            .ok_or_else(|| crate::audits::corrupt(format!("audit {id} has no version")))?;
        let item = version
            .sections
            .iter()
            .flat_map(|s| s.items.iter())
            .find(|i| i.id == item_id)
            .ok_or_else(|| ApiError::invalid_field("item_id", "not an item of this audit"))?;
        let na = given(&f.na).is_some();
        let value = if na {
            None
        } else {
            Some(form_value(item, given(&f.value))?)
        };
        overrides.push(OverrideRequest {
            item_id,
            value,
            na,
            reason: f.reason.clone().unwrap_or_default(),
        });
    }
    let revision = f
        .revision
        .ok_or_else(|| ApiError::invalid_field("revision", "which revision was read"))?;
    Ok(ReviewRequest {
        action,
        revision,
        comment: f.comment.clone().filter(|c| !c.trim().is_empty()),
        overrides,
    })
}

/// A corrected answer as typed in the form, as a phone would write it.
pub fn form_value(item: &VersionItem, text: Option<&str>) -> Result<Value, ApiError> {
    let missing = || ApiError::invalid_field("value", "give the corrected answer");
    let text = text.ok_or_else(missing)?;
    let not_number = || ApiError::invalid_field("value", "must be a number");
    Ok(match item.kind {
        ItemKind::YesNo => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(ApiError::invalid_field("value", "yes or no")),
        },
        ItemKind::Scale | ItemKind::Count => {
            Value::from(text.parse::<i64>().map_err(|_| not_number())?)
        }
        ItemKind::Measure => {
            let n: f64 = text.replace(',', ".").parse().map_err(|_| not_number())?;
            serde_json::Number::from_f64(n)
                .map(Value::Number)
                .ok_or_else(not_number)?
        }
        ItemKind::Choice => Value::String(text.to_owned()),
    })
}

fn kind_code(k: ItemKind) -> &'static str {
    match k {
        ItemKind::YesNo => "yes_no",
        ItemKind::Scale => "scale",
        ItemKind::Measure => "measure",
        ItemKind::Choice => "choice",
        ItemKind::Count => "count",
    }
}

/// An answer as the page shows it.
pub fn show_value(t: Tr, item: Option<&VersionItem>, na: bool, v: Option<&Value>) -> String {
    if na {
        return t.s("audit.na").to_owned();
    }
    let Some(v) = v else {
        return t.s("audit.unanswered").to_owned();
    };
    match (item, v) {
        (_, Value::Bool(true)) => t.s("yes").to_owned(),
        (_, Value::Bool(false)) => t.s("no").to_owned(),
        (Some(i), Value::String(code)) => i
            .options
            .iter()
            .flatten()
            .find(|o| &o.code == code)
            .map_or_else(
                || code.clone(),
                |o| t.lang().pick(&o.label_en, &o.label_zh).to_owned(),
            ),
        (Some(i), Value::Number(n)) => {
            let unit = i.unit.as_deref().unwrap_or("");
            match (i.kind, i.max) {
                (ItemKind::Scale, Some(max)) => format!("{n} / {max}"),
                _ if unit.is_empty() => n.to_string(),
                _ => format!("{n} {unit}"),
            }
        }
        (_, other) => other.to_string(),
    }
}

fn event_name(t: Tr, a: AuditAction) -> &'static str {
    t.s(match a {
        AuditAction::Resubmitted => "event.resubmitted",
        AuditAction::Approved => "event.approved",
        AuditAction::Returned => "event.returned",
        AuditAction::Rejected => "event.rejected",
        AuditAction::Overridden => "event.overridden",
    })
}

/// A visit's start and end, the date once when it is the same day.
pub fn visit_span(
    start: &chrono::DateTime<chrono::Utc>,
    end: &chrono::DateTime<chrono::Utc>,
) -> String {
    if start.date_naive() == end.date_naive() {
        format!(
            "{} {}–{} UTC",
            start.format("%Y-%m-%d"),
            start.format("%H:%M"),
            end.format("%H:%M")
        )
    } else {
        format!("{} – {}", when(start), when(end))
    }
}

fn bytes(n: u64) -> String {
    if n >= 1024 * 1024 {
        format!("{:.1} MB", n as f64 / (1024.0 * 1024.0))
    } else {
        format!("{} KB", n.div_ceil(1024))
    }
}

/// The page of an audit as it is now.
async fn load(state: &AppState, v: &Viewer, id: Uuid) -> Result<AuditPage, ApiError> {
    let d: AuditDetail = crate::routes::audits::detail_for(state, &v.caller, id).await?;
    let version = state
        .versions
        .get(&state.db, d.audit.checklist_version_id)
        .await?
        .ok_or_else(|| crate::audits::corrupt(format!("audit {id} has no version")))?;
    let store = super::store_labels(state, [d.audit.store_id])
        .await?
        .remove(&d.audit.store_id)
        .unwrap_or_default();
    let auditor = db::users::emails(&state.db, &[d.audit.auditor_id])
        .await?
        .remove(&d.audit.auditor_id)
        .unwrap_or_default();
    Ok(layout(v, &d, &version, store, auditor))
}

fn layout(
    v: &Viewer,
    d: &AuditDetail,
    version: &ChecklistVersion,
    store: String,
    auditor: String,
) -> AuditPage {
    let t = v.t();
    let lang = v.lang;
    let answers: HashMap<Uuid, _> = d.answers.iter().map(|a| (a.item_id, a)).collect();
    let mut photos: HashMap<Uuid, Vec<PhotoCard>> = HashMap::new();
    for p in &d.photos {
        photos.entry(p.item_id).or_default().push(PhotoCard {
            id: p.id,
            thumbnail: p.urls.as_ref().and_then(|u| u.thumbnail.clone()),
            review: p
                .urls
                .as_ref()
                .map(|u| u.review.clone().unwrap_or_else(|| u.original.clone())),
            state_text: t.s(match p.state {
                PhotoState::PendingUpload => "photo.pending_upload",
                PhotoState::Uploaded => "photo.uploaded",
                PhotoState::Processed => "photo.processed",
                PhotoState::Invalid => "photo.invalid",
            }),
            flags: p.flags.iter().map(|f| t.flag(f)).collect(),
            matches: p.matches.len(),
            taken: p.taken_at.as_ref().map(when).unwrap_or_default(),
            size: bytes(p.bytes),
        });
    }
    let section_score: HashMap<&str, Option<i64>> = d
        .score
        .sections
        .iter()
        .map(|s| (s.code.as_str(), s.score))
        .collect();
    let sections = version
        .sections
        .iter()
        .map(|s| SectionBlock {
            code: s.code.clone(),
            title: lang.pick(&s.title_en, &s.title_zh).to_owned(),
            score: super::opt_points(section_score.get(s.code.as_str()).copied().flatten()),
            items: s
                .items
                .iter()
                .map(|i| {
                    let a = answers.get(&i.id);
                    let (answer, phone_said, override_reason) = match a {
                        None => (t.s("audit.unanswered").to_owned(), None, None),
                        Some(a) => match &a.override_ {
                            None => (show_value(t, Some(i), a.na, a.value.as_ref()), None, None),
                            Some(o) => (
                                show_value(t, Some(i), o.na, o.value.as_ref()),
                                Some(show_value(t, Some(i), a.na, a.value.as_ref())),
                                Some(o.reason.clone()),
                            ),
                        },
                    };
                    ItemRow {
                        id: i.id,
                        code: i.code.clone(),
                        standard_code: i.standard_code.clone(),
                        text: lang.pick(&i.text_en, &i.text_zh).to_owned(),
                        text_other: lang.other().pick(&i.text_en, &i.text_zh).to_owned(),
                        guidance: lang.pick(&i.guidance_en, &i.guidance_zh).to_owned(),
                        kind: kind_code(i.kind),
                        answer,
                        failed: a.is_some_and(|a| a.failed),
                        note: a.and_then(|a| a.note.clone()),
                        phone_said,
                        override_reason,
                        allow_na: i.allow_na,
                        unit: i.unit.clone().unwrap_or_default(),
                        max: i.max,
                        options: i
                            .options
                            .iter()
                            .flatten()
                            .map(|o| OptionChoice {
                                code: o.code.clone(),
                                label: lang.pick(&o.label_en, &o.label_zh).to_owned(),
                            })
                            .collect(),
                        photos: photos.remove(&i.id).unwrap_or_default(),
                    }
                })
                .collect(),
        })
        .collect();
    let section_scores = d
        .score
        .sections
        .iter()
        .map(|s| Score {
            name: version
                .sections
                .iter()
                .find(|x| x.code == s.code)
                .map(|x| lang.pick(&x.title_en, &x.title_zh).to_owned())
                .unwrap_or_default(),
            code: s.code.clone(),
            score: super::opt_points(s.score),
        })
        .collect();
    let dimension_scores = d
        .score
        .dimensions
        .iter()
        .map(|s| Score {
            name: version
                .dimensions
                .iter()
                .find(|x| x.code == s.code)
                .map(|x| lang.pick(&x.name_en, &x.name_zh).to_owned())
                .unwrap_or_default(),
            code: s.code.clone(),
            score: super::opt_points(s.score),
        })
        .collect();
    let a = &d.audit;
    let c = Chrome::new(v, "queue", format!("{} · {}", t.s("audit.title"), store));
    AuditPage {
        c,
        id: a.id,
        store,
        auditor,
        checklist: format!(
            "{} v{} · {}",
            version.name, version.version, version.quarter
        ),
        status: a.status,
        status_text: t.status(a.status.as_str()),
        revision: a.revision,
        visited: visit_span(&a.started_at, &a.finished_at),
        total: points(d.score.total),
        base: points(d.score.base),
        bonus: points(d.score.bonus),
        deductions: points(d.score.deductions),
        critical: d.score.critical_failure,
        rescored: d.score.overridden,
        checkin: d
            .score
            .checkin_distance_m
            .map(|m| format!("{m:.0} m"))
            .unwrap_or_else(|| t.s("audit.no_checkin").to_owned()),
        flags: a.flags.iter().map(|f| t.flag(f)).collect(),
        review_comment: a.review_comment.clone(),
        sections,
        section_scores,
        dimension_scores,
        photos_waiting: d
            .photo_progress
            .listed
            .saturating_sub(d.photo_progress.received),
        revisions: d
            .revisions
            .iter()
            .rev()
            .map(|r| RevisionRow {
                revision: r.revision,
                received: when(&r.received_at),
                skew: format!("{:+.1} s", r.skew_ms as f64 / 1000.0),
                score: points(r.total),
                critical: r.critical_failure,
                flags: r.flags.iter().map(|f| t.flag(f)).collect(),
                in_force: r.revision == a.revision,
            })
            .collect(),
        conflicts: d
            .conflicts
            .iter()
            .map(|c| ConflictRow {
                revision: c.revision,
                reason: c.reason.clone(),
                received: when(&c.received_at),
            })
            .collect(),
        history: d
            .history
            .iter()
            .rev()
            .map(|e| Event {
                at: when(&e.at),
                who: e
                    .actor_email
                    .clone()
                    .unwrap_or_else(|| t.s("audit.phone").to_owned()),
                what: event_name(t, e.action),
                revision: e.revision,
                comment: e.comment.clone().unwrap_or_default(),
            })
            .collect(),
        reviewable: a.status == AuditStatus::Submitted,
        comment: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::i18n::Lang;
    use storecheck_shared::catalog::{ChoiceOption, Factor, PhotoRule};

    fn item(kind: ItemKind) -> VersionItem {
        VersionItem {
            id: Uuid::nil(),
            code: "I1".into(),
            standard_id: Uuid::nil(),
            standard_code: "S1".into(),
            dimension: "D".into(),
            kind,
            weight: 1,
            factor: Factor::Performance,
            allow_na: true,
            photo: PhotoRule::None,
            min_photos: 0,
            text_zh: "问候".into(),
            text_en: "Greets".into(),
            guidance_zh: String::new(),
            guidance_en: String::new(),
            max: Some(5),
            target: None,
            compare: None,
            unit: Some("s".into()),
            options: Some(vec![ChoiceOption {
                code: "good".into(),
                label_zh: "好".into(),
                label_en: "Good".into(),
                score: 100,
            }]),
            points_each: None,
            max_points: None,
        }
    }

    #[test]
    fn form_values_are_written_as_a_phone_writes_them() {
        let yn = item(ItemKind::YesNo);
        assert_eq!(form_value(&yn, Some("true")).ok(), Some(Value::Bool(true)));
        assert_eq!(
            form_value(&yn, Some("false")).ok(),
            Some(Value::Bool(false))
        );
        assert!(form_value(&yn, Some("maybe")).is_err());
        assert!(form_value(&yn, None).is_err());
        let scale = item(ItemKind::Scale);
        assert_eq!(form_value(&scale, Some("4")).ok(), Some(Value::from(4)));
        assert!(form_value(&scale, Some("4.5")).is_err());
        let m = item(ItemKind::Measure);
        assert_eq!(form_value(&m, Some("2,5")).ok(), Some(Value::from(2.5)));
        assert!(form_value(&m, Some("NaN")).is_err());
        let ch = item(ItemKind::Choice);
        assert_eq!(
            form_value(&ch, Some("good")).ok(),
            Some(Value::String("good".into()))
        );
    }

    #[test]
    fn a_visit_names_its_day_once() {
        let t = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().expect("time");
        assert_eq!(
            visit_span(&t("2026-11-02T09:05:00Z"), &t("2026-11-02T09:40:00Z")),
            "2026-11-02 09:05–09:40 UTC"
        );
        assert_eq!(
            visit_span(&t("2026-11-02T23:50:00Z"), &t("2026-11-03T00:20:00Z")),
            "2026-11-02 23:50 UTC – 2026-11-03 00:20 UTC"
        );
    }

    #[test]
    fn answers_read_in_the_page_language() {
        let zh = Tr(Lang::Zh);
        let en = Tr(Lang::En);
        let ch = item(ItemKind::Choice);
        assert_eq!(
            show_value(en, Some(&ch), false, Some(&Value::from("good"))),
            "Good"
        );
        assert_eq!(
            show_value(zh, Some(&ch), false, Some(&Value::from("good"))),
            "好"
        );
        assert_eq!(show_value(en, Some(&ch), true, None), "N/A");
        assert_eq!(show_value(en, Some(&ch), false, None), "not answered");
        let scale = item(ItemKind::Scale);
        assert_eq!(
            show_value(en, Some(&scale), false, Some(&Value::from(3))),
            "3 / 5"
        );
        let m = item(ItemKind::Measure);
        assert_eq!(
            show_value(en, Some(&m), false, Some(&Value::from(42))),
            "42 s"
        );
        assert_eq!(show_value(zh, None, false, Some(&Value::Bool(true))), "是");
    }
}
