//! Entities in the form sea-orm-cli generates from the migrated schema.

pub mod assignments;
pub mod checklist_versions;
pub mod checklists;
pub mod dimensions;
pub mod login_throttle;
pub mod refresh_tokens;
pub mod regions;
pub mod server_secrets;
pub mod sessions;
pub mod standards;
pub mod stores;
pub mod user_regions;
pub mod users;
