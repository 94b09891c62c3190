//! The web console for regional managers and head office, at `/` beside
//! the API: server-rendered askama pages, progressively enhanced with the
//! vendored htmx, in English and Chinese.
//!
//! Every page calls the same `db/` queries and use-cases as the JSON API,
//! with the caller's scope, so no rule, scope check or score exists twice.
//! Failures are `ApiError`s like the API's; `html_errors` turns them into
//! pages in the console's look.

mod actions;
mod audit;
pub mod charts;
mod compliance;
pub mod cookies;
pub mod i18n;
mod org;
mod queue;
pub mod session;
mod signin;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use storecheck_shared::ErrorBody;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use i18n::{Lang, Tr};
use session::Viewer;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(signin::form).post(signin::submit))
        .route("/logout", post(signin::sign_out))
        .route("/lang/{code}", get(signin::switch_language))
        .route("/assets/{name}", get(asset))
        .route("/audits", get(queue::show))
        .route("/audits/{id}", get(audit::show))
        .route("/audits/{id}/review", post(audit::review))
        .route("/actions", get(actions::show))
        .route("/actions/{id}/resolve", post(actions::resolve))
        .route("/compliance", get(compliance::show))
        .route("/compliance/stores/{id}", get(compliance::store))
        .route("/compliance/summary.csv", get(compliance::csv))
        .route("/compliance/summary.xlsx", get(compliance::xlsx))
        .route("/hq/regions", get(org::regions))
        .route("/hq/stores", get(org::stores))
        .route("/hq/stores/import", post(org::import))
        .route("/hq/users", get(org::users))
        .route("/hq/checklists", get(org::checklists))
        .layer(middleware::from_fn(html_errors))
}

/// Signed in: the queue (otherwise the viewer's extractor sends to sign-in).
async fn home(_signed_in: Viewer) -> Response {
    axum::response::Redirect::to("/audits").into_response()
}

/// What every page around its content shows: title, navigation, the
/// signed-in user, the sign-out form, the language switch, a notice.
pub struct Chrome {
    pub t: Tr,
    pub title: String,
    /// Empty on pages before sign-in.
    pub email: String,
    pub is_hq: bool,
    pub csrf: String,
    /// Which navigation entry is this page's.
    pub nav: &'static str,
    pub lang_href: String,
    pub notice: Option<String>,
    pub error: Option<String>,
}

impl Chrome {
    pub fn new(v: &Viewer, nav: &'static str, title: impl Into<String>) -> Chrome {
        Chrome {
            t: v.t(),
            title: title.into(),
            email: v.caller.email.clone(),
            is_hq: v.caller.is_hq(),
            csrf: v.csrf.clone(),
            nav,
            lang_href: lang_href(v.lang, &v.here),
            notice: None,
            error: None,
        }
    }

    /// The chrome of a page shown to nobody signed in.
    pub fn anonymous(lang: Lang, here: &str, title: impl Into<String>) -> Chrome {
        Chrome {
            t: Tr(lang),
            title: title.into(),
            email: String::new(),
            is_hq: false,
            csrf: String::new(),
            nav: "",
            lang_href: lang_href(lang, here),
            notice: None,
            error: None,
        }
    }

    /// `aria-current` for the navigation entry of this page.
    pub fn current(&self, nav: &str) -> &'static str {
        if self.nav == nav { "page" } else { "false" }
    }
}

fn lang_href(lang: Lang, here: &str) -> String {
    let next = form_urlencoded::byte_serialize(here.as_bytes()).collect::<String>();
    format!("/lang/{}?next={next}", lang.other().code())
}

/// A rendered page (`text/html`, never cached: it holds a CSRF token).
pub fn page(t: &impl Template) -> Result<Response, ApiError> {
    page_with(StatusCode::OK, t)
}

pub fn page_with(status: StatusCode, t: &impl Template) -> Result<Response, ApiError> {
    let html = t
        .render()
        .map_err(|e| ApiError::internal(anyhow::anyhow!("rendering a page: {e}")))?;
    Ok((
        status,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Html(html),
    )
        .into_response())
}

/// 303 to a page after a form did its work.
pub fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

/// A form body (`application/x-www-form-urlencoded`); unreadable is 400.
pub struct Form<T>(pub T);

/// The bytes of a form body (415 when the body is not a form).
async fn form_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected a form (application/x-www-form-urlencoded)",
        ));
    }
    Bytes::from_request(req, state)
        .await
        .map_err(crate::extract::body_rejection)
}

fn parse_form<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_urlencoded::from_bytes(bytes).map_err(|e| {
        ApiError::bad_request("invalid_form", format!("the form could not be read: {e}"))
    })
}

impl<S, T> FromRequest<S> for Form<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = form_bytes(req, state).await?;
        parse_form(&bytes).map(Form)
    }
}

/// A form a signed-in viewer posted, with its `csrf` field checked against
/// the viewer's session before any other field is read: a form without
/// the session's token is 403 and does nothing, whatever else it holds.
pub struct Posted<T>(pub Viewer, pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Posted<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let bytes = form_bytes(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let sent = form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        viewer
            .check_csrf(&state.token_key, &sent)
            .map_err(IntoResponse::into_response)?;
        let form = parse_form(&bytes).map_err(IntoResponse::into_response)?;
        Ok(Posted(viewer, form))
    }
}

/// An error as a sentence for the page: its message and, for several
/// problems, each one.
pub fn explain(e: &ApiError) -> String {
    if e.details.len() <= 1 || e.status == StatusCode::CONFLICT {
        return e.message.clone();
    }
    let each: Vec<String> = e
        .details
        .iter()
        .map(|d| format!("{}: {}", d.field, d.message))
        .collect();
    format!("{} ({})", e.message, each.join("; "))
}

/// One option of a filter's `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Choice {
    /// An option, selected when it is the filter's current value (`""`
    /// being "any").
    pub fn new(value: impl Into<String>, label: impl Into<String>, current: &str) -> Choice {
        let value = value.into();
        Choice {
            selected: value == current,
            value,
            label: label.into(),
        }
    }
}

/// Most regions a filter offers.
const REGION_CHOICES: u64 = 500;

/// The region filter's options: `any` first, then the regions the caller
/// may see.
pub async fn region_choices(
    state: &AppState,
    scope: &crate::db::scope::Scope,
    any: &str,
    current: &str,
) -> Result<Vec<Choice>, ApiError> {
    let regions = crate::db::regions::list(&state.db, scope, None, REGION_CHOICES).await?;
    Ok(std::iter::once(Choice::new("", any, current))
        .chain(regions.into_iter().map(|r| {
            Choice::new(
                r.id.to_string(),
                format!("{} · {}", r.code, r.name),
                current,
            )
        }))
        .collect())
}

/// How stores are named on a page ("N-1 · Store N-1"), by id.
pub async fn store_labels(
    state: &AppState,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<std::collections::HashMap<Uuid, String>, ApiError> {
    let mut ids: Vec<Uuid> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(crate::db::stores::by_ids(&state.db, &ids)
        .await?
        .into_iter()
        .map(|s| (s.id, format!("{} · {}", s.code, s.name)))
        .collect())
}

/// A query or form field: empty means not given.
pub fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A UUID field, empty meaning none; anything else is 400.
pub fn uuid_field(name: &str, v: &Option<String>) -> Result<Option<Uuid>, ApiError> {
    given(v)
        .map(|s| {
            s.parse().map_err(|_| {
                ApiError::bad_request("invalid_query", format!("{name} must be a UUID"))
                    .with_detail(name.to_owned(), "must be a UUID")
            })
        })
        .transpose()
}

/// A path id; a malformed one is the same 404 page as an unknown one.
pub fn path_id(raw: &str, what: &str) -> Result<Uuid, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(what))
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    c: Chrome,
    status: u16,
    message: String,
}

/// Errors of console routes become pages: the API's message (which is
/// written to be shown), in the console's look, with the same status.
async fn html_errors(req: Request, next: Next) -> Response {
    let lang = Lang::of(req.headers());
    let here = req
        .uri()
        .path_and_query()
        .map_or("/".to_owned(), |p| p.as_str().to_owned());
    let res = next.run(req).await;
    let status = res.status();
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_html {
        return res;
    }
    let retry_after = res.headers().get(header::RETRY_AFTER).cloned();
    let body = match http_body_util::BodyExt::collect(res.into_body()).await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let message = match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(b) => b.error.message,
        Err(_) if status.is_server_error() => String::new(),
        Err(_) => String::from_utf8_lossy(&body).trim().to_owned(),
    };
    let t = Tr(lang);
    let heading = match status {
        StatusCode::NOT_FOUND => t.s("error.not_found"),
        StatusCode::FORBIDDEN => t.s("error.forbidden"),
        _ => t.s("error.title"),
    };
    let page = ErrorPage {
        c: Chrome::anonymous(lang, &here, heading),
        status: status.as_u16(),
        message,
    };
    match page_with(status, &page) {
        Ok(mut r) => {
            if let Some(v) = retry_after {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Err(e) => e.into_response(),
    }
}

const HTMX: &[u8] = include_bytes!("../../assets/htmx-2.0.11.min.js");
const CSS: &[u8] = include_bytes!("../../assets/console.css");
const CONSOLE_JS: &[u8] = include_bytes!("../../assets/console.js");

/// The vendored assets; their names carry their version, so they are
/// cached for a year.
async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let (body, kind): (&'static [u8], &'static str) = match name.as_str() {
        "htmx-2.0.11.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "console-1.css" => (CSS, "text/css; charset=utf-8"),
        "console-1.js" => (CONSOLE_JS, "text/javascript; charset=utf-8"),
        _ => return ApiError::not_found("asset").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        body,
    )
        .into_response()
}

/// Hundredths as points with two decimals (8533 → "85.33").
pub use storecheck_shared::compliance::points;

/// Like [`points`], with a sign always (trends, gaps).
pub fn signed_points(v: i64) -> String {
    if v > 0 {
        format!("+{}", points(v))
    } else {
        points(v)
    }
}

pub fn opt_points(v: Option<i64>) -> String {
    v.map_or_else(|| "–".to_owned(), points)
}

/// A UTC time as the console shows it.
pub fn when(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trends_carry_their_sign() {
        assert_eq!(signed_points(150), "+1.50");
        assert_eq!(signed_points(-150), "-1.50");
        assert_eq!(opt_points(None), "–");
    }
}
