//! Taxonomy area: `GET`/`POST /job-categories`, `GET`/`POST /pic-teams` (api-contract §3.8).

use axum::{
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    routing::get,
    Json, Router,
};
use serde_json::{json, Value};
use shared::{
    error::ApiResult,
    services::taxonomy as svc,
    store::TaxonKind,
    web::{finish, json_object, query_bool, AppState, CurrentUser},
};
use std::collections::HashMap;

/// The area's routes, without state.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v2/job-categories",
            get(list_categories).post(create_category),
        )
        .route("/api/v2/pic-teams", get(list_teams).post(create_team))
}

/// The Lambda's whole application.
pub fn app(state: AppState) -> Router {
    finish(routes(), state)
}

async fn list(
    state: &AppState,
    user: &CurrentUser,
    q: &HashMap<String, String>,
    kind: TaxonKind,
) -> ApiResult<Vec<Value>> {
    let include =
        query_bool(q.get("include_inactive"), "include_inactive", false)? && user.is_admin();
    svc::list(state, kind, include).await
}

async fn list_categories(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"categories": list(&state, &user, &q, TaxonKind::Category).await?}),
    ))
}

async fn list_teams(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"pic_teams": list(&state, &user, &q, TaxonKind::Team).await?}),
    ))
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
    let (status, out) = svc::create(state, kind, &body).await?;
    Ok((status, Json(out)))
}

async fn create_category(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    create(&state, &user, &headers, &body, TaxonKind::Category).await
}

async fn create_team(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    create(&state, &user, &headers, &body, TaxonKind::Team).await
}
