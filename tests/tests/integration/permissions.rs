//! The permission matrix: every endpoint of the API description, for every
//! kind of caller, answers the expected status. An endpoint that the server
//! serves but the matrix does not list fails the test.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use storecheck_server::auth::{AccessClaims, sign_access_token, verify_access_token};
use storecheck_shared::Role;
use uuid::Uuid;

use crate::helpers::*;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    NoToken,
    Malformed,
    Expired,
    RefreshAsAccess,
    Auditor,
    ManagerIn,
    ManagerOut,
    Hq,
}

const CALLERS: [Caller; 8] = [
    Caller::NoToken,
    Caller::Malformed,
    Caller::Expired,
    Caller::RefreshAsAccess,
    Caller::Auditor,
    Caller::ManagerIn,
    Caller::ManagerOut,
    Caller::Hq,
];

/// Expected status for [auditor, manager in scope, manager out of scope, hq];
/// callers without a valid token get 401 on every protected endpoint.
enum Expect {
    Public(u16),
    Protected([u16; 4]),
}

struct Row {
    method: Method,
    path: &'static str,
    expect: Expect,
}

fn row(method: Method, path: &'static str, expect: Expect) -> Row {
    Row {
        method,
        path,
        expect,
    }
}

fn matrix() -> Vec<Row> {
    use Expect::*;
    vec![
        row(Method::POST, "/api/v1/auth/login", Public(200)),
        row(Method::POST, "/api/v1/auth/refresh", Public(200)),
        row(
            Method::POST,
            "/api/v1/auth/logout",
            Protected([204, 204, 204, 204]),
        ),
        row(Method::GET, "/api/v1/me", Protected([200, 200, 200, 200])),
        row(
            Method::GET,
            "/api/v1/regions",
            Protected([200, 200, 200, 200]),
        ),
        row(
            Method::POST,
            "/api/v1/regions",
            Protected([403, 403, 403, 201]),
        ),
        row(
            Method::GET,
            "/api/v1/regions/{id}",
            Protected([200, 200, 404, 200]),
        ),
        row(
            Method::PATCH,
            "/api/v1/regions/{id}",
            Protected([403, 403, 404, 200]),
        ),
        row(
            Method::GET,
            "/api/v1/stores",
            Protected([200, 200, 200, 200]),
        ),
        row(
            Method::POST,
            "/api/v1/stores",
            Protected([403, 403, 403, 201]),
        ),
        row(
            Method::GET,
            "/api/v1/stores/{id}",
            Protected([200, 200, 404, 200]),
        ),
        row(
            Method::PATCH,
            "/api/v1/stores/{id}",
            Protected([403, 403, 404, 200]),
        ),
        row(
            Method::POST,
            "/api/v1/stores/import",
            Protected([403, 403, 403, 201]),
        ),
        row(
            Method::GET,
            "/api/v1/users",
            Protected([403, 200, 200, 200]),
        ),
        row(
            Method::POST,
            "/api/v1/users",
            Protected([403, 403, 403, 201]),
        ),
        row(
            Method::GET,
            "/api/v1/users/{id}",
            Protected([404, 200, 404, 200]),
        ),
        row(
            Method::PATCH,
            "/api/v1/users/{id}",
            Protected([404, 403, 404, 200]),
        ),
        row(
            Method::GET,
            "/api/v1/dimensions",
            Protected([200, 200, 200, 200]),
        ),
        row(
            Method::POST,
            "/api/v1/dimensions",
            Protected([403, 403, 403, 201]),
        ),
        row(
            Method::GET,
            "/api/v1/dimensions/{id}",
            Protected([200, 200, 200, 200]),
        ),
        row(
            Method::PATCH,
            "/api/v1/dimensions/{id}",
            Protected([403, 403, 403, 200]),
        ),
        row(
            Method::GET,
            "/api/v1/standards",
            Protected([200, 200, 200, 200]),
        ),
        row(
            Method::POST,
            "/api/v1/standards",
            Protected([403, 403, 403, 201]),
        ),
        row(
            Method::GET,
            "/api/v1/standards/{id}",
            Protected([200, 200, 200, 200]),
        ),
        row(
            Method::PATCH,
            "/api/v1/standards/{id}",
            Protected([403, 403, 403, 200]),
        ),
        row(
            Method::GET,
            "/api/v1/checklists",
            Protected([403, 403, 403, 200]),
        ),
        row(
            Method::POST,
            "/api/v1/checklists",
            Protected([403, 403, 403, 201]),
        ),
        row(
            Method::GET,
            "/api/v1/checklists/{id}",
            Protected([403, 403, 403, 200]),
        ),
        row(
            Method::PUT,
            "/api/v1/checklists/{id}",
            Protected([403, 403, 403, 200]),
        ),
        row(
            Method::POST,
            "/api/v1/checklists/{id}/publish",
            Protected([403, 403, 403, 201]),
        ),
        row(
            Method::GET,
            "/api/v1/checklist-versions/{id}",
            Protected([200, 200, 404, 200]),
        ),
        row(
            Method::POST,
            "/api/v1/catalog/import-default",
            Protected([403, 403, 403, 200]),
        ),
        row(
            Method::GET,
            "/api/v1/assignments",
            Protected([200, 200, 200, 200]),
        ),
        row(
            Method::POST,
            "/api/v1/assignments",
            Protected([403, 201, 404, 201]),
        ),
        row(
            Method::GET,
            "/api/v1/assignments/{id}",
            Protected([200, 200, 404, 200]),
        ),
        row(
            Method::PATCH,
            "/api/v1/assignments/{id}",
            Protected([403, 200, 404, 200]),
        ),
        row(
            Method::GET,
            "/api/v1/sync/pull",
            Protected([200, 403, 403, 403]),
        ),
        row(
            Method::POST,
            "/api/v1/sync/push",
            Protected([200, 403, 403, 403]),
        ),
        // The world's audit lists no photo: the auditor asks for an unknown one.
        row(
            Method::POST,
            "/api/v1/photos/{id}/upload-url",
            Protected([404, 403, 403, 403]),
        ),
        row(
            Method::POST,
            "/api/v1/photos/{id}/complete",
            Protected([404, 403, 403, 403]),
        ),
        row(
            Method::GET,
            "/api/v1/audits",
            Protected([200, 200, 200, 200]),
        ),
        row(
            Method::GET,
            "/api/v1/audits/{id}",
            Protected([200, 200, 404, 200]),
        ),
        // An override keeps the audit submitted, so every caller finds it so.
        row(
            Method::POST,
            "/api/v1/audits/{id}/review",
            Protected([403, 200, 404, 200]),
        ),
        row(
            Method::GET,
            "/api/v1/corrective-actions",
            Protected([403, 200, 200, 200]),
        ),
        row(
            Method::PATCH,
            "/api/v1/corrective-actions/{id}",
            Protected([403, 200, 404, 200]),
        ),
        // A manager of another region sees compliance of their own (none).
        row(
            Method::GET,
            "/api/v1/compliance/stores",
            Protected([403, 200, 200, 200]),
        ),
        row(
            Method::GET,
            "/api/v1/compliance/regions",
            Protected([403, 200, 200, 200]),
        ),
        row(
            Method::GET,
            "/api/v1/compliance/items",
            Protected([403, 200, 200, 200]),
        ),
        row(
            Method::GET,
            "/api/v1/compliance/summary.csv",
            Protected([403, 200, 200, 200]),
        ),
        row(
            Method::GET,
            "/api/v1/compliance/summary.xlsx",
            Protected([403, 200, 200, 200]),
        ),
        row(
            Method::GET,
            "/api/v1/settings/compliance",
            Protected([403, 200, 200, 200]),
        ),
        row(
            Method::PUT,
            "/api/v1/settings/compliance",
            Protected([403, 403, 403, 200]),
        ),
        row(Method::GET, "/healthz", Public(200)),
        row(Method::GET, "/readyz", Public(200)),
        row(Method::GET, "/metrics", Public(200)),
        row(Method::GET, "/openapi.yaml", Public(200)),
    ]
}

/// Every (method, path) the API description lists.
fn served_operations() -> BTreeSet<(String, String)> {
    let api = storecheck_server::routes::openapi();
    let mut ops = BTreeSet::new();
    for (path, item) in api.paths.paths.iter() {
        let methods = [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PUT", item.put.is_some()),
            ("PATCH", item.patch.is_some()),
            ("DELETE", item.delete.is_some()),
            ("HEAD", item.head.is_some()),
            ("OPTIONS", item.options.is_some()),
            ("TRACE", item.trace.is_some()),
        ];
        for (m, present) in methods {
            if present {
                ops.insert((m.to_owned(), path.clone()));
            }
        }
    }
    ops
}

#[test]
fn every_endpoint_has_a_row() {
    let listed: BTreeSet<(String, String)> = matrix()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    let served = served_operations();
    let missing: Vec<_> = served.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "endpoints without a row in the permission matrix: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "rows for endpoints the server does not serve: {stale:?}"
    );
}

struct World {
    region_a: Uuid,
    store_a: Uuid,
    auditor: Uuid,
    dimension: Uuid,
    catalog: Catalog,
    assignment: Uuid,
    audit: Uuid,
    /// Opened by approving a second audit that failed an item.
    action: Uuid,
    push_body: Value,
    other_auditor: Uuid,
    auditor_email: &'static str,
    manager_in_email: &'static str,
    manager_out_email: &'static str,
    expired: String,
}

async fn world(app: &TestApp) -> World {
    let hq = app.hq().await;
    let region_a = app.create_region(&hq.access, "region-a").await;
    let region_b = app.create_region(&hq.access, "region-b").await;
    let store_a = app.create_store(&hq.access, "store-a", region_a).await;
    let auditor = app
        .create_user_directly("auditor@test.example", Role::Auditor, vec![region_a])
        .await;
    let other_auditor = app
        .create_user_directly("auditor2@test.example", Role::Auditor, vec![region_a])
        .await;
    app.create_user_directly("mgr-a@test.example", Role::RegionalManager, vec![region_a])
        .await;
    app.create_user_directly("mgr-b@test.example", Role::RegionalManager, vec![region_b])
        .await;
    let catalog = app.seed_catalog(&hq.access).await;
    let (s, b) = app
        .assign(&hq.access, store_a, auditor, catalog.version)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let assignment = id_of(&b);
    let dimension = app.first_dimension(&hq.access).await;
    let (_, version) = app
        .get(
            &format!("/api/v1/checklist-versions/{}", catalog.version),
            &hq.access,
        )
        .await;
    let audit = Uuid::new_v4();
    let push_body = json!({"device_clock": chrono::Utc::now(),
        "audits": [full_audit(audit, 1, assignment, &version, (31.2304, 121.4737))]});
    let auditor_token = app.login("auditor@test.example").await.access;
    let (s, b) = app
        .post("/api/v1/sync/push", &auditor_token, push_body.clone())
        .await;
    assert_eq!(b["results"][0]["outcome"], "accepted", "{s} {b}");
    let mut failing = full_audit(Uuid::new_v4(), 1, assignment, &version, (31.2304, 121.4737));
    failing["answers"][0]["value"] = json!(false);
    let (s, b) = app.push(&auditor_token, vec![failing.clone()]).await;
    assert_eq!(b["results"][0]["outcome"], "accepted", "{s} {b}");
    let (s, b) = app
        .post(
            &format!(
                "/api/v1/audits/{}/review",
                failing["id"].as_str().expect("id")
            ),
            &hq.access,
            json!({"action": "approve", "revision": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = app.get("/api/v1/corrective-actions", &hq.access).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let action = id_of(&b["items"][0]);
    let claims = verify_access_token(&app.state.token_key, &hq.access).expect("valid");
    let now = chrono::Utc::now().timestamp();
    let expired = sign_access_token(
        &app.state.token_key,
        &AccessClaims {
            iat: now - 3600,
            exp: now - 60,
            ..claims
        },
    );
    World {
        region_a,
        store_a,
        auditor,
        dimension,
        catalog,
        assignment,
        audit,
        action,
        push_body,
        other_auditor,
        auditor_email: "auditor@test.example",
        manager_in_email: "mgr-a@test.example",
        manager_out_email: "mgr-b@test.example",
        expired,
    }
}

fn request_body(row: &Row, n: usize, w: &World) -> Option<Value> {
    let unique = format!("m{n}");
    match (row.method.as_str(), row.path) {
        ("POST", "/api/v1/auth/login") => Some(json!({"email": HQ_EMAIL, "password": PASSWORD})),
        ("POST", "/api/v1/regions") => Some(json!({"code": unique, "name": "New"})),
        ("PATCH", "/api/v1/regions/{id}") => Some(json!({"name": "Renamed"})),
        ("POST", "/api/v1/stores") => Some(store_json(&unique, w.region_a)),
        ("PATCH", "/api/v1/stores/{id}") => Some(json!({"name": "Renamed"})),
        ("POST", "/api/v1/users") => Some(json!({
            "email": format!("{unique}@test.example"),
            "password": PASSWORD,
            "role": "auditor",
            "region_ids": [w.region_a],
        })),
        ("PATCH", "/api/v1/users/{id}") => Some(json!({"disabled": false})),
        ("POST", "/api/v1/dimensions") => {
            Some(json!({"code": unique, "name_zh": "维度", "name_en": "Dimension"}))
        }
        ("PATCH", "/api/v1/dimensions/{id}") => Some(json!({"name_en": "Reliability"})),
        ("POST", "/api/v1/standards") => Some(
            json!({"code": unique, "dimension_id": w.dimension, "factor": "performance", "text_zh": "标准", "text_en": "Standard"}),
        ),
        ("PATCH", "/api/v1/standards/{id}") => Some(json!({"guidance_en": "Look at the door."})),
        ("POST", "/api/v1/checklists") => Some(json!({"name": "Another"})),
        ("PUT", "/api/v1/checklists/{id}") => {
            Some(json!({"sections": valid_sections(&w.catalog.standards)}))
        }
        ("POST", "/api/v1/checklists/{id}/publish") => {
            Some(json!({"quarter": this_quarter().to_string()}))
        }
        ("POST", "/api/v1/catalog/import-default") => Some(json!({})),
        ("POST", "/api/v1/assignments") => {
            let q = this_quarter();
            Some(
                json!({"store_id": w.store_a, "auditor_id": w.auditor, "checklist_version_id": w.catalog.version,
                        "window_start": q.first_day(), "window_end": q.last_day()}),
            )
        }
        ("PATCH", "/api/v1/assignments/{id}") => {
            Some(json!({"window_end": this_quarter().last_day()}))
        }
        ("POST", "/api/v1/sync/push") => Some(w.push_body.clone()),
        ("POST", "/api/v1/audits/{id}/review") => Some(json!({
            "action": "override", "revision": 1,
            "overrides": [{"item_id": w.push_body["audits"][0]["answers"][0]["item_id"],
                           "value": true, "reason": "seen on the photo"}],
        })),
        ("PATCH", "/api/v1/corrective-actions/{id}") => {
            Some(json!({"due_on": this_quarter().last_day()}))
        }
        ("PUT", "/api/v1/settings/compliance") => Some(json!({
            "target": 8500, "below_from": 7000, "meets_from": 8500,
            "exceeds_from": 9500, "action_due_days": 14,
        })),
        _ => None,
    }
}

#[tokio::test]
async fn permission_matrix() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let mut failures = Vec::new();
    let mut n = 0;
    for row in matrix() {
        for caller in CALLERS {
            n += 1;
            // A fresh session per call, so that logout and refresh rows
            // cannot spoil the rows after them.
            let token = match caller {
                Caller::NoToken => None,
                Caller::Malformed => Some("not.a-token".to_owned()),
                Caller::Expired => Some(w.expired.clone()),
                Caller::RefreshAsAccess => Some(app.hq().await.refresh),
                Caller::Auditor => Some(app.login(w.auditor_email).await.access),
                Caller::ManagerIn => Some(app.login(w.manager_in_email).await.access),
                Caller::ManagerOut => Some(app.login(w.manager_out_email).await.access),
                Caller::Hq => Some(app.hq().await.access),
            };
            let id = match row.path {
                p if p.starts_with("/api/v1/regions/") => w.region_a,
                p if p.starts_with("/api/v1/stores/") => w.store_a,
                p if p.starts_with("/api/v1/dimensions/") => w.dimension,
                p if p.starts_with("/api/v1/standards/") => w.catalog.standards[0],
                p if p.starts_with("/api/v1/checklists/") => w.catalog.checklist,
                p if p.starts_with("/api/v1/checklist-versions/") => w.catalog.version,
                p if p.starts_with("/api/v1/assignments/") => w.assignment,
                p if p.starts_with("/api/v1/audits/") => w.audit,
                p if p.starts_with("/api/v1/corrective-actions/") => w.action,
                _ => w.other_auditor,
            };
            let mut path = row.path.replace("{id}", &id.to_string());
            if path.starts_with("/api/v1/compliance/") {
                path.push_str(&format!("?quarter={}", this_quarter()));
            }
            let expected = match (&row.expect, caller) {
                (Expect::Public(s), _) => *s,
                (
                    Expect::Protected(_),
                    Caller::NoToken | Caller::Malformed | Caller::Expired | Caller::RefreshAsAccess,
                ) => 401,
                (Expect::Protected(s), Caller::Auditor) => s[0],
                (Expect::Protected(s), Caller::ManagerIn) => s[1],
                (Expect::Protected(s), Caller::ManagerOut) => s[2],
                (Expect::Protected(s), Caller::Hq) => s[3],
            };
            let mut req = app.client.request(row.method.clone(), app.url(&path));
            if let Some(t) = &token {
                req = req.bearer_auth(t);
            }
            if row.path == "/api/v1/auth/refresh" {
                req = req.json(&json!({"refresh_token": app.hq().await.refresh}));
            } else if row.path == "/api/v1/stores/import" {
                req = req
                    .header("content-type", "text/csv")
                    .body(format!("code,name,address,latitude,longitude,timezone,region_code\nimp{n},Imported,1 Road,31.2,121.4,Asia/Shanghai,region-a\n"));
            } else if let Some(body) = request_body(&row, n, &w) {
                req = req.json(&body);
            }
            let res = req.send().await.expect("request sent");
            let status = res.status();
            let text = res.text().await.unwrap_or_default();
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if status != StatusCode::from_u16(expected).expect("status") {
                failures.push(format!(
                    "{} {} as {caller:?}: expected {expected}, got {status}: {body}",
                    row.method, row.path
                ));
            }
            if status.is_client_error() {
                assert!(
                    body["error"]["code"].is_string(),
                    "{} {} as {caller:?}: not the error shape: {body}",
                    row.method,
                    row.path
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
