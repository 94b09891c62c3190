//! Entities in the form sea-orm-cli generates from the migrated schema.

pub mod assignment_holders;
pub mod assignments;
pub mod audit_answers;
pub mod audit_conflicts;
pub mod audit_photos;
pub mod audit_revisions;
pub mod audits;
pub mod checklist_versions;
pub mod checklists;
pub mod dimensions;
pub mod enums;
pub mod jobs;
pub mod login_throttle;
pub mod photo_files;
pub mod photos;
pub mod refresh_tokens;
pub mod regions;
pub mod server_secrets;
pub mod sessions;
pub mod standards;
pub mod stores;
pub mod sync_changes;
pub mod sync_counter;
pub mod user_regions;
pub mod users;
