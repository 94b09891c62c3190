//! Sessions and their rotating refresh tokens.
//!
//! A session is one login on one device. Its refresh tokens form a chain:
//! each refresh marks the presented token used and issues the next. A used
//! token presented again means it was copied, so the whole session ends.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set,
    TransactionSession, TransactionTrait,
};
use sha2::{Digest, Sha256};
use storecheck_shared::Role;
use uuid::Uuid;

use super::scope::Caller;
use super::session_cache::{Change, SessionCache, announce};
use crate::entities::{refresh_tokens, sessions, user_regions, users};
use crate::error::ApiError;

pub fn hash_refresh_token(raw: &str) -> String {
    let digest = Sha256::digest(raw.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn secs(n: u64) -> Duration {
    Duration::seconds(i64::try_from(n).unwrap_or(i64::MAX / 1000))
}

/// A new refresh token for a session; returns the raw token (shown once).
async fn new_refresh_token(
    db: &impl ConnectionTrait,
    session: Uuid,
    now: DateTime<Utc>,
    ttl: u64,
    session_expires: DateTime<Utc>,
) -> Result<String, ApiError> {
    let raw = format!("rt_{}", super::random_token(32)?);
    refresh_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        session_id: Set(session),
        token_hash: Set(hash_refresh_token(&raw)),
        created_at: Set(now),
        expires_at: Set(std::cmp::min(now + secs(ttl), session_expires)),
        used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(raw)
}

pub struct NewSession {
    pub session_id: Uuid,
    pub refresh_token: String,
}

/// Start a session for a user who just proved their password.
pub async fn create(
    db: &impl TransactionTrait,
    user: Uuid,
    refresh_ttl: u64,
    max_age: u64,
) -> Result<NewSession, ApiError> {
    let txn = crate::db::begin_write(db).await?;
    let now = Utc::now();
    let id = Uuid::now_v7();
    let expires = now + secs(max_age);
    sessions::ActiveModel {
        id: Set(id),
        user_id: Set(user),
        created_at: Set(now),
        expires_at: Set(expires),
        revoked_at: Set(None),
        revoked_reason: Set(None),
    }
    .insert(&txn)
    .await?;
    let refresh_token = new_refresh_token(&txn, id, now, refresh_ttl, expires).await?;
    txn.commit().await?;
    Ok(NewSession {
        session_id: id,
        refresh_token,
    })
}

/// End a session; later requests with its tokens are refused.
pub async fn revoke(
    db: &impl ConnectionTrait,
    session: Uuid,
    reason: &str,
) -> Result<(), ApiError> {
    sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(Utc::now()))
        .col_expr(sessions::Column::RevokedReason, Expr::value(reason))
        .filter(sessions::Column::Id.eq(session))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    announce(db, Change::Session(session)).await
}

/// End every session of a user (disabled, password changed).
pub async fn revoke_all(
    db: &impl ConnectionTrait,
    user: Uuid,
    reason: &str,
) -> Result<(), ApiError> {
    sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(Utc::now()))
        .col_expr(sessions::Column::RevokedReason, Expr::value(reason))
        .filter(sessions::Column::UserId.eq(user))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    announce(db, Change::User(user)).await
}

pub struct Rotated {
    pub user: users::Model,
    pub session_id: Uuid,
    pub refresh_token: String,
}

enum Outcome {
    Rotated(Rotated),
    Refused(ApiError),
}

/// Trade a refresh token for the next one. A token already used ends the
/// whole session (reuse detection); the session's end is committed even
/// though the call fails.
pub async fn rotate(
    db: &impl TransactionTrait,
    cache: &SessionCache,
    raw: &str,
    refresh_ttl: u64,
) -> Result<Rotated, ApiError> {
    let invalid =
        || ApiError::unauthenticated("invalid_refresh_token", "the refresh token is not valid");
    let txn = crate::db::begin_write(db).await?;
    let now = Utc::now();
    let mut revoked = None;
    let outcome = 'out: {
        let Some(token) = refresh_token(&txn, raw).await? else {
            break 'out Outcome::Refused(invalid());
        };
        let Some(session) = sessions::Entity::find_by_id(token.session_id)
            .one(&txn)
            .await?
        else {
            break 'out Outcome::Refused(invalid());
        };
        if session.revoked_at.is_some() {
            break 'out Outcome::Refused(ApiError::unauthenticated(
                "session_revoked",
                "this session has ended; sign in again",
            ));
        }
        // Mark the token used only if nobody did before: of two requests
        // racing with the same token, one wins and the other is a reuse.
        let claimed = refresh_tokens::Entity::update_many()
            .col_expr(refresh_tokens::Column::UsedAt, Expr::value(now))
            .filter(refresh_tokens::Column::Id.eq(token.id))
            .filter(refresh_tokens::Column::UsedAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
        if !claimed {
            revoke(&txn, session.id, "refresh_token_reused").await?;
            revoked = Some(session.id);
            tracing::warn!(session = %session.id, user = %session.user_id, "refresh token reused; session revoked");
            break 'out Outcome::Refused(ApiError::unauthenticated(
                "refresh_token_reused",
                "this refresh token was already used; the session has been ended, sign in again",
            ));
        }
        if token.expires_at <= now || session.expires_at <= now {
            break 'out Outcome::Refused(ApiError::unauthenticated(
                "refresh_token_expired",
                "the refresh token has expired; sign in again",
            ));
        }
        let Some(user) = users::Entity::find_by_id(session.user_id).one(&txn).await? else {
            break 'out Outcome::Refused(invalid());
        };
        if user.disabled {
            revoke(&txn, session.id, "user_disabled").await?;
            revoked = Some(session.id);
            break 'out Outcome::Refused(account_disabled());
        }
        let refresh_token =
            new_refresh_token(&txn, session.id, now, refresh_ttl, session.expires_at).await?;
        Outcome::Rotated(Rotated {
            user,
            session_id: session.id,
            refresh_token,
        })
    };
    txn.commit().await?;
    if let Some(session) = revoked {
        cache.forget_session(session);
    }
    match outcome {
        Outcome::Rotated(r) => Ok(r),
        Outcome::Refused(e) => Err(e),
    }
}

pub fn account_disabled() -> ApiError {
    ApiError::unauthenticated("account_disabled", "this account is disabled")
}

async fn refresh_token(
    db: &impl ConnectionTrait,
    raw: &str,
) -> Result<Option<refresh_tokens::Model>, ApiError> {
    Ok(refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(hash_refresh_token(raw)))
        .one(db)
        .await?)
}

/// The session a refresh token belongs to, if any.
pub async fn session_of_refresh_token(
    db: &impl ConnectionTrait,
    raw: &str,
) -> Result<Option<sessions::Model>, ApiError> {
    let Some(token) = refresh_token(db, raw).await? else {
        return Ok(None);
    };
    Ok(sessions::Entity::find_by_id(token.session_id)
        .one(db)
        .await?)
}

/// Load the caller of a verified access token: the session must be alive and
/// the user enabled. One query joins the two; a second reads the regions of
/// a non-HQ user.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    cache: &SessionCache,
    user_id: Uuid,
    session_id: Uuid,
) -> Result<Caller, ApiError> {
    if let Some(c) = cache.get(user_id, session_id) {
        return Ok(c);
    }
    let seen = cache.epoch();
    let (caller, expires_at) = load_caller(db, user_id, session_id).await?;
    cache.put(seen, &caller, expires_at);
    Ok(caller)
}

/// The caller of a live session, and when the session ends, from the database.
async fn load_caller(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    session_id: Uuid,
) -> Result<(Caller, chrono::DateTime<Utc>), ApiError> {
    let stmt = Query::select()
        .expr_as(Expr::col((users::Entity, users::Column::Email)), "email")
        .expr_as(Expr::col((users::Entity, users::Column::Role)), "role")
        .expr_as(
            Expr::col((users::Entity, users::Column::Disabled)),
            "disabled",
        )
        .expr_as(
            Expr::col((sessions::Entity, sessions::Column::ExpiresAt)),
            "expires_at",
        )
        .from(sessions::Entity)
        .inner_join(
            users::Entity,
            Expr::col((users::Entity, users::Column::Id))
                .equals((sessions::Entity, sessions::Column::UserId)),
        )
        .and_where(Expr::col((sessions::Entity, sessions::Column::Id)).eq(session_id))
        .and_where(Expr::col((sessions::Entity, sessions::Column::UserId)).eq(user_id))
        .and_where(Expr::col((sessions::Entity, sessions::Column::RevokedAt)).is_null())
        .to_owned();
    let row = db.query_one(&stmt).await?;
    // Compared here rather than in SQL: SQLite keeps times as text.
    let expires_at = match &row {
        Some(r) => Some(r.try_get::<chrono::DateTime<Utc>>("", "expires_at")?),
        None => None,
    };
    let (Some(row), Some(expires_at)) = (row, expires_at.filter(|t| *t > Utc::now())) else {
        return Err(ApiError::unauthenticated(
            "session_revoked",
            "this session has ended; sign in again",
        ));
    };
    if row.try_get::<bool>("", "disabled")? {
        return Err(account_disabled());
    }
    let role_text: String = row.try_get("", "role")?;
    let role = super::users::role_of(user_id, &role_text)?;
    let region_ids = if role == Role::Hq {
        Vec::new()
    } else {
        region_ids(db, user_id).await?
    };
    let caller = Caller {
        id: user_id,
        email: row.try_get("", "email")?,
        role,
        region_ids,
        session_id,
    };
    Ok((caller, expires_at))
}

pub async fn region_ids(db: &impl ConnectionTrait, user: Uuid) -> Result<Vec<Uuid>, ApiError> {
    Ok(user_regions::Entity::find()
        .filter(user_regions::Column::UserId.eq(user))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.region_id)
        .collect())
}
