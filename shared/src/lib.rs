//! Domain core of the serverless cron-job platform.
//!
//! - [`domain`]: parse-once types (cron expression, role, e-mail, job target, end date).
//! - [`store`]: the DynamoDB single-table store (the only code that knows keys).
//! - [`schedules`]: EventBridge Scheduler sync (the only code that knows schedules).
//! - [`engine`]: the execution engine shared by the executor and manual runs.
//! - [`auth`]: passlib-compatible passwords and JWTs.
//! - [`services`]: the use cases behind each HTTP area.
//! - [`state`]: the clients and configuration built once per Lambda.
//! - `web` (feature `web`, API functions only), [`error`], [`config`]: HTTP plumbing, the one
//!   error type, typed configuration. Functions that serve no HTTP build without `web` and so
//!   without axum, tower-http and utoipa.

pub mod alerts;
pub mod auth;
pub mod config;
pub mod domain;
pub mod engine;
pub mod error;
pub mod job_list;
#[cfg(feature = "web")]
pub mod openapi;
pub mod safe_http;
pub mod schedules;
pub mod services;
pub mod state;
pub mod store;
#[cfg(feature = "web")]
pub mod web;
