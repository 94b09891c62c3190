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
        let secs = elapsed.as_secs_f64();
        let mut map = match self.series.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let s = map
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default();
        s.count += 1;
        s.sum += secs;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                s.buckets[i] += 1;
            }
        }
    }

    pub fn render(&self) -> String {
        let map = match self.series.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut out = String::new();
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
            for (bound, n) in BUCKETS.iter().zip(s.buckets.iter()) {
                let _ = writeln!(
                    out,
                    "storecheck_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "storecheck_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "storecheck_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "storecheck_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
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
        let text = m.render();
        assert!(text.contains(
            "storecheck_http_requests_total{method=\"GET\",route=\"/api/v1/stores\",status=\"200\"} 2"
        ));
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("le=\"0.05\"} 2"));
        assert!(text.contains("le=\"+Inf\"} 2"));
    }
}
