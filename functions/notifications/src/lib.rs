//! Notifications area (api-contract §3.9): the caller's own notifications — pages, unread
//! count, mark read, read all, delete, delete read. Routing only; the rules are in
//! `web::services::notifications`.

use axum::{
    extract::{Path, Query, State},
    Json, Router,
};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};
use web::{
    error::ApiResult,
    finish, openapi as doc,
    services::{notifications as svc, query::Query as Q},
    AppState, CurrentUser,
};

/// The area's routes and their OpenAPI description, without state. The literal paths
/// (`unread-count`, `read-all`, `delete-read`) win over `{id}`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notifications))
        .routes(routes!(unread_count))
        .routes(routes!(read_all))
        .routes(routes!(delete_read))
        .routes(routes!(mark_read))
        .routes(routes!(delete_notification))
}

/// The Lambda's whole application.
pub fn app(state: AppState) -> Router {
    finish(routes().split_for_parts().0, state)
}

const RANGE: &str = "YYYY-MM-DD (UTC day) or ISO date-time";

/// The caller's notifications, newest first, one page.
#[utoipa::path(get, path = "/api/v2/notifications", tag = "notifications", security(("bearer" = [])),
    params(("page" = Option<i64>, Query, description = "From 1"),
        ("per_page" = Option<i64>, Query, description = "Default 20, capped at 100"),
        ("unread_only" = Option<bool>, Query, description = "Only unread ones"),
        ("from" = Option<String>, Query, description = RANGE),
        ("to" = Option<String>, Query, description = "Exclusive; a date covers its whole UTC day")),
    responses((status = 200, body = doc::NotificationList), doc::Errors))]
async fn list_notifications(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<Q>,
) -> ApiResult<Json<Value>> {
    Ok(Json(svc::list(&state, &user, &q).await?))
}

/// The caller's unread count.
#[utoipa::path(get, path = "/api/v2/notifications/unread-count", tag = "notifications",
    security(("bearer" = [])),
    params(("from" = Option<String>, Query, description = RANGE),
        ("to" = Option<String>, Query, description = "Exclusive; a date covers its whole UTC day")),
    responses((status = 200, body = doc::UnreadCount), doc::Errors))]
async fn unread_count(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<Q>,
) -> ApiResult<Json<Value>> {
    Ok(Json(svc::unread_count(&state, &user, &q).await?))
}

/// Marks one of the caller's notifications read.
#[utoipa::path(put, path = "/api/v2/notifications/{id}/read", tag = "notifications",
    security(("bearer" = [])), params(("id" = String, Path, description = "Notification id")),
    responses((status = 200, body = doc::NotificationEnvelope), doc::Errors))]
async fn mark_read(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(svc::mark_read(&state, &user, &id).await?))
}

/// Marks all the caller's notifications read.
#[utoipa::path(put, path = "/api/v2/notifications/read-all", tag = "notifications",
    security(("bearer" = [])),
    responses((status = 200, body = doc::UpdatedCount), doc::Errors))]
async fn read_all(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<Value>> {
    Ok(Json(svc::read_all(&state, &user).await?))
}

/// Deletes one of the caller's notifications.
#[utoipa::path(delete, path = "/api/v2/notifications/{id}", tag = "notifications",
    security(("bearer" = [])), params(("id" = String, Path, description = "Notification id")),
    responses((status = 200, body = doc::MessageResponse), doc::Errors))]
async fn delete_notification(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(svc::delete(&state, &user, &id).await?))
}

/// Deletes the caller's read notifications in a range.
#[utoipa::path(delete, path = "/api/v2/notifications/delete-read", tag = "notifications",
    security(("bearer" = [])),
    params(("from" = Option<String>, Query, description = RANGE),
        ("to" = Option<String>, Query, description = "Exclusive; a date covers its whole UTC day")),
    responses((status = 200, body = doc::DeletedCount), doc::Errors))]
async fn delete_read(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<Q>,
) -> ApiResult<Json<Value>> {
    Ok(Json(svc::delete_read(&state, &user, &q).await?))
}
