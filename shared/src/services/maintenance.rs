//! Reconciliation of the table (the source of truth) with EventBridge Scheduler, run by the
//! maintenance function on its own schedule and by the local trigger (api-contract §7.1-§7.2,
//! without a leader: every step is idempotent).

use crate::{
    domain::{now, today_in},
    state::AppState,
    store::StoreError,
};
use futures::StreamExt;
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
    /// Jobs not checked because the time budget ran out ([`reconcile_within`]); a whole
    /// reconciliation was requested from the next sweep.
    #[serde(default)]
    pub unchecked: usize,
    /// Schedules read back and compared with their job (`GetSchedule` calls).
    #[serde(default)]
    pub schedules_verified: usize,
    /// Slices the scheduled jobs were split into for reading back (1: every schedule was
    /// read; n: one slice in n this run, [`MAX_SCHEDULE_READS`]).
    #[serde(default)]
    pub verify_slices: usize,
}

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SweepReport {
    /// Outbox tasks delivered / failed (retried later).
    pub delivered: usize,
    pub delivery_failures: usize,
    /// Runs past their in-progress expiry, now failed.
    pub abandoned_runs_failed: usize,
    /// Jobs whose `SYNC_PENDING` schedule call was completed.
    pub schedules_repaired: usize,
    /// A whole reconciliation ran, requested by a resync that ran out of time.
    #[serde(default)]
    pub reconciled: bool,
    /// Category or team renames whose jobs were still being re-pointed, finished now.
    #[serde(default)]
    pub renames_finished: usize,
}

/// The frequent, cheap part of maintenance (every 2 minutes on AWS, every few seconds
/// locally): delivers outbox tasks that are due (those the writer could not deliver),
/// fails abandoned runs, finishes renames cut short, and completes schedule calls of jobs left `SYNC_PENDING` by a cut-off
/// request. Each step reads only a sparse index, so an idle table costs a few empty Queries.
pub async fn sweep(state: &AppState) -> Result<SweepReport, StoreError> {
    let drained = state.alerts.drain(20).await?;
    let mut report = SweepReport {
        delivered: drained.delivered,
        delivery_failures: drained.failed,
        abandoned_runs_failed: state.engine.fail_abandoned().await?,
        ..Default::default()
    };
    if !state.store.setting_done("NAME_KEYS").await? {
        let shared = state.store.claim_name_identities().await?;
        if !shared.is_empty() {
            tracing::warn!(
                ?shared,
                "jobs whose names differ only in case or spelling: both kept; rename one"
            );
        }
        state.store.mark_setting_done("NAME_KEYS").await?;
    }
    for rename in state.store.pending_renames().await? {
        let moved = state.store.finish_rename(&rename).await?;
        tracing::info!(?rename, moved, "sweep: finished a rename cut short");
        report.renames_finished += 1;
    }
    if state.store.take_reconcile_request().await? {
        let r = reconcile_all(state).await?;
        tracing::info!(
            ?r,
            "sweep: reconciliation requested by a resync that did not fit its request"
        );
        report.reconciled = true;
    }
    let today = today_in(state.config.timezone);
    for (id, token) in state.store.sync_pending_jobs().await? {
        let synced =
            crate::schedules::repair(&state.store, &state.schedules, &id, &token, today).await?;
        match synced {
            Ok(()) => report.schedules_repaired += 1,
            Err(e) => {
                tracing::warn!(job_id = %id, error = %e, "sweep: schedule call failed; retried next sweep")
            }
        }
    }
    Ok(report)
}

/// What one retention pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RetentionReport {
    /// Counter scopes looked at (4 all-jobs shards, one per job, one per user, 4 feed shards).
    pub scopes: usize,
    /// Days past retention folded out of `TOTAL` counters.
    pub days_folded: usize,
}

/// Daily retention pass (`{"task": "expire_history"}`): folds the days past retention out of
/// every counter scope's `TOTAL` ([`crate::store::Store::expire_counters`]). The items
/// themselves are deleted by DynamoDB TTL and hidden by every read before that. Reads the job
/// and user lists (once a day); a no-op without retention.
pub async fn expire_history(state: &AppState) -> Result<RetentionReport, StoreError> {
    use crate::store::{execution_counter_scopes, job_counter_scope, notification_counter_scope};
    let mut report = RetentionReport::default();
    if state.store.history_floor().is_none() {
        return Ok(report);
    }
    let mut scopes = execution_counter_scopes();
    scopes.extend(
        state
            .store
            .list_jobs()
            .await?
            .iter()
            .map(|j| job_counter_scope(&j.id)),
    );
    scopes.extend(
        state
            .store
            .list_users()
            .await?
            .iter()
            .map(|u| notification_counter_scope(&u.id)),
    );
    scopes.extend(crate::store::feed::feed_scopes());
    for scope in &scopes {
        report.days_folded += state.store.expire_counters(scope).await?;
    }
    report.scopes = scopes.len();
    Ok(report)
}

/// What one weekly end-date maintenance did (api-contract §7.3 summary, plus dedup counts).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct WeeklyReport {
    pub ran_at: String,
    /// ISO week the run stands for (`2026-W48`): a second run for the same week sends nothing.
    pub week: String,
    pub paused_expired_jobs: usize,
    pub ending_soon_jobs: usize,
    /// In-app notifications enqueued (one per recipient).
    pub notifications_created: usize,
    pub slack_messages: usize,
    /// Reminders already sent for this week (a repeated delivery), not sent again.
    pub already_done: usize,
}

/// Weekly end-date maintenance (api-contract §7.3), run by the maintenance function from its
/// Monday 09:00 schedule. `scheduled_time` (the schedule's fire time) fixes the day and the
/// ISO week, so EventBridge's at-least-once delivery of the same fire time repeats nothing:
/// pauses are conditional, and every reminder is an outbox task whose id names the week.
pub async fn end_date_maintenance(
    state: &AppState,
    scheduled_time: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<WeeklyReport, StoreError> {
    use crate::engine::{creator_and_admins, job_link, slack_escape};
    use crate::store::outbox::{Audience, OutboxTask, Task};
    let at = scheduled_time.unwrap_or_else(now);
    let today = at.with_timezone(&state.config.timezone).date_naive();
    let week = today.format("%G-W%V").to_string();
    let mut report = WeeklyReport {
        ran_at: crate::domain::fmt_ts(&now()),
        week: week.clone(),
        ..Default::default()
    };
    let jobs = state.store.list_jobs().await?;
    let admins = state.store.active_admin_ids().await?;
    let slack_on = state
        .store
        .get_slack_settings()
        .await?
        .is_some_and(|s| s.is_enabled && s.webhook_url.is_some());
    let handles: std::collections::HashMap<String, String> = state
        .store
        .list_taxa(crate::store::TaxonKind::Team)
        .await?
        .into_iter()
        .filter_map(|t| {
            let h = t.slack_handle?.trim().to_string();
            (!h.is_empty()).then(|| (t.slug, format!("{h} ")))
        })
        .collect();
    let base = &state.config.frontend_base_url;
    let mut fresh_ids = Vec::new();
    for job in &jobs {
        let Some(end) = job.end_date else { continue };
        let end_s = end.format("%Y-%m-%d").to_string();
        let team = job.pic_team.as_deref().unwrap_or("-");
        let mention = job
            .pic_team
            .as_ref()
            .and_then(|t| handles.get(t))
            .cloned()
            .unwrap_or_default();
        let link = format!("<{}|{}>", job_link(base, &job.id), slack_escape(&job.name));
        let slack = |id: String, text: String| {
            OutboxTask::new(
                id,
                Task::Slack {
                    text,
                    execution_id: None,
                },
            )
        };
        if job.is_active && end < today {
            let audience = crate::engine::EndDateAudience {
                admins: admins.clone(),
                slack_on,
            };
            if let Some(tasks) = state
                .engine
                .auto_pause(job, today, &audience, crate::engine::PausePath::Maintenance)
                .await?
            {
                report.paused_expired_jobs += 1;
                report.notifications_created += notify_count(&tasks);
                report.slack_messages += tasks
                    .iter()
                    .filter(|t| matches!(t.task, Task::Slack { .. }))
                    .count();
                fresh_ids.extend(tasks.iter().map(|t| t.id.clone()));
            }
        } else if end >= today && (end - today).num_days() <= 30 {
            let days_left = (end - today).num_days();
            let prefix = format!("weekly-{week}-{}-soon", job.id);
            let recipients = creator_and_admins(&admins, job);
            let mut tasks = vec![OutboxTask::new(
                format!("{prefix}-notify"),
                Task::Notify {
                    audience: Audience::Users { ids: recipients },
                    title: "Job ending soon".into(),
                    message: format!(
                        "Job \"{}\" ends on {end_s} JST ({days_left} day(s) left). PIC Team: {team}",
                        job.name
                    ),
                    level: crate::domain::Level::Warning,
                    related_job_id: Some(job.id.clone()),
                    related_execution_id: None,
                },
            )];
            if slack_on {
                tasks.push(slack(
                    format!("{prefix}-slack"),
                    format!(
                        ":warning: {mention}Job ending soon ({days_left}d): {link} (end_date {end_s} JST)"
                    ),
                ));
            }
            let enqueued = state.store.enqueue(&tasks).await?;
            if enqueued.is_empty() {
                report.already_done += 1;
                continue;
            }
            report.ending_soon_jobs += 1;
            for t in tasks.iter().filter(|t| enqueued.contains(&t.id)) {
                match &t.task {
                    Task::Slack { .. } => report.slack_messages += 1,
                    _ => report.notifications_created += notify_count(std::slice::from_ref(t)),
                }
            }
            fresh_ids.extend(enqueued);
        }
    }
    // Delivered now; whatever fails stays in the outbox for the sweep.
    if let Err(e) = state.alerts.deliver(&fresh_ids).await {
        tracing::warn!(error = %e, "weekly: deliveries left to the sweep");
    }
    tracing::info!(?report, "end-date maintenance done");
    Ok(report)
}

fn notify_count(tasks: &[crate::store::outbox::OutboxTask]) -> usize {
    use crate::store::outbox::{Audience, Task};
    tasks
        .iter()
        .map(|t| match &t.task {
            Task::Notify {
                audience: Audience::Users { ids },
                ..
            } => ids.len(),
            _ => 0,
        })
        .sum()
}

/// Jobs whose schedule [`reconcile`] checks at once (one `GetSchedule` each, plus a fix when
/// it differs). 16 in flight keep 10,000 jobs well inside the maintenance function's 300 s
/// at ~30 ms a call (about 20 s), and under Scheduler's default 1,000 `GetSchedule`/s; a
/// lower quota throttles and the calls back off (`schedules::on_throttle`).
pub const RECONCILE_CONCURRENCY: usize = 16;

/// Most schedules one periodic reconciliation reads back (`GetSchedule`) to compare with
/// their job. Missing, orphaned and unwanted schedules are found from the listing alone, for
/// every job, every run; reading a schedule back only finds one changed behind the table's
/// back (a console edit). With more scheduled jobs than this, each run reads one slice of
/// them (by a hash of the job id, rotating every 10 minutes), so every schedule is read back
/// within `ceil(jobs / 2,000)` runs (50 minutes at 10,000 jobs) and a run's cost stays flat:
/// 2,000 calls are 40 s at the lowest `GetSchedule` rate Scheduler has published (50/s),
/// about 4 s at 16 in flight and 30 ms a call. `POST /scheduler/resync` reads every one.
pub const MAX_SCHEDULE_READS: usize = 2_000;

/// Which schedules a reconciliation reads back.
#[derive(Clone, Copy, Debug)]
enum Verify {
    /// Every one (resync, a requested reconciliation).
    All,
    /// Those of jobs whose id hashes to `slot` modulo the number of slices.
    Slice { slot: u64 },
}

/// The slice (of `slices`) a job id belongs to: a stable hash (FNV-1a) of the id.
fn slice_of(id: &str, slices: usize) -> u64 {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    hash % slices.max(1) as u64
}

/// What reconciling one job changed.
enum Fix {
    None,
    Added,
    Updated,
    Removed,
    Failed(String),
}

struct JobOutcome {
    job_id: String,
    /// Paused now: active and past its end date.
    paused: bool,
    /// Should have a schedule.
    should: bool,
    /// Its schedule was read back.
    verified: bool,
    fix: Fix,
}

/// Checks one job against the schedule listing (`has`): pauses it when past its end date
/// (with the end-date notices, [`crate::engine::Engine::auto_pause`]),
/// reads its schedule back when it should have one and `verify` says so, and re-syncs it
/// from a fresh read when they differ.
async fn reconcile_job(
    state: &AppState,
    job: &crate::domain::Job,
    has: bool,
    verify: bool,
    today: chrono::NaiveDate,
    audience: Option<&crate::engine::EndDateAudience>,
) -> Result<JobOutcome, StoreError> {
    let mut out = JobOutcome {
        job_id: job.id.clone(),
        paused: false,
        should: job.should_be_scheduled(today),
        verified: false,
        fix: Fix::None,
    };
    if let (true, Some(audience)) = (job.is_active && job.is_expired(today), audience) {
        out.paused = state
            .engine
            .auto_pause(job, today, audience, crate::engine::PausePath::Maintenance)
            .await?
            .is_some();
    }
    let in_sync = match (out.should, has) {
        (false, has) => !has,
        (true, false) => false,
        (true, true) if !verify => true,
        (true, true) => match state.schedules.get(&job.id).await {
            Ok(current) => {
                out.verified = true;
                current.is_some_and(|s| state.schedules.matches(job, &s))
            }
            Err(e) => {
                out.fix = Fix::Failed(e.to_string());
                return Ok(out);
            }
        },
    };
    if in_sync {
        return Ok(out);
    }
    // Re-read before fixing, so a write that landed since the list is not undone.
    let Some(fresh) = state.store.get_job(&job.id).await? else {
        return Ok(out);
    };
    let should = fresh.should_be_scheduled(today);
    out.fix = match state.schedules.sync(&fresh, today).await {
        Ok(()) if !should => Fix::Removed,
        Ok(()) if has => Fix::Updated,
        Ok(()) => Fix::Added,
        Err(e) => Fix::Failed(e.to_string()),
    };
    Ok(out)
}

/// Makes every schedule agree with the table: creates missing ones, rewrites differing ones,
/// removes those of inactive, expired or deleted jobs, pauses active jobs past their end date,
/// fails runs abandoned in `running` ([`crate::engine::Engine::fail_abandoned`]), and clears the `SYNC_PENDING` markers read before it started (conditionally, so a write that
/// raced it keeps its own). Store failures abort (the next run retries); scheduler failures
/// are counted and retried next run.
pub async fn reconcile(state: &AppState) -> Result<ReconcileReport, StoreError> {
    let slot = (chrono::Utc::now().timestamp() / 600) as u64;
    reconcile_inner(state, None, Verify::Slice { slot }, || async {}).await
}

/// [`reconcile`] reading every schedule back, whatever their number (a requested
/// reconciliation, `cronctl maintenance reconcile`).
pub async fn reconcile_all(state: &AppState) -> Result<ReconcileReport, StoreError> {
    reconcile_inner(state, None, Verify::All, || async {}).await
}

/// [`reconcile`] inside a time budget (`POST /scheduler/resync` must answer inside API
/// Gateway's 30 s): no job is started after `budget`; the jobs left are counted in
/// `unchecked`, orphan removal is left too, and a whole reconciliation is requested from the
/// next sweep (within 2 minutes, in the maintenance function's 300 s).
pub async fn reconcile_within(
    state: &AppState,
    budget: std::time::Duration,
) -> Result<ReconcileReport, StoreError> {
    let deadline = std::time::Instant::now() + budget;
    let report = reconcile_inner(state, Some(deadline), Verify::All, || async {}).await?;
    if report.unchecked > 0 {
        state.store.request_reconcile().await?;
    }
    Ok(report)
}

/// [`reconcile`] with `between` run after the schedules are listed and before the jobs are
/// (tests use it to land a write in that window).
#[doc(hidden)]
pub async fn reconcile_with<F: std::future::Future<Output = ()>>(
    state: &AppState,
    between: impl FnOnce() -> F,
) -> Result<ReconcileReport, StoreError> {
    reconcile_inner(state, None, Verify::All, between).await
}

async fn reconcile_inner<F: std::future::Future<Output = ()>>(
    state: &AppState,
    deadline: Option<std::time::Instant>,
    verify: Verify,
    between: impl FnOnce() -> F,
) -> Result<ReconcileReport, StoreError> {
    let in_time = move || deadline.is_none_or(|d| std::time::Instant::now() < d);
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
    between().await;
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
    // Each job's check (and fix) is independent: RECONCILE_CONCURRENCY of them in flight,
    // each Scheduler call backing off on throttling (`schedules::on_throttle`).
    // Owned items: a stream of futures over borrowed ones is not `Send` for every lifetime
    // (the system function's router needs it to be).
    let scheduled = jobs.iter().filter(|j| j.should_be_scheduled(today)).count();
    let slices = match verify {
        Verify::All => 1,
        Verify::Slice { .. } => scheduled.div_ceil(MAX_SCHEDULE_READS).max(1),
    };
    report.verify_slices = slices;
    let in_slice = move |id: &str| match verify {
        Verify::All => true,
        Verify::Slice { slot } => slice_of(id, slices) == slot % slices as u64,
    };
    // Who is told about a pause, read only when some job is to be paused.
    let audience = if jobs.iter().any(|j| j.is_active && j.is_expired(today)) {
        Some(state.engine.end_date_audience().await?)
    } else {
        None
    };
    let audience = &audience;
    let mut checked: HashSet<String> = HashSet::new();
    let mut checks = futures::stream::iter(jobs.iter().cloned())
        .take_while(|_| std::future::ready(in_time()))
        .map(|job| {
            let has = names.contains(&job.id);
            let verify = in_slice(&job.id);
            async move { reconcile_job(state, &job, has, verify, today, audience.as_ref()).await }
        })
        .buffer_unordered(RECONCILE_CONCURRENCY);
    while let Some(outcome) = checks.next().await {
        let o = outcome?;
        checked.insert(o.job_id.clone());
        report.schedules_verified += usize::from(o.verified);
        report.expired_auto_paused += usize::from(o.paused);
        report.db_jobs_active += usize::from(o.should);
        match o.fix {
            Fix::None => {}
            Fix::Removed => report.scheduled_removed += 1,
            Fix::Updated => report.scheduled_updated += 1,
            Fix::Added => report.scheduled_added += 1,
            Fix::Failed(e) => fail(&o.job_id, &e, &mut report),
        }
    }
    drop(checks);
    report.unchecked = jobs.len() - checked.len();
    let ids: HashSet<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    let orphans: Vec<String> = names
        .iter()
        .filter(|n| !ids.contains(n.as_str()) && report.unchecked == 0)
        .cloned()
        .collect();
    let mut removals = futures::stream::iter(orphans)
        .map(|name| async move {
            let r = state.schedules.remove(&name).await;
            (name, r)
        })
        .buffer_unordered(RECONCILE_CONCURRENCY);
    while let Some((name, r)) = removals.next().await {
        match r {
            Ok(()) => report.orphaned_removed += 1,
            Err(e) => fail(&name, &e, &mut report),
        }
    }
    drop(removals);
    report.abandoned_runs_failed = state.engine.fail_abandoned().await?;
    for (id, token) in pending {
        // A job the budget did not reach keeps its marker for the next run.
        if !failed.contains(&id) && (report.unchecked == 0 || checked.contains(&id)) {
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

#[cfg(test)]
mod slice_tests {
    use super::*;

    #[test]
    fn every_job_is_read_back_once_per_round_of_slices_and_slices_are_even() {
        let ids: Vec<String> = (0..10_000)
            .map(|_| uuid::Uuid::new_v4().to_string())
            .collect();
        let slices = ids.len().div_ceil(MAX_SCHEDULE_READS);
        assert_eq!(slices, 5);
        let mut seen = vec![0usize; ids.len()];
        for slot in 0..slices as u64 {
            let read: Vec<usize> = (0..ids.len())
                .filter(|&i| slice_of(&ids[i], slices) == slot)
                .collect();
            // Even enough that a run stays near MAX_SCHEDULE_READS.
            assert!((1_800..=2_200).contains(&read.len()), "{}", read.len());
            for i in read {
                seen[i] += 1;
            }
        }
        assert!(seen.iter().all(|n| *n == 1));
        assert_eq!(slice_of("any", 1), 0);
    }
}
