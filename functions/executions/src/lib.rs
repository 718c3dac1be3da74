//! Executions area (api-contract §3.7): a job's runs, its statistics and one run; every run
//! paged and filtered; global statistics; one run by id. Routing only; the rules are in
//! `web::services::executions`.

use axum::{
    extract::{Path, Query, State},
    Json, Router,
};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};
use web::{
    error::ApiResult,
    finish, openapi as doc,
    services::{executions as svc, query::Query as Q},
    AppState, CurrentUser, VerifiedAccess,
};

/// The area's routes and their OpenAPI description, without state.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(job_executions))
        .routes(routes!(job_stats))
        .routes(routes!(job_execution))
        .routes(routes!(list_executions))
        .routes(routes!(execution_statistics))
        .routes(routes!(get_execution))
}

/// The Lambda's whole application.
pub fn app(state: AppState) -> Router {
    finish(routes().split_for_parts().0, state)
}

/// A job's runs, newest first.
#[utoipa::path(get, path = "/api/v2/jobs/{id}/executions", tag = "executions",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id"),
        ("limit" = Option<i64>, Query, description = "1-200, default 50"),
        ("status" = Option<String>, Query, description = "Comma list of running, success, failed, timed_out, skipped, missed"),
        ("trigger_type" = Option<String>, Query, description = "scheduled | manual | backfill"),
        ("execution_type" = Option<String>, Query, description = "github_actions | webhook"),
        ("from" = Option<String>, Query, description = "YYYY-MM-DD (UTC day) or ISO date-time"),
        ("to" = Option<String>, Query, description = "Exclusive; a date covers its whole UTC day")),
    responses((status = 200, body = doc::JobExecutions), doc::Errors))]
async fn job_executions(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
    Query(q): Query<Q>,
) -> ApiResult<Json<Value>> {
    Ok(Json(svc::job_executions(&state, &id, &q).await?))
}

/// A job's all-time statistics and latest run.
#[utoipa::path(get, path = "/api/v2/jobs/{id}/executions/stats", tag = "executions",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = doc::JobStats), doc::Errors))]
async fn job_stats(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(svc::job_stats(&state, &id).await?))
}

/// One run of a job.
#[utoipa::path(get, path = "/api/v2/jobs/{id}/executions/{execution_id}", tag = "executions",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id"),
        ("execution_id" = String, Path, description = "Execution id")),
    responses((status = 200, body = doc::JobExecution), doc::Errors))]
async fn job_execution(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path((id, execution_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(svc::job_execution(&state, &id, &execution_id).await?))
}

/// Every run, newest first, one page.
#[utoipa::path(get, path = "/api/v2/executions", tag = "executions",
    security(("bearer" = [])),
    params(("page" = Option<i64>, Query, description = "From 1"),
        ("limit" = Option<i64>, Query, description = "1-200, default 20"),
        ("job_id" = Option<String>, Query, description = "One job's runs"),
        ("status" = Option<String>, Query, description = "Comma list of running, success, failed, timed_out, skipped, missed"),
        ("trigger_type" = Option<String>, Query, description = "scheduled | manual | backfill"),
        ("execution_type" = Option<String>, Query, description = "github_actions | webhook"),
        ("from" = Option<String>, Query, description = "YYYY-MM-DD (UTC day) or ISO date-time"),
        ("to" = Option<String>, Query, description = "Exclusive; a date covers its whole UTC day")),
    responses((status = 200, body = doc::ExecutionList), doc::Errors))]
async fn list_executions(
    State(state): State<AppState>,
    token: VerifiedAccess,
    Query(q): Query<Q>,
) -> ApiResult<Json<Value>> {
    Ok(Json(token.read(&state, svc::list(&state, &q)).await?))
}

/// Counts by status, success rate and mean duration over a range.
#[utoipa::path(get, path = "/api/v2/executions/statistics", tag = "executions",
    security(("bearer" = [])),
    params(("job_id" = Option<String>, Query, description = "One job's runs"),
        ("from" = Option<String>, Query, description = "YYYY-MM-DD (UTC day) or ISO date-time"),
        ("to" = Option<String>, Query, description = "Exclusive; a date covers its whole UTC day")),
    responses((status = 200, body = doc::ExecutionStatistics), doc::Errors))]
async fn execution_statistics(
    State(state): State<AppState>,
    _user: CurrentUser,
    Query(q): Query<Q>,
) -> ApiResult<Json<Value>> {
    Ok(Json(svc::statistics(&state, &q).await?))
}

/// One run by id, with its job's name and repository.
#[utoipa::path(get, path = "/api/v2/executions/{execution_id}", tag = "executions",
    security(("bearer" = [])),
    params(("execution_id" = String, Path, description = "Execution id")),
    responses((status = 200, body = doc::ExecutionEnvelope), doc::Errors))]
async fn get_execution(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(execution_id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(svc::get(&state, &execution_id).await?))
}
