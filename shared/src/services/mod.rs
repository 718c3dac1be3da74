//! Use cases behind the HTTP areas. Function crates parse the request, call one of these and
//! map the result; all business rules live here.

pub mod auth;
pub mod bulk;
pub mod executions;
pub mod jobs;
pub mod maintenance;
pub mod notifications;
pub mod query;
pub mod scheduler;
pub mod settings;
pub mod taxonomy;
pub mod users;

use crate::{
    domain::{today_in, Job},
    web::AppState,
};

/// After a job write: make its schedule agree and clear the `SYNC_PENDING` marker set with
/// that write. On a scheduler failure the marker stays, recording the job for repair
/// ([`maintenance::reconcile`]); returns whether the schedule is in sync.
pub async fn schedule_after_write(state: &AppState, job: &Job, sync_token: &str) -> bool {
    match state
        .schedules
        .sync(job, today_in(state.config.timezone))
        .await
    {
        Ok(()) => {
            if let Err(e) = state.store.clear_sync_pending(&job.id, sync_token).await {
                tracing::warn!(job_id = %job.id, error = %e, "could not clear SYNC_PENDING");
            }
            true
        }
        Err(e) => {
            tracing::error!(job_id = %job.id, error = %e, "schedule sync failed; job left SYNC_PENDING for repair");
            false
        }
    }
}
