//! storecheck wire types and domain rules.
//!
//! This crate does no I/O: the server and phone clients both depend on it,
//! so a type here is the contract between them.

pub mod auth;
pub mod catalog;
pub mod compliance;
pub mod error;
pub mod org;
pub mod quarter;
pub mod review;
pub mod scoring;
pub mod sync;
pub mod validate;

pub use auth::Role;
pub use error::{ErrorBody, ErrorDetail, ErrorInfo};
