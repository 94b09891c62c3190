//! Photo files from the phone to the store and on to reviewers (SPEC §7):
//! presigned uploads to the S3-compatible endpoint over HTTP, the
//! completion check, processing in the job queue, evidence flags, and the
//! reviewers' URLs.

use std::time::Duration;

use sea_orm::EntityTrait;

use reqwest::StatusCode;
use serde_json::{Value, json};
use storecheck_tests::images::{self, Exif, View};
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
    let files: Vec<Vec<u8>> = (0..2u64)
        .map(|n| images::jpeg(&images::shelf(n + 1, 640, 480, View::default()), 85, None))
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
    let detail = settled(&shot.app, shot.audit).await;
    let ours: Vec<&Value> = ours(&detail, &shot.photos);
    assert!(ours.iter().all(|p| p["state"] == "processed"), "{detail}");
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

/// Upload `bytes` with `ticket` and complete the photo; the completion's answer.
async fn deliver(app: &TestApp, token: &str, ticket: &Value, bytes: &[u8]) -> (StatusCode, Value) {
    let res = upload(app, ticket, bytes.to_vec()).await;
    assert!(res.status().is_success(), "{:?}", res.text().await);
    let photo = ticket["photo_id"].as_str().expect("photo_id");
    app.post(
        &format!("/api/v1/photos/{photo}/complete"),
        token,
        json!({}),
    )
    .await
}

/// The audit as HQ sees it once no received photo waits for processing.
async fn settled(app: &TestApp, audit: Uuid) -> Value {
    let hq = app.hq().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (s, detail) = app
            .get(&format!("/api/v1/audits/{audit}"), &hq.access)
            .await;
        assert_eq!(s, StatusCode::OK, "{detail}");
        let busy = detail["photos"]
            .as_array()
            .expect("photos")
            .iter()
            .any(|p| p["state"] == "uploaded");
        if !busy {
            return detail;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "photos still waiting for processing: {detail}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The photo views of `photos` in an audit detail, in their order.
fn ours<'a>(detail: &'a Value, photos: &[(Uuid, Vec<u8>)]) -> Vec<&'a Value> {
    photos
        .iter()
        .map(|(id, _)| {
            detail["photos"]
                .as_array()
                .expect("photos")
                .iter()
                .find(|p| p["id"] == json!(id))
                .unwrap_or_else(|| panic!("photo {id} missing: {detail}"))
        })
        .collect()
}

async fn fetch(app: &TestApp, url: &Value) -> Vec<u8> {
    let res = app
        .client
        .get(url.as_str().unwrap_or_else(|| panic!("a URL: {url}")))
        .send()
        .await
        .expect("store reachable");
    assert_eq!(res.status(), StatusCode::OK);
    res.bytes().await.expect("body").to_vec()
}

/// One more assignment for the field's auditor, at a new store of its region.
async fn another_assignment(app: &TestApp, f: &Field, code: &str) -> Uuid {
    let store = app.create_store(&f.hq, code, f.region).await;
    let (s, b) = app.assign(&f.hq, store, f.auditor, f.catalog.version).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    id_of(&b)
}

/// Push one audit for `assignment` listing `files` (bytes, content type);
/// the audit id and its photos.
async fn push_photos(
    app: &TestApp,
    f: &Field,
    assignment: Uuid,
    files: Vec<(Vec<u8>, &str)>,
) -> (Uuid, Vec<(Uuid, Vec<u8>)>, Value) {
    let id = Uuid::new_v4();
    let mut audit = full_audit(id, 1, assignment, &f.version, f.store_at);
    let photos: Vec<(Uuid, Vec<u8>)> = files
        .into_iter()
        .map(|(bytes, ty)| (add_photo_as(&mut audit, &bytes, ty), bytes))
        .collect();
    let (s, reply) = app.push(&f.auditor_token, vec![audit]).await;
    assert_eq!(s, StatusCode::OK, "{reply}");
    assert_eq!(reply["results"][0]["outcome"], "accepted", "{reply}");
    for (photo, bytes) in &photos {
        let (s, b) = deliver(app, &f.auditor_token, &ticket_for(&reply, *photo), bytes).await;
        assert_eq!(
            (s, b["state"].as_str()),
            (StatusCode::OK, Some("uploaded")),
            "{b}"
        );
    }
    (id, photos, reply)
}

fn decode(jpeg: &[u8]) -> image::RgbImage {
    image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .expect("a JPEG")
        .into_rgb8()
}

#[tokio::test]
async fn processed_photos_reach_reviewers_as_upright_derivatives_without_metadata() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let (_, cursor) = app.get("/api/v1/sync/pull", &f.auditor_token).await;
    let cursor = cursor["cursor"].as_str().expect("cursor").to_owned();
    let turned = Exif {
        orientation: Some(6),
        gps: Some(f.store_at),
        ..Exif::default()
    };
    let file = images::jpeg(
        &images::shelf(11, 1200, 900, View::default()),
        90,
        Some(&turned),
    );
    let (audit, photos, _) =
        push_photos(&app, &f, f.assignment, vec![(file.clone(), "image/jpeg")]).await;
    let detail = settled(&app, audit).await;
    let photo = ours(&detail, &photos)[0];
    assert_eq!(photo["state"], "processed", "{photo}");
    assert_eq!(
        photo["flags"],
        json!([]),
        "taken on site, during the visit: {photo}"
    );
    assert_eq!(
        (photo["width"].as_u64(), photo["height"].as_u64()),
        (Some(900), Some(1200))
    );
    let progress = &detail["photo_progress"];
    assert_eq!(progress["processed"], 1, "{progress}");
    assert!(
        !progress["waiting"]
            .as_array()
            .expect("waiting")
            .contains(&json!(photos[0].0)),
        "{progress}"
    );
    assert_eq!(
        progress["received"].as_u64().expect("received")
            + progress["waiting"].as_array().expect("waiting").len() as u64,
        progress["listed"].as_u64().expect("listed"),
        "{progress}"
    );

    let urls = &photo["urls"];
    let thumb = fetch(&app, &urls["thumbnail"]).await;
    let review = fetch(&app, &urls["review"]).await;
    assert_eq!(decode(&thumb).dimensions(), (240, 320), "upright, 320 px");
    assert_eq!(
        decode(&review).dimensions(),
        (900, 1200),
        "upright, not enlarged"
    );
    for d in [&thumb, &review] {
        assert!(!d.windows(4).any(|w| w == b"Exif"), "no EXIF, no GPS");
    }
    assert_eq!(
        fetch(&app, &urls["original"]).await,
        file,
        "the original as sent"
    );

    // The auditor sees the photo's state but gets no URLs.
    let (s, own) = app
        .get(&format!("/api/v1/audits/{audit}"), &f.auditor_token)
        .await;
    assert_eq!(s, StatusCode::OK, "{own}");
    assert!(
        own["photos"]
            .as_array()
            .expect("photos")
            .iter()
            .all(|p| p["urls"].is_null())
    );
    // A manager of another region gets nothing at all.
    let hq = app.hq().await;
    let south = app.create_region(&hq.access, "south").await;
    app.create_user_directly(
        "sam@test.example",
        storecheck_shared::Role::RegionalManager,
        vec![south],
    )
    .await;
    let sam = app.login("sam@test.example").await;
    let (s, b) = app
        .get(&format!("/api/v1/audits/{audit}"), &sam.access)
        .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");

    // The phone hears of its photo's progress on the next pull.
    let (s, pulled) = app
        .get(
            &format!("/api/v1/sync/pull?cursor={cursor}"),
            &f.auditor_token,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{pulled}");
    let state = pulled["audits"]
        .as_array()
        .expect("audits")
        .iter()
        .find(|a| a["id"] == json!(audit))
        .unwrap_or_else(|| panic!("the audit is in the pull: {pulled}"));
    assert_eq!(state["photos"], *progress, "{state}");
}

#[tokio::test]
async fn unusable_files_end_invalid_with_a_reason_and_the_audit_is_intact() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let good = images::jpeg(&images::shelf(5, 640, 480, View::default()), 85, None);
    let files = vec![
        (b"%PDF-1.4 a receipt, not a photo".to_vec(), "image/jpeg"),
        (good[..good.len() / 2].to_vec(), "image/jpeg"),
        (images::jpeg_bomb(), "image/jpeg"),
        (images::png_bomb(), "image/png"),
    ];
    let (audit, photos, reply) = push_photos(&app, &f, f.assignment, files).await;
    let total = reply["results"][0]["current"]["total"].clone();
    let detail = settled(&app, audit).await;
    for (p, why) in ours(&detail, &photos).into_iter().zip([
        "not a JPEG, PNG or WebP",
        "cannot be decoded",
        "larger than",
        "larger than",
    ]) {
        assert_eq!(p["state"], "invalid", "{p}");
        let reason = p["invalid_reason"].as_str().unwrap_or_default();
        assert!(reason.contains(why), "{reason}");
        assert!(
            p["urls"]["thumbnail"].is_null(),
            "no derivative of an invalid file"
        );
        assert!(p["urls"]["original"].is_string(), "the file itself is kept");
    }
    assert_eq!(detail["photo_progress"]["invalid"], 4);
    assert_eq!(detail["status"], "submitted");
    assert_eq!(detail["total"], total, "the score is untouched");
    assert_eq!(detail["revision"], 1);
}

#[tokio::test]
async fn a_reused_photo_is_flagged_in_both_audits_and_another_shot_of_the_shelf_is_not() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let shelf = images::shelf(21, 1600, 1200, View::default());
    let first = images::jpeg(&shelf, 90, None);
    let small = image::imageops::resize(&shelf, 800, 600, image::imageops::FilterType::Triangle);
    let copy = images::jpeg(&small, 60, None);
    let step_aside = View {
        left: 0.15,
        top: 0.05,
        width: 0.8,
        brightness: 0.9,
        grain: 0.0,
    };
    let other_shot = images::jpeg(&images::shelf(21, 1600, 1200, step_aside), 90, None);

    let (a, a_photos, _) =
        push_photos(&app, &f, f.assignment, vec![(first.clone(), "image/jpeg")]).await;
    settled(&app, a).await;
    let b_assignment = another_assignment(&app, &f, "N-2").await;
    let (b, b_photos, _) = push_photos(
        &app,
        &f,
        b_assignment,
        vec![(copy, "image/jpeg"), (first, "image/jpeg")],
    )
    .await;
    let c_assignment = another_assignment(&app, &f, "N-3").await;
    let (c, c_photos, _) =
        push_photos(&app, &f, c_assignment, vec![(other_shot, "image/jpeg")]).await;

    let b_detail = settled(&app, b).await;
    let c_detail = settled(&app, c).await;
    let a_detail = settled(&app, a).await;
    let resized = ours(&b_detail, &b_photos)[0];
    assert_eq!(resized["flags"], json!(["photo_reused"]), "{resized}");
    assert_eq!(resized["matches"][0]["audit_id"], json!(a));
    assert_eq!(resized["matches"][0]["photo_id"], json!(a_photos[0].0));
    assert_eq!(resized["matches"][0]["same_file"], false);
    let resent = ours(&b_detail, &b_photos)[1];
    let flags = resent["flags"].as_array().expect("flags");
    assert!(
        flags.contains(&json!("photo_file_in_other_audit")),
        "{resent}"
    );
    // The first audit's reviewer sees both reuses too.
    let original = ours(&a_detail, &a_photos)[0];
    let matched: Vec<&Value> = original["matches"]
        .as_array()
        .expect("matches")
        .iter()
        .map(|m| &m["photo_id"])
        .collect();
    assert!(matched.contains(&&json!(b_photos[0].0)), "{original}");
    assert!(matched.contains(&&json!(b_photos[1].0)), "{original}");
    // Another shot of the same shelf is a picture of its own.
    let shot = ours(&c_detail, &c_photos)[0];
    assert_eq!(shot["state"], "processed");
    assert_eq!(shot["flags"], json!([]), "{shot}");
    assert_eq!(shot["matches"], json!([]), "{shot}");
}

#[tokio::test]
async fn photos_taken_at_another_time_or_place_are_flagged() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let earlier = chrono::Utc::now() - chrono::Duration::hours(5);
    let shanghai = chrono::FixedOffset::east_opt(8 * 3600).expect("offset");
    let old = Exif {
        taken: Some(
            earlier
                .with_timezone(&shanghai)
                .format("%Y:%m:%d %H:%M:%S")
                .to_string(),
        ),
        offset: Some("+08:00".into()),
        gps: Some(f.store_at),
        ..Exif::default()
    };
    let away = Exif {
        // About 5 km north of the store.
        gps: Some((f.store_at.0 + 0.045, f.store_at.1)),
        ..Exif::default()
    };
    let now_here = Exif {
        taken: Some(
            chrono::Utc::now()
                .with_timezone(&shanghai)
                .format("%Y:%m:%d %H:%M:%S")
                .to_string(),
        ),
        gps: Some(f.store_at),
        ..Exif::default()
    };
    let files = [(31, old), (32, away), (33, now_here)]
        .into_iter()
        .map(|(seed, e)| {
            (
                images::jpeg(
                    &images::shelf(seed, 400, 300, View::default()),
                    85,
                    Some(&e),
                ),
                "image/jpeg",
            )
        })
        .collect();
    let (audit, photos, _) = push_photos(&app, &f, f.assignment, files).await;
    let detail = settled(&app, audit).await;
    let got: Vec<&Value> = ours(&detail, &photos).iter().map(|p| &p["flags"]).collect();
    assert_eq!(
        got,
        [
            &json!(["photo_taken_outside_visit"]),
            &json!(["photo_off_site"]),
            &json!([])
        ],
        "{detail}"
    );
    let taken: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(ours(&detail, &photos)[0]["exif_taken_at"].clone())
            .expect("exif time");
    assert!(
        (taken - earlier).num_seconds().abs() <= 1,
        "{taken} vs {earlier}"
    );
}

#[tokio::test]
async fn a_completion_that_never_arrives_is_made_up_for_by_the_sweep() {
    let app = TestApp::spawn_with(|cfg| {
        cfg.storage.upload_url_ttl = 1;
        cfg.photo_sweep_interval = 1;
    })
    .await;
    let f = app.field().await;
    let file = images::jpeg(&images::shelf(41, 320, 240, View::default()), 85, None);
    let mut audit = full_audit(Uuid::new_v4(), 1, f.assignment, &f.version, f.store_at);
    let photo = add_photo(&mut audit, &file);
    let id: Uuid = serde_json::from_value(audit["id"].clone()).expect("id");
    let (_, reply) = app.push(&f.auditor_token, vec![audit]).await;
    let res = upload(&app, &ticket_for(&reply, photo), file.clone()).await;
    assert!(res.status().is_success());
    // No completion: the phone lost its network right after the upload.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let detail = settled(&app, id).await;
        let p = ours(&detail, &[(photo, file.clone())])[0].clone();
        if p["state"] == "processed" {
            break;
        }
        assert_eq!(p["state"], "pending_upload", "{p}");
        assert!(
            std::time::Instant::now() < deadline,
            "the sweep never found the upload"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A server whose photo store is `upstream`'s embedded one, reached through
/// a gate the test can shut; it runs no job worker of its own.
async fn behind_a_gate(upstream: &TestApp) -> (TestApp, storecheck_tests::flaky::Gate) {
    let store = upstream.state.storage.endpoint().clone();
    let addr: std::net::SocketAddr = store
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("a loopback address");
    let gate = storecheck_tests::flaky::Gate::start(addr)
        .await
        .expect("gate");
    let url = format!("http://{}", gate.addr);
    let app = TestApp::spawn_with(move |cfg| {
        cfg.storage.s3_endpoint = Some(url);
        cfg.storage.s3_region = store.region;
        cfg.storage.s3_access_key_id = Some(store.access_key_id);
        cfg.storage.s3_secret_access_key = Some(store.secret_access_key);
        cfg.photo_workers = 0;
    })
    .await;
    (app, gate)
}

fn start_worker(
    app: &TestApp,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut settings = app.state.config.worker_settings();
    settings.concurrency = 2;
    settings.poll = Duration::from_millis(20);
    let task = tokio::spawn(storecheck_server::jobs::run(
        app.state.db.clone(),
        settings,
        storecheck_server::photos::work::handler(app.state.clone()),
        app.state.metrics.clone(),
        app.state.jobs.clone(),
        stopped,
    ));
    (stop, task)
}

fn jobs_done(app: &TestApp) -> u64 {
    let text = app.state.metrics.render(None);
    text.lines()
        .find_map(|l| {
            l.strip_prefix(
                "storecheck_job_duration_seconds_count{kind=\"photo.process\",outcome=\"done\"} ",
            )
        })
        .map_or(0, |n| n.parse().expect("a count"))
}

#[tokio::test]
async fn a_store_that_goes_down_costs_retries_never_photos() {
    let upstream = TestApp::spawn().await;
    let (app, gate) = behind_a_gate(&upstream).await;
    let f = app.field().await;
    let files: Vec<Vec<u8>> = (0..3u64)
        .map(|n| images::jpeg(&images::shelf(50 + n, 480, 360, View::default()), 85, None))
        .collect();
    let mut audit = full_audit(Uuid::new_v4(), 1, f.assignment, &f.version, f.store_at);
    let photos: Vec<(Uuid, Vec<u8>)> = files
        .into_iter()
        .map(|b| (add_photo(&mut audit, &b), b))
        .collect();
    let id: Uuid = serde_json::from_value(audit["id"].clone()).expect("id");

    // Down during the push: the audit is stored and the upload URLs given
    // (signing needs no store); readiness says the store is gone.
    gate.shut();
    let (s, reply) = app.push(&f.auditor_token, vec![audit]).await;
    assert_eq!(s, StatusCode::OK, "{reply}");
    assert_eq!(reply["results"][0]["outcome"], "accepted");
    let res = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("answer");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Down during the upload: the phone's PUT fails and is tried again.
    let ticket = ticket_for(&reply, photos[0].0);
    let put = app
        .client
        .put(ticket["url"].as_str().expect("url"))
        .body(photos[0].1.clone())
        .send()
        .await;
    assert!(put.is_err() || !put.is_ok_and(|r| r.status().is_success()));

    gate.open();
    for (photo, bytes) in &photos {
        let res = upload(&app, &ticket_for(&reply, *photo), bytes.clone()).await;
        assert!(res.status().is_success(), "{:?}", res.text().await);
    }
    // Down during the completion: a retryable answer, nothing recorded.
    gate.shut();
    let path = format!("/api/v1/photos/{}/complete", photos[0].0);
    let res = app
        .send(
            reqwest::Method::POST,
            &path,
            Some(&f.auditor_token),
            Some(&json!({})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key("retry-after"));
    let (s, b) = into_json(res).await;
    assert_error(s, &b, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    gate.open();
    for (photo, _) in &photos {
        let (s, b) = app
            .post(
                &format!("/api/v1/photos/{photo}/complete"),
                &f.auditor_token,
                json!({}),
            )
            .await;
        assert_eq!(
            (s, b["state"].as_str()),
            (StatusCode::OK, Some("uploaded")),
            "{b}"
        );
    }

    // Down while processing: the jobs wait and are tried again.
    gate.shut();
    let (stop, worker) = start_worker(&app);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let jobs = storecheck_server::entities::jobs::Entity::find()
            .all(&app.state.db)
            .await
            .expect("jobs");
        if jobs.len() == photos.len() && jobs.iter().all(|j| j.last_error.is_some()) {
            assert!(
                jobs.iter().all(|j| j.failures == 0),
                "waiting is not failing"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the jobs never tried");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gate.open();
    let detail = settled(&app, id).await;
    assert!(
        ours(&detail, &photos)
            .iter()
            .all(|p| p["state"] == "processed"),
        "{detail}"
    );
    assert_eq!(jobs_done(&app), photos.len() as u64, "each processed once");
    stop.send_replace(true);
    worker.await.expect("worker stops");
}

#[tokio::test]
async fn two_servers_on_one_database_share_the_processing() {
    let first = TestApp::spawn_with(|cfg| cfg.photo_workers = 0).await;
    let store = first.state.storage.endpoint().clone();
    let Some(second) = first
        .spawn_beside_with(move |cfg| {
            cfg.storage.s3_endpoint = Some(store.url);
            cfg.storage.s3_region = store.region;
            cfg.storage.s3_access_key_id = Some(store.access_key_id);
            cfg.storage.s3_secret_access_key = Some(store.secret_access_key);
            cfg.photo_workers = 0;
        })
        .await
    else {
        eprintln!("SQLite: one server process owns the database; nothing to share");
        return;
    };
    let f = first.field().await;
    let files: Vec<(Vec<u8>, &str)> = (0..10u64)
        .map(|n| {
            (
                images::jpeg(&images::shelf(70 + n, 320, 240, View::default()), 80, None),
                "image/jpeg",
            )
        })
        .collect();
    let (audit, photos, _) = push_photos(&first, &f, f.assignment, files).await;
    // Both servers' workers start on a full queue at the same moment.
    let workers = [start_worker(&first), start_worker(&second)];
    let detail = settled(&first, audit).await;
    assert!(
        ours(&detail, &photos)
            .iter()
            .all(|p| p["state"] == "processed"),
        "{detail}"
    );
    let (a, b) = (jobs_done(&first), jobs_done(&second));
    assert_eq!(a + b, photos.len() as u64, "every job run once: {a} + {b}");
    for (stop, task) in workers {
        stop.send_replace(true);
        task.await.expect("worker stops");
    }
}

#[tokio::test]
async fn queued_processing_survives_a_restart() {
    // A server that queues processing but stops before running it.
    let app = TestApp::spawn_with(|cfg| cfg.photo_workers = 0).await;
    let f = app.field().await;
    let files = (0..3u64)
        .map(|n| {
            (
                images::jpeg(&images::shelf(60 + n, 320, 240, View::default()), 85, None),
                "image/jpeg",
            )
        })
        .collect();
    let (audit, photos, _) = push_photos(&app, &f, f.assignment, files).await;
    let queued = storecheck_server::entities::jobs::Entity::find()
        .all(&app.state.db)
        .await
        .expect("jobs");
    assert_eq!(queued.len(), photos.len(), "one job per received photo");
    // Started again with workers, on the same data folder and database.
    let app = app.restart(|cfg| cfg.photo_workers = 2).await;
    let detail = settled(&app, audit).await;
    assert!(
        ours(&detail, &photos)
            .iter()
            .all(|p| p["state"] == "processed"),
        "{detail}"
    );
    let left = storecheck_server::entities::jobs::Entity::find()
        .all(&app.state.db)
        .await
        .expect("jobs");
    assert!(left.is_empty(), "finished jobs leave the table: {left:?}");
}

#[tokio::test]
async fn nearly_flat_pictures_are_not_taken_for_one_another() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    // Two dark shots of nothing in particular, of different sizes and shades.
    let dark = |w, h, v| {
        images::jpeg(
            &image::RgbImage::from_pixel(w, h, image::Rgb([v, v, v])),
            85,
            None,
        )
    };
    let (a, a_photos, _) = push_photos(
        &app,
        &f,
        f.assignment,
        vec![(dark(400, 300, 12), "image/jpeg")],
    )
    .await;
    settled(&app, a).await;
    let other = another_assignment(&app, &f, "N-9").await;
    let (b, b_photos, _) =
        push_photos(&app, &f, other, vec![(dark(640, 480, 30), "image/jpeg")]).await;
    let b_detail = settled(&app, b).await;
    let a_detail = settled(&app, a).await;
    for p in ours(&a_detail, &a_photos)
        .into_iter()
        .chain(ours(&b_detail, &b_photos))
    {
        assert_eq!(p["state"], "processed", "{p}");
        assert_eq!(p["flags"], json!([]), "{p}");
    }
}
