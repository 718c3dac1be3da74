//! The HTTP-shaped use cases of the API areas, on their way into the core as typed use cases
//! (issue 22): each takes the parsed request and answers a contract body. Rules that other
//! doors share live in the core (`shared::domain`, `shared::store`, `shared::services`).

pub mod audit;
pub mod auth;
pub mod bulk;
pub mod executions;
pub mod jobs;
pub mod notifications;
pub mod query;
pub mod settings;
pub mod taxonomy;
pub mod users;
