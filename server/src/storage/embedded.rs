//! The S3-compatible endpoint `storecheck serve` runs in-process when no
//! object store is configured: files under `--data-dir`/objects, SigV4 and
//! presigned URLs checked as a real store checks them, on a loopback port.
//! The server reaches it through the same S3 client as any other store.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use hyper::body::Incoming;
use hyper::header::CONTENT_LENGTH;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{Body, HttpError};

use super::Endpoint;
use crate::config::Secret;

/// Access key id of the embedded endpoint; its secret key is kept in the
/// database (see [`Embedded::start`]).
const ACCESS_KEY_ID: &str = "storecheck-embedded";

/// A running embedded endpoint; it stops when dropped.
pub struct Embedded {
    addr: SocketAddr,
    secret: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Embedded {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Embedded {
    /// Serve the files under `root` on `bind` (a loopback address; port 0
    /// picks one), accepting requests signed with `secret`. Bodies over
    /// `max_body` bytes are refused with 413 before they are read.
    pub async fn start(
        root: &Path,
        bind: SocketAddr,
        secret: &[u8],
        max_body: u64,
    ) -> anyhow::Result<Embedded> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("creating the object folder {}", root.display()))?;
        let fs = s3s_fs::FileSystem::new(root)
            .map_err(|e| anyhow::anyhow!("opening the object folder {}: {e:?}", root.display()))?;
        let secret = super::hex(secret);
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY_ID, secret.as_str()));
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("binding the embedded object store to {bind}"))?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "embedded object store: accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let service = service.clone();
                tokio::spawn(async move {
                    let handler = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let service = service.clone();
                        async move { limited(&service, req, max_body).await }
                    });
                    if let Err(e) = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), handler)
                        .await
                    {
                        tracing::debug!(error = %e, "embedded object store: connection ended");
                    }
                });
            }
        });
        tracing::info!(%addr, root = %root.display(), "embedded object store listening");
        Ok(Embedded { addr, secret, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How the server's S3 client reaches this endpoint.
    pub fn endpoint(&self, region: &str) -> Endpoint {
        Endpoint {
            url: format!("http://{}", self.addr),
            region: region.to_owned(),
            access_key_id: ACCESS_KEY_ID.to_owned(),
            secret_access_key: Secret(self.secret.clone()),
            path_style: true,
        }
    }
}

/// Refuse a body declared larger than `max`, and cut one that grows past
/// it while streaming; pass everything else to the store.
async fn limited(
    service: &S3Service,
    req: Request<Incoming>,
    max: u64,
) -> Result<Response<Body>, HttpError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        let mut res = Response::new(Body::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>EntityTooLarge</Code>\
             <Message>Your proposed upload exceeds the maximum allowed size of {max} bytes</Message></Error>"
        )));
        *res.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        return Ok(res);
    }
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    let req = req.map(|b| Body::http_body_unsync(http_body_util::Limited::new(b, limit)));
    service.call(req).await
}
