//! Access tokens, password hashing, and the signed-in caller with its scope.
//!
//! Access tokens are JWTs signed with HMAC-SHA256 that name the user and the
//! session; every request also checks that the session is alive and the user
//! enabled, so logout and disabling take effect at once. Refresh tokens are
//! opaque random strings kept only as hashes (see `db::sessions`).

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, password_hash::rand_core::OsRng};
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::Utc;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

type HmacSha256 = Hmac<Sha256>;

/// The key that signs access tokens.
#[derive(Clone)]
pub struct TokenKey(Arc<Vec<u8>>);

impl TokenKey {
    pub fn new(secret: &[u8]) -> Self {
        TokenKey(Arc::new(secret.to_vec()))
    }

    pub(crate) fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length.
        match HmacSha256::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts any key length"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user.
    pub sub: Uuid,
    /// The session (refresh-token family) the token belongs to.
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
    /// Always `access`.
    pub typ: String,
}

const JWT_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

pub fn sign_access_token(key: &TokenKey, claims: &AccessClaims) -> String {
    let header = B64.encode(JWT_HEADER);
    let payload = B64.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signing_input = format!("{header}.{payload}");
    let mut mac = key.mac();
    mac.update(signing_input.as_bytes());
    let sig = B64.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{sig}")
}

/// Issue an access token for a session, valid for `ttl_secs`.
pub fn issue_access_token(key: &TokenKey, user: Uuid, session: Uuid, ttl_secs: u64) -> String {
    let now = Utc::now().timestamp();
    sign_access_token(
        key,
        &AccessClaims {
            sub: user,
            sid: session,
            iat: now,
            exp: now.saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX)),
            typ: "access".into(),
        },
    )
}

#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    BadSignature,
    Expired,
}

pub fn verify_access_token(key: &TokenKey, token: &str) -> Result<AccessClaims, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let sig = B64.decode(sig).map_err(|_| TokenError::Malformed)?;
    let mut mac = key.mac();
    mac.update(header.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    mac.verify_slice(&sig)
        .map_err(|_| TokenError::BadSignature)?;
    let header: serde_json::Value =
        serde_json::from_slice(&B64.decode(header).map_err(|_| TokenError::Malformed)?)
            .map_err(|_| TokenError::Malformed)?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(TokenError::Malformed);
    }
    let claims: AccessClaims =
        serde_json::from_slice(&B64.decode(payload).map_err(|_| TokenError::Malformed)?)
            .map_err(|_| TokenError::Malformed)?;
    if claims.typ != "access" {
        return Err(TokenError::Malformed);
    }
    if claims.exp <= Utc::now().timestamp() {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

/// Hash a password with argon2id (default parameters: 19 MiB, 2 passes),
/// off the async threads.
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
    })
    .await?
}

/// Check a password against a stored hash, off the async threads. With no
/// hash (unknown account) a dummy hash is checked so that the answer takes
/// as long as for a real account.
pub async fn verify_password(password: String, hash: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let stored = match hash.as_deref() {
            Some(h) => h,
            None => dummy_hash()?,
        };
        let parsed = PasswordHash::new(stored).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(ok && hash.is_some())
    })
    .await?
}

/// An argon2id hash, with the parameters real hashes use, of a password
/// nobody knows; made once per process.
fn dummy_hash() -> anyhow::Result<&'static str> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h);
    }
    let salt = SaltString::generate(&mut OsRng);
    let h = Argon2::default()
        .hash_password(Uuid::new_v4().as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))?
        .to_string();
    Ok(DUMMY.get_or_init(|| h))
}

/// Check an e-mail address and password as every sign-in does (the API's
/// and the console's): failures are throttled per account and per client
/// address (429), a wrong pair is 401 `invalid_credentials`, a disabled
/// account 403 `account_disabled`.
pub async fn check_password(
    state: &crate::state::App,
    addr: &str,
    email: &str,
    password: String,
) -> Result<crate::entities::users::Model, ApiError> {
    use crate::db::{throttle, users};
    let email = email.trim().to_lowercase();
    let account_key = throttle::account_key(&email);
    let address_key = throttle::address_key(addr);
    for key in [&account_key, &address_key] {
        if let Some(wait) = throttle::locked_for(&state.db, key).await? {
            return Err(ApiError::too_many_requests(
                wait,
                format!("too many failed sign-ins; try again in {wait} s"),
            ));
        }
    }
    let user = users::by_email(&state.db, &email).await?;
    let ok = verify_password(password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let Some(user) = user.filter(|_| ok) else {
        throttle::record_failure(
            &state.db,
            &account_key,
            state.config.login_failures_per_account,
        )
        .await?;
        throttle::record_failure(
            &state.db,
            &address_key,
            state.config.login_failures_per_address,
        )
        .await?;
        tracing::info!(client = %addr, "failed sign-in");
        return Err(ApiError::unauthenticated(
            "invalid_credentials",
            "wrong e-mail address or password",
        ));
    };
    throttle::clear(&state.db, &account_key).await?;
    if user.disabled {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "account_disabled",
            "this account is disabled",
        ));
    }
    Ok(user)
}

/// The signed-in caller: who, in which role, over which regions.
pub use crate::db::scope::{Caller as AuthUser, Scope};

impl AuthUser {
    /// The caller must be HQ to do this to an object they can see.
    pub fn require_hq(&self) -> Result<(), ApiError> {
        if self.is_hq() {
            Ok(())
        } else {
            Err(ApiError::forbidden("only head office (hq) may do this"))
        }
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthenticated(
                "unauthenticated",
                "missing Authorization: Bearer <access_token>",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthenticated(
                    "invalid_token",
                    "the Authorization header must be `Bearer <access_token>`",
                )
            })?;
        let claims = verify_access_token(&state.token_key, token).map_err(|e| match e {
            TokenError::Expired => ApiError::unauthenticated(
                "token_expired",
                "the access token has expired; use the refresh token",
            ),
            TokenError::Malformed | TokenError::BadSignature => {
                ApiError::unauthenticated("invalid_token", "the access token is not valid")
            }
        })?;
        crate::db::sessions::authenticate(&state.db, &state.sessions, claims.sub, claims.sid).await
    }
}
