//! The job queue on the real database: every job run once while workers
//! share it, leases, retries with a limit, waiting out an unavailable
//! store, and shutdown handing jobs back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::EntityTrait;
use storecheck_server::db::jobs as queue;
use storecheck_server::entities::enums::JobState;
use storecheck_server::entities::jobs as rows;
use storecheck_server::jobs::{self, Handler, JobError, Waker, WorkerSettings};
use tokio::sync::watch;

use crate::helpers::*;

fn settings(concurrency: usize) -> WorkerSettings {
    WorkerSettings {
        concurrency,
        lease: Duration::from_secs(30),
        poll: Duration::from_millis(20),
        max_failures: 3,
        grace: Duration::from_secs(5),
    }
}

/// A server that runs no worker of its own: the test's workers are the only ones.
async fn quiet() -> TestApp {
    TestApp::spawn_with(|cfg| cfg.photo_workers = 0).await
}

fn start(
    app: &TestApp,
    settings: WorkerSettings,
    handler: Handler,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(jobs::run(
        app.state.db.clone(),
        settings,
        handler,
        app.state.metrics.clone(),
        Waker::default(),
        stopped,
    ));
    (stop, task)
}

async fn all_jobs(app: &TestApp) -> Vec<rows::Model> {
    rows::Entity::find().all(&app.state.db).await.expect("jobs")
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn workers_sharing_the_queue_run_each_job_once_and_never_together() {
    let app = quiet().await;
    let now = queue::now_ms();
    for i in 0..120 {
        queue::enqueue(&app.state.db, "test", &format!("k{i}"), "{}", now)
            .await
            .expect("enqueue");
    }
    // The same work queued again is not queued twice.
    queue::enqueue(&app.state.db, "test", "k0", "{}", now)
        .await
        .expect("enqueue");
    assert_eq!(all_jobs(&app).await.len(), 120);
    let runs: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let running: Arc<Mutex<Vec<String>>> = Arc::default();
    let overlaps = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let handler: Handler = {
        let (runs, running, overlaps) = (runs.clone(), running.clone(), overlaps.clone());
        Arc::new(move |job| {
            let (runs, running, overlaps) = (runs.clone(), running.clone(), overlaps.clone());
            Box::pin(async move {
                {
                    let mut now = running.lock().expect("lock");
                    if now.contains(&job.key) {
                        overlaps.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    now.push(job.key.clone());
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
                *runs
                    .lock()
                    .expect("lock")
                    .entry(job.key.clone())
                    .or_default() += 1;
                running.lock().expect("lock").retain(|k| *k != job.key);
                Ok(())
            })
        })
    };
    let workers: Vec<_> = (0..3)
        .map(|_| start(&app, settings(4), handler.clone()))
        .collect();
    until("every job has run", async || {
        all_jobs(&app).await.is_empty()
    })
    .await;
    for (stop, task) in workers {
        stop.send_replace(true);
        task.await.expect("worker stops");
    }
    let runs = runs.lock().expect("lock");
    assert_eq!(runs.len(), 120);
    assert!(runs.values().all(|n| *n == 1), "a job ran twice: {runs:?}");
    assert_eq!(overlaps.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_job_whose_worker_died_is_taken_again_when_its_lease_runs_out() {
    let app = quiet().await;
    let now = queue::now_ms();
    queue::enqueue(&app.state.db, "test", "orphan", "{}", now)
        .await
        .expect("enqueue");
    // A worker takes it with a short lease and dies.
    let taken = queue::take(&app.state.db, "dead-worker", now, now + 300, 10)
        .await
        .expect("take");
    assert_eq!(taken.len(), 1);
    assert!(
        queue::take(&app.state.db, "other", now, now + 300, 10)
            .await
            .expect("take")
            .is_empty(),
        "a leased job is nobody else's"
    );
    let ran = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let handler: Handler = {
        let ran = ran.clone();
        Arc::new(move |_| {
            let ran = ran.clone();
            Box::pin(async move {
                ran.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            })
        })
    };
    let (stop, task) = start(&app, settings(1), handler);
    until("the orphan has run", async || {
        all_jobs(&app).await.is_empty()
    })
    .await;
    assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 1);
    // The dead worker's late finish changes nothing.
    assert!(
        !queue::finish(&app.state.db, taken[0].id, taken[0].attempts)
            .await
            .expect("finish")
    );
    stop.send_replace(true);
    task.await.expect("stops");
}

#[tokio::test]
async fn failures_are_retried_with_backoff_then_given_up_and_kept() {
    let app = quiet().await;
    let now = queue::now_ms();
    queue::enqueue(&app.state.db, "test", "doomed", "{}", now)
        .await
        .expect("enqueue");
    let handler: Handler =
        Arc::new(|_| Box::pin(async { Err(JobError::Failed("the file is cursed".into())) }));
    let mut s = settings(1);
    s.max_failures = 2;
    let (stop, task) = start(&app, s, handler);
    let started = Instant::now();
    until("the job is given up", async || {
        all_jobs(&app)
            .await
            .iter()
            .any(|j| j.state == JobState::Failed)
    })
    .await;
    // One retry, after the first backoff of 2 s or more.
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let job = &all_jobs(&app).await[0];
    assert_eq!(job.failures, 2);
    assert_eq!(job.last_error.as_deref(), Some("the file is cursed"));
    stop.send_replace(true);
    task.await.expect("stops");
    let metrics = app.state.metrics.render(None);
    assert!(
        metrics
            .contains("storecheck_job_duration_seconds_count{kind=\"test\",outcome=\"failed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("storecheck_job_duration_seconds_count{kind=\"test\",outcome=\"retried\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_unavailable_store_is_waited_for_without_using_up_retries() {
    let app = quiet().await;
    queue::enqueue(&app.state.db, "test", "patient", "{}", queue::now_ms())
        .await
        .expect("enqueue");
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let handler: Handler = {
        let calls = calls.clone();
        Arc::new(move |_| {
            let calls = calls.clone();
            Box::pin(async move {
                // Unavailable more often than the retry limit allows failures.
                if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 3 {
                    Err(JobError::Unavailable("the store is down".into()))
                } else {
                    Ok(())
                }
            })
        })
    };
    let mut s = settings(1);
    s.max_failures = 1;
    let (stop, task) = start(&app, s, handler);
    until("the job has run", async || all_jobs(&app).await.is_empty()).await;
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 4);
    stop.send_replace(true);
    task.await.expect("stops");
}

#[tokio::test]
async fn shutdown_hands_unfinished_jobs_back_at_once() {
    let app = quiet().await;
    queue::enqueue(&app.state.db, "test", "slow", "{}", queue::now_ms())
        .await
        .expect("enqueue");
    let started = Arc::new(tokio::sync::Notify::new());
    let handler: Handler = {
        let started = started.clone();
        Arc::new(move |_| {
            let started = started.clone();
            Box::pin(async move {
                started.notify_one();
                std::future::pending::<()>().await;
                Ok(())
            })
        })
    };
    let mut s = settings(1);
    s.grace = Duration::from_millis(100);
    let (stop, task) = start(&app, s, handler);
    started.notified().await;
    assert_eq!(all_jobs(&app).await[0].state, JobState::Running);
    stop.send_replace(true);
    task.await.expect("stops");
    let job = &all_jobs(&app).await[0];
    assert_eq!(job.state, JobState::Queued, "handed back");
    assert_eq!(
        (job.attempts, job.failures),
        (0, 0),
        "not counted against it"
    );
    assert!(job.run_at <= queue::now_ms(), "due at once");
    // Any worker takes it at once, without waiting for a lease.
    let now = queue::now_ms();
    assert_eq!(
        queue::take(&app.state.db, "next", now, now + 1000, 5)
            .await
            .expect("take")
            .len(),
        1
    );
}

#[tokio::test]
async fn work_queued_again_while_it_runs_runs_once_more_and_a_given_up_job_can_be_queued_afresh() {
    let app = quiet().await;
    queue::enqueue(&app.state.db, "test", "changing", "{}", queue::now_ms())
        .await
        .expect("enqueue");
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let started = Arc::new(tokio::sync::Notify::new());
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let handler: Handler = {
        let (release, started, runs) = (release.clone(), started.clone(), runs.clone());
        Arc::new(move |_| {
            let (release, started, runs) = (release.clone(), started.clone(), runs.clone());
            Box::pin(async move {
                runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                started.notify_one();
                release.acquire().await.expect("open").forget();
                Ok(())
            })
        })
    };
    let (stop, task) = start(&app, settings(1), handler);
    started.notified().await;
    // What the job works on changes while it runs: queued again.
    queue::enqueue(&app.state.db, "test", "changing", "{}", queue::now_ms())
        .await
        .expect("enqueue");
    release.add_permits(2);
    until("the job has run twice", async || {
        all_jobs(&app).await.is_empty()
    })
    .await;
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2);
    stop.send_replace(true);
    task.await.expect("stops");

    // A job given up is queued afresh when the same work is asked for.
    let now = queue::now_ms();
    queue::enqueue(&app.state.db, "test", "cursed", "{}", now)
        .await
        .expect("enqueue");
    let taken = queue::take(&app.state.db, "w", now, now + 1000, 1)
        .await
        .expect("take");
    assert!(
        queue::fail(&app.state.db, taken[0].id, taken[0].attempts, "gave up")
            .await
            .expect("fail")
    );
    assert_eq!(all_jobs(&app).await[0].state, JobState::Failed);
    queue::enqueue(&app.state.db, "test", "cursed", "{}", queue::now_ms())
        .await
        .expect("enqueue");
    let job = &all_jobs(&app).await[0];
    assert_eq!((job.state, job.failures), (JobState::Queued, 0));
}

#[tokio::test]
async fn a_long_job_keeps_its_lease() {
    let app = quiet().await;
    queue::enqueue(&app.state.db, "test", "long", "{}", queue::now_ms())
        .await
        .expect("enqueue");
    let handler: Handler = Arc::new(|_| {
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            Ok(())
        })
    });
    let mut s = settings(1);
    s.lease = Duration::from_millis(300);
    let (stop, task) = start(&app, s, handler);
    // Long past its first lease, nobody else may take it.
    until("the job is running", async || {
        all_jobs(&app)
            .await
            .first()
            .is_some_and(|j| j.state == JobState::Running)
    })
    .await;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = queue::now_ms();
        let stolen = queue::take(&app.state.db, "thief", now, now + 1000, 5)
            .await
            .expect("take");
        assert!(stolen.is_empty(), "a renewed lease was taken over");
    }
    until("the job is done", async || all_jobs(&app).await.is_empty()).await;
    stop.send_replace(true);
    task.await.expect("stops");
}
