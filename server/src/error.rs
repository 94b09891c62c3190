//! The one error type of the API. Every failure a handler can meet becomes an
//! `ApiError`, which answers in the shape of SPEC §10.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use storecheck_shared::{ErrorBody, ErrorDetail, ErrorInfo};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<ErrorDetail>,
    retry_after: Option<u64>,
    www_authenticate: bool,
    source: Option<anyhow::Error>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
            www_authenticate: false,
            source: None,
        }
    }

    pub fn with_details(mut self, details: Vec<ErrorDetail>) -> Self {
        self.details = details;
        self
    }

    /// The same error under another stable code.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    pub fn with_detail(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.details.push(ErrorDetail::new(field, message));
        self
    }

    /// 400: the request cannot be read (bad JSON, wrong types, bad query).
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 422: the request was read but its values break the rules.
    pub fn validation(details: Vec<ErrorDetail>) -> Self {
        let message = match details.as_slice() {
            [one] => format!("invalid value for {}: {}", one.field, one.message),
            many => format!("{} invalid values", many.len()),
        };
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            message,
        )
        .with_details(details)
    }

    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![ErrorDetail::new(field, message)])
    }

    /// 401 with a `WWW-Authenticate` challenge.
    pub fn unauthenticated(code: &'static str, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, code, message);
        e.www_authenticate = true;
        e
    }

    /// 403: the object is visible to the caller but the action is not theirs.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404: no such object, or not one the caller may see.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn too_many_requests(retry_after_secs: u64, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", message);
        e.retry_after = Some(retry_after_secs.max(1));
        e
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body is larger than {limit} bytes"),
        )
    }

    /// 500: logged with its cause chain when turned into a response; the
    /// client learns nothing of the internals.
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the server failed to handle this request",
        );
        e.source = Some(err.into());
        e
    }

    /// Tell the client when to try again (`Retry-After`, seconds).
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs.max(1));
        self
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
}

/// For logs and job records: the code, the message and, for internal
/// errors, the cause chain.
impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source:#}")?;
        }
        Ok(())
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        ApiError::internal(err)
    }
}

impl From<sea_orm::TransactionError<ApiError>> for ApiError {
    fn from(err: sea_orm::TransactionError<ApiError>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(e) => ApiError::internal(e),
            sea_orm::TransactionError::Transaction(e) => e,
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        ApiError::internal(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(source) = &self.source {
            tracing::error!(error = format!("{source:#}"), "request failed");
        }
        let body = ErrorBody {
            error: ErrorInfo {
                code: self.code.to_owned(),
                message: self.message,
                details: self.details,
            },
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.www_authenticate {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"storecheck\""),
            );
        }
        res
    }
}

/// The stable code for a status that arrives without one (framework
/// rejections, time-outs, panics), so even those answer in the one shape.
pub fn code_for_status(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => ("bad_request", "the request could not be read"),
        401 => ("unauthenticated", "sign in first"),
        403 => ("forbidden", "not allowed"),
        404 => ("not_found", "no such resource"),
        405 => ("method_not_allowed", "method not allowed on this resource"),
        408 => ("timeout", "the request took too long"),
        413 => ("payload_too_large", "request body too large"),
        415 => ("unsupported_media_type", "unsupported content type"),
        422 => ("validation_failed", "invalid request"),
        429 => ("too_many_requests", "too many requests"),
        503 => ("unavailable", "service unavailable"),
        s if s >= 500 => ("internal_error", "the server failed to handle this request"),
        _ => ("error", "the request failed"),
    }
}
