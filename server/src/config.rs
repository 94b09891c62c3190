//! Every setting, as a command-line flag and a `STORECHECK_*` variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A secret value: never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// Where the data lives: shared by `serve`, `migrate` and `create-user`.
#[derive(Debug, Clone, clap::Args)]
pub struct DataConfig {
    /// Folder for the embedded SQLite database (and, later, embedded object
    /// storage). Created when missing.
    #[arg(long, env = "STORECHECK_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Database URL: `postgres://user:pass@host/db` or `sqlite://path?mode=rwc`.
    /// Default: the SQLite file `storecheck.db` in the data folder.
    #[arg(long, env = "STORECHECK_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<Secret>,

    /// Largest number of pooled database connections per server.
    #[arg(long, env = "STORECHECK_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
}

impl DataConfig {
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(Secret(url)) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("storecheck.db").display()
            ),
        }
    }
}

/// Settings of `storecheck serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeConfig {
    /// Address and port to listen on.
    #[arg(long, env = "STORECHECK_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    #[command(flatten)]
    pub data: DataConfig,

    /// Create the demo organisation (regions, stores, users of every role,
    /// the default catalog published for this quarter, assignments) if it is
    /// missing, and print its logins.
    #[arg(long, env = "STORECHECK_DEMO")]
    pub demo: bool,

    /// Key that signs access tokens. Every server of one deployment must use
    /// the same key. Default: a random key made once and kept in the database.
    #[arg(long, env = "STORECHECK_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<Secret>,

    /// Lifetime of an access token, in seconds.
    #[arg(long, env = "STORECHECK_ACCESS_TOKEN_TTL", default_value_t = 900)]
    pub access_token_ttl: u64,

    /// Lifetime of an unused refresh token, in seconds (default 30 days, so a
    /// phone that was offline for weeks can come back).
    #[arg(long, env = "STORECHECK_REFRESH_TOKEN_TTL", default_value_t = 30 * 86_400)]
    pub refresh_token_ttl: u64,

    /// Longest life of a session however often it is refreshed, in seconds
    /// (default 180 days).
    #[arg(long, env = "STORECHECK_SESSION_MAX_AGE", default_value_t = 180 * 86_400)]
    pub session_max_age: u64,

    /// Failed logins for one account before each further attempt is delayed.
    #[arg(
        long,
        env = "STORECHECK_LOGIN_FAILURES_PER_ACCOUNT",
        default_value_t = 5
    )]
    pub login_failures_per_account: u32,

    /// Failed logins from one client address before each further attempt is delayed.
    #[arg(
        long,
        env = "STORECHECK_LOGIN_FAILURES_PER_ADDRESS",
        default_value_t = 50
    )]
    pub login_failures_per_address: u32,

    /// Take the client address from the first `X-Forwarded-For` entry. Only
    /// behind a proxy that sets that header.
    #[arg(long, env = "STORECHECK_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,

    /// Largest request body, in bytes, for JSON requests.
    #[arg(long, env = "STORECHECK_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Largest CSV file, in bytes, for store imports.
    #[arg(long, env = "STORECHECK_MAX_IMPORT_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_import_bytes: usize,

    /// Longest time a request may take, in seconds.
    #[arg(long, env = "STORECHECK_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout: u64,

    /// A check-in farther than this many metres from the store is flagged.
    #[arg(long, env = "STORECHECK_GEOFENCE_M", default_value_t = 200.0)]
    pub geofence_m: f64,

    /// Most audits in one push.
    #[arg(long, env = "STORECHECK_MAX_PUSH_AUDITS", default_value_t = 100)]
    pub max_push_audits: usize,

    /// Largest push request body, in bytes.
    #[arg(long, env = "STORECHECK_MAX_PUSH_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_push_bytes: usize,

    #[command(flatten)]
    pub storage: StorageConfig,

    /// Photos processed at once by this server (decoding is CPU work; one
    /// per core is about right). 0: this server processes none, others
    /// sharing the database do.
    #[arg(long, env = "STORECHECK_PHOTO_WORKERS", default_value_t = 2)]
    pub photo_workers: usize,

    /// A photo taken more than this many minutes before the audit started
    /// or after it finished (by the phone's clock) is flagged.
    #[arg(long, env = "STORECHECK_PHOTO_VISIT_WINDOW_MIN", default_value_t = 120)]
    pub photo_visit_window_min: u64,

    /// Photos of two audits whose 64-bit perceptual hashes differ in at
    /// most this many bits are flagged as reused (0 to 7).
    #[arg(long, env = "STORECHECK_PHOTO_REUSE_DISTANCE", default_value_t = 6,
          value_parser = clap::value_parser!(u32).range(0..=7))]
    pub photo_reuse_distance: u32,

    /// Lifetime of a reviewer's presigned photo URL, in seconds.
    #[arg(long, env = "STORECHECK_REVIEW_URL_TTL", default_value_t = 600)]
    pub review_url_ttl: u64,

    /// Seconds a taken job stays its worker's before another may take it.
    #[arg(long, env = "STORECHECK_JOB_LEASE", default_value_t = 120)]
    pub job_lease: u64,

    /// Milliseconds between looks for jobs queued by other servers.
    #[arg(long, env = "STORECHECK_JOB_POLL_MS", default_value_t = 1000)]
    pub job_poll_ms: u64,

    /// Failures after which a job is given up (an unreachable store does
    /// not count).
    #[arg(long, env = "STORECHECK_JOB_MAX_FAILURES", default_value_t = 8)]
    pub job_max_failures: i32,

    /// Seconds between sweeps for uploads whose completion never arrived.
    #[arg(long, env = "STORECHECK_PHOTO_SWEEP_INTERVAL", default_value_t = 60)]
    pub photo_sweep_interval: u64,

    /// Log format: `text` or `json`.
    #[arg(long, env = "STORECHECK_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
}

/// Where photo files are kept: any S3-compatible store, or the embedded one.
#[derive(Debug, Clone, clap::Args)]
pub struct StorageConfig {
    /// URL of an S3-compatible store (`https://s3.eu-west-1.amazonaws.com`,
    /// `http://garage:3900`). Default: an S3-compatible endpoint started
    /// in-process, keeping files under the data folder.
    #[arg(long, env = "STORECHECK_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// Bucket for photo files; created at start when missing and allowed.
    #[arg(long, env = "STORECHECK_S3_BUCKET", default_value = "storecheck")]
    pub s3_bucket: String,

    /// Signing region (`garage` for Garage).
    #[arg(long, env = "STORECHECK_S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,

    /// Access key id for the store.
    #[arg(long, env = "STORECHECK_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,

    /// Secret access key for the store.
    #[arg(long, env = "STORECHECK_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<Secret>,

    /// Path-style URLs (`endpoint/bucket/key`), as stores other than AWS
    /// usually need; `false` for virtual-hosted style.
    #[arg(long, env = "STORECHECK_S3_PATH_STYLE", default_value_t = true, action = clap::ArgAction::Set)]
    pub s3_path_style: bool,

    /// Address of the embedded store when no endpoint is set. Presigned
    /// URLs name it, so phones must reach it; port 0 picks a free one.
    #[arg(
        long,
        env = "STORECHECK_S3_EMBEDDED_BIND",
        default_value = "127.0.0.1:0"
    )]
    pub s3_embedded_bind: SocketAddr,

    /// Lifetime of a presigned upload URL, in seconds.
    #[arg(long, env = "STORECHECK_UPLOAD_URL_TTL", default_value_t = 900)]
    pub upload_url_ttl: u64,

    /// Largest photo file, in bytes: larger manifests are refused at push,
    /// larger bodies by the embedded store.
    #[arg(long, env = "STORECHECK_MAX_PHOTO_BYTES", default_value_t = storecheck_shared::sync::MAX_PHOTO_BYTES)]
    pub max_photo_bytes: u64,
}

impl StorageConfig {
    pub fn upload_ttl(&self) -> Duration {
        Duration::from_secs(self.upload_url_ttl)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl ServeConfig {
    /// Defaults for a server on `bind` keeping its data under `data_dir`:
    /// what `storecheck serve` uses with no flags and no variables.
    pub fn new(bind: SocketAddr, data_dir: PathBuf) -> Self {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            serve: ServeConfig,
        }
        // Parsing an empty command line gives exactly the documented defaults.
        let mut cfg = Only::parse_from(["storecheck"]).serve;
        cfg.bind = bind;
        cfg.data.data_dir = data_dir;
        cfg.data.database_url = None;
        cfg.token_secret = None;
        cfg.demo = false;
        cfg.storage.s3_endpoint = None;
        cfg.storage.s3_access_key_id = None;
        cfg.storage.s3_secret_access_key = None;
        cfg
    }

    pub fn access_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl)
    }

    pub fn worker_settings(&self) -> crate::jobs::WorkerSettings {
        crate::jobs::WorkerSettings {
            concurrency: self.photo_workers,
            lease: Duration::from_secs(self.job_lease.max(1)),
            poll: Duration::from_millis(self.job_poll_ms.max(10)),
            max_failures: self.job_max_failures.max(1),
            grace: Duration::from_secs(20),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_not_printed() {
        let mut cfg = ServeConfig::new("127.0.0.1:0".parse().expect("addr"), "d".into());
        cfg.token_secret = Some(Secret("token-key-that-must-not-leak".into()));
        cfg.data.database_url = Some(Secret("postgres://u:hunter2@db/x".into()));
        cfg.storage.s3_secret_access_key = Some(Secret("s3-secret-that-must-not-leak".into()));
        let printed = format!("{cfg:?}");
        assert!(
            !printed.contains("token-key-that-must-not-leak"),
            "{printed}"
        );
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(!printed.contains("s3-secret"), "{printed}");
        assert!(printed.contains("<redacted>"));
    }
}
