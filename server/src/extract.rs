//! Request extractors whose every rejection is an [`ApiError`] naming the
//! offending field.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{StatusCode, header, request::Parts};
use serde::de::DeserializeOwned;
use storecheck_shared::ErrorDetail;

use crate::error::ApiError;

/// A JSON body. Requires `Content-Type: application/json`; a malformed body
/// is 400 `invalid_json`, a well-formed one of the wrong shape 400
/// `invalid_body` with the path of the field at fault.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send + 'static,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(not_json(
                "expected a body with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        off_thread_if_large(bytes, |b| parse_json(b))
            .await
            .map(ApiJson)
    }
}

/// An optional JSON body: empty means `T::default()`.
pub struct OptionalJson<T>(pub T);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let has_type = req.headers().contains_key(header::CONTENT_TYPE);
        if has_type && !is_json(req.headers()) {
            return Err(not_json(
                "expected no body or a body with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

/// A JSON body read with its own size limit (for requests larger than the
/// default), with the same errors as [`ApiJson`].
pub async fn json_with_limit<T: DeserializeOwned + Send + 'static>(
    headers: &axum::http::HeaderMap,
    body: axum::body::Body,
    limit: usize,
) -> Result<T, ApiError> {
    if !is_json(headers) {
        return Err(not_json(
            "expected a body with Content-Type: application/json",
        ));
    }
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::payload_too_large(limit))?;
    off_thread_if_large(bytes, |b| parse_json(b)).await
}

/// Bodies above this are parsed on a blocking thread, so that one large
/// request cannot stall the others sharing its async worker.
pub const BLOCKING_PARSE_BYTES: usize = 256 * 1024;

/// Run `parse` on the body, on a blocking thread when the body is large.
pub async fn off_thread_if_large<T: Send + 'static>(
    bytes: Bytes,
    parse: impl FnOnce(&[u8]) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    if bytes.len() <= BLOCKING_PARSE_BYTES {
        return parse(&bytes);
    }
    tokio::task::spawn_blocking(move || parse(&bytes))
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("parsing a request body: {e}")))?
}

/// A body of up to `limit` bytes that must be JSON (for bodies parsed in
/// parts, such as a push).
pub async fn json_bytes(
    headers: &axum::http::HeaderMap,
    body: axum::body::Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    if !is_json(headers) {
        return Err(not_json(
            "expected a body with Content-Type: application/json",
        ));
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::payload_too_large(limit))
}

/// 415 for a body of the wrong content type.
pub fn not_json(message: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        message,
    )
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

pub fn body_rejection(rej: BytesRejection) -> ApiError {
    if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "request body is too large",
        )
    } else {
        ApiError::bad_request("unreadable_body", "the request body could not be read")
    }
}

/// Read a whole JSON body: nothing may follow the value but whitespace.
pub fn parse_json<'de, T: serde::Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut *de) {
        Ok(v) => {
            de.end().map_err(|e| {
                ApiError::bad_request("invalid_json", format!("the body is not valid JSON: {e}"))
            })?;
            Ok(v)
        }
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return Err(ApiError::bad_request(
                    "invalid_json",
                    format!("the body is not valid JSON: {inner}"),
                ));
            }
            let message = strip_position(&inner.to_string());
            let field = field_name(&path, &message);
            Err(ApiError::bad_request(
                "invalid_body",
                format!("invalid request body at {field}: {message}"),
            )
            .with_detail(field, message))
        }
    }
}

/// Read one part of a body already known to be valid JSON; what is wrong
/// with it comes back as one error at the field's path.
pub fn parse_part<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ErrorDetail> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize::<_, T>(de).map_err(|err| {
        let path = err.path().to_string();
        let message = strip_position(&err.into_inner().to_string());
        ErrorDetail::new(field_name(&path, &message), message)
    })
}

/// serde reports a missing field at the parent's path and names it only in
/// its message; put the name into the path.
fn field_name(path: &str, message: &str) -> String {
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.split('`').next());
    match (path, named) {
        (p, Some(name)) if p == name || p.ends_with(&format!(".{name}")) => p.to_owned(),
        (".", Some(name)) => name.to_owned(),
        (p, Some(name)) => format!("{p}.{name}"),
        (".", None) => "body".to_owned(),
        (p, None) => p.to_owned(),
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Query parameters; a bad one is 400 `invalid_query`.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|err| {
                let path = err.path().to_string();
                let message = err.into_inner().to_string();
                let field = field_name(&path, &message);
                ApiError::bad_request(
                    "invalid_query",
                    format!("invalid query parameter {field}: {message}"),
                )
                .with_detail(field, message)
            })
    }
}

/// Path parameters; a malformed id is 400 `invalid_path`.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|rej| {
                ApiError::bad_request("invalid_path", rej.body_text())
                    .with_detail("id", "must be a UUID")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        n: u8,
    }

    fn detail(json: &str) -> (StatusCode, &'static str, Option<String>) {
        let e = parse_json::<Body>(json.as_bytes()).expect_err("must fail");
        (e.status, e.code, e.details.first().map(|d| d.field.clone()))
    }

    #[test]
    fn names_the_field_at_fault() {
        assert_eq!(detail("{").1, "invalid_json");
        assert_eq!(
            detail("{}"),
            (
                StatusCode::BAD_REQUEST,
                "invalid_body",
                Some("email".into())
            )
        );
        assert_eq!(detail(r#"{"email": 3}"#).2.as_deref(), Some("email"));
        assert_eq!(detail(r#"{"email":"a","x":1}"#).2.as_deref(), Some("x"));
        assert_eq!(
            detail(r#"{"email":"a","inner":{"n":300}}"#).2.as_deref(),
            Some("inner.n")
        );
        assert_eq!(
            detail(r#"{"email":"a","inner":{}}"#).2.as_deref(),
            Some("inner.n")
        );
    }
}
