//! The execution engine (api-contract §6): runs a job's webhook or GitHub `workflow_dispatch`,
//! records the execution and the job's `last_execution_at`, and broadcasts the run
//! notification. Scheduled runs ([`Engine::run_scheduled`]) and manual runs
//! ([`Engine::run_manual`]) share everything but their timeouts and texts.
//!
//! Delivery is at least once: a scheduled run first claims the idempotency key
//! `(job id, scheduled time)` in the same transaction that creates its `running` row, so a
//! duplicate delivery — even a concurrent one — finds the claim taken and does nothing.
//!
//! Outbound webhooks go through [`safe_http`]: no redirects, bounded timeouts, and (outside
//! local mode) no private, loopback or link-local destinations, checked on the very addresses
//! the connection uses.

use crate::{
    alerts::{failure_email, success_email, Alerts},
    config::{Config, Secret},
    domain::{now, today_in, Dispatch, Job, JobTarget, RetryPolicy},
    safe_http,
    schedules::{ScheduledInput, Schedules},
    store::{
        outbox::{Audience, EmailPref, EmailTo, OutboxTask, Task},
        Execution, RunClaim, Store, StoreError, TaxonKind,
    },
};
use chrono_tz::Tz;
use serde_json::{Map, Value};
use std::time::Duration;

/// Largest response text kept in `output` / `error_message`, characters.
const OUTPUT_CHARS: usize = 1000;
/// Largest response body read, bytes.
const READ_LIMIT: usize = 16 * 1024;

/// Per-attempt and whole-run limits. One attempt is bounded by the job's `timeout_seconds`
/// (issue 23) and by `per_call`; all attempts of a run, with the waits between them, by
/// `total` (and by the invocation's own deadline when the executor knows it).
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// Cap of one attempt (connect, response and body).
    pub per_call: Duration,
    /// All attempts of one run together.
    pub total: Duration,
}

impl Timeouts {
    /// Scheduled and backfill runs: an attempt may take the job's whole `timeout_seconds`
    /// (at most 600 s), a run 840 s in all (executor timeout 900 s, Lambda's maximum).
    pub const SCHEDULED: Timeouts = Timeouts {
        per_call: Duration::from_secs(600),
        total: Duration::from_secs(840),
    };
    /// Manual runs answer inside API Gateway's 30 s: 20 s in all, retries included.
    pub const MANUAL: Timeouts = Timeouts {
        per_call: Duration::from_secs(20),
        total: Duration::from_secs(20),
    };
}

pub use crate::domain::Trigger;
use crate::domain::{ExecutionStatus, ExecutionType, Level};

/// What to call in one run, after overrides.
#[derive(Clone, Debug)]
pub struct RunPlan {
    pub target: JobTarget,
    pub metadata: Map<String, Value>,
    /// Token for GitHub; `None` means "use the configured one".
    pub github_token: Option<Secret>,
    /// When the run must be recorded by (a manual run answers inside API Gateway's 30 s):
    /// the outbound calls get what is left of it minus [`STORE_MARGIN`].
    pub deadline: Option<std::time::Instant>,
}

/// A run still `running` this long after its start is abandoned (its executor died), unless
/// its run-in-flight marker names a later `abandon_after` (a run whose timeout and retries
/// take longer: the end of its own time budget plus a minute). Manual runs end inside API
/// Gateway's 30 s. The maintenance sweep runs every 2 minutes, so a dead run is recorded
/// failed within about 4 minutes of its budget's end.
pub const IN_PROGRESS_EXPIRY: Duration = Duration::from_secs(120);

/// Time kept back from a run's deadline for recording its result (store writes and retries).
pub const STORE_MARGIN: Duration = Duration::from_secs(4);

/// How much longer than its timeout one attempt may take before it is cut off from outside:
/// the calls' own timeouts fire first and say what timed out.
const ATTEMPT_GRACE: Duration = Duration::from_millis(250);

pub use deliveries::BackfillReport;
pub use notices::{
    creator_and_admins, end_date_notices, end_date_task_prefix, job_link, slack_escape,
    EndDateAudience, PausePath,
};
pub use test_run::TestRun;

mod deliveries;
mod notices;
use notices::team_mention;
mod test_run;
use crate::store::{lease::Slot, Attempt};
use std::time::Instant;

/// The result of a scheduled delivery.
#[derive(Clone, Debug, PartialEq)]
pub enum ScheduledOutcome {
    /// The job is gone or inactive: nothing recorded.
    Skipped,
    /// The job was past its end date: paused, unscheduled, owners told.
    AutoPaused,
    /// Another delivery of the same fire time already ran it.
    Duplicate,
    /// Ran; the recorded execution.
    Ran(Box<Execution>),
    /// Not run under the job's run policy: the recorded `missed` or `skipped` execution.
    NotRun(Box<Execution>),
    /// Ran and retries later (the next attempt's wait did not fit this invocation): the
    /// execution, still `running`.
    Parked(Box<Execution>),
}

/// Engine errors: storage failed (the delivery should be retried).
pub type EngineResult<T> = Result<T, StoreError>;

/// Shared by the executor and the jobs API. Built once per Lambda.
#[derive(Clone)]
pub struct Engine {
    store: Store,
    schedules: Schedules,
    alerts: Alerts,
    /// Web client base for links in Slack posts (`FRONTEND_BASE_URL`).
    frontend_base: String,
    /// `None` when the safe client could not be built: webhook calls then fail closed.
    webhook_http: Option<reqwest::Client>,
    github_http: Option<reqwest::Client>,
    /// `DEFAULT_GITHUB_OWNER`: the one owner the platform token reaches until admins save an
    /// allowlist ([`Store::github_owner_allowed`]).
    default_github_owner: String,
    /// `None` when `GITHUB_API_BASE_URL` is not a URL: GitHub runs then fail, logged.
    github_base: Option<url::Url>,
    github_token: Option<Secret>,
    allow_private: bool,
    tz: Tz,
    scheduled: Timeouts,
    manual: Timeouts,
}

impl Engine {
    /// Builds the HTTP clients once.
    pub fn new(store: Store, schedules: Schedules, alerts: Alerts, config: &Config) -> Self {
        Self {
            store,
            schedules,
            alerts,
            frontend_base: config.frontend_base_url.clone(),
            webhook_http: safe_http::client(config.allow_private_targets),
            github_http: safe_http::trusted_client(),
            github_base: url::Url::parse(&config.github_api_base)
                .inspect_err(|e| tracing::error!(error = %e, "GITHUB_API_BASE_URL is not a URL"))
                .ok(),
            github_token: config.github_token.clone(),
            default_github_owner: config.default_github_owner.clone(),
            allow_private: config.allow_private_targets,
            tz: config.timezone,
            scheduled: Timeouts::SCHEDULED,
            manual: Timeouts::MANUAL,
        }
    }

    /// The same engine as if its outbound clients could not be built (tests of the
    /// fail-closed path: no call may go out through an unfiltered fallback).
    #[doc(hidden)]
    pub fn without_outbound_clients(mut self) -> Self {
        self.webhook_http = None;
        self.github_http = None;
        self
    }

    /// The same engine with other limits (tests use short ones).
    /// The run timeouts `(scheduled, manual)`.
    pub fn timeouts(&self) -> (Timeouts, Timeouts) {
        (self.scheduled, self.manual)
    }

    pub fn with_timeouts(mut self, scheduled: Timeouts, manual: Timeouts) -> Self {
        self.scheduled = scheduled;
        self.manual = manual;
        self
    }

    /// Handles one schedule delivery (api-contract §6.6) with the default time budget.
    pub async fn run_scheduled(&self, input: &ScheduledInput) -> EngineResult<ScheduledOutcome> {
        self.run_delivery(input, None).await
    }

    /// When a run started now must be recorded by: the invocation's `deadline` (the Lambda
    /// context's) less [`STORE_MARGIN`], at most `timeouts.total` from now.
    fn budget_end(&self, timeouts: Timeouts, deadline: Option<Instant>) -> Instant {
        let own = Instant::now() + timeouts.total;
        match deadline {
            Some(d) => own.min(d.checked_sub(STORE_MARGIN).unwrap_or(d)),
            None => own,
        }
    }

    /// Handles one delivery — a schedule's fire time, or a backfilled one (`input.trigger`) —
    /// under the job's run policy (catch-up window, overlap, retries, pause after failures),
    /// finishing by the invocation's `deadline` when known.
    pub async fn run_delivery(
        &self,
        input: &ScheduledInput,
        deadline: Option<Instant>,
    ) -> EngineResult<ScheduledOutcome> {
        if let Some(resume) = &input.resume {
            return self.resume(input, resume, deadline).await;
        }
        let Some(job) = self.store.get_job(&input.job_id).await? else {
            tracing::info!(job_id = %input.job_id, "scheduled run for a missing job: skipped");
            return Ok(ScheduledOutcome::Skipped);
        };
        if !job.is_active {
            return Ok(ScheduledOutcome::Skipped);
        }
        if job.is_expired(today_in(self.tz)) {
            self.pause_expired(&job).await?;
            return Ok(ScheduledOutcome::AutoPaused);
        }
        let Some(claim) = RunClaim::parse(&job.id, &input.scheduled_time) else {
            tracing::error!(scheduled_time = %input.scheduled_time, "delivery without an RFC 3339 fire time: skipped");
            return Ok(ScheduledOutcome::Skipped);
        };
        let trigger = input.trigger.unwrap_or(Trigger::Scheduled);
        let run_id = uuid::Uuid::new_v4().to_string();
        let budget_end = self.budget_end(self.scheduled, deadline);
        let lease = match self
            .admit(&job, &claim, trigger, &run_id, budget_end)
            .await?
        {
            deliveries::Admission::Run { lease } => lease,
            deliveries::Admission::NotRun(status, reason) => {
                return Ok(
                    match self
                        .record_not_run(&job, &claim, trigger, (status, reason))
                        .await?
                    {
                        Some(e) => ScheduledOutcome::NotRun(Box::new(e)),
                        None => ScheduledOutcome::Duplicate,
                    },
                );
            }
        };
        let plan = job.target().map(|target| RunPlan {
            target,
            metadata: job.metadata.clone(),
            github_token: None,
            deadline: None,
        });
        let ran = self
            .execute(&job, plan, (trigger, &run_id), Some(&claim), budget_end)
            .await;
        if ran.is_err() || matches!(ran, Ok(None)) {
            if let Some(holder) = &lease {
                if let Err(e) = self.store.release_slot(&job.id, Slot::Lease, holder).await {
                    tracing::warn!(job_id = %job.id, error = %e, "lease not released; it expires");
                }
            }
        }
        self.after_delivery(&job, ran?).await
    }

    /// Runs a job now for a user (api-contract §3.5 execute, §6.5); returns the execution.
    pub async fn run_manual(&self, job: &Job, plan: RunPlan) -> EngineResult<Execution> {
        let budget_end = self.budget_end(self.manual, plan.deadline);
        let id = uuid::Uuid::new_v4().to_string();
        let e = self
            .execute(job, Some(plan), (Trigger::Manual, &id), None, budget_end)
            .await?;
        e.ok_or_else(|| StoreError::Dynamo("manual run unexpectedly deduplicated".into()))
    }

    /// The audience of end-date notices (active admins, Slack on or off), read once for a batch
    /// of [`Engine::auto_pause`] calls.
    pub async fn end_date_audience(&self) -> EngineResult<EndDateAudience> {
        Ok(EndDateAudience {
            admins: self.store.active_admin_ids().await?,
            slack_on: self
                .store
                .get_slack_settings()
                .await?
                .is_some_and(|s| s.is_enabled && s.webhook_url.is_some()),
        })
    }

    /// Pauses a job past its end date — whichever path finds it (a scheduled or manual run,
    /// the reconciliation, the weekly maintenance) — and tells its creator and the active
    /// admins ([`end_date_notices`]) in the pause's own transaction; the schedule is removed
    /// (a failed removal is left to the reconciliation) and the in-app notices delivered now.
    /// The notices are sent once per job and end date: when they were already enqueued (an
    /// earlier pause of the same end date, then a reactivation), the job is paused without
    /// them. Returns the tasks enqueued now (empty: paused, nobody told again), or `None`
    /// when this call did not pause it (extended, paused or deleted meanwhile: nobody to tell).
    pub async fn auto_pause(
        &self,
        job: &Job,
        today: chrono::NaiveDate,
        audience: &EndDateAudience,
        path: PausePath,
    ) -> EngineResult<Option<Vec<OutboxTask>>> {
        let mention = if audience.slack_on && path == PausePath::Maintenance {
            team_mention(&self.store, job).await
        } else {
            String::new()
        };
        let tasks = end_date_notices(audience, job, path, &mention, &self.frontend_base);
        let mut paused = self
            .store
            .pause_if_expired(&job.id, today, now(), &tasks)
            .await?
            .then_some(tasks);
        if paused.is_none()
            && self
                .store
                .get_job(&job.id)
                .await?
                .is_some_and(|j| j.is_active && j.is_expired(today) && j.end_date == job.end_date)
        {
            // Still to pause: the refusal came from the notices' ids, already enqueued once.
            paused = self
                .store
                .pause_if_expired(&job.id, today, now(), &[])
                .await?
                .then(Vec::new);
        }
        let Some(tasks) = paused else {
            return Ok(None);
        };
        if let Err(e) = self.schedules.remove(&job.id).await {
            tracing::warn!(job_id = %job.id, error = %e, "auto-pause: schedule removal failed; reconcile will retry");
        }
        self.deliver_notices(&tasks).await;
        Ok(Some(tasks))
    }

    /// [`Engine::auto_pause`] of one job found by a run (api-contract §6.6 step 2).
    pub async fn pause_expired(&self, job: &Job) -> EngineResult<()> {
        let audience = self.end_date_audience().await?;
        self.auto_pause(job, today_in(self.tz), &audience, PausePath::Run)
            .await?;
        Ok(())
    }

    /// Delivers the in-app notices among `tasks` now; e-mail and Slack are left to the outbox
    /// workers so the caller never waits on them. Failures are logged (the workers retry).
    async fn deliver_notices(&self, tasks: &[OutboxTask]) {
        let ids: Vec<String> = tasks
            .iter()
            .filter(|t| matches!(t.task, Task::Notify { .. }))
            .map(|t| t.id.clone())
            .collect();
        if let Err(e) = self.alerts.deliver(&ids).await {
            tracing::warn!(error = %e, "notices left to the outbox workers");
        }
    }

    /// The tasks a finished run enqueues with its result (api-contract §6.4, policy §9): the
    /// in-app notice to active users; the e-mail to the job's `notification_emails` when it
    /// has `enable_email_notifications` (failures always, successes with `notify_on_success`);
    /// a Slack post for a failure when the Slack settings opt in (`notify_run_failures`).
    async fn run_tasks(
        &self,
        job: &Job,
        exec: &Execution,
        notify_error: Option<String>,
    ) -> Vec<OutboxTask> {
        let failed = exec.status != ExecutionStatus::Success;
        let error = exec.error_message.clone().unwrap_or_default();
        let (title, message, level) = if failed {
            let reason = notify_error.unwrap_or_else(|| error.clone());
            (
                "Job Failed",
                format!("Job \"{}\" failed: {reason}", job.name),
                Level::Error,
            )
        } else {
            (
                "Job Completed",
                format!("Job \"{}\" completed successfully.", job.name),
                Level::Success,
            )
        };
        let mut tasks = vec![OutboxTask::new(
            format!("run-{}-notify", exec.id),
            Task::Notify {
                audience: Audience::ActiveUsers,
                title: title.into(),
                message,
                level,
                related_job_id: Some(job.id.clone()),
                related_execution_id: Some(exec.id.clone()),
            },
        )];
        let emails = job.enable_email_notifications && !job.notification_emails.is_empty();
        if emails && (failed || job.notify_on_success) {
            let (subject, text, html, pref) = if failed {
                let (s, t, h) = failure_email(&job.name, &job.id, &error);
                (s, t, h, EmailPref::JobFailure)
            } else {
                let (s, t, h) =
                    success_email(&job.name, &job.id, exec.duration_seconds.unwrap_or(0.0));
                (s, t, h, EmailPref::JobSuccess)
            };
            tasks.push(OutboxTask::new(
                format!("run-{}-email", exec.id),
                Task::Email {
                    to: EmailTo::Addresses {
                        list: job.notification_emails.clone(),
                    },
                    pref,
                    subject,
                    text,
                    html,
                    execution_id: Some(exec.id.clone()),
                },
            ));
        }
        if failed {
            match self.store.get_slack_settings().await {
                Ok(Some(s)) if s.is_enabled && s.notify_run_failures => {
                    let mention = team_mention(&self.store, job).await;
                    tasks.push(OutboxTask::new(
                        format!("run-{}-slack", exec.id),
                        Task::Slack {
                            text: format!(
                                ":x: {mention}Job failed: <{}|{}>: {}",
                                job_link(&self.frontend_base, &job.id),
                                slack_escape(&job.name),
                                slack_escape(&error)
                            ),
                            execution_id: Some(exec.id.clone()),
                        },
                    ));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "Slack settings unreadable: no Slack post for this run")
                }
            }
        }
        tasks
    }

    /// Marks runs whose in-progress expiry passed ([`IN_PROGRESS_EXPIRY`] after their start,
    /// past every executor and API deadline) as failed with the reason, and enqueues their
    /// alerts in the same transaction. A late completion loses nothing: it finds the row no
    /// longer `running` and is not recorded. Returns how many were failed.
    pub async fn fail_abandoned(&self) -> EngineResult<usize> {
        let now_t = now();
        let cutoff = now_t - chrono::Duration::from_std(IN_PROGRESS_EXPIRY).unwrap_or_default();
        let mut failed = 0;
        for stale in self.store.stale_running(cutoff, 25).await? {
            let (mut e, imported) = match stale {
                Ok(run) => run,
                Err((pk, sk)) => {
                    self.store.drop_running_marker(pk, &sk).await?;
                    continue;
                }
            };
            e.status = ExecutionStatus::Failed;
            e.completed_at = Some(now_t);
            e.duration_seconds =
                Some((now_t - e.started_at).num_microseconds().unwrap_or(0) as f64 / 1e6);
            // A run carried over by an import was left `running` by the system we replaced; its
            // alerts (if any) were that system's to send.
            let tasks = if imported {
                e.error_message = Some(
                    "Run abandoned: it was still running in the system this one replaced when it was imported, and no result was ever recorded".into(),
                );
                Vec::new()
            } else {
                e.error_message = Some(format!(
                    "Run abandoned: no result was recorded within {} s of its start (the executor stopped or timed out)",
                    IN_PROGRESS_EXPIRY.as_secs()
                ));
                match self.store.get_job(&e.job_id).await? {
                    Some(job) => self.run_tasks(&job, &e, None).await,
                    None => Vec::new(),
                }
            };
            if self.store.complete_execution(&e, &tasks).await? {
                failed += 1;
                self.deliver_notices(&tasks).await;
            }
        }
        Ok(failed)
    }

    /// A `running` execution `id` of `job` started `at` (its target, fire time and start
    /// delay).
    fn new_execution(
        &self,
        (id, job): (String, &Job),
        target: Option<&JobTarget>,
        trigger: Trigger,
        claim: Option<&RunClaim>,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Execution {
        let (execution_type, target) = match target {
            Some(JobTarget::GitHub(d)) => (Some(ExecutionType::GithubActions), Some(d.display())),
            Some(JobTarget::Webhook(u)) => (Some(ExecutionType::Webhook), Some(u.to_string())),
            None => (None, None),
        };
        Execution {
            id,
            job_id: job.id.clone(),
            status: ExecutionStatus::Running,
            trigger_type: trigger,
            started_at: at,
            completed_at: None,
            duration_seconds: None,
            execution_type,
            target,
            response_status: None,
            error_message: None,
            output: None,
            scheduled_time: claim.map(|c| c.scheduled_time),
            start_delay_ms: claim.map(|c| (at - c.scheduled_time).num_milliseconds()),
            alerts: Default::default(),
            attempts: Vec::new(),
        }
    }

    /// Records and performs one run (id `run_id`), its attempts under the job's retry policy,
    /// all done by `budget_end` (or parked for a later invocation: [`Engine::park`]). `None`
    /// when the claim was already taken.
    async fn execute(
        &self,
        job: &Job,
        plan: Option<RunPlan>,
        (trigger, run_id): (Trigger, &str),
        claim: Option<&RunClaim>,
        budget_end: Instant,
    ) -> EngineResult<Option<Execution>> {
        let started_at = now();
        let mut exec = self.new_execution(
            (run_id.to_string(), job),
            plan.as_ref().map(|p| &p.target),
            trigger,
            claim,
            started_at,
        );
        let left = chrono::Duration::from_std(budget_end.saturating_duration_since(Instant::now()))
            .unwrap_or_default();
        let abandon_after = started_at + left + chrono::Duration::seconds(60);
        if !self
            .store
            .start_execution(&exec, claim, Some(abandon_after))
            .await?
        {
            tracing::info!(job_id = %job.id, "duplicate delivery: already claimed");
            return Ok(None);
        }
        let attempted = match plan {
            None => Attempted::Done(Outcome::failed(format!(
                "Job '{}' has invalid configuration (neither GitHub Actions nor webhook URL)",
                job.name
            ))),
            Some(plan) => self.attempts(job, &plan, (budget_end, 1), &mut exec).await,
        };
        self.settle(job, exec, attempted).await
    }

    /// Finishes a run after its attempts, or parks it until its next attempt.
    async fn settle(
        &self,
        job: &Job,
        exec: Execution,
        attempted: Attempted,
    ) -> EngineResult<Option<Execution>> {
        match attempted {
            Attempted::Done(result) => self.finish(job, exec, result).await,
            Attempted::Later { attempt, at, last } => {
                self.park(job, exec, (attempt, at), last).await
            }
        }
    }

    /// Records a run's result with its alerts (one transaction), then delivers its in-app
    /// notices.
    async fn finish(
        &self,
        job: &Job,
        mut exec: Execution,
        result: Outcome,
    ) -> EngineResult<Option<Execution>> {
        let completed = now();
        exec.completed_at = Some(completed);
        exec.duration_seconds = Some(
            (completed - exec.started_at)
                .num_microseconds()
                .unwrap_or(0) as f64
                / 1e6,
        );
        exec.status = result.final_status();
        exec.response_status = result.status;
        exec.error_message = result.error.clone();
        exec.output = result.output;
        let tasks = self
            .run_tasks(job, &exec, result.notify_error.or(result.error))
            .await;
        if !self.store.complete_execution(&exec, &tasks).await? {
            tracing::warn!(execution_id = %exec.id, "run finished after it was marked abandoned; result not recorded");
            return Ok(Some(exec));
        }
        // The run happened and is recorded with its tasks: delivering them must not turn it
        // into an error (a retried delivery would find the claim; a retried manual run would
        // run twice). In-app notices go now; e-mail and Slack to the outbox workers.
        self.deliver_notices(&tasks).await;
        Ok(Some(exec))
    }

    /// Parks a scheduled or backfill run whose next attempt's wait does not fit this
    /// invocation: the row stays `running` with its attempts so far and the next attempt's
    /// number (`resume_attempt`), its run-in-flight marker is kept past the wait
    /// (`abandon_after`), its lease too, and — in the same transaction — an outbox task
    /// creates the one-time schedule `rt-<execution id>-<attempt>` at the attempt's time
    /// ([`crate::schedules::retry_schedule`]). The invocation it starts claims that attempt
    /// once ([`Engine::resume`]).
    async fn park(
        &self,
        job: &Job,
        mut exec: Execution,
        (attempt, at): (u32, chrono::DateTime<chrono::Utc>),
        last: Outcome,
    ) -> EngineResult<Option<Execution>> {
        let Some(scheduled_time) = exec.scheduled_time else {
            // Only runs with a fire time are parked; a manual one ends within its request.
            return self.finish(job, exec, last).await;
        };
        let input = ScheduledInput {
            job_id: job.id.clone(),
            scheduled_time: crate::schedules::fmt_fire(&scheduled_time),
            trigger: (exec.trigger_type == Trigger::Backfill).then_some(Trigger::Backfill),
            backfill: None,
            resume: None,
        };
        let resume = crate::schedules::Resume {
            execution_id: exec.id.clone(),
            attempt,
        };
        let Some(schedule) = crate::schedules::retry_schedule(&input, resume, at) else {
            return self.finish(job, exec, last).await;
        };
        exec.response_status = last.status;
        exec.error_message = last
            .error
            .map(|e| format!("{e} (attempt {attempt} at {})", crate::domain::fmt_ts(&at)));
        let task = OutboxTask::new(
            format!("retry-{}-{attempt}", exec.id),
            Task::OneTimeSchedule { schedule },
        );
        let budget = chrono::Duration::from_std(self.scheduled.total).unwrap_or_default();
        let abandon_after = at + budget + chrono::Duration::seconds(120);
        if !self
            .store
            .park_execution(&exec, attempt, abandon_after, &task)
            .await?
        {
            tracing::warn!(execution_id = %exec.id, "run parked after it was marked abandoned");
            return Ok(Some(exec));
        }
        if job.policy.overlap_policy != crate::domain::OverlapPolicy::Allow {
            self.store
                .extend_slot(&job.id, Slot::Lease, &exec.id, abandon_after)
                .await?;
        }
        // The schedule is the maintenance function's to create (the table's stream hands it
        // the task at once): the executor holds neither its own ARN nor the scheduler role.
        tracing::info!(execution_id = %exec.id, attempt, at = %at, "run parked until its next attempt");
        Ok(Some(exec))
    }

    /// Resumes a parked run at attempt `resume.attempt` (a one-time schedule's delivery):
    /// claims that attempt on the row (UpdateItem, condition `resume_attempt = n`), so a
    /// duplicate delivery makes no second attempt; then attempts on, and finishes or parks
    /// again. `Duplicate` when the attempt was claimed or the run ended meanwhile.
    pub async fn resume(
        &self,
        input: &ScheduledInput,
        resume: &crate::schedules::Resume,
        deadline: Option<Instant>,
    ) -> EngineResult<ScheduledOutcome> {
        let Some(job) = self.store.get_job(&input.job_id).await? else {
            return Ok(ScheduledOutcome::Skipped);
        };
        let Some(mut exec) = self.store.get_execution(&resume.execution_id).await? else {
            return Ok(ScheduledOutcome::Duplicate);
        };
        if exec.status.is_finished()
            || exec.job_id != job.id
            || !self.store.claim_attempt(&exec, resume.attempt).await?
        {
            return Ok(ScheduledOutcome::Duplicate);
        }
        let budget_end = self.budget_end(self.scheduled, deadline);
        let attempted = match job.target() {
            None => Attempted::Done(Outcome::failed(format!(
                "Job '{}' has invalid configuration (neither GitHub Actions nor webhook URL)",
                job.name
            ))),
            Some(target) => {
                let plan = RunPlan {
                    target,
                    metadata: job.metadata.clone(),
                    github_token: None,
                    deadline: None,
                };
                self.attempts(&job, &plan, (budget_end, resume.attempt), &mut exec)
                    .await
            }
        };
        let done = self.settle(&job, exec, attempted).await?;
        self.after_delivery(&job, done).await
    }

    /// After a delivery's run: gives the job's lease back and counts the failure streak once
    /// the run is over; a parked run keeps both for its next attempt.
    async fn after_delivery(
        &self,
        job: &Job,
        ran: Option<Execution>,
    ) -> EngineResult<ScheduledOutcome> {
        let Some(e) = ran else {
            return Ok(ScheduledOutcome::Duplicate);
        };
        if !e.status.is_finished() {
            return Ok(ScheduledOutcome::Parked(Box::new(e)));
        }
        if job.policy.overlap_policy != crate::domain::OverlapPolicy::Allow {
            if let Err(err) = self.store.release_slot(&job.id, Slot::Lease, &e.id).await {
                tracing::warn!(job_id = %job.id, error = %err, "lease not released; it expires");
            }
        }
        self.after_run(job, &e).await?;
        Ok(ScheduledOutcome::Ran(Box::new(e)))
    }

    /// The attempts of one run from attempt `first` (issue 23): each bounded by the job's
    /// `timeout_seconds`, the trigger's per-attempt cap and what is left before `budget_end`,
    /// recorded on `exec`; a connect or timeout error, 408, 429 or 5xx is retried after the
    /// policy's backoff (or the answer's `Retry-After`) while attempts remain; any other
    /// answer ends the run. A wait that does not fit the budget parks a scheduled or backfill
    /// run ([`Attempted::Later`]) and ends a manual one (its request cannot wait).
    async fn attempts(
        &self,
        job: &Job,
        plan: &RunPlan,
        (budget_end, first): (Instant, u32),
        exec: &mut Execution,
    ) -> Attempted {
        let retry = job.policy.retry_policy;
        let trigger = exec.trigger_type;
        let per_call = match trigger {
            Trigger::Manual => self.manual.per_call,
            Trigger::Scheduled | Trigger::Backfill => self.scheduled.per_call,
        };
        let mut n = first.max(1) - 1;
        loop {
            n += 1;
            let left = budget_end.saturating_duration_since(Instant::now());
            let t = job.policy.attempt_timeout().min(per_call).min(left);
            let at = now();
            let mut result = if t < Duration::from_millis(100) {
                Outcome::timed_out("No time was left for the call".into())
            } else {
                // The calls carry `t` themselves (their own "timed out" text); this bound is
                // the backstop for whatever is not one call (GitHub's fallbacks, the body).
                let work = self.call(job, plan, trigger, t, exec);
                match tokio::time::timeout(t + ATTEMPT_GRACE, work).await {
                    Ok(o) => o,
                    Err(_) => Outcome::timed_out(format!(
                        "Run exceeded {:.1} s and was abandoned",
                        t.as_secs_f64()
                    )),
                }
            };
            exec.attempts.push(Attempt {
                started_at: at,
                status: result.final_status(),
                response_status: result.status,
                error: result.error.clone(),
            });
            if result.success || !result.retryable || n >= retry.maximum_attempts {
                return Attempted::Done(result);
            }
            let wait = retry.delay_after(n, result.retry_after);
            let next_timeout = job.policy.attempt_timeout().min(per_call);
            if Instant::now() + wait + next_timeout.min(Duration::from_secs(1)) > budget_end {
                if trigger != Trigger::Manual && exec.scheduled_time.is_some() {
                    return Attempted::Later {
                        attempt: n + 1,
                        at: now() + chrono::Duration::from_std(wait).unwrap_or_default(),
                        last: result,
                    };
                }
                if let Some(e) = &mut result.error {
                    e.push_str(&format!(
                        " (attempt {} of {} not made: the wait of {} s would not leave time for it)",
                        n + 1,
                        retry.maximum_attempts,
                        wait.as_secs()
                    ));
                }
                return Attempted::Done(result);
            }
            tracing::info!(job_id = %job.id, attempt = n, wait_s = wait.as_secs_f64(), "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    async fn call(
        &self,
        job: &Job,
        plan: &RunPlan,
        trigger: Trigger,
        t: Duration,
        exec: &mut Execution,
    ) -> Outcome {
        match &plan.target {
            JobTarget::Webhook(url) => self.call_webhook(url, &plan.metadata, trigger, t).await,
            JobTarget::GitHub(d) => {
                // The platform's token only reaches owners on the allowlist (a caller's own
                // token of a manual run is theirs to aim).
                if plan.github_token.is_none() {
                    if let Some(refused) = self.fence_github(&d.owner).await {
                        return Outcome::failed(refused);
                    }
                }
                let token = plan.github_token.as_ref().or(self.github_token.as_ref());
                let Some(token) = token else {
                    return Outcome::failed(format!(
                        "GitHub token not configured. Cannot trigger workflow for job '{}'",
                        job.name
                    ));
                };
                self.call_github(d, &plan.metadata, token, trigger, t, exec)
                    .await
            }
        }
    }

    /// Why the platform's GitHub token may not reach `owner` (not on the allowlist, or the
    /// allowlist unreadable: fail closed), or `None` when it may.
    async fn fence_github(&self, owner: &str) -> Option<String> {
        match self
            .store
            .github_owner_allowed(owner, &self.default_github_owner)
            .await
        {
            Ok(true) => None,
            Ok(false) => Some(format!(
                "GitHub owner \"{owner}\" is not on this platform's allowlist: no call was made"
            )),
            Err(e) => Some(format!(
                "GitHub owner allowlist unreadable ({e}): no call was made"
            )),
        }
    }

    async fn call_webhook(
        &self,
        url: &url::Url,
        metadata: &Map<String, Value>,
        trigger: Trigger,
        t: Duration,
    ) -> Outcome {
        let transport_prefix = match trigger {
            Trigger::Manual => "Request failed",
            Trigger::Scheduled | Trigger::Backfill => "Webhook call failed",
        };
        if let Err(reason) = safe_http::check_literal_host(url, self.allow_private) {
            return Outcome::refused(transport_prefix, reason);
        }
        let Some(http) = &self.webhook_http else {
            return Outcome::refused(transport_prefix, "outbound client unavailable".into());
        };
        let req = if metadata.is_empty() {
            http.get(url.clone())
        } else {
            http.post(url.clone()).json(metadata)
        };
        match req.timeout(t).send().await {
            Ok(resp) => {
                let code = resp.status().as_u16();
                let retry_after = retry_after(&resp);
                let (text, cut) = read_text(resp).await;
                if let Some((reason, timed_out)) = cut {
                    // Headers, then nothing until the timeout: not a completed response.
                    Outcome {
                        status: Some(code),
                        notify_error: Some(reason.clone()),
                        output: Some(text),
                        timed_out,
                        ..Outcome::retryable(format!(
                            "Webhook response did not complete (status {code}): {reason}"
                        ))
                    }
                } else if (200..300).contains(&code) {
                    Outcome::answered(code, text)
                } else {
                    Outcome {
                        retry_after,
                        ..Outcome::refusal(code, format!("Webhook returned status {code}"), text)
                    }
                }
            }
            Err(e) => Outcome::transport(transport_prefix, &e),
        }
    }

    async fn call_github(
        &self,
        d: &Dispatch,
        metadata: &Map<String, Value>,
        token: &Secret,
        trigger: Trigger,
        t: Duration,
        exec: &mut Execution,
    ) -> Outcome {
        let git_ref = metadata
            .get("branchDetails")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or("master")
            .to_string();
        let body = test_run::DispatchBody {
            git_ref: &git_ref,
            inputs: Some(metadata),
        };
        let mut candidates = vec![d.workflow.clone()];
        if !d.workflow.contains('.') && !d.workflow.chars().all(|c| c.is_ascii_digit()) {
            candidates.push(format!("{}.yml", d.workflow));
            candidates.push(format!("{}.yaml", d.workflow));
        }
        let accept = match trigger {
            Trigger::Manual => "application/vnd.github+json",
            Trigger::Scheduled | Trigger::Backfill => "application/vnd.github.v3+json",
        };
        let mut last: Option<(u16, String, Option<Duration>)> = None;
        for workflow in candidates {
            let Some(url) = self
                .github_base
                .as_ref()
                .and_then(|b| d.dispatch_url(b, &workflow))
            else {
                return Outcome::failed(format!(
                    "Invalid GitHub workflow \"{workflow}\": not a single path segment"
                ));
            };
            let Some(http) = &self.github_http else {
                return Outcome::failed("GitHub client unavailable".into());
            };
            let sent = http
                .post(url)
                .bearer_auth(token.expose())
                .header("Accept", accept)
                .header("X-GitHub-Api-Version", "2022-11-28")
                .json(&body)
                .timeout(t)
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    let prefix = match trigger {
                        Trigger::Manual => "Request failed",
                        Trigger::Scheduled | Trigger::Backfill => "GitHub Actions request failed",
                    };
                    return Outcome::transport(prefix, &e);
                }
            };
            let code = resp.status().as_u16();
            let after = retry_after(&resp);
            // A dispatch is accepted by its status; a body cut short only shortens the text.
            let (text, _) = read_text(resp).await;
            exec.target = Some(format!("{}/{}/{}", d.owner, d.repo, workflow));
            if code == 204 {
                return Outcome::answered(
                    204,
                    format!("Workflow triggered successfully on branch {git_ref}"),
                );
            }
            last = Some((code, text, after));
            if code != 404 {
                break;
            }
        }
        let (code, text, retry_after) = last.unwrap_or((0, String::new(), None));
        Outcome {
            retry_after,
            ..Outcome::refusal(
                code,
                format!("GitHub Actions dispatch failed. Status: {code}, Response: {text}"),
                text,
            )
        }
    }
}

/// The answer's `Retry-After` ([`RetryPolicy::parse_retry_after`]: seconds or an HTTP-date).
fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let value = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    RetryPolicy::parse_retry_after(value, std::time::SystemTime::now())
}

/// What the attempts of a run came to.
enum Attempted {
    /// The run is over: its last attempt's outcome.
    Done(Outcome),
    /// The next attempt's wait does not fit this invocation: park the run until `at`.
    Later {
        attempt: u32,
        at: chrono::DateTime<chrono::Utc>,
        last: Outcome,
    },
}

struct Outcome {
    success: bool,
    status: Option<u16>,
    error: Option<String>,
    /// The failure text for the notification when it differs from `error`.
    notify_error: Option<String>,
    output: Option<String>,
    /// The attempt ran out of time (connect, answer or body).
    timed_out: bool,
    /// Another attempt may succeed: connect or timeout errors, 408, 429, 5xx.
    retryable: bool,
    /// The answer's `Retry-After`, if any.
    retry_after: Option<Duration>,
}

impl Outcome {
    /// A failure that no retry can mend (configuration, allowlist, token).
    fn failed(error: String) -> Self {
        Self {
            success: false,
            status: None,
            error: Some(error),
            notify_error: None,
            output: None,
            timed_out: false,
            retryable: false,
            retry_after: None,
        }
    }
    /// A failure another attempt may mend.
    fn retryable(error: String) -> Self {
        Self {
            retryable: true,
            ..Self::failed(error)
        }
    }
    /// The attempt's time ran out.
    fn timed_out(error: String) -> Self {
        Self {
            timed_out: true,
            ..Self::retryable(error)
        }
    }
    /// A 2xx answer.
    fn answered(code: u16, output: String) -> Self {
        Self {
            success: true,
            status: Some(code),
            error: None,
            output: Some(output),
            ..Self::failed(String::new())
        }
    }
    /// A non-2xx answer: retryable when 408, 429 or 5xx.
    fn refusal(code: u16, error: String, output: String) -> Self {
        Self {
            status: Some(code),
            output: Some(output),
            retryable: code == 408 || code == 429 || code >= 500,
            ..Self::failed(error)
        }
    }
    /// A call refused before it went out (the destination's address): not retried.
    fn refused(prefix: &str, reason: String) -> Self {
        Self {
            notify_error: Some(reason.clone()),
            ..Self::failed(format!("{prefix}: {reason}"))
        }
    }
    /// A transport error (connect, TLS, timeout): retried.
    fn transport(prefix: &str, e: &reqwest::Error) -> Self {
        let reason = safe_http::describe(e);
        Self {
            notify_error: Some(reason.clone()),
            timed_out: e.is_timeout(),
            ..Self::retryable(format!("{prefix}: {reason}"))
        }
    }
    /// The status this outcome records: success, timed_out or failed.
    fn final_status(&self) -> ExecutionStatus {
        if self.success {
            ExecutionStatus::Success
        } else if self.timed_out {
            ExecutionStatus::TimedOut
        } else {
            ExecutionStatus::Failed
        }
    }
}

/// Reads at most [`READ_LIMIT`] bytes and keeps the first [`OUTPUT_CHARS`] characters, with
/// why the body ended early, if it did: the call's timeout covers the body too, so a server
/// that sends its headers and then stalls ends here with "timed out".
async fn read_text(mut resp: reqwest::Response) -> (String, Option<(String, bool)>) {
    let mut buf = Vec::new();
    let mut cut = None;
    while buf.len() < READ_LIMIT {
        match resp.chunk().await {
            Ok(Some(c)) => buf.extend_from_slice(&c),
            Ok(None) => break,
            Err(e) => {
                cut = Some((safe_http::describe(&e), e.is_timeout()));
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&buf)
        .chars()
        .take(OUTPUT_CHARS)
        .collect();
    (text, cut)
}

#[cfg(test)]
#[path = "engine_test.rs"]
mod tests;
