//! The reference phone client, the test network that misbehaves on
//! purpose, and photo fixtures made by code. Integration tests and benchmarks drive the server with them.

pub mod bench;
pub mod client;
pub mod flaky;
pub mod images;
