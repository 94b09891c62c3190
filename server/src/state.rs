//! What every handler shares.

use std::ops::Deref;
use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::auth::TokenKey;
use crate::config::ServeConfig;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState(pub Arc<App>);

pub struct App {
    pub db: DatabaseConnection,
    pub config: ServeConfig,
    pub token_key: TokenKey,
    pub metrics: Metrics,
    pub versions: crate::audits::VersionCache,
    /// Recent pull answers (see `audits::pull::PullCache`).
    pub pulls: crate::audits::pull::PullCache,
    /// Where the change log stands (see `db::sync::LogHead`).
    pub log: Arc<crate::db::sync::LogHead>,
    /// Who may read which published version, at a log position (see
    /// `catalog::versions::visible`).
    pub version_access: crate::catalog::versions::AccessCache,
    /// Signed-in callers, kept in step with every server (see `db::session_cache`).
    pub sessions: Arc<crate::db::session_cache::SessionCache>,
    /// Where photo files go.
    pub storage: crate::storage::Storage,
    /// Wakes this process's job worker when a request queues work.
    pub jobs: crate::jobs::Waker,
}

impl App {
    /// What the audit use-cases need of the configuration.
    pub fn settings(&self) -> crate::audits::Settings {
        crate::audits::Settings {
            geofence_m: self.config.geofence_m,
        }
    }

    /// The evidence rules photo processing applies.
    pub fn photo_rules(&self) -> crate::photos::work::PhotoRules {
        crate::photos::work::PhotoRules {
            visit_window: chrono::Duration::minutes(
                i64::try_from(self.config.photo_visit_window_min).unwrap_or(i64::MAX / 120_000),
            ),
            geofence_m: self.config.geofence_m,
            reuse_distance: self.config.photo_reuse_distance,
        }
    }
}

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}
