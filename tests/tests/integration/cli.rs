//! The command line: `create-user`, `migrate` and `jobs retry-failed`.

use clap::Parser;
use reqwest::StatusCode;
use storecheck_server::cli::{Cli, run};

use crate::helpers::*;

fn cli(args: &[&str]) -> Cli {
    Cli::parse_from(std::iter::once("storecheck").chain(args.iter().copied()))
}

#[tokio::test]
async fn create_user_makes_an_account_that_can_sign_in() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await.access;
    app.create_region(&hq, "north").await;
    let data_dir = app.data_dir.display().to_string();
    let db_url = app.state.config.data.database_url();
    let base = [
        "--data-dir",
        data_dir.as_str(),
        "--database-url",
        db_url.as_str(),
    ];

    let mut args = vec![
        "create-user",
        "--email",
        "Mia@Test.Example",
        "--role",
        "regional_manager",
        "--region",
        "north",
        "--password",
        PASSWORD,
    ];
    args.extend(base);
    run(cli(&args)).await.expect("create-user");
    let (s, body) = app.login_raw("mia@test.example", PASSWORD).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["role"], "regional_manager");
    assert_eq!(body["user"]["region_ids"].as_array().map(Vec::len), Some(1));

    // The same e-mail again, an unknown region, a short password: refused.
    let err = run(cli(&args)).await.expect_err("duplicate");
    assert!(err.to_string().contains("already exists"), "{err}");
    let mut args = vec![
        "create-user",
        "--email",
        "x@test.example",
        "--role",
        "auditor",
        "--region",
        "west",
        "--password",
        PASSWORD,
    ];
    args.extend(base);
    let err = run(cli(&args)).await.expect_err("unknown region");
    assert!(err.to_string().contains("west"), "{err}");
    let mut args = vec![
        "create-user",
        "--email",
        "y@test.example",
        "--role",
        "auditor",
        "--password",
        "short",
    ];
    args.extend(base);
    assert!(run(cli(&args)).await.is_err());
    assert!(
        Cli::try_parse_from([
            "storecheck",
            "create-user",
            "--email",
            "z@test.example",
            "--role",
            "owner"
        ])
        .is_err()
    );
}

#[tokio::test]
async fn migrate_is_repeatable() {
    let app = TestApp::spawn().await;
    let data_dir = app.data_dir.display().to_string();
    let db_url = app.state.config.data.database_url();
    for _ in 0..2 {
        run(cli(&[
            "migrate",
            "--data-dir",
            &data_dir,
            "--database-url",
            &db_url,
        ]))
        .await
        .expect("migrate");
    }
    app.hq().await;
}

/// Every migration rolls back cleanly and applies again.
#[tokio::test]
async fn migrations_roll_back_and_reapply() {
    use migration::MigratorTrait;
    let tmp = tempfile::tempdir().expect("tmp");
    let url = match fresh_database_url().await {
        Some(u) => u,
        None => format!("sqlite://{}?mode=rwc", tmp.path().join("m.db").display()),
    };
    let db = sea_orm::Database::connect(url.as_str())
        .await
        .expect("connect");
    migration::Migrator::up(&db, None).await.expect("up");
    migration::Migrator::down(&db, None).await.expect("down");
    assert!(
        migration::Migrator::get_applied_migrations(&db)
            .await
            .expect("applied")
            .is_empty()
    );
    migration::Migrator::up(&db, None).await.expect("up again");
    let n = sea_orm::ConnectionTrait::query_one_raw(
        &db,
        sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM dimensions",
        ),
    )
    .await
    .expect("query")
    .expect("row")
    .try_get::<i64>("", "n")
    .expect("count");
    assert_eq!(n, 5, "the SERVQUAL dimensions are seeded again");
}

#[tokio::test]
async fn jobs_given_up_can_be_queued_again() {
    use storecheck_server::db::jobs as queue;
    use storecheck_server::entities::enums::JobState;
    let app = TestApp::spawn_with(|cfg| cfg.photo_workers = 0).await;
    let now = queue::now_ms();
    for key in ["a", "b"] {
        queue::enqueue(&app.state.db, "test", key, "{}", now)
            .await
            .expect("enqueue");
    }
    let taken = queue::take(&app.state.db, "w", now, now + 1000, 1)
        .await
        .expect("take");
    assert!(
        queue::fail(&app.state.db, taken[0].id, taken[0].attempts, "broken")
            .await
            .expect("fail")
    );
    let data_dir = app.data_dir.display().to_string();
    let db_url = app.state.config.data.database_url();
    run(cli(&[
        "jobs",
        "retry-failed",
        "--data-dir",
        &data_dir,
        "--database-url",
        &db_url,
    ]))
    .await
    .expect("retry-failed");
    let jobs = <storecheck_server::entities::jobs::Entity as sea_orm::EntityTrait>::find()
        .all(&app.state.db)
        .await
        .expect("jobs");
    assert_eq!(jobs.len(), 2);
    assert!(
        jobs.iter()
            .all(|j| j.state == JobState::Queued && j.failures == 0),
        "{jobs:?}"
    );
}
