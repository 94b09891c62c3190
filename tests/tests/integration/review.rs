//! Review (SPEC §8): every transition, legal and illegal; overrides;
//! concurrent reviewers; the returned-revision round trip with the
//! reference phone client; the review list's filters and scope; corrective
//! actions across two quarters.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::{Value, json};
use storecheck_shared::Role;
use storecheck_tests::client::{LocalState, PhoneClient};
use uuid::Uuid;

use crate::helpers::*;
use crate::programme::{A, AUDITOR, Programme};

fn history_actions(detail: &Value) -> Vec<String> {
    detail["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|e| e["action"].as_str().expect("action").to_owned())
        .collect()
}

fn answer<'a>(detail: &'a Value, code: &str) -> &'a Value {
    detail["answers"]
        .as_array()
        .expect("answers")
        .iter()
        .find(|a| a["item_code"] == code)
        .expect("answer")
}

#[tokio::test]
async fn every_transition_legal_and_illegal() {
    let p = Programme::new().await;
    let v = p.version.clone();
    let store = p.store("N-1", "Store N-1", p.north).await;
    let south = p.store("S-1", "Store S-1", p.south).await;
    let audit = p
        .submit(store, &v, [A::Yes, A::Scale(4), A::Yes, A::Count(0)])
        .await;
    let approve = |revision: i64| json!({"action": "approve", "revision": revision});

    // Who may review: not the auditor; a manager only in their regions.
    let (s, b) = p.review(&p.auditor_token, audit, approve(1)).await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden");
    let elsewhere = p
        .submit(south, &v, [A::Yes, A::Scale(4), A::Yes, A::Count(0)])
        .await;
    let (s, b) = p.review(&p.manager_token, elsewhere, approve(1)).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    let (s, b) = p.review(&p.hq, Uuid::new_v4(), approve(1)).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");

    // What a review must carry.
    for (body, field) in [
        (json!({"action": "return", "revision": 1}), "comment"),
        (
            json!({"action": "return", "revision": 1, "comment": "   "}),
            "comment",
        ),
        (json!({"action": "reject", "revision": 1}), "comment"),
        (json!({"action": "override", "revision": 1}), "overrides"),
        (
            json!({"action": "return", "revision": 1, "comment": "x", "overrides": [
                {"item_id": Uuid::new_v4(), "value": true, "reason": "r"}]}),
            "overrides",
        ),
    ] {
        let (s, b) = p.review(&p.manager_token, audit, body.clone()).await;
        let details = assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(fields(&details), [field], "{body}");
    }
    for body in [
        json!({"action": "approve"}),
        json!({"action": "bless", "revision": 1}),
        json!({"action": "approve", "revision": 1, "colour": "red"}),
    ] {
        let (s, b) = p.review(&p.manager_token, audit, body.clone()).await;
        assert!(
            s.is_client_error() && s != StatusCode::NOT_FOUND,
            "{body}: {s} {b}"
        );
        assert!(b["error"]["code"].is_string(), "{b}");
    }

    // A review of a revision that is not in force changes nothing.
    let (s, b) = p.review(&p.manager_token, audit, approve(2)).await;
    let details = assert_error(s, &b, StatusCode::CONFLICT, "stale_revision");
    assert_eq!(details[0]["field"], "status");
    assert_eq!(details[0]["message"], "submitted");
    assert_eq!(details[1]["field"], "revision");
    assert_eq!(details[1]["message"], "1");

    // Return: back to the auditor, with what to fix.
    let (s, b) = p
        .review(
            &p.manager_token,
            audit,
            json!({"action": "return", "revision": 1, "comment": "Photo of the counter missing"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "returned");
    assert_eq!(b["review_comment"], "Photo of the counter missing");
    assert_eq!(b["reviewed_by"], p.manager.to_string());
    for body in [
        approve(1),
        json!({"action": "reject", "revision": 1, "comment": "no"}),
        json!({"action": "return", "revision": 1, "comment": "again"}),
    ] {
        let (s, b) = p.review(&p.hq, audit, body).await;
        let details = assert_error(s, &b, StatusCode::CONFLICT, "invalid_transition");
        assert_eq!(details[0]["message"], "returned", "{b}");
    }

    // The auditor hears of it on the next pull, and sends revision 2.
    let (s, pull) = p.app.get("/api/v1/sync/pull", &p.auditor_token).await;
    assert_eq!(s, StatusCode::OK, "{pull}");
    let state = pull["audits"]
        .as_array()
        .expect("audits")
        .iter()
        .find(|a| a["id"] == audit.to_string())
        .expect("the returned audit is pulled");
    assert_eq!(state["status"], "returned");
    assert_eq!(state["review_comment"], "Photo of the counter missing");
    let detail = p.detail(&p.hq, audit).await;
    let assignment: Uuid = detail["assignment_id"]
        .as_str()
        .expect("value")
        .parse()
        .expect("value");
    let r = p
        .push(
            Programme::payload(
                &v,
                audit,
                2,
                assignment,
                [A::Yes, A::Scale(3), A::Yes, A::Count(0)],
            ),
            "accepted",
        )
        .await;
    assert_eq!(r["current"]["status"], "submitted", "{r}");

    // Approving the old revision is stale; the new one is approved once.
    let (s, b) = p.review(&p.hq, audit, approve(1)).await;
    assert_error(s, &b, StatusCode::CONFLICT, "stale_revision");
    let b = {
        let (s, b) = p.review(&p.hq, audit, approve(2)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b
    };
    assert_eq!(b["status"], "approved");
    assert_eq!(b["revision"], 2);
    for body in [
        approve(2),
        json!({"action": "reject", "revision": 2, "comment": "late"}),
        json!({"action": "return", "revision": 2, "comment": "late"}),
        json!({"action": "override", "revision": 2, "overrides": [
            {"item_id": answer(&b, "GREET")["item_id"], "value": false, "reason": "late"}]}),
    ] {
        let (s, e) = p.review(&p.manager_token, audit, body).await;
        let details = assert_error(s, &e, StatusCode::CONFLICT, "invalid_transition");
        assert_eq!(details[0]["message"], "approved");
    }
    // A phone revision after approval is kept aside, never in force.
    p.push(
        Programme::payload(
            &v,
            audit,
            3,
            assignment,
            [A::No, A::Scale(0), A::No, A::Count(3)],
        ),
        "conflict",
    )
    .await;

    let detail = p.detail(&p.hq, audit).await;
    assert_eq!(detail["status"], "approved");
    assert_eq!(detail["revision"], 2);
    assert_eq!(detail["conflicts"][0]["reason"], "audit_closed");
    assert_eq!(
        history_actions(&detail),
        ["returned", "resubmitted", "approved"]
    );
    let h = &detail["history"];
    assert_eq!(h[0]["actor_id"], p.manager.to_string());
    assert_eq!(h[0]["actor_email"], crate::programme::MANAGER);
    assert_eq!(h[0]["comment"], "Photo of the counter missing");
    assert_eq!(h[0]["revision"], 1);
    assert_eq!(h[1]["actor_id"], Value::Null);
    assert_eq!(h[1]["revision"], 2);
    assert_eq!(h[2]["actor_email"], HQ_EMAIL);
    assert_eq!(h[2]["revision"], 2);

    // Reject: the audit never counts, and cannot be reviewed again.
    let other = p
        .submit(store, &v, [A::Yes, A::Scale(4), A::Yes, A::Count(0)])
        .await;
    let (s, b) = p
        .review(
            &p.manager_token,
            other,
            json!({"action": "reject", "revision": 1, "comment": "The auditor was recognised"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "rejected");
    assert_eq!(history_actions(&b), ["rejected"]);
    let (s, b) = p.review(&p.hq, other, approve(1)).await;
    let details = assert_error(s, &b, StatusCode::CONFLICT, "invalid_transition");
    assert_eq!(details[0]["message"], "rejected");
    // Only the approved audit counts: its revision 2 (SMILE 3 of 4) has
    // base 91.67 and bonus 33.33, so min(100, 125) = 100.00.
    let (_, c) = p
        .app
        .get(
            &format!("/api/v1/compliance/stores?quarter={}", this_quarter()),
            &p.hq,
        )
        .await;
    assert_eq!(c["items"][0]["store_code"], "N-1");
    assert_eq!(c["items"][0]["audits_counted"], 1);
    assert_eq!(c["items"][0]["score"], 10_000);
}

#[tokio::test]
async fn overrides_rescore_exactly_and_keep_the_phone_answer() {
    let p = Programme::new().await;
    let v = p.version.clone();
    let items = Programme::items(&v);
    let store = p.store("N-1", "Store N-1", p.north).await;
    // GREET yes, SMILE 2/4, EXTRA no, ERRORS 3: base 83.33 − 15 = 68.33.
    let audit = p
        .submit(store, &v, [A::Yes, A::Scale(2), A::No, A::Count(3)])
        .await;
    assert_eq!(p.detail(&p.hq, audit).await["total"], 6833);

    // Overrides that do not fit their item change nothing.
    let (s, b) = p
        .review(
            &p.manager_token,
            audit,
            json!({"action": "override", "revision": 1, "overrides": [
                {"item_id": Uuid::new_v4(), "value": true, "reason": "r"},
                {"item_id": items["SMILE"], "value": 7, "reason": "r"},
                {"item_id": items["GREET"], "na": true, "reason": "r"},
                {"item_id": items["EXTRA"], "value": true, "reason": " "},
                {"item_id": items["ERRORS"], "value": 2.5, "reason": "r"},
            ]}),
        )
        .await;
    let details = assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let mut got = fields(&details);
    got.sort();
    assert_eq!(
        got,
        ["overrides[3].reason",],
        "reasons are checked before the items: {b}"
    );
    let (s, b) = p
        .review(
            &p.manager_token,
            audit,
            json!({"action": "override", "revision": 1, "overrides": [
                {"item_id": Uuid::new_v4(), "value": true, "reason": "r"},
                {"item_id": items["SMILE"], "value": 7, "reason": "r"},
                {"item_id": items["GREET"], "na": true, "reason": "r"},
                {"item_id": items["ERRORS"], "value": 2.5, "reason": "r"},
            ]}),
        )
        .await;
    let details = assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(
        fields(&details),
        [
            "overrides[0].item_id",
            "overrides[1].value",
            "overrides[2].value",
            "overrides[3].value",
        ]
    );
    let detail = p.detail(&p.hq, audit).await;
    assert_eq!(detail["total"], 6833);
    assert!(detail["history"].as_array().expect("value").is_empty());

    // The errors were miscounted: none. 83.33, ERRORS no longer failed.
    let (s, b) = p
        .review(
            &p.manager_token,
            audit,
            json!({"action": "override", "revision": 1, "overrides": [
                {"item_id": items["ERRORS"], "value": 0, "reason": "The receipt shows no errors"},
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "submitted");
    assert_eq!(b["total"], 8333);
    assert_eq!(b["score"]["total"], 8333);
    assert_eq!(b["score"]["base"], 8333);
    assert_eq!(b["score"]["deductions"], 0);
    assert_eq!(b["score"]["overridden"], true);
    let errors = answer(&b, "ERRORS");
    assert_eq!(errors["value"], 3, "the phone's answer is kept: {errors}");
    assert_eq!(errors["failed"], false);
    assert_eq!(errors["override"]["value"], 0);
    assert_eq!(errors["override"]["reason"], "The receipt shows no errors");
    assert_eq!(errors["override"]["by"], p.manager.to_string());
    // The phone's revision keeps its own score.
    assert_eq!(b["revisions"][0]["total"], 6833);
    assert_eq!(history_actions(&b), ["overridden"]);
    let d = &b["history"][0]["detail"];
    assert_eq!(d["item_code"], "ERRORS");
    assert_eq!(d["before"], 3);
    assert_eq!(d["after"], 0);
    assert_eq!(d["total_before"], 6833);
    assert_eq!(d["total_after"], 8333);

    // Approve with one more: GREET was not done. The earlier override
    // stays: GREET 0, SMILE 2/4 → base 100·2.5/15 = 16.67, no deductions,
    // a critical failure.
    let (s, b) = p
        .review(
            &p.hq,
            audit,
            json!({"action": "approve", "revision": 1, "comment": "Checked the video", "overrides": [
                {"item_id": items["GREET"], "value": false, "reason": "Not greeted on the video"},
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "approved");
    assert_eq!(b["total"], 1667);
    assert_eq!(b["critical_failure"], true);
    assert_eq!(answer(&b, "GREET")["value"], true);
    assert_eq!(answer(&b, "GREET")["failed"], true);
    assert_eq!(answer(&b, "ERRORS")["override"]["value"], 0);
    assert_eq!(
        history_actions(&b),
        ["overridden", "overridden", "approved"]
    );
    let dims: HashMap<String, Value> = b["score"]["dimensions"]
        .as_array()
        .expect("value")
        .iter()
        .map(|d| {
            (
                d["code"].as_str().expect("value").to_owned(),
                d["score"].clone(),
            )
        })
        .collect();
    assert_eq!(dims[&p.d1], 0);
    assert_eq!(dims[&p.d2], 5000);

    // Compliance and actions use the corrected answers.
    let (_, c) = p
        .app
        .get(
            &format!("/api/v1/compliance/stores?quarter={}", this_quarter()),
            &p.hq,
        )
        .await;
    let row = &c["items"][0];
    assert_eq!(row["score"], 1667);
    assert_eq!(row["band"], "non_compliant");
    assert_eq!(row["critical"], true);
    let (items, rows) = p.failures(&p.hq).await;
    let failed: HashMap<String, (i64, i64)> =
        rows.into_iter().map(|(c, a, f)| (c, (a, f))).collect();
    assert_eq!(failed["STD-GREET"], (1, 1), "{items}");
    assert_eq!(failed["STD-ERRORS"], (1, 0), "{items}");
    assert_eq!(failed["STD-EXTRA"], (1, 1), "{items}");
    assert_eq!(failed["STD-SMILE"], (1, 0), "{items}");
    let (_, actions) = p
        .app
        .get(
            &format!("/api/v1/corrective-actions?store_id={store}"),
            &p.hq,
        )
        .await;
    let mut codes: Vec<&str> = actions["items"]
        .as_array()
        .expect("value")
        .iter()
        .map(|a| a["standard_code"].as_str().expect("value"))
        .collect();
    codes.sort_unstable();
    assert_eq!(codes, ["STD-EXTRA", "STD-GREET"], "{actions}");
}

#[tokio::test]
async fn two_reviewers_at_once_cannot_both_win() {
    let p = Programme::new().await;
    let v = p.version.clone();
    let store = p.store("N-1", "Store N-1", p.north).await;
    for round in 0..6 {
        let audit = p
            .submit(store, &v, [A::Yes, A::Scale(4), A::Yes, A::Count(0)])
            .await;
        let approve = json!({"action": "approve", "revision": 1});
        let give_back =
            json!({"action": "return", "revision": 1, "comment": format!("round {round}")});
        let (a, b) = tokio::join!(
            p.review(&p.hq, audit, approve),
            p.review(&p.manager_token, audit, give_back),
        );
        let wins = [&a, &b]
            .iter()
            .filter(|(s, _)| *s == StatusCode::OK)
            .count();
        assert_eq!(wins, 1, "round {round}: {a:?} {b:?}");
        let (winner, loser) = if a.0 == StatusCode::OK {
            (a, b)
        } else {
            (b, a)
        };
        let details = assert_error(
            loser.0,
            &loser.1,
            StatusCode::CONFLICT,
            "invalid_transition",
        );
        let status = winner.1["status"].as_str().expect("value").to_owned();
        assert_eq!(details[0]["message"], status.as_str());
        let detail = p.detail(&p.hq, audit).await;
        assert_eq!(detail["status"], status.as_str());
        assert_eq!(
            detail["history"].as_array().expect("value").len(),
            1,
            "{detail}"
        );
    }
}

#[tokio::test]
async fn a_returned_audit_goes_round_through_the_phone() {
    let p = Programme::new().await;
    let store = p.store("N-1", "Store N-1", p.north).await;
    p.assignment(store, &p.version).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let phone = PhoneClient::open(&tmp.path().join("phone.db"), &p.app.base, AUDITOR, PASSWORD)
        .await
        .expect("phone");
    phone.pull().await.expect("pull");
    let assignment = phone.assignments().await.expect("assignments")[0].clone();
    let audit = phone
        .start_audit(
            &assignment,
            storecheck_shared::sync::GeoPoint {
                latitude: 31.2304,
                longitude: 121.4737,
                accuracy_m: Some(8.0),
            },
        )
        .await
        .expect("start");
    phone.answer_all_passing(audit).await.expect("answers");
    phone.finish(audit).await.expect("finish");
    let report = phone.push().await.expect("push");
    assert_eq!(report.accepted, 1, "{report:?}");

    let comment = "SMILE cannot be the top mark without a photo of the desk";
    let (s, b) = p
        .review(
            &p.manager_token,
            audit,
            json!({"action": "return", "revision": 1, "comment": comment}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    phone.pull().await.expect("pull");
    let state = phone
        .review_state(audit)
        .await
        .expect("state")
        .expect("the phone heard of the review");
    assert_eq!(state.status, storecheck_shared::sync::AuditStatus::Returned);
    assert_eq!(state.review_comment.as_deref(), Some(comment));
    assert_eq!(state.revision, 1);

    // The auditor fixes the answer and sends revision 2.
    phone.edit(audit).await.expect("edit");
    let smile = Programme::items(&p.version)["SMILE"];
    phone
        .answer(audit, smile, Some(json!(3)))
        .await
        .expect("answer");
    phone.finish(audit).await.expect("finish");
    let report = phone.push().await.expect("push");
    assert_eq!(report.accepted, 1, "{report:?}");
    assert_eq!(
        phone.audit(audit).await.expect("local").1,
        LocalState::Synced
    );

    let detail = p.detail(&p.manager_token, audit).await;
    assert_eq!(detail["status"], "submitted");
    assert_eq!(detail["revision"], 2);
    assert_eq!(detail["review_comment"], Value::Null);
    assert_eq!(answer(&detail, "SMILE")["value"], 3);
    assert_eq!(history_actions(&detail), ["returned", "resubmitted"]);
    let (s, b) = p
        .review(
            &p.manager_token,
            audit,
            json!({"action": "approve", "revision": 2}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    phone.pull().await.expect("pull");
    let state = phone
        .review_state(audit)
        .await
        .expect("state")
        .expect("state");
    assert_eq!(state.status, storecheck_shared::sync::AuditStatus::Approved);
    assert_eq!(state.revision, 2);
}

#[tokio::test]
async fn the_review_list_filters_and_keeps_to_the_callers_scope() {
    let p = Programme::new().await;
    let v = p.version.clone();
    let n1 = p.store("N-1", "Store N-1", p.north).await;
    let n2 = p.store("N-2", "Store N-2", p.north).await;
    let s1 = p.store("S-1", "Store S-1", p.south).await;
    let pass = [A::Yes, A::Scale(4), A::Yes, A::Count(0)];
    let a1 = p.submit(n1, &v, pass).await;
    let a2 = p.approved(n2, &v, pass).await;
    let a3 = p.submit(s1, &v, pass).await;
    let old = p.approved(n1, &p.previous.clone(), pass).await;
    // An audit checked in far from its store is flagged.
    let assignment = p.assignment(n2, &v).await;
    let far = Uuid::now_v7();
    let mut payload = Programme::payload(&v, far, 1, assignment, pass);
    payload["checkin"] = json!({"latitude": 39.9042, "longitude": 116.4074, "accuracy_m": 8.0});
    p.push(payload, "accepted").await;
    let other = p
        .app
        .create_user_directly("ann@test.example", Role::Auditor, vec![p.north])
        .await;

    let ids = |b: &Value| -> Vec<Uuid> {
        let mut v: Vec<Uuid> = b["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|a| a["id"].as_str().expect("value").parse().expect("value"))
            .collect();
        v.sort();
        v
    };
    let sorted = |mut v: Vec<Uuid>| {
        v.sort();
        v
    };
    let q = this_quarter();
    for (query, want) in [
        ("status=submitted".to_owned(), vec![a1, a3, far]),
        ("status=approved".to_owned(), vec![a2, old]),
        (format!("region_id={}", p.south), vec![a3]),
        (format!("store_id={n1}"), vec![a1, old]),
        (
            format!("auditor_id={}", p.auditor),
            vec![a1, a2, a3, old, far],
        ),
        (format!("auditor_id={other}"), vec![]),
        (format!("quarter={}", q.previous()), vec![old]),
        (
            format!("quarter={q}&status=submitted&region_id={}", p.north),
            vec![a1, far],
        ),
    ] {
        let (s, b) = p.app.get(&format!("/api/v1/audits?{query}"), &p.hq).await;
        assert_eq!(s, StatusCode::OK, "{query}: {b}");
        assert_eq!(ids(&b), sorted(want), "{query}");
    }
    let (_, b) = p
        .app
        .get("/api/v1/audits?flagged=true&status=submitted", &p.hq)
        .await;
    assert!(ids(&b).contains(&far), "{b}");
    assert!(!ids(&b).contains(&a1), "{b}");

    // The manager of the north sees the north only, whatever the filter.
    let (_, b) = p.app.get("/api/v1/audits", &p.manager_token).await;
    assert_eq!(ids(&b), sorted(vec![a1, a2, old, far]));
    let (s, b) = p
        .app
        .get(
            &format!("/api/v1/audits?region_id={}", p.south),
            &p.manager_token,
        )
        .await;
    assert!(
        s == StatusCode::OK && ids(&b).is_empty() || s == StatusCode::NOT_FOUND,
        "{s} {b}"
    );
    let (s, b) = p
        .app
        .get(&format!("/api/v1/audits/{a3}"), &p.manager_token)
        .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");

    // Paging: every audit once.
    let mut seen = Vec::new();
    let mut path = "/api/v1/audits?limit=2".to_owned();
    loop {
        let (s, b) = p.app.get(&path, &p.hq).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        seen.extend(ids(&b));
        match b["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/audits?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(sorted(seen), sorted(vec![a1, a2, a3, old, far]));

    for query in [
        "status=done",
        "quarter=2026-Q9",
        "flagged=perhaps",
        "limit=9999",
    ] {
        let (s, b) = p.app.get(&format!("/api/v1/audits?{query}"), &p.hq).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{query}: {b}");
    }
}

async fn actions_of(p: &Programme, token: &str, query: &str) -> Vec<Value> {
    let (s, b) = p
        .app
        .get(&format!("/api/v1/corrective-actions?{query}"), token)
        .await;
    assert_eq!(s, StatusCode::OK, "{query}: {b}");
    b["items"].as_array().expect("items").clone()
}

fn by_code<'a>(actions: &'a [Value], code: &str) -> &'a Value {
    actions
        .iter()
        .find(|a| a["standard_code"] == code)
        .unwrap_or_else(|| panic!("no action for {code}: {actions:?}"))
}

#[tokio::test]
async fn corrective_actions_open_resolve_verify_and_reopen_across_two_quarters() {
    let p = Programme::new().await;
    let store = p.store("N-1", "Store N-1", p.north).await;
    let south = p.store("S-1", "Store S-1", p.south).await;
    let today = chrono::Utc::now().date_naive();

    // Last quarter: not greeted, one error. Actions for GREET and ERRORS.
    let first = p
        .approved(
            store,
            &p.previous.clone(),
            [A::No, A::Scale(4), A::Yes, A::Count(1)],
        )
        .await;
    let open = actions_of(&p, &p.manager_token, &format!("store_id={store}")).await;
    assert_eq!(open.len(), 2, "{open:?}");
    let greet = by_code(&open, "STD-GREET").clone();
    let errors = by_code(&open, "STD-ERRORS").clone();
    assert_eq!(greet["status"], "open");
    assert_eq!(greet["audit_id"], first.to_string());
    assert_eq!(greet["item_code"], "GREET");
    assert_eq!(greet["answer"], false);
    assert_eq!(errors["answer"], 1);
    assert_eq!(greet["region_id"], p.north.to_string());
    assert_eq!(
        greet["due_on"],
        (today + chrono::Duration::days(14)).to_string()
    );
    assert_eq!(greet["overdue"], false);
    // Submitted, returned or rejected audits open nothing; nor does
    // another region's manager see these.
    p.submit(
        store,
        &p.version.clone(),
        [A::No, A::Scale(0), A::No, A::Count(3)],
    )
    .await;
    assert_eq!(actions_of(&p, &p.hq, "").await.len(), 2);
    p.approved(
        south,
        &p.version.clone(),
        [A::No, A::Scale(4), A::Yes, A::Count(0)],
    )
    .await;
    let mine = actions_of(&p, &p.manager_token, "").await;
    assert_eq!(
        mine.len(),
        2,
        "the south's action is not the north manager's"
    );
    assert_eq!(actions_of(&p, &p.hq, "").await.len(), 3);
    let south_action = actions_of(&p, &p.hq, &format!("region_id={}", p.south)).await;
    assert_eq!(south_action.len(), 1);
    let (s, b) = p
        .app
        .patch(
            &format!(
                "/api/v1/corrective-actions/{}",
                south_action[0]["id"].as_str().expect("value")
            ),
            &p.manager_token,
            json!({"status": "resolved", "note": "done"}),
        )
        .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    let (s, b) = p
        .app
        .get("/api/v1/corrective-actions", &p.auditor_token)
        .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden");

    // Resolving needs a note; `verified` only comes from an audit.
    let url = |a: &Value| {
        format!(
            "/api/v1/corrective-actions/{}",
            a["id"].as_str().expect("value")
        )
    };
    for (body, field) in [
        (json!({"status": "resolved"}), "note"),
        (json!({"status": "verified", "note": "x"}), "status"),
        (json!({}), "status"),
        (
            json!({"status": "resolved", "note": "x", "photo": {"content_type": "text/plain", "bytes": 10, "sha256": "ab".repeat(32)}}),
            "photo.content_type",
        ),
    ] {
        let (s, b) = p
            .app
            .patch(&url(&greet), &p.manager_token, body.clone())
            .await;
        let details = assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(fields(&details), [field], "{body}");
    }
    let (s, b) = p
        .app
        .patch(
            &url(&greet),
            &p.manager_token,
            json!({"status": "resolved", "note": "Staff briefed on greeting"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "resolved");
    assert_eq!(b["resolution_note"], "Staff briefed on greeting");
    assert_eq!(b["resolved_by"], p.manager.to_string());
    // A resolution photo: the reply says where to upload it.
    let (s, b) = p
        .app
        .patch(
            &url(&errors),
            &p.hq,
            json!({"status": "resolved", "note": "Till retrained",
                   "photo": {"content_type": "image/jpeg", "bytes": 1234, "sha256": "ab".repeat(32)}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["photo_upload"]["method"], "PUT");
    assert!(
        b["photo_upload"]["url"]
            .as_str()
            .expect("value")
            .starts_with("http"),
        "{b}"
    );
    assert_eq!(
        actions_of(&p, &p.hq, &format!("store_id={store}&status=resolved"))
            .await
            .len(),
        2
    );
    // Overdue: a due date in the past.
    let (s, b) = p
        .app
        .patch(
            &url(&greet),
            &p.manager_token,
            json!({"due_on": today - chrono::Duration::days(1)}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["overdue"], true);
    let overdue = actions_of(&p, &p.hq, "overdue=true").await;
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0]["id"], greet["id"]);
    assert_eq!(actions_of(&p, &p.hq, "overdue=false").await.len(), 2);

    // Due time is a setting.
    let res = p
        .app
        .send(
            reqwest::Method::PUT,
            "/api/v1/settings/compliance",
            Some(&p.hq),
            Some(&json!({"target": 8500, "below_from": 7000, "meets_from": 8500, "exceeds_from": 9500, "action_due_days": 7})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    // This quarter: greeted (GREET verified), but two errors (ERRORS
    // reopened) and no extra (a new action).
    let second = p
        .approved(
            store,
            &p.version.clone(),
            [A::Yes, A::Scale(4), A::No, A::Count(2)],
        )
        .await;
    let now = actions_of(&p, &p.hq, &format!("store_id={store}")).await;
    assert_eq!(now.len(), 3, "{now:?}");
    let g = by_code(&now, "STD-GREET");
    assert_eq!(g["status"], "verified");
    assert_eq!(g["verified_audit_id"], second.to_string());
    assert_eq!(g["overdue"], false, "a verified action is never overdue");
    let e = by_code(&now, "STD-ERRORS");
    assert_eq!(e["status"], "open");
    assert_eq!(e["reopened"], 1);
    assert_eq!(e["answer"], 2);
    assert_eq!(e["last_audit_id"], second.to_string());
    assert_eq!(e["due_on"], (today + chrono::Duration::days(7)).to_string());
    let x = by_code(&now, "STD-EXTRA");
    assert_eq!(x["status"], "open");
    assert_eq!(x["due_on"], (today + chrono::Duration::days(7)).to_string());
    // A verified action no longer changes.
    let (s, b) = p.app.patch(&url(g), &p.hq, json!({"status": "open"})).await;
    assert_error(s, &b, StatusCode::CONFLICT, "action_verified");
    assert_eq!(
        actions_of(&p, &p.hq, &format!("store_id={store}&status=verified"))
            .await
            .len(),
        1
    );

    // A third audit passes everything: the rest is verified.
    let third = p
        .approved(
            store,
            &p.version.clone(),
            [A::Yes, A::Scale(4), A::Yes, A::Count(0)],
        )
        .await;
    let end = actions_of(&p, &p.hq, &format!("store_id={store}")).await;
    assert!(end.iter().all(|a| a["status"] == "verified"), "{end:?}");
    assert_eq!(
        by_code(&end, "STD-ERRORS")["verified_audit_id"],
        third.to_string()
    );
    assert_eq!(
        by_code(&end, "STD-GREET")["verified_audit_id"],
        second.to_string()
    );
}
