//! Domain core of the serverless cron-job platform.
//!
//! - [`domain`]: parse-once types (cron expression, role, e-mail, job target, end date).
//! - [`store`]: the DynamoDB single-table store (the only code that knows keys).
//! - [`schedules`]: EventBridge Scheduler sync (the only code that knows schedules).
//! - [`engine`]: the execution engine shared by the executor and manual runs.
//! - [`auth`]: passlib-compatible passwords and JWTs.
//! - [`services`]: the use cases shared by the functions that serve no HTTP (maintenance,
//!   scheduler admin, schedule sync after a write).
//! - [`state`]: the clients and configuration built once per Lambda; [`config`]: typed
//!   configuration.
//!
//! No HTTP server type lives here: this crate declares none of axum, tower-http, utoipa, http
//! or lambda_http. Status codes and contract error bodies are the `web` adapter crate's
//! (functions/web), which depends on this one and never the other way round.

pub mod alerts;
pub mod auth;
pub mod config;
pub mod domain;
pub mod engine;
pub mod job_list;
pub mod safe_http;
pub mod schedules;
pub mod services;
pub mod state;
pub mod store;
