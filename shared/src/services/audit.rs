//! The audit log as admins read it (`GET /api/v2/audit`): newest first, a cursor page of
//! [`AUDIT_PAGE`] entries at a time ([`crate::store::audit`]).

use crate::{
    state::AppState,
    store::{
        audit::{AuditFilter, AUDIT_PAGE},
        StoreError,
    },
};
use serde::Serialize;
use serde_json::Value;

/// `{"entries","count","page_size","next_cursor"}`.
#[derive(Debug, Serialize)]
pub struct AuditPage {
    /// Each entry as `AuditEntry::to_json` shapes it (`before`/`after` as JSON).
    pub entries: Vec<Value>,
    pub count: usize,
    pub page_size: usize,
    /// Null on the last page.
    pub next_cursor: Option<String>,
}

/// One page of entries matching `filter`, after `cursor` (the previous page's
/// `next_cursor`; anything else starts at the newest entry).
pub async fn list(
    state: &AppState,
    filter: &AuditFilter,
    cursor: Option<&str>,
) -> Result<AuditPage, StoreError> {
    let (entries, next_cursor) = state.store.audit_page(filter, cursor).await?;
    Ok(AuditPage {
        count: entries.len(),
        entries: entries.iter().map(|e| e.to_json()).collect(),
        page_size: AUDIT_PAGE,
        next_cursor,
    })
}
