//! What the benchmarks share: the server on a loopback port, users made
//! straight in its database, and a published checklist of many items. Each
//! benchmark uses part of it.
#![allow(dead_code)]

use chrono::Utc;
use serde_json::{Value, json};
use storecheck_server::config::Secret;
use storecheck_server::{Application, ServeConfig};
use storecheck_shared::Role;
use storecheck_tests::bench::fresh_url;
use uuid::Uuid;

pub struct Server {
    pub base: String,
    /// The database it serves from.
    pub url: String,
    pub state: storecheck_server::state::AppState,
    _stop: tokio::sync::oneshot::Sender<()>,
    _tmp: tempfile::TempDir,
}

/// The server on a loopback port with a fresh database (see `fresh_url`).
pub async fn server(name: &str, tweak: impl FnOnce(&mut ServeConfig)) -> Server {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut cfg = ServeConfig::new(
        "127.0.0.1:0".parse().expect("addr"),
        tmp.path().join("data"),
    );
    let url = fresh_url(tmp.path(), name).await;
    cfg.data.database_url = Some(Secret(url.clone()));
    cfg.data.db_max_connections = 32;
    tweak(&mut cfg);
    let app = Application::build(cfg).await.expect("build");
    let base = format!("http://{}", app.local_addr().expect("addr"));
    let state = app.state.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    Server {
        base,
        url,
        state,
        _stop: stop,
        _tmp: tmp,
    }
}

pub async fn user(s: &Server, email: &str, role: Role, regions: Vec<Uuid>, hash: &str) -> Uuid {
    storecheck_server::db::users::create(
        &s.state.db,
        email.to_owned(),
        hash.to_owned(),
        role,
        regions,
    )
    .await
    .map_err(|e| e.message)
    .expect("user")
    .id
}

pub async fn api(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Value,
) -> Value {
    let res = client
        .request(method, url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("sent");
    let status = res.status();
    let v: Value = res.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {v}");
    v
}

/// A checklist of `items` items of every kind over the five dimensions,
/// each on a standard of its own (`B-000`…), published for this quarter;
/// the version as the server serves it.
pub async fn publish_checklist(
    http: &reqwest::Client,
    base: &str,
    hq: &str,
    items_wanted: usize,
) -> Value {
    let post = |path: &str, body: Value| {
        api(
            http,
            reqwest::Method::POST,
            format!("{base}{path}"),
            hq,
            body,
        )
    };
    let dims: Value = http
        .get(format!("{base}/api/v1/dimensions"))
        .bearer_auth(hq)
        .send()
        .await
        .expect("dims")
        .json()
        .await
        .expect("json");
    let mut items = Vec::new();
    for i in 0..items_wanted {
        let dim = dims["items"][i % 5]["id"].clone();
        let (factor, item) = match i % 5 {
            0 => ("basic", json!({"kind": "yes_no", "weight": 10})),
            1 => (
                "performance",
                json!({"kind": "scale", "weight": 5, "max": 4}),
            ),
            2 => (
                "basic",
                json!({"kind": "measure", "weight": 10, "target": 180, "compare": "at_most", "unit": "s"}),
            ),
            3 => (
                "performance",
                json!({"kind": "choice", "weight": 5, "options": [
                {"code": "a", "label_zh": "好", "label_en": "Good", "score": 100},
                {"code": "b", "label_zh": "差", "label_en": "Poor", "score": 0}]}),
            ),
            _ => (
                "motivation",
                json!({"kind": "yes_no", "weight": 3, "allow_na": true}),
            ),
        };
        let code = format!("B-{i:03}");
        post("/api/v1/standards", json!({"code": code, "dimension_id": dim, "factor": factor, "text_zh": "标准", "text_en": "Standard"})).await;
        let mut item = item;
        item["code"] = json!(code);
        item["standard_code"] = json!(code);
        item["factor"] = json!(factor);
        items.push(item);
    }
    let sections: Vec<Value> = items
        .chunks(20)
        .enumerate()
        .map(|(i, c)| json!({"code": format!("s{i}"), "title_zh": "节", "title_en": "Section", "items": c}))
        .collect();
    let checklist = post(
        "/api/v1/checklists",
        json!({"name": "Bench", "sections": sections}),
    )
    .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let quarter = storecheck_shared::quarter::Quarter::containing(Utc::now().date_naive());
    post(
        &format!("/api/v1/checklists/{checklist}/publish"),
        json!({"quarter": quarter.to_string()}),
    )
    .await
}

/// `postgresql` when `STORECHECK_BENCH_DATABASE_URL` names a server, else `sqlite`.
pub fn backend() -> &'static str {
    if std::env::var("STORECHECK_BENCH_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        "postgresql"
    } else {
        "sqlite"
    }
}

/// The runtime a benchmark's `main` runs on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Sign in; the access token.
pub async fn login(http: &reqwest::Client, base: &str, email: &str, password: &str) -> String {
    let reply: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    reply["access_token"].as_str().expect("token").to_owned()
}

/// Sign in to the web console as a browser does (the form, its CSRF
/// cookie); the `Cookie` header of the session.
#[allow(dead_code)]
pub async fn console_cookie(base: &str, email: &str, password: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form = http
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("sign-in form");
    let signin = form
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("storecheck_signin="))
        .and_then(|c| c.split(';').next())
        .expect("the sign-in cookie")
        .to_owned();
    let html = form.text().await.expect("form");
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("csrf")
        .to_owned();
    let mut body = reqwest::Url::parse("http://form.invalid/").expect("url");
    body.query_pairs_mut()
        .append_pair("csrf", &csrf)
        .append_pair("email", email)
        .append_pair("password", password);
    let res = http
        .post(format!("{base}/login"))
        .header(reqwest::header::COOKIE, signin)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body.query().unwrap_or("").to_owned())
        .send()
        .await
        .expect("sign in");
    assert_eq!(
        res.status(),
        reqwest::StatusCode::SEE_OTHER,
        "console sign-in"
    );
    res.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("storecheck_session="))
        .and_then(|c| c.split(';').next())
        .expect("the session cookie")
        .to_owned()
}
