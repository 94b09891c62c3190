//! Bad input gets a clear 4xx in the one error shape, naming the field at
//! fault, and stores nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let res = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("sent");
    into_json(res).await
}

#[tokio::test]
async fn malformed_json_wrong_types_and_missing_fields() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await.access;
    let region = app.create_region(&hq, "north").await;

    let (s, b) = raw(
        &app,
        Method::POST,
        "/api/v1/stores",
        &hq,
        "application/json",
        "{\"code\": ",
    )
    .await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_json");

    let mut wrong = store_json("X1", region);
    wrong["latitude"] = json!("north-ish");
    let (s, b) = app.post("/api/v1/stores", &hq, wrong).await;
    assert_eq!(
        fields(&assert_error(
            s,
            &b,
            StatusCode::BAD_REQUEST,
            "invalid_body"
        )),
        ["latitude"]
    );

    let mut missing = store_json("X1", region);
    missing.as_object_mut().expect("object").remove("timezone");
    let (s, b) = app.post("/api/v1/stores", &hq, missing).await;
    assert_eq!(
        fields(&assert_error(
            s,
            &b,
            StatusCode::BAD_REQUEST,
            "invalid_body"
        )),
        ["timezone"]
    );

    let mut unknown = store_json("X1", region);
    unknown["colour"] = json!("red");
    let (s, b) = app.post("/api/v1/stores", &hq, unknown).await;
    assert_eq!(
        fields(&assert_error(
            s,
            &b,
            StatusCode::BAD_REQUEST,
            "invalid_body"
        )),
        ["colour"]
    );

    let (s, b) = raw(
        &app,
        Method::POST,
        "/api/v1/stores",
        &hq,
        "text/plain",
        store_json("X1", region).to_string(),
    )
    .await;
    assert_error(
        s,
        &b,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );

    let (s, b) = app.get("/api/v1/stores/not-a-uuid", &hq).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_path");

    assert_eq!(app.count("/api/v1/stores", &hq).await, 0, "nothing stored");
}

#[tokio::test]
async fn values_out_of_range_are_all_named_at_once() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await.access;
    let region = app.create_region(&hq, "north").await;
    let (s, b) = app
        .post(
            "/api/v1/stores",
            &hq,
            json!({
                "code": "bad code!",
                "name": " ",
                "address": "x",
                "latitude": 91.0,
                "longitude": -181.0,
                "timezone": "Mars/Olympus",
                "region_id": region,
            }),
        )
        .await;
    let details = assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(
        fields(&details),
        ["code", "name", "latitude", "longitude", "timezone"]
    );

    let (s, b) = app
        .post(
            "/api/v1/users",
            &hq,
            json!({"email": "not-an-email", "password": "short", "role": "auditor"}),
        )
        .await;
    let details = assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(fields(&details), ["email", "password"]);

    let (s, b) = app
        .post(
            "/api/v1/users",
            &hq,
            json!({"email": "a@test.example", "password": PASSWORD, "role": "owner"}),
        )
        .await;
    assert_eq!(
        fields(&assert_error(
            s,
            &b,
            StatusCode::BAD_REQUEST,
            "invalid_body"
        )),
        ["role"]
    );
    assert_eq!(app.count("/api/v1/stores", &hq).await, 0);
    assert_eq!(app.count("/api/v1/users", &hq).await, 1, "only the HQ user");
}

#[tokio::test]
async fn unknown_region_ids_are_refused() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await.access;
    let region = app.create_region(&hq, "north").await;
    let ghost = Uuid::now_v7();
    let (s, b) = app
        .post("/api/v1/stores", &hq, store_json("S1", ghost))
        .await;
    assert_eq!(
        fields(&assert_error(
            s,
            &b,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed"
        )),
        ["region_id"]
    );

    let (s, b) = app
        .post(
            "/api/v1/users",
            &hq,
            json!({"email": "a@test.example", "password": PASSWORD, "role": "auditor", "region_ids": [region, ghost]}),
        )
        .await;
    assert_eq!(
        fields(&assert_error(
            s,
            &b,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed"
        )),
        ["region_ids[1]"]
    );
    assert_eq!(app.count("/api/v1/stores", &hq).await, 0);
    assert_eq!(app.count("/api/v1/users?role=auditor", &hq).await, 0);
}

#[tokio::test]
async fn duplicate_codes_and_emails_conflict() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await.access;
    let region = app.create_region(&hq, "north").await;
    let (s, b) = app
        .post(
            "/api/v1/regions",
            &hq,
            json!({"code": "north", "name": "Again"}),
        )
        .await;
    assert_eq!(
        fields(&assert_error(s, &b, StatusCode::CONFLICT, "already_exists")),
        ["code"]
    );

    app.create_store(&hq, "S1", region).await;
    let (s, b) = app
        .post("/api/v1/stores", &hq, store_json("S1", region))
        .await;
    assert_eq!(
        fields(&assert_error(s, &b, StatusCode::CONFLICT, "already_exists")),
        ["code"]
    );
    let other = app.create_store(&hq, "S2", region).await;
    let (s, b) = app
        .patch(
            &format!("/api/v1/stores/{other}"),
            &hq,
            json!({"code": "S1"}),
        )
        .await;
    assert_eq!(
        fields(&assert_error(s, &b, StatusCode::CONFLICT, "already_exists")),
        ["code"]
    );

    let (s, b) = app
        .post(
            "/api/v1/users",
            &hq,
            json!({"email": HQ_EMAIL.to_uppercase(), "password": PASSWORD, "role": "hq"}),
        )
        .await;
    assert_eq!(
        fields(&assert_error(s, &b, StatusCode::CONFLICT, "already_exists")),
        ["email"]
    );
    assert_eq!(app.count("/api/v1/stores", &hq).await, 2);
    assert_eq!(app.count("/api/v1/users", &hq).await, 1);
}

#[tokio::test]
async fn oversize_bodies_are_refused() {
    let app = TestApp::spawn_with(|c| {
        c.max_body_bytes = 4096;
        c.max_import_bytes = 8192;
    })
    .await;
    let hq = app.hq().await.access;
    let region = app.create_region(&hq, "north").await;
    let mut big = store_json("S1", region);
    big["address"] = json!("x".repeat(5000));
    let (s, b) = app.post("/api/v1/stores", &hq, big).await;
    assert_error(s, &b, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    let mut csv = String::from("code,name,address,latitude,longitude,timezone,region_code\n");
    for i in 0..200 {
        csv.push_str(&format!(
            "S{i},Store,1 Road,31.2,121.4,Asia/Shanghai,north\n"
        ));
    }
    let (s, b) = raw(
        &app,
        Method::POST,
        "/api/v1/stores/import",
        &hq,
        "text/csv",
        csv,
    )
    .await;
    assert_error(s, &b, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert_eq!(app.count("/api/v1/stores", &hq).await, 0);
}

#[tokio::test]
async fn odd_sign_in_input_is_refused_cleanly() {
    let app = TestApp::spawn().await;
    let long = format!("{}@test.example", "a".repeat(5000));
    let (s, b) = app.login_raw(&long, PASSWORD).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let (s, b) = into_json(
        app.send(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&json!({"email": 1})),
        )
        .await,
    )
    .await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_body");
    let (s, b) = app
        .post(
            "/api/v1/auth/refresh",
            "x",
            json!({"refresh_token": "r".repeat(10_000)}),
        )
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .expect("sent");
    let (s, b) = into_json(res).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "invalid_token");
}

#[tokio::test]
async fn nothing_may_follow_a_json_body() {
    let app = TestApp::spawn().await;
    app.hq().await;
    let body = r#"{"email": "hq@test.example", "password": "correct horse battery"} xx"#;
    let (s, b) = raw(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        "",
        "application/json",
        body,
    )
    .await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_json");
}

#[tokio::test]
async fn token_replies_are_never_cached() {
    let app = TestApp::spawn().await;
    let tokens = app.hq().await;
    let res = app
        .send(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(&json!({"refresh_token": tokens.refresh})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn a_short_token_secret_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut cfg = config(tmp.path());
    cfg.demo = true;
    cfg.token_secret = Some(storecheck_server::config::Secret("too-short".into()));
    let url = fresh_database_url().await;
    cfg.data.database_url = url.clone().map(storecheck_server::config::Secret);
    let err = match storecheck_server::Application::build(cfg).await {
        Ok(_) => panic!("a short secret must be refused"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("at least 32 characters"), "{err}");
    if url.is_none() {
        assert!(
            !tmp.path().join("storecheck.db").exists(),
            "no database was made"
        );
    }
}

/// Send raw request bytes over TCP; the status line's code, the headers
/// and the body of the reply (read until the server closes).
async fn raw_tcp(app: &TestApp, request: &[u8]) -> (u16, String, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    // The server may answer and close before taking all of a huge request.
    let _ = conn.write_all(request).await;
    let mut reply = Vec::new();
    let _ = conn.read_to_end(&mut reply).await;
    let text = String::from_utf8_lossy(&reply).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a reply head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    let body = serde_json::from_str(body).unwrap_or(Value::Null);
    (status, head.to_ascii_lowercase(), body)
}

#[tokio::test]
async fn requests_the_http_parser_refuses_still_get_the_error_shape() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await;
    // A request line over 64 KiB: refused before routing, with a JSON body.
    let long = format!(
        "GET /api/v1/stores?q={} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\r\n",
        "a".repeat(70_000),
        hq.access
    );
    let (status, head, body) = raw_tcp(&app, long.as_bytes()).await;
    assert!(head.contains("content-type: application/json"), "{head}");
    let s = StatusCode::from_u16(status).expect("status");
    assert_error(s, &body, StatusCode::URI_TOO_LONG, "uri_too_long");
    // A head too large to buffer.
    let big = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\nx-filler: {}\r\n\r\n",
        "b".repeat(500_000)
    );
    let (status, _, body) = raw_tcp(&app, big.as_bytes()).await;
    let s = StatusCode::from_u16(status).expect("status");
    assert_error(
        s,
        &body,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers_too_large",
    );
    // The server goes on answering.
    assert_eq!(app.get("/api/v1/me", &hq.access).await.0, StatusCode::OK);
}

#[tokio::test]
async fn every_documented_path_id_and_json_body_refusal_is_real() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await;
    let region = app.create_region(&hq.access, "north").await;
    app.create_user_directly(
        "aud@test.example",
        storecheck_shared::Role::Auditor,
        vec![region],
    )
    .await;
    let auditor = app.login("aud@test.example").await;
    let doc = serde_json::to_value(storecheck_server::routes::openapi()).expect("openapi");
    let mut checked = (0, 0);
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            let Ok(m) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let responses = &op["responses"];
            let path_ids = path.contains('{');
            if path_ids {
                assert!(responses.get("400").is_some(), "{method} {path} lacks 400");
                let bad = path
                    .split('/')
                    .map(|seg| {
                        if seg.starts_with('{') {
                            "not-a-uuid"
                        } else {
                            seg
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                let json_body = op["requestBody"]["content"]
                    .get("application/json")
                    .is_some();
                let body = json_body.then(|| json!({}));
                let res = app
                    .send(m.clone(), &bad, Some(&hq.access), body.as_ref())
                    .await;
                let (s, body) = into_json(res).await;
                assert_error(s, &body, StatusCode::BAD_REQUEST, "invalid_path");
                checked.0 += 1;
            }
            if op["requestBody"]["content"]
                .get("application/json")
                .is_some()
            {
                for status in ["400", "413", "415"] {
                    assert!(
                        responses.get(status).is_some(),
                        "{method} {path} lacks {status}"
                    );
                }
                let good = path
                    .split('/')
                    .map(|seg| {
                        if seg.starts_with('{') {
                            Uuid::new_v4().to_string()
                        } else {
                            seg.to_owned()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                // Each as a caller who may make the call.
                let token = if path.starts_with("/api/v1/sync") {
                    &auditor.access
                } else {
                    &hq.access
                };
                let (s, body) = raw(&app, m.clone(), &good, token, "text/plain", "{}").await;
                assert_error(
                    s,
                    &body,
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                );
                checked.1 += 1;
            }
        }
    }
    assert!(checked.0 >= 10 && checked.1 >= 10, "{checked:?}");
}
