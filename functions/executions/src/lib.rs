//! Executions area: `GET /jobs/{id}/executions` (api-contract §3.7).

use axum::{
    extract::{Path, Query, State},
    routing::get,
    Json, Router,
};
use serde_json::Value;
use shared::{
    error::ApiResult,
    services::jobs as svc,
    web::{finish, AppState, CurrentUser},
};
use std::collections::HashMap;

/// The area's routes, without state.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v2/jobs/{id}/executions", get(job_executions))
}

/// The Lambda's whole application.
pub fn app(state: AppState) -> Router {
    finish(routes(), state)
}

async fn job_executions(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    Ok(Json(svc::executions(&state, &id, &q).await?))
}
