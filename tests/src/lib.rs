//! The reference phone client, and the test network that misbehaves on
//! purpose. Integration tests and benchmarks drive the server with them.

pub mod client;
pub mod flaky;
