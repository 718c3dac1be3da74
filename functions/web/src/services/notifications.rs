//! A caller's own notifications (api-contract §3.9): pages, unread count, read, read-all,
//! delete, delete-read. Totals come from the notification counters; pages read about one
//! page. Range bounds apply at minute precision.

use super::query::{positive, total_pages, DateRange, Query};
use crate::{
    error::{ApiError, ApiResult},
    plumbing::{query_bool, AppState, CurrentUser},
};
use serde_json::{json, Value};
use shared::{domain::fmt_ts, store::Notification};

/// Largest `per_page`; larger values are capped silently, as the contract says.
pub const MAX_PER_PAGE: usize = 100;

fn range_json(r: &DateRange) -> Value {
    json!({"from": r.from.as_ref().map(fmt_ts), "to": r.to.as_ref().map(fmt_ts)})
}

/// GET /notifications: `{"notifications","total","page","per_page","total_pages","range"}`.
pub async fn list(state: &AppState, caller: &CurrentUser, q: &Query) -> ApiResult<Value> {
    let page = positive(q, "page", 1, None)?;
    let per_page = positive(q, "per_page", 20, None)?.min(MAX_PER_PAGE);
    let unread_only = query_bool(q.get("unread_only"), "unread_only", false)?;
    let range = DateRange::from_notifications_query(q)?;
    let offset = (page - 1).saturating_mul(per_page);
    let p = state
        .store
        .notification_page(
            &caller.0.id,
            unread_only,
            range.from,
            range.to,
            offset,
            per_page,
        )
        .await?;
    let items: Vec<Value> = p.items.iter().map(Notification::to_json).collect();
    Ok(json!({
        "notifications": items,
        "total": p.total,
        "page": page,
        "per_page": per_page,
        "total_pages": total_pages(p.total, per_page),
        "range": range_json(&range),
    }))
}

/// GET /notifications/unread-count: `{"unread_count","range"}` from the counters.
pub async fn unread_count(state: &AppState, caller: &CurrentUser, q: &Query) -> ApiResult<Value> {
    let range = DateRange::from_notifications_query(q)?;
    let n = state
        .store
        .unread_count(&caller.0.id, range.from, range.to)
        .await?;
    Ok(json!({"unread_count": n, "range": range_json(&range)}))
}

async fn own(
    state: &AppState,
    caller: &CurrentUser,
    id: &str,
    forbidden: &str,
) -> ApiResult<Notification> {
    let n =
        state.store.get_notification(id).await?.ok_or_else(|| {
            ApiError::not_found("Notification not found", "Notification not found")
        })?;
    if n.user_id != caller.0.id {
        return Err(ApiError::forbidden(forbidden, forbidden));
    }
    Ok(n)
}

/// PUT /notifications/{id}/read: idempotent (an already-read one keeps its `read_at`).
pub async fn mark_read(state: &AppState, caller: &CurrentUser, id: &str) -> ApiResult<Value> {
    let n = own(
        state,
        caller,
        id,
        "Forbidden: Cannot access other users notifications",
    )
    .await?;
    let n = state.store.mark_notification_read(&n).await?;
    Ok(json!({"message": "Notification marked as read", "notification": n.to_json()}))
}

/// PUT /notifications/read-all: every unread notification of the caller.
pub async fn read_all(state: &AppState, caller: &CurrentUser) -> ApiResult<Value> {
    let n = state
        .store
        .mark_all_notifications_read(&caller.0.id)
        .await?;
    Ok(json!({"message": "All notifications marked as read", "updated_count": n}))
}

/// DELETE /notifications/{id}.
pub async fn delete(state: &AppState, caller: &CurrentUser, id: &str) -> ApiResult<Value> {
    let n = own(
        state,
        caller,
        id,
        "Forbidden: Cannot delete other users notifications",
    )
    .await?;
    state.store.delete_notification(&n).await?;
    Ok(json!({"message": "Notification deleted successfully"}))
}

/// DELETE /notifications/delete-read: the caller's read notifications in `from`/`to`.
pub async fn delete_read(state: &AppState, caller: &CurrentUser, q: &Query) -> ApiResult<Value> {
    let range = DateRange::from_notifications_query(q)?;
    let n = state
        .store
        .delete_read_notifications(&caller.0.id, range.from, range.to)
        .await?;
    Ok(json!({"deleted_count": n}))
}
