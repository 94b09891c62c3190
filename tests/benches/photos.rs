//! Photo benchmarks, each beside a ceiling measured in the same run:
//! - `pipeline`: a 12-megapixel JPEG through the whole processing (decode,
//!   EXIF, two derivatives, perceptual hash) at 2 workers, and the
//!   thumbnail alone, beside `vipsthumbnail --size 320` on the same file;
//!   peak RSS of a process doing only that work;
//! - `reuse`: looking up reused photos among 1,000,000 stored hashes through
//!   the band index, beside a scan of every hash;
//! - `upload`: 200 photos of 3 MB through presigned URLs and completion by
//!   8 clients, beside plain PUTs of the same bytes to the same endpoint.
//!
//! `cargo bench -p storecheck-tests --bench photos`; the reuse lookup runs
//! on PostgreSQL with `STORECHECK_BENCH_DATABASE_URL=postgres://…/postgres`
//! (SQLite otherwise). `STORECHECK_BENCH_PARTS=pipeline,reuse` picks parts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, DatabaseBackend, Statement};
use storecheck_server::config::Secret;
use storecheck_server::photos::process;
use storecheck_server::{Application, ServeConfig};
use storecheck_tests::bench::{fresh_url, peak_rss_mib};
use storecheck_tests::images::{self, Exif, View};
use uuid::Uuid;

const WORKERS: usize = 2;
const PIPELINE_PHOTOS: usize = 20;
const STORED_HASHES: i64 = 1_000_000;
const LOOKUPS: usize = 200;
const UPLOADS: usize = 200;
const UPLOAD_BYTES: usize = 3 * 1024 * 1024;
const UPLOADERS: usize = 8;

fn twelve_megapixels() -> Vec<u8> {
    let e = Exif {
        orientation: Some(6),
        taken: Some("2026:12:03 10:15:00".into()),
        offset: Some("+08:00".into()),
        gps: Some((31.2304, 121.4737)),
    };
    let view = View {
        grain: 10.0,
        ..View::default()
    };
    images::jpeg(&images::shelf(12, 4000, 3000, view), 90, Some(&e))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The child process of the pipeline part: `WORKERS` threads process the
/// file `PIPELINE_PHOTOS` times; prints wall seconds and peak RSS.
fn pipeline_child(path: &str) {
    let bytes = Arc::new(std::fs::read(path).expect("read the photo"));
    let started = Instant::now();
    let threads: Vec<_> = (0..WORKERS)
        .map(|_| {
            let bytes = bytes.clone();
            std::thread::spawn(move || {
                for _ in 0..PIPELINE_PHOTOS / WORKERS {
                    process::process(&bytes, "image/jpeg").expect("processed");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("worker");
    }
    println!("{} {}", started.elapsed().as_secs_f64(), peak_rss_mib());
}

fn pipeline_bench() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("12mp.jpg");
    let bytes = twelve_megapixels();
    std::fs::write(&path, &bytes).expect("write");
    // One photo at a time, in this process.
    let one: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            process::process(&bytes, "image/jpeg").expect("processed");
            t.elapsed()
        })
        .collect();
    let thumb: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            process::thumbnail(&bytes).expect("thumbnail");
            t.elapsed()
        })
        .collect();
    // The whole pipeline at 2 workers, in a process of its own for its RSS.
    let out = std::process::Command::new(std::env::current_exe().expect("self"))
        .env("STORECHECK_BENCH_PIPELINE_CHILD", &path)
        .output()
        .expect("child");
    let line = String::from_utf8_lossy(&out.stdout);
    let mut fields = line
        .split_whitespace()
        .map(|v| v.parse::<f64>().unwrap_or(f64::NAN));
    let (wall, rss) = (
        fields.next().unwrap_or(f64::NAN),
        fields.next().unwrap_or(f64::NAN),
    );
    let per_photo_ms = wall * 1000.0 / PIPELINE_PHOTOS as f64;
    // The ceiling: vipsthumbnail making the same thumbnail from the file.
    let out_path = tmp.path().join("vips.jpg");
    let vips: Vec<Duration> = (0..5)
        .filter_map(|_| {
            let t = Instant::now();
            let ok = std::process::Command::new("vipsthumbnail")
                .arg(&path)
                .args(["--size", "320", "-o"])
                .arg(&out_path)
                .status()
                .ok()?
                .success();
            ok.then(|| t.elapsed())
        })
        .collect();
    let (one, thumb) = (median(one), median(thumb));
    println!("pipeline, 12-megapixel JPEG ({} KB):", bytes.len() / 1024);
    println!(
        "  whole pipeline, one photo alone: {:.0} ms (target < 300 ms)",
        one.as_secs_f64() * 1000.0
    );
    println!(
        "  whole pipeline at {WORKERS} workers: {per_photo_ms:.0} ms per photo of wall time, peak RSS {rss:.0} MiB (target < 200 MB)"
    );
    if vips.is_empty() {
        println!(
            "  thumbnail alone: {:.0} ms; vipsthumbnail not installed (apt-get install libvips-tools)",
            thumb.as_secs_f64() * 1000.0
        );
    } else {
        let vips = median(vips);
        println!(
            "  thumbnail alone: {:.0} ms; vipsthumbnail --size 320: {:.0} ms; ratio {:.2} (≤ 1 is no slower)",
            thumb.as_secs_f64() * 1000.0,
            vips.as_secs_f64() * 1000.0,
            thumb.as_secs_f64() / vips.as_secs_f64()
        );
    }
}

/// The bits of `i`'s pseudo-random hash (splitmix64), as SQL and as Rust
/// compute it alike.
fn hash_of(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

async fn reuse_bench() {
    let tmp = tempfile::tempdir().expect("tmp");
    let url = fresh_url(tmp.path(), "reuse").await;
    let backend = if url.starts_with("postgres") {
        "postgresql"
    } else {
        "sqlite"
    };
    // One connection: the bulk load's session setting holds for every statement.
    let mut opts = sea_orm::ConnectOptions::new(url.as_str());
    opts.max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    let db = Database::connect(opts).await.expect("connect");
    storecheck_server::db::migrate(&db).await.expect("migrate");
    let audit = Uuid::new_v4();
    // 1,000,000 processed files, loaded in batches; the owner rows the
    // foreign key wants are not part of what is measured.
    if backend == "postgresql" {
        db.execute_unprepared("SET session_replication_role = replica")
            .await
            .expect("bulk load without foreign key triggers");
    } else {
        db.execute_unprepared("PRAGMA foreign_keys = OFF")
            .await
            .expect("pragma");
    }
    let load = Instant::now();
    let batch = 5_000i64;
    for start in (0..STORED_HASHES).step_by(batch as usize) {
        let mut sql = String::from(
            "INSERT INTO photo_files (photo_id, sha256, audit_id, phash, band0, band1, band2, band3, flags, processed_at) VALUES ",
        );
        for i in start..(start + batch).min(STORED_HASHES) {
            let h = hash_of(i as u64);
            let b = process::bands(h);
            if i > start {
                sql.push(',');
            }
            sql.push_str(&format!(
                "('{}', '{:064x}', '{}', {}, {}, {}, {}, {}, '{{}}', CURRENT_TIMESTAMP)",
                Uuid::new_v4(),
                i,
                audit,
                i64::from_ne_bytes(h.to_ne_bytes()),
                b[0],
                b[1],
                b[2],
                b[3]
            ));
        }
        db.execute_unprepared(&sql).await.expect("load");
    }
    if backend == "postgresql" {
        db.execute_unprepared("SET session_replication_role = DEFAULT")
            .await
            .expect("foreign keys back");
        db.execute_unprepared("ANALYZE photo_files")
            .await
            .expect("analyze");
    }
    let loaded = load.elapsed();
    // Half the lookups are near copies of stored hashes (1 to `d` bits
    // flipped), half new pictures; at the default distance 6 and at 3.
    let other_audit = Uuid::new_v4();
    let mut runs = Vec::new();
    for d in [6u32, 3] {
        let mut times = Vec::new();
        let (mut rows_back, mut found) = (0usize, 0usize);
        for n in 0..LOOKUPS {
            let q = if n % 2 == 0 {
                let base = hash_of((n as u64 * 4_999) % STORED_HASHES as u64);
                let flips = 1 + (n as u32 % d);
                (0..flips).fold(base, |h, k| h ^ (1u64 << ((n as u32 * 7 + k * 13) % 64)))
            } else {
                hash_of(STORED_HASHES as u64 + n as u64 * 31)
            };
            let t = Instant::now();
            let candidates = storecheck_server::db::photos::reuse_candidates(
                &db,
                i64::from_ne_bytes(q.to_ne_bytes()),
                d,
                &process::probes(q, d),
                other_audit,
            )
            .await
            .expect("lookup");
            let hits = candidates
                .iter()
                .filter(|c| process::distance(q, u64::from_ne_bytes(c.phash.to_ne_bytes())) <= d)
                .count();
            times.push(t.elapsed());
            rows_back += candidates.len();
            found += usize::from(hits > 0);
        }
        times.sort();
        runs.push((d, times, rows_back, found));
    }
    // The ceiling: every stored hash read and compared.
    let mut scans = Vec::new();
    for n in 0..5u64 {
        let q = hash_of(n);
        let t = Instant::now();
        let rows = db
            .query_all_raw(Statement::from_string(
                match backend {
                    "postgresql" => DatabaseBackend::Postgres,
                    _ => DatabaseBackend::Sqlite,
                },
                "SELECT phash FROM photo_files".to_owned(),
            ))
            .await
            .expect("scan");
        let near = rows
            .iter()
            .filter_map(|r| r.try_get::<i64>("", "phash").ok())
            .filter(|p| process::distance(q, u64::from_ne_bytes(p.to_ne_bytes())) <= 6)
            .count();
        assert!(near >= 1, "the scan finds the hash itself");
        scans.push(t.elapsed());
    }
    let scan = median(scans);
    println!(
        "reuse lookup on {backend}, {STORED_HASHES} stored hashes (loaded in {:.0} s):",
        loaded.as_secs_f64()
    );
    let mut p50_default = Duration::ZERO;
    for (d, times, rows_back, found) in &runs {
        let p50 = times[times.len() / 2];
        let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
        if *d == 6 {
            p50_default = p50;
        }
        println!(
            "  band index, distance ≤ {d}: p50 {:.2} ms, p99 {:.2} ms per photo (target < 10 ms), {:.1} rows back per lookup; {found} of {} near copies found",
            p50.as_secs_f64() * 1000.0,
            p99.as_secs_f64() * 1000.0,
            *rows_back as f64 / LOOKUPS as f64,
            LOOKUPS / 2
        );
    }
    println!(
        "  full scan: {:.0} ms per photo; index p50 (distance 6) / scan = {:.4}",
        scan.as_secs_f64() * 1000.0,
        p50_default.as_secs_f64() / scan.as_secs_f64()
    );
}

async fn upload_bench() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut cfg = ServeConfig::new(
        "127.0.0.1:0".parse().expect("addr"),
        tmp.path().join("data"),
    );
    cfg.data.database_url = Some(Secret(format!(
        "sqlite://{}?mode=rwc",
        tmp.path().join("upload.db").display()
    )));
    // Processing is measured by the pipeline part.
    cfg.photo_workers = 0;
    let app = Application::build(cfg).await.expect("build");
    let state = app.state.clone();
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let files: Vec<Arc<Vec<u8>>> = (0..UPLOADS)
        .map(|n| {
            let mut b = vec![0u8; UPLOAD_BYTES];
            for (i, x) in b.iter_mut().enumerate() {
                *x = (i as u64 ^ hash_of(n as u64)).to_le_bytes()[0];
            }
            Arc::new(b)
        })
        .collect();
    let total_mb = (UPLOADS * UPLOAD_BYTES) as f64 / 1e6;
    // Plain PUTs of the same bytes to the same endpoint.
    let plain = {
        let t = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for c in 0..UPLOADERS {
            let (state, files) = (state.clone(), files.clone());
            set.spawn(async move {
                for (n, f) in files.iter().enumerate().skip(c).step_by(UPLOADERS) {
                    state
                        .storage
                        .write(&format!("plain/{n}"), "image/jpeg", f.to_vec())
                        .await
                        .expect("put");
                }
            });
        }
        while set.join_next().await.is_some() {}
        t.elapsed()
    };
    // Through presigned URLs as a phone sends them (length, type and
    // SHA-256 signed, checked by the store), then the server's completion
    // check reading the file back.
    let presigned = {
        use sha2::Digest;
        let t = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for c in 0..UPLOADERS {
            let (state, files) = (state.clone(), files.clone());
            set.spawn(async move {
                let http = reqwest::Client::new();
                for (n, f) in files.iter().enumerate().skip(c).step_by(UPLOADERS) {
                    let sha: String = sha2::Sha256::digest(f.as_slice())
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    let key = format!("presigned/{n}");
                    let ticket = state
                        .storage
                        .presign_put(
                            &key,
                            "image/jpeg",
                            f.len() as u64,
                            &sha,
                            Duration::from_secs(900),
                        )
                        .await
                        .expect("presign");
                    let mut req = http.put(&ticket.url).body(f.to_vec());
                    for (name, value) in &ticket.headers {
                        req = req.header(name, value);
                    }
                    let res = req.send().await.expect("put");
                    assert!(res.status().is_success(), "{}", res.status());
                    let stored = state
                        .storage
                        .stat(&key)
                        .await
                        .expect("stat")
                        .expect("stored");
                    assert_eq!(stored.sha256, sha);
                }
            });
        }
        while set.join_next().await.is_some() {}
        t.elapsed()
    };
    println!("upload, {UPLOADS} photos of 3 MB by {UPLOADERS} clients to the embedded endpoint:");
    println!(
        "  presigned PUT + completion check: {:.0} MB/s; plain PUT: {:.0} MB/s; ratio {:.2}",
        total_mb / presigned.as_secs_f64(),
        total_mb / plain.as_secs_f64(),
        plain.as_secs_f64() / presigned.as_secs_f64()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if let Ok(path) = std::env::var("STORECHECK_BENCH_PIPELINE_CHILD") {
        pipeline_child(&path);
        return;
    }
    let parts = std::env::var("STORECHECK_BENCH_PARTS").unwrap_or_default();
    let wanted = |part: &str| parts.is_empty() || parts.split(',').any(|p| p.trim() == part);
    if wanted("pipeline") {
        pipeline_bench();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        if wanted("reuse") {
            reuse_bench().await;
        }
        if wanted("upload") {
            upload_bench().await;
        }
    });
}
