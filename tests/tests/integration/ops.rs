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

fn in_flight(metrics: &str) -> i64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("storecheck_http_requests_in_flight "))
        .and_then(|v| v.trim().parse().ok())
        .expect("in-flight gauge")
}

/// On shutdown the server stops taking connections but finishes the request
/// it is answering: here, one whose body is still arriving.
#[tokio::test]
async fn shutdown_finishes_requests_in_flight() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let tmp = tempfile::tempdir().expect("tmp");
    let mut cfg = config(tmp.path());
    if let Some(url) = fresh_database_url().await {
        cfg.data.database_url = Some(storecheck_server::config::Secret(url));
    }
    let app = storecheck_server::Application::build(cfg)
        .await
        .expect("build");
    let addr = app.local_addr().expect("addr");
    let state = app.state.clone();
    let hash = storecheck_server::auth::hash_password(PASSWORD.to_owned())
        .await
        .expect("hash");
    storecheck_server::db::users::create(
        &state.db,
        HQ_EMAIL.into(),
        hash,
        storecheck_shared::Role::Hq,
        vec![],
    )
    .await
    .map_err(|e| e.message)
    .expect("user");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let login: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": HQ_EMAIL, "password": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["access_token"].as_str().expect("token");

    // A request whose body has not fully arrived.
    let body = serde_json::json!({"code": "late", "name": "Arrived during shutdown"}).to_string();
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /api/v1/regions HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.expect("write head");
    conn.write_all(&body.as_bytes()[..10])
        .await
        .expect("write part");

    // Wait until the server is answering it (this metrics request is the other one).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        if in_flight(&text) >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the request never started");
        tokio::task::yield_now().await;
    }

    stop.send(()).expect("server running");
    conn.write_all(&body.as_bytes()[10..])
        .await
        .expect("write rest");
    let mut reply = String::new();
    conn.read_to_string(&mut reply).await.expect("read reply");
    assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");
    assert!(reply.contains("Arrived during shutdown"));
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stops after the last request")
        .expect("server task")
        .expect("server ran cleanly");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no new connections after shutdown"
    );
}
