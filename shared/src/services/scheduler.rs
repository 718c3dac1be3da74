//! Scheduler admin (api-contract §3.11) without a leader: EventBridge Scheduler holds one
//! schedule per active job, every function keeps it in sync, and the maintenance function
//! reconciles the table with the schedules. Status reads that world; resync runs the
//! reconciliation now.

use super::maintenance::{reconcile_within, ReconcileReport};
use crate::{domain::fmt_ts, state::AppState, store::StoreError};
use serde::Serialize;
use serde_json::Value;

/// Why a scheduler admin call failed; the HTTP adapter maps [`SchedulerAdminError::Unavailable`]
/// to 503 `Scheduler unavailable` and a store error as every store error.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerAdminError {
    /// EventBridge Scheduler did not answer (the cause is logged, not shown).
    #[error("EventBridge Scheduler could not be reached: {0}")]
    Unavailable(String),
    /// The table could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn unavailable(e: impl std::fmt::Display) -> SchedulerAdminError {
    tracing::error!(error = %e, "scheduler call failed");
    SchedulerAdminError::Unavailable(e.to_string())
}

/// What each count of [`SchedulerStatus`] means here (there is no leader and no in-process
/// scheduler).
#[derive(Debug, Serialize)]
pub struct StatusMeaning {
    pub scheduler_running: &'static str,
    pub scheduler_is_leader: &'static str,
    pub scheduled_jobs_count: &'static str,
    pub jobs_pending_repair: &'static str,
    pub history_purges_pending: &'static str,
    pub retention: &'static str,
    pub last_resync_at: &'static str,
}

const STATUS_MEANING: StatusMeaning = StatusMeaning {
    scheduler_running: "always true: EventBridge Scheduler fires the schedules",
    scheduler_is_leader: "always true: there is no leader; every function keeps schedules in sync",
    scheduled_jobs_count: "schedules in the job schedule group (one per active, unexpired job)",
    jobs_pending_repair: "jobs whose last schedule call failed, repaired by the next reconciliation",
    history_purges_pending: "deleted jobs whose runs and counters are still being removed (retried until done)",
    retention: "history kept: days in effect (null: everything), first day kept after a raise, RETENTION_DAYS as configured, and why a changed value is refused (cronctl retention set applies it)",
    last_resync_at: "when the last reconciliation (maintenance, every 10 minutes, or POST /scheduler/resync) finished",
};

/// History retention as in effect (`days`: null keeps everything; `kept_since`: first day
/// kept after a raise, `YYYY-MM-DD`), as configured, and why a change is refused.
#[derive(Debug, Serialize)]
pub struct RetentionView {
    pub days: Option<u32>,
    pub kept_since: Option<String>,
    pub configured_days: Option<u32>,
    pub refused: Option<String>,
}

/// The body of `GET /scheduler/status` (api-contract §3.11) plus our counters.
#[derive(Debug, Serialize)]
pub struct SchedulerStatus {
    pub scheduler_running: bool,
    pub scheduler_is_leader: bool,
    pub scheduled_jobs_count: usize,
    /// ISO 8601 UTC of the last reconciliation, if any.
    pub last_resync_at: Option<String>,
    pub jobs_pending_repair: usize,
    pub history_purges_pending: usize,
    pub retention: RetentionView,
    /// The last reconciliation's report as stored (null before the first).
    pub last_resync: Value,
    pub meaning: StatusMeaning,
}

/// GET /scheduler/status (admin).
pub async fn status(state: &AppState) -> Result<SchedulerStatus, SchedulerAdminError> {
    let (names, pending, last, purges) = futures::join!(
        state.schedules.list_names(),
        state.store.sync_pending_jobs(),
        state.store.last_reconcile(),
        state.store.pending_purges(),
    );
    let names = names.map_err(unavailable)?;
    let (pending, last, purges) = (pending?, last?, purges?);
    let last_resync: Value = last
        .as_ref()
        .and_then(|r| serde_json::from_str(&r.report).ok())
        .unwrap_or(Value::Null);
    Ok(SchedulerStatus {
        scheduler_running: true,
        scheduler_is_leader: true,
        scheduled_jobs_count: names.len(),
        last_resync_at: last.as_ref().map(|r| fmt_ts(&r.ran_at)),
        jobs_pending_repair: pending.len(),
        history_purges_pending: purges.len(),
        retention: RetentionView {
            days: state.retention.in_effect.days,
            kept_since: state.retention.in_effect.kept_since.map(|d| d.to_string()),
            configured_days: state.retention.configured,
            refused: state.retention.refused.clone(),
        },
        last_resync,
        meaning: STATUS_MEANING,
    })
}

/// How long a resync reconciles before answering: the rest of API Gateway's 30 s is left to
/// the schedule count and the answer.
pub const RESYNC_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// What the less obvious counters of [`Resync`] mean.
#[derive(Debug, Serialize)]
pub struct ResyncMeaning {
    pub scheduled_now: &'static str,
    pub invalid_cron: &'static str,
    pub failures: &'static str,
    pub complete: &'static str,
    pub unchecked: &'static str,
}

const RESYNC_MEANING: ResyncMeaning = ResyncMeaning {
    scheduled_now: "schedules in the job schedule group after the resync (no internal maintenance entry: that schedule lives outside the group)",
    invalid_cron: "always 0: every stored cron expression was validated when saved",
    failures: "scheduler calls that failed; retried by the next reconciliation",
    complete: "false when the reconciliation did not fit the request's 20 s: the maintenance function's next sweep (within 2 minutes) reconciles every job",
    unchecked: "jobs this request did not reach (0 when complete)",
};

/// The body of `POST /scheduler/resync`: the contract's counters plus ours.
#[derive(Debug, Serialize)]
pub struct Resync {
    pub message: &'static str,
    pub complete: bool,
    pub unchecked: usize,
    pub ran_at: String,
    pub db_jobs_total: usize,
    pub db_jobs_active: usize,
    pub scheduled_now: usize,
    pub scheduled_added: usize,
    pub scheduled_updated: usize,
    pub scheduled_removed: usize,
    pub expired_auto_paused: usize,
    pub orphaned_removed: usize,
    pub invalid_cron: usize,
    pub failures: usize,
    pub repaired: usize,
    pub abandoned_runs_failed: usize,
    pub meaning: ResyncMeaning,
}

/// POST /scheduler/resync (admin): reconciles now and returns the contract's counters plus
/// ours (`scheduled_updated`, `failures`, `repaired`, `abandoned_runs_failed`). A
/// reconciliation that does not fit [`RESYNC_BUDGET`] (about 10,000 jobs at 30 ms per
/// Scheduler call) answers what it did with `complete: false` and `unchecked`, and the next
/// sweep of the maintenance function (within 2 minutes) reconciles everything.
pub async fn resync(state: &AppState) -> Result<Resync, SchedulerAdminError> {
    let report: ReconcileReport = reconcile_within(state, RESYNC_BUDGET).await?;
    let complete = report.unchecked == 0;
    let ran_at = crate::domain::now();
    let scheduled_now = state
        .schedules
        .list_names()
        .await
        .map_err(unavailable)?
        .len();
    Ok(Resync {
        message: if complete {
            "Scheduler resync completed"
        } else {
            "Scheduler resync continues in the background"
        },
        complete,
        unchecked: report.unchecked,
        ran_at: fmt_ts(&ran_at),
        db_jobs_total: report.db_jobs_total,
        db_jobs_active: report.db_jobs_active,
        scheduled_now,
        scheduled_added: report.scheduled_added,
        scheduled_updated: report.scheduled_updated,
        scheduled_removed: report.scheduled_removed,
        expired_auto_paused: report.expired_auto_paused,
        orphaned_removed: report.orphaned_removed,
        invalid_cron: 0,
        failures: report.failures,
        repaired: report.repaired,
        abandoned_runs_failed: report.abandoned_runs_failed,
        meaning: RESYNC_MEANING,
    })
}
