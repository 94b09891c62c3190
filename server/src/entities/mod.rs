//! Entities in the form sea-orm-cli generates from the migrated schema.

pub mod login_throttle;
pub mod refresh_tokens;
pub mod regions;
pub mod server_secrets;
pub mod sessions;
pub mod stores;
pub mod user_regions;
pub mod users;
