//! The reference phone client against the real server, over a network that
//! drops connections at the worst moments.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use storecheck_shared::sync::GeoPoint;
use storecheck_tests::client::{LocalState, PhoneClient, Retry};
use storecheck_tests::flaky::FlakyProxy;
use uuid::Uuid;

use crate::helpers::*;

/// Push until nothing is queued; returns how many audits came back as
/// duplicates (sent again after a reply was lost).
async fn sync_until_done(phone: &PhoneClient) -> usize {
    let mut rounds = 0;
    let mut duplicates = 0;
    while phone.count(LocalState::Queued).await.expect("count") > 0 {
        rounds += 1;
        assert!(rounds <= 60, "the queue never drained");
        let report = phone.push().await.expect("push");
        assert_eq!((report.rejected, report.conflict), (0, 0), "{report:?}");
        duplicates += report.duplicate;
    }
    duplicates
}

#[tokio::test]
async fn fifty_audits_sync_exactly_once_over_a_flaky_network() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    for i in 0..4 {
        let store = app.create_store(&f.hq, &format!("F-{i}"), f.region).await;
        let (s, b) = app.assign(&f.hq, store, f.auditor, f.catalog.version).await;
        assert_eq!(s, reqwest::StatusCode::CREATED, "{b}");
    }
    let proxy = FlakyProxy::start(app.addr, 35, 20261123)
        .await
        .expect("proxy");
    let tmp = tempfile::tempdir().expect("tmp");
    let mut phone = PhoneClient::open(
        &tmp.path().join("phone.db"),
        &format!("http://{}", proxy.addr),
        "amy@test.example",
        PASSWORD,
    )
    .await
    .expect("phone");
    phone.retry = Retry {
        attempts: 40,
        first_backoff: Duration::from_millis(2),
        max_backoff: Duration::from_millis(50),
    };
    phone.batch = 2;

    // Online: download the work.
    phone.pull().await.expect("pull");
    let assignments = phone.assignments().await.expect("assignments");
    assert_eq!(assignments.len(), 5);

    // Offline: fifty audits.
    let mut made = Vec::new();
    for i in 0..50 {
        let a = &assignments[i % assignments.len()];
        let id = phone
            .start_audit(
                a,
                GeoPoint {
                    latitude: 31.2304,
                    longitude: 121.4737,
                    accuracy_m: Some(5.0),
                },
            )
            .await
            .expect("start");
        phone.answer_all_passing(id).await.expect("answer");
        phone.finish(id).await.expect("finish");
        made.push(id);
    }
    let mut duplicates = sync_until_done(&phone).await;
    assert_eq!(phone.count(LocalState::Synced).await.expect("count"), 50);

    // Ten of them edited and sent again as revision 2.
    let version = phone.version(f.catalog.version).await.expect("version");
    let first_item = version.sections[0].items[0].id;
    for id in &made[..10] {
        phone.edit(*id).await.expect("edit");
        phone
            .answer(*id, first_item, Some(json!(false)))
            .await
            .expect("answer");
        phone.finish(*id).await.expect("finish");
    }
    duplicates += sync_until_done(&phone).await;

    // The server holds exactly the phone's audits, each once, at the right revision.
    let (_, list) = app.get("/api/v1/audits?limit=500", &f.hq).await;
    let on_server: BTreeMap<Uuid, i64> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|a| (id_of(a), a["revision"].as_i64().expect("revision")))
        .collect();
    let expected: BTreeMap<Uuid, i64> = made
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, if i < 10 { 2 } else { 1 }))
        .collect();
    assert_eq!(on_server, expected);
    for (i, id) in made.iter().enumerate() {
        let (_, d) = app.get(&format!("/api/v1/audits/{id}"), &f.hq).await;
        let revs: Vec<i64> = d["revisions"]
            .as_array()
            .expect("revisions")
            .iter()
            .map(|r| r["revision"].as_i64().expect("n"))
            .collect();
        assert_eq!(revs, if i < 10 { vec![1, 2] } else { vec![1] }, "{id}");
        assert!(
            d["conflicts"].as_array().expect("conflicts").is_empty(),
            "a retried push is never a conflict"
        );
    }
    let s = &proxy.stats;
    assert!(s.cut_before_request.load(Ordering::Relaxed) > 0, "{s:?}");
    assert!(s.cut_mid_request.load(Ordering::Relaxed) > 0, "{s:?}");
    assert!(s.cut_after_reply.load(Ordering::Relaxed) > 0, "{s:?}");
    assert!(
        duplicates > 0,
        "some replies were lost after the server stored the audits"
    );
}

#[tokio::test]
async fn the_phone_follows_changes_and_recovers_from_a_lost_cursor() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let phone = PhoneClient::open(
        &tmp.path().join("phone.db"),
        &app.base,
        "amy@test.example",
        PASSWORD,
    )
    .await
    .expect("phone");
    phone.pull().await.expect("pull");
    assert_eq!(phone.assignments().await.expect("a").len(), 1);
    app.patch(
        &format!("/api/v1/assignments/{}", f.assignment),
        &f.hq,
        json!({"status": "cancelled"}),
    )
    .await;
    phone.pull().await.expect("pull");
    assert!(
        phone.assignments().await.expect("a").is_empty(),
        "a cancelled assignment leaves the phone"
    );
    // A database restored from an older backup under the running server:
    // cursors handed out before are ahead of it, which the server notices
    // within a second.
    let store = app.create_store(&f.hq, "N-9", f.region).await;
    app.assign(&f.hq, store, f.auditor, f.catalog.version).await;
    let (s, before) = app.get("/api/v1/sync/pull", &f.auditor_token).await;
    assert_eq!(s, StatusCode::OK, "{before}");
    let ahead = format!(
        "/api/v1/sync/pull?cursor={}",
        before["cursor"].as_str().expect("cursor")
    );
    for sql in [
        "DELETE FROM sync_changes",
        "UPDATE sync_counter SET value = 0",
    ] {
        sea_orm::ConnectionTrait::execute_unprepared(&app.state.db, sql)
            .await
            .expect("forget the change log");
    }
    assert!(
        within_seconds(|| async {
            app.get(&ahead, &f.auditor_token).await.0 == StatusCode::CONFLICT
        })
        .await,
        "the server never noticed that the change log went back"
    );
    phone.pull().await.expect("pull recovers by starting over");
    let got: Vec<Uuid> = phone
        .assignments()
        .await
        .expect("a")
        .iter()
        .map(|a| a.store_id)
        .collect();
    assert_eq!(got, vec![store]);
}

#[tokio::test]
async fn photos_reach_reviewers_through_a_flaky_network() {
    use storecheck_tests::images::{self, View};
    let app = TestApp::spawn().await;
    // The field: a store, an auditor and an assignment to photograph.
    app.field().await;
    let api = FlakyProxy::start(app.addr, 30, 20261203)
        .await
        .expect("proxy");
    let store_addr: std::net::SocketAddr = app
        .state
        .storage
        .endpoint()
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("address");
    let store_path = FlakyProxy::start(store_addr, 40, 7).await.expect("proxy");
    let tmp = tempfile::tempdir().expect("tmp");
    let mut phone = PhoneClient::open(
        &tmp.path().join("phone.db"),
        &format!("http://{}", api.addr),
        "amy@test.example",
        PASSWORD,
    )
    .await
    .expect("phone");
    phone.retry = Retry {
        attempts: 40,
        first_backoff: Duration::from_millis(2),
        max_backoff: Duration::from_millis(50),
    };
    phone.store_via = Some(store_path.addr);
    phone.pull().await.expect("pull");
    let assignment = phone.assignments().await.expect("assignments")[0].clone();
    let audit = phone
        .start_audit(
            &assignment,
            GeoPoint {
                latitude: 31.2304,
                longitude: 121.4737,
                accuracy_m: Some(5.0),
            },
        )
        .await
        .expect("start");
    phone.answer_all_passing(audit).await.expect("answer");
    let item = phone.audit(audit).await.expect("audit").0.answers[0].item_id;
    let mut files = Vec::new();
    for n in 0..6u64 {
        // Big enough that a cut in the middle of the body happens.
        let bytes = images::jpeg(&images::shelf(90 + n, 1024, 768, View::default()), 92, None);
        let id = phone
            .attach_photo(audit, item, bytes.clone(), "image/jpeg")
            .await
            .expect("photo");
        files.push((id, bytes));
    }
    phone.finish(audit).await.expect("finish");
    sync_until_done(&phone).await;
    let mut rounds = 0;
    while phone.photos_left().await.expect("left") > 0 {
        rounds += 1;
        assert!(rounds <= 60, "the photos never all arrived");
        phone.upload_photos().await.expect("upload round");
    }
    let cuts = store_path.stats.cut_before_request.load(Ordering::Relaxed)
        + store_path.stats.cut_mid_request.load(Ordering::Relaxed)
        + store_path.stats.cut_after_reply.load(Ordering::Relaxed);
    assert!(cuts > 0, "the store path broke some uploads");

    let hq = app.hq().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let detail = loop {
        let (s, detail) = app
            .get(&format!("/api/v1/audits/{audit}"), &hq.access)
            .await;
        assert_eq!(s, reqwest::StatusCode::OK, "{detail}");
        let ours: Vec<&serde_json::Value> = detail["photos"]
            .as_array()
            .expect("photos")
            .iter()
            .filter(|p| files.iter().any(|(id, _)| p["id"] == json!(id)))
            .collect();
        assert_eq!(ours.len(), files.len());
        if ours.iter().all(|p| p["state"] == "processed") {
            break detail;
        }
        assert!(std::time::Instant::now() < deadline, "{detail}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(detail["photo_progress"]["waiting"], json!([]), "{detail}");
    for (id, bytes) in &files {
        let p = detail["photos"]
            .as_array()
            .expect("photos")
            .iter()
            .find(|p| p["id"] == json!(id))
            .expect("photo");
        let original = app
            .client
            .get(p["urls"]["original"].as_str().expect("url"))
            .send()
            .await
            .expect("store")
            .bytes()
            .await
            .expect("body");
        assert_eq!(&original[..], &bytes[..], "the file arrived whole");
    }
}
