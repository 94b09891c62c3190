//! storecheck server: serves audit checklists to auditor phones, accepts
//! their offline-collected audits, and reports compliance to head office.

pub mod audits;
pub mod auth;
pub mod catalog;
pub mod check;
pub mod cli;
pub mod compliance;
pub mod config;
pub mod db;
pub mod demo;
pub mod entities;
pub mod error;
pub mod extract;
pub mod jobs;
pub mod listener;
pub mod metrics;
pub mod org;
pub mod photos;
pub mod routes;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod web;

pub use config::ServeConfig;
pub use startup::Application;
