//! The reference phone client against the real server, over a network that
//! drops connections at the worst moments.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

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
    // A server restored from an older backup: the cursor is ahead of it.
    let store = app.create_store(&f.hq, "N-9", f.region).await;
    app.assign(&f.hq, store, f.auditor, f.catalog.version).await;
    for sql in [
        "DELETE FROM sync_changes",
        "UPDATE sync_counter SET value = 0",
    ] {
        sea_orm::ConnectionTrait::execute_unprepared(&app.state.db, sql)
            .await
            .expect("forget the change log");
    }
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
