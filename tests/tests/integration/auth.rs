//! Sign-in, token rotation and reuse detection, logout, disabled users,
//! throttled failures.

use reqwest::{Method, StatusCode};
use serde_json::json;
use storecheck_server::auth::{AccessClaims, sign_access_token, verify_access_token};
use storecheck_shared::Role;

use crate::helpers::*;

#[tokio::test]
async fn login_returns_tokens_and_the_user() {
    let app = TestApp::spawn().await;
    let region = app.create_region(&app.hq().await.access, "north").await;
    app.create_user_directly("ann@test.example", Role::Auditor, vec![region])
        .await;

    let (status, body) = app.login_raw("  Ann@Test.Example ", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["email"], "ann@test.example");
    assert_eq!(body["user"]["role"], "auditor");
    assert_eq!(body["user"]["region_ids"], json!([region]));

    let tokens = Tokens::from_reply(&body);
    let (s, me) = app.get("/api/v1/me", &tokens.access).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["email"], "ann@test.example");
    assert_eq!(me["region_ids"], json!([region]));
}

#[tokio::test]
async fn wrong_password_and_unknown_account_look_the_same() {
    let app = TestApp::spawn().await;
    let (s1, b1) = app.login_raw(HQ_EMAIL, "wrong password").await;
    let (s2, b2) = app.login_raw("nobody@test.example", "wrong password").await;
    assert_error(s1, &b1, StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_error(s2, &b2, StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(b1, b2);
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_ends_the_session() {
    let app = TestApp::spawn().await;
    let first = app.hq().await;

    let (s, body) = app
        .post(
            "/api/v1/auth/refresh",
            "unused",
            json!({"refresh_token": first.refresh}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let second = Tokens::from_reply(&body);
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(
        app.get("/api/v1/me", &second.access).await.0,
        StatusCode::OK
    );

    // The next link of the chain works too.
    let (s, body) = app
        .post(
            "/api/v1/auth/refresh",
            "unused",
            json!({"refresh_token": second.refresh}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let third = Tokens::from_reply(&body);

    // Presenting an already-used token: refused, and the whole family ends.
    let (s, body) = app
        .post(
            "/api/v1/auth/refresh",
            "unused",
            json!({"refresh_token": first.refresh}),
        )
        .await;
    assert_error(s, &body, StatusCode::UNAUTHORIZED, "refresh_token_reused");
    let (s, body) = app
        .post(
            "/api/v1/auth/refresh",
            "unused",
            json!({"refresh_token": third.refresh}),
        )
        .await;
    assert_error(s, &body, StatusCode::UNAUTHORIZED, "session_revoked");
    let (s, body) = app.get("/api/v1/me", &third.access).await;
    assert_error(s, &body, StatusCode::UNAUTHORIZED, "session_revoked");

    // Other sessions of the same user are untouched.
    let other = app.hq().await;
    assert_eq!(app.get("/api/v1/me", &other.access).await.0, StatusCode::OK);
}

#[tokio::test]
async fn unknown_refresh_token_is_refused() {
    let app = TestApp::spawn().await;
    let (s, body) = app
        .post(
            "/api/v1/auth/refresh",
            "x",
            json!({"refresh_token": "rt_not-a-real-token"}),
        )
        .await;
    assert_error(s, &body, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
}

#[tokio::test]
async fn logout_ends_access_and_refresh_tokens_at_once() {
    let app = TestApp::spawn().await;
    let tokens = app.hq().await;
    let other = app.hq().await;
    let res = app
        .send(
            Method::POST,
            "/api/v1/auth/logout",
            Some(&tokens.access),
            Some(&json!({"refresh_token": tokens.refresh})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (s, body) = app.get("/api/v1/me", &tokens.access).await;
    assert_error(s, &body, StatusCode::UNAUTHORIZED, "session_revoked");
    let (s, body) = app
        .post(
            "/api/v1/auth/refresh",
            "x",
            json!({"refresh_token": tokens.refresh}),
        )
        .await;
    assert_error(s, &body, StatusCode::UNAUTHORIZED, "session_revoked");
    // Logout without a body works, and ends only that session.
    assert_eq!(app.get("/api/v1/me", &other.access).await.0, StatusCode::OK);
    let res = app
        .send(
            Method::POST,
            "/api/v1/auth/logout",
            Some(&other.access),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/me", &other.access).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_disabled_user_is_refused_at_once() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await;
    let region = app.create_region(&hq.access, "north").await;
    let id = app
        .create_user_directly("bob@test.example", Role::Auditor, vec![region])
        .await;
    let bob = app.login("bob@test.example").await;
    assert_eq!(app.get("/api/v1/me", &bob.access).await.0, StatusCode::OK);

    let (s, body) = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &hq.access,
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["disabled"], true);

    assert_eq!(
        app.get("/api/v1/me", &bob.access).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (s, body) = app
        .post(
            "/api/v1/auth/refresh",
            "x",
            json!({"refresh_token": bob.refresh}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    let (s, body) = app.login_raw("bob@test.example", PASSWORD).await;
    assert_error(s, &body, StatusCode::FORBIDDEN, "account_disabled");

    // Enabled again, the user can sign in.
    let (s, _) = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &hq.access,
            json!({"disabled": false}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    app.login("bob@test.example").await;
}

#[tokio::test]
async fn expired_and_forged_access_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let tokens = app.hq().await;
    let claims = verify_access_token(&app.state.token_key, &tokens.access).expect("valid");
    let now = chrono::Utc::now().timestamp();
    let expired = sign_access_token(
        &app.state.token_key,
        &AccessClaims {
            iat: now - 1000,
            exp: now - 10,
            ..claims.clone()
        },
    );
    let (s, body) = app.get("/api/v1/me", &expired).await;
    assert_error(s, &body, StatusCode::UNAUTHORIZED, "token_expired");

    let forged = sign_access_token(
        &storecheck_server::auth::TokenKey::new(b"some other key entirely, 32 bytes+"),
        &claims,
    );
    let (s, body) = app.get("/api/v1/me", &forged).await;
    assert_error(s, &body, StatusCode::UNAUTHORIZED, "invalid_token");

    let res = app.send(Method::GET, "/api/v1/me", None, None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn repeated_failures_slow_down_the_account() {
    let app = TestApp::spawn_with(|c| c.login_failures_per_account = 3).await;
    for _ in 0..3 {
        let (s, _) = app.login_raw(HQ_EMAIL, "wrong password").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    // Locked now: even the right password waits.
    let res = app
        .send(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&json!({"email": HQ_EMAIL, "password": PASSWORD})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry), "retry after {retry}");
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["error"]["code"], "too_many_attempts");

    // Another account from the same address is not locked.
    app.create_user_directly("other@test.example", Role::Hq, vec![])
        .await;
    app.login("other@test.example").await;
}

#[tokio::test]
async fn repeated_failures_slow_down_the_client_address() {
    let app = TestApp::spawn_with(|c| c.login_failures_per_address = 4).await;
    for i in 0..4 {
        let (s, _) = app
            .login_raw(&format!("nobody{i}@test.example"), "wrong password")
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (s, body) = app.login_raw(HQ_EMAIL, PASSWORD).await;
    assert_error(s, &body, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
}

/// Ten refreshes racing with one token: exactly one wins, the others are
/// reuse (which ends the session); none is a server error.
#[tokio::test]
async fn racing_refreshes_with_one_token() {
    let app = TestApp::spawn().await;
    let tokens = app.hq().await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let client = app.client.clone();
        let url = app.url("/api/v1/auth/refresh");
        let refresh = tokens.refresh.clone();
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"refresh_token": refresh}))
                .send()
                .await
                .expect("sent")
                .status()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn new_regions_and_roles_apply_to_the_next_request() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await;
    let north = app.create_region(&hq.access, "north").await;
    let south = app.create_region(&hq.access, "south").await;
    app.create_store(&hq.access, "S-N", north).await;
    app.create_store(&hq.access, "S-S", south).await;
    let id = app
        .create_user_directly("mia@test.example", Role::RegionalManager, vec![north])
        .await;
    let mia = app.login("mia@test.example").await;
    let codes = |body: &serde_json::Value| -> Vec<String> {
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|s| s["code"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    // Twice, so that the caller is surely remembered.
    for _ in 0..2 {
        let (s, body) = app.get("/api/v1/stores", &mia.access).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(codes(&body), ["S-N"]);
    }
    let (s, body) = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &hq.access,
            json!({"region_ids": [south]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (_, body) = app.get("/api/v1/stores", &mia.access).await;
    assert_eq!(codes(&body), ["S-S"], "the new regions apply at once");
    let (s, body) = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &hq.access,
            json!({"role": "hq"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (_, body) = app.get("/api/v1/stores", &mia.access).await;
    assert_eq!(codes(&body).len(), 2, "the new role applies at once");
}

#[tokio::test]
async fn logout_and_changes_on_one_server_reach_the_others() {
    let a = TestApp::spawn().await;
    let Some(b) = a.spawn_beside().await else {
        eprintln!("servers share a database only on PostgreSQL; skipped on SQLite");
        return;
    };
    let hq = a.hq().await;
    let other = a.hq().await;
    let region = a.create_region(&hq.access, "north").await;
    let id = a
        .create_user_directly("zoe@test.example", Role::Auditor, vec![region])
        .await;
    let zoe = a.login("zoe@test.example").await;
    for _ in 0..2 {
        assert_eq!(b.get("/api/v1/me", &hq.access).await.0, StatusCode::OK);
        assert_eq!(b.get("/api/v1/me", &zoe.access).await.0, StatusCode::OK);
    }

    let res = a
        .send(Method::POST, "/api/v1/auth/logout", Some(&hq.access), None)
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(
        within_seconds(|| async {
            b.get("/api/v1/me", &hq.access).await.0 == StatusCode::UNAUTHORIZED
        })
        .await,
        "the other server still accepts a signed-out session"
    );

    let (s, _) = a
        .patch(
            &format!("/api/v1/users/{id}"),
            &other.access,
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        within_seconds(|| async {
            b.get("/api/v1/me", &zoe.access).await.0 == StatusCode::UNAUTHORIZED
        })
        .await,
        "the other server still accepts a disabled user"
    );
    assert_eq!(b.get("/api/v1/me", &other.access).await.0, StatusCode::OK);
}
