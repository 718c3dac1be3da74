//! `GET /api/v2/audit` (admins): the query parameters read into the core's filter
//! (`shared::services::audit`).

use super::query::{exact, DateRange, Query, RangeQuery};
use crate::{error::ApiResult, plumbing::AppState};
use serde_json::Value;
use shared::store::audit::AuditFilter;

/// Filters `entity_type`, `entity_id`, `actor_id`, `from`, `to` (400 `Invalid date` /
/// `Invalid date range` as the other lists) and `cursor` (the previous page's `next_cursor`;
/// anything else starts at the newest entry). `{"entries", "count", "next_cursor"}`.
pub async fn list(state: &AppState, q: &Query) -> ApiResult<Value> {
    let range = DateRange::from_query(q)?;
    let filter = AuditFilter {
        entity_type: exact(q, "entity_type")?,
        entity_id: exact(q, "entity_id")?,
        actor_id: exact(q, "actor_id")?,
        from: range.from,
        to: range.to,
    };
    let cursor = q
        .get("cursor")
        .map(|c| c.trim())
        .filter(|c| !c.is_empty() && c.len() <= 4096);
    let page = shared::services::audit::list(state, &filter, cursor).await?;
    crate::error::to_body(page)
}
