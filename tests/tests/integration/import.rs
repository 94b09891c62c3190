//! CSV store import: all rows or none, every bad cell reported by line and column.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

async fn import(app: &TestApp, token: &str, csv: &str) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.url("/api/v1/stores/import"))
        .bearer_auth(token)
        .header("content-type", "text/csv; charset=utf-8")
        .body(csv.to_owned())
        .send()
        .await
        .expect("sent");
    into_json(res).await
}

#[tokio::test]
async fn a_good_file_imports_every_row() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await.access;
    let north = app.create_region(&hq, "north").await;
    let south = app.create_region(&hq, "south").await;
    // Columns in another order, a byte-order mark, quoting, a region by id.
    let csv = format!(
        "\u{feff}name,code,region_code,address,latitude,longitude,timezone,region_id\n\
         \"Nanjing Rd, flagship\",SH-001,north,\"1 Nanjing Rd, Shanghai\",31.2304,121.4737,Asia/Shanghai,\n\
         Tianhe,GZ-001,,88 Tianhe Rd,23.1291,113.2644,Asia/Shanghai,{south}\n"
    );
    let (s, body) = import(&app, &hq, &csv).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["imported"], 2);
    let (_, list) = app.get("/api/v1/stores", &hq).await;
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    let sh = items
        .iter()
        .find(|s| s["code"] == "SH-001")
        .expect("SH-001");
    assert_eq!(sh["name"], "Nanjing Rd, flagship");
    assert_eq!(sh["region_id"], north.to_string());
    let gz = items
        .iter()
        .find(|s| s["code"] == "GZ-001")
        .expect("GZ-001");
    assert_eq!(gz["region_id"], south.to_string());
}

#[tokio::test]
async fn a_file_with_bad_rows_stores_nothing_and_names_each_cell() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await.access;
    let north = app.create_region(&hq, "north").await;
    app.create_store(&hq, "TAKEN", north).await;
    let csv = "code,name,address,latitude,longitude,timezone,region_code\n\
               OK-1,Fine,1 Road,31.2,121.4,Asia/Shanghai,north\n\
               OK-2,Bad lat,1 Road,95,121.4,Asia/Shanghai,north\n\
               OK-3,Bad zone,1 Road,31.2,abc,Nowhere/City,north\n\
               TAKEN,Dup,1 Road,31.2,121.4,Asia/Shanghai,north\n\
               OK-1,Again,1 Road,31.2,121.4,Asia/Shanghai,north\n\
               OK-6,No region,1 Road,31.2,121.4,Asia/Shanghai,west\n";
    let (s, body) = import(&app, &hq, csv).await;
    let details = assert_error(s, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_rows");
    let got: Vec<(u64, String)> = details
        .iter()
        .map(|d| {
            (
                d["line"].as_u64().expect("line"),
                d["field"].as_str().expect("field").to_owned(),
            )
        })
        .collect();
    let want: Vec<(u64, String)> = [
        (3, "latitude"),
        (4, "longitude"),
        (4, "timezone"),
        (5, "code"),
        (6, "code"),
        (7, "region_code"),
    ]
    .iter()
    .map(|(l, f)| (*l, (*f).to_owned()))
    .collect();
    assert_eq!(got, want, "{body}");
    assert_eq!(
        app.count("/api/v1/stores", &hq).await,
        1,
        "only the store made before"
    );
}

#[tokio::test]
async fn missing_columns_empty_files_and_wrong_types_are_refused() {
    let app = TestApp::spawn().await;
    let hq = app.hq().await.access;
    let (s, body) = import(&app, &hq, "code,name\nA,B\n").await;
    let details = assert_error(s, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_rows");
    assert_eq!(
        fields(&details),
        [
            "address",
            "latitude",
            "longitude",
            "timezone",
            "region_code"
        ]
    );

    let (s, body) = import(
        &app,
        &hq,
        "code,name,address,latitude,longitude,timezone,region_code\n",
    )
    .await;
    assert_error(s, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_rows");

    // A column named twice: refused with the line and the column.
    let (s, body) = import(
        &app,
        &hq,
        "code,name,address,latitude,longitude,timezone,region_code,Name\n\
         A,B,C,31.2,121.4,Asia/Shanghai,north,D\n",
    )
    .await;
    let details = assert_error(s, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid_rows");
    assert_eq!(fields(&details), ["name"]);
    assert_eq!(details[0]["line"], 1, "{body}");
    assert!(
        details[0]["message"]
            .as_str()
            .expect("message")
            .contains("column 8"),
        "{body}"
    );
    assert_eq!(app.count("/api/v1/stores", &hq).await, 0, "nothing stored");

    let res = app
        .client
        .post(app.url("/api/v1/stores/import"))
        .bearer_auth(&hq)
        .json(&serde_json::json!({"code": "x"}))
        .send()
        .await
        .expect("sent");
    let (s, body) = into_json(res).await;
    assert_error(
        s,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    assert_eq!(app.count("/api/v1/stores", &hq).await, 0);
}
