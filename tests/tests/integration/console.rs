//! The web console: sign-in and its refusals, scope, CSRF, languages and
//! HQ's import over HTTP; and the whole review round in a real headless
//! Chromium (skipped, loudly, where Chromium is not installed; required
//! when `STORECHECK_REQUIRE_BROWSER` is set, as in CI).

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use storecheck_shared::Role;
use storecheck_shared::compliance::points;
use storecheck_shared::sync::GeoPoint;
use storecheck_tests::client::PhoneClient;
use storecheck_tests::images::{self, View};
use storecheck_tests::webdriver::{self, Browser, Driver};
use uuid::Uuid;

use crate::helpers::*;
use crate::programme::{A, AUDITOR, MANAGER, Programme};

const OTHER_MANAGER: &str = "sam@test.example";

/// A browser without a browser: cookies kept by hand, redirects not followed.
struct Visitor {
    base: String,
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
    lang: &'static str,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    set_cookies: Vec<String>,
    content_type: String,
    body: String,
}

/// A form's fields as `application/x-www-form-urlencoded`.
fn form_body(form: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://form.invalid/").expect("url");
    url.query_pairs_mut().extend_pairs(form);
    url.query().unwrap_or("").to_owned()
}

/// The value of a hidden `csrf` field of a page.
fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a csrf field")
        .to_owned()
}

impl Visitor {
    fn new(app: &TestApp) -> Visitor {
        Visitor {
            base: app.base.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: Vec::new(),
            lang: "en-GB,en;q=0.9",
        }
    }

    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let header: String = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut req = req.header("accept-language", self.lang);
        if !header.is_empty() {
            req = req.header(COOKIE, header);
        }
        let res = req.send().await.expect("request");
        let set_cookies: Vec<String> = res
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        for c in &set_cookies {
            let pair = c.split(';').next().unwrap_or("");
            let (k, v) = pair.split_once('=').expect("name=value");
            self.cookies.retain(|(n, _)| n != k);
            if !v.is_empty() && !c.contains("Max-Age=0") {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
        Page {
            status: res.status(),
            location: res
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            content_type: res
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            set_cookies,
            body: res.text().await.expect("body"),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form_body(form));
        self.send(req).await
    }

    async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        let form = self.get("/login").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let csrf = csrf_of(&form.body);
        self.post(
            "/login",
            &[
                ("csrf", &csrf),
                ("email", email),
                ("password", password),
                ("next", "/audits"),
            ],
        )
        .await
    }

    /// The CSRF token of this session's forms (read from a page).
    async fn csrf(&mut self) -> String {
        let p = self.get("/audits").await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.body);
        csrf_of(&p.body)
    }
}

/// A submitted audit of a north store, a second manager for the south.
async fn north_audit() -> (Programme, Uuid, Uuid) {
    let p = Programme::new().await;
    let store = p.store("N-1", "Store N-1", p.north).await;
    let audit = p
        .submit(store, &p.version, [A::Yes, A::Scale(2), A::No, A::Count(1)])
        .await;
    p.app
        .create_user_directly(OTHER_MANAGER, Role::RegionalManager, vec![p.south])
        .await;
    (p, store, audit)
}

#[tokio::test]
async fn signing_in_keeps_auditors_and_strangers_out() {
    let (p, _, _) = north_audit().await;
    let mut v = Visitor::new(&p.app);

    let page = v.get("/audits?status=submitted").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        page.location.as_deref(),
        Some("/login?next=%2Faudits%3Fstatus%3Dsubmitted")
    );

    // The sign-in form's token is bound to its own cookie: a form posted
    // without it (from another site) is refused.
    let form = v.get("/login").await;
    let csrf = csrf_of(&form.body);
    let mut stranger = Visitor::new(&p.app);
    let forged = stranger
        .post(
            "/login",
            &[("csrf", &csrf), ("email", MANAGER), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(
        forged.body.contains("The sign-in form had expired"),
        "{}",
        forged.body
    );
    assert!(stranger.cookie("storecheck_session").is_none());

    let wrong = v.sign_in(MANAGER, "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.content_type.starts_with("text/html"));
    assert!(
        wrong.body.contains("Wrong e-mail address or password."),
        "{}",
        wrong.body
    );
    assert!(v.cookie("storecheck_session").is_none());

    let auditor = v.sign_in(AUDITOR, PASSWORD).await;
    assert_eq!(auditor.status, StatusCode::FORBIDDEN);
    assert!(auditor.body.contains("phone app"), "{}", auditor.body);
    assert!(v.cookie("storecheck_session").is_none());

    let ok = v.sign_in(MANAGER, PASSWORD).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(ok.location.as_deref(), Some("/audits"));
    let session = ok
        .set_cookies
        .iter()
        .find(|c| c.starts_with("storecheck_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Strict"), "{session}");
    let queue = v.get("/audits").await;
    assert_eq!(queue.status, StatusCode::OK);
    assert!(queue.body.contains(MANAGER));

    // Signing out ends the session itself: the old cookie no longer works.
    let old = v.cookie("storecheck_session").expect("cookie").to_owned();
    let csrf = v.csrf().await;
    let out = v.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(v.cookie("storecheck_session").is_none());
    v.cookies.push(("storecheck_session".into(), old));
    let again = v.get("/audits").await;
    assert_eq!(
        again.status,
        StatusCode::SEE_OTHER,
        "a signed-out session still works"
    );
}

#[tokio::test]
async fn managers_see_only_their_regions_and_forms_need_their_token() {
    let (p, store, audit) = north_audit().await;
    let mut north = Visitor::new(&p.app);
    assert_eq!(
        north.sign_in(MANAGER, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let mut south = Visitor::new(&p.app);
    assert_eq!(
        south.sign_in(OTHER_MANAGER, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );

    let queue = north.get("/audits").await;
    assert!(
        queue.body.contains(&format!("data-audit=\"{audit}\"")),
        "{}",
        queue.body
    );
    let page = north.get(&format!("/audits/{audit}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("STD-GREET"));

    // The other region's manager: nothing in the queue, and the audit, the
    // store's compliance and a made-up id are the same 404.
    let queue = south.get("/audits").await;
    assert_eq!(queue.status, StatusCode::OK);
    assert!(!queue.body.contains(&audit.to_string()));
    assert!(queue.body.contains("No audits match."));
    for path in [
        format!("/audits/{audit}"),
        format!("/compliance/stores/{store}"),
        format!("/compliance?region={}", p.north),
        format!("/compliance/summary.csv?region={}", p.north),
        format!("/compliance/summary.xlsx?region={}", p.north),
        format!("/audits/{}", Uuid::now_v7()),
        "/audits/not-an-id".to_owned(),
    ] {
        let page = south.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.content_type.starts_with("text/html"), "{path}");
        assert!(!page.body.contains("Store N-1"), "{path}");
    }
    let page = south.get("/compliance").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("N-1"), "another region's store listed");
    // HQ's pages are HQ's.
    assert_eq!(south.get("/hq/stores").await.status, StatusCode::FORBIDDEN);

    // A form posted without this session's token changes nothing.
    let review = format!("/audits/{audit}/review");
    let forged = north
        .post(
            &review,
            &[("action", "reject"), ("revision", "1"), ("comment", "x")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
    assert!(forged.body.contains("CSRF"), "{}", forged.body);
    let other_token = south.csrf().await;
    let forged = north
        .post(
            &review,
            &[
                ("csrf", &other_token),
                ("action", "reject"),
                ("revision", "1"),
                ("comment", "x"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let detail = p.detail(&p.hq, audit).await;
    assert_eq!(
        detail["status"], "submitted",
        "a forged form changed the audit"
    );

    // The south manager's own token is no key to a north audit either.
    let theirs = south
        .post(
            &review,
            &[
                ("csrf", &other_token),
                ("action", "reject"),
                ("revision", "1"),
                ("comment", "x"),
            ],
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);

    // With the token: a return without its comment is refused with the
    // reason, on the page; then a real return.
    let csrf = north.csrf().await;
    let bare = north
        .post(
            &review,
            &[("csrf", &csrf), ("action", "return"), ("revision", "1")],
        )
        .await;
    assert_eq!(bare.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bare.body.contains("class=\"problem\""), "{}", bare.body);
    let stale = north
        .post(
            &review,
            &[
                ("csrf", &csrf),
                ("action", "return"),
                ("revision", "7"),
                ("comment", "photo?"),
            ],
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    let done = north
        .post(
            &review,
            &[
                ("csrf", &csrf),
                ("action", "return"),
                ("revision", "1"),
                ("comment", "photo?"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/audits/{audit}?done=return").as_str())
    );
    let detail = p.detail(&p.hq, audit).await;
    assert_eq!(detail["status"], "returned");
    assert_eq!(detail["review_comment"], "photo?");

    // A correction through the console form is the API's override.
    let store2 = p.store("N-2", "Store N-2", p.north).await;
    let second = p
        .submit(
            store2,
            &p.version,
            [A::Yes, A::Scale(2), A::No, A::Count(1)],
        )
        .await;
    let smile = Programme::items(&p.version)["SMILE"].to_string();
    let fixed = north
        .post(
            &format!("/audits/{second}/review"),
            &[
                ("csrf", &csrf),
                ("action", "override"),
                ("revision", "1"),
                ("item_id", &smile),
                ("value", "4"),
                ("reason", "the photo shows a smile"),
            ],
        )
        .await;
    assert_eq!(fixed.status, StatusCode::SEE_OTHER, "{}", fixed.body);
    let detail = p.detail(&p.hq, second).await;
    let answer = detail["answers"]
        .as_array()
        .expect("answers")
        .iter()
        .find(|a| a["item_code"] == "SMILE")
        .expect("SMILE")
        .clone();
    assert_eq!(answer["override"]["value"], 4, "{answer}");
    assert_eq!(answer["value"], 2, "the phone's answer is kept");
    let page = north.get(&format!("/audits/{second}")).await;
    assert!(page.body.contains("the photo shows a smile"));
}

#[tokio::test]
async fn pages_speak_the_readers_language_and_errors_are_pages() {
    let (p, _, _) = north_audit().await;
    let mut v = Visitor::new(&p.app);
    v.lang = "zh-CN,zh;q=0.9,en;q=0.5";
    assert_eq!(
        v.sign_in(MANAGER, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let queue = v.get("/audits").await;
    assert!(
        queue.body.contains("<html lang=\"zh-Hans\">"),
        "{}",
        queue.body
    );
    assert!(queue.body.contains("审核队列"));
    // The switch wins over the browser's language, and comes back here.
    let switch = v.get("/lang/en?next=%2Fcompliance").await;
    assert_eq!(switch.status, StatusCode::SEE_OTHER);
    assert_eq!(switch.location.as_deref(), Some("/compliance"));
    let page = v.get("/compliance").await;
    assert!(page.body.contains("<html lang=\"en\">"));
    assert!(page.body.contains("Stores per band"));
    // It never sends anyone to another site.
    let away = v.get("/lang/zh?next=%2F%2Fevil.example%2F").await;
    assert_eq!(away.location.as_deref(), Some("/audits"));

    for (path, status, text) in [
        (
            "/audits?status=lost",
            StatusCode::BAD_REQUEST,
            "unknown status",
        ),
        (
            "/audits?quarter=2026-Q9",
            StatusCode::BAD_REQUEST,
            "quarter",
        ),
        ("/compliance?sort=colour", StatusCode::BAD_REQUEST, "sort"),
        (
            "/actions?region=north",
            StatusCode::BAD_REQUEST,
            "region must be a UUID",
        ),
        (
            "/compliance/stores/not-a-store",
            StatusCode::NOT_FOUND,
            "404",
        ),
    ] {
        let page = v.get(path).await;
        assert_eq!(page.status, status, "{path}: {}", page.body);
        assert!(page.content_type.starts_with("text/html"), "{path}");
        assert!(page.body.contains(text), "{path}: {}", page.body);
    }
    let form = v
        .send(
            v.http
                .post(format!("{}/logout", v.base))
                .header(CONTENT_TYPE, "application/json")
                .body("{}"),
        )
        .await;
    assert_eq!(form.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn head_office_imports_stores_all_or_nothing() {
    let (p, _, _) = north_audit().await;
    let mut hq = Visitor::new(&p.app);
    assert_eq!(
        hq.sign_in(HQ_EMAIL, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let csrf = hq.csrf().await;
    let header = "code,name,address,latitude,longitude,timezone,region_code";
    let bad = format!(
        "{header}\nS-9,Store S-9,1 Road,31.2,121.4,Asia/Shanghai,south\nS-10,Store S-10,2 Road,95,121.4,Asia/Shanghai,nowhere\n"
    );
    let page = hq
        .post("/hq/stores/import", &[("csrf", &csrf), ("csv", &bad)])
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"import-problems\""));
    assert!(page.body.contains("nowhere"), "the bad region is named");
    assert!(page.body.contains("S-9"), "the pasted text is kept to fix");
    assert_eq!(p.app.count("/api/v1/stores?q=S-9", &p.hq).await, 0);

    let good = format!(
        "{header}\nS-9,Store S-9,1 Road,31.2,121.4,Asia/Shanghai,south\nS-10,Store S-10,2 Road,31.3,121.4,Asia/Shanghai,south\n"
    );
    let page = hq
        .post("/hq/stores/import", &[("csrf", &csrf), ("csv", &good)])
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Stores imported. (2)"), "{}", page.body);
    assert_eq!(p.app.count("/api/v1/stores?q=S-", &p.hq).await, 2);
    for tab in ["/hq/regions", "/hq/users", "/hq/checklists"] {
        let page = hq.get(tab).await;
        assert_eq!(page.status, StatusCode::OK, "{tab}");
        assert!(page.body.contains("/docs/"), "{tab} links the API docs");
    }
    assert!(hq.get("/hq/users").await.body.contains(OTHER_MANAGER));
    assert!(
        hq.get("/hq/checklists")
            .await
            .body
            .contains("Service audit")
    );
}

// ---- in a real browser ------------------------------------------------------

/// Where the screenshots go (beside the build, not committed).
fn screenshot_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("console-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

async fn save_screenshot(b: &Browser, name: &str, width: u32) {
    let png = b.screenshot().await.expect("screenshot");
    let img = image::load_from_memory(&png).expect("a PNG");
    assert_eq!(img.width(), width, "{name} at the window's width");
    std::fs::write(screenshot_dir().join(name), png).expect("write screenshot");
}

async fn browser_sign_in(b: &Browser, base: &str, email: &str) {
    b.goto(&format!("{base}/audits")).await.expect("open");
    let email_box = b.wait_for("#email").await.expect("the sign-in form");
    assert!(b.current_url().await.expect("url").contains("/login?next="));
    b.type_into(&email_box, email).await.expect("email");
    let pw = b.find("#password").await.expect("password");
    b.type_into(&pw, PASSWORD).await.expect("password");
    let submit = b
        .find("form.card button[type=submit]")
        .await
        .expect("button");
    b.click(&submit).await.expect("sign in");
    b.wait_for("nav.counts")
        .await
        .expect("the queue after sign-in");
}

/// Wait until every photo of the audit is processed (its thumbnail made).
async fn processed(app: &TestApp, hq: &str, audit: Uuid) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (s, d) = app.get(&format!("/api/v1/audits/{audit}"), hq).await;
        assert_eq!(s, StatusCode::OK, "{d}");
        let photos = d["photos"].as_array().expect("photos");
        if !photos.is_empty() && photos.iter().all(|p| p["state"] == "processed") {
            return d;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "photos not processed: {d}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_manager_reviews_an_audit_round_trip_in_a_browser() {
    let Some((chromium, chromedriver)) = webdriver::installed() else {
        assert!(
            std::env::var_os("STORECHECK_REQUIRE_BROWSER").is_none(),
            "STORECHECK_REQUIRE_BROWSER is set but chromium and chromedriver are not installed"
        );
        eprintln!(
            "\n*** SKIPPED a_manager_reviews_an_audit_round_trip_in_a_browser: install chromium and chromium-driver (apt-get install -y chromium chromium-driver) to run the console in a real browser ***\n"
        );
        return;
    };
    let (p, store, first) = north_audit().await;
    // The first audit of N-1 is approved already (it fails some standards).
    p.approve(first).await;
    let base = p.app.base.clone();
    let quarter = this_quarter().to_string();

    // The auditor visits N-1 with the phone: checks in 3 km away (an
    // evidence flag), answers everything, photographs the greeting.
    let tmp = tempfile::tempdir().expect("tmp");
    let phone = PhoneClient::open(&tmp.path().join("phone.db"), &base, AUDITOR, PASSWORD)
        .await
        .expect("phone");
    let n1_assignment = p.assignment(store, &p.version).await;
    phone.pull().await.expect("pull");
    let assignment = phone
        .assignments()
        .await
        .expect("assignments")
        .into_iter()
        .find(|a| a.id == n1_assignment)
        .expect("the N-1 assignment on the phone");
    let audit = phone
        .start_audit(
            &assignment,
            GeoPoint {
                latitude: 31.2574,
                longitude: 121.4737,
                accuracy_m: Some(10.0),
            },
        )
        .await
        .expect("start");
    phone.answer_all_passing(audit).await.expect("answers");
    let greet = Programme::items(&p.version)["GREET"];
    let shelf = images::jpeg(&images::shelf(7, 1200, 900, View::default()), 85, None);
    phone
        .attach_photo(audit, greet, shelf, "image/jpeg")
        .await
        .expect("photo");
    phone.finish(audit).await.expect("finish");
    assert_eq!(phone.push().await.expect("push").accepted, 1);
    let report = phone.upload_photos().await.expect("upload");
    assert_eq!(report.left, 0, "{report:?}");
    processed(&p.app, &p.hq, audit).await;

    let driver = Driver::start(&chromium, &chromedriver)
        .await
        .expect("chromedriver");
    let b = driver.browser(1280, 1000).await.expect("a browser");

    // The manager signs in; the first key press reaches the skip link.
    browser_sign_in(&b, &base, MANAGER).await;
    b.execute(
        "document.activeElement && document.activeElement.blur(); window.focus();",
        vec![],
    )
    .await
    .expect("blur");
    b.press_tab().await.expect("tab");
    let focused = b
        .execute("return document.activeElement.className", vec![])
        .await
        .expect("focus");
    assert_eq!(focused, json!("skip"), "Tab first reaches the skip link");

    // Filters the queue to submitted audits (the page swaps in place and
    // the address keeps the filter) and opens the audit.
    let option = b
        .find("#f-status option[value=submitted]")
        .await
        .expect("status option");
    b.click(&option).await.expect("choose");
    let apply = b.find("#apply-filters").await.expect("apply");
    b.click(&apply).await.expect("filter");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !b
        .current_url()
        .await
        .expect("url")
        .contains("status=submitted")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the filter is not in the address"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    b.wait_until(".count[aria-current=true]", |t| t.starts_with("Submitted"))
        .await
        .expect("the swapped results");
    let row = b
        .wait_for(&format!("tr[data-audit=\"{audit}\"] a"))
        .await
        .expect("the audit in the filtered queue");
    let rows = b.find_all("table.queue tbody tr").await.expect("rows");
    assert_eq!(rows.len(), 1, "the one submitted audit of the north");
    save_screenshot(&b, "queue-desktop.png", 1280).await;
    b.click(&row).await.expect("open the audit");
    b.wait_for("#audit-status").await.expect("the audit page");

    // Sees the photo (the thumbnail from the photo store) and the flag.
    let loaded = b
        .execute(
            "const done = () => [...document.querySelectorAll('figure.photo img')]; \
             return done().length > 0 && done().every(i => i.complete && i.naturalWidth > 0) \
                 ? done().map(i => i.naturalWidth) : null;",
            vec![],
        )
        .await
        .expect("script");
    let mut widths = loaded;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while widths.is_null() {
        assert!(
            std::time::Instant::now() < deadline,
            "the thumbnail never loaded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        widths = b
            .execute(
                "const i = [...document.querySelectorAll('figure.photo img')]; \
                 return i.length > 0 && i.every(x => x.complete && x.naturalWidth > 0) ? i.map(x => x.naturalWidth) : null;",
                vec![],
            )
            .await
            .expect("script");
    }
    assert_eq!(widths.as_array().map(Vec::len), Some(1), "{widths}");
    let review_link = b.find("figure.photo a").await.expect("link");
    let href = b
        .attribute(&review_link, "href")
        .await
        .expect("href")
        .expect("a link to the review size");
    let big = reqwest::get(&href).await.expect("review size");
    assert_eq!(big.status(), StatusCode::OK);
    let flags = b
        .text(&b.find("#audit-flags").await.expect("flags"))
        .await
        .expect("text");
    assert!(flags.contains("Check-in far from the store"), "{flags}");
    let text = b.page_text().await.expect("text");
    assert!(text.contains("STD-GREET"));
    b.set_window(1280, 1400).await.expect("taller");
    save_screenshot(&b, "audit-desktop.png", 1280).await;
    b.set_window(1280, 1000).await.expect("desktop size");

    b.set_window(390, 844).await.expect("phone size");
    let inner = b
        .execute("return window.innerWidth", vec![])
        .await
        .expect("width")
        .as_u64()
        .expect("number") as u32;
    save_screenshot(&b, "audit-phone.png", inner).await;
    b.set_window(1280, 1000).await.expect("desktop size");

    // A form forged into the page without the session's token is refused
    // and changes nothing.
    b.execute(
        "const f = document.createElement('form'); f.method = 'post'; \
         f.action = arguments[0]; \
         for (const [k, v] of [['action', 'reject'], ['revision', '1'], ['comment', 'forged']]) { \
           const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i); } \
         document.body.appendChild(f); f.submit();",
        vec![json!(format!("/audits/{audit}/review"))],
    )
    .await
    .expect("forge");
    let code = b
        .wait_until("p.status-code", |t| t == "403")
        .await
        .expect("the forged form refused");
    assert_eq!(b.text(&code).await.expect("text"), "403");
    assert_eq!(p.detail(&p.hq, audit).await["status"], "submitted");
    b.goto(&format!("{base}/audits/{audit}"))
        .await
        .expect("back");
    b.wait_for("#audit-status").await.expect("the audit page");

    // Returns it with a comment.
    let comment = "Please photograph the greeting desk, not the shelf";
    b.click(
        &b.find("input[name=action][value=return]")
            .await
            .expect("return"),
    )
    .await
    .expect("choose return");
    let box_ = b.find("#review-comment").await.expect("comment");
    b.type_into(&box_, comment).await.expect("type");
    b.click(&b.find("#submit-review").await.expect("submit"))
        .await
        .expect("send");
    b.wait_until("#audit-status", |t| t == "Returned")
        .await
        .expect("returned");
    let notice = b
        .text(&b.find("p.notice").await.expect("notice"))
        .await
        .expect("text");
    assert_eq!(notice, "Returned to the auditor.");

    // The phone hears of it and sends revision 2.
    phone.pull().await.expect("pull");
    let state = phone
        .review_state(audit)
        .await
        .expect("state")
        .expect("reviewed");
    assert_eq!(state.status, storecheck_shared::sync::AuditStatus::Returned);
    assert_eq!(state.review_comment.as_deref(), Some(comment));
    phone.edit(audit).await.expect("edit");
    let smile = Programme::items(&p.version)["SMILE"];
    phone
        .answer(audit, smile, Some(json!(3)))
        .await
        .expect("answer");
    phone.finish(audit).await.expect("finish");
    assert_eq!(phone.push().await.expect("push").accepted, 1);

    // The manager sees revision 2 and approves it.
    b.goto(&format!("{base}/audits/{audit}"))
        .await
        .expect("reload");
    b.wait_until("#audit-revision", |t| t == "2")
        .await
        .expect("revision 2");
    let history = b
        .text(&b.find("#history").await.expect("log"))
        .await
        .expect("text");
    assert!(
        history.contains("Resubmitted") && history.contains("Returned"),
        "{history}"
    );
    b.click(
        &b.find("input[name=action][value=approve]")
            .await
            .expect("approve"),
    )
    .await
    .expect("choose approve");
    b.click(&b.find("#submit-review").await.expect("submit"))
        .await
        .expect("send");
    b.wait_until("#audit-status", |t| t == "Approved")
        .await
        .expect("approved");

    // The compliance page and both downloads show the new figure.
    let (s, rows) = p
        .app
        .get(
            &format!(
                "/api/v1/compliance/stores?quarter={quarter}&region_id={}",
                p.north
            ),
            &p.manager_token,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{rows}");
    let n1 = rows["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["store_code"] == "N-1")
        .expect("N-1")
        .clone();
    let score = n1["score"].as_i64().expect("N-1 is scored now");
    b.goto(&format!(
        "{base}/compliance?quarter={quarter}&region={}",
        p.north
    ))
    .await
    .expect("compliance");
    let cell = b
        .wait_for("tr[data-store=\"N-1\"] td.score")
        .await
        .expect("N-1 row");
    assert_eq!(b.text(&cell).await.expect("text"), points(score));
    b.find("#chart-bands").await.expect("stores per band");
    b.find("#chart-dimensions")
        .await
        .expect("dimensions against the target");
    // The Pareto chart has a bar per failed standard, as the API counts them.
    let (s, items) = p
        .app
        .get(
            &format!(
                "/api/v1/compliance/items?quarter={quarter}&region_id={}",
                p.north
            ),
            &p.manager_token,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{items}");
    let failed: Vec<&Value> = items["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["failed"].as_i64() > Some(0))
        .collect();
    assert!(
        !failed.is_empty(),
        "the first audit failed standards: {items}"
    );
    let bars = b
        .find_all("#chart-pareto g.bar")
        .await
        .expect("Pareto bars");
    assert_eq!(bars.len(), failed.len().min(12));
    let table = b
        .text(&b.find("#failures").await.expect("failures"))
        .await
        .expect("text");
    for f in &failed {
        assert!(
            table.contains(f["standard_code"].as_str().expect("code")),
            "{table}"
        );
    }
    let cookie = b
        .cookie("storecheck_session")
        .await
        .expect("cookie")
        .expect("the session cookie");
    let http = reqwest::Client::new();
    let fetch = |id: &'static str| {
        let (b, http, cookie, base) = (&b, &http, &cookie, &base);
        async move {
            let link = b.find(id).await.expect("download link");
            let href = b
                .attribute(&link, "href")
                .await
                .expect("href")
                .expect("href");
            let res = http
                .get(format!("{base}{href}"))
                .header(COOKIE, format!("storecheck_session={cookie}"))
                .send()
                .await
                .expect("download");
            assert_eq!(res.status(), StatusCode::OK, "{href}");
            res.bytes().await.expect("body").to_vec()
        }
    };
    let csv_bytes = fetch("#download-csv").await;
    let mut reader = csv::Reader::from_reader(csv_bytes.as_slice());
    let headers = reader.headers().expect("header").clone();
    let col = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let row = reader
        .records()
        .map(|r| r.expect("row"))
        .find(|r| &r[col("store_code")] == "N-1")
        .expect("N-1 in the CSV");
    assert_eq!(&row[col("score")], points(score));
    let xlsx_bytes = fetch("#download-xlsx").await;
    use calamine::{Data, Reader};
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx_bytes)).expect("a workbook");
    let sheet = book.worksheet_range("stores").expect("the stores sheet");
    let mut rows = sheet.rows();
    let head: Vec<String> = rows
        .next()
        .expect("header")
        .iter()
        .map(|c| c.to_string())
        .collect();
    let at = |name: &str| head.iter().position(|h| h == name).expect(name);
    let n1_row = rows
        .find(|r| r[at("store_code")] == Data::String("N-1".into()))
        .expect("N-1 in the workbook");
    let Data::Float(cell) = n1_row[at("score")] else {
        panic!("the score is not a number: {:?}", n1_row[at("score")]);
    };
    assert!(
        (cell * 100.0 - score as f64).abs() < 1e-6,
        "{cell} vs {score}"
    );
    save_screenshot(&b, "compliance-desktop.png", 1280).await;

    // At phone width the page itself does not scroll sideways (wide
    // tables scroll inside their box), and it is the same data.
    b.set_window(390, 844).await.expect("phone size");
    b.goto(&format!(
        "{base}/compliance?quarter={quarter}&region={}",
        p.north
    ))
    .await
    .expect("compliance");
    b.wait_for("tr[data-store=\"N-1\"]").await.expect("row");
    let width = b
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth]",
            vec![],
        )
        .await
        .expect("widths");
    assert!(
        width[0].as_i64() <= width[1].as_i64(),
        "the page is wider than the phone: {width}"
    );
    let inner = b
        .execute("return window.innerWidth", vec![])
        .await
        .expect("width")
        .as_u64()
        .expect("number") as u32;
    save_screenshot(&b, "compliance-phone.png", inner).await;
    b.set_window(1280, 1000).await.expect("desktop size");

    // The store's page shows the trend over quarters.
    b.goto(&format!(
        "{base}/compliance/stores/{store}?quarter={quarter}"
    ))
    .await
    .expect("store page");
    let s = b.wait_for("#store-score").await.expect("score");
    assert_eq!(b.text(&s).await.expect("text"), points(score));
    assert_eq!(
        b.find_all("#chart-trend circle")
            .await
            .expect("points")
            .len(),
        1
    );

    // The other region's manager sees none of it.
    b.delete_cookies().await.expect("sign out");
    browser_sign_in(&b, &base, OTHER_MANAGER).await;
    assert!(
        b.find_all(&format!("tr[data-audit=\"{audit}\"]"))
            .await
            .expect("rows")
            .is_empty()
    );
    b.goto(&format!("{base}/audits/{audit}"))
        .await
        .expect("open");
    let code = b.wait_for("p.status-code").await.expect("an error page");
    assert_eq!(b.text(&code).await.expect("text"), "404");
    b.quit().await.expect("quit");
}

#[tokio::test]
async fn corrective_actions_list_overdue_first_and_resolve_with_a_note() {
    let (p, store, _) = north_audit().await;
    // An approved audit that fails the greeting opens an action for it.
    p.approved(store, &p.version, [A::No, A::Scale(4), A::Yes, A::Count(0)])
        .await;
    let (s, list) = p
        .app
        .get("/api/v1/corrective-actions", &p.manager_token)
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let actions = list["items"].as_array().expect("items").clone();
    assert_eq!(actions.len(), 1, "{list}");
    let greet = actions[0]["id"].as_str().expect("id").to_owned();
    assert_eq!(actions[0]["standard_code"], "STD-GREET");
    // A second failure, its due date already past.
    let store2 = p.store("N-2", "Store N-2", p.north).await;
    p.approved(
        store2,
        &p.version,
        [A::No, A::Scale(4), A::Yes, A::Count(0)],
    )
    .await;
    let (_, list) = p
        .app
        .get(
            &format!("/api/v1/corrective-actions?store_id={store2}"),
            &p.manager_token,
        )
        .await;
    let late = list["items"][0]["id"].as_str().expect("id").to_owned();
    let (s, b) = p
        .app
        .patch(
            &format!("/api/v1/corrective-actions/{late}"),
            &p.manager_token,
            json!({"due_on": "2020-01-31"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    let mut north = Visitor::new(&p.app);
    assert_eq!(
        north.sign_in(MANAGER, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let page = north.get("/actions").await;
    assert_eq!(page.status, StatusCode::OK);
    let (overdue, others) = page
        .body
        .split_once("id=\"actions-others\"")
        .expect("two lists");
    assert!(
        overdue.contains(&format!("action-{late}")),
        "the late one is overdue"
    );
    assert!(!overdue.contains(&format!("action-{greet}")));
    assert!(others.contains(&format!("action-{greet}")));
    assert!(
        page.body.contains("Standard STD-GREET"),
        "the standard's text"
    );
    // Filtered by store code.
    let page = north.get("/actions?store=N-2").await;
    assert!(page.body.contains(&format!("action-{late}")));
    assert!(!page.body.contains(&format!("action-{greet}")));

    // Resolving needs a note: refused on the page, the form open again.
    let csrf = north.csrf().await;
    let resolve = format!("/actions/{greet}/resolve");
    let bare = north
        .post(
            &resolve,
            &[
                ("csrf", &csrf),
                ("note", " "),
                ("back", "/actions?store=N-1"),
            ],
        )
        .await;
    assert_eq!(
        bare.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bare.body
    );
    assert!(bare.body.contains("class=\"problem\""));
    assert!(bare.body.contains("<details class=\"correct\" open>"));
    // The other region's manager cannot reach it.
    let mut south = Visitor::new(&p.app);
    assert_eq!(
        south.sign_in(OTHER_MANAGER, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let theirs = south.csrf().await;
    let page = south
        .post(&resolve, &[("csrf", &theirs), ("note", "fixed")])
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);

    let note = "Staff briefed on greeting every customer at the door";
    let done = north
        .post(
            &resolve,
            &[
                ("csrf", &csrf),
                ("note", note),
                ("back", "/actions?store=N-1"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some("/actions?store=N-1&done=resolved")
    );
    let (_, list) = p
        .app
        .get(
            &format!("/api/v1/corrective-actions?store_id={store}"),
            &p.manager_token,
        )
        .await;
    assert_eq!(list["items"][0]["status"], "resolved", "{list}");
    assert_eq!(list["items"][0]["resolution_note"], note);
    let page = north.get("/actions?store=N-1&done=resolved").await;
    assert!(page.body.contains("Marked resolved."));
    assert!(page.body.contains(note));
    // Somewhere else to go back to is ignored.
    let away = north
        .post(
            &format!("/actions/{late}/resolve"),
            &[
                ("csrf", &csrf),
                ("note", "done"),
                ("back", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(away.location.as_deref(), Some("/actions?done=resolved"));
}

#[tokio::test]
async fn the_store_table_sorts_by_any_column() {
    let (p, _, first) = north_audit().await;
    p.approve(first).await;
    let strong = p.store("N-2", "Store N-2", p.north).await;
    p.approved(
        strong,
        &p.version,
        [A::Yes, A::Scale(4), A::Yes, A::Count(0)],
    )
    .await;
    p.store("N-3", "Store N-3", p.north).await;
    let mut hq = Visitor::new(&p.app);
    assert_eq!(
        hq.sign_in(HQ_EMAIL, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let q = this_quarter();
    let order = |body: &str| -> Vec<String> {
        body.split("<tr data-store=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap_or("").to_owned())
            .collect()
    };
    let page = hq.get(&format!("/compliance?quarter={q}")).await;
    assert_eq!(order(&page.body), ["N-1", "N-2", "N-3"]);
    // Score high first; the store without an audit last either way.
    let page = hq
        .get(&format!("/compliance?quarter={q}&sort=score&dir=desc"))
        .await;
    assert_eq!(order(&page.body), ["N-2", "N-1", "N-3"]);
    assert!(page.body.contains("aria-sort=\"descending\""));
    let page = hq.get(&format!("/compliance?quarter={q}&sort=score")).await;
    assert_eq!(order(&page.body), ["N-1", "N-2", "N-3"]);
    let page = hq
        .get(&format!("/compliance?quarter={q}&band=not_audited"))
        .await;
    assert_eq!(order(&page.body), ["N-3"]);
    // The region roll-up counts every store of the region, whatever the
    // band filter: 3 stores, 2 audited.
    assert!(page.body.contains("id=\"regions\""));
    assert!(
        page.body
            .contains("<td class=\"num\">3</td><td class=\"num\">2</td>"),
        "{}",
        page.body
    );
}
