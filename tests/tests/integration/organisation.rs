//! Regions, stores and users: create, read, update, list with filters and
//! pages, within each caller's scope.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::json;
use storecheck_shared::Role;
use uuid::Uuid;

use crate::helpers::*;

/// Follow `next_cursor` to the end; returns every id in order.
async fn all_ids(app: &TestApp, path: &str, token: &str, limit: usize) -> (Vec<Uuid>, usize) {
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let (s, body) = app.get(&url, token).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        pages += 1;
        let items = body["items"].as_array().expect("items");
        assert!(items.len() <= limit);
        ids.extend(items.iter().map(id_of));
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    (ids, pages)
}

#[tokio::test]
async fn regions_page_without_gaps_or_repeats() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(app.create_region(&hq.access, &format!("r{i}")).await);
    }
    let (ids, pages) = all_ids(&app, "/api/v1/regions", &hq.access, 3).await;
    assert_eq!(ids, created, "pages list every region once, oldest first");
    assert_eq!(pages, 3);
    let (s, body) = app.get("/api/v1/regions?limit=0", &hq.access).await;
    assert_error(s, &body, StatusCode::BAD_REQUEST, "invalid_query");
    let (s, body) = app.get("/api/v1/regions?cursor=zzz", &hq.access).await;
    assert_error(s, &body, StatusCode::BAD_REQUEST, "invalid_cursor");
}

#[tokio::test]
async fn region_read_and_update() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await;
    let id = app.create_region(&hq.access, "east").await;
    let (s, body) = app
        .patch(
            &format!("/api/v1/regions/{id}"),
            &hq.access,
            json!({"name": "East China"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = app.get(&format!("/api/v1/regions/{id}"), &hq.access).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["name"], "East China");
    assert_eq!(body["code"], "east");
    let (s, body) = app
        .get(&format!("/api/v1/regions/{}", Uuid::now_v7()), &hq.access)
        .await;
    assert_error(s, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn stores_filter_by_region_and_text_and_respect_scope() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await;
    let north = app.create_region(&hq.access, "north").await;
    let south = app.create_region(&hq.access, "south").await;
    let mut north_stores = BTreeSet::new();
    for i in 0..5 {
        north_stores.insert(app.create_store(&hq.access, &format!("N-{i}"), north).await);
    }
    let s1 = app.create_store(&hq.access, "S-1", south).await;
    let (s, body) = app
        .patch(
            &format!("/api/v1/stores/{s1}"),
            &hq.access,
            json!({"name": "Harbour 50% Outlet"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Harbour 50% Outlet");
    assert_eq!(body["code"], "S-1", "fields left out keep their values");

    let (ids, _) = all_ids(
        &app,
        &format!("/api/v1/stores?region_id={north}"),
        &hq.access,
        2,
    )
    .await;
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), north_stores);
    let (ids, _) = all_ids(&app, "/api/v1/stores?q=harbour", &hq.access, 10).await;
    assert_eq!(ids, vec![s1]);
    let (ids, _) = all_ids(&app, "/api/v1/stores?q=50%25", &hq.access, 10).await;
    assert_eq!(ids, vec![s1], "% in the search text is literal");
    let (ids, _) = all_ids(&app, "/api/v1/stores?q=n-", &hq.access, 10).await;
    assert_eq!(ids.len(), 5);

    // A manager of the south region sees only its store, and nothing of the north.
    app.create_user_directly("m@test.example", Role::RegionalManager, vec![south])
        .await;
    let m = app.login("m@test.example").await;
    let (ids, _) = all_ids(&app, "/api/v1/stores", &m.access, 10).await;
    assert_eq!(ids, vec![s1]);
    let (ids, _) = all_ids(
        &app,
        &format!("/api/v1/stores?region_id={north}"),
        &m.access,
        10,
    )
    .await;
    assert!(ids.is_empty());
    let (ids, _) = all_ids(&app, "/api/v1/regions", &m.access, 10).await;
    assert_eq!(ids, vec![south]);
}

#[tokio::test]
async fn users_filter_and_scope() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await;
    let north = app.create_region(&hq.access, "north").await;
    let south = app.create_region(&hq.access, "south").await;
    let (s, body) = app
        .post(
            "/api/v1/users",
            &hq.access,
            json!({"email": "Amy@Test.Example", "password": PASSWORD, "role": "auditor", "region_ids": [north]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["email"], "amy@test.example");
    assert_eq!(body["region_ids"], json!([north]));
    assert_eq!(body["disabled"], false);
    assert!(body.get("password").is_none() && body.get("password_hash").is_none());
    let amy = id_of(&body);
    app.login("amy@test.example").await;
    let sam = app
        .create_user_directly("sam@test.example", Role::Auditor, vec![south])
        .await;
    let mgr = app
        .create_user_directly("mgr@test.example", Role::RegionalManager, vec![north])
        .await;

    let (ids, _) = all_ids(&app, "/api/v1/users?role=auditor", &hq.access, 1).await;
    assert_eq!(ids, vec![amy, sam]);
    let (ids, _) = all_ids(
        &app,
        &format!("/api/v1/users?region_id={south}"),
        &hq.access,
        10,
    )
    .await;
    assert_eq!(ids, vec![sam]);
    let (ids, _) = all_ids(&app, "/api/v1/users?q=sam", &hq.access, 10).await;
    assert_eq!(ids, vec![sam]);

    // The north manager sees themself and the north auditor, not the south one.
    let m = app.login("mgr@test.example").await;
    let (ids, _) = all_ids(&app, "/api/v1/users", &m.access, 10).await;
    assert_eq!(ids, vec![amy, mgr]);
    let (s, _) = app.get(&format!("/api/v1/users/{sam}"), &m.access).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Regions can be replaced; disabled users can be filtered.
    let (s, body) = app
        .patch(
            &format!("/api/v1/users/{sam}"),
            &hq.access,
            json!({"region_ids": [north, south], "disabled": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let mut regions = vec![north, south];
    regions.sort();
    assert_eq!(body["region_ids"], json!(regions));
    let (ids, _) = all_ids(&app, "/api/v1/users?disabled=true", &hq.access, 10).await;
    assert_eq!(ids, vec![sam]);
}

#[tokio::test]
async fn a_new_password_works_and_ends_old_sessions() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await;
    let id = app
        .create_user_directly("pat@test.example", Role::Hq, vec![])
        .await;
    let pat = app.login("pat@test.example").await;
    let (s, body) = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &hq.access,
            json!({"password": "a brand new password"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        app.get("/api/v1/me", &pat.access).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login_raw("pat@test.example", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login_raw("pat@test.example", "a brand new password")
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn hq_cannot_lock_themself_out() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await;
    let (_, me) = app.get("/api/v1/me", &hq.access).await;
    let id = id_of(&me);
    for patch in [json!({"disabled": true}), json!({"role": "auditor"})] {
        let (s, body) = app
            .patch(&format!("/api/v1/users/{id}"), &hq.access, patch)
            .await;
        assert_error(s, &body, StatusCode::CONFLICT, "self_lockout");
    }
    assert_eq!(app.get("/api/v1/me", &hq.access).await.0, StatusCode::OK);
}
