//! Standards, checklist drafts, publication rules, immutable versions with
//! ETags, the default catalog, and the demo organisation.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use storecheck_shared::Role;

use crate::helpers::*;

#[tokio::test]
async fn dimensions_and_standards() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await.access;
    let (s, b) = app.get("/api/v1/dimensions", &hq).await;
    assert_eq!(s, StatusCode::OK);
    let codes: Vec<&str> = b["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|d| d["code"].as_str().expect("code"))
        .collect();
    assert_eq!(
        codes,
        [
            "reliability",
            "responsiveness",
            "assurance",
            "empathy",
            "tangibles"
        ],
        "SERVQUAL by default"
    );
    assert_eq!(b["items"][0]["name_zh"], "可靠性");

    // Another model's dimension is just data.
    let (s, b) = app
        .post(
            "/api/v1/dimensions",
            &hq,
            json!({"code": "courtesy", "name_zh": "礼貌", "name_en": "Courtesy"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["position"], 6);
    let courtesy = id_of(&b);
    let (s, b) = app
        .post(
            "/api/v1/dimensions",
            &hq,
            json!({"code": "courtesy", "name_zh": "x", "name_en": "x"}),
        )
        .await;
    assert_eq!(
        fields(&assert_error(s, &b, StatusCode::CONFLICT, "already_exists")),
        ["code"]
    );

    let std = app.create_standard(&hq, "GRT-01", courtesy, "basic").await;
    let (s, b) = app
        .post("/api/v1/standards", &hq, json!({"code": "GRT-01", "dimension_id": courtesy, "factor": "basic", "text_zh": "x", "text_en": "x"}))
        .await;
    assert_eq!(
        fields(&assert_error(s, &b, StatusCode::CONFLICT, "already_exists")),
        ["code"]
    );
    let (s, b) = app
        .post("/api/v1/standards", &hq, json!({"code": "X-1", "dimension_id": uuid::Uuid::now_v7(), "factor": "basic", "text_zh": "", "text_en": "x"}))
        .await;
    assert_eq!(
        fields(&assert_error(
            s,
            &b,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed"
        )),
        ["text_zh", "dimension_id"]
    );
    let (s, b) = app
        .post("/api/v1/standards", &hq, json!({"code": "X-1", "dimension_id": courtesy, "factor": "essential", "text_zh": "x", "text_en": "x"}))
        .await;
    assert_eq!(
        fields(&assert_error(
            s,
            &b,
            StatusCode::BAD_REQUEST,
            "invalid_body"
        )),
        ["factor"]
    );

    app.create_standard(&hq, "FAR-01", courtesy, "motivation")
        .await;
    let (s, b) = app
        .patch(
            &format!("/api/v1/standards/{std}"),
            &hq,
            json!({"retired": true, "guidance_en": "Watch the door."}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["retired"], true);
    assert_eq!(b["guidance_en"], "Watch the door.");
    assert_eq!(app.count("/api/v1/standards?retired=false", &hq).await, 1);
    assert_eq!(
        app.count("/api/v1/standards?factor=motivation", &hq).await,
        1
    );
    assert_eq!(
        app.count(&format!("/api/v1/standards?dimension_id={courtesy}"), &hq)
            .await,
        2
    );
    assert_eq!(app.count("/api/v1/standards?q=grt", &hq).await, 1);
}

/// A valid draft with one thing broken, and the path the publisher must name.
fn broken_cases(std: &[uuid::Uuid; 3]) -> Vec<(&'static str, Value, Vec<&'static str>)> {
    let base = valid_sections(std);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut s = base.clone();
        f(&mut s);
        s
    };
    vec![
        (
            "weight 0",
            with(&|s| s[0]["items"][0]["weight"] = json!(0)),
            vec!["sections[0].items[0].weight"],
        ),
        (
            "weight 101",
            with(&|s| s[0]["items"][1]["weight"] = json!(101)),
            vec!["sections[0].items[1].weight"],
        ),
        (
            "scale max 11",
            with(&|s| s[0]["items"][1]["max"] = json!(11)),
            vec!["sections[0].items[1].max"],
        ),
        (
            "scale max 1",
            with(&|s| s[0]["items"][1]["max"] = json!(1)),
            vec!["sections[0].items[1].max"],
        ),
        (
            "scale without max",
            with(&|s| {
                s[0]["items"][1]
                    .as_object_mut()
                    .expect("item")
                    .remove("max");
            }),
            vec!["sections[0].items[1].max"],
        ),
        (
            "basic scale",
            with(&|s| s[0]["items"][1]["factor"] = json!("basic")),
            vec!["sections[0].items[1].factor"],
        ),
        (
            "choice with one option",
            with(&|s| {
                s[0]["items"][1] = json!({"code": "C", "standard_id": std[1], "kind": "choice", "weight": 5, "factor": "performance",
            "options": [{"code": "a", "label_zh": "好", "label_en": "Good", "score": 100}]})
            }),
            vec!["sections[0].items[1].options"],
        ),
        (
            "choice score 150",
            with(&|s| {
                s[0]["items"][1] = json!({"code": "C", "standard_id": std[1], "kind": "choice", "weight": 5, "factor": "performance",
            "options": [{"code": "a", "label_zh": "好", "label_en": "Good", "score": 150}, {"code": "b", "label_zh": "差", "label_en": "Poor", "score": 0}]})
            }),
            vec!["sections[0].items[1].options[0].score"],
        ),
        (
            "count points_each 0",
            with(&|s| s[1]["items"][0]["points_each"] = json!(0)),
            vec!["sections[1].items[0].points_each"],
        ),
        (
            "count without max_points",
            with(&|s| {
                s[1]["items"][0]
                    .as_object_mut()
                    .expect("item")
                    .remove("max_points");
            }),
            vec!["sections[1].items[0].max_points"],
        ),
        (
            "count allowing N/A",
            with(&|s| s[1]["items"][0]["allow_na"] = json!(true)),
            vec!["sections[1].items[0].allow_na"],
        ),
        (
            "measure without target or compare",
            with(
                &|s| s[0]["items"][0] = json!({"code": "WAIT", "standard_id": std[0], "kind": "measure", "weight": 10, "factor": "basic"}),
            ),
            vec![
                "sections[0].items[0].target",
                "sections[0].items[0].compare",
            ],
        ),
        (
            "duplicate item code",
            with(&|s| s[1]["items"][0]["code"] = json!("GREET")),
            vec!["sections[1].items[0].code"],
        ),
        (
            "duplicate section code",
            with(&|s| s[1]["code"] = json!("arrival")),
            vec!["sections[1].code"],
        ),
        (
            "unknown standard",
            with(&|s| s[0]["items"][0]["standard_id"] = json!(uuid::Uuid::now_v7())),
            vec!["sections[0].items[0].standard_id"],
        ),
        (
            "no scored item",
            with(&|s| {
                s[0]["items"] = json!([]);
            }),
            vec!["sections[0].items", "sections"],
        ),
        (
            "required photo without count",
            with(&|s| s[0]["items"][0]["photo"] = json!("required")),
            vec!["sections[0].items[0].min_photos"],
        ),
    ]
}

#[tokio::test]
async fn publish_refuses_each_invalid_draft_naming_the_path_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await.access;
    let dim = app.first_dimension(&hq).await;
    let std = [
        app.create_standard(&hq, "S-1", dim, "basic").await,
        app.create_standard(&hq, "S-2", dim, "performance").await,
        app.create_standard(&hq, "S-3", dim, "performance").await,
    ];
    let (s, b) = app
        .post("/api/v1/checklists", &hq, json!({"name": "Audit"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let id = id_of(&b);
    let quarter = json!({"quarter": this_quarter().to_string()});
    for (what, sections, paths) in broken_cases(&std) {
        let (s, b) = into_json(
            app.send(
                Method::PUT,
                &format!("/api/v1/checklists/{id}"),
                Some(&hq),
                Some(&json!({"sections": sections})),
            )
            .await,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{what}: drafts may be invalid: {b}");
        let (s, b) = app
            .post(
                &format!("/api/v1/checklists/{id}/publish"),
                &hq,
                quarter.clone(),
            )
            .await;
        let details = assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "checklist_invalid");
        assert_eq!(fields(&details), paths, "{what}: {b}");
    }
    // A retired standard cannot be published again.
    app.patch(
        &format!("/api/v1/standards/{}", std[1]),
        &hq,
        json!({"retired": true}),
    )
    .await;
    app.send(
        Method::PUT,
        &format!("/api/v1/checklists/{id}"),
        Some(&hq),
        Some(&json!({"sections": valid_sections(&std)})),
    )
    .await;
    let (s, b) = app
        .post(
            &format!("/api/v1/checklists/{id}/publish"),
            &hq,
            quarter.clone(),
        )
        .await;
    assert_eq!(
        fields(&assert_error(
            s,
            &b,
            StatusCode::UNPROCESSABLE_ENTITY,
            "checklist_invalid"
        )),
        ["sections[0].items[1].standard_id"]
    );
    for bad in ["2026-Q5", "Q4-2026", ""] {
        let (s, b) = app
            .post(
                &format!("/api/v1/checklists/{id}/publish"),
                &hq,
                json!({"quarter": bad}),
            )
            .await;
        assert_eq!(
            fields(&assert_error(
                s,
                &b,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed"
            )),
            ["quarter"]
        );
    }
    let (_, b) = app.get(&format!("/api/v1/checklists/{id}"), &hq).await;
    assert_eq!(b["versions"], json!([]), "nothing was published");
}

async fn fetch(
    app: &TestApp,
    token: &str,
    path: &str,
    etag: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = app.client.get(app.url(path)).bearer_auth(token);
    if let Some(t) = etag {
        req = req.header("if-none-match", t);
    }
    let res = req.send().await.expect("sent");
    let status = res.status();
    let headers = res.headers().clone();
    (status, headers, res.bytes().await.expect("body").to_vec())
}

#[tokio::test]
async fn a_published_version_never_changes_and_revalidates_with_304() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await.access;
    let cat = app.seed_catalog(&hq).await;
    let path = format!("/api/v1/checklist-versions/{}", cat.version);
    let (s, headers, before) = fetch(&app, &hq, &path, None).await;
    assert_eq!(s, StatusCode::OK);
    let etag = headers["etag"].to_str().expect("etag").to_owned();
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "strong ETag: {etag}"
    );
    assert!(
        headers["cache-control"]
            .to_str()
            .expect("ascii")
            .contains("immutable")
    );
    let v: Value = serde_json::from_slice(&before).expect("json");
    assert_eq!(v["version"], 1);
    assert_eq!(v["quarter"], this_quarter().to_string());
    assert_eq!(
        v["sections"][0]["items"][0]["text_en"],
        "Standard STD-GREET"
    );
    assert_eq!(v["sections"][0]["items"][0]["dimension"], "reliability");
    assert_eq!(v["sections"][0]["items"][0]["standard_code"], "STD-GREET");

    let (s, _, body) = fetch(&app, &hq, &path, Some(&etag)).await;
    assert_eq!(s, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    // Caches that weaken validators still revalidate (If-None-Match
    // compares weakly).
    let (s, _, _) = fetch(&app, &hq, &path, Some(&format!("W/{etag}"))).await;
    assert_eq!(s, StatusCode::NOT_MODIFIED);

    // Edit the draft and the standard, publish again: version 1 is untouched.
    let mut sections = valid_sections(&cat.standards);
    sections[0]["items"][0]["weight"] = json!(50);
    sections[0]["items"][0]["text_en"] = json!("Greets within five seconds");
    let (s, b) = into_json(
        app.send(
            Method::PUT,
            &format!("/api/v1/checklists/{}", cat.checklist),
            Some(&hq),
            Some(&json!({"sections": sections})),
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    app.patch(
        &format!("/api/v1/standards/{}", cat.standards[1]),
        &hq,
        json!({"text_en": "Changed text"}),
    )
    .await;
    let (s, b) = app
        .post(
            &format!("/api/v1/checklists/{}/publish", cat.checklist),
            &hq,
            json!({"quarter": this_quarter().to_string()}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["version"], 2);
    assert_eq!(b["sections"][0]["items"][0]["weight"], 50);
    assert_eq!(b["sections"][0]["items"][1]["text_en"], "Changed text");
    assert_ne!(id_of(&b), cat.version);

    let (s, headers, after) = fetch(&app, &hq, &path, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(after, before, "byte for byte the same");
    assert_eq!(headers["etag"].to_str().expect("etag"), etag);
    let (_, b) = app
        .get(&format!("/api/v1/checklists/{}", cat.checklist), &hq)
        .await;
    let versions: Vec<i64> = b["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v["version"].as_i64().expect("n"))
        .collect();
    assert_eq!(versions, [1, 2]);
}

#[tokio::test]
async fn versions_are_visible_only_to_those_who_use_them() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await.access;
    let north = app.create_region(&hq, "north").await;
    let south = app.create_region(&hq, "south").await;
    let store = app.create_store(&hq, "N-1", north).await;
    let auditor = app
        .create_user_directly("aud@test.example", Role::Auditor, vec![north])
        .await;
    app.create_user_directly("other@test.example", Role::Auditor, vec![north])
        .await;
    app.create_user_directly("mn@test.example", Role::RegionalManager, vec![north])
        .await;
    app.create_user_directly("ms@test.example", Role::RegionalManager, vec![south])
        .await;
    let cat = app.seed_catalog(&hq).await;
    let path = format!("/api/v1/checklist-versions/{}", cat.version);
    let aud = app.login("aud@test.example").await.access;
    let other = app.login("other@test.example").await.access;
    let mn = app.login("mn@test.example").await.access;
    let ms = app.login("ms@test.example").await.access;

    for token in [&aud, &mn, &ms] {
        let (s, b) = app.get(&path, token).await;
        assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    }
    let (s, b) = app.assign(&hq, store, auditor, cat.version).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(app.get(&path, &aud).await.0, StatusCode::OK);
    assert_eq!(app.get(&path, &mn).await.0, StatusCode::OK);
    assert_eq!(
        app.get(&path, &ms).await.0,
        StatusCode::NOT_FOUND,
        "manager of another region"
    );
    assert_eq!(
        app.get(&path, &other).await.0,
        StatusCode::NOT_FOUND,
        "auditor without an assignment on it"
    );
    assert_eq!(app.get(&path, &hq).await.0, StatusCode::OK);
}

#[tokio::test]
async fn assignments_by_hq_and_managers_within_their_regions() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await.access;
    let north = app.create_region(&hq, "north").await;
    let south = app.create_region(&hq, "south").await;
    let n1 = app.create_store(&hq, "N-1", north).await;
    let s1 = app.create_store(&hq, "S-1", south).await;
    let amy = app
        .create_user_directly("amy@test.example", Role::Auditor, vec![north])
        .await;
    let bob = app
        .create_user_directly("bob@test.example", Role::Auditor, vec![north, south])
        .await;
    let mgr = app
        .create_user_directly("mgr@test.example", Role::RegionalManager, vec![north])
        .await;
    let gone = app
        .create_user_directly("gone@test.example", Role::Auditor, vec![north])
        .await;
    app.patch(
        &format!("/api/v1/users/{gone}"),
        &hq,
        json!({"disabled": true}),
    )
    .await;
    let cat = app.seed_catalog(&hq).await;
    let m = app.login("mgr@test.example").await.access;

    let (s, b) = app.assign(&m, n1, amy, cat.version).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["status"], "scheduled");
    let a1 = id_of(&b);
    let (s, b) = app.assign(&m, s1, amy, cat.version).await;
    assert_eq!(
        fields(&assert_error(s, &b, StatusCode::NOT_FOUND, "not_found")),
        ["store_id"]
    );
    for (who, why) in [(mgr, "not an auditor"), (gone, "disabled")] {
        let (s, b) = app.assign(&hq, n1, who, cat.version).await;
        assert_eq!(
            fields(&assert_error(
                s,
                &b,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed"
            )),
            ["auditor_id"],
            "{why}"
        );
    }
    let next = this_quarter().next();
    let (s, b) = app
        .post(
            "/api/v1/assignments",
            &hq,
            json!({"store_id": n1, "auditor_id": amy, "checklist_version_id": cat.version,
            "window_start": next.first_day(), "window_end": next.last_day()}),
        )
        .await;
    assert_eq!(
        fields(&assert_error(
            s,
            &b,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed"
        )),
        ["window_start", "window_end"]
    );
    let (s, b) = app
        .post(
            "/api/v1/assignments",
            &hq,
            json!({"store_id": n1, "auditor_id": amy, "checklist_version_id": uuid::Uuid::now_v7(),
            "window_start": this_quarter().first_day(), "window_end": this_quarter().last_day()}),
        )
        .await;
    assert_eq!(
        fields(&assert_error(
            s,
            &b,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed"
        )),
        ["checklist_version_id"]
    );
    // Whoever assigns, the auditor must work in the store's region (HQ too).
    let (s, b) = app.assign(&hq, s1, amy, cat.version).await;
    assert_eq!(
        fields(&assert_error(
            s,
            &b,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed"
        )),
        ["auditor_id"]
    );
    let (s, b) = app.assign(&hq, s1, bob, cat.version).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let s1_assignment = id_of(&b);
    let (s, b) = app
        .patch(
            &format!("/api/v1/assignments/{s1_assignment}"),
            &hq,
            json!({"auditor_id": amy}),
        )
        .await;
    assert_eq!(
        fields(&assert_error(
            s,
            &b,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed"
        )),
        ["auditor_id"],
        "{b}"
    );

    // Reassign and cancel; the auditor sees only their own.
    let (s, b) = app
        .patch(
            &format!("/api/v1/assignments/{a1}"),
            &m,
            json!({"auditor_id": bob}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["auditor_id"], bob.to_string());
    let (s, b) = app
        .patch(
            &format!("/api/v1/assignments/{a1}"),
            &m,
            json!({"window_end": this_quarter().first_day().pred_opt()}),
        )
        .await;
    assert_eq!(
        fields(&assert_error(
            s,
            &b,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed"
        )),
        ["window_end", "window_end"]
    );
    let (s, b) = app
        .patch(
            &format!("/api/v1/assignments/{a1}"),
            &m,
            json!({"status": "cancelled"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "cancelled");
    let bob_token = app.login("bob@test.example").await.access;
    assert_eq!(app.count("/api/v1/assignments", &bob_token).await, 2);
    assert_eq!(
        app.count("/api/v1/assignments?status=scheduled", &bob_token)
            .await,
        1
    );
    let amy_token = app.login("amy@test.example").await.access;
    assert_eq!(app.count("/api/v1/assignments", &amy_token).await, 0);
    assert_eq!(
        app.get(&format!("/api/v1/assignments/{a1}"), &amy_token)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.count("/api/v1/assignments", &m).await,
        1,
        "the manager sees the north store's only"
    );
    assert_eq!(
        app.count(&format!("/api/v1/assignments?region_id={south}"), &hq)
            .await,
        1
    );
}

#[tokio::test]
async fn the_default_catalog_loads_and_publishes() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await.access;
    let (s, report) = app
        .post("/api/v1/catalog/import-default", &hq, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert!(
        report["standards_created"].as_u64().expect("n") >= 30,
        "{report}"
    );
    assert_eq!(report["checklist_created"], true);
    let checklist = report["checklist_id"].as_str().expect("id").to_owned();

    let (s, v) = app
        .post(
            &format!("/api/v1/checklists/{checklist}/publish"),
            &hq,
            json!({"quarter": this_quarter().to_string()}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "the default catalog publishes cleanly: {v}"
    );
    let items: Vec<&Value> = v["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .flat_map(|s| s["items"].as_array().expect("items").iter())
        .collect();
    assert!(items.len() >= 30);
    for kind in ["yes_no", "scale", "measure", "choice", "count"] {
        assert!(items.iter().any(|i| i["kind"] == kind), "uses {kind}");
    }
    for factor in ["basic", "performance", "motivation"] {
        assert!(
            items
                .iter()
                .any(|i| i["factor"] == factor && i["kind"] != "count"),
            "uses {factor}"
        );
    }
    for item in &items {
        assert!(
            !item["text_zh"].as_str().unwrap_or_default().is_empty()
                && !item["text_en"].as_str().unwrap_or_default().is_empty()
        );
    }
    let measures: Vec<(f64, &str)> = items
        .iter()
        .filter(|i| i["kind"] == "measure")
        .map(|i| {
            (
                i["target"].as_f64().expect("target"),
                i["compare"].as_str().expect("compare"),
            )
        })
        .collect();
    for target in [20.0, 30.0, 180.0] {
        assert!(
            measures.contains(&(target, "at_most")),
            "a measure with target at most {target}: {measures:?}"
        );
    }

    let (s, again) = app
        .post("/api/v1/catalog/import-default", &hq, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["standards_created"], 0);
    assert_eq!(again["dimensions_created"], 0);
    assert_eq!(again["checklist_created"], false);
    assert_eq!(again["checklist_id"], checklist.as_str());
}

#[tokio::test]
async fn the_demo_starts_twice_without_duplicating_anything() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut cfg = config(tmp.path());
    if let Some(url) = fresh_database_url().await {
        cfg.data.database_url = Some(storecheck_server::config::Secret(url));
    }
    cfg.demo = true;
    let mut last = None;
    for _ in 0..2 {
        let app = storecheck_server::Application::build(cfg.clone())
            .await
            .expect("demo starts");
        let addr = app.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        last = Some((addr, stop, server));
    }
    let (addr, _stop, _server) = last.expect("started");
    let client = reqwest::Client::new();
    let login = |email: &'static str| {
        let client = client.clone();
        async move {
            let res = client
                .post(format!("http://{addr}/api/v1/auth/login"))
                .json(&json!({"email": email, "password": "demo-password"}))
                .send()
                .await
                .expect("sent");
            assert_eq!(res.status(), StatusCode::OK, "{email}");
            res.json::<Value>().await.expect("json")["access_token"]
                .as_str()
                .expect("token")
                .to_owned()
        }
    };
    let get = |token: String, path: &'static str| {
        let client = client.clone();
        async move {
            let v: Value = client
                .get(format!("http://{addr}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .expect("sent")
                .json()
                .await
                .expect("json");
            v["items"].as_array().expect("items").clone()
        }
    };
    let hq = login("hq@demo.test").await;
    assert_eq!(get(hq.clone(), "/api/v1/regions?limit=500").await.len(), 3);
    let stores = get(hq.clone(), "/api/v1/stores?limit=500").await;
    assert_eq!(stores.len(), 24);
    assert!(stores.iter().all(|s| {
        s["timezone"]
            .as_str()
            .is_some_and(|t| t.starts_with("Asia/"))
    }));
    assert_eq!(get(hq.clone(), "/api/v1/users?limit=500").await.len(), 5);
    let assignments = get(hq.clone(), "/api/v1/assignments?limit=500").await;
    assert_eq!(
        assignments.len(),
        24,
        "one per auditor and store of their regions"
    );
    let checklists = get(hq.clone(), "/api/v1/checklists").await;
    assert_eq!(checklists.len(), 1);
    assert_eq!(checklists[0]["versions"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        checklists[0]["versions"][0]["quarter"],
        this_quarter().to_string()
    );

    let m1 = login("manager1@demo.test").await;
    assert_eq!(get(m1, "/api/v1/stores?limit=500").await.len(), 8);
    let m2 = login("manager2@demo.test").await;
    assert_eq!(get(m2, "/api/v1/stores?limit=500").await.len(), 16);
    let a1 = login("auditor1@demo.test").await;
    assert_eq!(get(a1.clone(), "/api/v1/assignments").await.len(), 8);
    let a2 = login("auditor2@demo.test").await;
    assert_eq!(get(a2, "/api/v1/assignments?limit=500").await.len(), 16);
    let version = assignments[0]["checklist_version_id"]
        .as_str()
        .expect("version")
        .to_owned();
    let res = client
        .get(format!("http://{addr}/api/v1/checklist-versions/{version}"))
        .bearer_auth(&a1)
        .send()
        .await
        .expect("sent");
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "an auditor can download the checklist of their assignments"
    );
}

#[tokio::test]
async fn two_imports_at_once_add_each_standard_once() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await.access;
    let send = || {
        let client = app.client.clone();
        let url = app.url("/api/v1/catalog/import-default");
        let token = hq.clone();
        tokio::spawn(async move {
            let res = client
                .post(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("sent");
            (res.status(), res.json::<Value>().await.expect("json"))
        })
    };
    let (a, b) = (send(), send());
    let (a, b) = (a.await.expect("task"), b.await.expect("task"));
    assert_eq!(
        (a.0, b.0),
        (StatusCode::OK, StatusCode::OK),
        "{} {}",
        a.1,
        b.1
    );
    let created = a.1["standards_created"].as_u64().expect("n")
        + b.1["standards_created"].as_u64().expect("n");
    let (_, list) = app.get("/api/v1/standards?limit=500", &hq).await;
    let standards = list["items"].as_array().map(Vec::len).expect("items");
    assert_eq!(standards, usize::try_from(created).expect("fits"));
    let expected = storecheck_server::catalog::default_catalog()
        .expect("catalog")
        .standards
        .len();
    assert_eq!(standards, expected, "each standard exactly once");
    assert_eq!(
        app.count("/api/v1/checklists", &hq).await,
        1,
        "one checklist"
    );
    assert_eq!(a.1["checklist_id"], b.1["checklist_id"]);
    assert_ne!(
        a.1["checklist_created"], b.1["checklist_created"],
        "exactly one import made it"
    );
}
