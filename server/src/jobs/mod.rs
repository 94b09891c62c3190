//! Background work taken from the shared job table (see `db::jobs`): a
//! worker per server process takes due jobs up to its concurrency, runs
//! each through the handler for its kind, and finishes, retries (with
//! exponential backoff and a retry limit) or gives it up. At least once:
//! handlers are idempotent. On shutdown the worker stops taking jobs,
//! lets those in flight finish for a grace period and hands the rest back.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::DatabaseConnection;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::db;
use crate::entities::jobs;
use crate::metrics::Metrics;

/// Why a job did not finish.
#[derive(Debug)]
pub enum JobError {
    /// Something it needs cannot be reached now (the object store): tried
    /// again soon, not counted against the retry limit.
    Unavailable(String),
    /// Anything else: retried with backoff, counted.
    Failed(String),
}

impl From<crate::error::ApiError> for JobError {
    fn from(e: crate::error::ApiError) -> Self {
        if e.status == axum::http::StatusCode::SERVICE_UNAVAILABLE {
            JobError::Unavailable(e.to_string())
        } else {
            JobError::Failed(e.to_string())
        }
    }
}

pub type JobFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;

/// Runs one job of any kind; the worker catches its panics.
pub type Handler = Arc<dyn Fn(jobs::Model) -> JobFuture + Send + Sync>;

/// How a worker takes and retries jobs.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Jobs run at once by this process.
    pub concurrency: usize,
    /// How long a taken job is this worker's before others may take it.
    pub lease: Duration,
    /// How often to look for due jobs queued by other processes.
    pub poll: Duration,
    /// Counted failures before a job is given up.
    pub max_failures: i32,
    /// How long jobs in flight may finish after shutdown begins.
    pub grace: Duration,
}

/// Wakes this process's worker when it queues work, so a job queued by a
/// request starts without waiting for the next poll.
#[derive(Clone, Default)]
pub struct Waker(Arc<Notify>);

impl Waker {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// The delay before a counted failure's retry: 2 s doubling to 5 minutes,
/// with up to a quarter of jitter so failed jobs do not return together.
pub fn backoff(failures: i32, jitter: f64) -> Duration {
    let base = 2f64.powi(failures.clamp(0, 20)).min(150.0) * 2.0;
    Duration::from_secs_f64(base * (1.0 + 0.25 * jitter.clamp(0.0, 1.0)))
}

/// The delay before trying again while something is unavailable: a
/// quarter of the job's age, from 1 s to a minute, so a store that is back
/// soon costs little delay and a long outage little load.
pub fn unavailable_backoff(age: Duration) -> Duration {
    (age / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

fn jitter() -> f64 {
    let mut b = [0u8; 2];
    if getrandom::fill(&mut b).is_err() {
        return 0.5;
    }
    f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX)
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A job whose worker died this often while running it is given up, so
/// one poisonous file cannot crash servers for ever.
const CRASH_LIMIT: i32 = 5;

/// Takings that never recorded an outcome: each taking adds one to
/// `attempts`, each counted failure one to `failures`, and a retry for an
/// unavailable store hands its taking back.
fn crashes(job: &jobs::Model) -> i32 {
    job.attempts - 1 - job.failures
}

/// Take and run jobs until `stop` turns true.
pub async fn run(
    db: DatabaseConnection,
    settings: WorkerSettings,
    handler: Handler,
    metrics: Metrics,
    waker: Waker,
    mut stop: watch::Receiver<bool>,
) {
    let worker = format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
    let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
    let mut running: JoinSet<()> = JoinSet::new();
    tracing::info!(%worker, concurrency = settings.concurrency, "job worker started");
    loop {
        if *stop.borrow() {
            break;
        }
        while running.try_join_next().is_some() {}
        let free = slots.available_permits();
        let mut taken = 0;
        if free > 0 {
            let now = db::jobs::now_ms();
            match db::jobs::take(&db, &worker, now, now + ms(settings.lease), free as u64).await {
                Ok(jobs) => {
                    taken = jobs.len();
                    for job in jobs {
                        let Ok(permit) = slots.clone().acquire_owned().await else {
                            break;
                        };
                        let (db, handler, metrics, settings) = (
                            db.clone(),
                            handler.clone(),
                            metrics.clone(),
                            settings.clone(),
                        );
                        let span = tracing::info_span!("job", kind = %job.kind, key = %job.key, attempt = job.attempts);
                        running.spawn(
                            async move {
                                run_one(&db, &settings, &handler, &metrics, job).await;
                                drop(permit);
                            }
                            .instrument(span),
                        );
                    }
                }
                Err(e) => tracing::warn!(error = %e, "taking jobs"),
            }
        }
        if taken > 0 && taken == free {
            // Possibly more due: look again as soon as a slot is free.
            tokio::select! {
                _ = stop.changed() => {}
                _ = running.join_next(), if !running.is_empty() => {}
            }
            continue;
        }
        tokio::select! {
            _ = stop.changed() => {}
            () = waker.0.notified() => {}
            () = tokio::time::sleep(settings.poll) => {}
            _ = running.join_next(), if !running.is_empty() && free == 0 => {}
        }
    }
    let in_flight = running.len();
    if in_flight > 0 {
        tracing::info!(
            in_flight,
            "job worker stopping: letting jobs in flight finish"
        );
        let drained = tokio::time::timeout(settings.grace, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            running.abort_all();
            while running.join_next().await.is_some() {}
        }
    }
    match db::jobs::release_worker(&db, &worker).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(returned = n, "unfinished jobs handed back"),
        Err(e) => {
            tracing::warn!(error = %e, "handing jobs back; their leases will run out instead");
        }
    }
    tracing::info!("job worker stopped");
}

/// A task that is stopped when its handle goes.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn renew_lease(db: DatabaseConnection, id: uuid::Uuid, attempts: i32, lease: Duration) {
    loop {
        tokio::time::sleep(lease / 3).await;
        match db::jobs::extend(&db, id, attempts, db::jobs::now_ms() + ms(lease)).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("the job's lease was lost; another worker may run it");
                return;
            }
            Err(e) => tracing::warn!(error = %e, "renewing the job's lease"),
        }
    }
}

async fn run_one(
    db: &DatabaseConnection,
    settings: &WorkerSettings,
    handler: &Handler,
    metrics: &Metrics,
    job: jobs::Model,
) {
    let started = Instant::now();
    let (id, attempts, kind) = (job.id, job.attempts, job.kind.clone());
    let outcome = if crashes(&job) >= CRASH_LIMIT {
        Err(JobError::Failed(format!(
            "its worker stopped {} times while running it",
            crashes(&job)
        )))
    } else {
        // Its own task, so a panic is an error of this job, not of the
        // worker; stopped with this one (shutdown), and its lease renewed
        // every third of it while it runs.
        let mut task = AbortOnDrop(tokio::spawn(handler(job.clone())));
        let renew = AbortOnDrop(tokio::spawn(renew_lease(
            db.clone(),
            id,
            attempts,
            settings.lease,
        )));
        let outcome = match (&mut task.0).await {
            Ok(r) => r,
            Err(e) if e.is_panic() => Err(JobError::Failed("the job panicked".to_owned())),
            Err(e) => Err(JobError::Failed(format!("the job was cancelled: {e}"))),
        };
        drop(renew);
        outcome
    };
    let now = db::jobs::now_ms();
    let (label, written) = match outcome {
        Ok(()) => ("done", db::jobs::finish(db, id, attempts).await),
        Err(JobError::Unavailable(e)) => {
            tracing::info!(error = %e, "job waits for what it needs");
            let age = (chrono::Utc::now() - job.created_at)
                .to_std()
                .unwrap_or_default();
            let at = now + ms(unavailable_backoff(age));
            (
                "retried",
                db::jobs::retry(db, id, attempts, at, &e, false).await,
            )
        }
        Err(JobError::Failed(e)) if job.failures + 1 >= settings.max_failures => {
            tracing::error!(error = %e, failures = job.failures + 1, "job given up");
            ("failed", db::jobs::fail(db, id, attempts, &e).await)
        }
        Err(JobError::Failed(e)) => {
            tracing::warn!(error = %e, failures = job.failures + 1, "job failed; retrying");
            let at = now + ms(backoff(job.failures, jitter()));
            (
                "retried",
                db::jobs::retry(db, id, attempts, at, &e, true).await,
            )
        }
    };
    match written {
        Ok(true) => {}
        Ok(false) => tracing::warn!("the job's lease ran out while it ran; another worker has it"),
        Err(e) => tracing::warn!(error = %e, "recording the job's outcome; its lease will run out"),
    }
    metrics.job(&kind, label, started.elapsed());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_ceiling() {
        assert_eq!(backoff(0, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(1, 0.0), Duration::from_secs(4));
        assert_eq!(backoff(3, 0.0), Duration::from_secs(16));
        assert_eq!(backoff(30, 0.0), Duration::from_secs(300));
        assert_eq!(backoff(30, 1.0), Duration::from_secs(375));
        assert!(backoff(-1, 0.0) >= Duration::from_secs(2));
    }

    #[test]
    fn waiting_for_the_store_grows_with_the_outage() {
        let s = Duration::from_secs;
        assert_eq!(unavailable_backoff(s(0)), s(1));
        assert_eq!(unavailable_backoff(s(20)), s(5));
        assert_eq!(unavailable_backoff(s(3600)), s(60));
    }
}
