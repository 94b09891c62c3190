//! Sign-in, sign-out and the language switch.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use storecheck_shared::Role;

use super::i18n::{Lang, Tr};
use super::session::{self, LOGIN_COOKIE, SESSION_COOKIE};
use super::{Chrome, Form, Posted, page_with, see_other};
use crate::auth::issue_access_token;
use crate::db::sessions;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::routes::auth::ClientAddr;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "signin.html")]
struct SignIn {
    c: Chrome,
    csrf: String,
    next: String,
    email: String,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn secure(state: &AppState, headers: &HeaderMap, uri: &Uri) -> bool {
    session::over_tls(headers, uri, state.config.trust_forwarded_for)
}

/// The sign-in form, with a fresh random value in a cookie that its CSRF
/// token is bound to.
async fn render(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    status: StatusCode,
    next: &str,
    email: &str,
    error: Option<&'static str>,
) -> Result<Response, ApiError> {
    let lang = Lang::of(headers);
    let nonce = crate::db::random_token(24)?;
    let t = Tr(lang);
    let mut c = Chrome::anonymous(lang, &uri.to_string(), t.s("signin.title"));
    c.error = error.map(|k| t.s(k).to_owned());
    let form = SignIn {
        c,
        csrf: session::signin_token(&state.token_key, &nonce),
        next: next.to_owned(),
        email: email.to_owned(),
    };
    let mut res = page_with(status, &form)?;
    res.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(LOGIN_COOKIE, &nonce, 3600, secure(state, headers, uri)),
    );
    Ok(res)
}

pub async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    ApiQuery(q): ApiQuery<NextQuery>,
) -> Result<Response, ApiError> {
    let next = session::local_path(q.next.as_deref());
    render(&state, &headers, &uri, StatusCode::OK, &next, "", None).await
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    ClientAddr(addr): ClientAddr,
    Form(f): Form<SignInForm>,
) -> Result<Response, ApiError> {
    let next = session::local_path(f.next.as_deref());
    let nonce = session::cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    let again = |status, key| {
        let (state, headers, uri, next, email) = (&state, &headers, &uri, &next, &f.email);
        async move { render(state, headers, uri, status, next, email, Some(key)).await }
    };
    if !session::signin_token_matches(&state.token_key, nonce, &f.csrf) {
        return again(StatusCode::FORBIDDEN, "signin.expired").await;
    }
    let user = match crate::auth::check_password(&state, &addr, &f.email, f.password).await {
        Ok(u) => u,
        Err(e) => {
            let key = match e.code {
                "invalid_credentials" => "signin.wrong",
                "account_disabled" => "signin.disabled",
                _ if e.status == StatusCode::TOO_MANY_REQUESTS => "signin.throttled",
                _ => return Err(e),
            };
            return again(e.status, key).await;
        }
    };
    if crate::db::users::role_of(user.id, &user.role)? == Role::Auditor {
        return again(StatusCode::FORBIDDEN, "signin.auditor").await;
    }
    let max_age = state.config.session_max_age;
    let s = sessions::create(&state.db, user.id, state.config.refresh_token_ttl, max_age).await?;
    tracing::info!(user = %user.id, session = %s.session_id, "signed in to the console");
    let token = issue_access_token(&state.token_key, user.id, s.session_id, max_age);
    let tls = secure(&state, &headers, &uri);
    let mut res = see_other(&next);
    let h = res.headers_mut();
    h.append(
        header::SET_COOKIE,
        session::set_cookie(SESSION_COOKIE, &token, max_age, tls),
    );
    h.append(
        header::SET_COOKIE,
        session::set_cookie(LOGIN_COOKIE, "", 0, tls),
    );
    Ok(res)
}

/// A form with no field but its CSRF token.
#[derive(Deserialize)]
pub struct Nothing {}

/// Sign out: the session ends for the console and for the API alike.
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Posted(v, Nothing {}): Posted<Nothing>,
) -> Result<Response, ApiError> {
    sessions::revoke(&state.db, v.caller.session_id, "logout").await?;
    state.sessions.forget_session(v.caller.session_id);
    let mut res = see_other("/login");
    res.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(SESSION_COOKIE, "", 0, secure(&state, &headers, &uri)),
    );
    Ok(res)
}

/// Switch the language and go back to the page.
pub async fn switch_language(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<NextQuery>,
) -> Result<Response, ApiError> {
    let lang = Lang::parse(&code).ok_or_else(|| ApiError::not_found("language"))?;
    let mut res = see_other(&session::local_path(q.next.as_deref()));
    res.headers_mut().append(
        header::SET_COOKIE,
        session::lang_cookie(lang, secure(&state, &headers, &uri)),
    );
    Ok(res.into_response())
}
