//! The reference phone client, the test network that misbehaves on
//! purpose, photo fixtures made by code, and a WebDriver client for the
//! console. Integration tests and benchmarks drive the server with them.

pub mod bench;
pub mod client;
pub mod flaky;
pub mod images;
pub mod webdriver;
