//! Head office's read views of the organisation: regions, stores (with the
//! CSV import), users and checklists. Changes beyond the import are made
//! through the API, which each page links to.

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use storecheck_shared::Role;
use uuid::Uuid;

use super::session::Viewer;
use super::{Chrome, Posted, given, page_with, uuid_field, when};
use crate::db::{self, paging};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::AppState;

const PAGE: u64 = 100;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub cursor: Option<String>,
    pub region: Option<String>,
    pub q: Option<String>,
    pub done: Option<String>,
}

/// One table of an HQ page: headings, rows of cells, and where its API is
/// documented.
pub struct Table {
    pub id: &'static str,
    pub headings: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    pub more: Option<String>,
    pub api: &'static str,
}

pub struct Problem {
    pub line: String,
    pub field: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "org.html")]
struct OrgPage {
    c: Chrome,
    tab: &'static str,
    table: Table,
    /// The stores page's import form.
    import: bool,
    csv: String,
    problems: Vec<Problem>,
    search: String,
}

fn more(path: &str, next: Option<String>, extra: &[(&str, Option<&str>)]) -> Option<String> {
    next.map(|c| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in extra {
            if let Some(v) = v {
                s.append_pair(k, v);
            }
        }
        s.append_pair("cursor", &c);
        format!("{path}?{}", s.finish())
    })
}

/// The codes of the regions a page's rows name.
async fn region_codes(
    state: &AppState,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, String>, ApiError> {
    let mut ids: Vec<Uuid> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    db::regions::codes(&state.db, &ids).await
}

fn org_page(v: &Viewer, tab: &'static str, title: &'static str, table: Table) -> OrgPage {
    OrgPage {
        c: Chrome::new(v, "hq", v.t().s(title)),
        tab,
        table,
        import: false,
        csv: String::new(),
        problems: Vec::new(),
        search: String::new(),
    }
}

pub async fn regions(
    State(state): State<AppState>,
    v: Viewer,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    v.caller.require_hq()?;
    let t = v.t();
    let after = paging::decode(given(&q.cursor))?;
    let rows = db::regions::list(&state.db, &v.caller.scope(), after, PAGE).await?;
    let (rows, next) = paging::page(rows, PAGE, |r| r.id);
    let table = Table {
        id: "regions",
        headings: vec![t.s("field.code"), t.s("field.name"), t.s("field.created")],
        rows: rows
            .into_iter()
            .map(|r| vec![r.code, r.name, when(&r.created_at)])
            .collect(),
        more: more("/hq/regions", next, &[]),
        api: "/docs/#/organisation",
    };
    let p = org_page(&v, "regions", "hq.regions", table);
    page_with(StatusCode::OK, &p)
}

async fn stores_page(state: &AppState, v: &Viewer, q: &ListQuery) -> Result<OrgPage, ApiError> {
    let t = v.t();
    let scope = v.caller.scope();
    let after = paging::decode(given(&q.cursor))?;
    let region_id = uuid_field("region", &q.region)?;
    let rows = db::stores::list(
        &state.db,
        &scope,
        db::stores::Filter {
            region_id,
            q: given(&q.q).map(str::to_owned),
        },
        after,
        PAGE,
    )
    .await?;
    let (rows, next) = paging::page(rows, PAGE, |s| s.id);
    let regions = region_codes(state, rows.iter().map(|s| s.region_id)).await?;
    let table = Table {
        id: "stores",
        headings: vec![
            t.s("field.code"),
            t.s("field.name"),
            t.s("field.region"),
            t.s("field.address"),
            t.s("field.timezone"),
        ],
        rows: rows
            .into_iter()
            .map(|s| {
                vec![
                    s.code,
                    s.name,
                    regions.get(&s.region_id).cloned().unwrap_or_default(),
                    s.address,
                    s.timezone,
                ]
            })
            .collect(),
        more: more(
            "/hq/stores",
            next,
            &[("region", given(&q.region)), ("q", given(&q.q))],
        ),
        api: "/docs/#/organisation",
    };
    let mut p = org_page(v, "stores", "hq.stores", table);
    p.import = true;
    p.search = given(&q.q).unwrap_or("").to_owned();
    if given(&q.done) == Some("import") {
        p.c.notice = Some(t.s("done.import").to_owned());
    }
    Ok(p)
}

pub async fn stores(
    State(state): State<AppState>,
    v: Viewer,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    v.caller.require_hq()?;
    let p = stores_page(&state, &v, &q).await?;
    page_with(StatusCode::OK, &p)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ImportForm {
    csv: String,
}

/// The CSV import of `POST /api/v1/stores/import`, from a pasted (or, with
/// the page's script, chosen) file: all rows or none.
pub async fn import(
    State(state): State<AppState>,
    Posted(v, f): Posted<ImportForm>,
) -> Result<Response, ApiError> {
    v.caller.require_hq()?;
    if f.csv.len() > state.config.max_import_bytes {
        return Err(ApiError::payload_too_large(state.config.max_import_bytes));
    }
    let csv = axum::body::Bytes::from(f.csv);
    match crate::org::stores::import_csv(&state.db, csv.clone()).await {
        Ok(created) => {
            let mut p = stores_page(&state, &v, &ListQuery::default()).await?;
            p.c.notice = Some(format!("{} ({})", v.t().s("done.import"), created.len()));
            page_with(StatusCode::OK, &p)
        }
        Err(e) if e.status.is_client_error() => {
            let mut p = stores_page(&state, &v, &ListQuery::default()).await?;
            p.c.error = Some(e.message.clone());
            p.problems = e
                .details
                .iter()
                .map(|d| Problem {
                    line: d.line.map(|l| l.to_string()).unwrap_or_default(),
                    field: d.field.clone(),
                    message: d.message.clone(),
                })
                .collect();
            // The text as pasted, to correct in place.
            p.csv = String::from_utf8_lossy(&csv).into_owned();
            page_with(e.status, &p)
        }
        Err(e) => Err(e),
    }
}

pub async fn users(
    State(state): State<AppState>,
    v: Viewer,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    v.caller.require_hq()?;
    let t = v.t();
    let scope = v.caller.scope();
    let after = paging::decode(given(&q.cursor))?;
    let rows = db::users::list(
        &state.db,
        &scope,
        db::users::Filter {
            role: None,
            region_id: uuid_field("region", &q.region)?,
            disabled: None,
            q: given(&q.q).map(str::to_owned),
        },
        after,
        PAGE,
    )
    .await?;
    let (rows, next) = paging::page(rows, PAGE, |u| u.id);
    let regions = region_codes(
        &state,
        rows.iter().flat_map(|u| u.region_ids.iter().copied()),
    )
    .await?;
    let table = Table {
        id: "users",
        headings: vec![
            t.s("field.email"),
            t.s("field.role"),
            t.s("field.regions"),
            t.s("field.disabled"),
        ],
        rows: rows
            .into_iter()
            .map(|u| {
                let mut codes: Vec<String> = u
                    .region_ids
                    .iter()
                    .filter_map(|r| regions.get(r).cloned())
                    .collect();
                codes.sort_unstable();
                vec![
                    u.email,
                    t.role(u.role.as_str()).to_owned(),
                    if u.role == Role::Hq {
                        "*".to_owned()
                    } else {
                        codes.join(", ")
                    },
                    if u.disabled { t.s("yes") } else { "" }.to_owned(),
                ]
            })
            .collect(),
        more: more("/hq/users", next, &[("q", given(&q.q))]),
        api: "/docs/#/organisation",
    };
    let mut p = org_page(&v, "users", "hq.users", table);
    p.search = given(&q.q).unwrap_or("").to_owned();
    page_with(StatusCode::OK, &p)
}

pub async fn checklists(
    State(state): State<AppState>,
    v: Viewer,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    v.caller.require_hq()?;
    let t = v.t();
    let after = paging::decode(given(&q.cursor))?;
    let rows = db::catalog::list_checklists(&state.db, after, PAGE).await?;
    let (rows, next) = paging::page(rows, PAGE, |c| c.id);
    let ids: Vec<Uuid> = rows.iter().map(|c| c.id).collect();
    let versions = db::catalog::versions_of(&state.db, &ids).await?;
    let table = Table {
        id: "checklists",
        headings: vec![
            t.s("field.name"),
            t.s("field.version"),
            t.s("field.quarter"),
            t.s("field.published"),
        ],
        rows: rows
            .into_iter()
            .map(|c| {
                let latest = versions.get(&c.id).and_then(|v| v.last());
                vec![
                    c.name,
                    latest.map_or_else(|| "–".to_owned(), |v| format!("v{}", v.version)),
                    latest.map_or_else(String::new, |v| v.quarter.clone()),
                    latest.map_or_else(String::new, |v| when(&v.published_at)),
                ]
            })
            .collect(),
        more: more("/hq/checklists", next, &[]),
        api: "/docs/#/catalog",
    };
    let p = org_page(&v, "checklists", "hq.checklists", table);
    page_with(StatusCode::OK, &p)
}
