//! Health, readiness, metrics and the API description.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use storecheck_shared::ErrorBody;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(openapi_yaml))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    pub status: String,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: the database and the photo store answer.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "A dependency is unreachable", body = ErrorBody),
    ))]
async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    if let Err(e) = state.db.ping().await {
        tracing::warn!(error = %e, "database unreachable");
        return Err(ApiError::unavailable("the database is unreachable"));
    }
    if let Err(e) = state.storage.ready().await {
        tracing::warn!(error = %e, "object store unreachable");
        return Err(ApiError::unavailable("the photo store is unreachable"));
    }
    Ok(Json(Health {
        status: "ok".into(),
    }))
}

/// Prometheus metrics: request counts and latencies by route and status,
/// push outcomes, job queue depth, job run times and failures.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    // The queue is shared by every server; without the database the rest
    // of the figures are still worth having.
    let depth = match crate::db::jobs::depth(&state.db).await {
        Ok((queued, running, failed)) => Some(crate::metrics::QueueDepth {
            queued,
            running,
            failed,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "reading the job queue depth");
            None
        }
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(depth),
    )
}

/// This API's OpenAPI description.
#[utoipa::path(get, path = "/openapi.yaml", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 in YAML", body = serde_json::Value, content_type = "application/yaml")))]
async fn openapi_yaml() -> Result<impl IntoResponse, ApiError> {
    let yaml = super::openapi_yaml()?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/yaml")],
        yaml,
    ))
}
