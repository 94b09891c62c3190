//! storecheck integration tests: the real server on a loopback port, a fresh
//! database for each test (SQLite by default; PostgreSQL when
//! `STORECHECK_TEST_DATABASE_URL` names a server), driven over HTTP.

mod helpers;

mod auth;
mod bad_input;
mod catalog;
mod cli;
mod compliance;
mod console;
mod import;
mod jobs;
mod lifecycle;
mod ops;
mod organisation;
mod permissions;
mod phone;
mod photo_processing;
mod photos;
mod programme;
mod review;
mod sync;
