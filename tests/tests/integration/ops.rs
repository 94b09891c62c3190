//! Health, readiness, metrics, the API description and documentation, and
//! the error shape of routes that do not exist.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};

use crate::helpers::*;

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz"] {
        let (s, body) = into_json(app.send(Method::GET, path, None, None).await).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        assert_eq!(body["status"], "ok");
    }
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await.access;
    for _ in 0..3 {
        app.get("/api/v1/regions", &hq).await;
    }
    app.send(Method::GET, "/api/v1/regions", None, None).await;
    let res = app.send(Method::GET, "/metrics", None, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/plain")
    );
    let text = res.text().await.expect("text");
    assert!(
        text.contains(
            r#"storecheck_http_requests_total{method="GET",route="/api/v1/regions",status="200"} 3"#
        ),
        "{text}"
    );
    assert!(text.contains(
        r#"storecheck_http_requests_total{method="GET",route="/api/v1/regions",status="401"} 1"#
    ));
    assert!(text.contains(r#"storecheck_http_request_duration_seconds_count{method="POST",route="/api/v1/auth/login",status="200"} 1"#));
}

#[tokio::test]
async fn the_served_api_description_is_the_checked_in_one() {
    let app = TestApp::spawn().await;
    let res = app.send(Method::GET, "/openapi.yaml", None, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let served = res.text().await.expect("text");
    let generated = storecheck_server::routes::openapi_yaml().expect("yaml");
    assert_eq!(served, generated);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");
    if std::env::var_os("STORECHECK_UPDATE_OPENAPI").is_some() {
        std::fs::write(path, generated).expect("write openapi.yaml");
    }
    let checked_in = std::fs::read_to_string(path).expect("openapi.yaml at the repository root");
    assert!(
        checked_in == generated,
        "openapi.yaml is stale: regenerate it with `cargo run -p server -- openapi > openapi.yaml` \
         (or run the tests with STORECHECK_UPDATE_OPENAPI=1)"
    );
}

#[tokio::test]
async fn interactive_docs_are_served_without_network() {
    let app = TestApp::spawn().await;
    let res = app.send(Method::GET, "/docs/", None, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("https://"),
        "the docs page loads nothing from the network"
    );
    let res = app
        .send(Method::GET, "/docs/swagger-ui-bundle.js", None, None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (s, spec) = into_json(
        app.send(Method::GET, "/docs/openapi.json", None, None)
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(spec["info"]["title"], "storecheck");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let app = TestApp::spawn().await;
    let (s, body) = into_json(
        app.send(Method::GET, "/api/v1/nothing-here", None, None)
            .await,
    )
    .await;
    assert_error(s, &body, StatusCode::NOT_FOUND, "not_found");
    let res = app
        .send(Method::DELETE, "/api/v1/regions", None, None)
        .await;
    let (s, body) = into_json(res).await;
    assert_error(
        s,
        &body,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
}

#[tokio::test]
async fn request_ids_are_kept_or_made() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "phone-42-abc")
        .send()
        .await
        .expect("sent");
    assert_eq!(res.headers()["x-request-id"], "phone-42-abc");
    let res = app.send(Method::GET, "/healthz", None, None).await;
    let made = res.headers()["x-request-id"].to_str().expect("ascii");
    assert!(uuid::Uuid::parse_str(made).is_ok(), "{made}");
}

/// `storecheck serve` on an empty data folder is ready within 2 seconds.
#[tokio::test]
async fn serve_on_an_empty_data_dir_is_ready_within_two_seconds() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data_dir = tmp.path().join("fresh").join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let mut args = vec![
        "storecheck".to_owned(),
        "serve".to_owned(),
        "--bind".to_owned(),
        format!("127.0.0.1:{port}"),
        "--data-dir".to_owned(),
        data_dir.display().to_string(),
    ];
    if let Some(url) = fresh_database_url().await {
        args.extend(["--database-url".to_owned(), url]);
    }
    let cli = <storecheck_server::cli::Cli as clap::Parser>::parse_from(args);
    let storecheck_server::cli::Command::Serve(config) = cli.command else {
        panic!("parsed as serve")
    };
    // What `storecheck serve` does, less installing the global logger.
    let started = Instant::now();
    tokio::spawn(async move {
        let app = storecheck_server::Application::build(config)
            .await
            .expect("build");
        app.run_until(std::future::pending()).await
    });
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/readyz");
    let ready = loop {
        match client.get(&url).send().await {
            Ok(r) if r.status() == StatusCode::OK => break started.elapsed(),
            _ if started.elapsed() > Duration::from_secs(10) => panic!("not ready after 10 s"),
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    };
    assert!(ready < Duration::from_secs(2), "ready after {ready:?}");
    if std::env::var_os(PG_ENV).is_none() {
        assert!(
            data_dir.join("storecheck.db").exists(),
            "SQLite file made in the data folder"
        );
    }
}
