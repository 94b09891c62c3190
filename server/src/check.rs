//! Collects every invalid field of a request so that one reply names them all.

use storecheck_shared::ErrorDetail;

use crate::error::ApiError;

#[derive(Default)]
pub struct Check(Vec<ErrorDetail>);

impl Check {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keep the parsed value, or note why `field` is invalid.
    pub fn field<T>(&mut self, field: &str, parsed: Result<T, String>) -> Option<T> {
        match parsed {
            Ok(v) => Some(v),
            Err(message) => {
                self.0.push(ErrorDetail::new(field, message));
                None
            }
        }
    }

    /// Like [`Check::field`] for an optional (patch) value.
    pub fn optional<T, U>(
        &mut self,
        field: &str,
        raw: Option<T>,
        parse: impl FnOnce(T) -> Result<U, String>,
    ) -> Option<U> {
        raw.and_then(|v| self.field(field, parse(v)))
    }

    pub fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(ErrorDetail::new(field, message));
    }

    /// The problems noted so far (for callers that add context, such as a line).
    pub fn into_details(self) -> Vec<ErrorDetail> {
        self.0
    }

    /// 422 naming every invalid field, if there is one.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.0))
        }
    }
}

/// A value [`Check`] accepted: present once `finish` has passed.
pub fn checked<T>(value: Option<T>) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::internal(anyhow::anyhow!("a checked value is missing")))
}

pub fn timezone(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    s.parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| format!("unknown time zone {s:?}; use an IANA name such as Asia/Shanghai"))
}
