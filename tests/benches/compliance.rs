//! Compliance benchmarks: 10,000 stores in 100 regions, each with 4
//! approved audits of 120 answers in the quarter (40,000 audits, 4.8 M
//! answers), read through the server as HQ: the first JSON page of
//! `/compliance/stores`, `summary.csv`, `summary.xlsx` and the item
//! analysis. Each is timed beside its **ceiling**, measured in the same
//! run on the same data: one hand-written SQL aggregate over the same
//! tables, fetched whole. The server runs in this process; the growth of
//! its resident memory during each download is its peak (reset before
//! each) less its size before.
//!
//! The web console's audit and compliance pages are timed beside the JSON
//! a client needs for the same content (p50 and p99).
//!
//! `cargo bench -p storecheck-tests --bench compliance` runs on SQLite;
//! with `STORECHECK_BENCH_DATABASE_URL=postgres://…/postgres` on a fresh
//! PostgreSQL database. `STORECHECK_BENCH_STORES` changes the number of
//! stores (default 10,000).

use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, Set, Statement};
use serde_json::Value;
use storecheck_server::entities::enums::{AssignmentStatus, AuditStatus, ItemKind};
use storecheck_server::entities::{
    assignments, audit_answers, audit_dimension_scores, audit_revisions, audits, regions,
    store_item_tallies, stores,
};
use storecheck_shared::Role;
use storecheck_tests::bench::{peak_rss_mib, reset_peak_rss, rss_mib};
use uuid::Uuid;

mod common;
use common::{server, user};

const REGIONS: usize = 100;
const AUDITS_PER_STORE: usize = 4;
const ITEMS: usize = 120;
const RUNS: usize = 3;
/// Timings of the audit page and its JSON, for the percentiles.
const AUDIT_RUNS: usize = 200;
/// Timings of the compliance page and its JSON.
const PAGE_RUNS: usize = 15;
const PASSWORD: &str = "bench-password";
/// Rows per multi-row INSERT of a narrow table.
const ROWS_PER_INSERT: usize = 2500;

/// A cheap, fixed pseudo-random number from two indices.
fn mix(a: usize, b: usize) -> u64 {
    let mut x = (a as u64) << 32 ^ (b as u64) ^ 0x9e37_79b9_7f4a_7c15;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x
}

/// Multi-row INSERTs of `rows`, `per` rows at a time.
async fn insert_all<A>(db: &impl ConnectionTrait, rows: Vec<A>, per: usize)
where
    A: sea_orm::ActiveModelTrait + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(per).collect();
        <A::Entity as EntityTrait>::insert_many(chunk)
            .exec_without_returning(db)
            .await
            .expect("insert");
    }
}

/// The quarter's data, written straight into the server's database.
async fn seed(db: &DatabaseConnection, version: &Value, stores_wanted: usize, auditor: Uuid) {
    let now = Utc::now();
    let version_id: Uuid = version["id"].as_str().expect("id").parse().expect("uuid");
    let items: Vec<(Uuid, String, ItemKind, String)> = version["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .flat_map(|s| s["items"].as_array().expect("items").iter())
        .map(|i| {
            (
                i["id"].as_str().expect("id").parse().expect("uuid"),
                i["code"].as_str().expect("code").to_owned(),
                serde_json::from_value::<storecheck_shared::catalog::ItemKind>(i["kind"].clone())
                    .expect("kind")
                    .into(),
                i["dimension"].as_str().expect("dimension").to_owned(),
            )
        })
        .collect();
    let mut dimensions: Vec<String> = items.iter().map(|i| i.3.clone()).collect();
    dimensions.sort();
    dimensions.dedup();
    let region_ids: Vec<Uuid> = (0..REGIONS).map(|_| Uuid::now_v7()).collect();
    insert_all(
        db,
        region_ids
            .iter()
            .enumerate()
            .map(|(i, id)| regions::ActiveModel {
                id: Set(*id),
                code: Set(format!("R{i:03}")),
                name: Set(format!("Region {i}")),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .collect(),
        ROWS_PER_INSERT,
    )
    .await;
    let store_ids: Vec<Uuid> = (0..stores_wanted).map(|_| Uuid::now_v7()).collect();
    insert_all(
        db,
        store_ids
            .iter()
            .enumerate()
            .map(|(i, id)| stores::ActiveModel {
                id: Set(*id),
                code: Set(format!("S{i:05}")),
                name: Set(format!("Store {i}")),
                address: Set("1 Road".into()),
                latitude: Set(31.23),
                longitude: Set(121.47),
                timezone: Set("Asia/Shanghai".into()),
                region_id: Set(region_ids[i % REGIONS]),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .collect(),
        ROWS_PER_INSERT,
    )
    .await;
    let q = storecheck_shared::quarter::Quarter::containing(now.date_naive());
    let assignment = Uuid::now_v7();
    assignments::Entity::insert(assignments::ActiveModel {
        id: Set(assignment),
        store_id: Set(store_ids[0]),
        auditor_id: Set(auditor),
        checklist_version_id: Set(version_id),
        window_start: Set(q.first_day()),
        window_end: Set(q.last_day()),
        status: Set(AssignmentStatus::Scheduled),
        created_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(db)
    .await
    .expect("assignment");
    // The score breakdown a reviewer reads (one for all: the figures here
    // come from the dimension scores and tallies).
    let sections: Vec<Value> = version["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .map(|s| serde_json::json!({"code": s["code"], "score": 8000}))
        .collect();
    let breakdown = serde_json::json!({
        "sections": sections,
        "dimensions": dimensions.iter().map(|d| serde_json::json!({"code": d, "score": 8000})).collect::<Vec<_>>(),
        "failed_items": [],
        "checkin_distance_m": null,
    })
    .to_string();
    // Stores in batches, so that no batch holds all 4.8 M answers.
    for (batch_no, batch) in store_ids.chunks(500).enumerate() {
        let mut heads = Vec::new();
        let mut revisions = Vec::new();
        let mut answers = Vec::new();
        let mut dims = Vec::new();
        let mut tallies = Vec::new();
        for (k, store) in batch.iter().enumerate() {
            // Per item: (assessed, failed), as approvals add them up.
            let mut tally = vec![(0, 0); items.len()];
            for n in 0..AUDITS_PER_STORE {
                let a = (batch_no * 500 + k) * AUDITS_PER_STORE + n;
                let id = Uuid::now_v7();
                let total = 6000 + (mix(a, 0) % 4001) as i32;
                let critical = mix(a, 1).is_multiple_of(20);
                heads.push(audits::ActiveModel {
                    id: Set(id),
                    assignment_id: Set(assignment),
                    auditor_id: Set(auditor),
                    store_id: Set(*store),
                    checklist_version_id: Set(version_id),
                    status: Set(AuditStatus::Approved),
                    revision: Set(1),
                    total: Set(total),
                    critical_failure: Set(critical),
                    flags: Set("[]".into()),
                    started_at: Set(now),
                    finished_at: Set(now),
                    started_at_server: Set(now),
                    finished_at_server: Set(now),
                    created_at: Set(now),
                    updated_at: Set(now),
                    review_comment: Set(None),
                    reviewed_by: Set(Some(auditor)),
                    reviewed_at: Set(Some(now)),
                });
                revisions.push(audit_revisions::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    audit_id: Set(id),
                    revision: Set(1),
                    payload: Set("{}".into()),
                    payload_hash: Set("0".repeat(64)),
                    device_clock: Set(now),
                    received_at: Set(now),
                    skew_ms: Set(0),
                    total: Set(total),
                    base: Set(total),
                    bonus: Set(0),
                    deductions: Set(0),
                    critical_failure: Set(critical),
                    breakdown: Set(breakdown.clone()),
                    flags: Set("[]".into()),
                    checkin_latitude: Set(None),
                    checkin_longitude: Set(None),
                    checkin_accuracy: Set(None),
                });
                for (d, code) in dimensions.iter().enumerate() {
                    dims.push(audit_dimension_scores::ActiveModel {
                        audit_id: Set(id),
                        dimension_code: Set(code.clone()),
                        score: Set(5000 + (mix(a, 10 + d) % 5001) as i32),
                    });
                }
                for (i, (item, code, kind, _)) in items.iter().enumerate() {
                    let r = mix(a, 100 + i);
                    let na = r.is_multiple_of(29);
                    let failed = !na && r % 10 < 2;
                    tally[i].0 += i32::from(!na);
                    tally[i].1 += i32::from(failed);
                    answers.push(audit_answers::ActiveModel {
                        audit_id: Set(id),
                        revision: Set(1),
                        item_id: Set(*item),
                        item_code: Set(code.clone()),
                        kind: Set(*kind),
                        na: Set(na),
                        value_number: Set(Some((r % 5) as f64)),
                        value_text: Set(None),
                        failed: Set(failed),
                        note: Set(None),
                        answered_at: Set(Some(now)),
                        ..Default::default()
                    });
                }
            }
            for ((_, code, _, _), (assessed, failed)) in items.iter().zip(tally) {
                tallies.push(store_item_tallies::ActiveModel {
                    store_id: Set(*store),
                    checklist_version_id: Set(version_id),
                    item_code: Set(code.clone()),
                    assessed: Set(assessed),
                    failed: Set(failed),
                });
            }
        }
        let txn = storecheck_server::db::begin_write(db).await.expect("txn");
        // Within SQLite's 32,766 bound parameters per statement.
        insert_all(&txn, heads, 1000).await;
        insert_all(&txn, revisions, 1000).await;
        insert_all(&txn, dims, ROWS_PER_INSERT).await;
        insert_all(&txn, answers, ROWS_PER_INSERT).await;
        insert_all(&txn, tallies, ROWS_PER_INSERT).await;
        txn.commit().await.expect("commit");
    }
    // Statistics, as a database in service has them.
    db.execute_unprepared("ANALYZE").await.expect("analyze");
}

fn placeholder(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => "$1",
        _ => "?",
    }
}

/// The stores' ceiling: every store with its audits' count, total sum and
/// critical count, and its dimension sums, in one statement.
async fn stores_ceiling(db: &DatabaseConnection, version: Uuid) -> usize {
    let p = placeholder(db);
    let sql = format!(
        "SELECT st.id, st.code, r.code, a.n, a.s, a.c, d.dimension_code, d.dn, d.ds
         FROM stores st
         JOIN regions r ON r.id = st.region_id
         LEFT JOIN (SELECT store_id, COUNT(*) AS n, SUM(total) AS s,
                           SUM(CASE WHEN critical_failure THEN 1 ELSE 0 END) AS c
                    FROM audits WHERE status = 'approved' AND checklist_version_id = {p}
                    GROUP BY store_id) a ON a.store_id = st.id
         LEFT JOIN (SELECT au.store_id, ds.dimension_code, COUNT(ds.score) AS dn, SUM(ds.score) AS ds
                    FROM audit_dimension_scores ds JOIN audits au ON au.id = ds.audit_id
                    WHERE au.status = 'approved' AND au.checklist_version_id = {p}
                    GROUP BY au.store_id, ds.dimension_code) d ON d.store_id = st.id
         ORDER BY r.code, st.code"
    );
    let values: Vec<sea_orm::Value> = if p == "?" {
        vec![version.into(), version.into()]
    } else {
        vec![version.into()]
    };
    db.query_all_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        values,
    ))
    .await
    .expect("ceiling")
    .len()
}

/// The item analysis' ceiling: answered and failed per item from the
/// stores' tallies (which the server reads), in one statement.
async fn items_ceiling(db: &DatabaseConnection, version: Uuid) -> usize {
    let p = placeholder(db);
    let sql = format!(
        "SELECT item_code, SUM(assessed), SUM(failed) FROM store_item_tallies
         WHERE checklist_version_id = {p} GROUP BY item_code"
    );
    db.query_all_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [version.into()],
    ))
    .await
    .expect("ceiling")
    .len()
}

/// The same from the answers themselves, in one statement: what reading
/// the audits at the moment of asking would cost.
async fn answers_aggregate(db: &DatabaseConnection, version: Uuid) -> usize {
    let p = placeholder(db);
    let sql = format!(
        "SELECT aa.item_code,
                SUM(CASE WHEN aa.na THEN 0 ELSE 1 END), SUM(CASE WHEN aa.failed THEN 1 ELSE 0 END)
         FROM audits a JOIN audit_answers aa ON aa.audit_id = a.id AND aa.revision = a.revision
         WHERE a.status = 'approved' AND a.checklist_version_id = {p}
         GROUP BY aa.item_code"
    );
    db.query_all_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [version.into()],
    ))
    .await
    .expect("ceiling")
    .len()
}

/// One figure: median time of `RUNS`, the largest memory growth, and what
/// came back (bytes or rows).
struct Figure {
    median: Duration,
    growth_mib: f64,
    size: usize,
}

async fn measure<F, Fut>(mut run: F) -> Figure
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let mut times = Vec::new();
    let mut growth: f64 = 0.0;
    let mut size = 0;
    for _ in 0..RUNS {
        reset_peak_rss();
        let before = rss_mib();
        let start = Instant::now();
        size = run().await;
        times.push(start.elapsed());
        growth = growth.max(peak_rss_mib() - before);
    }
    times.sort();
    Figure {
        median: times[RUNS / 2],
        growth_mib: growth,
        size,
    }
}

/// GET a path as HQ, reading the body as it streams; its length.
async fn fetch(http: &reqwest::Client, url: &str, token: &str) -> usize {
    let mut res = http.get(url).bearer_auth(token).send().await.expect("sent");
    assert!(res.status().is_success(), "{url}: {}", res.status());
    let mut n = 0;
    while let Some(chunk) = res.chunk().await.expect("chunk") {
        n += chunk.len();
    }
    n
}

/// GET a console page with the session cookie; its length.
async fn console_page(http: &reqwest::Client, url: &str, cookie: &str) -> usize {
    let res = http
        .get(url)
        .header(reqwest::header::COOKIE, cookie)
        .send()
        .await
        .expect("sent");
    let status = res.status();
    let body = res.bytes().await.expect("body");
    assert!(
        status.is_success(),
        "{url}: {status}: {}",
        String::from_utf8_lossy(&body)
    );
    body.len()
}

/// The 50th and 99th percentile of `runs` timings of `run`.
async fn percentiles<F, Fut>(runs: usize, mut run: F) -> (Duration, Duration)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        run().await;
        times.push(start.elapsed());
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

async fn bench(backend: &str, stores_wanted: usize) {
    let s = server(&format!("compliance_{backend}"), |_| {}).await;
    let hash = storecheck_server::auth::hash_password(PASSWORD.to_owned())
        .await
        .expect("hash");
    user(&s, "hq@bench.test", Role::Hq, vec![], &hash).await;
    let auditor = user(&s, "a@bench.test", Role::Auditor, vec![], &hash).await;
    let http = reqwest::Client::new();
    let hq = common::login(&http, &s.base, "hq@bench.test", PASSWORD).await;
    let version = common::publish_checklist(&http, &s.base, &hq, ITEMS).await;
    let version_id: Uuid = version["id"].as_str().expect("id").parse().expect("uuid");
    let started = Instant::now();
    seed(&s.state.db, &version, stores_wanted, auditor).await;
    println!(
        "compliance {backend}: seeded {stores_wanted} stores × {AUDITS_PER_STORE} approved audits × {ITEMS} answers in {:.1} s",
        secs(started.elapsed())
    );
    let quarter = version["quarter"].as_str().expect("quarter").to_owned();
    let db = s.state.db.clone();
    let url = |p: &str| format!("{}/api/v1/compliance/{p}?quarter={quarter}", s.base);

    let ceiling = measure(|| stores_ceiling(&db, version_id)).await;
    let (page_url, csv_url, xlsx_url, items_url) = (
        url("stores"),
        url("summary.csv"),
        url("summary.xlsx"),
        url("items"),
    );
    let page = measure(|| fetch(&http, &page_url, &hq)).await;
    let csv = measure(|| fetch(&http, &csv_url, &hq)).await;
    let xlsx = measure(|| fetch(&http, &xlsx_url, &hq)).await;
    let items_ceiling = measure(|| items_ceiling(&db, version_id)).await;
    let answers_aggregate = measure(|| answers_aggregate(&db, version_id)).await;
    let items = measure(|| fetch(&http, &items_url, &hq)).await;

    println!(
        "compliance {backend}: ceiling, one SQL aggregate of every store: {:.3} s ({} rows)",
        secs(ceiling.median),
        ceiling.size
    );
    for (name, f, c) in [
        ("JSON first page (50 stores)", &page, &ceiling),
        ("summary.csv", &csv, &ceiling),
        ("summary.xlsx", &xlsx, &ceiling),
    ] {
        println!(
            "compliance {backend}: {name}: {:.3} s, {:.2}× the ceiling, {} bytes, RSS growth {:.1} MiB",
            secs(f.median),
            secs(f.median) / secs(c.median),
            f.size,
            f.growth_mib
        );
    }
    println!(
        "compliance {backend}: item analysis: {:.3} s, {:.2}× its ceiling ({:.3} s, one SQL aggregate of the tallies), RSS growth {:.1} MiB; the same aggregate over the answers takes {:.3} s",
        secs(items.median),
        secs(items.median) / secs(items_ceiling.median),
        secs(items_ceiling.median),
        items.growth_mib,
        secs(answers_aggregate.median)
    );
    let met = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "compliance {backend}: targets: summary.csv < 2 s: {}; ≤ 2× the ceiling: {}; RSS growth < 100 MB: {}",
        met(csv.median < Duration::from_secs(2)),
        met(secs(csv.median) <= 2.0 * secs(ceiling.median)),
        met(csv.growth_mib * 1.048_576 < 100.0)
    );

    // The console's pages against the JSON a client needs for the same
    // content, each timed alternately in the same run.
    let cookie = common::console_cookie(&s.base, "hq@bench.test", PASSWORD).await;
    let audit = audits::Entity::find()
        .one(&db)
        .await
        .expect("query")
        .expect("an audit")
        .id;
    let console_audit = format!("{}/audits/{audit}", s.base);
    let json_audit = format!("{}/api/v1/audits/{audit}", s.base);
    let (j50, j99) = percentiles(AUDIT_RUNS, || async {
        fetch(&http, &json_audit, &hq).await;
    })
    .await;
    let (a50, a99) = percentiles(AUDIT_RUNS, || async {
        console_page(&http, &console_audit, &cookie).await;
    })
    .await;
    let console_compliance = format!("{}/compliance?quarter={quarter}", s.base);
    let json_parts = [
        url("regions"),
        format!("{}&limit=100", url("stores")),
        url("items"),
    ];
    let (c50, c99) = percentiles(PAGE_RUNS, || async {
        console_page(&http, &console_compliance, &cookie).await;
    })
    .await;
    let (k50, k99) = percentiles(PAGE_RUNS, || async {
        for u in &json_parts {
            fetch(&http, u, &hq).await;
        }
    })
    .await;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "compliance {backend}: console audit page: p50 {:.1} ms, p99 {:.1} ms; GET /api/v1/audits/{{id}}: p50 {:.1} ms, p99 {:.1} ms; {:.2}× / {:.2}× the JSON ({AUDIT_RUNS} runs)",
        ms(a50),
        ms(a99),
        ms(j50),
        ms(j99),
        ms(a50) / ms(j50),
        ms(a99) / ms(j99)
    );
    println!(
        "compliance {backend}: console compliance page (regions, 100 stores, charts, Pareto): p50 {:.1} ms, p99 {:.1} ms; the JSON of the same (regions + 100 stores + items): p50 {:.1} ms, p99 {:.1} ms; {:.2}× / {:.2}× the JSON ({PAGE_RUNS} runs)",
        ms(c50),
        ms(c99),
        ms(k50),
        ms(k99),
        ms(c50) / ms(k50),
        ms(c99) / ms(k99)
    );
    println!(
        "compliance {backend}: targets: console pages ≤ 1.5× the JSON at p50 and p99: audit {}, compliance {}",
        met(ms(a50) <= 1.5 * ms(j50) && ms(a99) <= 1.5 * ms(j99)),
        met(ms(c50) <= 1.5 * ms(k50) && ms(c99) <= 1.5 * ms(k99))
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = common::runtime();
    let backend = common::backend();
    let stores_wanted = std::env::var("STORECHECK_BENCH_STORES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    rt.block_on(bench(backend, stores_wanted));
}
