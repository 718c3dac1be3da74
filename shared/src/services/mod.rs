//! Use cases behind the HTTP areas. Function crates parse the request, call one of these and
//! map the result; all business rules live here.

pub mod auth;
pub mod bulk;
pub mod jobs;
pub mod taxonomy;

use crate::{
    domain::{today_in, Job},
    web::AppState,
};

/// After a job write: make its schedule agree and clear the `SYNC_PENDING` marker set with
/// that write. On a scheduler failure the marker stays, recording the job for repair
/// ([`repair_pending_schedules`]); returns whether the schedule is in sync.
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

/// Re-syncs every job marked `SYNC_PENDING` (and removes schedules of deleted ones).
/// Returns how many were repaired. Run by the local trigger and the maintenance schedule.
pub async fn repair_pending_schedules(state: &AppState) -> Result<usize, crate::store::StoreError> {
    let mut repaired = 0;
    for (id, token) in state.store.sync_pending_jobs().await? {
        let today = today_in(state.config.timezone);
        let result = match state.store.get_job(&id).await? {
            Some(job) => state.schedules.sync(&job, today).await,
            None => state.schedules.remove(&id).await,
        };
        match result {
            // Conditional on the token read: a write that raced this repair keeps its marker.
            Ok(()) => {
                state.store.clear_sync_pending(&id, &token).await?;
                repaired += 1;
            }
            Err(e) => tracing::warn!(job_id = %id, error = %e, "repair failed; will retry"),
        }
    }
    Ok(repaired)
}
