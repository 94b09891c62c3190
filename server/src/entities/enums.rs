//! Columns that hold one of a fixed set of values, as typed enums: a stored
//! value outside the set fails to load (an error, logged) instead of being
//! read as some default. Each converts to and from its wire twin in
//! `storecheck_shared`.

use sea_orm::entity::prelude::*;

macro_rules! db_enum {
    ($(#[$doc:meta])* $name:ident <=> $wire:path { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
        pub enum $name {
            $(#[sea_orm(string_value = $text)] $variant,)+
        }

        impl From<$name> for $wire {
            fn from(v: $name) -> Self {
                match v {
                    $($name::$variant => <$wire>::$variant,)+
                }
            }
        }

        impl From<$wire> for $name {
            fn from(v: $wire) -> Self {
                match v {
                    $(<$wire>::$variant => $name::$variant,)+
                }
            }
        }
    };
}

db_enum! {
    /// `audits.status`.
    AuditStatus <=> storecheck_shared::sync::AuditStatus {
        Submitted = "submitted",
        Returned = "returned",
        Approved = "approved",
        Rejected = "rejected",
    }
}

db_enum! {
    /// `assignments.status`.
    AssignmentStatus <=> storecheck_shared::catalog::AssignmentStatus {
        Scheduled = "scheduled",
        Cancelled = "cancelled",
    }
}

db_enum! {
    /// `audit_answers.kind`.
    ItemKind <=> storecheck_shared::catalog::ItemKind {
        YesNo = "yes_no",
        Scale = "scale",
        Measure = "measure",
        Choice = "choice",
        Count = "count",
    }
}

db_enum! {
    /// `audit_photos.state`.
    PhotoState <=> storecheck_shared::sync::PhotoState {
        PendingUpload = "pending_upload",
        Uploaded = "uploaded",
        Processed = "processed",
        Invalid = "invalid",
    }
}

db_enum! {
    /// `audit_events.action`.
    AuditAction <=> storecheck_shared::review::AuditAction {
        Resubmitted = "resubmitted",
        Approved = "approved",
        Returned = "returned",
        Rejected = "rejected",
        Overridden = "overridden",
    }
}

db_enum! {
    /// `corrective_actions.status`.
    ActionStatus <=> storecheck_shared::review::ActionStatus {
        Open = "open",
        Resolved = "resolved",
        Verified = "verified",
    }
}

/// `jobs.state`. A finished job's row is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum JobState {
    /// Waiting for `run_at`.
    #[sea_orm(string_value = "queued")]
    Queued,
    /// Taken by a worker until `lease_until`.
    #[sea_orm(string_value = "running")]
    Running,
    /// Gave up after the retry limit; kept for inspection.
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// `sync_changes.entity`: what a change-log entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum ChangeEntity {
    #[sea_orm(string_value = "assignment")]
    Assignment,
    #[sea_orm(string_value = "audit")]
    Audit,
}
