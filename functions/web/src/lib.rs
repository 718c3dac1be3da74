//! The HTTP adapter of the API functions: the one place where the core's typed results and
//! errors become status codes and contract bodies (spec/README.md policy §2-§3).
//!
//! - [`error`]: [`ApiError`](error::ApiError), the contract's error body, and the mapping of
//!   every core error to a status.
//! - [`plumbing`] (re-exported at the root): bearer-token extractor and role gates
//!   (api-contract §1.2-§1.3), the JSON body rules (§1.8), idempotency keys, rate limits, CORS
//!   (§1.11) and the JSON 404/405/500 fallbacks.
//! - [`openapi`]: the OpenAPI document's shared pieces.
//! - [`services`]: the use cases that still read raw JSON; each moves into the core once its
//!   input and output are typed.
//!
//! Depends on `shared` (the core); nothing in the core depends on this crate, and the
//! executor, maintenance and cronctl binaries build without it (no axum, tower-http, utoipa,
//! http or lambda_http in their closure).

pub mod error;
pub mod openapi;
pub mod plumbing;
pub mod services;

pub use plumbing::*;
