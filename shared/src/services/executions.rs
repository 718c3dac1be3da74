//! Execution reads (api-contract §3.7). Totals and statistics come from the execution
//! counters (`store::counters`), pages from one bounded Query positioned by those counters.
//! Range bounds apply at minute precision (both rounded down to the minute). Typed filters
//! in, bodies (`Serialize`) out; [`ExecutionsError`] is mapped by the HTTP adapter.

use crate::{
    domain::{range::total_pages, range::RangeView, DateRange, Job},
    state::AppState,
    store::{Execution, ExecutionFilter, ExecutionScope, ExecutionStats, StoreError},
};
use serde::Serialize;
use std::collections::HashMap;

/// Longest page (`limit`) of the execution lists.
pub const MAX_LIMIT: usize = 200;

/// Why an execution read failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecutionsError {
    /// The job (this id) does not exist (404 `Job not found`).
    #[error("No job found with ID: {0}")]
    JobNotFound(String),
    /// The execution does not exist, or not under that job (404 `Execution not found`, with
    /// this sentence).
    #[error("{0}")]
    ExecutionNotFound(String),
    /// The table could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Result<T> = std::result::Result<T, ExecutionsError>;

async fn load(state: &AppState, id: &str) -> Result<Job> {
    state
        .store
        .get_job(id)
        .await?
        .ok_or_else(|| ExecutionsError::JobNotFound(id.to_string()))
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// `{"job_id","job_name","total_executions","executions"}`.
#[derive(Debug, Serialize)]
pub struct JobExecutions {
    pub job_id: String,
    pub job_name: String,
    pub total_executions: usize,
    pub executions: Vec<Execution>,
}

/// GET /jobs/{id}/executions of `job` (read by the caller, whose 404 comes before any
/// parameter's 400): newest first, at most `filter.limit` (1..=[`MAX_LIMIT`]).
pub async fn job_executions(
    state: &AppState,
    job: Job,
    filter: &ExecutionFilter,
) -> Result<JobExecutions> {
    let executions = state.store.list_job_executions(&job.id, filter).await?;
    Ok(JobExecutions {
        job_id: job.id,
        job_name: job.name,
        total_executions: executions.len(),
        executions,
    })
}

/// The `statistics` object of a job's stats.
#[derive(Debug, Serialize)]
pub struct JobStatistics {
    pub total_executions: i64,
    pub success_count: i64,
    pub failed_count: i64,
    pub running_count: i64,
    pub timed_out_count: i64,
    pub skipped_count: i64,
    pub missed_count: i64,
    /// Percent, 2 dp.
    pub success_rate: f64,
    /// Mean duration of successful runs, seconds, 2 dp; null if none.
    pub average_duration_seconds: Option<f64>,
}

/// `{"job_id","job_name","statistics","latest_execution"}`.
#[derive(Debug, Serialize)]
pub struct JobStats {
    pub job_id: String,
    pub job_name: String,
    pub statistics: JobStatistics,
    pub latest_execution: Option<Execution>,
}

/// GET /jobs/{id}/executions/stats: the job's all-time counts, success rate (2 dp), mean
/// duration of successful runs (2 dp, null if none) and the latest execution.
pub async fn job_stats(state: &AppState, id: &str) -> Result<JobStats> {
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
    Ok(JobStats {
        job_id: job.id,
        job_name: job.name,
        statistics: JobStatistics {
            total_executions: st.total,
            success_count: st.success,
            failed_count: st.failed,
            running_count: st.running,
            timed_out_count: st.timed_out,
            skipped_count: st.skipped,
            missed_count: st.missed,
            success_rate: rate,
            average_duration_seconds: avg,
        },
        latest_execution: latest,
    })
}

/// `{"id","name"}` of a job.
#[derive(Debug, Serialize)]
pub struct JobRef {
    pub id: String,
    pub name: String,
}

/// `{"job":{"id","name"},"execution"}`.
#[derive(Debug, Serialize)]
pub struct JobExecution {
    pub job: JobRef,
    pub execution: Execution,
}

/// GET /jobs/{id}/executions/{execution_id}.
pub async fn job_execution(state: &AppState, id: &str, execution_id: &str) -> Result<JobExecution> {
    let job = load(state, id).await?;
    let execution = state
        .store
        .get_execution(execution_id)
        .await?
        .filter(|e| e.job_id == job.id)
        .ok_or_else(|| {
            ExecutionsError::ExecutionNotFound(format!(
                "No execution found with ID: {execution_id} for job: {}",
                job.id
            ))
        })?;
    Ok(JobExecution {
        job: JobRef {
            id: job.id,
            name: job.name,
        },
        execution,
    })
}

/// An execution with its job's `job_name` and `github_repo`.
#[derive(Debug, Serialize)]
pub struct ExecutionRow {
    #[serde(flatten)]
    pub execution: Execution,
    pub job_name: String,
    pub github_repo: Option<String>,
}

/// Adds `job_name` and `github_repo` from each row's job, dropping rows whose job is gone
/// (the contract's inner join). One BatchGetItem for the distinct jobs of the page.
async fn with_jobs(state: &AppState, rows: Vec<Execution>) -> Result<Vec<ExecutionRow>> {
    let mut ids: Vec<String> = rows.iter().map(|e| e.job_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let jobs = state.store.get_jobs(&ids).await?;
    let by_id: HashMap<&str, &Job> = jobs.iter().map(|j| (j.id.as_str(), j)).collect();
    Ok(rows
        .into_iter()
        .filter_map(|e| {
            let job = by_id.get(e.job_id.as_str())?;
            Some(ExecutionRow {
                job_name: job.name.clone(),
                github_repo: job.github_repo.clone(),
                execution: e,
            })
        })
        .collect())
}

/// `{"executions","total","page","limit","total_pages"}`.
#[derive(Debug, Serialize)]
pub struct ExecutionPage {
    pub executions: Vec<ExecutionRow>,
    pub total: i64,
    pub page: usize,
    pub limit: usize,
    pub total_pages: i64,
}

/// GET /executions: page `page` (≥ 1) of `filter.limit` rows newest first in `scope`, with
/// `total` and `total_pages` from the counters.
pub async fn list(
    state: &AppState,
    scope: &ExecutionScope,
    filter: &ExecutionFilter,
    page: usize,
) -> Result<ExecutionPage> {
    let limit = filter.limit.max(1);
    let offset = (page.max(1) - 1).saturating_mul(limit);
    let p = state.store.execution_page(scope, filter, offset).await?;
    let executions = with_jobs(state, p.items).await?;
    Ok(ExecutionPage {
        executions,
        total: p.total,
        page,
        limit,
        total_pages: total_pages(p.total, limit),
    })
}

/// The body of `GET /executions/statistics`.
#[derive(Debug, Serialize)]
pub struct Statistics {
    pub total_executions: i64,
    pub successful_executions: i64,
    pub failed_executions: i64,
    pub running_executions: i64,
    pub timed_out_executions: i64,
    pub skipped_executions: i64,
    pub missed_executions: i64,
    /// Percent, unrounded.
    pub success_rate: f64,
    /// Mean duration of every completed run, seconds (0.0 when none).
    pub average_duration_seconds: f64,
    /// The range asked for; null when neither bound was.
    pub range: Option<RangeView>,
}

/// GET /executions/statistics: counts by status over `scope` and `range`.
pub async fn statistics(
    state: &AppState,
    scope: &ExecutionScope,
    range: DateRange,
) -> Result<Statistics> {
    let (tally, _) = state
        .store
        .execution_counts(scope, range.from, range.to)
        .await?;
    let st = ExecutionStats::from_tally(&tally, &ExecutionFilter::default());
    let rate = if st.total > 0 {
        st.success as f64 * 100.0 / st.total as f64
    } else {
        0.0
    };
    let completed = st.success + st.failed + st.timed_out;
    let avg = if completed > 0 {
        (st.success_seconds + st.failed_seconds) / completed as f64
    } else {
        0.0
    };
    Ok(Statistics {
        total_executions: st.total,
        successful_executions: st.success,
        failed_executions: st.failed,
        running_executions: st.running,
        timed_out_executions: st.timed_out,
        skipped_executions: st.skipped,
        missed_executions: st.missed,
        success_rate: rate,
        average_duration_seconds: avg,
        range: (range.from.is_some() || range.to.is_some()).then(|| range.view()),
    })
}

/// `{"execution": …}` of one execution with its job's name and repository.
#[derive(Debug, Serialize)]
pub struct ExecutionDetail {
    pub execution: ExecutionRow,
}

/// GET /executions/{id}: 404 when the run or its job is gone.
pub async fn get(state: &AppState, id: &str) -> Result<ExecutionDetail> {
    let not_found =
        || ExecutionsError::ExecutionNotFound(format!("No execution found with ID: {id}"));
    let e = state.store.get_execution(id).await?.ok_or_else(not_found)?;
    let mut rows = with_jobs(state, vec![e]).await?;
    let execution = rows.pop().ok_or_else(not_found)?;
    Ok(ExecutionDetail { execution })
}
