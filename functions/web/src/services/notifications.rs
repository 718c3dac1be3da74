//! A caller's own notifications (api-contract §3.9): the query parameters read into the
//! core's typed requests (`shared::services::notifications`), whose results are the bodies.

use super::query::{positive, DateRange, Query, RangeQuery};
use crate::{
    error::{to_body, ApiResult},
    plumbing::{query_bool, AppState, CurrentUser},
};
use serde_json::Value;
use shared::services::notifications::{self as core, PageRequest};

pub use core::MAX_PER_PAGE;

/// GET /notifications: `{"notifications","total","page","per_page","total_pages","range"}`.
pub async fn list(state: &AppState, caller: &CurrentUser, q: &Query) -> ApiResult<Value> {
    let req = PageRequest {
        page: positive(q, "page", 1, None)?,
        per_page: positive(q, "per_page", 20, None)?,
        unread_only: query_bool(q.get("unread_only"), "unread_only", false)?,
        range: DateRange::from_notifications_query(q)?,
    };
    to_body(core::list(state, &caller.0.id, req).await?)
}

/// GET /notifications/unread-count: `{"unread_count","range"}` from the counters.
pub async fn unread_count(state: &AppState, caller: &CurrentUser, q: &Query) -> ApiResult<Value> {
    let range = DateRange::from_notifications_query(q)?;
    to_body(core::unread_count(state, &caller.0.id, range).await?)
}

/// PUT /notifications/{id}/read: idempotent (an already-read one keeps its `read_at`).
pub async fn mark_read(state: &AppState, caller: &CurrentUser, id: &str) -> ApiResult<Value> {
    to_body(core::mark_read(state, &caller.0.id, id).await?)
}

/// PUT /notifications/read-all: every unread notification of the caller.
pub async fn read_all(state: &AppState, caller: &CurrentUser) -> ApiResult<Value> {
    to_body(core::read_all(state, &caller.0.id).await?)
}

/// DELETE /notifications/{id}.
pub async fn delete(state: &AppState, caller: &CurrentUser, id: &str) -> ApiResult<Value> {
    to_body(core::delete(state, &caller.0.id, id).await?)
}

/// DELETE /notifications/delete-read: the caller's read notifications in `from`/`to`.
pub async fn delete_read(state: &AppState, caller: &CurrentUser, q: &Query) -> ApiResult<Value> {
    let range = DateRange::from_notifications_query(q)?;
    to_body(core::delete_read(state, &caller.0.id, range).await?)
}
