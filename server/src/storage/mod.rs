//! Object storage for photo files, over the S3 API.
//!
//! One code path for every store: AWS S3, MinIO, Garage, Ceph RGW, or the
//! endpoint `storecheck serve` starts in-process when none is configured
//! (see [`embedded`]). Phones never send files through the server: they
//! `PUT` to presigned URLs that bind the key, the content type, the length
//! and the SHA-256, and the server verifies what arrived.

pub mod embedded;

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use base64::Engine;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::config::{Secret, StorageConfig};
use crate::error::ApiError;

/// Seconds a phone is told to wait before trying again when the store is down.
const RETRY_AFTER_SECS: u64 = 5;

/// What went wrong talking to the store.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The store could not be reached or did not answer in time: try again.
    #[error("the object store is unreachable: {0}")]
    Unreachable(String),
    /// The store answered with an error.
    #[error("the object store refused: {0}")]
    Refused(String),
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        tracing::warn!(error = %e, "object store");
        ApiError::unavailable("the photo store cannot be reached; try again shortly")
            .with_retry_after(RETRY_AFTER_SECS)
    }
}

fn classify<E, R>(e: SdkError<E, R>) -> StorageError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = DisplayErrorContext(&e).to_string();
    match e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => StorageError::Unreachable(text),
        _ => StorageError::Refused(text),
    }
}

/// A presigned request a phone sends as it is: the URL, the method and
/// every header listed, with exactly these values.
#[derive(Debug, Clone)]
pub struct Presigned {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub expires_at: DateTime<Utc>,
}

/// What the store holds under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub bytes: u64,
    /// Lower-case hex SHA-256 of the stored bytes, computed from them.
    pub sha256: String,
}

/// The object store and the bucket photos live in.
pub struct Storage {
    client: Client,
    bucket: String,
    /// The store this server talks to.
    endpoint: Endpoint,
    /// The in-process endpoint, when this server runs one.
    _embedded: Option<embedded::Embedded>,
}

/// Where and how to reach a store.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub path_style: bool,
}

impl Storage {
    /// Reach the configured store, or start the embedded one under
    /// `data_dir` (signing with `embedded_secret`) when none is configured.
    /// The bucket is checked, and created when missing; a store that cannot
    /// be reached yet is reported and `/readyz` answers 503 until it can.
    pub async fn start(
        config: &StorageConfig,
        data_dir: &std::path::Path,
        embedded_secret: &[u8],
    ) -> anyhow::Result<Storage> {
        let (endpoint, running) = match &config.s3_endpoint {
            Some(url) => {
                let (Some(key), Some(secret)) =
                    (&config.s3_access_key_id, &config.s3_secret_access_key)
                else {
                    anyhow::bail!(
                        "STORECHECK_S3_ENDPOINT needs STORECHECK_S3_ACCESS_KEY_ID and STORECHECK_S3_SECRET_ACCESS_KEY"
                    );
                };
                let endpoint = Endpoint {
                    url: url.clone(),
                    region: config.s3_region.clone(),
                    access_key_id: key.clone(),
                    secret_access_key: secret.clone(),
                    path_style: config.s3_path_style,
                };
                (endpoint, None)
            }
            None => {
                let running = embedded::Embedded::start(
                    &data_dir.join("objects"),
                    config.s3_embedded_bind,
                    embedded_secret,
                    config.max_photo_bytes,
                )
                .await?;
                (running.endpoint(&config.s3_region), Some(running))
            }
        };
        let storage = Storage {
            client: client(&endpoint),
            bucket: config.s3_bucket.clone(),
            endpoint: endpoint.clone(),
            _embedded: running,
        };
        match storage.ensure_bucket().await {
            Ok(()) => {
                tracing::info!(endpoint = %endpoint.url, bucket = %storage.bucket, "object store ready")
            }
            Err(e) => {
                tracing::error!(endpoint = %endpoint.url, bucket = %storage.bucket, error = %e, "object store not ready")
            }
        }
        Ok(storage)
    }

    /// Create the bucket unless it is there.
    /// How this server reaches its store (the embedded one or the
    /// configured one), for other processes sharing it.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub async fn ensure_bucket(&self) -> Result<(), StorageError> {
        if self.ready().await.is_ok() {
            return Ok(());
        }
        match self
            .client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()
                }) =>
            {
                Ok(())
            }
            Err(e) => Err(classify(e)),
        }
    }

    /// Whether the bucket answers.
    pub async fn ready(&self) -> Result<(), StorageError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    /// A `PUT` of exactly these bytes to `key`: the store refuses another
    /// length, type or checksum, and the URL after `ttl`.
    pub async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        bytes: u64,
        sha256_hex: &str,
        ttl: Duration,
    ) -> Result<Presigned, StorageError> {
        let checksum = hex_to_base64(sha256_hex)
            .ok_or_else(|| StorageError::Refused(format!("not a SHA-256: {sha256_hex}")))?;
        let length = i64::try_from(bytes)
            .map_err(|_| StorageError::Refused(format!("length out of range: {bytes}")))?;
        let presigned = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(length)
            .checksum_sha256(checksum)
            .presigned(presigning(ttl)?)
            .await
            .map_err(classify)?;
        Ok(Presigned {
            method: presigned.method().to_owned(),
            url: presigned.uri().to_owned(),
            headers: presigned
                .headers()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            expires_at: expiry(ttl),
        })
    }

    /// A `GET` of `key`, valid for `ttl`.
    pub async fn presign_get(&self, key: &str, ttl: Duration) -> Result<Presigned, StorageError> {
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning(ttl)?)
            .await
            .map_err(classify)?;
        Ok(Presigned {
            method: presigned.method().to_owned(),
            url: presigned.uri().to_owned(),
            headers: Vec::new(),
            expires_at: expiry(ttl),
        })
    }

    /// The length and SHA-256 of what is stored under `key`, computed from
    /// the bytes themselves (a store's own checksum record can be stale
    /// after a refused overwrite); `None` when nothing is.
    pub async fn stat(&self, key: &str) -> Result<Option<Stored>, StorageError> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(classify(e)),
        };
        let mut body = out.body;
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| StorageError::Unreachable(e.to_string()))?
        {
            bytes += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok(Some(Stored {
            bytes,
            sha256: hex(&hasher.finalize()),
        }))
    }

    /// The bytes under `key`; `None` when nothing is stored there.
    pub async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out
                .body
                .collect()
                .await
                .map(|b| Some(b.to_vec()))
                .map_err(|e| StorageError::Unreachable(e.to_string())),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(classify(e)),
        }
    }

    /// Store `bytes` under `key` (derivatives the server makes itself).
    pub async fn write(
        &self,
        key: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<(), StorageError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    /// Remove what is stored under `key`, if anything.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }
}

fn client(endpoint: &Endpoint) -> Client {
    use aws_sdk_s3::config::timeout::TimeoutConfig;
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(&endpoint.url)
        .region(Region::new(endpoint.region.clone()))
        .credentials_provider(Credentials::new(
            &endpoint.access_key_id,
            &endpoint.secret_access_key.0,
            None,
            None,
            "storecheck",
        ))
        .force_path_style(endpoint.path_style)
        .http_client(http)
        // Stores other than AWS need not know the SDK's default CRC32s.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(30))
                .build(),
        )
        .build();
    Client::from_conf(conf)
}

fn presigning(ttl: Duration) -> Result<PresigningConfig, StorageError> {
    PresigningConfig::expires_in(ttl).map_err(|e| StorageError::Refused(e.to_string()))
}

fn expiry(ttl: Duration) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::zero())
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The base64 of the 32 bytes a 64-digit hex SHA-256 spells, as S3
/// checksum headers carry it.
pub fn hex_to_base64(hex: &str) -> Option<String> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let raw: Option<Vec<u8>> = (0..32)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    Some(base64::engine::general_purpose::STANDARD.encode(raw?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_travel_as_base64_of_the_digest() {
        let digest = Sha256::digest(b"abc");
        let hexed = hex(&digest);
        assert_eq!(
            hexed,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex_to_base64(&hexed).as_deref(),
            Some("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
        );
        assert_eq!(hex_to_base64(&hexed.to_uppercase()), hex_to_base64(&hexed));
        assert_eq!(hex_to_base64("abc"), None);
        assert_eq!(hex_to_base64(&"zz".repeat(32)), None);
    }
}
