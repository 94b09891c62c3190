//! The audit lifecycle's promises to phones: one bad audit never blocks the
//! others, every revision's photo manifest is kept, late revisions say so,
//! whole numbers in any spelling, paged first pulls, push authorisation by
//! assignment history, ids that never leak, and race-free reassignment.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use storecheck_server::entities::sync_changes;
use storecheck_shared::Role;
use uuid::Uuid;

use crate::helpers::*;

fn result(reply: &Value, i: usize) -> &Value {
    &reply["results"][i]
}

fn outcome(reply: &Value, i: usize) -> &str {
    result(reply, i)["outcome"].as_str().expect("outcome")
}

fn error_fields(reply: &Value, i: usize) -> Vec<String> {
    result(reply, i)["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field").to_owned())
        .collect()
}

#[tokio::test]
async fn one_unreadable_audit_never_blocks_the_others() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let audit = |id| full_audit(id, 1, f.assignment, &f.version, f.store_at);
    let mut bad_time = audit(Uuid::new_v4());
    bad_time["started_at"] = json!("yesterday afternoon");
    let mut bad_item = audit(Uuid::new_v4());
    bad_item["answers"][1]["item_id"] = json!("not-a-uuid");
    let mut null_coordinate = audit(Uuid::new_v4());
    null_coordinate["checkin"]["latitude"] = Value::Null;
    let mut unknown_field = audit(Uuid::new_v4());
    unknown_field["mood"] = json!("cheerful");
    let good = Uuid::new_v4();
    let (s, reply) = app
        .push(
            &f.auditor_token,
            vec![
                bad_time.clone(),
                bad_item,
                null_coordinate,
                audit(good),
                unknown_field,
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{reply}");
    for (i, field) in [
        (0, "started_at"),
        (1, "answers[1].item_id"),
        (2, "checkin.latitude"),
        (4, "mood"),
    ] {
        assert_eq!(outcome(&reply, i), "rejected", "{reply}");
        assert_eq!(error_fields(&reply, i), [field], "{reply}");
        assert_eq!(result(&reply, i)["id"], reply["results"][i]["id"]);
    }
    assert_eq!(result(&reply, 0)["id"], bad_time["id"]);
    assert_eq!(outcome(&reply, 3), "accepted", "{reply}");
    assert_eq!(
        app.count("/api/v1/audits", &f.hq).await,
        1,
        "only the good one"
    );
    let (s, _) = app.get(&format!("/api/v1/audits/{good}"), &f.hq).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn whole_numbers_in_any_spelling_and_never_fractions() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    // answers[1] is a scale item (max 4), answers[2] a count item.
    let mut spelled = full_audit(Uuid::new_v4(), 1, f.assignment, &f.version, f.store_at);
    spelled["answers"][1]["value"] = json!(2.0);
    spelled["answers"][2]["value"] = json!(1.0);
    let mut fraction = full_audit(Uuid::new_v4(), 1, f.assignment, &f.version, f.store_at);
    fraction["answers"][1]["value"] = json!(2.5);
    let (_, reply) = app
        .push(&f.auditor_token, vec![spelled.clone(), fraction])
        .await;
    assert_eq!(outcome(&reply, 0), "accepted", "{reply}");
    assert_eq!(outcome(&reply, 1), "rejected", "{reply}");
    assert_eq!(error_fields(&reply, 1), ["answers[1].value"]);
    let (_, detail) = app
        .get(
            &format!("/api/v1/audits/{}", spelled["id"].as_str().expect("id")),
            &f.hq,
        )
        .await;
    let values: Vec<&Value> = detail["answers"]
        .as_array()
        .expect("answers")
        .iter()
        .filter(|a| a["kind"] != "yes_no")
        .map(|a| &a["value"])
        .collect();
    assert!(
        values.contains(&&json!(2)) && values.contains(&&json!(1)),
        "{detail}"
    );
}

#[tokio::test]
async fn a_late_lower_revision_is_superseded_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let id = Uuid::new_v4();
    let rev1 = full_audit(id, 1, f.assignment, &f.version, f.store_at);
    let mut rev2 = rev1.clone();
    rev2["revision"] = json!(2);
    rev2["answers"][0]["value"] = json!(false);
    let (_, reply) = app.push(&f.auditor_token, vec![rev2]).await;
    assert_eq!(outcome(&reply, 0), "accepted", "{reply}");
    for _ in 0..2 {
        let (_, reply) = app.push(&f.auditor_token, vec![rev1.clone()]).await;
        assert_eq!(outcome(&reply, 0), "superseded", "{reply}");
        assert_eq!(result(&reply, 0)["current"]["revision"], 2, "{reply}");
    }
    let (_, detail) = app.get(&format!("/api/v1/audits/{id}"), &f.hq).await;
    assert_eq!(detail["revision"], 2);
    assert_eq!(
        detail["critical_failure"], true,
        "revision 2 stays in force"
    );
    assert_eq!(
        detail["revisions"].as_array().map(Vec::len),
        Some(2),
        "revision 1 is kept in the history, once"
    );
}

fn with_photo(mut audit: Value, photo: Uuid, item: &Value, sha: &str) -> Value {
    audit["photos"] = json!([{"id": photo, "item_id": item, "sha256": sha, "bytes": 2048,
                             "content_type": "image/jpeg"}]);
    audit
}

#[tokio::test]
async fn every_revision_keeps_its_photo_manifest_and_photo_ids_stay_with_their_audit() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let id = Uuid::new_v4();
    let photo = Uuid::new_v4();
    let items: Vec<Value> = f.version["sections"][0]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    let base = |rev| full_audit(id, rev, f.assignment, &f.version, f.store_at);
    let rev1 = with_photo(base(1), photo, &items[0], &"aa".repeat(32));
    let rev2 = with_photo(base(2), photo, &items[1], &"bb".repeat(32));
    for rev in [rev1, rev2] {
        let (_, reply) = app.push(&f.auditor_token, vec![rev]).await;
        assert_eq!(outcome(&reply, 0), "accepted", "{reply}");
    }
    let (_, detail) = app.get(&format!("/api/v1/audits/{id}"), &f.hq).await;
    let photos = detail["photos"].as_array().expect("photos");
    assert_eq!(photos.len(), 1, "{detail}");
    assert_eq!(photos[0]["sha256"], "bb".repeat(32), "revision 2's file");
    assert_eq!(photos[0]["item_id"], items[1], "revision 2's item");
    assert_eq!(photos[0]["state"], "pending_upload");
    let stored = storecheck_server::db::audits::photos(&app.state.db, id, 1)
        .await
        .expect("read");
    assert_eq!(stored.len(), 1, "revision 1's manifest is kept");
    assert_eq!(stored[0].sha256, "aa".repeat(32));

    // Another audit may not list the same photo id; the rest of it is fine.
    let other = with_photo(
        full_audit(Uuid::new_v4(), 1, f.assignment, &f.version, f.store_at),
        photo,
        &items[0],
        &"cc".repeat(32),
    );
    let (_, reply) = app.push(&f.auditor_token, vec![other.clone()]).await;
    assert_eq!(outcome(&reply, 0), "rejected", "{reply}");
    assert_eq!(error_fields(&reply, 0), ["photos[0].id"]);
    assert_eq!(
        app.count("/api/v1/audits", &f.hq).await,
        1,
        "nothing half-stored"
    );
    let fixed = with_photo(other, Uuid::new_v4(), &items[0], &"cc".repeat(32));
    let (_, reply) = app.push(&f.auditor_token, vec![fixed]).await;
    assert_eq!(outcome(&reply, 0), "accepted", "{reply}");
}

#[tokio::test]
async fn work_under_a_past_assignment_is_accepted_whatever_the_change_log_holds() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    app.create_user_directly("bea@test.example", Role::Auditor, vec![f.region])
        .await;
    let bea = app.login("bea@test.example").await.access;
    let (_, bea_user) = app.get("/api/v1/me", &bea).await;
    let (s, b) = app
        .patch(
            &format!("/api/v1/assignments/{}", f.assignment),
            &f.hq,
            json!({"auditor_id": bea_user["id"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // The change log may be compacted; authorisation must not rest on it.
    sync_changes::Entity::delete_many()
        .exec(&app.state.db)
        .await
        .expect("empty the change log");
    let audit = full_audit(Uuid::new_v4(), 1, f.assignment, &f.version, f.store_at);
    let (_, reply) = app.push(&f.auditor_token, vec![audit]).await;
    assert_eq!(outcome(&reply, 0), "accepted", "{reply}");
    assert!(
        result(&reply, 0)["current"]["flags"]
            .as_array()
            .expect("flags")
            .contains(&json!("assignment_reassigned")),
        "{reply}"
    );
}

#[tokio::test]
async fn push_replies_never_tell_whose_an_id_is() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let id = Uuid::new_v4();
    let (_, reply) = app
        .push(
            &f.auditor_token,
            vec![full_audit(id, 1, f.assignment, &f.version, f.store_at)],
        )
        .await;
    assert_eq!(outcome(&reply, 0), "accepted");
    app.create_user_directly("zed@test.example", Role::Auditor, vec![f.region])
        .await;
    let zed = app.login("zed@test.example").await.access;
    // Someone else's assignment and an assignment that does not exist.
    let (_, theirs) = app
        .push(
            &zed,
            vec![full_audit(
                Uuid::new_v4(),
                1,
                f.assignment,
                &f.version,
                f.store_at,
            )],
        )
        .await;
    let (_, unknown) = app
        .push(
            &zed,
            vec![full_audit(
                Uuid::new_v4(),
                1,
                Uuid::now_v7(),
                &f.version,
                f.store_at,
            )],
        )
        .await;
    assert_eq!(outcome(&theirs, 0), "rejected");
    assert_eq!(result(&theirs, 0)["errors"], result(&unknown, 0)["errors"]);
    // An audit id of someone else's: the same words as for an assignment
    // mismatch of one's own.
    let (s, b) = app
        .assign(
            &f.hq,
            f.store,
            app_user(&app, &zed).await,
            f.catalog.version,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let zed_assignment = id_of(&b);
    let (_, taken) = app
        .push(
            &zed,
            vec![full_audit(id, 1, zed_assignment, &f.version, f.store_at)],
        )
        .await;
    let other_store = app.create_store(&f.hq, "N-2", f.region).await;
    let (_, b) = app
        .assign(&f.hq, other_store, f.auditor, f.catalog.version)
        .await;
    let (_, moved) = app
        .push(
            &f.auditor_token,
            vec![full_audit(id, 2, id_of(&b), &f.version, f.store_at)],
        )
        .await;
    assert_eq!(outcome(&taken, 0), "rejected", "{taken}");
    assert_eq!(
        result(&taken, 0)["errors"],
        result(&moved, 0)["errors"],
        "{taken} {moved}"
    );
}

async fn app_user(app: &TestApp, token: &str) -> Uuid {
    let (_, me) = app.get("/api/v1/me", token).await;
    id_of(&me)
}

#[tokio::test]
async fn the_first_pull_is_paged_too() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let mut all = BTreeSet::from([f.assignment]);
    for i in 0..4 {
        let store = app
            .create_store(&f.hq, &format!("N-{}", i + 2), f.region)
            .await;
        let (s, b) = app.assign(&f.hq, store, f.auditor, f.catalog.version).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        all.insert(id_of(&b));
    }
    let mut got = Vec::new();
    let mut path = "/api/v1/sync/pull?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let (s, page) = app.get(&path, &f.auditor_token).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        pages += 1;
        let items = page["assignments"].as_array().expect("assignments");
        assert!(items.len() <= 2, "{page}");
        got.extend(items.iter().map(id_of));
        let cursor = page["cursor"].as_str().expect("cursor");
        path = format!("/api/v1/sync/pull?limit=2&cursor={cursor}");
        if page["has_more"] == false {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(got.len(), 5, "none twice");
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), all);
    // The last page's cursor continues with deltas: nothing new yet.
    let (_, next) = app.get(&path, &f.auditor_token).await;
    assert_eq!(next["assignments"], json!([]), "{next}");
}

/// A phone's view of its assignments, kept by applying pulls.
struct Phone {
    token: String,
    cursor: Option<String>,
    held: BTreeSet<Uuid>,
}

impl Phone {
    async fn sync(&mut self, app: &TestApp) {
        loop {
            let path = match &self.cursor {
                None => "/api/v1/sync/pull".to_owned(),
                Some(c) => format!("/api/v1/sync/pull?cursor={c}"),
            };
            let (s, page) = app.get(&path, &self.token).await;
            assert_eq!(s, StatusCode::OK, "{page}");
            for a in page["assignments"].as_array().expect("assignments") {
                self.held.insert(id_of(a));
            }
            for r in page["removed_assignments"].as_array().expect("removed") {
                self.held
                    .remove(&r.as_str().expect("id").parse().expect("uuid"));
            }
            self.cursor = page["cursor"].as_str().map(str::to_owned);
            if page["has_more"] == false {
                break;
            }
        }
    }
}

#[tokio::test]
async fn concurrent_reassignments_leave_no_phone_holding_a_dead_assignment() {
    let app = TestApp::spawn().await;
    let f = app.field().await;
    let mut phones = Vec::new();
    let mut ids = Vec::new();
    for name in ["bea", "cal"] {
        let email = format!("{name}@test.example");
        ids.push(
            app.create_user_directly(&email, Role::Auditor, vec![f.region])
                .await,
        );
        phones.push(Phone {
            token: app.login(&email).await.access,
            cursor: None,
            held: BTreeSet::new(),
        });
    }
    for round in 0..15 {
        let store = app
            .create_store(&f.hq, &format!("R-{round}"), f.region)
            .await;
        let (s, b) = app.assign(&f.hq, store, f.auditor, f.catalog.version).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let assignment = id_of(&b);
        let patch = |to: Uuid| {
            let client = app.client.clone();
            let url = app.url(&format!("/api/v1/assignments/{assignment}"));
            let token = f.hq.clone();
            tokio::spawn(async move {
                client
                    .patch(url)
                    .bearer_auth(token)
                    .json(&json!({"auditor_id": to}))
                    .send()
                    .await
                    .expect("sent")
                    .status()
            })
        };
        let (a, b) = (patch(ids[0]), patch(ids[1]));
        // Both phones pull while the two changes race.
        for p in &mut phones {
            p.sync(&app).await;
        }
        assert_eq!(a.await.expect("task"), StatusCode::OK);
        assert_eq!(b.await.expect("task"), StatusCode::OK);
        for p in &mut phones {
            p.sync(&app).await;
        }
        let (_, row) = app
            .get(&format!("/api/v1/assignments/{assignment}"), &f.hq)
            .await;
        let owner = id_of(&json!({"id": row["auditor_id"]}));
        for (p, id) in phones.iter().zip(&ids) {
            assert_eq!(
                p.held.contains(&assignment),
                *id == owner,
                "round {round}: a phone's assignments match the server's"
            );
        }
    }
}
