//! Request counts and latencies by route, method and status, rendered in the
//! Prometheus text format at `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use storecheck_shared::sync::PushOutcome;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// (method, route, status)
type Key = (String, String, u16);

#[derive(Clone, Default)]
pub struct Metrics {
    series: Arc<Mutex<BTreeMap<Key, Series>>>,
    in_flight: Arc<AtomicI64>,
    push_outcomes: Arc<[AtomicU64; PUSH_OUTCOMES.len()]>,
    /// Background jobs run, by (kind, outcome).
    jobs: Arc<Mutex<BTreeMap<(String, String), Series>>>,
}

/// Jobs in the shared table by state, read when metrics are rendered.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueDepth {
    pub queued: u64,
    pub running: u64,
    pub failed: u64,
}

impl Series {
    fn observe(&mut self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        self.count += 1;
        self.sum += secs;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.buckets[i] += 1;
            }
        }
    }
}

fn histogram(out: &mut String, name: &str, labels: &str, s: &Series) {
    for (bound, n) in BUCKETS.iter().zip(s.buckets.iter()) {
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", s.count);
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", s.sum);
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", s.count);
}

const PUSH_OUTCOMES: [(PushOutcome, &str); 5] = [
    (PushOutcome::Accepted, "accepted"),
    (PushOutcome::Duplicate, "duplicate"),
    (PushOutcome::Rejected, "rejected"),
    (PushOutcome::Conflict, "conflict"),
    (PushOutcome::Superseded, "superseded"),
];

/// Counts a request as in flight until dropped.
pub struct InFlight(Arc<AtomicI64>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn start_request(&self) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.in_flight.clone())
    }

    /// Count one pushed audit's outcome.
    pub fn push_outcome(&self, outcome: PushOutcome) {
        if let Some(i) = PUSH_OUTCOMES.iter().position(|(o, _)| *o == outcome) {
            self.push_outcomes[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn record(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut map = match self.series.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry((method.to_owned(), route.to_owned(), status))
            .or_default()
            .observe(elapsed);
    }

    /// Count one run of a background job: `outcome` is `done`, `retried`
    /// or `failed`.
    pub fn job(&self, kind: &str, outcome: &str, elapsed: Duration) {
        let mut map = match self.jobs.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry((kind.to_owned(), outcome.to_owned()))
            .or_default()
            .observe(elapsed);
    }

    pub fn render(&self, depth: Option<QueueDepth>) -> String {
        let mut out = String::new();
        if let Some(d) = depth {
            out.push_str("# HELP storecheck_jobs Background jobs in the shared queue, by state.\n");
            out.push_str("# TYPE storecheck_jobs gauge\n");
            for (state, n) in [
                ("queued", d.queued),
                ("running", d.running),
                ("failed", d.failed),
            ] {
                let _ = writeln!(out, "storecheck_jobs{{state=\"{state}\"}} {n}");
            }
        }
        {
            let jobs = match self.jobs.lock() {
                Ok(m) => m,
                Err(poisoned) => poisoned.into_inner(),
            };
            out.push_str("# HELP storecheck_job_duration_seconds Background job runs in this process, by kind and outcome.\n");
            out.push_str("# TYPE storecheck_job_duration_seconds histogram\n");
            for ((kind, outcome), s) in jobs.iter() {
                histogram(
                    &mut out,
                    "storecheck_job_duration_seconds",
                    &format!("kind=\"{}\",outcome=\"{}\"", escape(kind), escape(outcome)),
                    s,
                );
            }
        }
        let map = match self.series.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        out.push_str(
            "# HELP storecheck_http_requests_in_flight HTTP requests being answered now.\n",
        );
        out.push_str("# TYPE storecheck_http_requests_in_flight gauge\n");
        let _ = writeln!(
            out,
            "storecheck_http_requests_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        out.push_str("# HELP storecheck_push_audits_total Pushed audits, by outcome.\n");
        out.push_str("# TYPE storecheck_push_audits_total counter\n");
        for (i, (_, name)) in PUSH_OUTCOMES.iter().enumerate() {
            let _ = writeln!(
                out,
                "storecheck_push_audits_total{{outcome=\"{name}\"}} {}",
                self.push_outcomes[i].load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP storecheck_http_requests_total HTTP requests answered, by method, route and status.\n");
        out.push_str("# TYPE storecheck_http_requests_total counter\n");
        for ((method, route, status), s) in map.iter() {
            let _ = writeln!(
                out,
                "storecheck_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}",
                escape(route),
                s.count
            );
        }
        out.push_str("# HELP storecheck_http_request_duration_seconds Time to answer HTTP requests, by method, route and status.\n");
        out.push_str("# TYPE storecheck_http_request_duration_seconds histogram\n");
        for ((method, route, status), s) in map.iter() {
            let labels = format!(
                "method=\"{method}\",route=\"{}\",status=\"{status}\"",
                escape(route)
            );
            histogram(
                &mut out,
                "storecheck_http_request_duration_seconds",
                &labels,
                s,
            );
        }
        out
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets() {
        let m = Metrics::default();
        m.record("GET", "/api/v1/stores", 200, Duration::from_millis(3));
        m.record("GET", "/api/v1/stores", 200, Duration::from_millis(30));
        let text = m.render(None);
        assert!(text.contains(
            "storecheck_http_requests_total{method=\"GET\",route=\"/api/v1/stores\",status=\"200\"} 2"
        ));
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("le=\"0.05\"} 2"));
        assert!(text.contains("le=\"+Inf\"} 2"));
    }
}
