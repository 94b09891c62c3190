//! Slowing down repeated failed logins, per account and per client address.
//!
//! Kept in the database so that every server of a deployment counts the same
//! failures. After `threshold` failures within an hour, each further failure
//! locks the key for twice as long as the last (1 s, 2 s, 4 s, … up to 15
//! minutes). A successful login clears the account's count.

use chrono::{Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::entities::login_throttle;
use crate::error::ApiError;

const WINDOW: Duration = Duration::hours(1);
const MAX_LOCK_SECS: i64 = 15 * 60;

/// Keys are hashed so that any text a client sends fits the column.
fn key(kind: &str, value: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(value.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{kind}:{hex}")
}

pub fn account_key(email: &str) -> String {
    key("account", email)
}

pub fn address_key(addr: &str) -> String {
    key("address", addr)
}

/// Seconds until `key` may try again, if it is locked now.
pub async fn locked_for(db: &impl ConnectionTrait, key: &str) -> Result<Option<u64>, ApiError> {
    let now = Utc::now();
    let row = login_throttle::Entity::find_by_id(key.to_owned())
        .one(db)
        .await?;
    Ok(row
        .and_then(|r| r.locked_until)
        .filter(|until| *until > now)
        .map(|until| u64::try_from((until - now).num_seconds() + 1).unwrap_or(1)))
}

/// Count a failed login against `key`; lock it once past `threshold`.
pub async fn record_failure(
    db: &impl ConnectionTrait,
    key: &str,
    threshold: u32,
) -> Result<(), ApiError> {
    let now = Utc::now();
    login_throttle::Entity::insert(login_throttle::ActiveModel {
        key: Set(key.to_owned()),
        failures: Set(0),
        first_failure_at: Set(now),
        locked_until: Set(None),
    })
    .on_conflict_do_nothing_on([login_throttle::Column::Key])
    .exec_without_returning(db)
    .await?;
    // Start a new window when the last one is over.
    login_throttle::Entity::update_many()
        .col_expr(login_throttle::Column::Failures, Expr::value(0))
        .col_expr(login_throttle::Column::FirstFailureAt, Expr::value(now))
        .filter(login_throttle::Column::Key.eq(key))
        .filter(login_throttle::Column::FirstFailureAt.lt(now - WINDOW))
        .exec(db)
        .await?;
    // An atomic increment, so that failures racing on many servers all count.
    login_throttle::Entity::update_many()
        .col_expr(
            login_throttle::Column::Failures,
            Expr::col(login_throttle::Column::Failures).add(1),
        )
        .filter(login_throttle::Column::Key.eq(key))
        .exec(db)
        .await?;
    let Some(row) = login_throttle::Entity::find_by_id(key.to_owned())
        .one(db)
        .await?
    else {
        return Ok(());
    };
    let over = i64::from(row.failures) - i64::from(threshold);
    if over >= 0 {
        let lock = lock_secs(over);
        let mut active: login_throttle::ActiveModel = row.into();
        active.locked_until = Set(Some(now + Duration::seconds(lock)));
        active.update(db).await?;
    }
    Ok(())
}

/// 1 s for the first failure past the threshold, doubling, at most 15 minutes.
fn lock_secs(over: i64) -> i64 {
    if over >= 10 {
        MAX_LOCK_SECS
    } else {
        std::cmp::min(1i64 << over, MAX_LOCK_SECS)
    }
}

/// Forget the failures of `key` (after a successful login).
pub async fn clear(db: &impl ConnectionTrait, key: &str) -> Result<(), ApiError> {
    login_throttle::Entity::delete_by_id(key.to_owned())
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn lock_doubles_up_to_fifteen_minutes() {
        let got: Vec<i64> = (0..12).map(super::lock_secs).collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
    }
}
