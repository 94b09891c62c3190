//! Compliance (SPEC §5, §9): a hand-computed quarter, read back from the
//! JSON endpoints, the CSV and the XLSX; scope; settings; bad queries.
//!
//! The scores of every audit below, by hand (see `programme.rs` for the
//! checklist: GREET w10 basic, SMILE w5 scale/4 may be N/A, EXTRA w5
//! motivation, ERRORS 5 points each up to 15). R holds GREET and SMILE
//! (unless N/A), so Σ_R w = 15, or 10 when SMILE is N/A.
//!
//! | audit | GREET | SMILE | EXTRA | ERRORS | base | bonus | deductions | total | d1 | d2 |
//! |---|---|---|---|---|---|---|---|---|---|---|
//! | n1a | yes | 3 | yes | 1 | 100·13.75/15 = 91.67 | 100·5/15 = 33.33 | 5 | min(100, 125) − 5 = 95.00 | 100 | 75 |
//! | n1b | yes | N/A | no | 0 | 100 | 0 | 0 | 100.00 | 100 | null |
//! | n2 | **no** | 4 | yes | 0 | 100·5/15 = 33.33 | 33.33 | 0 | 66.67 (critical) | 0 | 100 |
//! | n3, n4 | yes | 2 | no | 3 | 100·12.5/15 = 83.33 | 0 | 15 | 68.33 | 100 | 50 |
//! | s1 | yes | 4 | yes | 0 | 100 | 33.33 | 0 | 100.00 | 100 | 100 |
//! | n1 previous quarter | yes | 2 | no | 0 | 83.33 | 0 | 0 | 83.33 | 100 | 50 |
//!
//! Stores (target 85, default bands):
//! - N-1: mean(95.00, 100.00) = 97.50, exceeds; d1 100 (gap −15), d2 75
//!   (gap 10; n1b has none); previous 83.33, trend +14.17; rank 1.
//! - N-2: 66.67, non_compliant (critical); d1 0 (gap 85), d2 100 (gap −15);
//!   rank 4.
//! - N-3, N-4: 68.33, non_compliant (under 70); d1 100, d2 50 (gap 35);
//!   rank 2 and 2.
//! - N-5 (named like a formula): only a submitted and a rejected audit:
//!   not_audited, no score, no rank.
//! - S-1: 100.00, exceeds, rank 1 in the south.
//!
//! Region north: 5 stores, 4 audited; exceeds 1, non_compliant 3,
//! not_audited 1; mean score (9750 + 6667 + 6833 + 6833) / 4 = 7520.75 →
//! 75.21; d1 mean (100 + 0 + 100 + 100) / 4 = 75.00 (gap 10); d2 mean
//! (75 + 100 + 50 + 50) / 4 = 68.75 (gap 16.25).
//!
//! Items, over the six approved audits of the quarter: ERRORS failed 3 of 6
//! (n1a, n3, n4), EXTRA 3 of 6 (n1b, n3, n4), GREET 1 of 6 (n2), SMILE 0 of
//! 5 (N/A in n1b; 2 of 4 is 0.5, not failed). Ties by rate go by failures,
//! then code: ERRORS, EXTRA, GREET, SMILE.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;
use crate::programme::{A, Programme};

const FORMULA_NAME: &str = "=HYPERLINK(\"http://evil.example\",\"Click\")";

struct Quarter {
    p: Programme,
    n: [Uuid; 5],
    s1: Uuid,
}

async fn quarter() -> Quarter {
    let p = Programme::new().await;
    let v = p.version.clone();
    let n1 = p.store("N-1", "Store N-1", p.north).await;
    let n2 = p.store("N-2", "Store N-2", p.north).await;
    let n3 = p.store("N-3", "Store N-3", p.north).await;
    let n4 = p.store("N-4", "Store N-4", p.north).await;
    let n5 = p.store("N-5", FORMULA_NAME, p.north).await;
    let s1 = p.store("S-1", "Store S-1", p.south).await;
    p.approved(n1, &v, [A::Yes, A::Scale(3), A::Yes, A::Count(1)])
        .await;
    p.approved(n1, &v, [A::Yes, A::Na, A::No, A::Count(0)])
        .await;
    p.approved(n2, &v, [A::No, A::Scale(4), A::Yes, A::Count(0)])
        .await;
    p.approved(n3, &v, [A::Yes, A::Scale(2), A::No, A::Count(3)])
        .await;
    p.approved(n4, &v, [A::Yes, A::Scale(2), A::No, A::Count(3)])
        .await;
    p.approved(s1, &v, [A::Yes, A::Scale(4), A::Yes, A::Count(0)])
        .await;
    // Counted in no figure: one waiting for review, one rejected.
    p.submit(n5, &v, [A::Yes, A::Scale(4), A::Yes, A::Count(0)])
        .await;
    let rejected = p
        .submit(n5, &v, [A::Yes, A::Scale(4), A::Yes, A::Count(0)])
        .await;
    let (s, b) = p
        .review(
            &p.hq,
            rejected,
            json!({"action": "reject", "revision": 1, "comment": "not this store"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // The previous quarter, for N-1's trend.
    let prev = p.previous.clone();
    p.approved(n1, &prev, [A::Yes, A::Scale(2), A::No, A::Count(0)])
        .await;
    Quarter {
        p,
        n: [n1, n2, n3, n4, n5],
        s1,
    }
}

/// What the hand computation says of one store: code, audits, score,
/// band, critical, (d1, d2) scores, previous score, rank.
struct Want {
    code: &'static str,
    audits: i64,
    score: Option<i64>,
    band: &'static str,
    critical: bool,
    d1: Option<i64>,
    d2: Option<i64>,
    previous: Option<i64>,
    rank: Option<i64>,
}

impl Want {
    /// The store's score in the dimension `code`: the checklist scores two.
    fn dimension(&self, p: &Programme, code: &str) -> Option<i64> {
        if code == p.d1 {
            self.d1
        } else if code == p.d2 {
            self.d2
        } else {
            None
        }
    }
}

const TARGET: i64 = 8500;

fn north_wants() -> Vec<Want> {
    vec![
        Want {
            code: "N-1",
            audits: 2,
            score: Some(9750),
            band: "exceeds",
            critical: false,
            d1: Some(10_000),
            d2: Some(7500),
            previous: Some(8333),
            rank: Some(1),
        },
        Want {
            code: "N-2",
            audits: 1,
            score: Some(6667),
            band: "non_compliant",
            critical: true,
            d1: Some(0),
            d2: Some(10_000),
            previous: None,
            rank: Some(4),
        },
        Want {
            code: "N-3",
            audits: 1,
            score: Some(6833),
            band: "non_compliant",
            critical: false,
            d1: Some(10_000),
            d2: Some(5000),
            previous: None,
            rank: Some(2),
        },
        Want {
            code: "N-4",
            audits: 1,
            score: Some(6833),
            band: "non_compliant",
            critical: false,
            d1: Some(10_000),
            d2: Some(5000),
            previous: None,
            rank: Some(2),
        },
        Want {
            code: "N-5",
            audits: 0,
            score: None,
            band: "not_audited",
            critical: false,
            d1: None,
            d2: None,
            previous: None,
            rank: None,
        },
    ]
}

fn south_wants() -> Vec<Want> {
    vec![Want {
        code: "S-1",
        audits: 1,
        score: Some(10_000),
        band: "exceeds",
        critical: false,
        d1: Some(10_000),
        d2: Some(10_000),
        previous: None,
        rank: Some(1),
    }]
}

fn opt(v: Option<i64>) -> Value {
    v.map_or(Value::Null, |x| json!(x))
}

/// Check one JSON store row against the hand computation.
fn check_row(p: &Programme, row: &Value, w: &Want) {
    let ctx = format!("{}: {row}", w.code);
    assert_eq!(row["store_code"], w.code, "{ctx}");
    assert_eq!(row["audits_counted"], w.audits, "{ctx}");
    assert_eq!(row["score"], opt(w.score), "{ctx}");
    assert_eq!(row["band"], w.band, "{ctx}");
    assert_eq!(row["critical"], w.critical, "{ctx}");
    assert_eq!(row["previous_score"], opt(w.previous), "{ctx}");
    assert_eq!(
        row["trend"],
        opt(w.score.zip(w.previous).map(|(s, q)| s - q)),
        "{ctx}"
    );
    assert_eq!(row["rank"], opt(w.rank), "{ctx}");
    let dims = row["dimensions"].as_array().expect("dimensions");
    assert_eq!(dims.len(), p.dimensions.len(), "{ctx}");
    for (d, code) in dims.iter().zip(&p.dimensions) {
        let want = w.dimension(p, code);
        assert_eq!(d["code"], code.as_str(), "{ctx}");
        assert_eq!(d["score"], opt(want), "{ctx}");
        assert_eq!(d["gap"], opt(want.map(|s| TARGET - s)), "{ctx}");
    }
}

/// Every row of `/compliance/stores`, following the cursor.
async fn all_rows(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/compliance/stores?{query}&limit=2");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (s, b) = app.get(&path, token).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        rows.extend(b["items"].as_array().expect("items").iter().cloned());
        match b["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return rows,
        }
        assert!(rows.len() < 100, "the cursor never ends");
    }
}

fn q() -> String {
    format!("quarter={}", this_quarter())
}

#[tokio::test]
async fn store_region_and_item_figures_equal_the_hand_computation() {
    let t = quarter().await;
    let p = &t.p;
    let rows = all_rows(&p.app, &p.hq, &q()).await;
    let wants: Vec<Want> = north_wants().into_iter().chain(south_wants()).collect();
    assert_eq!(rows.len(), wants.len(), "{rows:?}");
    for (row, w) in rows.iter().zip(&wants) {
        check_row(p, row, w);
    }
    assert_eq!(rows[4]["store_name"], FORMULA_NAME);
    assert_eq!(rows[4]["store_id"], t.n[4].to_string());
    assert_eq!(rows[5]["store_id"], t.s1.to_string());
    assert_eq!(rows[0]["region_code"], "north");

    // Filters: region and band.
    let south = all_rows(&p.app, &p.hq, &format!("{}&region_id={}", q(), p.south)).await;
    assert_eq!(south.len(), 1);
    check_row(p, &south[0], &south_wants()[0]);
    let nc = all_rows(&p.app, &p.hq, &format!("{}&band=non_compliant", q())).await;
    let codes: Vec<&str> = nc
        .iter()
        .map(|r| r["store_code"].as_str().expect("value"))
        .collect();
    assert_eq!(codes, ["N-2", "N-3", "N-4"]);
    // A filtered row keeps its rank among all the region's stores.
    assert_eq!(nc[0]["rank"], 4);

    // Regions.
    let (s, b) = p
        .app
        .get(&format!("/api/v1/compliance/regions?{}", q()), &p.hq)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let north = &b["items"][0];
    assert_eq!(north["region_code"], "north", "{b}");
    assert_eq!(north["stores"], 5);
    assert_eq!(north["audited"], 4);
    assert_eq!(
        north["bands"],
        json!({"non_compliant": 3, "below": 0, "meets": 0, "exceeds": 1, "not_audited": 1})
    );
    assert_eq!(north["mean_score"], 7521);
    for d in north["dimensions"].as_array().expect("dimensions") {
        let want = if d["code"] == p.d1.as_str() {
            Some(7500)
        } else if d["code"] == p.d2.as_str() {
            Some(6875)
        } else {
            None
        };
        assert_eq!(d["score"], opt(want), "{d}");
        assert_eq!(d["gap"], opt(want.map(|s| TARGET - s)), "{d}");
    }
    let south = &b["items"][1];
    assert_eq!(south["region_code"], "south");
    assert_eq!(south["mean_score"], 10_000);
    assert_eq!(south["bands"]["exceeds"], 1);

    // Items: the Pareto of failures.
    let (b, items) = p.failures(&p.hq).await;
    assert_eq!(
        items,
        [
            ("STD-ERRORS".to_owned(), 6, 3),
            ("STD-EXTRA".to_owned(), 6, 3),
            ("STD-GREET".to_owned(), 6, 1),
            ("STD-SMILE".to_owned(), 5, 0),
        ]
    );
    assert_eq!(b["items"][0]["failure_rate"], 0.5);
    assert_eq!(b["items"][0]["dimension"], p.d1.as_str());
}

fn points(h: Option<i64>) -> String {
    h.map(storecheck_shared::compliance::points)
        .unwrap_or_default()
}

#[tokio::test]
async fn the_csv_has_every_figure_and_neutralises_formulas() {
    let t = quarter().await;
    let p = &t.p;
    let (s, ct, disposition, bytes) = p
        .download(&p.hq, &format!("/api/v1/compliance/summary.csv?{}", q()))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("text/csv"), "{ct}");
    assert_eq!(
        disposition,
        format!(
            "attachment; filename=\"storecheck-compliance-{}.csv\"",
            this_quarter()
        )
    );
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let mut want_header: Vec<String> = [
        "quarter",
        "region_code",
        "region_name",
        "store_code",
        "store_name",
        "audits_counted",
        "score",
        "band",
        "critical",
    ]
    .map(str::to_owned)
    .to_vec();
    for d in &p.dimensions {
        want_header.push(format!("{d}_score"));
        want_header.push(format!("{d}_gap"));
    }
    want_header.extend(["previous_score", "trend", "rank"].map(str::to_owned));
    assert_eq!(header, want_header);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    let wants: Vec<Want> = north_wants().into_iter().chain(south_wants()).collect();
    assert_eq!(rows.len(), wants.len());
    for (row, w) in rows.iter().zip(&wants) {
        let region = if w.code.starts_with('N') {
            "north"
        } else {
            "south"
        };
        let mut expect: Vec<String> = vec![
            this_quarter().to_string(),
            region.to_owned(),
            format!("Region {region}"),
            w.code.to_owned(),
            if w.code == "N-5" {
                format!("'{FORMULA_NAME}")
            } else {
                format!("Store {}", w.code)
            },
            w.audits.to_string(),
            points(w.score),
            w.band.to_owned(),
            w.critical.to_string(),
        ];
        for d in &p.dimensions {
            let v = w.dimension(p, d);
            expect.push(points(v));
            expect.push(points(v.map(|s| TARGET - s)));
        }
        expect.push(points(w.previous));
        expect.push(points(w.score.zip(w.previous).map(|(s, q)| s - q)));
        expect.push(w.rank.map(|r| r.to_string()).unwrap_or_default());
        let got: Vec<&str> = row.iter().collect();
        assert_eq!(got, expect, "{}", w.code);
    }
    // By hand, in points: N-1 97.50, trend 14.17.
    assert_eq!(&rows[0][6], "97.50");
    assert_eq!(&rows[0][header.len() - 2], "14.17");
}

fn cell_f64(c: &Data) -> Option<f64> {
    match c {
        Data::Float(f) => Some(*f),
        Data::Int(i) => Some(*i as f64),
        Data::Empty => None,
        other => panic!("not a number: {other:?}"),
    }
}

fn cell_str(c: &Data) -> String {
    match c {
        Data::String(s) => s.clone(),
        other => panic!("not a text: {other:?}"),
    }
}

fn close(a: Option<f64>, b: Option<i64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => (a * 100.0 - b as f64).abs() < 1e-6,
        _ => false,
    }
}

#[tokio::test]
async fn the_xlsx_has_every_figure_on_three_sheets() {
    let t = quarter().await;
    let p = &t.p;
    let (s, ct, disposition, bytes) = p
        .download(&p.hq, &format!("/api/v1/compliance/summary.xlsx?{}", q()))
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(
        ct,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(
        disposition.contains(&format!("storecheck-compliance-{}.xlsx", this_quarter())),
        "{disposition}"
    );
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.clone())).expect("xlsx");
    assert_eq!(book.sheet_names(), ["stores", "regions", "items"]);

    let stores = book.worksheet_range("stores").expect("stores");
    let rows: Vec<&[Data]> = stores.rows().collect();
    let header: Vec<String> = rows[0].iter().map(cell_str).collect();
    assert_eq!(header[4], "store_name");
    assert_eq!(header.last().map(String::as_str), Some("rank"));
    let wants: Vec<Want> = north_wants().into_iter().chain(south_wants()).collect();
    assert_eq!(rows.len(), 1 + wants.len());
    let dim_cols = p.dimensions.len() * 2;
    for (row, w) in rows[1..].iter().zip(&wants) {
        assert_eq!(cell_str(&row[0]), this_quarter().to_string());
        assert_eq!(cell_str(&row[3]), w.code);
        // The formula-like name is a plain text cell.
        if w.code == "N-5" {
            assert_eq!(cell_str(&row[4]), FORMULA_NAME);
        }
        assert_eq!(cell_f64(&row[5]), Some(w.audits as f64), "{}", w.code);
        assert!(close(cell_f64(&row[6]), w.score), "{} {:?}", w.code, row[6]);
        assert_eq!(cell_str(&row[7]), w.band);
        assert_eq!(row[8], Data::Bool(w.critical), "{}", w.code);
        for (i, d) in p.dimensions.iter().enumerate() {
            let v = w.dimension(p, d);
            assert!(close(cell_f64(&row[9 + 2 * i]), v), "{} {d}", w.code);
            assert!(
                close(cell_f64(&row[10 + 2 * i]), v.map(|s| TARGET - s)),
                "{} {d} gap",
                w.code
            );
        }
        let c = 9 + dim_cols;
        assert!(close(cell_f64(&row[c]), w.previous), "{}", w.code);
        assert!(
            close(
                cell_f64(&row[c + 1]),
                w.score.zip(w.previous).map(|(s, q)| s - q)
            ),
            "{}",
            w.code
        );
        assert_eq!(
            cell_f64(&row[c + 2]),
            w.rank.map(|r| r as f64),
            "{}",
            w.code
        );
    }

    let regions = book.worksheet_range("regions").expect("regions");
    let rows: Vec<&[Data]> = regions.rows().collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(cell_str(&rows[1][1]), "north");
    let counts: Vec<Option<f64>> = rows[1][3..10].iter().map(cell_f64).collect();
    // stores, audited, non_compliant, below, meets, exceeds, not_audited
    assert_eq!(
        counts,
        [5.0, 4.0, 3.0, 0.0, 0.0, 1.0, 1.0].map(Some).to_vec()
    );
    assert!(close(cell_f64(&rows[1][10]), Some(7521)));

    let items = book.worksheet_range("items").expect("items");
    let rows: Vec<&[Data]> = items.rows().collect();
    let got: Vec<(String, Option<f64>, Option<f64>)> = rows[1..]
        .iter()
        .map(|r| (cell_str(&r[1]), cell_f64(&r[5]), cell_f64(&r[6])))
        .collect();
    assert_eq!(
        got,
        [
            ("STD-ERRORS".to_owned(), Some(6.0), Some(3.0)),
            ("STD-EXTRA".to_owned(), Some(6.0), Some(3.0)),
            ("STD-GREET".to_owned(), Some(6.0), Some(1.0)),
            ("STD-SMILE".to_owned(), Some(5.0), Some(0.0)),
        ]
    );
    assert_eq!(cell_f64(&rows[1][7]), Some(0.5));

    // Formatted for people: the header frozen, filters on, bands coloured.
    let sheet = unzip(&bytes, "xl/worksheets/sheet1.xml");
    assert!(sheet.contains("state=\"frozen\""), "no frozen pane");
    assert!(sheet.contains("<autoFilter"), "no autofilter");
    assert!(sheet.contains("<col "), "no column widths");
    let styles = unzip(&bytes, "xl/styles.xml");
    assert!(styles.contains("<b/>"), "no bold header");
    assert!(styles.contains("0.00"), "no number format");
}

/// One file of the XLSX's zip, as text.
fn unzip(xlsx: &[u8], name: &str) -> String {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(Cursor::new(xlsx)).expect("zip");
    let mut f = zip.by_name(name).expect(name);
    let mut s = String::new();
    f.read_to_string(&mut s).expect("utf-8");
    s
}

#[tokio::test]
async fn managers_see_their_regions_and_auditors_none() {
    let t = quarter().await;
    let p = &t.p;
    let rows = all_rows(&p.app, &p.manager_token, &q()).await;
    let codes: Vec<&str> = rows
        .iter()
        .map(|r| r["store_code"].as_str().expect("value"))
        .collect();
    assert_eq!(codes, ["N-1", "N-2", "N-3", "N-4", "N-5"]);
    let (s, b) = p
        .app
        .get(
            &format!("/api/v1/compliance/stores?{}&region_id={}", q(), p.south),
            &p.manager_token,
        )
        .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    let (s, b) = p
        .app
        .get(
            &format!("/api/v1/compliance/regions?{}", q()),
            &p.manager_token,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["items"].as_array().expect("value").len(), 1, "{b}");
    // The item analysis counts the manager's audits only: S-1 is out.
    let (_, b) = p
        .app
        .get(
            &format!("/api/v1/compliance/items?{}", q()),
            &p.manager_token,
        )
        .await;
    assert_eq!(b["items"][2]["standard_code"], "STD-GREET", "{b}");
    assert_eq!(b["items"][2]["assessed"], 5, "{b}");
    let (_, _, _, csv) = p
        .download(
            &p.manager_token,
            &format!("/api/v1/compliance/summary.csv?{}", q()),
        )
        .await;
    let text = String::from_utf8(csv).expect("utf-8");
    assert_eq!(text.lines().count(), 1 + 5, "{text}");
    assert!(!text.contains("S-1"), "{text}");
    let (_, _, _, xlsx) = p
        .download(
            &p.manager_token,
            &format!("/api/v1/compliance/summary.xlsx?{}", q()),
        )
        .await;
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(xlsx)).expect("xlsx");
    assert_eq!(book.worksheet_range("stores").expect("stores").height(), 6);
    assert_eq!(
        book.worksheet_range("regions").expect("regions").height(),
        2
    );

    for path in ["stores", "regions", "items", "summary.csv", "summary.xlsx"] {
        let (s, b) = p
            .app
            .get(
                &format!("/api/v1/compliance/{path}?{}", q()),
                &p.auditor_token,
            )
            .await;
        assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden");
    }
}

#[tokio::test]
async fn settings_change_bands_and_gaps_from_the_next_read() {
    let t = quarter().await;
    let p = &t.p;
    let (s, b) = p.app.get("/api/v1/settings/compliance", &p.hq).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b,
        json!({"target": 8500, "below_from": 7000, "meets_from": 8500, "exceeds_from": 9500, "action_due_days": 14})
    );
    let stricter = json!({"target": 9000, "below_from": 6500, "meets_from": 8000, "exceeds_from": 9800, "action_due_days": 7});
    let (s, b) = p
        .app
        .send(
            reqwest::Method::PUT,
            "/api/v1/settings/compliance",
            Some(&p.manager_token),
            Some(&stricter),
        )
        .await
        .json::<Value>()
        .await
        .map(|b| (StatusCode::FORBIDDEN, b))
        .expect("json");
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden");
    let res = p
        .app
        .send(
            reqwest::Method::PUT,
            "/api/v1/settings/compliance",
            Some(&p.hq),
            Some(&stricter),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let rows = all_rows(&p.app, &p.hq, &q()).await;
    // N-1 97.50 is under 98 now: meets; N-3 68.33 ≥ 65: below; its d2 gap
    // is 90 − 50 = 40.
    assert_eq!(rows[0]["band"], "meets");
    assert_eq!(rows[2]["band"], "below");
    assert_eq!(rows[2]["dimensions"][1]["gap"], 4000);
    // N-2 stays non-compliant: a critical failure whatever its score.
    assert_eq!(rows[1]["band"], "non_compliant");

    let bad = json!({"target": 12000, "below_from": 9000, "meets_from": 8000, "exceeds_from": 9800, "action_due_days": 0});
    let res = p
        .app
        .send(
            reqwest::Method::PUT,
            "/api/v1/settings/compliance",
            Some(&p.hq),
            Some(&bad),
        )
        .await;
    let (s, b) = into_json(res).await;
    let details = assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(
        fields(&details),
        ["target", "meets_from", "action_due_days"]
    );
    // Nothing of the bad request was kept.
    let (_, b) = p.app.get("/api/v1/settings/compliance", &p.hq).await;
    assert_eq!(b, stricter);
}

#[tokio::test]
async fn bad_compliance_queries_get_clear_errors() {
    let p = Programme::new().await;
    for (query, field) in [
        ("", "quarter"),
        ("quarter=2026-Q5", "quarter"),
        ("quarter=soon", "quarter"),
        ("quarter=2026-Q4&band=great", "band"),
        ("quarter=2026-Q4&region_id=nope", "region_id"),
        ("quarter=2026-Q4&cursor=%%%", "cursor"),
        ("quarter=2026-Q4&limit=0", "limit"),
        ("quarter=2026-Q4&colour=red", "colour"),
    ] {
        let (s, b) = p
            .app
            .get(&format!("/api/v1/compliance/stores?{query}"), &p.hq)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{query}: {b}");
        assert!(b["error"]["code"].is_string(), "{query}: {b}");
        assert!(
            b.to_string().contains(field),
            "{query}: the error names {field}: {b}"
        );
    }
    let (s, b) = p
        .app
        .get(
            &format!(
                "/api/v1/compliance/summary.csv?quarter=2026-Q4&region_id={}",
                Uuid::new_v4()
            ),
            &p.hq,
        )
        .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn the_item_analysis_adds_versions_of_a_quarter_by_standard_code() {
    let p = Programme::new().await;
    let store = p.store("N-1", "Store N-1", p.north).await;
    // Version 2 of the same checklist, for the same quarter: new item ids,
    // the same standards.
    let (s, b) = p
        .app
        .post(
            &format!("/api/v1/checklists/{}/publish", p.checklist),
            &p.hq,
            json!({"quarter": this_quarter().to_string()}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (_, v2) = p
        .app
        .get(&format!("/api/v1/checklist-versions/{}", id_of(&b)), &p.hq)
        .await;
    assert_ne!(v2["id"], p.version["id"]);
    assert_ne!(
        Programme::items(&v2)["GREET"],
        Programme::items(&p.version)["GREET"]
    );
    let v1 = p.version.clone();
    p.approved(store, &v1, [A::No, A::Scale(4), A::Yes, A::Count(0)])
        .await;
    p.approved(store, &v2, [A::Yes, A::Na, A::Yes, A::Count(2)])
        .await;
    let (_, got) = p.failures(&p.hq).await;
    assert_eq!(
        got,
        [
            ("STD-ERRORS".to_owned(), 2, 1),
            ("STD-GREET".to_owned(), 2, 1),
            ("STD-EXTRA".to_owned(), 2, 0),
            ("STD-SMILE".to_owned(), 1, 0),
        ]
    );
    // Both audits count for the store: (scores by hand) 66.67 and 100 − 10 = 90.00.
    let rows = all_rows(&p.app, &p.hq, &q()).await;
    assert_eq!(rows[0]["audits_counted"], 2);
    assert_eq!(rows[0]["score"], (6667 + 9000 + 1) / 2);
}
