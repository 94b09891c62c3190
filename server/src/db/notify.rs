//! What servers sharing a PostgreSQL database tell each other: sessions
//! and users that changed (`db::session_cache`) and where the change log
//! stands (`db::sync`). Writers send notifications inside their
//! transactions, so they are delivered only once those commit.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;

use super::session_cache::{self, SessionCache};
use super::sync::{self, LogHead};

/// Keep this server's session cache and log head in step with the other
/// servers, until the process ends. While the feed is down neither is
/// trusted: the cache is off and the head reads the database; each time
/// the feed comes back the cache starts empty and the head reads the log's
/// position once.
pub async fn follow(db: DatabaseConnection, sessions: Arc<SessionCache>, log: Arc<LogHead>) {
    use sea_orm::sqlx::postgres::PgListener;
    let pool = db.get_postgres_connection_pool().clone();
    let mut backoff = Duration::from_millis(100);
    loop {
        let listener = async {
            let mut l = PgListener::connect_with(&pool).await?;
            l.listen_all([session_cache::CHANNEL, sync::CHANNEL])
                .await?;
            Ok::<_, sea_orm::sqlx::Error>(l)
        }
        .await;
        // Listening before reading: a commit after the read is heard.
        let listener = match listener {
            Ok(l) => log.refresh(&db).await.map(|_| l).map_err(|e| e.message),
            Err(e) => Err(e.to_string()),
        };
        let mut listener = match listener {
            Ok(l) => l,
            Err(error) => {
                tracing::warn!(%error, "notifications from other servers unavailable");
                sessions.set_live(false);
                log.set_live(false);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        sessions.set_live(true);
        log.set_live(true);
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) if n.channel() == sync::CHANNEL => log.apply(n.payload()),
                Ok(Some(n)) => sessions.apply(n.payload()),
                Ok(None) => {
                    tracing::warn!("notifications from other servers interrupted");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "notifications from other servers failed");
                    break;
                }
            }
        }
        sessions.set_live(false);
        log.set_live(false);
    }
}
