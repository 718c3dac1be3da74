//! Scheduler admin (api-contract §3.11) without a leader: EventBridge Scheduler holds one
//! schedule per active job, every function keeps it in sync, and the maintenance function
//! reconciles the table with the schedules. Status reads that world; resync runs the
//! reconciliation now.

use super::maintenance::{reconcile_within, ReconcileReport};
use crate::{
    domain::fmt_ts,
    error::{ApiError, ApiResult},
    state::AppState,
};
use http::StatusCode;
use serde_json::{json, Value};

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "scheduler call failed");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "Scheduler unavailable",
        "EventBridge Scheduler could not be reached. Try again shortly.",
    )
}

/// What each count means here (there is no leader and no in-process scheduler).
fn meanings() -> Value {
    json!({
        "scheduler_running": "always true: EventBridge Scheduler fires the schedules",
        "scheduler_is_leader": "always true: there is no leader; every function keeps schedules in sync",
        "scheduled_jobs_count": "schedules in the job schedule group (one per active, unexpired job)",
        "jobs_pending_repair": "jobs whose last schedule call failed, repaired by the next reconciliation",
        "history_purges_pending": "deleted jobs whose runs and counters are still being removed (retried until done)",
        "retention": "history kept: days in effect (null: everything), first day kept after a raise, RETENTION_DAYS as configured, and why a changed value is refused (cronctl retention set applies it)",
        "last_resync_at": "when the last reconciliation (maintenance, every 10 minutes, or POST /scheduler/resync) finished",
    })
}

/// GET /scheduler/status (admin).
pub async fn status(state: &AppState) -> ApiResult<Value> {
    let (names, pending, last, purges) = futures::join!(
        state.schedules.list_names(),
        state.store.sync_pending_jobs(),
        state.store.last_reconcile(),
        state.store.pending_purges(),
    );
    let names = names.map_err(unavailable)?;
    let (pending, last, purges) = (pending?, last?, purges?);
    let last_report: Value = last
        .as_ref()
        .and_then(|r| serde_json::from_str(&r.report).ok())
        .unwrap_or(Value::Null);
    Ok(json!({
        "scheduler_running": true,
        "scheduler_is_leader": true,
        "scheduled_jobs_count": names.len(),
        "last_resync_at": last.as_ref().map(|r| fmt_ts(&r.ran_at)),
        "jobs_pending_repair": pending.len(),
        "history_purges_pending": purges.len(),
        "retention": {
            "days": state.retention.in_effect.days,
            "kept_since": state.retention.in_effect.kept_since.map(|d| d.to_string()),
            "configured_days": state.retention.configured,
            "refused": state.retention.refused,
        },
        "last_resync": last_report,
        "meaning": meanings(),
    }))
}

/// How long a resync reconciles before answering: the rest of API Gateway's 30 s is left to
/// the schedule count and the answer.
pub const RESYNC_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// POST /scheduler/resync (admin): reconciles now and returns the contract's counters plus
/// ours (`scheduled_updated`, `failures`, `repaired`, `abandoned_runs_failed`). A
/// reconciliation that does not fit [`RESYNC_BUDGET`] (about 10,000 jobs at 30 ms per
/// Scheduler call) answers what it did with `complete: false` and `unchecked`, and the next
/// sweep of the maintenance function (within 2 minutes) reconciles everything.
pub async fn resync(state: &AppState) -> ApiResult<Value> {
    let report: ReconcileReport = reconcile_within(state, RESYNC_BUDGET).await?;
    let complete = report.unchecked == 0;
    let ran_at = crate::domain::now();
    let scheduled_now = state
        .schedules
        .list_names()
        .await
        .map_err(unavailable)?
        .len();
    Ok(json!({
        "message": if complete {
            "Scheduler resync completed"
        } else {
            "Scheduler resync continues in the background"
        },
        "complete": complete,
        "unchecked": report.unchecked,
        "ran_at": fmt_ts(&ran_at),
        "db_jobs_total": report.db_jobs_total,
        "db_jobs_active": report.db_jobs_active,
        "scheduled_now": scheduled_now,
        "scheduled_added": report.scheduled_added,
        "scheduled_updated": report.scheduled_updated,
        "scheduled_removed": report.scheduled_removed,
        "expired_auto_paused": report.expired_auto_paused,
        "orphaned_removed": report.orphaned_removed,
        "invalid_cron": 0,
        "failures": report.failures,
        "repaired": report.repaired,
        "abandoned_runs_failed": report.abandoned_runs_failed,
        "meaning": {
            "scheduled_now": "schedules in the job schedule group after the resync (no internal maintenance entry: that schedule lives outside the group)",
            "invalid_cron": "always 0: every stored cron expression was validated when saved",
            "failures": "scheduler calls that failed; retried by the next reconciliation",
            "complete": "false when the reconciliation did not fit the request's 20 s: the maintenance function's next sweep (within 2 minutes) reconciles every job",
            "unchecked": "jobs this request did not reach (0 when complete)",
        },
    }))
}
