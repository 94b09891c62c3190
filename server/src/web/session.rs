//! Console sessions: the same sessions as the API, carried in a cookie.
//!
//! Signing in creates an API session (`db::sessions::create`); the cookie
//! holds an access token for it that lives as long as the session may, so
//! every request checks the session as the API does (sign-out, disabling
//! and expiry take effect at once). Forms carry a CSRF token bound to the
//! session; the sign-in form, before there is a session, one bound to a
//! random cookie. Cookies are `HttpOnly` and `SameSite=Strict`, `Secure`
//! when the request came over TLS.

use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, HeaderValue, request::Parts};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::Mac;
use storecheck_shared::Role;
use subtle::ConstantTimeEq;

pub use super::cookies::{cookie, set_cookie};
use super::i18n::{Lang, Tr};
use crate::auth::{AuthUser, TokenKey, verify_access_token};
use crate::error::ApiError;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "storecheck_session";
pub const LOGIN_COOKIE: &str = "storecheck_signin";

/// Whether the browser reached us over TLS (directly, or through a proxy
/// the server is told to trust).
pub fn over_tls(parts_headers: &HeaderMap, uri: &axum::http::Uri, trust_proxy: bool) -> bool {
    uri.scheme_str() == Some("https")
        || (trust_proxy
            && parts_headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("https")))
}

/// The language preference cookie (readable by no script either; a year).
pub fn lang_cookie(lang: Lang, secure: bool) -> HeaderValue {
    set_cookie(super::i18n::LANG_COOKIE, lang.code(), 31_536_000, secure)
}

fn tag(key: &TokenKey, purpose: &str, value: &str) -> String {
    let mut mac = key.mac();
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(value.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// Whether `sent` is the token for `value` (in constant time).
fn tag_matches(key: &TokenKey, purpose: &str, value: &str, sent: &str) -> bool {
    let want = tag(key, purpose, value);
    want.as_bytes().ct_eq(sent.as_bytes()).into()
}

/// The CSRF token of a session's forms.
pub fn csrf_token(key: &TokenKey, session: uuid::Uuid) -> String {
    tag(key, "csrf", &session.to_string())
}

/// The CSRF token of the sign-in form, for the random value in its cookie.
pub fn signin_token(key: &TokenKey, nonce: &str) -> String {
    tag(key, "signin", nonce)
}

pub fn signin_token_matches(key: &TokenKey, nonce: &str, sent: &str) -> bool {
    !nonce.is_empty() && tag_matches(key, "signin", nonce, sent)
}

/// The signed-in manager or HQ user of a console request, with the page's
/// language and the CSRF token of its forms.
pub struct Viewer {
    pub caller: AuthUser,
    pub lang: Lang,
    pub csrf: String,
    /// Path and query of the page, to come back to.
    pub here: String,
}

impl Viewer {
    pub fn t(&self) -> Tr {
        Tr(self.lang)
    }

    /// A form's token must be this session's: otherwise 403 and nothing done.
    pub fn check_csrf(&self, key: &TokenKey, sent: &str) -> Result<(), ApiError> {
        if tag_matches(key, "csrf", &self.caller.session_id.to_string(), sent) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "this form was not sent from this console session (missing or wrong CSRF token); reload the page and try again",
            )
            .with_code("csrf_failed"))
        }
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let here = parts
            .uri
            .path_and_query()
            .map_or("/".to_owned(), |p| p.as_str().to_owned());
        let to_signin = || {
            let next = form_urlencoded::byte_serialize(here.as_bytes()).collect::<String>();
            Redirect::to(&format!("/login?next={next}")).into_response()
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_signin());
        };
        let Ok(claims) = verify_access_token(&state.token_key, token) else {
            return Err(to_signin());
        };
        let caller = match crate::db::sessions::authenticate(
            &state.db,
            &state.sessions,
            claims.sub,
            claims.sid,
        )
        .await
        {
            Ok(c) => c,
            Err(e) if e.status == axum::http::StatusCode::UNAUTHORIZED => return Err(to_signin()),
            Err(e) => return Err(e.into_response()),
        };
        if caller.role == Role::Auditor {
            return Err(ApiError::forbidden(
                "the console is for regional managers and head office; auditors use the phone app",
            )
            .into_response());
        }
        let csrf = csrf_token(&state.token_key, caller.session_id);
        Ok(Viewer {
            lang: Lang::of(&parts.headers),
            csrf,
            caller,
            here,
        })
    }
}

/// A local path to go back to after signing in or switching language;
/// anything else (another site, `//host`) goes to the queue.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_owned(),
        _ => "/audits".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_bound_to_their_session_and_purpose() {
        let key = TokenKey::new(b"0123456789abcdef0123456789abcdef");
        let s1 = uuid::Uuid::now_v7();
        let s2 = uuid::Uuid::now_v7();
        let t1 = csrf_token(&key, s1);
        assert!(tag_matches(&key, "csrf", &s1.to_string(), &t1));
        assert!(!tag_matches(&key, "csrf", &s2.to_string(), &t1));
        assert!(!tag_matches(&key, "signin", &s1.to_string(), &t1));
        assert!(!tag_matches(&key, "csrf", &s1.to_string(), ""));
        assert!(signin_token_matches(&key, "n", &signin_token(&key, "n")));
        assert!(!signin_token_matches(&key, "", &signin_token(&key, "")));
    }

    #[test]
    fn cookies_are_secure_over_tls_or_behind_a_trusted_proxy_saying_so() {
        let plain: axum::http::Uri = "/audits".parse().expect("uri");
        let tls: axum::http::Uri = "https://console.example/audits".parse().expect("uri");
        let mut proxied = HeaderMap::new();
        proxied.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(!over_tls(&HeaderMap::new(), &plain, true));
        assert!(over_tls(&HeaderMap::new(), &tls, false));
        assert!(over_tls(&proxied, &plain, true));
        assert!(
            !over_tls(&proxied, &plain, false),
            "an untrusted header is ignored"
        );
        assert!(
            set_cookie("a", "b", 60, true)
                .to_str()
                .expect("text")
                .ends_with("; Secure")
        );
        assert!(
            !set_cookie("a", "b", 60, false)
                .to_str()
                .expect("text")
                .contains("Secure")
        );
    }

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path(Some("/audits?x=1")), "/audits?x=1");
        assert_eq!(local_path(Some("//evil.example/")), "/audits");
        assert_eq!(local_path(Some("https://evil.example/")), "/audits");
        assert_eq!(local_path(Some("/\\evil")), "/audits");
        assert_eq!(local_path(None), "/audits");
    }
}
