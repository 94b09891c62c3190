//! Photo files from the phone to the store (SPEC §7): presigned uploads to
//! the S3-compatible endpoint over HTTP, and the completion check.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

/// Send the upload a push reply or upload-url gave, with `body`. A body of
/// another length goes with its own `Content-Length`, as a phone's HTTP
/// stack would send it.
async fn upload(app: &TestApp, ticket: &Value, body: Vec<u8>) -> reqwest::Response {
    assert_eq!(ticket["method"], "PUT", "{ticket}");
    let length = body.len().to_string();
    let mut req = app
        .client
        .put(ticket["url"].as_str().expect("url"))
        .body(body);
    for (name, value) in ticket["headers"].as_object().expect("headers") {
        let value = value.as_str().expect("header value");
        if name == "content-length" && value != length {
            continue;
        }
        req = req.header(name, value);
    }
    req.send().await.expect("store reachable")
}

struct Shot {
    app: TestApp,
    token: String,
    audit: Uuid,
    photos: Vec<(Uuid, Vec<u8>)>,
    reply: Value,
}

/// An auditor pushes one audit listing two photos.
async fn pushed_with_photos() -> Shot {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let mut audit = full_audit(Uuid::new_v4(), 1, f.assignment, &f.version, f.store_at);
    let files: Vec<Vec<u8>> = (0..2u8)
        .map(|n| {
            (0..4096u32)
                .map(|i| (i as u8) ^ n.wrapping_mul(37))
                .collect()
        })
        .collect();
    let photos = files
        .into_iter()
        .map(|bytes| (add_photo(&mut audit, &bytes), bytes))
        .collect();
    let id: Uuid = serde_json::from_value(audit["id"].clone()).expect("id");
    let (s, reply) = app.push(&f.auditor_token, vec![audit]).await;
    assert_eq!(s, StatusCode::OK, "{reply}");
    assert_eq!(reply["results"][0]["outcome"], "accepted", "{reply}");
    Shot {
        token: f.auditor_token.clone(),
        app,
        audit: id,
        photos,
        reply,
    }
}

fn ticket_for(reply: &Value, photo: Uuid) -> Value {
    reply["results"][0]["uploads"]
        .as_array()
        .expect("uploads")
        .iter()
        .find(|u| u["photo_id"] == json!(photo))
        .cloned()
        .unwrap_or_else(|| panic!("no upload for {photo}: {reply}"))
}

async fn photo_states(shot: &Shot) -> Vec<(String, String)> {
    let hq = shot.app.hq().await;
    let (s, detail) = shot
        .app
        .get(&format!("/api/v1/audits/{}", shot.audit), &hq.access)
        .await;
    assert_eq!(s, StatusCode::OK, "{detail}");
    let mut states: Vec<(String, String)> = detail["photos"]
        .as_array()
        .expect("photos")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().expect("id").to_owned(),
                p["state"].as_str().expect("state").to_owned(),
            )
        })
        .collect();
    states.sort();
    states
}

#[tokio::test]
async fn photos_go_up_through_presigned_urls_and_are_verified() {
    let shot = pushed_with_photos().await;
    let uploads = shot.reply["results"][0]["uploads"]
        .as_array()
        .expect("uploads");
    assert_eq!(uploads.len(), 2, "one upload per photo: {}", shot.reply);
    for (photo, bytes) in &shot.photos {
        let ticket = ticket_for(&shot.reply, *photo);
        let headers = ticket["headers"].as_object().expect("headers");
        assert_eq!(headers["content-type"], "image/jpeg");
        assert_eq!(headers["content-length"], bytes.len().to_string());
        assert!(headers.contains_key("x-amz-checksum-sha256"), "{ticket}");
        let res = upload(&shot.app, &ticket, bytes.clone()).await;
        assert!(res.status().is_success(), "{:?}", res.text().await);
        let (s, b) = shot
            .app
            .post(
                &format!("/api/v1/photos/{photo}/complete"),
                &shot.token,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["state"], "uploaded", "{b}");
        assert_eq!(b["audit_id"], json!(shot.audit));
        // Asked again, it answers the same.
        let (s, again) = shot
            .app
            .post(
                &format!("/api/v1/photos/{photo}/complete"),
                &shot.token,
                json!({}),
            )
            .await;
        assert_eq!((s, &again), (StatusCode::OK, &b));
    }
    let states = photo_states(&shot).await;
    assert!(states.iter().all(|(_, s)| s == "uploaded"), "{states:?}");
}

#[tokio::test]
async fn the_store_refuses_other_bytes_and_complete_finds_nothing_then() {
    let shot = pushed_with_photos().await;
    let (photo, bytes) = &shot.photos[0];
    let ticket = ticket_for(&shot.reply, *photo);

    // Before any upload, completion says the file has not arrived.
    let (s, b) = shot
        .app
        .post(
            &format!("/api/v1/photos/{photo}/complete"),
            &shot.token,
            json!({}),
        )
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "upload_missing");

    // Same length, other bytes: the signed checksum refuses them.
    let mut forged = bytes.clone();
    forged[0] ^= 0xff;
    let res = upload(&shot.app, &ticket, forged).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    // Another length: the signed length refuses it.
    let res = upload(&shot.app, &ticket, bytes[..bytes.len() - 1].to_vec()).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    // The other photo's bytes through this photo's URL.
    let res = upload(&shot.app, &ticket, shot.photos[1].1.clone()).await;
    assert!(res.status().is_client_error(), "{}", res.status());

    let (s, b) = shot
        .app
        .post(
            &format!("/api/v1/photos/{photo}/complete"),
            &shot.token,
            json!({}),
        )
        .await;
    assert!(
        s == StatusCode::CONFLICT
            && ["upload_missing", "upload_mismatch"]
                .contains(&b["error"]["code"].as_str().unwrap_or("")),
        "{s} {b}"
    );
    assert!(
        photo_states(&shot)
            .await
            .iter()
            .all(|(_, s)| s == "pending_upload"),
        "nothing refused counts as received"
    );

    // A fresh URL, the right bytes: received.
    let (s, fresh) = shot
        .app
        .post(
            &format!("/api/v1/photos/{photo}/upload-url"),
            &shot.token,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{fresh}");
    assert_eq!(fresh["photo_id"], json!(photo));
    let res = upload(&shot.app, &fresh, bytes.clone()).await;
    assert!(res.status().is_success(), "{:?}", res.text().await);
    let (s, b) = shot
        .app
        .post(
            &format!("/api/v1/photos/{photo}/complete"),
            &shot.token,
            json!({}),
        )
        .await;
    assert_eq!(
        (s, b["state"].as_str()),
        (StatusCode::OK, Some("uploaded")),
        "{b}"
    );
    let (s, b) = shot
        .app
        .post(
            &format!("/api/v1/photos/{photo}/upload-url"),
            &shot.token,
            json!({}),
        )
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "photo_already_received");
}

#[tokio::test]
async fn nobody_else_gets_an_auditors_photo() {
    let shot = pushed_with_photos().await;
    let (photo, _) = &shot.photos[0];
    let hq = shot.app.hq().await;
    let region = shot.app.create_region(&hq.access, "elsewhere").await;
    shot.app
        .create_user_directly(
            "other-auditor@test.example",
            storecheck_shared::Role::Auditor,
            vec![region],
        )
        .await;
    let other = shot.app.login("other-auditor@test.example").await;
    for path in [
        format!("/api/v1/photos/{photo}/upload-url"),
        format!("/api/v1/photos/{photo}/complete"),
        format!("/api/v1/photos/{}/complete", Uuid::new_v4()),
    ] {
        let (s, b) = shot.app.post(&path, &other.access, json!({})).await;
        assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    }
    let (s, b) = shot
        .app
        .post(
            &format!("/api/v1/photos/{photo}/upload-url"),
            &hq.access,
            json!({}),
        )
        .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn readiness_reports_an_unreachable_photo_store() {
    let app = TestApp::spawn_with(|cfg| {
        cfg.storage.s3_endpoint = Some("http://127.0.0.1:9".into());
        cfg.storage.s3_access_key_id = Some("k".into());
        cfg.storage.s3_secret_access_key = Some(storecheck_server::config::Secret("s".into()));
    })
    .await;
    let res = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("answer");
    let (s, b) = into_json(res).await;
    assert_error(s, &b, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    let ok = TestApp::spawn().await;
    let res = ok
        .client
        .get(ok.url("/readyz"))
        .send()
        .await
        .expect("answer");
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_expired_upload_url_is_refused() {
    let app = TestApp::spawn_with(|cfg| cfg.storage.upload_url_ttl = 1).await;
    let f = app.field().await;
    let mut audit = full_audit(Uuid::new_v4(), 1, f.assignment, &f.version, f.store_at);
    let bytes = vec![7u8; 2048];
    let photo = add_photo(&mut audit, &bytes);
    let (_, reply) = app.push(&f.auditor_token, vec![audit]).await;
    let ticket = ticket_for(&reply, photo);
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(ticket["expires_at"].clone()).expect("expires_at");
    // The store counts whole seconds: wait until the URL has surely lapsed.
    let lapsed = expires + chrono::Duration::seconds(1);
    while chrono::Utc::now() < lapsed {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let res = upload(&app, &ticket, bytes.clone()).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    let (s, b) = app
        .post(
            &format!("/api/v1/photos/{photo}/complete"),
            &f.auditor_token,
            json!({}),
        )
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "upload_missing");
}
