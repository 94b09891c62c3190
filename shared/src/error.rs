//! The one error shape every endpoint answers with (SPEC §10).

use serde::{Deserialize, Serialize};

/// `{"error": {"code", "message", "details"}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorInfo {
    /// Stable machine-readable code, for example `validation_failed`.
    pub code: String,
    /// Human-readable explanation, safe to show to a user.
    pub message: String,
    /// One entry per offending field, item or line; empty when the error
    /// concerns the request as a whole.
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
}

/// What is wrong with one field (or one cell of an uploaded file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Path of the offending field (`email`, `region_ids[1]`) or, for an
    /// uploaded file, the column name.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
    /// Line number in an uploaded file (1 is the header line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
}

impl ErrorDetail {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            line: None,
        }
    }

    pub fn at_line(line: u64, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            line: Some(line),
        }
    }
}
