//! A small W3C WebDriver client for driving headless Chromium through
//! `chromedriver`: sessions, navigation, elements, scripts, cookies,
//! window sizes and screenshots. Just what the console tests use.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// The key W3C WebDriver gives element references under.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where the browser and its driver are, if installed: `STORECHECK_CHROMIUM`
/// and `STORECHECK_CHROMEDRIVER`, or Debian's `chromium` and
/// `chromium-driver` packages.
pub fn installed() -> Option<(PathBuf, PathBuf)> {
    let pick = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(default))
    };
    let browser = pick("STORECHECK_CHROMIUM", "/usr/bin/chromium");
    let driver = pick("STORECHECK_CHROMEDRIVER", "/usr/bin/chromedriver");
    (browser.exists() && driver.exists()).then_some((browser, driver))
}

/// A running `chromedriver`, stopped when dropped.
pub struct Driver {
    child: std::process::Child,
    base: String,
    browser: PathBuf,
    http: reqwest::Client,
}

impl Driver {
    pub async fn start(browser: &Path, driver: &Path) -> anyhow::Result<Driver> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = std::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", driver.display()))?;
        let d = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            browser: browser.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()?,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = d
                .http
                .get(format!("{}/status", d.base))
                .send()
                .await
                .ok()
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ready {
                return Ok(d);
            }
            if Instant::now() > deadline {
                bail!("chromedriver did not come up on port {port}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A new headless browser of `width` × `height` CSS pixels.
    pub async fn browser(&self, width: u32, height: u32) -> anyhow::Result<Browser> {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": self.browser,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--hide-scrollbars", "--force-device-scale-factor=1",
                         format!("--window-size={width},{height}")],
            },
        }}});
        let v = call(
            &self.http,
            reqwest::Method::POST,
            &format!("{}/session", self.base),
            Some(caps),
        )
        .await?;
        let id = v["sessionId"].as_str().context("no session id")?.to_owned();
        Ok(Browser {
            http: self.http.clone(),
            url: format!("{}/session/{id}", self.base),
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut req = http.request(method.clone(), url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req
        .send()
        .await
        .with_context(|| format!("{method} {url}"))?;
    let status = res.status();
    let v: Value = res
        .json()
        .await
        .with_context(|| format!("{method} {url}: not JSON"))?;
    if !status.is_success() {
        bail!("{method} {url}: {status}: {}", v["value"]);
    }
    Ok(v["value"].clone())
}

/// One browser session.
pub struct Browser {
    http: reqwest::Client,
    url: String,
}

/// An element of the page.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Browser {
    async fn cmd(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        call(&self.http, method, &format!("{}{path}", self.url), body).await
    }

    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await
            .map(|_| ())
    }

    pub async fn current_url(&self) -> anyhow::Result<String> {
        let v = self.cmd(reqwest::Method::GET, "/url", None).await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    pub async fn find(&self, css: &str) -> anyhow::Result<Element> {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await
            .with_context(|| format!("finding {css}"))?;
        Ok(Element(
            v[ELEMENT].as_str().context("element id")?.to_owned(),
        ))
    }

    pub async fn find_all(&self, css: &str) -> anyhow::Result<Vec<Element>> {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(|s| Element(s.to_owned())))
                    .collect()
            })
            .unwrap_or_default())
    }

    pub async fn click(&self, e: &Element) -> anyhow::Result<()> {
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{}/click", e.0),
            Some(json!({})),
        )
        .await
        .map(|_| ())
    }

    pub async fn type_into(&self, e: &Element, text: &str) -> anyhow::Result<()> {
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{}/value", e.0),
            Some(json!({"text": text})),
        )
        .await
        .map(|_| ())
    }

    pub async fn text(&self, e: &Element) -> anyhow::Result<String> {
        let v = self
            .cmd(
                reqwest::Method::GET,
                &format!("/element/{}/text", e.0),
                None,
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    pub async fn attribute(&self, e: &Element, name: &str) -> anyhow::Result<Option<String>> {
        let v = self
            .cmd(
                reqwest::Method::GET,
                &format!("/element/{}/attribute/{name}", e.0),
                None,
            )
            .await?;
        Ok(v.as_str().map(str::to_owned))
    }

    /// Run a script in the page; `arguments[0…]` are `args`.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// The text of the whole page.
    pub async fn page_text(&self) -> anyhow::Result<String> {
        let body = self.find("body").await?;
        self.text(&body).await
    }

    /// Wait until `css` matches an element (the page or a swap has come).
    pub async fn wait_for(&self, css: &str) -> anyhow::Result<Element> {
        self.wait_until(css, |_| true).await
    }

    /// Wait until an element matching `css` has a text passing `ok`.
    pub async fn wait_until(
        &self,
        css: &str,
        ok: impl Fn(&str) -> bool,
    ) -> anyhow::Result<Element> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = String::new();
        loop {
            for e in self.find_all(css).await? {
                let t = self.text(&e).await.unwrap_or_default();
                if ok(&t) {
                    return Ok(e);
                }
                last = t;
            }
            if Instant::now() > deadline {
                bail!(
                    "{css} never showed what was waited for (last: {last:?}) on {}",
                    self.current_url().await.unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Press Tab once, as a keyboard user does.
    pub async fn press_tab(&self) -> anyhow::Result<()> {
        let tab = "\u{E004}";
        self.cmd(
            reqwest::Method::POST,
            "/actions",
            Some(
                json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
                    {"type": "keyDown", "value": tab}, {"type": "keyUp", "value": tab}
                ]}]}),
            ),
        )
        .await
        .map(|_| ())
    }

    pub async fn cookie(&self, name: &str) -> anyhow::Result<Option<String>> {
        match self
            .cmd(reqwest::Method::GET, &format!("/cookie/{name}"), None)
            .await
        {
            Ok(v) => Ok(v["value"].as_str().map(str::to_owned)),
            Err(_) => Ok(None),
        }
    }

    pub async fn delete_cookies(&self) -> anyhow::Result<()> {
        self.cmd(reqwest::Method::DELETE, "/cookie", None)
            .await
            .map(|_| ())
    }

    pub async fn set_window(&self, width: u32, height: u32) -> anyhow::Result<()> {
        self.cmd(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await
        .map(|_| ())
    }

    /// A PNG of the whole page at the window's width.
    pub async fn screenshot(&self) -> anyhow::Result<Vec<u8>> {
        use base64::Engine;
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await?;
        let b64 = v.as_str().context("screenshot data")?;
        Ok(base64::engine::general_purpose::STANDARD.decode(b64)?)
    }

    pub async fn quit(self) -> anyhow::Result<()> {
        self.cmd(reqwest::Method::DELETE, "", None)
            .await
            .map(|_| ())
    }
}
