//! Signed-in callers, remembered for a short while so that most requests
//! need not ask the database who is calling.
//!
//! An entry is dropped the moment its session or user changes: on this
//! server by the writer itself, right after its commit, and on every other
//! server by a PostgreSQL notification sent inside the writer's transaction
//! (delivered only once it commits). While the notification feed is down
//! the cache is not used at all, so no server answers from an entry it
//! could not hear being invalidated. On SQLite, which one server process
//! serves, local invalidation is the whole story.
//!
//! A reader that loaded a caller while an invalidation happened must not put
//! what it read back: every invalidation bumps an epoch, and `put` only
//! stores what was read entirely after the latest one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use uuid::Uuid;

use super::scope::Caller;
use crate::error::ApiError;

/// The PostgreSQL channel that carries invalidations between servers.
pub const CHANNEL: &str = "storecheck_sessions";

/// How long an entry is trusted at most, even with no invalidation heard.
const TTL: Duration = Duration::from_secs(30);

/// Entries kept at most; the cache starts over when full.
const MAX_ENTRIES: usize = 100_000;

struct Entry {
    caller: Caller,
    session_expires_at: DateTime<Utc>,
    cached_at: Instant,
}

#[derive(Default)]
struct Inner {
    by_session: HashMap<Uuid, Entry>,
    epoch: u64,
}

/// What a reader saw before loading a caller from the database.
#[derive(Debug, Clone, Copy)]
pub struct Epoch(u64);

pub struct SessionCache {
    inner: Mutex<Inner>,
    /// Whether every invalidation is heard (always on SQLite; on PostgreSQL
    /// while the notification feed is connected).
    live: AtomicBool,
}

impl SessionCache {
    /// A cache that hears every invalidation from the start.
    pub fn live() -> Self {
        SessionCache {
            inner: Mutex::default(),
            live: AtomicBool::new(true),
        }
    }

    /// A cache that is off until [`SessionCache::set_live`] turns it on.
    pub fn off() -> Self {
        SessionCache {
            inner: Mutex::default(),
            live: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The cached caller of a session, if it is still good.
    pub fn get(&self, user: Uuid, session: Uuid) -> Option<Caller> {
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        let inner = self.lock();
        let e = inner.by_session.get(&session)?;
        (e.caller.id == user && e.cached_at.elapsed() < TTL && e.session_expires_at > Utc::now())
            .then(|| e.caller.clone())
    }

    /// Call before reading a caller from the database.
    pub fn epoch(&self) -> Epoch {
        Epoch(self.lock().epoch)
    }

    /// Remember a caller read after `seen`, unless something was
    /// invalidated since.
    pub fn put(&self, seen: Epoch, caller: &Caller, session_expires_at: DateTime<Utc>) {
        if !self.live.load(Ordering::Acquire) {
            return;
        }
        let mut inner = self.lock();
        if inner.epoch != seen.0 {
            return;
        }
        if inner.by_session.len() >= MAX_ENTRIES {
            inner.by_session.clear();
        }
        inner.by_session.insert(
            caller.session_id,
            Entry {
                caller: caller.clone(),
                session_expires_at,
                cached_at: Instant::now(),
            },
        );
    }

    /// Forget one session.
    pub fn forget_session(&self, session: Uuid) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.by_session.remove(&session);
    }

    /// Forget every session of a user (role, regions, disabling, password).
    pub fn forget_user(&self, user: Uuid) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.by_session.retain(|_, e| e.caller.id != user);
    }

    /// Forget everything.
    pub fn forget_all(&self) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.by_session.clear();
    }

    /// Turn the cache on or off (the notification feed's state); either way
    /// it starts empty.
    pub fn set_live(&self, live: bool) {
        self.forget_all();
        self.live.store(live, Ordering::Release);
        self.forget_all();
    }

    /// Apply one notification payload: `s:<session>` or `u:<user>`.
    pub fn apply(&self, payload: &str) {
        match Change::parse(payload) {
            Some(Change::Session(id)) => self.forget_session(id),
            Some(Change::User(id)) => self.forget_user(id),
            None => {
                tracing::warn!(payload, "unreadable session notification; forgetting all");
                self.forget_all();
            }
        }
    }
}

/// What changed, as a notification says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Session(Uuid),
    User(Uuid),
}

impl Change {
    fn payload(self) -> String {
        match self {
            Change::Session(id) => format!("s:{id}"),
            Change::User(id) => format!("u:{id}"),
        }
    }

    fn parse(payload: &str) -> Option<Change> {
        let (kind, id) = payload.split_once(':')?;
        let id = Uuid::parse_str(id).ok()?;
        match kind {
            "s" => Some(Change::Session(id)),
            "u" => Some(Change::User(id)),
            _ => None,
        }
    }
}

/// Tell every server, once the caller's transaction commits, that a session
/// or user changed. A no-op on SQLite.
pub async fn announce(db: &impl ConnectionTrait, change: Change) -> Result<(), ApiError> {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    db.execute_raw(Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), change.payload().into()],
    ))
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use storecheck_shared::Role;

    fn caller(user: Uuid, session: Uuid) -> Caller {
        Caller {
            id: user,
            email: "a@example.com".into(),
            role: Role::Auditor,
            region_ids: vec![],
            session_id: session,
        }
    }

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_kept() {
        let c = SessionCache::live();
        let (u, s) = (Uuid::new_v4(), Uuid::new_v4());
        let later = Utc::now() + chrono::Duration::hours(1);
        let seen = c.epoch();
        c.forget_user(u);
        c.put(seen, &caller(u, s), later);
        assert!(c.get(u, s).is_none());
        let seen = c.epoch();
        c.put(seen, &caller(u, s), later);
        assert_eq!(c.get(u, s).map(|c| c.session_id), Some(s));
        assert!(c.get(Uuid::new_v4(), s).is_none(), "another user's token");
    }

    #[test]
    fn invalidations_and_expiry() {
        let c = SessionCache::live();
        let (u, s1, s2) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let later = Utc::now() + chrono::Duration::hours(1);
        c.put(c.epoch(), &caller(u, s1), later);
        c.put(c.epoch(), &caller(u, s2), later);
        c.apply(&format!("s:{s1}"));
        assert!(c.get(u, s1).is_none());
        assert!(c.get(u, s2).is_some());
        c.apply(&format!("u:{u}"));
        assert!(c.get(u, s2).is_none());
        c.put(
            c.epoch(),
            &caller(u, s1),
            Utc::now() - chrono::Duration::seconds(1),
        );
        assert!(c.get(u, s1).is_none(), "an expired session is not served");
        c.put(c.epoch(), &caller(u, s1), later);
        c.apply("garbage");
        assert!(c.get(u, s1).is_none(), "an unreadable notice forgets all");
    }

    #[test]
    fn an_off_cache_keeps_nothing() {
        let c = SessionCache::off();
        let (u, s) = (Uuid::new_v4(), Uuid::new_v4());
        c.put(
            c.epoch(),
            &caller(u, s),
            Utc::now() + chrono::Duration::hours(1),
        );
        assert!(c.get(u, s).is_none());
        c.set_live(true);
        c.put(
            c.epoch(),
            &caller(u, s),
            Utc::now() + chrono::Duration::hours(1),
        );
        assert!(c.get(u, s).is_some());
        c.set_live(false);
        assert!(c.get(u, s).is_none());
    }

    #[test]
    fn payloads_round_trip() {
        for ch in [
            Change::Session(Uuid::new_v4()),
            Change::User(Uuid::new_v4()),
        ] {
            assert_eq!(Change::parse(&ch.payload()), Some(ch));
        }
        assert_eq!(Change::parse("x:1"), None);
    }
}
