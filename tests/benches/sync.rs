//! Sync benchmarks: push ingest against a plain-INSERT ceiling, and pull
//! under 256 concurrent clients against the HTTP floor of the same server.
//!
//! `cargo bench -p storecheck-tests --bench sync` runs on SQLite; with
//! `STORECHECK_BENCH_DATABASE_URL=postgres://…/postgres` it runs on
//! PostgreSQL as well (a fresh database per part). Figures are printed as
//! ratios to a ceiling measured in the same run on the same machine.

use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::{EntityTrait, Set};
use serde_json::{Value, json};
use storecheck_server::config::Secret;
use storecheck_server::entities::enums::AuditStatus;
use storecheck_server::entities::{audit_answers, audit_revisions, audits};
use storecheck_shared::Role;
use storecheck_shared::catalog::ItemKind;
use storecheck_shared::sync::AuditPayload;
use storecheck_tests::bench::{fresh_url, peak_rss_mib};
use storecheck_tests::client::PhoneClient;
use uuid::Uuid;

mod common;
use common::{Server, api, server, user};

const AUDITS: usize = 1000;
const ITEMS: usize = 120;
const PHONES: usize = 8;
const PULL_CLIENTS: usize = 256;
/// Audits per push, as the reference phone client sends them.
const PUSH_BATCH: usize = 25;
/// Rows per multi-row INSERT, as the server writes them.
const ROWS_PER_INSERT: usize = 1500;
const PULL_ROUNDS: usize = 10;
/// Requests per client in the paced pull runs.
const PACED_ROUNDS: usize = 40;
const PASSWORD: &str = "bench-password";

/// A published checklist of `ITEMS` items of every kind, a store, and
/// `auditors` auditors each assigned to it. Returns (hq token, version JSON,
/// assignment per auditor, auditor emails).
async fn organisation(s: &Server, auditors: usize) -> (String, Value, Vec<Uuid>, Vec<String>) {
    let hash = storecheck_server::auth::hash_password(PASSWORD.to_owned())
        .await
        .expect("hash");
    user(s, "hq@bench.test", Role::Hq, vec![], &hash).await;
    let http = reqwest::Client::new();
    let hq = common::login(&http, &s.base, "hq@bench.test", PASSWORD).await;
    let post = |path: &str, body: Value| {
        api(
            &http,
            reqwest::Method::POST,
            format!("{}{path}", s.base),
            &hq,
            body,
        )
    };
    let region = post("/api/v1/regions", json!({"code": "r", "name": "Region"})).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let store = post(
        "/api/v1/stores",
        json!({"code": "S", "name": "Store", "address": "1 Road", "latitude": 31.23,
        "longitude": 121.47, "timezone": "Asia/Shanghai", "region_id": region}),
    )
    .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let version = common::publish_checklist(&http, &s.base, &hq, ITEMS).await;
    let quarter = storecheck_shared::quarter::Quarter::containing(Utc::now().date_naive());
    let region_id: Uuid = region.parse().expect("uuid");
    let mut assignments = Vec::new();
    let mut emails = Vec::new();
    for n in 0..auditors {
        let email = format!("auditor{n}@bench.test");
        let id = user(s, &email, Role::Auditor, vec![region_id], &hash).await;
        let a = post(
            "/api/v1/assignments",
            json!({"store_id": store, "auditor_id": id, "checklist_version_id": version["id"],
            "window_start": quarter.first_day(), "window_end": quarter.last_day()}),
        )
        .await;
        assignments.push(a["id"].as_str().expect("id").parse().expect("uuid"));
        emails.push(email);
    }
    (hq, version, assignments, emails)
}

fn audit(assignment: Uuid, version: &Value, n: usize) -> AuditPayload {
    let now = Utc::now();
    let answers: Vec<Value> = version["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .flat_map(|s| s["items"].as_array().expect("items").iter())
        .enumerate()
        .map(|(i, item)| {
            let value = match item["kind"].as_str().expect("kind") {
                "yes_no" => json!(!(i + n).is_multiple_of(7)),
                "scale" => json!((i + n) % 5),
                "measure" => json!(((i * 37 + n) % 300) as f64),
                "choice" => json!(if (i + n).is_multiple_of(3) { "b" } else { "a" }),
                _ => json!(0),
            };
            json!({"item_id": item["id"], "value": value, "answered_at": now})
        })
        .collect();
    serde_json::from_value(json!({
        "id": Uuid::new_v4(), "revision": 1, "assignment_id": assignment, "checklist_version_id": version["id"],
        "started_at": now - chrono::Duration::minutes(30), "finished_at": now,
        "checkin": {"latitude": 31.23, "longitude": 121.47, "accuracy_m": 5.0}, "answers": answers,
    }))
    .expect("payload")
}

/// The same rows the server writes for each audit, written the plainest
/// fast way: per batch of audits one transaction and one multi-row INSERT
/// per table, on a fresh database, with as many writers as phones.
async fn ceiling(name: &str, payloads: &[AuditPayload], version: &Value) -> Duration {
    let tmp = tempfile::tempdir().expect("tmp");
    let url = fresh_url(tmp.path(), name).await;
    let data = storecheck_server::config::DataConfig {
        data_dir: tmp.path().to_path_buf(),
        database_url: Some(Secret(url)),
        db_max_connections: 8,
    };
    let db = storecheck_server::db::connect(&data)
        .await
        .expect("connect");
    storecheck_server::db::migrate(&db).await.expect("migrate");
    // The same parents the audits refer to, so foreign keys are checked as on the server.
    use storecheck_server::db as sdb;
    let region = sdb::regions::create(&db, "r".into(), "Region".into())
        .await
        .map_err(|e| e.message)
        .expect("region");
    let store = sdb::stores::create(
        &db,
        sdb::stores::StoreFields {
            code: "S".into(),
            name: "Store".into(),
            address: "1 Road".into(),
            latitude: 31.23,
            longitude: 121.47,
            timezone: "Asia/Shanghai".into(),
            region_id: region.id,
        },
    )
    .await
    .map_err(|e| e.message)
    .expect("store");
    let auditor = sdb::users::create(
        &db,
        "a@bench.test".into(),
        "x".into(),
        Role::Auditor,
        vec![region.id],
    )
    .await
    .map_err(|e| e.message)
    .expect("user")
    .id;
    let checklist = sdb::catalog::create_checklist(&db, "Bench".into(), &Default::default())
        .await
        .map_err(|e| e.message)
        .expect("checklist");
    let version_id: Uuid = version["id"].as_str().expect("id").parse().expect("uuid");
    storecheck_server::entities::checklist_versions::Entity::insert(
        storecheck_server::entities::checklist_versions::ActiveModel {
            id: Set(version_id),
            checklist_id: Set(checklist.id),
            version: Set(1),
            quarter: Set(version["quarter"].as_str().expect("q").to_owned()),
            body: Set(version.to_string()),
            etag: Set("0".repeat(64)),
            published_at: Set(Utc::now()),
            published_by: Set(None),
        },
    )
    .exec_without_returning(&db)
    .await
    .expect("version");
    let q = storecheck_shared::quarter::Quarter::containing(Utc::now().date_naive());
    let assignment = sdb::assignments::create(
        &db,
        // No server runs on the ceiling's database.
        &sdb::sync::LogHead::off(),
        sdb::assignments::NewRow {
            store_id: store.id,
            auditor_id: auditor,
            checklist_version_id: version_id,
            window_start: q.first_day(),
            window_end: q.last_day(),
            created_by: None,
        },
    )
    .await
    .map_err(|e| e.message)
    .expect("assignment")
    .id;
    let items: Vec<&Value> = version["sections"]
        .as_array()
        .expect("s")
        .iter()
        .flat_map(|s| s["items"].as_array().expect("i").iter())
        .collect();
    // As many writers as the push has phones, one transaction per batch of
    // audits, as a push writes them.
    let db = std::sync::Arc::new(db);
    let items: std::sync::Arc<Vec<Value>> =
        std::sync::Arc::new(items.into_iter().cloned().collect());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..PHONES {
        let mine: Vec<AuditPayload> = payloads.iter().skip(w).step_by(PHONES).cloned().collect();
        let (db, items) = (db.clone(), items.clone());
        let store_id = store.id;
        tasks.push(tokio::spawn(async move {
            let db = &*db;
            let items = &*items;
            for batch in mine.chunks(PUSH_BATCH) {
                let txn = storecheck_server::db::begin_write(db).await.expect("txn");
                let now = Utc::now();
                let mut heads = Vec::new();
                let mut revisions = Vec::new();
                let mut answers = Vec::new();
                for p in batch {
                    let text = serde_json::to_string(p).expect("json");
                    heads.push(audits::ActiveModel {
                        id: Set(p.id),
                        assignment_id: Set(assignment),
                        auditor_id: Set(auditor),
                        store_id: Set(store_id),
                        checklist_version_id: Set(p.checklist_version_id),
                        status: Set(AuditStatus::Submitted),
                        revision: Set(1),
                        total: Set(0),
                        critical_failure: Set(false),
                        flags: Set("[]".into()),
                        started_at: Set(p.started_at),
                        finished_at: Set(p.finished_at),
                        started_at_server: Set(p.started_at),
                        finished_at_server: Set(p.finished_at),
                        created_at: Set(now),
                        updated_at: Set(now),
                        ..Default::default()
                    });
                    revisions.push(audit_revisions::ActiveModel {
                        id: Set(Uuid::now_v7()),
                        audit_id: Set(p.id),
                        revision: Set(1),
                        payload: Set(text),
                        payload_hash: Set("0".repeat(64)),
                        device_clock: Set(now),
                        received_at: Set(now),
                        skew_ms: Set(0),
                        total: Set(0),
                        base: Set(0),
                        bonus: Set(0),
                        deductions: Set(0),
                        critical_failure: Set(false),
                        breakdown: Set("{}".into()),
                        flags: Set("[]".into()),
                        checkin_latitude: Set(None),
                        checkin_longitude: Set(None),
                        checkin_accuracy: Set(None),
                    });
                    answers.extend(p.answers.iter().zip(items.iter()).map(|(a, item)| {
                        audit_answers::ActiveModel {
                            audit_id: Set(p.id),
                            revision: Set(1),
                            item_id: Set(a.item_id),
                            item_code: Set(item["code"].as_str().unwrap_or("").to_owned()),
                            kind: Set(serde_json::from_value::<ItemKind>(item["kind"].clone())
                                .expect("kind")
                                .into()),
                            na: Set(false),
                            value_number: Set(a.value.as_ref().and_then(Value::as_f64)),
                            value_text: Set(a
                                .value
                                .as_ref()
                                .and_then(Value::as_str)
                                .map(str::to_owned)),
                            failed: Set(false),
                            note: Set(None),
                            answered_at: Set(a.answered_at),
                            ..Default::default()
                        }
                    }));
                }
                audits::Entity::insert_many(heads)
                    .exec_without_returning(&txn)
                    .await
                    .expect("audits");
                audit_revisions::Entity::insert_many(revisions)
                    .exec_without_returning(&txn)
                    .await
                    .expect("revisions");
                for chunk in answers.chunks(ROWS_PER_INSERT) {
                    audit_answers::Entity::insert_many(chunk.to_vec())
                        .exec_without_returning(&txn)
                        .await
                        .expect("answers");
                }
                sea_orm::TransactionSession::commit(txn)
                    .await
                    .expect("commit");
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    start.elapsed()
}

/// Push `payloads` from one reference phone per email, each phone talking
/// to the server at `bases[phone % bases.len()]`; how long it took.
async fn push_through(
    bases: &[String],
    emails: &[String],
    payloads: &[AuditPayload],
    tmp: &std::path::Path,
) -> Duration {
    let mut phones = Vec::new();
    for (n, email) in emails.iter().enumerate() {
        let phone = PhoneClient::open(
            &tmp.join(format!("phone{n}-{}.db", Uuid::new_v4().simple())),
            &bases[n % bases.len()],
            email,
            PASSWORD,
        )
        .await
        .expect("phone");
        for p in payloads.iter().skip(n).step_by(emails.len()) {
            phone.queue(p).await.expect("queue");
        }
        phone.sign_in().await.expect("sign in");
        phones.push(phone);
    }
    let start = Instant::now();
    let tasks: Vec<_> = phones
        .into_iter()
        .map(|p| tokio::spawn(async move { p.push().await.expect("push") }))
        .collect();
    let mut accepted = 0;
    for t in tasks {
        accepted += t.await.expect("task").accepted;
    }
    let took = start.elapsed();
    assert_eq!(accepted, payloads.len(), "every audit accepted");
    took
}

/// Push `payloads` as `emails.len()` phones would, in batches of
/// `PUSH_BATCH`, each phone talking to `bases[phone % bases.len()]`, with
/// the request bodies made beforehand: the time is the server's, not the
/// client's. Every audit must come back accepted.
async fn push_plain(bases: &[String], emails: &[String], payloads: &[AuditPayload]) -> Duration {
    let client = reqwest::Client::new();
    let mut phones = Vec::new();
    for (n, email) in emails.iter().enumerate() {
        let base = bases[n % bases.len()].clone();
        let v: Value = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("json");
        let token = v["access_token"].as_str().expect("token").to_owned();
        let mine: Vec<&AuditPayload> = payloads.iter().skip(n).step_by(emails.len()).collect();
        let bodies: Vec<Vec<u8>> = mine
            .chunks(PUSH_BATCH)
            .map(|b| {
                serde_json::to_vec(&json!({"device_clock": Utc::now(), "audits": b})).expect("body")
            })
            .collect();
        phones.push((base, token, bodies));
    }
    let start = Instant::now();
    let tasks: Vec<_> = phones
        .into_iter()
        .map(|(base, token, bodies)| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut accepted = 0;
                for body in bodies {
                    let res = client
                        .post(format!("{base}/api/v1/sync/push"))
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .expect("push");
                    assert!(res.status().is_success(), "{}", res.status());
                    let v: Value = res.json().await.expect("json");
                    accepted += v["results"]
                        .as_array()
                        .expect("results")
                        .iter()
                        .filter(|r| r["outcome"] == "accepted")
                        .count();
                }
                accepted
            })
        })
        .collect();
    let mut accepted = 0;
    for t in tasks {
        accepted += t.await.expect("task");
    }
    let took = start.elapsed();
    assert_eq!(accepted, payloads.len(), "every audit accepted");
    took
}

/// A `storecheck serve` process of the release build, on `url`.
struct Process {
    base: String,
    child: std::process::Child,
    _tmp: tempfile::TempDir,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The release server binary beside this benchmark, if it was built.
fn server_binary() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("storecheck");
    bin.is_file().then_some(bin)
}

async fn process(bin: &std::path::Path, url: &str) -> Process {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let tmp = tempfile::tempdir().expect("tmp");
    let child = std::process::Command::new(bin)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(tmp.path())
        .args(["--database-url", url, "--db-max-connections", "16"])
        .args(["--log-format", "json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the server");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server process did not get ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Process {
        base,
        child,
        _tmp: tmp,
    }
}

/// The same push workload against one server process and against two
/// sharing one PostgreSQL: how the stateless servers scale out.
async fn scale_bench() {
    let Some(bin) = server_binary() else {
        println!("scale-out: skipped; build the server first (cargo build --release -p server)");
        return;
    };
    let s = server("scale", |c| c.max_push_bytes = 64 * 1024 * 1024).await;
    let (_hq, version, assignments, emails) = organisation(&s, PHONES).await;
    let one = process(&bin, &s.url).await;
    let two = process(&bin, &s.url).await;
    let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for round in 0..4 {
        let payloads: Vec<AuditPayload> = (0..AUDITS)
            .map(|n| audit(assignments[n % PHONES], &version, n + round * AUDITS))
            .collect();
        let servers = round % 2 + 1;
        let bases: Vec<String> = [&one, &two][..servers]
            .iter()
            .map(|p| p.base.clone())
            .collect();
        let took = push_plain(&bases, &emails, &payloads).await;
        rates[servers - 1].push(AUDITS as f64 / took.as_secs_f64());
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (r1, r2) = (mean(&rates[0]), mean(&rates[1]));
    println!(
        "scale-out [postgresql] push {AUDITS} audits x {ITEMS} answers, {PHONES} phones, batches of {PUSH_BATCH}: \
         one server process {r1:.0} audits/s, two processes on one database {r2:.0} audits/s; two / one {:.2} \
         (runs: one {:?}, two {:?})",
        r2 / r1,
        rates[0].iter().map(|r| r.round()).collect::<Vec<_>>(),
        rates[1].iter().map(|r| r.round()).collect::<Vec<_>>(),
    );
}

async fn push_bench(backend: &str) {
    let s = server(&format!("push_{backend}"), |c| {
        c.max_push_bytes = 64 * 1024 * 1024
    })
    .await;
    let (_hq, version, assignments, emails) = organisation(&s, PHONES).await;
    let payloads: Vec<AuditPayload> = (0..AUDITS)
        .map(|n| audit(assignments[n % PHONES], &version, n))
        .collect();
    let pushed = push_plain(std::slice::from_ref(&s.base), &emails, &payloads).await;
    // The same workload again through the reference phone clients (each
    // with its local database and retry queue), fresh audits.
    let through_phones: Vec<AuditPayload> = (0..AUDITS)
        .map(|n| audit(assignments[n % PHONES], &version, n + AUDITS))
        .collect();
    let tmp = tempfile::tempdir().expect("tmp");
    let phoned = push_through(
        std::slice::from_ref(&s.base),
        &emails,
        &through_phones,
        tmp.path(),
    )
    .await;
    let ceiling = ceiling(&format!("ceiling_{backend}"), &payloads, &version).await;
    let rate = |d: Duration| AUDITS as f64 / d.as_secs_f64();
    println!(
        "push ingest [{backend}] {AUDITS} audits x {ITEMS} answers, {PHONES} concurrent pushers, batches of {PUSH_BATCH}: \
         {:.0} audits/s ({:.0} answers/s); ceiling (the same rows, one multi-row INSERT per table and batch, \
         one transaction per batch, same concurrency): {:.0} audits/s; ratio {:.2} (target >= 0.80); \
         through the reference phone clients: {:.0} audits/s",
        rate(pushed),
        rate(pushed) * ITEMS as f64,
        rate(ceiling),
        ceiling.as_secs_f64() / pushed.as_secs_f64(),
        rate(phoned),
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// `PULL_ROUNDS` (paced: the paced rounds) × (one request per client) with
/// `PULL_CLIENTS` clients at once.
async fn load(
    base: &str,
    tokens: &[String],
    kind: &'static str,
    version: &str,
    etag: &str,
    pace: Option<(Duration, usize)>,
) -> (f64, Duration, Duration) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(PULL_CLIENTS)
        .build()
        .expect("client");
    // A cursor pull resumes from a cursor: each client gets its own first.
    let mut cursors = Vec::with_capacity(tokens.len());
    for token in tokens {
        cursors.push(if kind == "cursor pull" {
            let v: Value = client
                .get(format!("{base}/api/v1/sync/pull"))
                .bearer_auth(token)
                .send()
                .await
                .expect("first pull")
                .json()
                .await
                .expect("json");
            v["cursor"].as_str().map(str::to_owned)
        } else {
            None
        });
    }
    let start = Instant::now();
    let clients = tokens.len();
    let tasks: Vec<_> = tokens
        .iter()
        .cloned()
        .zip(cursors)
        .enumerate()
        .map(|(n, (token, mut cursor))| {
            let client = client.clone();
            let (base, version, etag) = (base.to_owned(), version.to_owned(), etag.to_owned());
            tokio::spawn(async move {
                let rounds = pace.map_or(PULL_ROUNDS, |(_, r)| r);
                let mut lat = Vec::with_capacity(rounds);
                for round in 0..rounds {
                    // Paced: each request has its time, and its latency counts
                    // from then, so a slow server cannot hide queueing.
                    let t = match pace {
                        Some((every, _)) => {
                            let at =
                                start + every.mul_f64(round as f64 + n as f64 / clients as f64);
                            tokio::time::sleep_until(at.into()).await;
                            at
                        }
                        None => Instant::now(),
                    };
                    let req = match kind {
                        // Each round a page size not asked for before: an
                        // answer the server cannot have remembered.
                        "cold first pull" => client
                            .get(format!("{base}/api/v1/sync/pull?limit={}", round + 1))
                            .bearer_auth(&token),
                        "first pull" => client
                            .get(format!("{base}/api/v1/sync/pull"))
                            .bearer_auth(&token),
                        "cursor pull" => match &cursor {
                            Some(c) => client
                                .get(format!("{base}/api/v1/sync/pull?cursor={c}"))
                                .bearer_auth(&token),
                            None => client
                                .get(format!("{base}/api/v1/sync/pull"))
                                .bearer_auth(&token),
                        },
                        "version 304" => client
                            .get(format!("{base}/api/v1/checklist-versions/{version}"))
                            .bearer_auth(&token)
                            .header("if-none-match", &etag),
                        _ => client.get(format!("{base}/healthz")),
                    };
                    let res = req.send().await.expect("sent");
                    let status = res.status().as_u16();
                    let body: Value = res.json().await.unwrap_or(Value::Null);
                    assert!(status == 200 || status == 304, "{kind}: {status} {body}");
                    if kind == "cursor pull" {
                        cursor = body["cursor"].as_str().map(str::to_owned);
                    }
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let elapsed = start.elapsed();
    all.sort();
    (
        all.len() as f64 / elapsed.as_secs_f64(),
        percentile(&all, 0.5),
        percentile(&all, 0.99),
    )
}

async fn pull_bench(backend: &str) {
    let s = server(&format!("pull_{backend}"), |c| {
        c.max_push_bytes = 64 * 1024 * 1024
    })
    .await;
    let (hq, version, _assignments, emails) = organisation(&s, PULL_CLIENTS).await;
    let http = reqwest::Client::new();
    let vid = version["id"].as_str().expect("id").to_owned();
    let res = http
        .get(format!("{}/api/v1/checklist-versions/{vid}", s.base))
        .bearer_auth(&hq)
        .send()
        .await
        .expect("version");
    let etag = res.headers()["etag"].to_str().expect("etag").to_owned();
    let mut tokens = Vec::new();
    for e in &emails {
        let v: Value = http
            .post(format!("{}/api/v1/auth/login", s.base))
            .json(&json!({"email": e, "password": PASSWORD}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("json");
        tokens.push(v["access_token"].as_str().expect("token").to_owned());
    }
    let (floor_rps, _, _) = load(&s.base, &tokens, "healthz", &vid, &etag, None).await;
    println!(
        "pull under load [{backend}] {PULL_CLIENTS} concurrent clients x {PULL_ROUNDS} requests; floor (GET /healthz, no database): {floor_rps:.0} req/s"
    );
    // A cold first pull finds nothing remembered; a repeated one (the same
    // pull, ten times) is answered from memory while nothing changes.
    for kind in [
        "cold first pull",
        "first pull",
        "cursor pull",
        "version 304",
    ] {
        let (rps, p50, p99) = load(&s.base, &tokens, kind, &vid, &etag, None).await;
        println!(
            "  {kind:<15} {rps:>7.0} req/s (ratio to floor {:.2}), p50 {:.1} ms, p99 {:.1} ms",
            rps / floor_rps,
            p50.as_secs_f64() * 1000.0,
            p99.as_secs_f64() * 1000.0
        );
    }
    // The same clients, each sending at a steady pace that adds up to 0.3
    // of the floor: the latency phones see at that rate.
    let offered = 0.3 * floor_rps;
    let every = Duration::from_secs_f64(PULL_CLIENTS as f64 / offered);
    println!(
        "  paced: {PULL_CLIENTS} clients together offering {offered:.0} req/s (0.3 of the floor), {PACED_ROUNDS} requests each"
    );
    for kind in ["first pull", "cursor pull", "version 304"] {
        let pace = Some((every, PACED_ROUNDS));
        let (rps, p50, p99) = load(&s.base, &tokens, kind, &vid, &etag, pace).await;
        println!(
            "  {kind:<15} {rps:>7.0} req/s served, p50 {:.1} ms, p99 {:.1} ms (target p99 <= 20 ms)",
            p50.as_secs_f64() * 1000.0,
            p99.as_secs_f64() * 1000.0
        );
    }
    println!(
        "  peak RSS of the benchmark process (server and clients together): {:.0} MiB",
        peak_rss_mib()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = common::runtime();
    let backend = common::backend();
    // `STORECHECK_BENCH_PARTS=push,pull` runs only the parts named.
    let parts = std::env::var("STORECHECK_BENCH_PARTS").unwrap_or_default();
    let wanted = |part: &str| parts.is_empty() || parts.split(',').any(|p| p.trim() == part);
    rt.block_on(async {
        if wanted("push") {
            push_bench(backend).await;
        }
        if wanted("pull") {
            pull_bench(backend).await;
        }
        if wanted("scale") && backend == "postgresql" {
            scale_bench().await;
        }
    });
}
