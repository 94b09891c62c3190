//! The reference phone client: what an auditor's phone does, in Rust, with
//! the wire types of `storecheck-shared`.
//!
//! It keeps everything in a local SQLite file and works fully offline:
//! download assignments and checklists while there is a network, fill in
//! audits with none, edit them, queue them, and sync later. Syncing retries
//! with exponential backoff; pushes are idempotent, so sending an audit
//! twice after a lost reply is harmless. Photos are kept on the phone until
//! the server has them: each goes straight to the store through its
//! presigned URL (a fresh one asked for whenever one fails), then is
//! completed; a lost completion is simply sent again.

use std::time::Duration;

use anyhow::{Context, bail};
use chrono::Utc;
use reqwest::StatusCode;
use sea_orm::sqlx::{self, Row, SqlitePool, sqlite::SqliteConnectOptions};
use serde_json::Value;
use storecheck_shared::catalog::{Assignment, ChecklistVersion, ItemKind};
use storecheck_shared::sync::{
    AnswerPayload, AuditPayload, AuditState, GeoPoint, PhotoManifest, PhotoUpload, PullResponse,
    PushOutcome, PushRequest, PushResponse,
};
use uuid::Uuid;

/// How hard to try over a bad network.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 8,
            first_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
        }
    }
}

pub struct PhoneClient {
    base: String,
    http: reqwest::Client,
    db: SqlitePool,
    email: String,
    password: String,
    pub retry: Retry,
    /// Audits per push request.
    pub batch: usize,
    /// Send photo uploads to this address instead of the one in their URL
    /// (keeping the URL's host in the `Host` header), as a network path
    /// through a proxy does.
    pub store_via: Option<std::net::SocketAddr>,
}

/// What a photo upload round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PhotoReport {
    /// Files the server now has.
    pub delivered: usize,
    /// Files still on the phone only: the network gave out.
    pub left: usize,
}

/// Where a queued audit stands after a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalState {
    Draft,
    Queued,
    Synced,
    Rejected,
    Conflict,
}

impl LocalState {
    fn as_str(&self) -> &'static str {
        match self {
            LocalState::Draft => "draft",
            LocalState::Queued => "queued",
            LocalState::Synced => "synced",
            LocalState::Rejected => "rejected",
            LocalState::Conflict => "conflict",
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    pub pushed: usize,
    pub accepted: usize,
    pub duplicate: usize,
    pub rejected: usize,
    pub conflict: usize,
    pub superseded: usize,
    /// Still queued: the network gave out.
    pub left: usize,
}

/// A network failure or a server error: worth trying again.
fn transient(e: &reqwest::Error) -> bool {
    e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() || e.is_decode()
}

impl PhoneClient {
    /// Open (or create) the phone's local store at `path`.
    pub async fn open(
        path: &std::path::Path,
        base: &str,
        email: &str,
        password: &str,
    ) -> anyhow::Result<Self> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        let db = SqlitePool::connect_with(opts)
            .await
            .context("opening the local store")?;
        for ddl in [
            "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS assignments (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS stores (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS versions (id TEXT PRIMARY KEY, etag TEXT NOT NULL, body TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS audits (id TEXT PRIMARY KEY, revision INTEGER NOT NULL, payload TEXT NOT NULL, state TEXT NOT NULL, result TEXT)",
            "CREATE TABLE IF NOT EXISTS photos (id TEXT PRIMARY KEY, audit TEXT NOT NULL, content_type TEXT NOT NULL, bytes BLOB NOT NULL, delivered INTEGER NOT NULL DEFAULT 0, ticket TEXT)",
            "CREATE TABLE IF NOT EXISTS reviews (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
        ] {
            sqlx::query(ddl).execute(&db).await?;
        }
        Ok(PhoneClient {
            base: base.trim_end_matches('/').to_owned(),
            // A fresh connection per request: a dropped one never poisons the next.
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .timeout(Duration::from_secs(30))
                .build()?,
            db,
            email: email.to_owned(),
            password: password.to_owned(),
            retry: Retry::default(),
            batch: 25,
            store_via: None,
        })
    }

    async fn kv_get(&self, key: &str) -> anyhow::Result<Option<String>> {
        Ok(sqlx::query("SELECT value FROM kv WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.db)
            .await?
            .map(|r| r.get::<String, _>(0)))
    }

    async fn kv_set(&self, key: &str, value: &str) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Run `op` until it answers, backing off between failures.
    async fn with_retry<T, F, Fut>(&self, mut op: F) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Attempt>>,
    {
        let mut backoff = self.retry.first_backoff;
        let mut last = String::new();
        for _ in 0..self.retry.attempts.max(1) {
            match op().await {
                Ok(v) => return Ok(v),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Again(why)) => {
                    last = why;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.retry.max_backoff);
                }
            }
        }
        bail!("gave up after {} attempts: {last}", self.retry.attempts)
    }

    /// Sign in (again) with the stored credentials.
    pub async fn sign_in(&self) -> anyhow::Result<()> {
        let body = serde_json::json!({"email": self.email, "password": self.password});
        let reply: Value = self
            .with_retry(|| async {
                let res = self
                    .http
                    .post(format!("{}/api/v1/auth/login", self.base))
                    .json(&body)
                    .send()
                    .await;
                json_or_retry(res).await
            })
            .await?;
        let token = reply["access_token"]
            .as_str()
            .context("login reply without access_token")?;
        self.kv_set("access_token", token).await
    }

    async fn token(&self) -> anyhow::Result<String> {
        match self.kv_get("access_token").await? {
            Some(t) => Ok(t),
            None => {
                self.sign_in().await?;
                self.kv_get("access_token")
                    .await?
                    .context("no token after signing in")
            }
        }
    }

    /// An authenticated request, retried over network failures; signs in
    /// again once when the token is refused.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        etag: Option<&str>,
    ) -> anyhow::Result<(StatusCode, Option<String>, Option<Value>)> {
        for fresh_login in [false, true] {
            if fresh_login {
                self.sign_in().await?;
            }
            let token = self.token().await?;
            let out = self
                .with_retry(|| async {
                    let mut req = self
                        .http
                        .request(method.clone(), format!("{}{}", self.base, path))
                        .bearer_auth(&token);
                    if let Some(b) = body {
                        req = req.json(b);
                    }
                    if let Some(t) = etag {
                        req = req.header("if-none-match", t);
                    }
                    let res = req.send().await.map_err(|e| retry_or_fatal(&e))?;
                    let status = res.status();
                    if status.is_server_error() {
                        return Err(Attempt::Again(format!("server answered {status}")));
                    }
                    let tag = res
                        .headers()
                        .get("etag")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let bytes = res.bytes().await.map_err(|e| retry_or_fatal(&e))?;
                    let json = if bytes.is_empty() {
                        None
                    } else {
                        serde_json::from_slice(&bytes).ok()
                    };
                    Ok((status, tag, json))
                })
                .await?;
            if out.0 == StatusCode::UNAUTHORIZED && !fresh_login {
                continue;
            }
            return Ok(out);
        }
        bail!("signed in twice and still refused")
    }

    /// Download everything that changed: assignments, their stores and
    /// checklist versions (each version once; revalidated by ETag).
    pub async fn pull(&self) -> anyhow::Result<()> {
        loop {
            let cursor = self.kv_get("cursor").await?;
            let path = match &cursor {
                Some(c) => format!("/api/v1/sync/pull?cursor={c}"),
                None => "/api/v1/sync/pull".to_owned(),
            };
            let (status, _, body) = self.call(reqwest::Method::GET, &path, None, None).await?;
            if status == StatusCode::CONFLICT {
                // The server cannot honour the cursor: start again from scratch.
                sqlx::query("DELETE FROM kv WHERE key = 'cursor'")
                    .execute(&self.db)
                    .await?;
                sqlx::query("DELETE FROM assignments")
                    .execute(&self.db)
                    .await?;
                continue;
            }
            if status != StatusCode::OK {
                bail!("pull answered {status}: {body:?}");
            }
            let page: PullResponse = serde_json::from_value(body.context("empty pull reply")?)?;
            for a in &page.assignments {
                upsert(&self.db, "assignments", a.id, &serde_json::to_string(a)?).await?;
            }
            for id in &page.removed_assignments {
                sqlx::query("DELETE FROM assignments WHERE id = ?")
                    .bind(id.to_string())
                    .execute(&self.db)
                    .await?;
            }
            for s in &page.stores {
                upsert(&self.db, "stores", s.id, &serde_json::to_string(s)?).await?;
            }
            for v in &page.checklist_version_ids {
                self.fetch_version(*v).await?;
            }
            for a in &page.audits {
                upsert(&self.db, "reviews", a.id, &serde_json::to_string(a)?).await?;
            }
            self.kv_set("cursor", &page.cursor).await?;
            if !page.has_more {
                return Ok(());
            }
        }
    }

    async fn fetch_version(&self, id: Uuid) -> anyhow::Result<()> {
        let known = sqlx::query("SELECT etag FROM versions WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.db)
            .await?
            .map(|r| r.get::<String, _>(0));
        let (status, etag, body) = self
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/checklist-versions/{id}"),
                None,
                known.as_deref(),
            )
            .await?;
        match status {
            StatusCode::NOT_MODIFIED => Ok(()),
            StatusCode::OK => {
                let body = body.context("empty version")?;
                sqlx::query("INSERT INTO versions (id, etag, body) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET etag = excluded.etag, body = excluded.body")
                    .bind(id.to_string())
                    .bind(etag.unwrap_or_default())
                    .bind(body.to_string())
                    .execute(&self.db)
                    .await?;
                Ok(())
            }
            other => bail!("checklist version {id}: {other}"),
        }
    }

    /// The server's word on this phone's audits, as the last pull told it:
    /// status, the reviewer's comment, the revision in force.
    pub async fn review_state(&self, audit: Uuid) -> anyhow::Result<Option<AuditState>> {
        let row = sqlx::query("SELECT body FROM reviews WHERE id = ?")
            .bind(audit.to_string())
            .fetch_optional(&self.db)
            .await?;
        row.map(|r| Ok(serde_json::from_str(&r.get::<String, _>(0))?))
            .transpose()
    }

    pub async fn assignments(&self) -> anyhow::Result<Vec<Assignment>> {
        let rows = sqlx::query("SELECT body FROM assignments ORDER BY id")
            .fetch_all(&self.db)
            .await?;
        rows.iter()
            .map(|r| Ok(serde_json::from_str(&r.get::<String, _>(0))?))
            .collect()
    }

    pub async fn version(&self, id: Uuid) -> anyhow::Result<ChecklistVersion> {
        let row = sqlx::query("SELECT body FROM versions WHERE id = ?")
            .bind(id.to_string())
            .fetch_one(&self.db)
            .await
            .context("that checklist version was never downloaded")?;
        Ok(serde_json::from_str(&row.get::<String, _>(0))?)
    }

    /// Start an audit of an assignment, offline; every item starts unanswered.
    pub async fn start_audit(
        &self,
        assignment: &Assignment,
        checkin: GeoPoint,
    ) -> anyhow::Result<Uuid> {
        let now = Utc::now();
        let payload = AuditPayload {
            id: Uuid::new_v4(),
            revision: 1,
            assignment_id: assignment.id,
            checklist_version_id: assignment.checklist_version_id,
            started_at: now,
            finished_at: now,
            checkin: Some(checkin),
            answers: Vec::new(),
            photos: Vec::new(),
        };
        self.save(&payload, LocalState::Draft).await?;
        Ok(payload.id)
    }

    async fn save(&self, p: &AuditPayload, state: LocalState) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO audits (id, revision, payload, state) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET revision = excluded.revision, payload = excluded.payload, state = excluded.state")
            .bind(p.id.to_string())
            .bind(p.revision)
            .bind(serde_json::to_string(p)?)
            .bind(state.as_str())
            .execute(&self.db)
            .await?;
        Ok(())
    }

    pub async fn audit(&self, id: Uuid) -> anyhow::Result<(AuditPayload, LocalState)> {
        let row = sqlx::query("SELECT payload, state FROM audits WHERE id = ?")
            .bind(id.to_string())
            .fetch_one(&self.db)
            .await?;
        let state = match row.get::<String, _>(1).as_str() {
            "draft" => LocalState::Draft,
            "queued" => LocalState::Queued,
            "synced" => LocalState::Synced,
            "rejected" => LocalState::Rejected,
            _ => LocalState::Conflict,
        };
        Ok((serde_json::from_str(&row.get::<String, _>(0))?, state))
    }

    /// Answer (or re-answer) an item of a draft.
    pub async fn answer(
        &self,
        audit: Uuid,
        item: Uuid,
        value: Option<Value>,
    ) -> anyhow::Result<()> {
        let (mut p, state) = self.audit(audit).await?;
        if state != LocalState::Draft {
            bail!("audit {audit} is not a draft; edit it first");
        }
        p.answers.retain(|a| a.item_id != item);
        p.answers.push(AnswerPayload {
            item_id: item,
            na: value.is_none(),
            value,
            note: None,
            answered_at: Some(Utc::now()),
            photo_ids: Vec::new(),
        });
        self.save(&p, LocalState::Draft).await
    }

    /// Take a photo for an answered item of a draft: the file stays on the
    /// phone until the server has it.
    pub async fn attach_photo(
        &self,
        audit: Uuid,
        item: Uuid,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> anyhow::Result<Uuid> {
        use sha2::Digest;
        let (mut p, state) = self.audit(audit).await?;
        if state != LocalState::Draft {
            bail!("audit {audit} is not a draft; edit it first");
        }
        let id = Uuid::new_v4();
        let answer = p
            .answers
            .iter_mut()
            .find(|a| a.item_id == item)
            .context("answer the item before photographing it")?;
        answer.photo_ids.push(id);
        p.photos.push(PhotoManifest {
            id,
            item_id: item,
            sha256: sha2::Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            bytes: u64::try_from(bytes.len())?,
            content_type: content_type.to_owned(),
            taken_at: Some(Utc::now()),
        });
        sqlx::query("INSERT INTO photos (id, audit, content_type, bytes) VALUES (?, ?, ?, ?)")
            .bind(id.to_string())
            .bind(audit.to_string())
            .bind(content_type)
            .bind(bytes)
            .execute(&self.db)
            .await?;
        self.save(&p, LocalState::Draft).await?;
        Ok(id)
    }

    /// Send every photo of a synced audit the server does not have yet:
    /// upload to its presigned URL (the push reply's, or a fresh one), then
    /// complete. What the network loses stays for the next round.
    pub async fn upload_photos(&self) -> anyhow::Result<PhotoReport> {
        let rows = sqlx::query(
            "SELECT p.id, p.bytes, p.ticket FROM photos p JOIN audits a ON a.id = p.audit \
             WHERE p.delivered = 0 AND a.state = 'synced' ORDER BY p.id",
        )
        .fetch_all(&self.db)
        .await?;
        let mut report = PhotoReport::default();
        for row in rows {
            let id: Uuid = row.get::<String, _>(0).parse()?;
            let bytes: Vec<u8> = row.get(1);
            let ticket: Option<PhotoUpload> = row
                .get::<Option<String>, _>(2)
                .and_then(|t| serde_json::from_str(&t).ok());
            match self.deliver(id, bytes, ticket).await {
                Ok(()) => {
                    sqlx::query("UPDATE photos SET delivered = 1, ticket = NULL WHERE id = ?")
                        .bind(id.to_string())
                        .execute(&self.db)
                        .await?;
                    report.delivered += 1;
                }
                Err(_) => report.left += 1,
            }
        }
        Ok(report)
    }

    async fn deliver(
        &self,
        id: Uuid,
        bytes: Vec<u8>,
        ticket: Option<PhotoUpload>,
    ) -> anyhow::Result<()> {
        // A completion first: the file may be up already (a lost reply).
        if self.complete(id).await? {
            return Ok(());
        }
        let mut ticket = match ticket.filter(|t| t.expires_at > Utc::now()) {
            Some(t) => t,
            None => self.fresh_ticket(id).await?,
        };
        for _ in 0..self.retry.attempts.max(1) {
            match self.put(&ticket, bytes.clone()).await {
                Ok(true) => break,
                // Refused by the store (expired, say): a fresh URL.
                Ok(false) => ticket = self.fresh_ticket(id).await?,
                Err(_) => tokio::time::sleep(self.retry.first_backoff).await,
            }
        }
        if self.complete(id).await? {
            Ok(())
        } else {
            bail!("photo {id} did not arrive")
        }
    }

    async fn fresh_ticket(&self, id: Uuid) -> anyhow::Result<PhotoUpload> {
        match self
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/photos/{id}/upload-url"),
                Some(&serde_json::json!({})),
                None,
            )
            .await?
        {
            (StatusCode::OK, _, Some(v)) => Ok(serde_json::from_value(v)?),
            (status, _, v) => bail!("upload-url answered {status}: {v:?}"),
        }
    }

    /// `Ok(true)` stored, `Ok(false)` refused by the store, `Err` lost.
    async fn put(&self, t: &PhotoUpload, bytes: Vec<u8>) -> anyhow::Result<bool> {
        let url = reqwest::Url::parse(&t.url)?;
        let mut target = url.clone();
        let mut req = match self.store_via {
            Some(via) => {
                target
                    .set_ip_host(via.ip())
                    .map_err(|()| anyhow::anyhow!("proxy address"))?;
                target
                    .set_port(Some(via.port()))
                    .map_err(|()| anyhow::anyhow!("proxy port"))?;
                let host = match url.port() {
                    Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
                    None => url.host_str().unwrap_or_default().to_owned(),
                };
                self.http.put(target).header("host", host)
            }
            None => self.http.put(target),
        };
        for (name, value) in &t.headers {
            req = req.header(name, value);
        }
        let res = req.body(bytes).send().await?;
        let status = res.status();
        // Read the whole answer: a cut reply is a lost upload.
        res.bytes().await?;
        if status.is_server_error() {
            bail!("store answered {status}");
        }
        Ok(status.is_success())
    }

    /// Whether the server has the photo's file (completing it if it can).
    async fn complete(&self, id: Uuid) -> anyhow::Result<bool> {
        match self
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/photos/{id}/complete"),
                Some(&serde_json::json!({})),
                None,
            )
            .await?
        {
            (StatusCode::OK, _, Some(_)) => Ok(true),
            (StatusCode::CONFLICT, _, Some(v))
                if matches!(
                    v["error"]["code"].as_str(),
                    Some("upload_missing" | "upload_mismatch")
                ) =>
            {
                Ok(false)
            }
            (status, _, v) => bail!("complete answered {status}: {v:?}"),
        }
    }

    /// Photos still on the phone only.
    pub async fn photos_left(&self) -> anyhow::Result<usize> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM photos WHERE delivered = 0")
            .fetch_one(&self.db)
            .await?
            .get(0);
        Ok(usize::try_from(n)?)
    }

    /// Answer every item the way a perfect store would earn.
    pub async fn answer_all_passing(&self, audit: Uuid) -> anyhow::Result<()> {
        let (p, _) = self.audit(audit).await?;
        let version = self.version(p.checklist_version_id).await?;
        for item in version.sections.iter().flat_map(|s| s.items.iter()) {
            let value = match item.kind {
                ItemKind::YesNo => Value::Bool(true),
                ItemKind::Scale => serde_json::json!(item.max.unwrap_or(0)),
                ItemKind::Measure => serde_json::json!(item.target.unwrap_or(0.0)),
                ItemKind::Choice => serde_json::json!(
                    item.options
                        .iter()
                        .flatten()
                        .max_by_key(|o| o.score)
                        .map(|o| o.code.clone())
                        .unwrap_or_default()
                ),
                ItemKind::Count => serde_json::json!(0),
            };
            self.answer(audit, item.id, Some(value)).await?;
        }
        Ok(())
    }

    /// Queue a complete audit as it is (an import, or a test that builds it).
    pub async fn queue(&self, p: &AuditPayload) -> anyhow::Result<()> {
        self.save(p, LocalState::Queued).await
    }

    /// Close a draft and queue it for the next sync.
    pub async fn finish(&self, audit: Uuid) -> anyhow::Result<()> {
        let (mut p, _) = self.audit(audit).await?;
        p.finished_at = Utc::now();
        self.save(&p, LocalState::Queued).await
    }

    /// Reopen a sent audit as a draft of its next revision.
    pub async fn edit(&self, audit: Uuid) -> anyhow::Result<()> {
        let (mut p, state) = self.audit(audit).await?;
        if state == LocalState::Synced || state == LocalState::Queued {
            if state == LocalState::Synced {
                p.revision += 1;
            }
            self.save(&p, LocalState::Draft).await?;
        }
        Ok(())
    }

    /// Push every queued audit, in batches; what the network loses stays
    /// queued for the next sync.
    pub async fn push(&self) -> anyhow::Result<SyncReport> {
        let rows = sqlx::query("SELECT payload FROM audits WHERE state = 'queued' ORDER BY id")
            .fetch_all(&self.db)
            .await?;
        let queued: Vec<AuditPayload> = rows
            .iter()
            .map(|r| serde_json::from_str(&r.get::<String, _>(0)))
            .collect::<Result<_, _>>()?;
        let mut report = SyncReport::default();
        for chunk in queued.chunks(self.batch.max(1)) {
            let body = serde_json::to_value(PushRequest {
                device_clock: Utc::now(),
                audits: chunk.to_vec(),
            })?;
            let reply = match self
                .call(
                    reqwest::Method::POST,
                    "/api/v1/sync/push",
                    Some(&body),
                    None,
                )
                .await
            {
                Ok((StatusCode::OK, _, Some(v))) => v,
                Ok((status, _, v)) => bail!("push answered {status}: {v:?}"),
                Err(_) => {
                    report.left += chunk.len();
                    continue;
                }
            };
            let reply: PushResponse = serde_json::from_value(reply)?;
            report.pushed += chunk.len();
            // One local transaction per reply: one write to flash, not one per audit.
            let mut tx = self.db.begin().await?;
            for r in reply.results {
                let state = match r.outcome {
                    PushOutcome::Accepted => {
                        report.accepted += 1;
                        LocalState::Synced
                    }
                    PushOutcome::Duplicate => {
                        report.duplicate += 1;
                        LocalState::Synced
                    }
                    PushOutcome::Rejected => {
                        report.rejected += 1;
                        LocalState::Rejected
                    }
                    PushOutcome::Conflict => {
                        report.conflict += 1;
                        LocalState::Conflict
                    }
                    // A later revision is in force: nothing left to send.
                    PushOutcome::Superseded => {
                        report.superseded += 1;
                        LocalState::Synced
                    }
                };
                sqlx::query(
                    "UPDATE audits SET state = ?, result = ? WHERE id = ? AND revision = ?",
                )
                .bind(state.as_str())
                .bind(serde_json::to_string(&r)?)
                .bind(r.id.to_string())
                .bind(r.revision)
                .execute(&mut *tx)
                .await?;
                for upload in &r.uploads {
                    sqlx::query("UPDATE photos SET ticket = ? WHERE id = ?")
                        .bind(serde_json::to_string(upload)?)
                        .bind(upload.photo_id.to_string())
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
        }
        Ok(report)
    }

    /// Audits in a local state.
    pub async fn count(&self, state: LocalState) -> anyhow::Result<usize> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM audits WHERE state = ?")
            .bind(state.as_str())
            .fetch_one(&self.db)
            .await?
            .get(0);
        Ok(usize::try_from(n)?)
    }
}

async fn upsert(db: &SqlitePool, table: &str, id: Uuid, body: &str) -> anyhow::Result<()> {
    let sql = match table {
        "assignments" => {
            "INSERT INTO assignments (id, body) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body"
        }
        "reviews" => {
            "INSERT INTO reviews (id, body) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body"
        }
        _ => {
            "INSERT INTO stores (id, body) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body"
        }
    };
    sqlx::query(sql)
        .bind(id.to_string())
        .bind(body)
        .execute(db)
        .await?;
    Ok(())
}

/// One try's result: fatal, or worth another try.
pub enum Attempt {
    Fatal(anyhow::Error),
    Again(String),
}

fn retry_or_fatal(e: &reqwest::Error) -> Attempt {
    if transient(e) {
        Attempt::Again(e.to_string())
    } else {
        Attempt::Fatal(anyhow::anyhow!("{e}"))
    }
}

async fn json_or_retry(res: Result<reqwest::Response, reqwest::Error>) -> Result<Value, Attempt> {
    let res = res.map_err(|e| retry_or_fatal(&e))?;
    let status = res.status();
    if status.is_server_error() {
        return Err(Attempt::Again(format!("server answered {status}")));
    }
    let v: Value = res.json().await.map_err(|e| retry_or_fatal(&e))?;
    if !status.is_success() {
        return Err(Attempt::Fatal(anyhow::anyhow!("{status}: {v}")));
    }
    Ok(v)
}
