//! The organisation's rules (stores), written against a database connection
//! and plain values, never the HTTP layer.

pub mod stores;
