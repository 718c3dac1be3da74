//! Use cases with typed inputs, typed results (`Serialize` structs shaped as the contract's
//! bodies) and a typed error each, mapped to status codes only by the `web` adapter:
//! [`maintenance`] (sweeps, reconciliation, end-date notices), [`scheduler`] (scheduler admin
//! status and resync), [`notifications`] (a user's own notifications), [`executions`]
//! (run history and statistics), [`audit`] (the audit log) and
//! [`schedule_after_write`]. The use cases of the other API areas are still in the adapter
//! (`web::services`), reading raw JSON, until their inputs and outputs are typed too.

pub mod audit;
pub mod executions;
pub mod maintenance;
pub mod notifications;
pub mod scheduler;

use crate::{
    domain::{today_in, Job},
    state::AppState,
};

/// After a job write: make its schedule agree and clear the `SYNC_PENDING` marker set with
/// that write. On a scheduler failure the marker stays, recording the job for repair
/// ([`maintenance::reconcile`]); returns whether the schedule is in sync.
///
/// Two writes of one job may call the scheduler in either order. So after its call each
/// writer re-reads the job: if the job changed meanwhile, it syncs again with what is stored
/// now (at most three rounds). Whichever call lands last is therefore followed by a sync of the
/// newest job, and an older configuration never stays scheduled.
pub async fn schedule_after_write(state: &AppState, job: &Job, sync_token: &str) -> bool {
    let today = today_in(state.config.timezone);
    let mut current = job.clone();
    for _ in 0..3 {
        if let Err(e) = state.schedules.sync(&current, today).await {
            tracing::error!(job_id = %job.id, error = %e, "schedule sync failed; job left SYNC_PENDING for repair");
            return false;
        }
        match state.store.get_job(&job.id).await {
            Ok(Some(fresh)) if fresh.updated_at != current.updated_at => current = fresh,
            Ok(_) => break,
            Err(e) => {
                tracing::warn!(job_id = %job.id, error = %e, "could not re-read the job after its schedule call");
                return false;
            }
        }
    }
    if let Err(e) = state.store.clear_sync_pending(&job.id, sync_token).await {
        tracing::warn!(job_id = %job.id, error = %e, "could not clear SYNC_PENDING");
    }
    true
}
