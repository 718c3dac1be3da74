//! EventBridge Scheduler sync: the only code that knows schedules. One schedule per active,
//! unexpired job, named by the job id, in the configured group. The table is the source of
//! truth; [`Schedules::sync`] makes the schedule agree with a job as stored.
//!
//! Each schedule has: `ScheduleExpression` from [`CronExpr::to_eventbridge`],
//! `ScheduleExpressionTimezone` = the job's zone (`timezone`, issue 23; EventBridge applies
//! DST its way: a local time skipped by a spring-forward does not fire, a repeated one fires
//! once), `EndDate` = the end of the job's `end_date` in the scheduler zone,
//! `FlexibleTimeWindow` OFF or FLEXIBLE with the job's `flexible_window_minutes`, and a target
//! (the executor, invoked with the scheduler role) whose `Input` is [`schedule_input`] and
//! whose retry policy drops deliveries older than the job's `catchup_window_seconds`.

use crate::{
    config::Config,
    domain::{CronExpr, Job},
};
use aws_sdk_scheduler::{
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
    types::{FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, ScheduleState, Target},
    Client,
};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Attempts of one Scheduler call answered `ThrottlingException`, beyond the SDK's own
/// retries (which `AWS_MAX_ATTEMPTS` may have turned off).
pub const THROTTLE_ATTEMPTS: u32 = 10;

/// Runs `call` again while Scheduler throttles it (`ThrottlingException`: above the account's
/// per-API request rate for the rest of that second), with full-jitter exponential backoff
/// from 50 ms, capped at 2 s, at most [`THROTTLE_ATTEMPTS`] times in all (at most about 9 s of waiting).
/// Any other answer is returned as is.
pub async fn on_throttle<T, E, R, F, Fut>(mut call: F) -> Result<T, SdkError<E, R>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, R>>>,
    E: ProvideErrorMetadata,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Err(e)
                if e.code() == Some("ThrottlingException") && attempt + 1 < THROTTLE_ATTEMPTS =>
            {
                let cap_ms = (50u64 << attempt).min(2_000);
                let wait = rand::random::<u64>() % (cap_ms + 1);
                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The placeholder EventBridge Scheduler replaces with the fire time (RFC 3339 UTC).
pub const SCHEDULED_TIME_PLACEHOLDER: &str = "<aws.scheduler.scheduled-time>";

/// A schedule call failed; the caller records the job for repair.
#[derive(Debug, thiserror::Error)]
#[error("scheduler: {0}")]
pub struct ScheduleError(pub String);

impl<E, R> From<SdkError<E, R>> for ScheduleError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn from(e: SdkError<E, R>) -> Self {
        ScheduleError(DisplayErrorContext(&e).to_string())
    }
}

/// What the executor receives from a schedule: `{"job_id": "...", "scheduled_time": "..."}`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScheduledInput {
    pub job_id: String,
    pub scheduled_time: String,
    /// `backfill` for a fire time replayed by `POST /jobs/{id}/backfill` (absent: a
    /// schedule's own delivery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<crate::domain::Trigger>,
    /// A backfill's fire times, oldest first (RFC 3339 UTC; `scheduled_time` is the first):
    /// the executor runs them in order ([`crate::engine::Engine::run_backfill`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<Vec<String>>,
    /// A parked run's next attempt (a retry whose wait did not fit its invocation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Resume>,
}

/// Prefix of the one-time schedules that carry a backfill (never a job id, so the
/// reconciliation leaves them to finish and delete themselves).
pub const BACKFILL_PREFIX: &str = "bf-";
/// Prefix of the one-time schedules that carry a run's next attempt.
pub const RETRY_PREFIX: &str = "rt-";

/// Where a parked run resumes: its execution and the attempt to make
/// ([`crate::engine::Engine::run_delivery`]).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Resume {
    pub execution_id: String,
    /// 1-based; the attempts before it are on the execution.
    pub attempt: u32,
}

/// A one-time schedule to create (`at` UTC, whole seconds): a backfill or a retry that did
/// not fit its invocation.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OneTime {
    pub name: String,
    #[serde(with = "crate::domain::ts")]
    pub at: DateTime<Utc>,
    /// The executor's input (a [`ScheduledInput`] as JSON).
    pub input: String,
    pub description: String,
}

/// The one-time schedule of a backfill of `times` (oldest first) of job `job_id`, a minute
/// from now, named `bf-<UUID v5 of the job id and the times>` (the same backfill asked twice
/// is one schedule). `None` when there is nothing to run.
pub fn backfill_schedule(job_id: &str, times: &[DateTime<Utc>]) -> Option<OneTime> {
    let first = times.first()?;
    let texts: Vec<String> = times.iter().map(fmt_fire).collect();
    let key = format!("{job_id}|{}", texts.join(","));
    let input = serde_json::to_string(&ScheduledInput {
        job_id: job_id.to_string(),
        scheduled_time: fmt_fire(first),
        trigger: Some(crate::domain::Trigger::Backfill),
        backfill: Some(texts),
        resume: None,
    })
    .ok()?;
    Some(OneTime {
        name: format!(
            "{BACKFILL_PREFIX}{}",
            uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, key.as_bytes())
        ),
        at: whole_seconds(Utc::now() + chrono::Duration::minutes(1)),
        input,
        description: format!("Backfill of job {job_id}"),
    })
}

/// The one-time schedule that resumes run `input` (its fire time and trigger) at attempt
/// `resume.attempt`, at `at`: named `rt-<execution id>-<attempt>`, so one attempt is one
/// schedule however often it is queued.
pub fn retry_schedule(
    input: &ScheduledInput,
    resume: Resume,
    at: DateTime<Utc>,
) -> Option<OneTime> {
    let name = format!("{RETRY_PREFIX}{}-{}", resume.execution_id, resume.attempt);
    let description = format!("Next attempt of a run of job {}", input.job_id);
    let input = serde_json::to_string(&ScheduledInput {
        resume: Some(resume),
        backfill: None,
        ..input.clone()
    })
    .ok()?;
    Some(OneTime {
        name,
        at: whole_seconds(at),
        input,
        description,
    })
}

/// `t` rounded up to the next whole second (an `at()` expression has no fraction).
fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    let up = if t.timestamp_subsec_nanos() > 0 { 1 } else { 0 };
    DateTime::from_timestamp(t.timestamp() + up, 0).unwrap_or(t)
}

/// The `Input` stored on a job's schedule.
pub fn schedule_input(job_id: &str) -> String {
    serde_json::to_string(&ScheduledInput {
        job_id: job_id.to_string(),
        scheduled_time: SCHEDULED_TIME_PLACEHOLDER.to_string(),
        trigger: None,
        backfill: None,
        resume: None,
    })
    .unwrap_or_default()
}

/// `EndDate` for an inclusive end date: the first instant of the following day in `tz`
/// ([`crate::domain::job::end_instant`]).
/// A fire time as EventBridge delivers it: `YYYY-MM-DDTHH:MM:SSZ`.
pub fn fmt_fire(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn schedule_end(end_date: NaiveDate, tz: Tz) -> Option<DateTime<Utc>> {
    crate::domain::job::end_instant(end_date, tz)
}

/// A schedule as read back (for the local trigger and reconciliation).
#[derive(Clone, Debug)]
pub struct StoredSchedule {
    pub name: String,
    pub expression: String,
    pub timezone: String,
    pub input: String,
    pub enabled: bool,
    pub end_date: Option<DateTime<Utc>>,
    pub target_arn: String,
    /// `FlexibleTimeWindow.MaximumWindowInMinutes` (0 when OFF).
    pub flexible_minutes: u32,
    /// The target's `RetryPolicy.MaximumEventAgeInSeconds`, if set.
    pub max_event_age: Option<u32>,
}

/// Scheduler client plus the settings every schedule shares. Built once per Lambda.
#[derive(Clone, Debug)]
pub struct Schedules {
    client: Client,
    group: String,
    target_arn: String,
    role_arn: String,
    dlq_arn: Option<String>,
    tz: Tz,
}

impl Schedules {
    /// From an SDK client and the configuration (group, executor ARN, role ARN, zone).
    pub fn new(client: Client, config: &Config) -> Self {
        Self {
            client,
            group: config.schedule_group.clone(),
            target_arn: config.executor_arn.clone(),
            role_arn: config.scheduler_role_arn.clone(),
            dlq_arn: config.schedule_dlq_arn.clone(),
            tz: config.timezone,
        }
    }

    /// The group name.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// Creates the schedule group if missing (Get before Create: moto wipes a group on a
    /// second Create).
    pub async fn ensure_group(&self) -> Result<(), ScheduleError> {
        match self
            .client
            .get_schedule_group()
            .name(&self.group)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => {
                self.client
                    .create_schedule_group()
                    .name(&self.group)
                    .send()
                    .await?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Makes the job's schedule match the job: present and current when the job is active and
    /// not past `end_date` (`today` in the scheduler zone), absent otherwise.
    pub async fn sync(&self, job: &Job, today: NaiveDate) -> Result<(), ScheduleError> {
        if job.should_be_scheduled(today) {
            self.upsert(job).await
        } else {
            self.remove(&job.id).await
        }
    }

    fn target(&self, job: &Job) -> Result<Target, ScheduleError> {
        // Deliveries older than the job's catch-up window are dropped (the executor records
        // a later one as `missed`); duplicates are absorbed by run claims.
        self.target_with(
            schedule_input(&job.id),
            job.policy.catchup_window_seconds as i32,
        )
    }

    /// The executor as a target with `input`: invoked with the scheduler role, 2 retries,
    /// events older than `max_age` seconds dropped, and deliveries that still fail (throttled
    /// or unreachable executor) kept in the dead-letter queue instead of dropped silently.
    fn target_with(&self, input: String, max_age: i32) -> Result<Target, ScheduleError> {
        Target::builder()
            .arn(&self.target_arn)
            .role_arn(&self.role_arn)
            .input(input)
            .retry_policy(
                RetryPolicy::builder()
                    .maximum_retry_attempts(2)
                    .maximum_event_age_in_seconds(max_age)
                    .build(),
            )
            .set_dead_letter_config(self.dlq_arn.as_ref().map(|arn| {
                aws_sdk_scheduler::types::DeadLetterConfig::builder()
                    .arn(arn)
                    .build()
            }))
            .build()
            .map_err(|e| ScheduleError(e.to_string()))
    }

    pub async fn upsert(&self, job: &Job) -> Result<(), ScheduleError> {
        let minutes = job.policy.flexible_window_minutes;
        let window = if minutes == 0 {
            FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Off)
        } else {
            FlexibleTimeWindow::builder()
                .mode(FlexibleTimeWindowMode::Flexible)
                .maximum_window_in_minutes(minutes as i32)
        }
        .build()
        .map_err(|e| ScheduleError(e.to_string()))?;
        let end = job
            .end_date
            .and_then(|d| schedule_end(d, self.tz))
            .map(|t| aws_smithy_types::DateTime::from_secs(t.timestamp()));
        let description: String = job.name.chars().take(500).collect();
        let target = self.target(job)?;
        // Create and Update take the same fields (Update replaces all of them): one list.
        macro_rules! with_fields {
            ($request:expr) => {
                $request
                    .name(&job.id)
                    .group_name(&self.group)
                    .schedule_expression(job.cron.to_eventbridge())
                    .schedule_expression_timezone(job.policy.timezone.name())
                    .set_end_date(end)
                    .description(&description)
                    .state(ScheduleState::Enabled)
                    .flexible_time_window(window.clone())
                    .target(target.clone())
            };
        }
        match on_throttle(|| with_fields!(self.client.create_schedule()).send()).await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConflictException") => {
                on_throttle(|| with_fields!(self.client.update_schedule()).send()).await?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Whether a stored schedule is exactly what [`Schedules::upsert`] would write for `job`.
    /// Queues a backfill of `job`'s fire times `times` (oldest first, at most 100)
    /// ([`backfill_schedule`]). `Ok(false)` when that schedule is already there.
    pub async fn queue_backfill(
        &self,
        job: &Job,
        times: &[DateTime<Utc>],
    ) -> Result<bool, ScheduleError> {
        match backfill_schedule(&job.id, times) {
            Some(one) => self.create_one_time(&one).await,
            None => Ok(false),
        }
    }

    /// Creates a one-time schedule: `at(…)` in UTC, deleting itself after it fires
    /// (`ActionAfterCompletion: DELETE`), invoking the executor with `one.input`. `Ok(false)`
    /// when a schedule of that name exists (the same backfill or retry asked twice).
    pub async fn create_one_time(&self, one: &OneTime) -> Result<bool, ScheduleError> {
        let at = one.at.format("at(%Y-%m-%dT%H:%M:%S)").to_string();
        let target = self.target_with(one.input.clone(), 3600)?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| ScheduleError(e.to_string()))?;
        match on_throttle(|| {
            self.client
                .create_schedule()
                .name(&one.name)
                .group_name(&self.group)
                .schedule_expression(&at)
                .schedule_expression_timezone("UTC")
                .description(&one.description)
                .state(ScheduleState::Enabled)
                .action_after_completion(aws_sdk_scheduler::types::ActionAfterCompletion::Delete)
                .flexible_time_window(window.clone())
                .target(target.clone())
                .send()
        })
        .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConflictException") => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub fn matches(&self, job: &Job, stored: &StoredSchedule) -> bool {
        let end = job
            .end_date
            .and_then(|d| schedule_end(d, self.tz))
            .map(|t| t.timestamp());
        stored.enabled
            && stored.expression == job.cron.to_eventbridge()
            && stored.timezone == job.policy.timezone.name()
            && stored.flexible_minutes == job.policy.flexible_window_minutes
            && stored
                .max_event_age
                .is_none_or(|age| age == job.policy.catchup_window_seconds)
            && stored.end_date.map(|t| t.timestamp()) == end
            && stored.input == schedule_input(&job.id)
            && stored.target_arn == self.target_arn
    }

    /// Deletes the job's schedule; a missing schedule is fine.
    pub async fn remove(&self, job_id: &str) -> Result<(), ScheduleError> {
        match on_throttle(|| {
            self.client
                .delete_schedule()
                .name(job_id)
                .group_name(&self.group)
                .send()
        })
        .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Names of the jobs' schedules in the group (one per job, named by its id; the
    /// one-time backfill and retry schedules are left out: they are no job's schedule).
    pub async fn list_names(&self) -> Result<Vec<String>, ScheduleError> {
        let mut names = self.list_all_names().await?;
        names.retain(|n| !n.starts_with(BACKFILL_PREFIX) && !n.starts_with(RETRY_PREFIX));
        Ok(names)
    }

    /// Names of every schedule in the group, backfills included.
    pub async fn list_all_names(&self) -> Result<Vec<String>, ScheduleError> {
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let out = on_throttle(|| {
                self.client
                    .list_schedules()
                    .group_name(&self.group)
                    .set_next_token(token.clone())
                    .send()
            })
            .await?;
            names.extend(
                out.schedules()
                    .iter()
                    .filter_map(|s| s.name().map(str::to_string)),
            );
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(names);
            }
        }
    }

    /// Reads one schedule; `None` when it does not exist.
    pub async fn get(&self, name: &str) -> Result<Option<StoredSchedule>, ScheduleError> {
        match on_throttle(|| {
            self.client
                .get_schedule()
                .name(name)
                .group_name(&self.group)
                .send()
        })
        .await
        {
            Ok(out) => Ok(Some(StoredSchedule {
                name: name.to_string(),
                expression: out.schedule_expression().unwrap_or_default().to_string(),
                timezone: out
                    .schedule_expression_timezone()
                    .unwrap_or("UTC")
                    .to_string(),
                input: out
                    .target()
                    .and_then(|t| t.input())
                    .unwrap_or_default()
                    .to_string(),
                enabled: out.state() != Some(&ScheduleState::Disabled),
                end_date: out
                    .end_date()
                    .and_then(|d| DateTime::from_timestamp(d.secs(), 0)),
                target_arn: out
                    .target()
                    .map(|t| t.arn().to_string())
                    .unwrap_or_default(),
                flexible_minutes: out
                    .flexible_time_window()
                    .filter(|w| w.mode() == &FlexibleTimeWindowMode::Flexible)
                    .and_then(|w| w.maximum_window_in_minutes())
                    .unwrap_or(0)
                    .max(0) as u32,
                max_event_age: out
                    .target()
                    .and_then(|t| t.retry_policy())
                    .and_then(|r| r.maximum_event_age_in_seconds())
                    .map(|a| a.max(0) as u32),
            })),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

impl StoredSchedule {
    /// The parsed expression, or why it cannot be read.
    pub fn cron(&self) -> Result<CronExpr, crate::domain::CronError> {
        CronExpr::parse_eventbridge(&self.expression)
    }
}

#[cfg(test)]
#[path = "schedules_test.rs"]
mod tests;

/// Repairs one job's schedule after a write left the job `SYNC_PENDING` with `token`: syncs it
/// with the job as stored (removes it when the job is gone, and again when a delete lands
/// during the call), then clears the mark (only if it is still `token`). A failed schedule
/// call is the inner error: the mark stays for the next repair. Used by the sweep and by the
/// bulk upload's schedule task.
pub async fn repair(
    store: &crate::store::Store,
    schedules: &Schedules,
    id: &str,
    token: &str,
    today: NaiveDate,
) -> Result<Result<(), ScheduleError>, crate::store::StoreError> {
    let synced = match store.get_job(id).await? {
        Some(job) => schedules.sync(&job, today).await,
        // Deleted (or being deleted): no schedule may remain.
        None => schedules.remove(id).await,
    };
    // A delete may have removed the job meanwhile: then no schedule may stay behind.
    let synced = match synced {
        Ok(()) if store.get_job(id).await?.is_none() => schedules.remove(id).await,
        other => other,
    };
    if synced.is_ok() {
        store.clear_sync_pending(id, token).await?;
    }
    Ok(synced)
}
