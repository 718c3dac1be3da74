//! A user's notifications (api-contract §3.9) — their own items and the shared feed as they
//! see it: pages, unread count, read, read-all,
//! delete, delete-read. Totals come from the notification counters; pages read about one
//! page. Range bounds apply at minute precision. Typed requests in, bodies (`Serialize`) out;
//! [`NotificationError`] is mapped to a status by the HTTP adapter.

use crate::{
    domain::{range::total_pages, range::RangeView, DateRange},
    state::AppState,
    store::{
        feed::{Lookup, Owned},
        Notification, StoreError,
    },
};
use serde::Serialize;

/// Largest `per_page`; larger values are capped silently, as the contract says.
pub const MAX_PER_PAGE: usize = 100;

/// Why a notification use case failed.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    /// No such notification (404 `Notification not found`).
    #[error("Notification not found")]
    NotFound,
    /// Someone else's notification (403 with this literal text).
    #[error("{0}")]
    Forbidden(&'static str),
    /// The table could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `GET /notifications` parameters, checked by the adapter (`page`, `per_page` ≥ 1).
#[derive(Clone, Debug)]
pub struct PageRequest {
    pub page: usize,
    /// Capped at [`MAX_PER_PAGE`] here.
    pub per_page: usize,
    pub unread_only: bool,
    pub range: DateRange,
}

/// `{"notifications","total","page","per_page","total_pages","range"}`.
#[derive(Debug, Serialize)]
pub struct NotificationPage {
    pub notifications: Vec<Notification>,
    pub total: i64,
    pub page: usize,
    pub per_page: usize,
    pub total_pages: i64,
    pub range: RangeView,
}

/// `{"unread_count","range"}`.
#[derive(Debug, Serialize)]
pub struct UnreadCount {
    pub unread_count: i64,
    pub range: RangeView,
}

/// `{"message","notification"}` after marking one read.
#[derive(Debug, Serialize)]
pub struct MarkedRead {
    pub message: &'static str,
    pub notification: Notification,
}

/// `{"message","updated_count"}` after read-all.
#[derive(Debug, Serialize)]
pub struct ReadAll {
    pub message: &'static str,
    pub updated_count: usize,
}

/// `{"message"}` after a delete.
#[derive(Debug, Serialize)]
pub struct Deleted {
    pub message: &'static str,
}

/// `{"deleted_count"}` after delete-read.
#[derive(Debug, Serialize)]
pub struct DeletedRead {
    pub deleted_count: usize,
}

/// GET /notifications: one page of `user_id`'s notifications, newest first.
pub async fn list(
    state: &AppState,
    user_id: &str,
    req: PageRequest,
) -> Result<NotificationPage, NotificationError> {
    let per_page = req.per_page.clamp(1, MAX_PER_PAGE);
    let offset = (req.page.max(1) - 1).saturating_mul(per_page);
    let p = state
        .store
        .notification_page(
            user_id,
            req.unread_only,
            req.range.from,
            req.range.to,
            offset,
            per_page,
        )
        .await?;
    Ok(NotificationPage {
        notifications: p.items,
        total: p.total,
        page: req.page,
        per_page,
        total_pages: total_pages(p.total, per_page),
        range: req.range.view(),
    })
}

/// GET /notifications/unread-count, from the counters.
pub async fn unread_count(
    state: &AppState,
    user_id: &str,
    range: DateRange,
) -> Result<UnreadCount, NotificationError> {
    let n = state
        .store
        .unread_count(user_id, range.from, range.to)
        .await?;
    Ok(UnreadCount {
        unread_count: n,
        range: range.view(),
    })
}

async fn own(
    state: &AppState,
    user_id: &str,
    id: &str,
    forbidden: &'static str,
) -> Result<Owned, NotificationError> {
    match state.store.user_notification(user_id, id).await? {
        Lookup::Missing => Err(NotificationError::NotFound),
        Lookup::Foreign => Err(NotificationError::Forbidden(forbidden)),
        Lookup::Mine(o) => Ok(o),
    }
}

/// PUT /notifications/{id}/read: idempotent (an already-read one keeps its `read_at`).
pub async fn mark_read(
    state: &AppState,
    user_id: &str,
    id: &str,
) -> Result<MarkedRead, NotificationError> {
    let o = own(
        state,
        user_id,
        id,
        "Forbidden: Cannot access other users notifications",
    )
    .await?;
    let n = match o {
        Owned::Personal(n) => state.store.mark_notification_read(&n).await?,
        Owned::Feed(f, exc) => state
            .store
            .read_feed_item(user_id, &f, exc.as_ref())
            .await
            .map_err(|e| match e {
                // Deleted meanwhile by the same user.
                StoreError::Conflict => NotificationError::NotFound,
                e => e.into(),
            })?,
    };
    Ok(MarkedRead {
        message: "Notification marked as read",
        notification: n,
    })
}

/// PUT /notifications/read-all: every unread notification of the user (one read mark).
pub async fn read_all(state: &AppState, user_id: &str) -> Result<ReadAll, NotificationError> {
    let n = state.store.mark_all_notifications_read(user_id).await?;
    Ok(ReadAll {
        message: "All notifications marked as read",
        updated_count: n,
    })
}

/// DELETE /notifications/{id}.
pub async fn delete(
    state: &AppState,
    user_id: &str,
    id: &str,
) -> Result<Deleted, NotificationError> {
    let o = own(
        state,
        user_id,
        id,
        "Forbidden: Cannot delete other users notifications",
    )
    .await?;
    match o {
        Owned::Personal(n) => state.store.delete_notification(&n).await?,
        Owned::Feed(f, exc) => {
            state
                .store
                .delete_feed_item(user_id, &f, exc.as_ref())
                .await?
        }
    }
    Ok(Deleted {
        message: "Notification deleted successfully",
    })
}

/// DELETE /notifications/delete-read: the user's read notifications in `range`.
pub async fn delete_read(
    state: &AppState,
    user_id: &str,
    range: DateRange,
) -> Result<DeletedRead, NotificationError> {
    let n = state
        .store
        .delete_read_notifications(user_id, range.from, range.to)
        .await?;
    Ok(DeletedRead { deleted_count: n })
}
