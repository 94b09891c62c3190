//! Published checklist versions: immutable, cached by clients by `ETag`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use storecheck_shared::ErrorBody;
use storecheck_shared::catalog::ChecklistVersion;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::version_response;
use crate::auth::AuthUser;
use crate::catalog::versions;
use crate::error::ApiResult;
use crate::extract::ApiPath;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_version))
}

/// Whether `If-None-Match` names this entity tag. RFC 9110 §13.1.2: the
/// weak comparison, so `W/"tag"` matches too.
fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/").trim_matches('"') == etag)
}

/// A published checklist version: immutable, with a strong `ETag`
/// (`If-None-Match` answers 304) and `Cache-Control: immutable`. Visible to
/// HQ, to managers of regions with an assignment on it, and to auditors
/// with an assignment on it.
#[utoipa::path(get, path = "/api/v1/checklist-versions/{id}", tag = "catalog",
    params(
        ("id" = Uuid, Path, description = "Version id"),
        ("If-None-Match" = Option<String>, Header, description = "ETag of a copy the client has"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The version", body = ChecklistVersion),
        (status = 304, description = "The client's copy is current"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such version in the caller's scope", body = ErrorBody),
    ))]
async fn get_version(
    State(state): State<AppState>,
    caller: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let v = versions::visible(
        &state.versions,
        &state.version_access,
        &state.log,
        &state.db,
        &caller.scope(),
        id,
    )
    .await?;
    if matches_etag(&headers, &v.etag) {
        let mut res = version_response(StatusCode::NOT_MODIFIED, &v.body, &v.etag);
        res.headers_mut().remove(header::CONTENT_TYPE);
        return Ok(res);
    }
    Ok(version_response(StatusCode::OK, &v.body, &v.etag))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn etag_matching() {
        let mut h = HeaderMap::new();
        assert!(!matches_etag(&h, "abc"));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", \"abc\""),
        );
        assert!(matches_etag(&h, "abc"));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("W/\"abc\""));
        assert!(matches_etag(&h, "abc"), "If-None-Match compares weakly");
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("W/\"abd\""));
        assert!(!matches_etag(&h, "abc"));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(matches_etag(&h, "abc"));
    }
}
