//! Compliance for managers (their regions) and HQ: the quarter's store
//! table (sortable), region roll-ups, charts, the downloads, and a store's
//! page with its trend over quarters.
//!
//! The figures come from the same `compliance::Quarterly` reads as
//! `/api/v1/compliance/*`, in one snapshot per page. The page holds every
//! store row of the regions shown, to sort them.

use std::cmp::Ordering;
use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;
use storecheck_shared::compliance::{Band, BandCounts, StoreCompliance};
use storecheck_shared::quarter::Quarter;
use uuid::Uuid;

use super::charts::{self, Bar};
use super::i18n::{Lang, Tr};
use super::session::Viewer;
use super::{
    Choice, Chrome, given, opt_points, page, path_id, points, region_choices, signed_points,
    uuid_field,
};
use crate::db;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::routes::compliance::{ExportParams, csv_download, snapshot, xlsx_download};
use crate::state::AppState;

/// Stores per page of the table.
const PAGE: usize = 100;
/// Quarters a store's trend goes back.
const TREND_QUARTERS: usize = 8;
/// Standards in the Pareto chart.
const PARETO: usize = 12;

#[derive(Debug, Default, Deserialize)]
pub struct ComplianceQuery {
    pub quarter: Option<String>,
    pub region: Option<String>,
    pub band: Option<String>,
    pub sort: Option<String>,
    pub dir: Option<String>,
    pub page: Option<String>,
}

pub struct StoreRow {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub region: String,
    pub audits: i64,
    pub score: String,
    pub band: &'static str,
    pub band_text: &'static str,
    pub critical: bool,
    pub trend: String,
    pub trend_class: &'static str,
    pub rank: String,
}

pub struct RegionRow {
    pub code: String,
    pub name: String,
    pub stores: i64,
    pub audited: i64,
    pub mean: String,
    pub bands: BandCounts,
}

pub struct Column {
    pub key: &'static str,
    pub label: &'static str,
    pub href: String,
    /// `aria-sort`: ascending, descending or none.
    pub sort: &'static str,
    pub numeric: bool,
}

pub struct Failure {
    pub code: String,
    pub text: String,
    pub failed: i64,
    pub assessed: i64,
    pub rate: String,
}

#[derive(Template)]
#[template(path = "compliance.html")]
struct CompliancePage {
    c: Chrome,
    quarter: String,
    quarters: Vec<Choice>,
    regions: Vec<Choice>,
    bands: Vec<Choice>,
    columns: Vec<Column>,
    stores: Vec<StoreRow>,
    shown: String,
    previous_page: Option<String>,
    next_page: Option<String>,
    region_rows: Vec<RegionRow>,
    band_chart: String,
    dimension_chart: String,
    pareto_chart: String,
    failures: Vec<Failure>,
    csv: String,
    xlsx: String,
}

fn parse_quarter(text: Option<&str>, fallback: &[String]) -> Result<Quarter, ApiError> {
    let bad =
        |e: String| ApiError::bad_request("invalid_query", e.clone()).with_detail("quarter", e);
    match text {
        Some(t) => Quarter::parse(t).map_err(bad),
        None => match fallback.first() {
            Some(latest) => Quarter::parse(latest).map_err(bad),
            None => Ok(Quarter::containing(Utc::now().date_naive())),
        },
    }
}

fn parse_band(text: Option<&str>) -> Result<Option<Band>, ApiError> {
    text.map(|b| {
        Band::ALL
            .into_iter()
            .find(|x| x.as_str() == b)
            .ok_or_else(|| {
                ApiError::bad_request("invalid_query", "unknown band").with_detail(
                    "band",
                    "non_compliant, below, meets, exceeds or not_audited",
                )
            })
    })
    .transpose()
}

/// The table's order: a column and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Region,
    Store,
    Name,
    Audits,
    Score,
    Band,
    Trend,
    Rank,
}

impl Sort {
    const ALL: [(Sort, &'static str, &'static str, bool); 8] = [
        (Sort::Region, "region", "field.region", false),
        (Sort::Store, "store", "field.code", false),
        (Sort::Name, "name", "field.name", false),
        (Sort::Audits, "audits", "field.audits_counted", true),
        (Sort::Score, "score", "field.score", true),
        (Sort::Band, "band", "field.band", false),
        (Sort::Trend, "trend", "field.trend", true),
        (Sort::Rank, "rank", "field.rank", true),
    ];

    fn parse(s: &str) -> Option<Sort> {
        Sort::ALL.iter().find(|x| x.1 == s).map(|x| x.0)
    }
}

/// Compare two rows by a column; stores without a figure go last whatever
/// the direction, then region and store code keep the order stable.
pub fn compare(a: &StoreCompliance, b: &StoreCompliance, by: Sort, descending: bool) -> Ordering {
    fn opt<T: Ord>(a: Option<T>, b: Option<T>, desc: bool) -> Ordering {
        match (a, b) {
            (Some(x), Some(y)) if desc => y.cmp(&x),
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }
    let dir = |o: Ordering| if descending { o.reverse() } else { o };
    let first = match by {
        Sort::Region => dir(a.region_code.cmp(&b.region_code)),
        Sort::Store => dir(a.store_code.cmp(&b.store_code)),
        Sort::Name => dir(a.store_name.cmp(&b.store_name)),
        Sort::Audits => dir(a.audits_counted.cmp(&b.audits_counted)),
        Sort::Score => opt(a.score, b.score, descending),
        Sort::Band => dir(a.band.cmp(&b.band)),
        Sort::Trend => opt(a.trend, b.trend, descending),
        Sort::Rank => opt(a.rank, b.rank, descending),
    };
    first
        .then_with(|| a.region_code.cmp(&b.region_code))
        .then_with(|| a.store_code.cmp(&b.store_code))
}

/// Each dimension's name in the page's language, by code.
async fn dimension_names(
    state: &AppState,
    lang: Lang,
) -> Result<HashMap<String, String>, ApiError> {
    Ok(db::catalog::dimensions(&state.db)
        .await?
        .into_iter()
        .map(|d| {
            let name = lang.pick(&d.name_en, &d.name_zh).to_owned();
            (d.code, name)
        })
        .collect())
}

fn band_class(b: Band) -> &'static str {
    b.as_str()
}

fn store_row(t: Tr, r: &StoreCompliance) -> StoreRow {
    StoreRow {
        id: r.store_id,
        code: r.store_code.clone(),
        name: r.store_name.clone(),
        region: r.region_code.clone(),
        audits: r.audits_counted,
        score: opt_points(r.score),
        band: band_class(r.band),
        band_text: t.band(r.band.as_str()),
        critical: r.critical,
        trend: r.trend.map_or_else(|| "–".to_owned(), signed_points),
        trend_class: match r.trend {
            Some(x) if x > 0 => "up",
            Some(x) if x < 0 => "down",
            _ => "",
        },
        rank: r.rank.map_or_else(|| "–".to_owned(), |n| n.to_string()),
    }
}

fn query_string(pairs: &[(&str, Option<&str>)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

pub async fn show(
    State(state): State<AppState>,
    v: Viewer,
    ApiQuery(q): ApiQuery<ComplianceQuery>,
) -> Result<Response, ApiError> {
    let t = v.t();
    let scope = v.caller.scope();
    let known = db::compliance::quarters(&state.db).await?;
    let quarter = parse_quarter(given(&q.quarter), &known)?;
    let quarter_text = quarter.to_string();
    let region_id = uuid_field("region", &q.region)?;
    let band = parse_band(given(&q.band))?;
    let sort = match given(&q.sort) {
        None => Sort::Region,
        Some(s) => Sort::parse(s).ok_or_else(|| {
            ApiError::bad_request("invalid_query", "unknown column to sort by")
                .with_detail("sort", "a column of the table")
        })?,
    };
    let descending = given(&q.dir) == Some("desc");
    let page_no: usize = match given(&q.page) {
        None => 1,
        Some(p) => p.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
            ApiError::bad_request("invalid_query", "page must be a whole number from 1")
                .with_detail("page", "a whole number from 1")
        })?,
    };

    let (snap, qy) = snapshot(&state, &v.caller, &quarter_text, region_id, band).await?;
    let mut all: Vec<StoreCompliance> = Vec::new();
    let mut region_rows = Vec::with_capacity(qy.regions.len());
    for region in &qy.regions {
        let rows = qy.region_stores(&snap, region).await?;
        let r = qy.region_row(region, &rows);
        region_rows.push(RegionRow {
            code: r.region_code,
            name: r.region_name,
            stores: r.stores,
            audited: r.audited,
            mean: opt_points(r.mean_score),
            bands: r.bands,
        });
        all.extend(rows);
    }
    let overall = qy
        .settings
        .region_row(Uuid::nil(), "", "", &qy.dimensions, &all);
    let mut failures = qy.items(&snap, &state.versions, &scope).await?;
    drop(snap);

    let mut table: Vec<&StoreCompliance> = all.iter().filter(|r| qy.wanted(r)).collect();
    table.sort_by(|a, b| compare(a, b, sort, descending));
    let count = table.len();
    let pages = count.div_ceil(PAGE).max(1);
    let page_no = page_no.min(pages);
    let stores: Vec<StoreRow> = table
        .iter()
        .skip((page_no - 1) * PAGE)
        .take(PAGE)
        .map(|r| store_row(t, r))
        .collect();
    let first_shown = if count == 0 {
        0
    } else {
        (page_no - 1) * PAGE + 1
    };
    let last_shown = (page_no * PAGE).min(count);

    let region_text = given(&q.region);
    let band_text = given(&q.band);
    let sort_text = given(&q.sort);
    let dir_text = given(&q.dir);
    let at = |sort: Option<&str>, dir: Option<&str>, page: Option<String>| {
        format!(
            "/compliance?{}",
            query_string(&[
                ("quarter", Some(&quarter_text)),
                ("region", region_text),
                ("band", band_text),
                ("sort", sort),
                ("dir", dir),
                ("page", page.as_deref()),
            ])
        )
    };
    let columns = Sort::ALL
        .iter()
        .map(|(s, key, label, numeric)| {
            let current = *s == sort;
            // Numbers start high-first; a second click flips the order.
            let next_desc = if current { !descending } else { *numeric };
            Column {
                key,
                label: t.s(label),
                href: at(Some(key), next_desc.then_some("desc"), None),
                sort: match (current, descending) {
                    (false, _) => "none",
                    (true, false) => "ascending",
                    (true, true) => "descending",
                },
                numeric: *numeric,
            }
        })
        .collect();
    let previous_page =
        (page_no > 1).then(|| at(sort_text, dir_text, Some((page_no - 1).to_string())));
    let next_page =
        (page_no < pages).then(|| at(sort_text, dir_text, Some((page_no + 1).to_string())));

    // Charts.
    let b = &overall.bands;
    let band_bars: Vec<Bar> = [
        (Band::NonCompliant, b.non_compliant),
        (Band::Below, b.below),
        (Band::Meets, b.meets),
        (Band::Exceeds, b.exceeds),
        (Band::NotAudited, b.not_audited),
    ]
    .into_iter()
    .map(|(band, n)| Bar {
        label: t.band(band.as_str()).to_owned(),
        value: n as f64,
        text: n.to_string(),
        class: band_class(band),
    })
    .collect();
    let band_chart = charts::bars(
        "chart-bands",
        t.s("compliance.bands_chart"),
        &band_bars,
        None,
        None,
    );
    let names = dimension_names(&state, v.lang).await?;
    let target = qy.settings.target;
    let dim_bars: Vec<Bar> = overall
        .dimensions
        .iter()
        .map(|d| Bar {
            label: names
                .get(&d.code)
                .filter(|n| !n.is_empty())
                .cloned()
                .unwrap_or_else(|| d.code.clone()),
            value: d.score.unwrap_or(0) as f64,
            text: opt_points(d.score),
            class: match d.score {
                Some(s) if s >= target => "meets",
                Some(_) => "below",
                None => "not_audited",
            },
        })
        .collect();
    let target_label = format!("{} {}", t.s("field.target"), points(target));
    let dimension_chart = charts::bars(
        "chart-dimensions",
        t.s("compliance.dimensions_chart"),
        &dim_bars,
        Some(10_000.0),
        Some((target as f64, &target_label)),
    );
    failures.retain(|f| f.failed > 0);
    failures.sort_by(|a, b| {
        b.failed
            .cmp(&a.failed)
            .then_with(|| a.standard_code.cmp(&b.standard_code))
    });
    failures.truncate(PARETO);
    let pareto_chart = charts::pareto(
        "chart-pareto",
        t.s("compliance.pareto"),
        &failures
            .iter()
            .map(|f| (f.standard_code.clone(), f.failed))
            .collect::<Vec<_>>(),
    );
    let failures = failures
        .into_iter()
        .map(|f| Failure {
            text: v.lang.pick(&f.text_en, &f.text_zh).to_owned(),
            code: f.standard_code,
            failed: f.failed,
            assessed: f.assessed,
            rate: format!("{:.1} %", f.failure_rate * 100.0),
        })
        .collect();

    // Filters.
    let mut quarter_list = known.clone();
    if !quarter_list.contains(&quarter_text) {
        quarter_list.push(quarter_text.clone());
        quarter_list.sort_unstable_by(|a, b| b.cmp(a));
    }
    let quarters = quarter_list
        .into_iter()
        .map(|x| Choice::new(x.clone(), x, &quarter_text))
        .collect();
    let regions = region_choices(
        &state,
        &scope,
        t.s("compliance.all_regions"),
        region_text.unwrap_or(""),
    )
    .await?;
    let band_now = band_text.unwrap_or("");
    let bands = std::iter::once(Choice::new("", t.s("queue.any"), band_now))
        .chain(
            Band::ALL
                .into_iter()
                .map(|b| Choice::new(b.as_str(), t.band(b.as_str()), band_now)),
        )
        .collect();
    let download = |ext: &str| {
        format!(
            "/compliance/summary.{ext}?{}",
            query_string(&[
                ("quarter", Some(&quarter_text)),
                ("region", region_text),
                ("band", band_text),
            ])
        )
    };
    page(&CompliancePage {
        c: Chrome::new(
            &v,
            "compliance",
            format!("{} · {quarter_text}", t.s("compliance.title")),
        ),
        csv: download("csv"),
        xlsx: download("xlsx"),
        quarter: quarter_text.clone(),
        quarters,
        regions,
        bands,
        columns,
        stores,
        shown: format!("{first_shown}–{last_shown} / {count}"),
        previous_page,
        next_page,
        region_rows,
        band_chart,
        dimension_chart,
        pareto_chart,
        failures,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct DownloadQuery {
    pub quarter: Option<String>,
    pub region: Option<String>,
    pub band: Option<String>,
}

async fn export_params(state: &AppState, q: &DownloadQuery) -> Result<ExportParams, ApiError> {
    let known = db::compliance::quarters(&state.db).await?;
    Ok(ExportParams {
        quarter: parse_quarter(given(&q.quarter), &known)?.to_string(),
        region_id: uuid_field("region", &q.region)?,
        band: parse_band(given(&q.band))?,
    })
}

/// The quarter's CSV, exactly as `/api/v1/compliance/summary.csv`.
pub async fn csv(
    State(state): State<AppState>,
    v: Viewer,
    ApiQuery(q): ApiQuery<DownloadQuery>,
) -> Result<Response, ApiError> {
    let p = export_params(&state, &q).await?;
    csv_download(&state, &v.caller, &p).await
}

/// The quarter's workbook, exactly as `/api/v1/compliance/summary.xlsx`.
pub async fn xlsx(
    State(state): State<AppState>,
    v: Viewer,
    ApiQuery(q): ApiQuery<DownloadQuery>,
) -> Result<Response, ApiError> {
    let p = export_params(&state, &q).await?;
    xlsx_download(&state, &v.caller, &p).await
}

pub struct QuarterRow {
    pub quarter: String,
    pub audits: i64,
    pub score: String,
    pub band: &'static str,
    pub band_text: &'static str,
    pub rank: String,
    pub href: String,
}

pub struct DimensionRow {
    pub code: String,
    pub name: String,
    pub score: String,
    pub gap: String,
    pub below: bool,
}

#[derive(Template)]
#[template(path = "store_compliance.html")]
struct StorePage {
    c: Chrome,
    quarter: String,
    current: Option<StoreRow>,
    dimensions: Vec<DimensionRow>,
    quarters: Vec<QuarterRow>,
    trend_chart: String,
    audits_href: String,
    actions_href: String,
    back: String,
}

/// One store over the last quarters: its trend, and the chosen quarter's
/// figures by dimension.
pub async fn store(
    State(state): State<AppState>,
    v: Viewer,
    Path(raw): Path<String>,
    ApiQuery(q): ApiQuery<DownloadQuery>,
) -> Result<Response, ApiError> {
    let t = v.t();
    let id = path_id(&raw, "store")?;
    let s = db::stores::visible(&state.db, &v.caller.scope(), id).await?;
    let known = db::compliance::quarters(&state.db).await?;
    let quarter = parse_quarter(given(&q.quarter), &known)?;
    let mut wanted = vec![quarter];
    for _ in 1..TREND_QUARTERS {
        let before = wanted.last().map_or(quarter, |x| x.previous());
        wanted.push(before);
    }
    wanted.reverse();
    let mut rows: Vec<(Quarter, Option<StoreCompliance>)> = Vec::with_capacity(wanted.len());
    let mut target = 0;
    for qq in &wanted {
        let (snap, qy) =
            snapshot(&state, &v.caller, &qq.to_string(), Some(s.region_id), None).await?;
        target = qy.settings.target;
        let mut found = None;
        for region in &qy.regions {
            found = qy
                .region_stores(&snap, region)
                .await?
                .into_iter()
                .find(|r| r.store_id == id);
        }
        rows.push((*qq, found));
    }
    let names = dimension_names(&state, v.lang).await?;
    let current = rows.last().and_then(|(_, r)| r.clone());
    let dimensions = current
        .as_ref()
        .map(|r| {
            r.dimensions
                .iter()
                .map(|d| DimensionRow {
                    name: names.get(&d.code).cloned().unwrap_or_default(),
                    code: d.code.clone(),
                    score: opt_points(d.score),
                    gap: d.gap.map_or_else(|| "–".to_owned(), |g| signed_points(-g)),
                    below: d.gap.is_some_and(|g| g > 0),
                })
                .collect()
        })
        .unwrap_or_default();
    let trend_chart = charts::trend(
        "chart-trend",
        t.s("compliance.trend"),
        &rows
            .iter()
            .map(|(qq, r)| (qq.to_string(), r.as_ref().and_then(|r| r.score)))
            .collect::<Vec<_>>(),
        target,
        &format!("{} {}", t.s("field.target"), points(target)),
    );
    let quarters = rows
        .iter()
        .rev()
        .map(|(qq, r)| QuarterRow {
            quarter: qq.to_string(),
            audits: r.as_ref().map_or(0, |r| r.audits_counted),
            score: opt_points(r.as_ref().and_then(|r| r.score)),
            band: r.as_ref().map_or("not_audited", |r| band_class(r.band)),
            band_text: t.band(r.as_ref().map_or("not_audited", |r| r.band.as_str())),
            rank: r
                .as_ref()
                .and_then(|r| r.rank)
                .map_or_else(|| "–".to_owned(), |n| n.to_string()),
            href: format!("/compliance/stores/{id}?quarter={qq}"),
        })
        .collect();
    let code_q = query_string(&[("store", Some(&s.code))]);
    page(&StorePage {
        c: Chrome::new(
            &v,
            "compliance",
            format!(
                "{} · {} · {}",
                t.s("compliance.store_title"),
                s.code,
                s.name
            ),
        ),
        quarter: quarter.to_string(),
        current: current.as_ref().map(|r| store_row(t, r)),
        dimensions,
        quarters,
        trend_chart,
        audits_href: format!("/audits?{code_q}"),
        actions_href: format!("/actions?{code_q}"),
        back: format!(
            "/compliance?{}",
            query_string(&[
                ("quarter", Some(&quarter.to_string())),
                ("region", Some(&s.region_id.to_string())),
            ])
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(code: &str, score: Option<i64>, rank: Option<i64>) -> StoreCompliance {
        StoreCompliance {
            store_id: Uuid::nil(),
            store_code: code.into(),
            store_name: format!("name {code}"),
            region_id: Uuid::nil(),
            region_code: "R".into(),
            region_name: "Region".into(),
            audits_counted: i64::from(score.is_some()),
            score,
            band: if score.is_some() {
                Band::Meets
            } else {
                Band::NotAudited
            },
            critical: false,
            dimensions: vec![],
            previous_score: None,
            trend: None,
            rank,
        }
    }

    fn order(rows: &mut [StoreCompliance], by: Sort, desc: bool) -> Vec<String> {
        rows.sort_by(|a, b| compare(a, b, by, desc));
        rows.iter().map(|r| r.store_code.clone()).collect()
    }

    #[test]
    fn stores_without_a_score_sort_last_both_ways() {
        let mut rows = vec![
            row("A", Some(7000), Some(2)),
            row("B", None, None),
            row("C", Some(9000), Some(1)),
        ];
        assert_eq!(order(&mut rows, Sort::Score, true), ["C", "A", "B"]);
        assert_eq!(order(&mut rows, Sort::Score, false), ["A", "C", "B"]);
        assert_eq!(order(&mut rows, Sort::Rank, false), ["C", "A", "B"]);
        assert_eq!(order(&mut rows, Sort::Store, true), ["C", "B", "A"]);
        assert_eq!(order(&mut rows, Sort::Region, false), ["A", "B", "C"]);
    }

    #[test]
    fn every_sort_column_parses_back() {
        for (s, key, label, _) in Sort::ALL {
            assert_eq!(Sort::parse(key), Some(s));
            assert!(super::super::i18n::has(label), "{label}");
        }
        assert_eq!(Sort::parse("nope"), None);
    }
}
