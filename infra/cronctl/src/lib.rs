//! `cronctl`: operate a deployment from a terminal, through the same `shared` store and
//! schedule code as the functions (never its own key formats) and the standard AWS
//! configuration (profile, region, `AWS_ENDPOINT_URL*`).
//!
//! - [`legacy`] reads the Python backend's SQLite database;
//! - [`bundle`] is a deployment as the platform's types, and its JSON-lines form;
//! - [`import`] applies a bundle (idempotent, `--dry-run` reports only);
//! - [`export`] reads a deployment back.

pub mod bundle;
pub mod export;
pub mod import;
pub mod legacy;
