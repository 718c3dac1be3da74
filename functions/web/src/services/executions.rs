//! Execution reads (api-contract §3.7): the query parameters read into the core's typed
//! filters (`shared::services::executions`), whose results are the bodies.

use super::query::{comma_list, exact, positive, DateRange, Query, RangeQuery};
use crate::{
    error::{to_body, ApiResult},
    plumbing::AppState,
};
use serde_json::Value;
use shared::{
    services::executions as core,
    store::{ExecutionFilter, ExecutionScope},
};

pub use core::MAX_LIMIT;

fn filter_of(q: &Query, limit: usize, range: DateRange) -> ApiResult<ExecutionFilter> {
    Ok(ExecutionFilter {
        limit,
        statuses: comma_list(q, "status")?,
        trigger_type: exact(q, "trigger_type")?,
        execution_type: exact(q, "execution_type")?,
        from: range.from,
        to: range.to,
    })
}

fn scope_of(q: &Query) -> ApiResult<ExecutionScope> {
    Ok(match exact(q, "job_id")? {
        Some(id) => ExecutionScope::Job(id),
        None => ExecutionScope::All,
    })
}

/// GET /jobs/{id}/executions: `{"job_id","job_name","total_executions","executions"}`, newest
/// first, at most `limit` (1..=200, default 50).
pub async fn job_executions(state: &AppState, id: &str, q: &Query) -> ApiResult<Value> {
    // The job's 404 comes before any parameter's 400, as in the reference.
    let job = super::jobs::load(state, id).await?;
    let limit = positive(q, "limit", 50, Some(MAX_LIMIT))?;
    let filter = filter_of(q, limit, DateRange::from_query(q)?)?;
    to_body(core::job_executions(state, job, &filter).await?)
}

/// GET /jobs/{id}/executions/stats.
pub async fn job_stats(state: &AppState, id: &str) -> ApiResult<Value> {
    to_body(core::job_stats(state, id).await?)
}

/// GET /jobs/{id}/executions/{execution_id}: `{"job":{"id","name"},"execution"}`.
pub async fn job_execution(state: &AppState, id: &str, execution_id: &str) -> ApiResult<Value> {
    to_body(core::job_execution(state, id, execution_id).await?)
}

/// GET /executions: one page (`page` ≥ 1, `limit` 1..=200, default 20) newest first.
/// Filters: `job_id`, `status` (comma list), `trigger_type`, `execution_type`, `from`, `to`.
pub async fn list(state: &AppState, q: &Query) -> ApiResult<Value> {
    let page = positive(q, "page", 1, None)?;
    let limit = positive(q, "limit", 20, Some(MAX_LIMIT))?;
    let filter = filter_of(q, limit, DateRange::from_query(q)?)?;
    let scope = scope_of(q)?;
    to_body(core::list(state, &scope, &filter, page).await?)
}

/// GET /executions/statistics over `job_id`/`from`/`to`.
pub async fn statistics(state: &AppState, q: &Query) -> ApiResult<Value> {
    let range = DateRange::from_query(q)?;
    let scope = scope_of(q)?;
    to_body(core::statistics(state, &scope, range).await?)
}

/// GET /executions/{id}: `{"execution": ... + job_name, github_repo}`.
pub async fn get(state: &AppState, id: &str) -> ApiResult<Value> {
    to_body(core::get(state, id).await?)
}
