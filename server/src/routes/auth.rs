//! Sign in, refresh, sign out, and who am I.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::{StatusCode, request::Parts};
use storecheck_shared::ErrorBody;
use storecheck_shared::auth::{LoginRequest, LogoutRequest, Me, RefreshRequest, TokenResponse};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::{AuthUser, issue_access_token};
use crate::db::{sessions, users};
use crate::entities;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, OptionalJson};
use crate::state::AppState;

/// A reply carrying secrets: `Cache-Control: no-store`, so that no cache
/// on the way keeps tokens.
pub struct NoStore<T>(pub T);

impl<T: axum::response::IntoResponse> axum::response::IntoResponse for NoStore<T> {
    fn into_response(self) -> axum::response::Response {
        ([(axum::http::header::CACHE_CONTROL, "no-store")], self.0).into_response()
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
}

/// The client's address: the peer, or the first `X-Forwarded-For` entry when
/// the server is configured to trust its proxy.
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.config.trust_forwarded_for
            && let Some(first) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        {
            return Ok(ClientAddr(first.to_owned()));
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "unknown".to_owned());
        Ok(ClientAddr(peer))
    }
}

fn token_response(
    state: &AppState,
    user: &entities::users::Model,
    region_ids: Vec<Uuid>,
    session: Uuid,
    refresh_token: String,
) -> ApiResult<TokenResponse> {
    let role = users::role_of(user.id, &user.role)?;
    Ok(TokenResponse {
        access_token: issue_access_token(
            &state.token_key,
            user.id,
            session,
            state.config.access_token_ttl,
        ),
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: state.config.access_token_ttl,
        refresh_expires_in: state.config.refresh_token_ttl,
        user: Me {
            id: user.id,
            email: user.email.clone(),
            role,
            region_ids,
        },
    })
}

/// Sign in with e-mail and password.
///
/// Repeated failures slow further attempts for that account and for the
/// client address (429 with `Retry-After`).
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "Wrong e-mail or password", body = ErrorBody),
        (status = 403, description = "Account disabled", body = ErrorBody),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = ErrorBody),
    )
)]
async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<NoStore<Json<TokenResponse>>> {
    let user = crate::auth::check_password(&state, &addr, &req.email, req.password).await?;
    let session = sessions::create(
        &state.db,
        user.id,
        state.config.refresh_token_ttl,
        state.config.session_max_age,
    )
    .await?;
    let regions = sessions::region_ids(&state.db, user.id).await?;
    tracing::info!(user = %user.id, session = %session.session_id, "signed in");
    token_response(
        &state,
        &user,
        regions,
        session.session_id,
        session.refresh_token,
    )
    .map(|t| NoStore(Json(t)))
}

/// Trade a refresh token for a new access token and a new refresh token.
///
/// Each refresh token works once. Presenting one that was already used ends
/// the session it belongs to (it was copied), and the user must sign in again.
#[utoipa::path(
    post, path = "/api/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenResponse),
        (status = 400, description = "Unreadable request", body = ErrorBody),
        (status = 401, description = "Unknown, expired, reused or revoked refresh token, or disabled account", body = ErrorBody),
    )
)]
async fn refresh(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> ApiResult<NoStore<Json<TokenResponse>>> {
    let rotated = sessions::rotate(
        &state.db,
        &state.sessions,
        req.refresh_token.trim(),
        state.config.refresh_token_ttl,
    )
    .await?;
    let regions = sessions::region_ids(&state.db, rotated.user.id).await?;
    token_response(
        &state,
        &rotated.user,
        regions,
        rotated.session_id,
        rotated.refresh_token,
    )
    .map(|t| NoStore(Json(t)))
}

/// Sign out: ends the session of the access token (and of the refresh token
/// given, when it is the caller's). Both tokens stop working at once.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth",
    request_body(content = Option<LogoutRequest>, description = "Optional"),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = ErrorBody),
    )
)]
async fn logout(
    State(state): State<AppState>,
    caller: AuthUser,
    OptionalJson(req): OptionalJson<LogoutRequest>,
) -> ApiResult<StatusCode> {
    sessions::revoke(&state.db, caller.session_id, "logout").await?;
    state.sessions.forget_session(caller.session_id);
    if let Some(raw) = req.refresh_token.as_deref()
        && let Some(session) = sessions::session_of_refresh_token(&state.db, raw.trim()).await?
        && session.user_id == caller.id
    {
        sessions::revoke(&state.db, session.id, "logout").await?;
        state.sessions.forget_session(session.id);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(
    get, path = "/api/v1/me", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The signed-in user", body = Me),
        (status = 401, description = "Not signed in", body = ErrorBody),
    )
)]
async fn me(caller: AuthUser) -> Json<Me> {
    Json(Me {
        id: caller.id,
        email: caller.email,
        role: caller.role,
        region_ids: caller.region_ids,
    })
}
