//! `TestApp`: one server with a fresh database, and an HTTP client for it.

use std::path::PathBuf;

use reqwest::{Method, Response, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use storecheck_server::state::AppState;
use storecheck_server::{Application, ServeConfig};
use storecheck_shared::Role;
use tokio::sync::oneshot;
use uuid::Uuid;

/// Names a PostgreSQL server (any database on it) to run against instead of SQLite.
pub const PG_ENV: &str = "STORECHECK_TEST_DATABASE_URL";

pub const HQ_EMAIL: &str = "hq@test.example";
pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub data_dir: PathBuf,
    /// The PostgreSQL database, when the suite runs on PostgreSQL.
    pub database_url: Option<String>,
    _tmp: tempfile::TempDir,
    _stop: oneshot::Sender<()>,
    served: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// A database URL for a fresh, empty database: a new SQLite file, or a new
/// database on the PostgreSQL server named by `STORECHECK_TEST_DATABASE_URL`.
pub async fn fresh_database_url() -> Option<String> {
    let base = std::env::var(PG_ENV).ok().filter(|v| !v.is_empty())?;
    let name = format!("t_{}", Uuid::new_v4().simple());
    let admin = Database::connect(base.as_str())
        .await
        .expect("connect to the test PostgreSQL server");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    admin.close().await.ok();
    let (prefix, _) = base
        .rsplit_once('/')
        .expect("STORECHECK_TEST_DATABASE_URL must end in /<database>");
    Some(format!("{prefix}/{name}"))
}

/// Settings of a test server. With `STORECHECK_TEST_S3_ENDPOINT` (and
/// `_REGION`, `_BUCKET`, `_ACCESS_KEY_ID`, `_SECRET_ACCESS_KEY`) set, photo
/// files go to that S3-compatible store (Garage in CI) instead of the
/// embedded one.
pub fn config(dir: &std::path::Path) -> ServeConfig {
    let mut cfg = ServeConfig::new("127.0.0.1:0".parse().expect("address"), dir.join("data"));
    cfg.data.db_max_connections = 8;
    let var = |name: &str| std::env::var(format!("STORECHECK_TEST_S3_{name}")).ok();
    if let Some(endpoint) = var("ENDPOINT") {
        cfg.storage.s3_endpoint = Some(endpoint);
        cfg.storage.s3_region = var("REGION").unwrap_or_else(|| "garage".into());
        cfg.storage.s3_bucket = var("BUCKET").unwrap_or_else(|| "storecheck-test".into());
        cfg.storage.s3_access_key_id = var("ACCESS_KEY_ID");
        cfg.storage.s3_secret_access_key =
            var("SECRET_ACCESS_KEY").map(storecheck_server::config::Secret);
    }
    cfg
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Spawn with settings changed by `tweak`.
    pub async fn spawn_with(tweak: impl FnOnce(&mut ServeConfig)) -> TestApp {
        let test_app = Self::start(fresh_database_url().await, tweak).await;
        test_app
            .create_user_directly(HQ_EMAIL, Role::Hq, vec![])
            .await;
        test_app
    }

    /// A second server on this one's PostgreSQL database (`None` on SQLite,
    /// where one server process owns the database file).
    pub async fn spawn_beside(&self) -> Option<TestApp> {
        self.spawn_beside_with(|_| {}).await
    }

    /// A second server on this one's PostgreSQL database with settings
    /// changed by `tweak` (`None` on SQLite).
    pub async fn spawn_beside_with(&self, tweak: impl FnOnce(&mut ServeConfig)) -> Option<TestApp> {
        let url = self.database_url.clone()?;
        Some(Self::start(Some(url), tweak).await)
    }

    async fn start(database_url: Option<String>, tweak: impl FnOnce(&mut ServeConfig)) -> TestApp {
        Self::start_in(tempfile::tempdir().expect("temp dir"), database_url, tweak).await
    }

    /// Stop this server (it finishes what it is doing, as on SIGTERM) and
    /// start a new one on the same data folder and database.
    pub async fn restart(self, tweak: impl FnOnce(&mut ServeConfig)) -> TestApp {
        let TestApp {
            _tmp: tmp,
            _stop: stop,
            served,
            database_url,
            ..
        } = self;
        drop(stop);
        served
            .await
            .expect("the server task")
            .expect("the server stops cleanly");
        Self::start_in(tmp, database_url, tweak).await
    }

    async fn start_in(
        tmp: tempfile::TempDir,
        database_url: Option<String>,
        tweak: impl FnOnce(&mut ServeConfig),
    ) -> TestApp {
        let mut cfg = config(tmp.path());
        if let Some(url) = &database_url {
            cfg.data.database_url = Some(storecheck_server::config::Secret(url.clone()));
        }
        tweak(&mut cfg);
        let data_dir = cfg.data.data_dir.clone();
        let app = Application::build(cfg)
            .await
            .expect("build the application");
        let addr = app.local_addr().expect("bound address");
        let state = app.state.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        TestApp {
            addr,
            base: format!("http://{addr}"),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            state,
            data_dir,
            database_url,
            _tmp: tmp,
            _stop: stop,
            served,
        }
    }

    /// Create a user straight in the database (as `storecheck create-user` does).
    pub async fn create_user_directly(&self, email: &str, role: Role, regions: Vec<Uuid>) -> Uuid {
        let hash = storecheck_server::auth::hash_password(PASSWORD.to_owned())
            .await
            .expect("hash");
        storecheck_server::db::users::create(&self.state.db, email.to_owned(), hash, role, regions)
            .await
            .map_err(|e| e.message)
            .expect("create user")
            .id
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Send a request; `body` is sent as JSON when given.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        into_json(self.send(Method::GET, path, Some(token), None).await).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        into_json(
            self.send(Method::POST, path, Some(token), Some(&body))
                .await,
        )
        .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        into_json(
            self.send(Method::PATCH, path, Some(token), Some(&body))
                .await,
        )
        .await
    }

    pub async fn login_raw(&self, email: &str, password: &str) -> (StatusCode, Value) {
        into_json(
            self.send(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(&json!({"email": email, "password": password})),
            )
            .await,
        )
        .await
    }

    /// Log in with the test password; returns (access token, refresh token).
    pub async fn login(&self, email: &str) -> Tokens {
        let (status, body) = self.login_raw(email, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "login of {email}: {body}");
        Tokens::from_reply(&body)
    }

    pub async fn hq(&self) -> Tokens {
        self.login(HQ_EMAIL).await
    }

    pub async fn create_region(&self, token: &str, code: &str) -> Uuid {
        let (s, b) = self
            .post(
                "/api/v1/regions",
                token,
                json!({"code": code, "name": format!("Region {code}")}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        id_of(&b)
    }

    pub async fn create_store(&self, token: &str, code: &str, region: Uuid) -> Uuid {
        let (s, b) = self
            .post("/api/v1/stores", token, store_json(code, region))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        id_of(&b)
    }

    pub async fn count(&self, path: &str, token: &str) -> usize {
        let (s, b) = self.get(path, token).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b["items"].as_array().expect("items").len()
    }
}

pub fn store_json(code: &str, region: Uuid) -> Value {
    json!({
        "code": code,
        "name": format!("Store {code}"),
        "address": "1 Nanjing Road, Shanghai",
        "latitude": 31.2304,
        "longitude": 121.4737,
        "timezone": "Asia/Shanghai",
        "region_id": region,
    })
}

pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl Tokens {
    pub fn from_reply(body: &Value) -> Tokens {
        Tokens {
            access: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            refresh: body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_owned(),
        }
    }
}

pub fn id_of(body: &Value) -> Uuid {
    body["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("id")
}

pub async fn into_json(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// Assert the SPEC §10 error shape with `code`, and return the details.
pub fn assert_error(
    status: StatusCode,
    body: &Value,
    expected: StatusCode,
    code: &str,
) -> Vec<Value> {
    assert_eq!(status, expected, "{body}");
    let err = &body["error"];
    assert_eq!(err["code"], code, "{body}");
    assert!(
        err["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    err["details"].as_array().expect("details array").clone()
}

/// The fields named by an error's details.
pub fn fields(details: &[Value]) -> Vec<String> {
    details
        .iter()
        .map(|d| d["field"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The quarter of today, as the server sees it.
pub fn this_quarter() -> storecheck_shared::quarter::Quarter {
    storecheck_shared::quarter::Quarter::containing(chrono::Utc::now().date_naive())
}

/// A small valid draft: a basic yes/no item, a performance scale item and a
/// count item, all on the standard `standard`.
pub fn valid_sections(standards: &[Uuid; 3]) -> Value {
    json!([
        {"code": "arrival", "title_zh": "到店", "title_en": "Arrival", "items": [
            {"code": "GREET", "standard_id": standards[0], "kind": "yes_no", "weight": 10, "factor": "basic"},
            {"code": "SMILE", "standard_id": standards[1], "kind": "scale", "weight": 5, "factor": "performance", "max": 4},
        ]},
        {"code": "complaints", "title_zh": "投诉", "title_en": "Complaints", "items": [
            {"code": "ERRORS", "standard_id": standards[2], "kind": "count", "weight": 1, "points_each": 5, "max_points": 15},
        ]},
    ])
}

pub struct Catalog {
    pub standards: [Uuid; 3],
    pub checklist: Uuid,
    pub version: Uuid,
}

impl TestApp {
    pub async fn create_standard(
        &self,
        token: &str,
        code: &str,
        dimension: Uuid,
        factor: &str,
    ) -> Uuid {
        let (s, b) = self
            .post(
                "/api/v1/standards",
                token,
                json!({"code": code, "dimension_id": dimension, "factor": factor,
                       "text_zh": format!("标准 {code}"), "text_en": format!("Standard {code}")}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        id_of(&b)
    }

    pub async fn first_dimension(&self, token: &str) -> Uuid {
        let (s, b) = self.get("/api/v1/dimensions", token).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        id_of(&b["items"][0])
    }

    /// Three standards, a checklist using them, published for this quarter.
    pub async fn seed_catalog(&self, token: &str) -> Catalog {
        let dimension = self.first_dimension(token).await;
        let standards = [
            self.create_standard(token, "STD-GREET", dimension, "basic")
                .await,
            self.create_standard(token, "STD-SMILE", dimension, "performance")
                .await,
            self.create_standard(token, "STD-ERRORS", dimension, "performance")
                .await,
        ];
        let (s, b) = self
            .post(
                "/api/v1/checklists",
                token,
                json!({"name": "Store audit", "sections": valid_sections(&standards)}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let checklist = id_of(&b);
        let (s, b) = self
            .post(
                &format!("/api/v1/checklists/{checklist}/publish"),
                token,
                json!({"quarter": this_quarter().to_string()}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        Catalog {
            standards,
            checklist,
            version: id_of(&b),
        }
    }

    pub async fn assign(
        &self,
        token: &str,
        store: Uuid,
        auditor: Uuid,
        version: Uuid,
    ) -> (StatusCode, Value) {
        let q = this_quarter();
        self.post(
            "/api/v1/assignments",
            token,
            json!({"store_id": store, "auditor_id": auditor, "checklist_version_id": version,
                   "window_start": q.first_day(), "window_end": q.last_day()}),
        )
        .await
    }
}

/// A complete, fully passing audit of `version` (the JSON of a published
/// version) for `assignment`, checked in at `at` (latitude, longitude).
pub fn full_audit(
    id: Uuid,
    revision: i64,
    assignment: Uuid,
    version: &Value,
    at: (f64, f64),
) -> Value {
    let now = chrono::Utc::now();
    let mut answers = Vec::new();
    let mut photos = Vec::new();
    for item in version["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .flat_map(|s| s["items"].as_array().expect("items").iter())
    {
        let item_id = item["id"].as_str().expect("id");
        let value = match item["kind"].as_str().expect("kind") {
            "yes_no" => json!(true),
            "scale" => item["max"].clone(),
            "measure" => item["target"].clone(),
            "choice" => {
                let best = item["options"]
                    .as_array()
                    .expect("options")
                    .iter()
                    .max_by_key(|o| o["score"].as_i64())
                    .expect("option");
                best["code"].clone()
            }
            _ => json!(0),
        };
        let mut photo_ids = Vec::new();
        if item["photo"] == "required" {
            for _ in 0..item["min_photos"].as_u64().unwrap_or(1) {
                let pid = Uuid::new_v4();
                photo_ids.push(pid);
                photos.push(json!({"id": pid, "item_id": item_id, "sha256": "ab".repeat(32), "bytes": 123_456,
                                   "content_type": "image/jpeg", "taken_at": now}));
            }
        }
        answers.push(json!({"item_id": item_id, "value": value, "note": "ok", "answered_at": now, "photo_ids": photo_ids}));
    }
    json!({
        "id": id, "revision": revision, "assignment_id": assignment, "checklist_version_id": version["id"],
        "started_at": now - chrono::Duration::minutes(20), "finished_at": now - chrono::Duration::minutes(5),
        "checkin": {"latitude": at.0, "longitude": at.1, "accuracy_m": 8.0},
        "answers": answers, "photos": photos,
    })
}

impl TestApp {
    pub async fn push(&self, token: &str, audits: Vec<Value>) -> (StatusCode, Value) {
        self.post(
            "/api/v1/sync/push",
            token,
            json!({"device_clock": chrono::Utc::now(), "audits": audits}),
        )
        .await
    }
}

/// An organisation with one store, one auditor with an assignment on the
/// published default-style catalog, ready to push.
pub struct Field {
    pub hq: String,
    pub region: Uuid,
    pub store: Uuid,
    pub store_at: (f64, f64),
    pub auditor: Uuid,
    pub auditor_token: String,
    pub catalog: Catalog,
    pub version: Value,
    pub assignment: Uuid,
}

impl TestApp {
    pub async fn field(&self) -> Field {
        let hq = self.hq().await.access;
        let region = self.create_region(&hq, "north").await;
        let store = self.create_store(&hq, "N-1", region).await;
        let auditor = self
            .create_user_directly("amy@test.example", Role::Auditor, vec![region])
            .await;
        let catalog = self.seed_catalog(&hq).await;
        let (s, b) = self.assign(&hq, store, auditor, catalog.version).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let (s, version) = self
            .get(
                &format!("/api/v1/checklist-versions/{}", catalog.version),
                &hq,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        Field {
            auditor_token: self.login("amy@test.example").await.access,
            hq,
            region,
            store,
            store_at: (31.2304, 121.4737),
            auditor,
            catalog,
            version,
            assignment: id_of(&b),
        }
    }
}

/// Add a photo of `bytes` (a JPEG as far as the manifest says) to the first
/// answer of an audit made by `full_audit`; its id.
pub fn add_photo(audit: &mut Value, bytes: &[u8]) -> Uuid {
    add_photo_as(audit, bytes, "image/jpeg")
}

/// Add a photo of `bytes` listed as `content_type`, taken now by the
/// phone's clock; its id.
pub fn add_photo_as(audit: &mut Value, bytes: &[u8], content_type: &str) -> Uuid {
    use sha2::Digest;
    let id = Uuid::new_v4();
    let sha: String = sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let item = audit["answers"][0]["item_id"].clone();
    audit["photos"].as_array_mut().expect("photos").push(
        json!({"id": id, "item_id": item, "sha256": sha, "bytes": bytes.len(),
                     "content_type": content_type, "taken_at": chrono::Utc::now()}),
    );
    audit["answers"][0]["photo_ids"]
        .as_array_mut()
        .expect("photo_ids")
        .push(json!(id));
    id
}

/// Poll `check` until it holds or five seconds pass; whether it held.
pub async fn within_seconds<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
