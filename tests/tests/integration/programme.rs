//! A small audit programme for review and compliance tests: two regions, a
//! checklist whose scores are easy to compute by hand, one auditor in both
//! regions, one regional manager of the north, and helpers to push and
//! review audits with chosen answers.
//!
//! The checklist (all weights as published):
//! - section `s1`: `GREET` yes/no, weight 10, basic (dimension 1);
//!   `SMILE` scale 0–4, weight 5, performance, may be N/A (dimension 2);
//!   `EXTRA` yes/no, weight 5, motivation (dimension 2);
//! - section `s2`: `ERRORS` count, 5 points each, at most 15 (dimension 1).

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::{Value, json};
use storecheck_shared::Role;
use storecheck_shared::quarter::Quarter;
use uuid::Uuid;

use crate::helpers::*;

/// An answer as a phone gives it.
#[derive(Clone, Copy, Debug)]
pub enum A {
    Yes,
    No,
    Scale(u32),
    Count(u32),
    Na,
}

pub const MANAGER: &str = "mo@test.example";
pub const AUDITOR: &str = "amy@test.example";

pub struct Programme {
    pub app: TestApp,
    pub hq: String,
    pub north: Uuid,
    pub south: Uuid,
    pub auditor: Uuid,
    pub auditor_token: String,
    pub manager: Uuid,
    pub manager_token: String,
    /// The published version of this quarter, as the server serves it.
    pub version: Value,
    /// The same checklist published for the previous quarter.
    pub previous: Value,
    /// The checklist (a draft HQ may edit and publish again).
    pub checklist: Uuid,
    /// Every dimension code of the organisation, in order.
    pub dimensions: Vec<String>,
    /// The dimensions the checklist uses.
    pub d1: String,
    pub d2: String,
}

pub fn previous_quarter() -> Quarter {
    this_quarter().previous()
}

impl Programme {
    pub async fn new() -> Programme {
        let app = TestApp::spawn().await;
        Programme::on(app).await
    }

    pub async fn on(app: TestApp) -> Programme {
        let hq = app.hq().await.access;
        let (s, dims) = app.get("/api/v1/dimensions", &hq).await;
        assert_eq!(s, StatusCode::OK, "{dims}");
        let dims = dims["items"].as_array().expect("dimensions").clone();
        assert!(dims.len() >= 2, "{dims:?}");
        let dimensions: Vec<String> = dims
            .iter()
            .map(|d| d["code"].as_str().expect("code").to_owned())
            .collect();
        let (dim1, dim2) = (id_of(&dims[0]), id_of(&dims[1]));
        let greet = app.create_standard(&hq, "STD-GREET", dim1, "basic").await;
        let smile = app
            .create_standard(&hq, "STD-SMILE", dim2, "performance")
            .await;
        let extra = app
            .create_standard(&hq, "STD-EXTRA", dim2, "motivation")
            .await;
        let errors = app
            .create_standard(&hq, "STD-ERRORS", dim1, "performance")
            .await;
        let sections = json!([
            {"code": "s1", "title_zh": "服务", "title_en": "Service", "items": [
                {"code": "GREET", "standard_id": greet, "kind": "yes_no", "weight": 10, "factor": "basic"},
                {"code": "SMILE", "standard_id": smile, "kind": "scale", "weight": 5, "factor": "performance", "max": 4, "allow_na": true},
                {"code": "EXTRA", "standard_id": extra, "kind": "yes_no", "weight": 5, "factor": "motivation"},
            ]},
            {"code": "s2", "title_zh": "差错", "title_en": "Errors", "items": [
                {"code": "ERRORS", "standard_id": errors, "kind": "count", "weight": 1, "points_each": 5, "max_points": 15},
            ]},
        ]);
        let (s, b) = app
            .post(
                "/api/v1/checklists",
                &hq,
                json!({"name": "Service audit", "sections": sections}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let checklist = id_of(&b);
        let mut published = Vec::new();
        for q in [previous_quarter(), this_quarter()] {
            let (s, b) = app
                .post(
                    &format!("/api/v1/checklists/{checklist}/publish"),
                    &hq,
                    json!({"quarter": q.to_string()}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            let (s, v) = app
                .get(&format!("/api/v1/checklist-versions/{}", id_of(&b)), &hq)
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
            published.push(v);
        }
        let version = published.pop().expect("this quarter");
        let previous = published.pop().expect("previous quarter");
        let north = app.create_region(&hq, "north").await;
        let south = app.create_region(&hq, "south").await;
        let auditor = app
            .create_user_directly(AUDITOR, Role::Auditor, vec![north, south])
            .await;
        let manager = app
            .create_user_directly(MANAGER, Role::RegionalManager, vec![north])
            .await;
        Programme {
            auditor_token: app.login(AUDITOR).await.access,
            manager_token: app.login(MANAGER).await.access,
            app,
            hq,
            north,
            south,
            auditor,
            manager,
            version,
            previous,
            checklist,
            d1: dimensions[0].clone(),
            d2: dimensions[1].clone(),
            dimensions,
        }
    }

    /// A store named `name` (any text, formulas included).
    pub async fn store(&self, code: &str, name: &str, region: Uuid) -> Uuid {
        let mut body = store_json(code, region);
        body["name"] = json!(name);
        let (s, b) = self.app.post("/api/v1/stores", &self.hq, body).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        id_of(&b)
    }

    /// An assignment of the store to the auditor with `version`, over the
    /// version's quarter.
    pub async fn assignment(&self, store: Uuid, version: &Value) -> Uuid {
        let q = Quarter::parse(version["quarter"].as_str().expect("quarter")).expect("quarter");
        let (s, b) = self
            .app
            .post(
                "/api/v1/assignments",
                &self.hq,
                json!({"store_id": store, "auditor_id": self.auditor, "checklist_version_id": version["id"],
                       "window_start": q.first_day(), "window_end": q.last_day()}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        id_of(&b)
    }

    /// The item ids of a version by item code.
    pub fn items(version: &Value) -> HashMap<String, Uuid> {
        version["sections"]
            .as_array()
            .expect("sections")
            .iter()
            .flat_map(|s| s["items"].as_array().expect("items").iter())
            .map(|i| {
                (
                    i["code"].as_str().expect("code").to_owned(),
                    i["id"].as_str().expect("id").parse().expect("uuid"),
                )
            })
            .collect()
    }

    /// The payload of an audit answering `GREET, SMILE, EXTRA, ERRORS`.
    pub fn payload(
        version: &Value,
        id: Uuid,
        revision: i64,
        assignment: Uuid,
        answers: [A; 4],
    ) -> Value {
        let items = Programme::items(version);
        let now = chrono::Utc::now();
        let answers: Vec<Value> = ["GREET", "SMILE", "EXTRA", "ERRORS"]
            .iter()
            .zip(answers)
            .map(|(code, a)| {
                let (value, na) = match a {
                    A::Yes => (json!(true), false),
                    A::No => (json!(false), false),
                    A::Scale(v) | A::Count(v) => (json!(v), false),
                    A::Na => (Value::Null, true),
                };
                json!({"item_id": items[*code], "value": value, "na": na, "answered_at": now, "photo_ids": []})
            })
            .collect();
        json!({
            "id": id, "revision": revision, "assignment_id": assignment,
            "checklist_version_id": version["id"],
            "started_at": now - chrono::Duration::minutes(20),
            "finished_at": now - chrono::Duration::minutes(5),
            "checkin": {"latitude": 31.2304, "longitude": 121.4737, "accuracy_m": 8.0},
            "answers": answers, "photos": [],
        })
    }

    /// Push one audit; asserts the outcome and returns the reply's result.
    pub async fn push(&self, payload: Value, outcome: &str) -> Value {
        let (s, b) = self.app.push(&self.auditor_token, vec![payload]).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["results"][0]["outcome"], outcome, "{b}");
        b["results"][0].clone()
    }

    /// A new audit of the store with `version` and these answers, pushed
    /// and submitted; its id.
    pub async fn submit(&self, store: Uuid, version: &Value, answers: [A; 4]) -> Uuid {
        let assignment = self.assignment(store, version).await;
        let id = Uuid::now_v7();
        self.push(
            Programme::payload(version, id, 1, assignment, answers),
            "accepted",
        )
        .await;
        id
    }

    pub async fn review(&self, token: &str, audit: Uuid, body: Value) -> (StatusCode, Value) {
        self.app
            .post(&format!("/api/v1/audits/{audit}/review"), token, body)
            .await
    }

    /// Approve revision 1 as HQ; the audit as the reply shows it.
    pub async fn approve(&self, audit: Uuid) -> Value {
        let (s, b) = self
            .review(&self.hq, audit, json!({"action": "approve", "revision": 1}))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["status"], "approved", "{b}");
        b
    }

    /// Submit and approve; the id.
    pub async fn approved(&self, store: Uuid, version: &Value, answers: [A; 4]) -> Uuid {
        let id = self.submit(store, version, answers).await;
        self.approve(id).await;
        id
    }

    pub async fn detail(&self, token: &str, audit: Uuid) -> Value {
        let (s, b) = self
            .app
            .get(&format!("/api/v1/audits/{audit}"), token)
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b
    }

    /// The item analysis of this quarter as `token` sees it: the reply, and
    /// (standard code, assessed, failed) in its order.
    pub async fn failures(&self, token: &str) -> (Value, Vec<(String, i64, i64)>) {
        let (s, b) = self
            .app
            .get(
                &format!("/api/v1/compliance/items?quarter={}", this_quarter()),
                token,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let rows = b["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| {
                (
                    i["standard_code"].as_str().expect("code").to_owned(),
                    i["assessed"].as_i64().expect("assessed"),
                    i["failed"].as_i64().expect("failed"),
                )
            })
            .collect();
        (b, rows)
    }

    /// Raw bytes of a download, with its content type and file name.
    pub async fn download(&self, token: &str, path: &str) -> (StatusCode, String, String, Vec<u8>) {
        let res = self
            .app
            .send(reqwest::Method::GET, path, Some(token), None)
            .await;
        let status = res.status();
        let header = |h: reqwest::header::HeaderName| {
            res.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let disposition = header(reqwest::header::CONTENT_DISPOSITION);
        let bytes = res.bytes().await.expect("body").to_vec();
        (status, content_type, disposition, bytes)
    }
}
