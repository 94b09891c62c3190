//! The review queue: audits newest first, with filters, counts by status
//! and pages of older audits.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use storecheck_shared::Role;
use storecheck_shared::quarter::Quarter;
use storecheck_shared::sync::AuditStatus;
use uuid::Uuid;

use super::session::Viewer;
use super::{Choice, Chrome, given, page, points, region_choices, store_labels, uuid_field, when};
use crate::db::{self, audits, paging};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::AppState;

/// Audits per page of the queue.
const PAGE: u64 = 50;
/// Most auditors offered in the auditor filter.
const AUDITOR_CHOICES: u64 = 500;

/// The queue's filters, as the filter form sends them (empty = any).
#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    pub status: Option<String>,
    pub region: Option<String>,
    pub store: Option<String>,
    pub auditor: Option<String>,
    pub quarter: Option<String>,
    pub flagged: Option<String>,
    pub cursor: Option<String>,
}

pub struct Row {
    pub id: Uuid,
    pub store: String,
    pub auditor: String,
    pub status: AuditStatus,
    pub status_text: &'static str,
    pub score: String,
    pub critical: bool,
    /// What each evidence flag means.
    pub flags: Vec<String>,
    pub finished: String,
    pub revision: i64,
}

pub struct Count {
    pub text: &'static str,
    pub n: i64,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct Queue {
    c: Chrome,
    statuses: Vec<Choice>,
    regions: Vec<Choice>,
    auditors: Vec<Choice>,
    flagged: Vec<Choice>,
    store: String,
    quarter: String,
    counts: Vec<Count>,
    rows: Vec<Row>,
    older: Option<String>,
    newest: Option<String>,
}

/// The query string of the filters (without the cursor), with `status`
/// replaced when given.
fn filter_query(q: &QueueQuery, status: Option<Option<&str>>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    let status = status.unwrap_or(given(&q.status));
    for (k, v) in [
        ("status", status),
        ("region", given(&q.region)),
        ("store", given(&q.store)),
        ("auditor", given(&q.auditor)),
        ("quarter", given(&q.quarter)),
        ("flagged", given(&q.flagged)),
    ] {
        if let Some(v) = v {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

pub async fn show(
    State(state): State<AppState>,
    v: Viewer,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> Result<Response, ApiError> {
    let t = v.t();
    let scope = v.caller.scope();
    let status = match given(&q.status) {
        None => None,
        Some(s) => Some(AuditStatus::parse(s).ok_or_else(|| {
            ApiError::bad_request("invalid_query", "unknown status")
                .with_detail("status", "submitted, returned, approved or rejected")
        })?),
    };
    let quarter = given(&q.quarter)
        .map(|s| {
            Quarter::parse(s).map(|q| q.to_string()).map_err(|e| {
                ApiError::bad_request("invalid_query", e.clone()).with_detail("quarter", e)
            })
        })
        .transpose()?;
    let flagged = match given(&q.flagged) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(
                ApiError::bad_request("invalid_query", "flagged is true or false")
                    .with_detail("flagged", "true or false"),
            );
        }
    };
    let region_id = uuid_field("region", &q.region)?;
    let auditor_id = uuid_field("auditor", &q.auditor)?;
    let after = paging::decode(given(&q.cursor))?;
    // A store code nobody can see matches no audit (not an error: the
    // filter is typed by hand).
    let store_id = match given(&q.store) {
        None => None,
        Some(code) => Some(
            db::stores::by_code(&state.db, &scope, code)
                .await?
                .map_or(Uuid::nil(), |s| s.id),
        ),
    };
    let filter = || audits::Filter {
        status: status.map(Into::into),
        region_id,
        store_id,
        auditor_id,
        quarter: quarter.clone(),
        flagged,
        newest_first: true,
    };
    let rows = audits::list(&state.db, &scope, filter(), after, PAGE).await?;
    let (rows, older) = paging::page(rows, PAGE, |a| a.id);
    let counted = audits::count_by_status(&state.db, &scope, filter()).await?;

    let stores = store_labels(&state, rows.iter().map(|a| a.store_id)).await?;
    let mut auditor_ids: Vec<Uuid> = rows.iter().map(|a| a.auditor_id).collect();
    auditor_ids.sort_unstable();
    auditor_ids.dedup();
    let emails = db::users::emails(&state.db, &auditor_ids).await?;

    let rows = rows
        .into_iter()
        .map(|a| {
            let s = crate::audits::view::summary(a)?;
            Ok(Row {
                id: s.id,
                store: stores.get(&s.store_id).cloned().unwrap_or_default(),
                auditor: emails.get(&s.auditor_id).cloned().unwrap_or_default(),
                status: s.status,
                status_text: t.status(s.status.as_str()),
                score: points(s.total),
                critical: s.critical_failure,
                flags: s.flags.iter().map(|f| t.flag(f)).collect(),
                finished: when(&s.finished_at),
                revision: s.revision,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;

    let all = [
        AuditStatus::Submitted,
        AuditStatus::Returned,
        AuditStatus::Approved,
        AuditStatus::Rejected,
    ];
    let current = given(&q.status);
    let status_now = current.unwrap_or("");
    let statuses = std::iter::once(Choice::new("", t.s("queue.all"), status_now))
        .chain(
            all.iter()
                .map(|s| Choice::new(s.as_str(), t.status(s.as_str()), status_now)),
        )
        .collect();
    let mut counts: Vec<Count> = all
        .iter()
        .map(|s| Count {
            text: t.status(s.as_str()),
            n: counted
                .iter()
                .filter(|(c, _)| AuditStatus::from(*c) == *s)
                .map(|(_, n)| *n)
                .sum(),
            href: format!("/audits?{}", filter_query(&q, Some(Some(s.as_str())))),
            current: current == Some(s.as_str()),
        })
        .collect();
    let total: i64 = counts.iter().map(|c| c.n).sum();
    counts.insert(
        0,
        Count {
            text: t.s("queue.all"),
            n: total,
            href: format!("/audits?{}", filter_query(&q, Some(None))),
            current: current.is_none(),
        },
    );

    let any = t.s("queue.any");
    let regions = region_choices(&state, &scope, any, given(&q.region).unwrap_or("")).await?;
    let auditor_now = given(&q.auditor).unwrap_or("");
    let auditors = std::iter::once(Choice::new("", any, auditor_now))
        .chain(
            db::users::list(
                &state.db,
                &scope,
                db::users::Filter {
                    role: Some(Role::Auditor),
                    region_id: None,
                    disabled: None,
                    q: None,
                },
                None,
                AUDITOR_CHOICES,
            )
            .await?
            .into_iter()
            .map(|u| Choice::new(u.id.to_string(), u.email, auditor_now)),
        )
        .collect();
    let flagged_now = given(&q.flagged).unwrap_or("");
    let flagged = vec![
        Choice::new("", any, flagged_now),
        Choice::new("true", t.s("queue.flagged_only"), flagged_now),
        Choice::new("false", t.s("queue.unflagged_only"), flagged_now),
    ];
    let base = filter_query(&q, None);
    let older = older.map(|c| {
        let mut s = form_urlencoded::Serializer::new(base.clone());
        s.append_pair("cursor", &c);
        format!("/audits?{}", s.finish())
    });
    let newest = after.map(|_| format!("/audits?{base}"));
    page(&Queue {
        c: Chrome::new(&v, "queue", t.s("queue.title")),
        statuses,
        regions,
        auditors,
        flagged,
        store: given(&q.store).unwrap_or("").to_owned(),
        quarter: given(&q.quarter).unwrap_or("").to_owned(),
        counts,
        rows,
        older,
        newest,
    })
}
