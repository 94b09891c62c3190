//! The standards catalog (dimensions, standards), checklist drafts, and
//! their publication as immutable versions: one module per resource, merged
//! here.

mod checklists;
mod dimensions;
mod standards;
mod versions;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub use standards::StandardParams;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(dimensions::router())
        .merge(standards::router())
        .merge(checklists::router())
        .merge(versions::router())
}

/// A published version's stored body, served byte for byte with its strong
/// `ETag` and as immutable (no body for 304).
fn version_response(status: StatusCode, body: &str, etag: &str) -> Response {
    let body = if status == StatusCode::NOT_MODIFIED {
        axum::body::Body::empty()
    } else {
        axum::body::Body::from(body.to_owned())
    };
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(tag) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        h.insert(header::ETAG, tag);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    res
}
