//! Corrective actions: overdue first, by store and status, and the form
//! that marks one resolved.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;
use storecheck_shared::review::{ActionPatch, ActionStatus, CorrectiveAction};
use uuid::Uuid;

use super::session::{Viewer, local_path};
use super::{
    Choice, Chrome, Posted, explain, given, page_with, path_id, region_choices, see_other,
    store_labels, uuid_field,
};
use crate::db::{self, paging};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::AppState;

/// Actions per list (overdue, the others) per page.
const PAGE: u64 = 100;

#[derive(Debug, Default, Deserialize)]
pub struct ActionQuery {
    pub store: Option<String>,
    pub region: Option<String>,
    pub status: Option<String>,
    /// Where the list of those not overdue resumes.
    pub cursor: Option<String>,
    /// Where the overdue list resumes.
    pub overdue_cursor: Option<String>,
    pub done: Option<String>,
}

pub struct Row {
    pub id: Uuid,
    pub store: String,
    pub standard_code: String,
    pub standard: String,
    pub item_code: String,
    pub answer: String,
    pub status: &'static str,
    pub status_text: &'static str,
    pub due: String,
    pub overdue: bool,
    pub reopened: i64,
    pub audit_id: Uuid,
    pub note: String,
    pub photo: Option<String>,
    pub resolvable: bool,
    /// The resolve form sent for this action failed: open it again.
    pub retry: bool,
}

pub struct List {
    pub id: &'static str,
    pub heading: &'static str,
    pub rows: Vec<Row>,
    pub more: Option<String>,
}

#[derive(Template)]
#[template(path = "actions.html")]
struct ActionsPage {
    c: Chrome,
    store: String,
    statuses: Vec<Choice>,
    regions: Vec<Choice>,
    /// Overdue first, then the others.
    lists: [List; 2],
    here: String,
    note: String,
}

fn status_code(s: ActionStatus) -> &'static str {
    match s {
        ActionStatus::Open => "open",
        ActionStatus::Resolved => "resolved",
        ActionStatus::Verified => "verified",
    }
}

pub async fn show(
    State(state): State<AppState>,
    v: Viewer,
    ApiQuery(q): ApiQuery<ActionQuery>,
) -> Result<Response, ApiError> {
    let mut p = load(&state, &v, &q).await?;
    if given(&q.done) == Some("resolved") {
        p.c.notice = Some(v.t().s("done.resolved").to_owned());
    }
    page_with(StatusCode::OK, &p)
}

async fn load(state: &AppState, v: &Viewer, q: &ActionQuery) -> Result<ActionsPage, ApiError> {
    let t = v.t();
    let scope = v.caller.scope();
    let status = match given(&q.status) {
        None => None,
        Some("open") => Some(ActionStatus::Open),
        Some("resolved") => Some(ActionStatus::Resolved),
        Some("verified") => Some(ActionStatus::Verified),
        Some(_) => {
            return Err(ApiError::bad_request("invalid_query", "unknown status")
                .with_detail("status", "open, resolved or verified"));
        }
    };
    let region_id = uuid_field("region", &q.region)?;
    let store_id = match given(&q.store) {
        None => None,
        Some(code) => Some(
            db::stores::by_code(&state.db, &scope, code)
                .await?
                .map_or(Uuid::nil(), |s| s.id),
        ),
    };
    let today = Utc::now().date_naive();
    let filter = |overdue| db::actions::Filter {
        store_id,
        region_id,
        status: status.map(Into::into),
        overdue: Some(overdue),
        today: Some(today),
    };
    let late_after = paging::decode(given(&q.overdue_cursor))?;
    let rest_after = paging::decode(given(&q.cursor))?;
    let late = db::actions::list(&state.db, &scope, filter(true), late_after, PAGE).await?;
    let (late, late_next) = paging::page(late, PAGE, |a| a.id);
    let rest = db::actions::list(&state.db, &scope, filter(false), rest_after, PAGE).await?;
    let (rest, rest_next) = paging::page(rest, PAGE, |a| a.id);

    let all: Vec<_> = late.iter().chain(rest.iter()).cloned().collect();
    let regions = crate::audits::actions::regions_of(&state.db, &all).await?;
    let stores = store_labels(state, all.iter().map(|a| a.store_id)).await?;
    let mut codes: Vec<String> = all.iter().map(|a| a.standard_code.clone()).collect();
    codes.sort_unstable();
    codes.dedup();
    let texts = db::catalog::standard_texts(&state.db, &codes).await?;
    let row = |a: CorrectiveAction| Row {
        id: a.id,
        store: stores.get(&a.store_id).cloned().unwrap_or_default(),
        standard: texts
            .get(&a.standard_code)
            .map(|(en, zh)| v.lang.pick(en, zh).to_owned())
            .unwrap_or_default(),
        standard_code: a.standard_code,
        item_code: a.item_code,
        answer: super::audit::show_value(t, None, false, Some(&a.answer)),
        status: status_code(a.status),
        status_text: t.status(status_code(a.status)),
        due: a.due_on.to_string(),
        overdue: a.overdue,
        reopened: a.reopened,
        audit_id: a.audit_id,
        note: a.resolution_note.unwrap_or_default(),
        photo: a.photo.map(|p| p.url),
        resolvable: a.status == ActionStatus::Open,
        retry: false,
    };
    let mut overdue = Vec::with_capacity(late.len());
    for a in late {
        overdue.push(row(crate::audits::actions::view(
            &state.storage,
            &regions,
            today,
            a,
        )
        .await?));
    }
    let mut others = Vec::with_capacity(rest.len());
    for a in rest {
        others.push(row(crate::audits::actions::view(
            &state.storage,
            &regions,
            today,
            a,
        )
        .await?));
    }

    let base = {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, val) in [
            ("store", given(&q.store)),
            ("region", given(&q.region)),
            ("status", given(&q.status)),
        ] {
            if let Some(val) = val {
                s.append_pair(k, val);
            }
        }
        s.finish()
    };
    let more = |key: &str, c: Option<String>| {
        c.map(|c| {
            let mut s = form_urlencoded::Serializer::new(base.clone());
            s.append_pair(key, &c);
            format!("/actions?{}", s.finish())
        })
    };
    let status_now = given(&q.status).unwrap_or("");
    let statuses = std::iter::once(Choice::new("", t.s("queue.all"), status_now))
        .chain(
            ["open", "resolved", "verified"]
                .into_iter()
                .map(|s| Choice::new(s, t.status(s), status_now)),
        )
        .collect();
    let regions = region_choices(
        state,
        &scope,
        t.s("queue.any"),
        given(&q.region).unwrap_or(""),
    )
    .await?;
    Ok(ActionsPage {
        c: Chrome::new(v, "actions", t.s("actions.title")),
        store: given(&q.store).unwrap_or("").to_owned(),
        statuses,
        regions,
        lists: [
            List {
                id: "overdue",
                heading: "actions.overdue",
                rows: overdue,
                more: more("overdue_cursor", late_next),
            },
            List {
                id: "others",
                heading: "actions.others",
                rows: others,
                more: more("cursor", rest_next),
            },
        ],
        here: if base.is_empty() {
            "/actions".to_owned()
        } else {
            format!("/actions?{base}")
        },
        note: String::new(),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResolveForm {
    note: Option<String>,
    back: Option<String>,
}

pub async fn resolve(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Posted(v, f): Posted<ResolveForm>,
) -> Result<Response, ApiError> {
    let id = path_id(&raw, "corrective action")?;
    let patch = ActionPatch {
        status: Some(ActionStatus::Resolved),
        note: f.note.clone(),
        due_on: None,
        photo: None,
    };
    let back = local_path(given(&f.back));
    let back = if back.starts_with("/actions") {
        back
    } else {
        "/actions".to_owned()
    };
    match crate::audits::actions::patch(&state.db, &state.storage, &v.caller, id, patch).await {
        Ok(_) => {
            let sep = if back.contains('?') { '&' } else { '?' };
            Ok(see_other(&format!("{back}{sep}done=resolved")))
        }
        Err(e) if e.status == StatusCode::NOT_FOUND || e.status == StatusCode::FORBIDDEN => Err(e),
        Err(e) => {
            let query = back.split_once('?').map_or("", |(_, q)| q);
            let q: ActionQuery = serde_urlencoded::from_str(query).unwrap_or_default();
            let mut p = load(&state, &v, &q).await?;
            p.c.error = Some(explain(&e));
            p.note = f.note.unwrap_or_default();
            for row in p.lists.iter_mut().flat_map(|l| l.rows.iter_mut()) {
                row.retry = row.id == id;
            }
            page_with(e.status, &p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_status_has_its_code() {
        for s in [
            ActionStatus::Open,
            ActionStatus::Resolved,
            ActionStatus::Verified,
        ] {
            let wire = serde_json::to_value(s).expect("status");
            assert_eq!(wire.as_str(), Some(status_code(s)));
        }
    }
}
