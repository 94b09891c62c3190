//! Review of audits (SPEC §8): what a reviewer sends, the audit log, and
//! corrective actions.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a reviewer does with a submitted audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReviewAction {
    /// The audit counts towards compliance; opens a corrective action for
    /// each failed item. May carry overrides, applied first.
    Approve,
    /// Back to the auditor, who pushes a new revision; `comment` required.
    Return,
    /// The audit never counts; `comment` (the reason) required.
    Reject,
    /// Only apply `overrides`; the audit stays submitted.
    Override,
}

/// `POST /api/v1/audits/{id}/review`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    pub action: ReviewAction,
    /// The revision the reviewer read: a review of any other answers 409,
    /// so two reviewers (or a reviewer and a late phone) cannot both win.
    pub revision: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Answers the reviewer corrects (with `approve` or `override`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<OverrideRequest>,
}

/// A reviewer's correction of one answer. The phone's answer is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OverrideRequest {
    pub item_id: Uuid,
    /// As a phone writes it: true/false, a number, or an option code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    /// The item does not apply (only where the item allows N/A).
    #[serde(default)]
    pub na: bool,
    /// Why; required.
    pub reason: String,
}

/// A reviewer's correction as stored beside the phone's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnswerOverride {
    pub na: bool,
    pub value: Option<serde_json::Value>,
    pub reason: String,
    pub by: Uuid,
    pub at: DateTime<Utc>,
}

/// What happened to an audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A returned audit came back with a new revision.
    Resubmitted,
    Approved,
    Returned,
    Rejected,
    /// An answer was corrected; `detail` has the item, the answer before
    /// and after, and the scores before and after.
    Overridden,
}

/// One entry of an audit's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    pub at: DateTime<Utc>,
    /// Who; null for the auditor's phone.
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub action: AuditAction,
    pub revision: i64,
    pub comment: Option<String>,
    pub detail: Option<serde_json::Value>,
}

/// A corrective action's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Opened (or reopened) by an approved audit that failed the standard.
    Open,
    /// The store says it is fixed (note, optional photo).
    Resolved,
    /// A later approved audit of the store passed the standard.
    Verified,
}

/// A corrective action (SPEC §8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CorrectiveAction {
    pub id: Uuid,
    pub store_id: Uuid,
    pub region_id: Uuid,
    pub standard_code: String,
    pub item_code: String,
    pub item_id: Uuid,
    /// The audit whose approval opened it.
    pub audit_id: Uuid,
    /// The failed answer: true/false, a number or an option code.
    pub answer: serde_json::Value,
    pub status: ActionStatus,
    pub due_on: NaiveDate,
    /// Not verified and past its due date.
    pub overdue: bool,
    pub opened_at: DateTime<Utc>,
    /// Times a later audit failed the standard again.
    pub reopened: i64,
    pub last_audit_id: Uuid,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<Uuid>,
    pub resolution_note: Option<String>,
    /// The resolution photo, if one was sent.
    pub photo: Option<ActionPhoto>,
    pub verified_at: Option<DateTime<Utc>>,
    pub verified_audit_id: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
}

/// A resolution photo: a short-lived URL to read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionPhoto {
    pub content_type: String,
    pub url: String,
}

/// `PATCH /api/v1/corrective-actions/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ActionPatch {
    /// `resolved` (with `note`) or `open` (taking a resolution back);
    /// `verified` only comes from an audit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ActionStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_on: Option<NaiveDate>,
    /// A photo of the fix, with `resolved`: the reply carries the URL to
    /// PUT it to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<ActionPhotoUpload>,
}

/// The file a resolution photo will be.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ActionPhotoUpload {
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub content_type: String,
    pub bytes: u64,
    /// Hex SHA-256 of the file.
    pub sha256: String,
}

/// The answer to a PATCH: the action, and where to upload its photo.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionUpdated {
    #[serde(flatten)]
    pub action: CorrectiveAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_upload: Option<UploadTarget>,
}

/// Where and how to upload a file: send exactly these headers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadTarget {
    /// `PUT`
    pub method: String,
    pub url: String,
    /// Header names (lower case) and the exact values to send.
    pub headers: std::collections::BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}
