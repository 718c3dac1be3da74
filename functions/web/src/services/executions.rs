//! Execution reads (api-contract §3.7). Totals and statistics come from the execution
//! counters (`store::counters`), pages from one bounded Query positioned by those counters.
//! Range bounds apply at minute precision (both rounded down to the minute).

use super::{
    jobs::load,
    query::{comma_list, exact, positive, total_pages, DateRange, Query, RangeQuery},
};
use crate::{
    error::{ApiError, ApiResult},
    plumbing::AppState,
};
use serde_json::{json, Value};
use shared::{
    domain::fmt_ts,
    store::{Execution, ExecutionFilter, ExecutionScope, ExecutionStats},
};
use std::collections::HashMap;

/// Longest page (`limit`) of the execution lists.
pub const MAX_LIMIT: usize = 200;

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

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn execution_not_found(message: String) -> ApiError {
    ApiError::not_found("Execution not found", message)
}

/// GET /jobs/{id}/executions: `{"job_id","job_name","total_executions","executions"}`, newest
/// first, at most `limit` (1..=200, default 50).
pub async fn job_executions(state: &AppState, id: &str, q: &Query) -> ApiResult<Value> {
    let job = load(state, id).await?;
    let limit = positive(q, "limit", 50, Some(MAX_LIMIT))?;
    let range = DateRange::from_query(q)?;
    let filter = filter_of(q, limit, range)?;
    let list = state.store.list_job_executions(&job.id, &filter).await?;
    let items: Vec<Value> = list.iter().map(Execution::to_json).collect();
    Ok(json!({
        "job_id": job.id,
        "job_name": job.name,
        "total_executions": items.len(),
        "executions": items,
    }))
}

/// GET /jobs/{id}/executions/stats: the job's all-time counts, success rate (2 dp), mean
/// duration of successful runs (2 dp, null if none) and the latest execution.
pub async fn job_stats(state: &AppState, id: &str) -> ApiResult<Value> {
    let job = load(state, id).await?;
    let scope = ExecutionScope::Job(job.id.clone());
    let ((tally, _), latest) = futures::try_join!(
        state.store.execution_counts(&scope, None, None),
        state.store.latest_execution(&job.id),
    )?;
    let st = ExecutionStats::from_tally(&tally, &ExecutionFilter::default());
    let rate = if st.total > 0 {
        round2(st.success as f64 * 100.0 / st.total as f64)
    } else {
        0.0
    };
    let avg = (st.success > 0).then(|| round2(st.success_seconds / st.success as f64));
    Ok(json!({
        "job_id": job.id,
        "job_name": job.name,
        "statistics": {
            "total_executions": st.total,
            "success_count": st.success,
            "failed_count": st.failed,
            "running_count": st.running,
            "success_rate": rate,
            "average_duration_seconds": avg,
        },
        "latest_execution": latest.as_ref().map(Execution::to_json),
    }))
}

/// GET /jobs/{id}/executions/{execution_id}: `{"job":{"id","name"},"execution"}`.
pub async fn job_execution(state: &AppState, id: &str, execution_id: &str) -> ApiResult<Value> {
    let job = load(state, id).await?;
    let e = state
        .store
        .get_execution(execution_id)
        .await?
        .filter(|e| e.job_id == job.id)
        .ok_or_else(|| {
            execution_not_found(format!(
                "No execution found with ID: {execution_id} for job: {}",
                job.id
            ))
        })?;
    Ok(json!({"job": {"id": job.id, "name": job.name}, "execution": e.to_json()}))
}

/// Adds `job_name` and `github_repo` from each row's job, dropping rows whose job is gone
/// (the contract's inner join). One BatchGetItem for the distinct jobs of the page.
async fn with_jobs(state: &AppState, rows: Vec<Execution>) -> ApiResult<Vec<Value>> {
    let mut ids: Vec<String> = rows.iter().map(|e| e.job_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let jobs = state.store.get_jobs(&ids).await?;
    let by_id: HashMap<&str, _> = jobs.iter().map(|j| (j.id.as_str(), j)).collect();
    Ok(rows
        .iter()
        .filter_map(|e| {
            let job = by_id.get(e.job_id.as_str())?;
            let mut v = e.to_json();
            v["job_name"] = json!(job.name);
            v["github_repo"] = json!(job.github_repo);
            Some(v)
        })
        .collect())
}

/// GET /executions: one page (`page` ≥ 1, `limit` 1..=200, default 20) newest first, with
/// `total` and `total_pages` from the counters. Filters: `job_id`, `status` (comma list),
/// `trigger_type`, `execution_type`, `from`, `to`.
pub async fn list(state: &AppState, q: &Query) -> ApiResult<Value> {
    let page = positive(q, "page", 1, None)?;
    let limit = positive(q, "limit", 20, Some(MAX_LIMIT))?;
    let range = DateRange::from_query(q)?;
    let filter = filter_of(q, limit, range)?;
    let scope = match exact(q, "job_id")? {
        Some(id) => ExecutionScope::Job(id),
        None => ExecutionScope::All,
    };
    let offset = (page - 1).saturating_mul(limit);
    let p = state.store.execution_page(&scope, &filter, offset).await?;
    let rows = with_jobs(state, p.items).await?;
    Ok(json!({
        "executions": rows,
        "total": p.total,
        "page": page,
        "limit": limit,
        "total_pages": total_pages(p.total, limit),
    }))
}

/// GET /executions/statistics: counts by status over `job_id`/`from`/`to`, success rate
/// (percent, unrounded) and mean duration of every completed run (0.0 when none).
pub async fn statistics(state: &AppState, q: &Query) -> ApiResult<Value> {
    let range = DateRange::from_query(q)?;
    let scope = match exact(q, "job_id")? {
        Some(id) => ExecutionScope::Job(id),
        None => ExecutionScope::All,
    };
    let (tally, _) = state
        .store
        .execution_counts(&scope, range.from, range.to)
        .await?;
    let st = ExecutionStats::from_tally(&tally, &ExecutionFilter::default());
    let rate = if st.total > 0 {
        st.success as f64 * 100.0 / st.total as f64
    } else {
        0.0
    };
    let completed = st.success + st.failed;
    let avg = if completed > 0 {
        (st.success_seconds + st.failed_seconds) / completed as f64
    } else {
        0.0
    };
    let range_json = if range.from.is_none() && range.to.is_none() {
        Value::Null
    } else {
        json!({"from": range.from.as_ref().map(fmt_ts), "to": range.to.as_ref().map(fmt_ts)})
    };
    Ok(json!({
        "total_executions": st.total,
        "successful_executions": st.success,
        "failed_executions": st.failed,
        "running_executions": st.running,
        "success_rate": rate,
        "average_duration_seconds": avg,
        "range": range_json,
    }))
}

/// GET /executions/{id}: `{"execution": ... + job_name, github_repo}`; 404 when the run or
/// its job is gone.
pub async fn get(state: &AppState, id: &str) -> ApiResult<Value> {
    let not_found = || execution_not_found(format!("No execution found with ID: {id}"));
    let e = state.store.get_execution(id).await?.ok_or_else(not_found)?;
    let mut rows = with_jobs(state, vec![e]).await?;
    let row = rows.pop().ok_or_else(not_found)?;
    Ok(json!({ "execution": row }))
}
