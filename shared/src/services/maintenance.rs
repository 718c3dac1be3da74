//! Reconciliation of the table (the source of truth) with EventBridge Scheduler, run by the
//! maintenance function on its own schedule and by the local trigger (api-contract §7.1-§7.2,
//! without a leader: every step is idempotent).

use crate::{
    domain::{now, today_in},
    store::StoreError,
    web::AppState,
};
use serde::Serialize;
use std::collections::HashSet;

/// What one reconciliation did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ReconcileReport {
    /// Jobs in the table.
    pub db_jobs_total: usize,
    /// Jobs that should have a schedule (active, not past `end_date`).
    pub db_jobs_active: usize,
    /// Active jobs past their end date, paused now.
    pub expired_auto_paused: usize,
    /// Schedules created for jobs that had none.
    pub scheduled_added: usize,
    /// Schedules rewritten because they differed from the job.
    pub scheduled_updated: usize,
    /// Schedules removed for inactive or expired jobs.
    pub scheduled_removed: usize,
    /// Schedules removed whose job no longer exists.
    pub orphaned_removed: usize,
    /// Scheduler calls that failed (retried on the next run).
    pub failures: usize,
    /// `SYNC_PENDING` markers cleared.
    pub repaired: usize,
    /// Runs left `running` by an executor that stopped, now marked failed.
    pub abandoned_runs_failed: usize,
}

/// A run still `running` this long after it started is abandoned: every run is bounded far
/// below this (40 s of calls inside a 60 s executor, 20 s for manual runs).
pub const ABANDONED_AFTER_MINUTES: i64 = 15;
/// How far back the abandoned-run sweep looks.
const SWEEP_WINDOW_HOURS: i64 = 24;

/// Marks runs stuck in `running` as failed (conditionally: a late completion wins).
pub async fn fail_abandoned_runs(state: &AppState) -> Result<usize, StoreError> {
    let now_t = now();
    let to = now_t - chrono::Duration::minutes(ABANDONED_AFTER_MINUTES);
    let from = now_t - chrono::Duration::hours(SWEEP_WINDOW_HOURS);
    let mut failed = 0;
    for mut e in state.store.running_executions(from, to).await? {
        e.status = "failed".into();
        e.completed_at = Some(now_t);
        e.duration_seconds =
            Some((now_t - e.started_at).num_microseconds().unwrap_or(0) as f64 / 1e6);
        e.error_message = Some(format!(
            "Run abandoned: no result was recorded within {ABANDONED_AFTER_MINUTES} minutes (the executor stopped)"
        ));
        if state.store.complete_execution(&e).await? {
            failed += 1;
        }
    }
    Ok(failed)
}

/// Makes every schedule agree with the table: creates missing ones, rewrites differing ones,
/// removes those of inactive, expired or deleted jobs, pauses active jobs past their end date,
/// fails runs abandoned in `running` ([`fail_abandoned_runs`]), and clears the `SYNC_PENDING` markers read before it started (conditionally, so a write that
/// raced it keeps its own). Store failures abort (the next run retries); scheduler failures
/// are counted and retried next run.
pub async fn reconcile(state: &AppState) -> Result<ReconcileReport, StoreError> {
    let pending = state.store.sync_pending_jobs().await?;
    // Schedules first, then jobs: a job created in between has its schedule missing from the
    // first list (and is then fixed or left alone), never an orphan whose job was not listed.
    let names: HashSet<String> = match state.schedules.list_names().await {
        Ok(n) => n.into_iter().collect(),
        Err(e) => {
            tracing::error!(error = %e, "reconcile: cannot list schedules");
            return Ok(ReconcileReport {
                failures: 1,
                ..Default::default()
            });
        }
    };
    let jobs = state.store.list_jobs().await?;
    let today = today_in(state.config.timezone);
    let mut report = ReconcileReport {
        db_jobs_total: jobs.len(),
        ..Default::default()
    };
    let mut failed: HashSet<String> = HashSet::new();
    let mut fail = |id: &str, e: &dyn std::fmt::Display, report: &mut ReconcileReport| {
        tracing::warn!(job_id = id, error = %e, "reconcile: scheduler call failed");
        report.failures += 1;
        failed.insert(id.to_string());
    };
    for job in &jobs {
        if job.is_active
            && job.is_expired(today)
            && state.store.pause_if_expired(&job.id, today, now()).await?
        {
            report.expired_auto_paused += 1;
        }
        let has = names.contains(&job.id);
        let should = job.should_be_scheduled(today);
        report.db_jobs_active += usize::from(should);
        let in_sync = match (should, has) {
            (false, has) => !has,
            (true, false) => false,
            (true, true) => match state.schedules.get(&job.id).await {
                Ok(current) => current.is_some_and(|s| state.schedules.matches(job, &s)),
                Err(e) => {
                    fail(&job.id, &e, &mut report);
                    continue;
                }
            },
        };
        if in_sync {
            continue;
        }
        // Re-read before fixing, so a write that landed since the list is not undone.
        let Some(fresh) = state.store.get_job(&job.id).await? else {
            continue;
        };
        let should = fresh.should_be_scheduled(today);
        match state.schedules.sync(&fresh, today).await {
            Ok(()) if !should => report.scheduled_removed += 1,
            Ok(()) if has => report.scheduled_updated += 1,
            Ok(()) => report.scheduled_added += 1,
            Err(e) => fail(&job.id, &e, &mut report),
        }
    }
    let ids: HashSet<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    for name in names.iter().filter(|n| !ids.contains(n.as_str())) {
        match state.schedules.remove(name).await {
            Ok(()) => report.orphaned_removed += 1,
            Err(e) => fail(name, &e, &mut report),
        }
    }
    report.abandoned_runs_failed = fail_abandoned_runs(state).await?;
    for (id, token) in pending {
        if !failed.contains(&id) {
            state.store.clear_sync_pending(&id, &token).await?;
            report.repaired += 1;
        }
    }
    record(state, &report).await;
    Ok(report)
}

/// Keeps the last report for `GET /scheduler/status` (best effort: a failure is logged).
async fn record(state: &AppState, report: &ReconcileReport) {
    let r = crate::store::ReconcileRecord {
        ran_at: now(),
        report: serde_json::to_string(report).unwrap_or_default(),
    };
    if let Err(e) = state.store.put_reconcile(&r).await {
        tracing::warn!(error = %e, "could not record the reconciliation");
    }
}
