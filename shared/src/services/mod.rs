//! Use cases with typed inputs, typed results (`Serialize` structs shaped as the contract's
//! bodies) and a typed error each, mapped to status codes only by the `web` adapter:
//! [`maintenance`] (sweeps, reconciliation, end-date notices), [`scheduler`] (scheduler admin
//! status and resync), [`settings`] (Slack settings, the GitHub owner allowlist), [`notifications`] (a user's own notifications), [`executions`]
//! (run history and statistics), [`audit`] (the audit log) and
//! [`schedule_after_write`], [`jobs`], [`taxonomy`] and [`users`]. The adapter
//! (`web::services`) reads requests into their inputs and maps their errors.

pub mod audit;
pub mod auth;
pub mod bulk;
pub mod executions;
pub mod jobs;
pub mod maintenance;
pub mod notifications;
pub mod scheduler;
pub mod settings;
pub mod taxonomy;
pub mod users;

use crate::{
    domain::{today_in, Job, Role},
    state::AppState,
    store::{audit::AuditEntry, User},
};
use serde_json::Value;

/// Who calls a use case: the user (read and checked by the adapter: active, session valid)
/// and where the request came from (API Gateway's request id and source address), for the
/// audit log.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    pub user: &'a User,
    /// The session of the token the request presented.
    pub session_id: &'a str,
    pub request_id: Option<&'a str>,
    pub source: Option<&'a str>,
}

impl Caller<'_> {
    /// Whether the caller is an admin.
    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }

    /// Name used in notification texts: e-mail, else username, else `Unknown`.
    pub fn actor(&self) -> String {
        [&self.user.email, &self.user.username]
            .into_iter()
            .find(|s| !s.is_empty())
            .cloned()
            .unwrap_or_else(|| "Unknown".into())
    }

    /// An audit entry of this caller's `action` on an entity, with the request's id and
    /// source.
    pub fn audit(
        &self,
        action: &str,
        entity_type: &str,
        entity_id: &str,
        before: Option<Value>,
        after: Option<Value>,
    ) -> AuditEntry {
        AuditEntry::new(
            Some(&self.user.id),
            &self.user.username,
            action,
            entity_type,
            entity_id,
            before,
            after,
        )
        .from_request(
            self.request_id.map(str::to_string),
            self.source.map(str::to_string),
        )
    }
}

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
