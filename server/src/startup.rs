//! Build the application and serve it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::TokenKey;
use crate::config::ServeConfig;
use crate::db::session_cache::SessionCache;
use crate::db::sync::LogHead;
use crate::error::{ApiError, code_for_status};
use crate::metrics::Metrics;
use crate::state::{App, AppState};
use crate::{db, routes};

/// A built application bound to its listener, ready to run.
pub struct Application {
    listener: TcpListener,
    router: Router,
    pub state: AppState,
}

impl Application {
    /// Connect, migrate, load keys and bind. The port may be 0 (tests).
    pub async fn build(config: ServeConfig) -> anyhow::Result<Application> {
        // Settings are checked before anything is written.
        if config.token_secret.as_ref().is_some_and(|s| s.0.len() < 32) {
            anyhow::bail!("STORECHECK_TOKEN_SECRET must be at least 32 characters");
        }
        let db = db::connect(&config.data).await?;
        db::migrate(&db).await?;
        if config.demo {
            let report = crate::demo::load(&db, chrono::Utc::now().date_naive()).await?;
            tracing::info!(created = report.created, quarter = %report.quarter, "demo organisation ready");
        }
        let secret = match &config.token_secret {
            Some(s) => s.0.as_bytes().to_vec(),
            None => db::shared_secret(&db, "access_token_key").await?,
        };
        let embedded_secret = db::shared_secret(&db, "embedded_s3_secret").await?;
        let storage = crate::storage::Storage::start(
            &config.storage,
            &config.data.data_dir,
            &embedded_secret,
        )
        .await?;
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("binding {}", config.bind))?;
        // Servers sharing PostgreSQL keep each other's caches in step; a
        // SQLite database has this one server.
        let (sessions, log) = if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            let sessions = Arc::new(SessionCache::off());
            let log = Arc::new(LogHead::off());
            tokio::spawn(db::notify::follow(
                db.clone(),
                sessions.clone(),
                log.clone(),
            ));
            (sessions, log)
        } else {
            (Arc::new(SessionCache::live()), Arc::new(LogHead::live()))
        };
        let state = AppState(Arc::new(App {
            db,
            token_key: TokenKey::new(&secret),
            metrics: Metrics::default(),
            versions: Default::default(),
            pulls: Default::default(),
            log,
            version_access: Default::default(),
            sessions,
            storage,
            jobs: Default::default(),
            config,
        }));
        let router = router(state.clone());
        Ok(Application {
            listener,
            router,
            state,
        })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serve until `shutdown` completes, then finish the requests in flight.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.local_addr()?;
        tracing::info!(%addr, "storecheck listening");
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut background = tokio::task::JoinSet::new();
        if self.state.config.photo_workers > 0 {
            background.spawn(crate::jobs::run(
                self.state.db.clone(),
                self.state.config.worker_settings(),
                crate::photos::work::handler(self.state.clone()),
                self.state.metrics.clone(),
                self.state.jobs.clone(),
                stopped.clone(),
            ));
        }
        background.spawn(crate::photos::work::sweep_loop(
            self.state.clone(),
            Duration::from_secs(self.state.config.photo_sweep_interval.max(1)),
            stopped,
        ));
        use axum::serve::ListenerExt;
        axum::serve(
            crate::listener::ShapedListener(self.listener).tap_io(|_| {}),
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving HTTP")?;
        // Requests are done; jobs in flight finish or go back to the queue.
        let _ = stop.send(true);
        while background.join_next().await.is_some() {}
        self.state
            .db
            .clone()
            .close()
            .await
            .context("closing the database")?;
        tracing::info!("storecheck stopped");
        Ok(())
    }
}

/// The whole HTTP surface with its middleware.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = routes::api().split_for_parts();
    let timeout = Duration::from_secs(state.config.request_timeout);
    let body_limit = state.config.max_body_bytes;
    api.merge(SwaggerUi::new("/docs").url("/docs/openapi.json", openapi))
        .merge(crate::web::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn(record_route))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the server failed to handle this request",
            )
            .into_response()
        }))
        .layer(middleware::from_fn(error_shape))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no such resource: {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// The matched route template, handed from routing out to `observe`.
#[derive(Clone)]
struct RouteName(String);

async fn record_route(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    if let Some(r) = &route {
        tracing::Span::current().record("route", r.as_str());
    }
    let mut res = next.run(req).await;
    if let Some(r) = route {
        res.extensions_mut().insert(RouteName(r));
    }
    res
}

const QUIET_ROUTES: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Give each request an id (kept from `X-Request-Id` when sane), a span that
/// every log line of the request carries, a metric sample and a log line.
async fn observe(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let _in_flight = state.metrics.start_request();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        req.headers_mut().insert("x-request-id", v);
    }
    let method = req.method().clone();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        route = tracing::field::Empty,
    );
    let mut res = next.run(req).instrument(span.clone()).await;
    let route = res
        .extensions()
        .get::<RouteName>()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = res.status().as_u16();
    let elapsed = start.elapsed();
    state
        .metrics
        .record(method.as_str(), &route, status, elapsed);
    span.in_scope(|| {
        let ms = elapsed.as_secs_f64() * 1000.0;
        if QUIET_ROUTES.contains(&route.as_str()) && status < 400 {
            tracing::debug!(status, elapsed_ms = ms, "answered");
        } else if status >= 500 {
            tracing::error!(status, elapsed_ms = ms, "answered");
        } else {
            tracing::info!(status, elapsed_ms = ms, "answered");
        }
    });
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

/// Every error leaves in the one JSON shape, even those made by the
/// framework (rejections, time-outs) rather than by a handler.
async fn error_shape(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    // JSON errors are in the shape already; the console's error pages are
    // HTML in its own look.
    let shaped = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if shaped {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = match body.collect().await {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).trim().to_owned(),
        Err(_) => String::new(),
    };
    let (code, default_message) = code_for_status(status);
    let message = if text.is_empty() || status.is_server_error() {
        default_message.to_owned()
    } else {
        text
    };
    let mut fixed = ApiError::new(status, code, message).into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fixed.headers_mut().insert(name.clone(), value.clone());
        }
    }
    fixed
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
