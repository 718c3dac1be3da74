//! What a delivery does before and after its run under the job's run policy (issue 23): the
//! catch-up window (a late delivery is recorded `missed`), the overlap policy (`skip`
//! records a `skipped` run while another is in flight; `buffer_one` lets one fire time wait
//! for it), and `pause_after_failures` (the job pauses itself after that many consecutive
//! failed scheduled or backfill runs, telling its creator and the admins as an end-date pause
//! does).

use super::*;
use crate::domain::{ExecutionStatus, OverlapPolicy, Pause};
use crate::store::lease::Slot;
use std::time::Instant;

/// How often a buffered fire time looks at the lease of the run it waits for.
const BUFFER_POLL: Duration = Duration::from_millis(500);

/// What one invocation of a backfill did ([`Engine::run_backfill`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BackfillReport {
    /// Fire times run now.
    pub ran: usize,
    /// Fire times some delivery had already claimed (run, skipped or missed before).
    pub duplicate: usize,
    /// Fire times recorded as not run (`skipped` under the overlap policy).
    pub not_run: usize,
    /// Fire times left to a continuation schedule (this invocation's time ran out).
    pub continued: usize,
    /// Whether the job was gone or paused (nothing more was run).
    pub stopped: bool,
}

/// Whether a delivery runs.
pub(super) enum Admission {
    /// Run it; `Some(holder)` when it holds the job's lease (to give back afterwards).
    Run { lease: Option<String> },
    /// Record it with this status (`missed` or `skipped`) and reason, without running it.
    NotRun(ExecutionStatus, String),
}

impl Engine {
    /// Runs a backfill's fire times (`input.backfill`, oldest first) one after the other, each
    /// as a delivery with trigger `backfill` (its own claim, the job's overlap and retry
    /// policies; the catch-up window does not apply). When the invocation's time would not
    /// hold one more run, the rest goes to a new one-time schedule through an outbox task
    /// ([`Task::OneTimeSchedule`]): every fire time still runs at most once.
    pub async fn run_backfill(
        &self,
        input: &ScheduledInput,
        deadline: Option<Instant>,
    ) -> EngineResult<BackfillReport> {
        let mut report = BackfillReport::default();
        let Some(job) = self.store.get_job(&input.job_id).await? else {
            report.stopped = true;
            return Ok(report);
        };
        let times: Vec<RunClaim> = input
            .backfill
            .iter()
            .flatten()
            .filter_map(|t| RunClaim::parse(&job.id, t))
            .collect();
        let budget_end = self.budget_end(self.scheduled, deadline);
        let room = job.policy.attempt_timeout() + Duration::from_secs(5);
        for (i, claim) in times.iter().enumerate() {
            if i > 0 && Instant::now() + room > budget_end {
                let rest: Vec<_> = times[i..].iter().map(|c| c.scheduled_time).collect();
                let Some(schedule) = crate::schedules::backfill_schedule(&job.id, &rest) else {
                    break;
                };
                // The task's id names the rest: a retried invocation enqueues it once.
                let task = OutboxTask::new(
                    format!("backfill-{}", schedule.name),
                    Task::OneTimeSchedule { schedule },
                );
                self.store.enqueue(std::slice::from_ref(&task)).await?;
                report.continued = rest.len();
                break;
            }
            let one = ScheduledInput {
                job_id: job.id.clone(),
                scheduled_time: crate::schedules::fmt_fire(&claim.scheduled_time),
                trigger: Some(Trigger::Backfill),
                backfill: None,
                resume: None,
            };
            match self.run_delivery(&one, deadline).await? {
                ScheduledOutcome::Ran(_) | ScheduledOutcome::Parked(_) => report.ran += 1,
                ScheduledOutcome::Duplicate => report.duplicate += 1,
                ScheduledOutcome::NotRun(_) => report.not_run += 1,
                ScheduledOutcome::Skipped | ScheduledOutcome::AutoPaused => {
                    report.stopped = true;
                    break;
                }
            }
        }
        Ok(report)
    }

    /// The catch-up and overlap checks of one delivery of `claim` (run id `run_id`, which
    /// must finish by `budget_end`).
    pub(super) async fn admit(
        &self,
        job: &Job,
        claim: &RunClaim,
        trigger: Trigger,
        run_id: &str,
        budget_end: Instant,
    ) -> EngineResult<Admission> {
        // A flexible time window lets EventBridge deliver up to that many minutes after the
        // fire time by design: the catch-up window counts from its end.
        let late = now() - claim.scheduled_time;
        let window = i64::from(job.policy.catchup_window_seconds);
        let flexible = i64::from(job.policy.flexible_window_minutes) * 60;
        if trigger == Trigger::Scheduled && late.num_seconds() > window + flexible {
            return Ok(Admission::NotRun(
                ExecutionStatus::Missed,
                format!(
                    "Delivered {} s after its fire time, beyond the job's catch-up window of {window} s{}: not run",
                    late.num_seconds(),
                    if flexible > 0 {
                        format!(" after its {} min flexible window", flexible / 60)
                    } else {
                        String::new()
                    }
                ),
            ));
        }
        let until = |end: Instant| {
            now()
                + chrono::Duration::from_std(end.saturating_duration_since(Instant::now()))
                    .unwrap_or_default()
                + chrono::Duration::seconds(60)
        };
        let policy = job.policy.overlap_policy;
        if policy == OverlapPolicy::Allow {
            return Ok(Admission::Run { lease: None });
        }
        let holder = match self
            .store
            .take_slot(&job.id, Slot::Lease, run_id, until(budget_end))
            .await?
        {
            None => {
                return Ok(Admission::Run {
                    lease: Some(run_id.to_string()),
                })
            }
            Some(h) => h,
        };
        if policy == OverlapPolicy::Skip {
            return Ok(Admission::NotRun(
                ExecutionStatus::Skipped,
                format!("The previous run ({holder}) was still running (overlap_policy: skip)"),
            ));
        }
        // buffer_one: one fire time waits; a second one meanwhile is skipped.
        if let Some(waiting) = self
            .store
            .take_slot(&job.id, Slot::Buffer, run_id, until(budget_end))
            .await?
        {
            return Ok(Admission::NotRun(
                ExecutionStatus::Skipped,
                format!("The previous run ({holder}) was still running and fire time {waiting} was already waiting for it (overlap_policy: buffer_one)"),
            ));
        }
        let started = Instant::now();
        let admission = loop {
            tokio::time::sleep(BUFFER_POLL).await;
            // The run itself needs its timeout after the wait.
            if Instant::now() + job.policy.attempt_timeout() > budget_end {
                break Admission::NotRun(
                    ExecutionStatus::Skipped,
                    format!(
                        "Waited {} s for the previous run ({holder}), which did not finish in time (overlap_policy: buffer_one)",
                        started.elapsed().as_secs()
                    ),
                );
            }
            // Polled by a read (1 RCU); written only once it looks free.
            if self
                .store
                .slot_holder(&job.id, Slot::Lease)
                .await?
                .is_none()
                && self
                    .store
                    .take_slot(&job.id, Slot::Lease, run_id, until(budget_end))
                    .await?
                    .is_none()
            {
                break Admission::Run {
                    lease: Some(run_id.to_string()),
                };
            }
        };
        self.store
            .release_slot(&job.id, Slot::Buffer, run_id)
            .await?;
        Ok(admission)
    }

    /// Records a fire time that was not run (`missed` or `skipped`) as a finished execution
    /// claiming its fire time (a duplicate delivery then finds the claim): no alerts, no
    /// `last_execution_at`. `None` when the fire time was already claimed.
    pub(super) async fn record_not_run(
        &self,
        job: &Job,
        claim: &RunClaim,
        trigger: Trigger,
        (status, reason): (ExecutionStatus, String),
    ) -> EngineResult<Option<Execution>> {
        let at = now();
        let id = uuid::Uuid::new_v4().to_string();
        let mut exec =
            self.new_execution((id, job), job.target().as_ref(), trigger, Some(claim), at);
        exec.status = status;
        exec.completed_at = Some(at);
        exec.duration_seconds = Some(0.0);
        exec.error_message = Some(reason);
        Ok(self
            .store
            .start_execution(&exec, Some(claim), None)
            .await?
            .then_some(exec))
    }

    /// After a scheduled or backfill run of a job with `pause_after_failures`: counts the
    /// streak, and pauses the job once it reaches the limit (recording who — `system` — when
    /// and why), unschedules it, and tells its creator and the active admins.
    pub(super) async fn after_run(&self, job: &Job, exec: &Execution) -> EngineResult<()> {
        let limit = job.policy.pause_after_failures;
        if limit == 0 || exec.trigger_type == Trigger::Manual {
            return Ok(());
        }
        let failed = exec.status.is_failure();
        let streak = self.store.note_run_result(&job.id, failed).await?;
        if !failed || streak < limit {
            return Ok(());
        }
        let note = format!("Paused automatically after {streak} consecutive failed runs");
        let audience = self.end_date_audience().await?;
        let tasks = failure_pause_notices(&audience.admins, job, &note, &exec.id);
        let pause = Pause {
            note: Some(note),
            by: Some("system".into()),
            at: now(),
        };
        if !self.store.pause_with(&job.id, &pause, &tasks).await? {
            return Ok(());
        }
        if let Err(e) = self.schedules.remove(&job.id).await {
            tracing::warn!(job_id = %job.id, error = %e, "failure pause: schedule removal failed; reconcile will retry");
        }
        self.deliver_notices(&tasks).await;
        Ok(())
    }
}

/// The notices of a pause after consecutive failures: in-app and e-mail to the creator and
/// the active admins, once per run that paused ([`notices::pause_notices`]).
fn failure_pause_notices(
    admins: &[String],
    job: &Job,
    note: &str,
    execution_id: &str,
) -> Vec<OutboxTask> {
    let message = format!(
        "Job \"{}\": {note}. Resume it once the target is fixed.",
        job.name
    );
    notices::pause_notices(
        &format!("failpause-{}-{execution_id}", job.id),
        creator_and_admins(admins, job),
        job,
        ("Job auto-paused (consecutive failures)", &message),
        Some(execution_id),
    )
}
