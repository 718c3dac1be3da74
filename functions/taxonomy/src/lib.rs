//! Taxonomy area (api-contract §3.8): job categories and PIC teams — list, create, rename or
//! toggle (re-pointing jobs), soft delete. Routing only; the rules are in
//! `web::services::taxonomy`.

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    Json, Router,
};
use serde_json::{json, Value};
use shared::store::TaxonKind;
use utoipa_axum::{router::OpenApiRouter, routes};
use web::{
    error::ApiResult,
    finish, json_object, openapi as doc, query_bool,
    services::{query::Query as Q, taxonomy as svc},
    AppState, CurrentUser,
};

/// The area's routes and their OpenAPI description, without state.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_categories, create_category))
        .routes(routes!(update_category, delete_category))
        .routes(routes!(list_teams, create_team))
        .routes(routes!(update_team, delete_team))
}

/// The Lambda's whole application.
pub fn app(state: AppState) -> Router {
    finish(routes().split_for_parts().0, state)
}

async fn list(
    state: &AppState,
    user: &CurrentUser,
    q: &Q,
    kind: TaxonKind,
) -> ApiResult<Vec<Value>> {
    let include =
        query_bool(q.get("include_inactive"), "include_inactive", false)? && user.is_admin();
    svc::list(state, kind, include).await
}

async fn create(
    state: &AppState,
    user: &CurrentUser,
    headers: &HeaderMap,
    body: &[u8],
    kind: TaxonKind,
) -> ApiResult<(StatusCode, Json<Value>)> {
    user.require_admin()?;
    let body = json_object(headers, body)?;
    let (status, out) = svc::create(state, user, kind, &body).await?;
    Ok((status, Json(out)))
}

async fn update(
    state: &AppState,
    user: &CurrentUser,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
    kind: TaxonKind,
) -> ApiResult<Json<Value>> {
    user.require_admin()?;
    let body = json_object(headers, body)?;
    Ok(Json(svc::update(state, user, kind, id, &body).await?))
}

async fn disable(
    state: &AppState,
    user: &CurrentUser,
    id: &str,
    kind: TaxonKind,
) -> ApiResult<Json<Value>> {
    user.require_admin()?;
    Ok(Json(svc::disable(state, user, kind, id).await?))
}

/// Categories by name; inactive ones only for an admin asking `include_inactive`.
#[utoipa::path(get, path = "/api/v2/job-categories", tag = "taxonomy", security(("bearer" = [])),
    params(("include_inactive" = Option<bool>, Query, description = "Admins only")),
    responses((status = 200, body = doc::CategoryList), doc::Errors))]
async fn list_categories(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<Q>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"categories": list(&state, &user, &q, TaxonKind::Category).await?}),
    ))
}

/// Creates a category (admin).
#[utoipa::path(post, path = "/api/v2/job-categories", tag = "taxonomy", security(("bearer" = [])),
    request_body = doc::TaxonWrite,
    responses((status = 201, body = doc::CategoryEnvelope), doc::Errors))]
async fn create_category(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    create(&state, &user, &headers, &body, TaxonKind::Category).await
}

/// Renames (re-pointing its jobs) or toggles a category (admin).
#[utoipa::path(put, path = "/api/v2/job-categories/{id}", tag = "taxonomy", security(("bearer" = [])),
    params(("id" = String, Path, description = "Category id")),
    request_body = doc::TaxonWrite,
    responses((status = 200, body = doc::CategoryEnvelope), doc::Errors))]
async fn update_category(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    update(&state, &user, &id, &headers, &body, TaxonKind::Category).await
}

/// Disables a category (admin; jobs keep it).
#[utoipa::path(delete, path = "/api/v2/job-categories/{id}", tag = "taxonomy", security(("bearer" = [])),
    params(("id" = String, Path, description = "Category id")),
    responses((status = 200, body = doc::CategoryEnvelope), doc::Errors))]
async fn delete_category(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    disable(&state, &user, &id, TaxonKind::Category).await
}

/// PIC teams by name; inactive ones only for an admin asking `include_inactive`.
#[utoipa::path(get, path = "/api/v2/pic-teams", tag = "taxonomy", security(("bearer" = [])),
    params(("include_inactive" = Option<bool>, Query, description = "Admins only")),
    responses((status = 200, body = doc::TeamList), doc::Errors))]
async fn list_teams(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<Q>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"pic_teams": list(&state, &user, &q, TaxonKind::Team).await?}),
    ))
}

/// Creates a PIC team (admin).
#[utoipa::path(post, path = "/api/v2/pic-teams", tag = "taxonomy", security(("bearer" = [])),
    request_body = doc::TaxonWrite,
    responses((status = 201, body = doc::TeamEnvelope), doc::Errors))]
async fn create_team(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    create(&state, &user, &headers, &body, TaxonKind::Team).await
}

/// Renames (re-pointing its jobs), toggles or changes the Slack handle of a team (admin).
#[utoipa::path(put, path = "/api/v2/pic-teams/{id}", tag = "taxonomy", security(("bearer" = [])),
    params(("id" = String, Path, description = "PIC team id")),
    request_body = doc::TaxonWrite,
    responses((status = 200, body = doc::TeamEnvelope), doc::Errors))]
async fn update_team(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    update(&state, &user, &id, &headers, &body, TaxonKind::Team).await
}

/// Disables a PIC team (admin; jobs keep it).
#[utoipa::path(delete, path = "/api/v2/pic-teams/{id}", tag = "taxonomy", security(("bearer" = [])),
    params(("id" = String, Path, description = "PIC team id")),
    responses((status = 200, body = doc::TeamEnvelope), doc::Errors))]
async fn delete_team(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    disable(&state, &user, &id, TaxonKind::Team).await
}
