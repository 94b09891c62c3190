//! The audit lifecycle: what phones push and pull, and (with review) the
//! transitions of an audit after it arrives. Written against the caller's
//! id or [`Scope`](crate::db::scope::Scope) and a database connection, never
//! the HTTP layer; each use-case's transaction writes its change-log
//! entries together with the data.

pub mod actions;
pub mod pull;
pub mod push;
pub mod review;
pub mod versions;
pub mod view;

pub use versions::VersionCache;

use crate::error::ApiError;

/// Settings the use-cases need from the server's configuration.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Check-ins farther than this from the store are flagged.
    pub geofence_m: f64,
}

/// Stored data that cannot be read back is a server fault, never a default.
pub(crate) fn corrupt(what: impl std::fmt::Display) -> ApiError {
    ApiError::internal(anyhow::anyhow!("stored data unreadable: {what}"))
}
