//! Offline sync: push outcomes of SPEC §6, races, version pinning, evidence
//! flags, clock skew, bad input, and delta pull.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use storecheck_server::entities::audits;
use storecheck_shared::Role;
use uuid::Uuid;

use crate::helpers::*;

fn outcome(reply: &Value, i: usize) -> &str {
    reply["results"][i]["outcome"].as_str().expect("outcome")
}

#[tokio::test]
async fn accepted_then_duplicate_then_new_revision() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let id = Uuid::new_v4();
    let audit = full_audit(id, 1, f.assignment, &f.version, f.store_at);
    let (s, reply) = app.push(&f.auditor_token, vec![audit.clone()]).await;
    assert_eq!(s, StatusCode::OK, "{reply}");
    assert_eq!(outcome(&reply, 0), "accepted", "{reply}");
    assert_eq!(reply["results"][0]["current"]["total"], 10000);
    assert_eq!(reply["results"][0]["current"]["status"], "submitted");

    let (_, reply) = app.push(&f.auditor_token, vec![audit.clone()]).await;
    assert_eq!(outcome(&reply, 0), "duplicate", "{reply}");

    let (s, detail) = app.get(&format!("/api/v1/audits/{id}"), &f.hq).await;
    assert_eq!(s, StatusCode::OK, "{detail}");
    assert_eq!(
        detail["revisions"].as_array().map(Vec::len),
        Some(1),
        "a duplicate changes nothing"
    );
    assert_eq!(detail["score"]["total"], 10000);
    assert_eq!(detail["score"]["sections"][0]["code"], "arrival");
    assert_eq!(detail["answers"].as_array().map(Vec::len), Some(3));
    // Every answer reads back as sent.
    for (sent, stored) in audit["answers"]
        .as_array()
        .expect("sent")
        .iter()
        .zip(detail["answers"].as_array().expect("stored"))
    {
        assert_eq!(stored["item_id"], sent["item_id"], "{detail}");
        assert_eq!(stored["value"], sent["value"], "{detail}");
        assert_eq!(stored["note"], sent["note"], "{detail}");
        assert_eq!(stored["na"], false, "{detail}");
        let at = |v: &Value| {
            v.as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp_millis())
        };
        assert_eq!(
            at(&stored["answered_at"]),
            at(&sent["answered_at"]),
            "{detail}"
        );
    }
    assert_eq!(detail["flags"], json!([]), "{detail}");
    assert!(
        detail["score"]["checkin_distance_m"]
            .as_f64()
            .expect("distance")
            < 1.0
    );

    // Revision 2 fails the basic item: critical, and kept beside revision 1.
    let mut rev2 = full_audit(id, 2, f.assignment, &f.version, f.store_at);
    rev2["answers"][0]["value"] = json!(false);
    let (_, reply) = app.push(&f.auditor_token, vec![rev2]).await;
    assert_eq!(outcome(&reply, 0), "accepted", "{reply}");
    let (_, detail) = app.get(&format!("/api/v1/audits/{id}"), &f.hq).await;
    assert_eq!(detail["revision"], 2);
    assert_eq!(detail["critical_failure"], true);
    assert_eq!(detail["revisions"].as_array().map(Vec::len), Some(2));
    assert_eq!(detail["answers"][0]["failed"], true);
    assert_eq!(app.count("/api/v1/audits", &f.auditor_token).await, 1);
    let q = this_quarter();
    assert_eq!(
        app.count(
            &format!(
                "/api/v1/audits?quarter={q}&status=submitted&store_id={}",
                f.store
            ),
            &f.hq
        )
        .await,
        1
    );
    assert_eq!(
        app.count(&format!("/api/v1/audits?quarter={}", q.previous()), &f.hq)
            .await,
        0
    );
    assert_eq!(app.count("/api/v1/audits?status=approved", &f.hq).await, 0);
    assert_eq!(
        app.count(
            &format!(
                "/api/v1/audits?region_id={}&auditor_id={}",
                f.region, f.auditor
            ),
            &f.hq
        )
        .await,
        1
    );
    let (s, b) = app.get("/api/v1/audits?quarter=2026Q4", &f.hq).await;
    assert_eq!(
        fields(&assert_error(
            s,
            &b,
            StatusCode::BAD_REQUEST,
            "invalid_query"
        )),
        ["quarter"]
    );
}

async fn set_status(app: &TestApp, id: Uuid, status: &str) {
    audits::Entity::update_many()
        .col_expr(
            audits::Column::Status,
            sea_orm::sea_query::Expr::value(status),
        )
        .filter(audits::Column::Id.eq(id))
        .exec(&app.state.db)
        .await
        .expect("status set");
}

#[tokio::test]
async fn anything_for_a_closed_audit_is_a_conflict_and_kept() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let id = Uuid::new_v4();
    app.push(
        &f.auditor_token,
        vec![full_audit(id, 1, f.assignment, &f.version, f.store_at)],
    )
    .await;
    // Same revision, other content: a conflict, kept.
    let mut changed = full_audit(id, 1, f.assignment, &f.version, f.store_at);
    changed["answers"][1]["note"] = json!("edited after sending");
    let (_, reply) = app.push(&f.auditor_token, vec![changed]).await;
    assert_eq!(outcome(&reply, 0), "conflict", "{reply}");

    for status in ["approved", "rejected"] {
        set_status(&app, id, status).await;
        let mut late = full_audit(id, 5, f.assignment, &f.version, f.store_at);
        late["answers"][0]["note"] = json!(format!("sent after the audit was {status}"));
        let (_, reply) = app.push(&f.auditor_token, vec![late]).await;
        assert_eq!(outcome(&reply, 0), "conflict", "{reply}");
        assert_eq!(reply["results"][0]["current"]["status"], status);
    }
    let (_, detail) = app.get(&format!("/api/v1/audits/{id}"), &f.hq).await;
    assert_eq!(detail["revision"], 1, "nothing applied");
    let conflicts = detail["conflicts"].as_array().expect("conflicts");
    let reasons: Vec<&str> = conflicts
        .iter()
        .map(|c| c["reason"].as_str().expect("reason"))
        .collect();
    assert_eq!(reasons, ["revision_reused", "audit_closed", "audit_closed"]);
    assert_eq!(
        conflicts[2]["payload"]["answers"][0]["note"], "sent after the audit was rejected",
        "the payload is kept whole"
    );
}

#[tokio::test]
async fn one_bad_audit_does_not_block_the_others_and_leaves_nothing() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let good = Uuid::new_v4();
    let bad = Uuid::new_v4();
    let mut broken = full_audit(bad, 1, f.assignment, &f.version, f.store_at);
    broken["answers"][1]["value"] = json!(9);
    let (_, reply) = app
        .push(
            &f.auditor_token,
            vec![
                broken,
                full_audit(good, 1, f.assignment, &f.version, f.store_at),
            ],
        )
        .await;
    assert_eq!(outcome(&reply, 0), "rejected");
    assert_eq!(
        reply["results"][0]["errors"][0]["field"],
        "answers[1].value"
    );
    assert_eq!(outcome(&reply, 1), "accepted");
    let (s, _) = app.get(&format!("/api/v1/audits/{bad}"), &f.hq).await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "nothing of the rejected audit is stored"
    );
}

/// Each case: what to break, and the fields the rejection must name.
#[tokio::test]
async fn bad_audits_are_rejected_with_item_and_field_errors() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let base = || full_audit(Uuid::new_v4(), 1, f.assignment, &f.version, f.store_at);
    let item0 = f.version["sections"][0]["items"][0]["id"].clone();
    let mut cases: Vec<(&str, Value, Vec<String>)> = Vec::new();
    let mut a = base();
    a["answers"][0]["item_id"] = json!(Uuid::new_v4());
    cases.push((
        "unknown item",
        a,
        vec!["answers[0].item_id".into(), "items.GREET".into()],
    ));
    let mut a = base();
    a["answers"][0]["value"] = json!("yes");
    cases.push(("wrong kind", a, vec!["answers[0].value".into()]));
    let mut a = base();
    a["answers"][2]["value"] = json!(-1);
    cases.push(("count out of range", a, vec!["answers[2].value".into()]));
    let mut a = base();
    a["answers"].as_array_mut().expect("answers").remove(1);
    cases.push(("missing answer", a, vec!["items.SMILE".into()]));
    let mut a = base();
    a["answers"][2] = json!({"item_id": f.version["sections"][1]["items"][0]["id"], "na": true});
    cases.push(("N/A on a count item", a, vec!["answers[2].value".into()]));
    let mut a = base();
    a["answers"][0] = json!({"item_id": item0, "na": true, "value": true});
    cases.push(("N/A and a value", a, vec!["answers[0].value".into()]));
    let mut a = base();
    let photos: Vec<Value> = (0..201)
        .map(|_| json!({"id": Uuid::new_v4(), "item_id": item0, "sha256": "ab".repeat(32), "bytes": 10, "content_type": "image/jpeg"}))
        .collect();
    a["photos"] = json!(photos);
    cases.push((
        "too many photos",
        a,
        vec!["photos".into(), "answers[0].photo_ids".into()],
    ));
    let mut a = base();
    a["photos"] = json!([{"id": Uuid::new_v4(), "item_id": item0, "sha256": "xyz", "bytes": 0, "content_type": "text/plain"}]);
    cases.push((
        "bad photo manifest",
        a,
        vec![
            "photos[0].sha256".into(),
            "photos[0].bytes".into(),
            "photos[0].content_type".into(),
        ],
    ));
    let mut a = base();
    a["revision"] = json!(0);
    a["finished_at"] = json!("2020-01-01T00:00:00Z");
    cases.push((
        "revision 0 and ending before starting",
        a,
        vec!["revision".into(), "finished_at".into()],
    ));
    let mut a = base();
    a["revision"] = json!(9_000_000_000i64);
    a["started_at"] = json!("0001-01-01T00:00:00Z");
    a["answers"][0]["answered_at"] = json!("9999-12-31T23:59:59Z");
    cases.push((
        "implausible revision and times",
        a,
        vec![
            "revision".into(),
            "started_at".into(),
            "answers[0].answered_at".into(),
        ],
    ));
    let mut a = base();
    a["assignment_id"] = json!(Uuid::new_v4());
    cases.push(("unknown assignment", a, vec!["assignment_id".into()]));
    let mut a = base();
    a["checklist_version_id"] = json!(Uuid::new_v4());
    cases.push(("unknown version", a, vec!["checklist_version_id".into()]));

    let audits: Vec<Value> = cases.iter().map(|c| c.1.clone()).collect();
    let (s, reply) = app.push(&f.auditor_token, audits).await;
    assert_eq!(s, StatusCode::OK, "{reply}");
    for (i, (what, _, fields)) in cases.iter().enumerate() {
        assert_eq!(
            outcome(&reply, i),
            "rejected",
            "{what}: {}",
            reply["results"][i]
        );
        let got: Vec<String> = reply["results"][i]["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| e["field"].as_str().expect("field").to_owned())
            .collect();
        assert_eq!(&got, fields, "{what}");
    }
    assert_eq!(
        app.count("/api/v1/audits", &f.hq).await,
        0,
        "nothing half-stored"
    );

    // Another auditor cannot push for this assignment.
    app.create_user_directly("zed@test.example", Role::Auditor, vec![f.region])
        .await;
    let zed = app.login("zed@test.example").await.access;
    let (_, reply) = app.push(&zed, vec![base()]).await;
    assert_eq!(outcome(&reply, 0), "rejected");
    assert_eq!(reply["results"][0]["errors"][0]["field"], "assignment_id");

    // Whole-request problems.
    let (s, b) = app
        .post(
            "/api/v1/sync/push",
            &f.auditor_token,
            json!({"device_clock": chrono::Utc::now(), "audits": [{"id": "not-a-uuid"}]}),
        )
        .await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_body");
    let many: Vec<Value> = (0..101).map(|_| base()).collect();
    let (s, b) = app.push(&f.auditor_token, many).await;
    assert_eq!(
        fields(&assert_error(
            s,
            &b,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed"
        )),
        ["audits"]
    );
    let a = base();
    let (s, b) = app.push(&f.auditor_token, vec![a.clone(), a]).await;
    assert_eq!(
        fields(&assert_error(
            s,
            &b,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed"
        )),
        ["audits[1]"]
    );
    let (s, b) = app
        .post(
            "/api/v1/sync/push",
            &f.auditor_token,
            json!({"device_clock": "1970-01-01T00:00:00Z", "audits": []}),
        )
        .await;
    assert_eq!(
        fields(&assert_error(
            s,
            &b,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed"
        )),
        ["device_clock"]
    );
    let (s, b) = app.push(&f.hq, vec![]).await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn twenty_identical_pushes_in_parallel_store_one_audit() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let id = Uuid::new_v4();
    let audit = full_audit(id, 1, f.assignment, &f.version, f.store_at);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let client = app.client.clone();
        let url = app.url("/api/v1/sync/push");
        let token = f.auditor_token.clone();
        let body = json!({"device_clock": chrono::Utc::now(), "audits": [audit.clone()]});
        tasks.push(tokio::spawn(async move {
            let res = client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("sent");
            assert_eq!(res.status(), StatusCode::OK);
            res.json::<Value>().await.expect("json")["results"][0]["outcome"]
                .as_str()
                .expect("outcome")
                .to_owned()
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.expect("task"));
    }
    assert_eq!(
        outcomes.iter().filter(|o| *o == "accepted").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| *o == "duplicate").count(),
        19,
        "{outcomes:?}"
    );
    let (_, detail) = app.get(&format!("/api/v1/audits/{id}"), &f.hq).await;
    assert_eq!(detail["revisions"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.count("/api/v1/audits", &f.hq).await, 1);
}

#[tokio::test]
async fn racing_revisions_two_and_three_keep_both_and_three_wins() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let id = Uuid::new_v4();
    app.push(
        &f.auditor_token,
        vec![full_audit(id, 1, f.assignment, &f.version, f.store_at)],
    )
    .await;
    let revisions = [2, 3].map(|rev| full_audit(id, rev, f.assignment, &f.version, f.store_at));
    // Three rounds: the phone retries both, as a phone on a bad network would.
    for _ in 0..3 {
        let mut tasks = Vec::new();
        for audit in &revisions {
            let client = app.client.clone();
            let url = app.url("/api/v1/sync/push");
            let token = f.auditor_token.clone();
            let body = json!({"device_clock": chrono::Utc::now(), "audits": [audit]});
            tasks.push(tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .expect("sent")
                    .json::<Value>()
                    .await
                    .expect("json")
            }));
        }
        for t in tasks {
            let reply = t.await.expect("task");
            // Revision 2 arriving after 3 is kept but superseded.
            assert!(
                ["accepted", "duplicate", "superseded"].contains(&outcome(&reply, 0)),
                "{reply}"
            );
        }
    }
    let (_, detail) = app.get(&format!("/api/v1/audits/{id}"), &f.hq).await;
    assert_eq!(detail["revision"], 3);
    let revs: Vec<i64> = detail["revisions"]
        .as_array()
        .expect("revisions")
        .iter()
        .map(|r| r["revision"].as_i64().expect("n"))
        .collect();
    assert_eq!(revs, [1, 2, 3]);
}

#[tokio::test]
async fn an_audit_is_scored_against_the_version_it_was_made_with() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    // Version 2 doubles the weight of the basic item.
    let mut sections = valid_sections(&f.catalog.standards);
    sections[0]["items"][0]["weight"] = json!(30);
    app.send(
        reqwest::Method::PUT,
        &format!("/api/v1/checklists/{}", f.catalog.checklist),
        Some(&f.hq),
        Some(&json!({"sections": sections})),
    )
    .await;
    let (s, v2) = app
        .post(
            &format!("/api/v1/checklists/{}/publish", f.catalog.checklist),
            &f.hq,
            json!({"quarter": this_quarter().to_string()}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_ne!(v2["id"], f.version["id"]);
    // Made offline on version 1: the basic item passes, the scale item gets 2 of 4.
    let id = Uuid::new_v4();
    let mut audit = full_audit(id, 1, f.assignment, &f.version, f.store_at);
    audit["answers"][1]["value"] = json!(2);
    let (_, reply) = app.push(&f.auditor_token, vec![audit]).await;
    assert_eq!(outcome(&reply, 0), "accepted", "{reply}");
    // Version 1: (10·1 + 5·½) / 15 = 83.33; version 2 would give (30 + 2.5) / 35 = 92.86.
    assert_eq!(reply["results"][0]["current"]["total"], 8333);
    let (_, detail) = app.get(&format!("/api/v1/audits/{id}"), &f.hq).await;
    assert_eq!(detail["checklist_version_id"], f.version["id"]);
}

#[tokio::test]
async fn evidence_is_flagged_never_refused() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    // Far from the store, a year before the window, with the phone's clock an hour slow.
    let id = Uuid::new_v4();
    let mut audit = full_audit(id, 1, f.assignment, &f.version, (31.30, 121.47));
    // Microseconds: the precision PostgreSQL keeps.
    let start =
        chrono::SubsecRound::trunc_subsecs(chrono::Utc::now() - chrono::Duration::days(400), 6);
    audit["started_at"] = json!(start);
    audit["finished_at"] = json!(start + chrono::Duration::minutes(10));
    let device_clock = chrono::Utc::now() - chrono::Duration::hours(1);
    let (_, reply) = app
        .post(
            "/api/v1/sync/push",
            &f.auditor_token,
            json!({"device_clock": device_clock, "audits": [audit]}),
        )
        .await;
    assert_eq!(outcome(&reply, 0), "accepted", "{reply}");
    let (_, detail) = app.get(&format!("/api/v1/audits/{id}"), &f.hq).await;
    assert_eq!(
        detail["flags"],
        json!(["visit_outside_window", "checkin_outside_geofence"])
    );
    assert!(
        detail["score"]["checkin_distance_m"]
            .as_f64()
            .expect("distance")
            > 7000.0
    );
    let skew = detail["revisions"][0]["skew_ms"].as_i64().expect("skew");
    assert!((3_595_000..3_610_000).contains(&skew), "{skew}");
    let sent: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(detail["started_at"].clone()).expect("time");
    let corrected: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(detail["started_at_server"].clone()).expect("time");
    assert_eq!((corrected - sent).num_milliseconds(), skew);
    assert_eq!(sent, start, "the device time is kept as sent");

    // Cancelled, then reassigned: still accepted, and flagged.
    app.patch(
        &format!("/api/v1/assignments/{}", f.assignment),
        &f.hq,
        json!({"status": "cancelled"}),
    )
    .await;
    let (_, reply) = app
        .push(
            &f.auditor_token,
            vec![full_audit(
                Uuid::new_v4(),
                1,
                f.assignment,
                &f.version,
                f.store_at,
            )],
        )
        .await;
    assert_eq!(outcome(&reply, 0), "accepted");
    assert_eq!(
        reply["results"][0]["current"]["flags"],
        json!(["assignment_cancelled"])
    );
    let other = app
        .create_user_directly("bo@test.example", Role::Auditor, vec![f.region])
        .await;
    app.patch(
        &format!("/api/v1/assignments/{}", f.assignment),
        &f.hq,
        json!({"status": "scheduled", "auditor_id": other}),
    )
    .await;
    let (_, reply) = app
        .push(
            &f.auditor_token,
            vec![full_audit(
                Uuid::new_v4(),
                1,
                f.assignment,
                &f.version,
                f.store_at,
            )],
        )
        .await;
    assert_eq!(outcome(&reply, 0), "accepted", "{reply}");
    assert_eq!(
        reply["results"][0]["current"]["flags"],
        json!(["assignment_reassigned"])
    );
}

async fn pull(app: &TestApp, token: &str, cursor: Option<&str>, limit: u64) -> Value {
    let path = match cursor {
        Some(c) => format!("/api/v1/sync/pull?cursor={c}&limit={limit}"),
        None => format!("/api/v1/sync/pull?limit={limit}"),
    };
    let (s, b) = app.get(&path, token).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| {
            x.as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| x["id"].as_str().expect("id").to_owned())
        })
        .collect()
}

#[tokio::test]
async fn pull_gives_state_then_changes_and_tombstones() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let first = pull(&app, &f.auditor_token, None, 200).await;
    assert_eq!(ids(&first["assignments"]), [f.assignment.to_string()]);
    assert_eq!(ids(&first["stores"]), [f.store.to_string()]);
    assert_eq!(
        ids(&first["checklist_version_ids"]),
        [f.catalog.version.to_string()]
    );
    assert_eq!(first["has_more"], false);
    let cursor = first["cursor"].as_str().expect("cursor").to_owned();
    let same = pull(&app, &f.auditor_token, Some(&cursor), 200).await;
    assert!(
        same["assignments"].as_array().expect("a").is_empty()
            && same["removed_assignments"]
                .as_array()
                .expect("r")
                .is_empty()
    );

    let s2 = app.create_store(&f.hq, "N-2", f.region).await;
    let (_, b) = app.assign(&f.hq, s2, f.auditor, f.catalog.version).await;
    let second = id_of(&b);
    app.patch(
        &format!("/api/v1/assignments/{}", f.assignment),
        &f.hq,
        json!({"status": "cancelled"}),
    )
    .await;
    let delta = pull(&app, &f.auditor_token, Some(&cursor), 200).await;
    assert_eq!(ids(&delta["assignments"]), [second.to_string()]);
    assert_eq!(
        ids(&delta["removed_assignments"]),
        [f.assignment.to_string()]
    );
    assert_eq!(ids(&delta["stores"]), [s2.to_string()]);

    // A store edit reaches the auditors who visit it.
    let cursor = delta["cursor"].as_str().expect("cursor").to_owned();
    app.patch(
        &format!("/api/v1/stores/{s2}"),
        &f.hq,
        json!({"address": "2 New Street"}),
    )
    .await;
    let delta = pull(&app, &f.auditor_token, Some(&cursor), 200).await;
    assert_eq!(delta["stores"][0]["address"], "2 New Street");

    // Cursors the server cannot honour say so.
    for bad in ["garbage", "djE6OTk5OTk5"] {
        let (s, b) = app
            .get(&format!("/api/v1/sync/pull?cursor={bad}"), &f.auditor_token)
            .await;
        assert_error(s, &b, StatusCode::CONFLICT, "resync_required");
    }
    let (s, b) = app.get("/api/v1/sync/pull", &f.hq).await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden");
}

/// Assignments are made while the auditor pulls page after page: every one
/// arrives, and none twice.
#[tokio::test]
async fn pulling_while_assignments_change_misses_nothing() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let mut stores = Vec::new();
    for i in 0..8 {
        stores.push(app.create_store(&f.hq, &format!("P-{i}"), f.region).await);
    }
    let first = pull(&app, &f.auditor_token, None, 3).await;
    let mut cursor = first["cursor"].as_str().expect("cursor").to_owned();
    let mut seen: Vec<String> = ids(&first["assignments"]);
    let writer = {
        let client = app.client.clone();
        let base = app.base.clone();
        let hq = f.hq.clone();
        let (auditor, version) = (f.auditor, f.catalog.version);
        let stores = stores.clone();
        tokio::spawn(async move {
            let q = this_quarter();
            let mut made = Vec::new();
            for _round in 0..3 {
                for s in &stores {
                    let res = client
                        .post(format!("{base}/api/v1/assignments"))
                        .bearer_auth(&hq)
                        .json(&json!({"store_id": s, "auditor_id": auditor, "checklist_version_id": version,
                                      "window_start": q.first_day(), "window_end": q.last_day()}))
                        .send()
                        .await
                        .expect("sent");
                    assert_eq!(res.status(), StatusCode::CREATED);
                    made.push(
                        res.json::<Value>().await.expect("json")["id"]
                            .as_str()
                            .expect("id")
                            .to_owned(),
                    );
                }
            }
            made
        })
    };
    let mut pages = 0;
    loop {
        let page = pull(&app, &f.auditor_token, Some(&cursor), 3).await;
        pages += 1;
        let got = ids(&page["assignments"]);
        assert!(got.len() <= 3);
        seen.extend(got);
        cursor = page["cursor"].as_str().expect("cursor").to_owned();
        if writer.is_finished() && page["has_more"] == false {
            // One more pull after the writer is done catches its last commits.
            let last = pull(&app, &f.auditor_token, Some(&cursor), 3).await;
            seen.extend(ids(&last["assignments"]));
            if last["has_more"] == false
                && last["assignments"].as_array().is_some_and(Vec::is_empty)
            {
                break;
            }
            cursor = last["cursor"].as_str().expect("cursor").to_owned();
        }
        assert!(pages < 10_000, "pulling never ends");
        tokio::task::yield_now().await;
    }
    let made = writer.await.expect("writer");
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no assignment arrives twice");
    let mut expected: BTreeSet<String> = made.into_iter().collect();
    expected.insert(f.assignment.to_string());
    assert_eq!(
        unique.into_iter().cloned().collect::<BTreeSet<_>>(),
        expected,
        "every assignment arrives"
    );
}

#[tokio::test]
async fn a_push_over_the_size_limit_is_refused_whole() {
    let app = TestApp::spawn_with(|c| c.max_push_bytes = 2048).await;
    let f = app.field().await;
    let mut audit = full_audit(Uuid::new_v4(), 1, f.assignment, &f.version, f.store_at);
    audit["answers"][0]["note"] = json!("x".repeat(1500));
    let (s, b) = app.push(&f.auditor_token, vec![audit]).await;
    assert_error(s, &b, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert_eq!(app.count("/api/v1/audits", &f.hq).await, 0);
    let res = app
        .client
        .post(app.url("/api/v1/sync/push"))
        .bearer_auth(&f.auditor_token)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("sent");
    let (s, b) = into_json(res).await;
    assert_error(
        s,
        &b,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
}

#[tokio::test]
async fn pushes_sharing_audits_in_opposite_orders_each_store_them_once() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let mut ids = Vec::new();
    for _round in 0..8 {
        let mut batch: Vec<Value> = (0..4)
            .map(|_| {
                let id = Uuid::new_v4();
                ids.push(id);
                full_audit(id, 1, f.assignment, &f.version, f.store_at)
            })
            .collect();
        let forward = json!({"device_clock": chrono::Utc::now(), "audits": batch.clone()});
        batch.reverse();
        let backward = json!({"device_clock": chrono::Utc::now(), "audits": batch});
        let mut tasks = Vec::new();
        for body in [forward, backward] {
            let client = app.client.clone();
            let url = app.url("/api/v1/sync/push");
            let token = f.auditor_token.clone();
            tasks.push(tokio::spawn(async move {
                let res = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .expect("sent");
                let status = res.status();
                let body: Value = res.json().await.expect("json");
                assert_eq!(status, StatusCode::OK, "{body}");
                body["results"]
                    .as_array()
                    .expect("results")
                    .iter()
                    .map(|r| r["outcome"].as_str().unwrap_or_default().to_owned())
                    .collect::<Vec<_>>()
            }));
        }
        let mut accepted = 0;
        for t in tasks {
            let outcomes = t.await.expect("task");
            assert!(
                outcomes.iter().all(|o| o == "accepted" || o == "duplicate"),
                "{outcomes:?}"
            );
            accepted += outcomes.iter().filter(|o| *o == "accepted").count();
        }
        assert_eq!(accepted, 4, "each audit accepted by exactly one push");
    }
    assert_eq!(app.count("/api/v1/audits", &f.hq).await, ids.len());
    for id in ids {
        let (s, detail) = app.get(&format!("/api/v1/audits/{id}"), &f.hq).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(detail["revisions"].as_array().map(Vec::len), Some(1));
    }
}

#[tokio::test]
async fn a_repeated_first_pull_sees_every_change_in_between() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let first = |app: &TestApp| {
        let token = f.auditor_token.clone();
        let app_url = app.url("/api/v1/sync/pull");
        let client = app.client.clone();
        async move {
            let res = client
                .get(app_url)
                .bearer_auth(token)
                .send()
                .await
                .expect("sent");
            assert_eq!(res.status(), StatusCode::OK);
            res.json::<Value>().await.expect("json")
        }
    };
    let ids = |v: &Value| -> BTreeSet<String> {
        v["assignments"]
            .as_array()
            .expect("assignments")
            .iter()
            .map(|a| a["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let before = first(&app).await;
    assert_eq!(ids(&before), BTreeSet::from([f.assignment.to_string()]));
    assert_eq!(ids(&first(&app).await), ids(&before), "nothing changed");

    // A new assignment appears at once.
    let vid: Uuid = f.version["id"].as_str().expect("id").parse().expect("uuid");
    let (s, created) = app.assign(&f.hq, f.store, f.auditor, vid).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let second = id_of(&created).to_string();
    assert_eq!(
        ids(&first(&app).await),
        BTreeSet::from([f.assignment.to_string(), second.clone()])
    );
    // A renamed store shows its new name.
    let (s, _) = app
        .patch(
            &format!("/api/v1/stores/{}", f.store),
            &f.hq,
            json!({"name": "Renamed store"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(first(&app).await["stores"][0]["name"], "Renamed store");
    // A cancelled assignment is gone.
    let (s, _) = app
        .patch(
            &format!("/api/v1/assignments/{second}"),
            &f.hq,
            json!({"status": "cancelled"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        ids(&first(&app).await),
        BTreeSet::from([f.assignment.to_string()])
    );
}

/// The ETag of a checklist version, fetched whole as a phone first does.
async fn etag_of(app: &TestApp, token: &str, version: Uuid) -> String {
    let res = app
        .send(
            reqwest::Method::GET,
            &format!("/api/v1/checklist-versions/{version}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.headers()["etag"].to_str().expect("etag").to_owned()
}

/// GET a checklist version as a phone revalidating its copy would.
async fn revalidate(app: &TestApp, token: &str, version: Uuid, etag: &str) -> StatusCode {
    app.client
        .get(app.url(&format!("/api/v1/checklist-versions/{version}")))
        .bearer_auth(token)
        .header("if-none-match", etag)
        .send()
        .await
        .expect("sent")
        .status()
}

/// Revalidation and pulls are answered from memory while nothing changes;
/// a reassignment ends the first auditor's access to the checklist and
/// gives it to the second at once, on the server that made it.
#[tokio::test]
async fn a_reassignment_moves_the_checklist_to_the_new_auditor_at_once() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let vid = f.catalog.version;
    let bob = app
        .create_user_directly("bob@test.example", Role::Auditor, vec![f.region])
        .await;
    let bob_token = app.login("bob@test.example").await.access;
    let etag = etag_of(&app, &f.auditor_token, vid).await;
    for _ in 0..3 {
        assert_eq!(
            revalidate(&app, &f.auditor_token, vid, &etag).await,
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(
            revalidate(&app, &bob_token, vid, &etag).await,
            StatusCode::NOT_FOUND,
            "no assignment on it"
        );
    }
    let (s, b) = app
        .patch(
            &format!("/api/v1/assignments/{}", f.assignment),
            &f.hq,
            json!({"auditor_id": bob}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        revalidate(&app, &f.auditor_token, vid, &etag).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        revalidate(&app, &bob_token, vid, &etag).await,
        StatusCode::NOT_MODIFIED
    );
    let bobs = pull(&app, &bob_token, None, 200).await;
    assert_eq!(ids(&bobs["assignments"]), [f.assignment.to_string()]);
    assert!(
        pull(&app, &f.auditor_token, None, 200).await["assignments"]
            .as_array()
            .expect("assignments")
            .is_empty()
    );
}

/// Phones may reach any server of a deployment: what one server changes
/// reaches pulls and revalidation on the other, and a cursor one server
/// gave is honoured by the other at once, before it has heard of the change.
#[tokio::test]
async fn changes_on_one_server_reach_phones_on_another() {
    let a = TestApp::spawn().await;
    let Some(b) = a.spawn_beside().await else {
        eprintln!("servers share a database only on PostgreSQL; skipped on SQLite");
        return;
    };
    let f = a.field().await;
    let vid = f.catalog.version;
    let first = pull(&b, &f.auditor_token, None, 200).await;
    assert_eq!(ids(&first["assignments"]), [f.assignment.to_string()]);
    let cursor = first["cursor"].as_str().expect("cursor").to_owned();
    // Both servers answer the quiet poll with nothing new.
    for app in [&a, &b] {
        let again = pull(app, &f.auditor_token, Some(&cursor), 200).await;
        assert_eq!(again["cursor"], cursor.as_str());
        assert!(again["assignments"].as_array().expect("a").is_empty());
    }
    let etag = etag_of(&b, &f.auditor_token, vid).await;
    let bob = a
        .create_user_directly("bob@test.example", Role::Auditor, vec![f.region])
        .await;
    let bob_token = a.login("bob@test.example").await.access;
    assert_eq!(
        revalidate(&b, &bob_token, vid, &etag).await,
        StatusCode::NOT_FOUND
    );

    // Server a moves the assignment to bob.
    let (s, body) = a
        .patch(
            &format!("/api/v1/assignments/{}", f.assignment),
            &f.hq,
            json!({"auditor_id": bob}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    // a's cursor is ahead of anything b has heard of: b reads the log
    // rather than refusing it.
    let on_a = pull(&a, &f.auditor_token, Some(&cursor), 200).await;
    assert_eq!(
        ids(&on_a["removed_assignments"]),
        [f.assignment.to_string()]
    );
    let newer = on_a["cursor"].as_str().expect("cursor").to_owned();
    assert_ne!(newer, cursor);
    let on_b = pull(&b, &f.auditor_token, Some(&newer), 200).await;
    assert_eq!(on_b["cursor"], newer.as_str());
    // b hears of the change: the old cursor, revalidation and bob's first
    // pull all show it.
    assert!(
        within_seconds(|| async {
            let delta = pull(&b, &f.auditor_token, Some(&cursor), 200).await;
            ids(&delta["removed_assignments"]) == [f.assignment.to_string()]
        })
        .await,
        "server b never showed the reassignment to the auditor it left"
    );
    assert!(
        within_seconds(|| async {
            revalidate(&b, &bob_token, vid, &etag).await == StatusCode::NOT_MODIFIED
        })
        .await,
        "server b never let the new auditor revalidate the checklist"
    );
    assert_eq!(
        revalidate(&b, &f.auditor_token, vid, &etag).await,
        StatusCode::NOT_FOUND
    );
    let bobs = pull(&b, &bob_token, None, 200).await;
    assert_eq!(ids(&bobs["assignments"]), [f.assignment.to_string()]);
}
