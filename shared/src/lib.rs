//! Domain core of the serverless cron-job platform.
//!
//! - [`domain`]: parse-once types (cron expression, role, e-mail, job target, end date).
//! - [`store`]: the DynamoDB single-table store (the only code that knows keys).
//! - [`schedules`]: EventBridge Scheduler sync (the only code that knows schedules).
//! - [`engine`]: the execution engine shared by the executor and manual runs.
//! - [`auth`]: passlib-compatible passwords and JWTs.
//! - [`services`]: the use cases behind each HTTP area.
//! - [`web`], [`error`], [`config`]: HTTP plumbing, the one error type, typed configuration.

pub mod alerts;
pub mod auth;
pub mod config;
pub mod domain;
pub mod engine;
pub mod error;
pub mod openapi;
pub mod schedules;
pub mod services;
pub mod store;
pub mod web;
