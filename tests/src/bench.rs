//! What the benchmarks share: a fresh database per part and the peak
//! memory of the process.

use sea_orm::{ConnectionTrait, Database};
use uuid::Uuid;

/// A fresh database for one part of a benchmark: on the PostgreSQL server
/// of `STORECHECK_BENCH_DATABASE_URL` when set, else a SQLite file in `tmp`.
pub async fn fresh_url(tmp: &std::path::Path, name: &str) -> String {
    match std::env::var("STORECHECK_BENCH_DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(base) => {
            let db = format!("bench_{}_{}", name, Uuid::new_v4().simple());
            let admin = Database::connect(base.as_str()).await.expect("connect");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {db}"))
                .await
                .expect("create database");
            let (prefix, _) = base.rsplit_once('/').expect("url ends in /database");
            format!("{prefix}/{db}")
        }
        None => format!(
            "sqlite://{}?mode=rwc",
            tmp.join(format!("{name}.db")).display()
        ),
    }
}

fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Peak resident memory of this process so far (or since the last
/// `reset_peak_rss`), in MiB.
pub fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// Resident memory of this process now, in MiB.
pub fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

/// Start measuring the peak afresh from the current size (Linux).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
