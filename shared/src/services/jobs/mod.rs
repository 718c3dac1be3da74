//! Job use cases (api-contract §3.4-§3.6): validate everything in the contract's order, then
//! write, then keep the schedule in step. Inputs are read once ([`JobBody`],
//! [`ExecuteOverrides`], [`TestRunRequest`]); results are bodies (`Serialize`); refusals are
//! a [`JobError`], mapped to status codes by the HTTP adapter. `GET /jobs` answers JSON text
//! rendered from the process's list cache.

mod backfill;
mod fields;
mod tools;

pub use backfill::{backfill, fire_times, Backfilled, MAX_FIRE_TIMES};
pub use tools::{cron_preview, test_run, validate_cron, CronCheck, CronPreview, TestRunRequest};

use super::{
    executions::JobRef, schedule_after_write, settings::require_github_owner,
    settings::SettingsError, taxonomy::resolve_and_validate, taxonomy::ResolveError, Caller,
};
use crate::{
    config::Secret,
    domain::{
        body::{ExecuteOverrides, JobBody},
        draft::{self, FieldError, JobDraft, JobOrigin},
        now, parse_dispatch_url,
        target::parse_webhook_url,
        today_in, CronError, CronExpr, Dispatch, ExecutionStatus, Job, JobTarget, Level, RunPolicy,
    },
    engine::RunPlan,
    state::AppState,
    store::{
        outbox::{Audience, OutboxTask, Task},
        JobVersion, StoreError, TaxonKind,
    },
};
use chrono::{Duration, Utc};
use fields::{apply_target_url, complete_github_owner, parse_emails, parse_end};
use serde::Serialize;
use serde_json::{Map, Value};

/// Why a job use case refused or failed (each variant's status is the adapter's).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A field breaks a rule: 400 with the contract's `error` and `message`.
    #[error("{}", .0.message)]
    Invalid(FieldError),
    /// `name`, `cron_expression` or `end_date` absent from a create (400, `missing_fields`).
    #[error("Missing required fields: {}", .0.join(", "))]
    MissingFields(Vec<&'static str>),
    /// The name is taken (400 `Duplicate job name`; a create adds "Please use a unique name.").
    #[error("A job with the name \"{name}\" already exists.")]
    DuplicateName { name: String, on_create: bool },
    /// No job with this id (404 `Job not found`).
    #[error("No job found with ID: {0}")]
    NotFound(String),
    /// Neither an admin nor the creator (403 `Insufficient permissions`); the verb.
    #[error("You can only {0} your own jobs")]
    NotOwner(&'static str),
    /// Past its end date (400 `Job expired`, with this sentence).
    #[error("{0}")]
    Expired(&'static str),
    /// Nothing to call (400 `Missing target configuration`, with this sentence).
    #[error("{0}")]
    MissingTarget(&'static str),
    /// The schedule could not be removed, so nothing was deleted (503).
    #[error(
        "The job's schedule could not be removed, so the job was not deleted. Try again shortly."
    )]
    SchedulerUnavailable,
    /// The backfill's one-time schedule could not be created: nothing was queued (503).
    #[error("The backfill could not be queued (the scheduler did not answer). Try again shortly.")]
    BackfillUnavailable,
    /// Another request changed the job meanwhile (409).
    #[error("The job was changed by another request. Reload it and try again.")]
    Conflict,
    /// The GitHub owner is not on the allowlist.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The caller of `GET /jobs` is gone, deactivated or signed out (401 with this detail;
    /// the list checks its caller in its own first read).
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The table could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<FieldError> for JobError {
    fn from(e: FieldError) -> Self {
        JobError::Invalid(e)
    }
}

impl From<ResolveError> for JobError {
    fn from(e: ResolveError) -> Self {
        match e {
            ResolveError::Refused(f) => JobError::Invalid(f),
            ResolveError::Store(e) => JobError::Store(e),
        }
    }
}

impl From<CronError> for JobError {
    fn from(e: CronError) -> Self {
        JobError::Invalid(FieldError::new("Invalid cron expression", e.0))
    }
}

type Result<T> = std::result::Result<T, JobError>;

/// `{"message","job","schedule_sync"?}` after a create or update (`schedule_sync: "pending"`
/// when the schedule call failed and the job awaits repair).
#[derive(Debug, Serialize)]
pub struct JobWritten {
    pub message: &'static str,
    pub job: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_sync: Option<&'static str>,
}

/// `{"message","deleted_job":{"id","name"}}`.
#[derive(Debug, Serialize)]
pub struct JobDeleted {
    pub message: &'static str,
    pub deleted_job: JobRef,
}

/// `{"job"}` in the read shape.
#[derive(Debug, Serialize)]
pub struct JobRead {
    pub job: Value,
}

/// `{"message","job_id","execution_id","status"}` after a manual run.
#[derive(Debug, Serialize)]
pub struct Triggered {
    pub message: &'static str,
    pub job_id: String,
    pub execution_id: String,
    pub status: ExecutionStatus,
}

const MSG_SCHEME: &str =
    "target_url must include scheme (http:// or https://). For GitHub dispatch, use \
github_owner/github_repo/github_workflow_name or provide owner/repo/workflow.";

/// The job or [`JobError::NotFound`].
pub async fn load(state: &AppState, id: &str) -> Result<Job> {
    state
        .store
        .get_job(id)
        .await?
        .ok_or_else(|| JobError::NotFound(id.to_string()))
}

/// Steps 1-2 of PUT/DELETE/execute: not found, then ownership (`verb`: update, delete,
/// execute).
pub async fn load_owned(
    state: &AppState,
    caller: Caller<'_>,
    id: &str,
    verb: &'static str,
) -> Result<Job> {
    let job = load(state, id).await?;
    if caller.is_admin() || job.created_by.as_deref() == Some(caller.user.id.as_str()) {
        Ok(job)
    } else {
        Err(JobError::NotOwner(verb))
    }
}

/// GET /jobs: every job, newest first, with `last_execution_at` and `next_execution_at`,
/// for `caller` (a verified access token's subject: 401 when that user is missing or
/// deactivated, before anything else is answered).
///
/// Served from this process's [`crate::job_list::JobListCache`]. First one BatchGetItem
/// ([`crate::store::Store::job_list_snapshot`]: the caller, the list change mark, the cached
/// jobs' last runs); while the cache is trusted for the mark that is all. Otherwise (also
/// beside the snapshot when no trust is left) the list index is read projected to each job's
/// version (one Query), the stale or missing jobs re-read (one BatchGetItem; the whole list
/// in one Query when the cache is empty or more than [`crate::job_list::FULL_RELOAD_AT`] are
/// stale), and the last runs of jobs not cached before (one BatchGetItem). Returns the
/// response document as JSON text.
pub async fn list(
    state: &AppState,
    caller: &str,
    session: &crate::store::SessionClaims,
) -> Result<String> {
    let cache = &state.job_list;
    let (tz, now) = (state.config.timezone, Utc::now());
    let cached = cache.listed_ids();
    let cached: Vec<&str> = cached.iter().map(String::as_str).collect();
    let snapshot = state.store.job_list_snapshot(caller, session, &cached);
    let check = (!cache.trusted_now()).then(|| cache.begin_check());
    let (snapshot, index) = if cache.is_empty() {
        // Cold: the whole list beside the snapshot.
        let (snap, jobs) = futures::future::join(snapshot, state.store.list_jobs()).await;
        let snap = snap?;
        caller_checks(&snap)?;
        let jobs = jobs?;
        cache.put(&jobs);
        (
            snap,
            Some(jobs.iter().map(JobVersion::of).collect::<Vec<_>>()),
        )
    } else if check.is_some() {
        let (snap, listed) = futures::future::join(snapshot, state.store.list_job_versions()).await;
        let snap = snap?;
        caller_checks(&snap)?;
        (snap, Some(listed?))
    } else {
        let snap = snapshot.await?;
        caller_checks(&snap)?;
        if let Some(body) = cache.render_trusted(snap.mark, &snap.last_runs, tz, now) {
            return Ok(body);
        }
        (snap, None)
    };
    let check = check.unwrap_or_else(|| cache.begin_check());
    let listed = match index {
        Some(listed) => listed,
        None => state.store.list_job_versions().await?,
    };
    let stale = cache.stale(&listed);
    if stale.len() > crate::job_list::FULL_RELOAD_AT {
        cache.put(&state.store.list_jobs().await?);
    } else if !stale.is_empty() {
        cache.put(&state.store.get_jobs(&stale).await?);
    }
    cache.retain(&listed);
    let mut last_runs = snapshot.last_runs;
    let known: std::collections::HashSet<&str> = cached.iter().copied().collect();
    let new: Vec<&str> = listed
        .iter()
        .map(|v| v.id.as_str())
        .filter(|id| !known.contains(id))
        .collect();
    if !new.is_empty() {
        last_runs.extend(state.store.last_runs(&new).await?);
    }
    cache.applied(check, &listed, snapshot.mark, now);
    Ok(cache.render(&listed, &last_runs, tz, now))
}

/// The caller checks of a job list snapshot: 401 as every authenticated request
/// (`User not found`, `User account is deactivated`, `Token has been revoked`).
fn caller_checks(snap: &crate::store::ListSnapshot) -> Result<()> {
    match snap.caller_active {
        None => Err(JobError::Unauthorized("User not found")),
        Some(false) => Err(JobError::Unauthorized("User account is deactivated")),
        Some(true) if !snap.caller_session_ok => {
            Err(JobError::Unauthorized("Token has been revoked"))
        }
        Some(true) => Ok(()),
    }
}

/// GET /jobs/{id}: the job in the read shape (with its last and next run).
pub async fn get(state: &AppState, id: &str) -> Result<JobRead> {
    let mut job = [load(state, id).await?];
    state.store.with_last_runs(&mut job).await?;
    Ok(JobRead {
        job: job[0].to_read_json(state.config.timezone, Utc::now()),
    })
}

/// The in-app notice of a job write (api-contract §7.5) as an outbox task, enqueued in the
/// write's own transaction: it is delivered even when the request is cut off after the write
/// (by the maintenance function's stream trigger or sweep, or the local delivery loop).
fn job_notice(
    job_id: &str,
    write_token: &str,
    title: &str,
    message: String,
    level: Level,
    link_job: bool,
) -> OutboxTask {
    OutboxTask::new(
        format!("job-{job_id}-{write_token}-notify"),
        Task::Notify {
            audience: Audience::ActiveUsers,
            title: title.into(),
            message,
            level,
            related_job_id: link_job.then(|| job_id.to_string()),
            related_execution_id: None,
        },
    )
}

/// Delivers a write's notice right away (the usual path); a failure is logged and left to
/// the outbox workers, never returned (the write already succeeded).
pub async fn deliver_now(state: &AppState, task: &OutboxTask) {
    if let Err(e) = state.alerts.deliver(std::slice::from_ref(&task.id)).await {
        tracing::warn!(task_id = %task.id, error = %e, "notice left to the outbox workers");
    }
}

/// POST /jobs (api-contract §3.5 steps 2-17): the checks in the contract's order, then one
/// transaction (job, name claim, notice, audit entry), then the schedule.
pub async fn create(state: &AppState, caller: Caller<'_>, body: JobBody) -> Result<JobWritten> {
    let missing: Vec<&'static str> = [
        ("name", body.name.is_some()),
        ("cron_expression", body.cron_expression.is_some()),
        ("end_date", body.end_date.is_some()),
    ]
    .into_iter()
    .filter(|(_, present)| !present)
    .map(|(k, _)| k)
    .collect();
    if !missing.is_empty() {
        return Err(JobError::MissingFields(missing));
    }
    let name = draft::job_name(body.name.clone().flatten().as_deref())?;
    if state.store.job_name_taken(&name).await? {
        return Err(JobError::DuplicateName {
            name,
            on_create: true,
        });
    }
    let cron = CronExpr::parse(&body.cron_expression.clone().flatten().unwrap_or_default())?;
    let today = today_in(state.config.timezone);
    let github = |v: &Option<Option<String>>, key: &str| {
        draft::github_part(key, v.clone().flatten().as_deref())
    };
    let mut job = JobDraft {
        name,
        cron,
        target_url: None,
        github_owner: github(&body.github_owner, "github_owner")?,
        github_repo: github(&body.github_repo, "github_repo")?,
        github_workflow_name: github(&body.github_workflow_name, "github_workflow_name")?,
        metadata: Map::new(),
        category: "general".into(),
        end_date: None,
        pic_team: None,
        enable_email_notifications: false,
        notification_emails: Vec::new(),
        notify_on_success: false,
        policy: RunPolicy::in_zone(state.config.timezone),
    };
    apply_target_url(body.target_url.clone().flatten(), &mut job, MSG_SCHEME)?;
    let category = body.category.clone().flatten();
    job.category = resolve_and_validate(state, TaxonKind::Category, category.as_deref()).await?;
    job.metadata = draft::metadata(body.metadata.as_ref())?;
    job.enable_email_notifications = body.enable_email_notifications.unwrap_or(false);
    if job.enable_email_notifications {
        job.notification_emails = parse_emails(body.notification_emails.as_ref())?;
        job.notify_on_success = body.notify_on_success.unwrap_or(false);
    }
    job.end_date = Some(parse_end(
        body.end_date.as_ref().unwrap_or(&Value::Null),
        today,
        (
            "Missing required fields",
            "\"end_date\" is required (YYYY-MM-DD).",
        ),
    )?);
    let team = body.team().flatten();
    job.pic_team = Some(resolve_and_validate(state, TaxonKind::Team, team.as_deref()).await?);
    job.policy.apply(&body.policy, state.config.timezone)?;
    complete_github_owner(&state.config.default_github_owner, &mut job);
    if job.target_url.is_none() && job.target().is_none() {
        return Err(JobError::MissingTarget(
            "Please provide either \"target_url\" or GitHub Actions configuration (github_owner, github_repo, github_workflow_name)",
        ));
    }
    if let Some(JobTarget::GitHub(d)) = job.target() {
        require_github_owner(state, &d.owner).await?;
    }
    let job = job
        .checked()?
        .into_job(JobOrigin::new(Some(caller.user.id.clone()), now()));

    let token = uuid::Uuid::new_v4().to_string();
    let notice = job_notice(
        &job.id,
        &token,
        "New Job Created",
        format!("Job \"{}\" was created by {}.", job.name, caller.actor()),
        Level::Info,
        true,
    );
    let audit = caller.audit("create", "job", &job.id, None, Some(job.to_json()));
    match state
        .store
        .create_job(&job, &token, std::slice::from_ref(&notice), Some(&audit))
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict) => {
            return Err(JobError::DuplicateName {
                name: job.name,
                on_create: true,
            })
        }
        Err(e) => return Err(e.into()),
    }
    let synced = schedule_after_write(state, &job, &token).await;
    deliver_now(state, &notice).await;
    Ok(JobWritten {
        message: "Job created successfully",
        job: job.to_json(),
        schedule_sync: (!synced).then_some("pending"),
    })
}

/// The fields of a `PUT /jobs/{id}` body applied to the job's draft and `is_active` in the
/// contract's order (§3.5 step 4), each checked as it is read. Returns the new `is_active`
/// when the body toggles it.
async fn apply_patch(
    state: &AppState,
    previous: &Job,
    (job, is_active): (&mut JobDraft, &mut bool),
    body: &JobBody,
    today: chrono::NaiveDate,
) -> Result<Option<bool>> {
    if let Some(raw) = &body.name {
        let name = draft::job_name(raw.as_deref())?;
        if crate::domain::name::name_key(&name) != crate::domain::name::name_key(&previous.name)
            && state.store.job_name_taken(&name).await?
        {
            return Err(JobError::DuplicateName {
                name,
                on_create: false,
            });
        }
        job.name = name;
    }
    if let Some(raw) = &body.cron_expression {
        job.cron = CronExpr::parse(raw.as_deref().unwrap_or_default())?;
    }
    if let Some(raw) = &body.target_url {
        apply_target_url(
            raw.clone(),
            job,
            "target_url must include scheme (http:// or https://).",
        )?;
    }
    for (key, slot, raw) in [
        ("github_owner", &mut job.github_owner, &body.github_owner),
        ("github_repo", &mut job.github_repo, &body.github_repo),
        (
            "github_workflow_name",
            &mut job.github_workflow_name,
            &body.github_workflow_name,
        ),
    ] {
        if let Some(raw) = raw {
            *slot = draft::github_part(key, raw.as_deref())?;
        }
    }
    complete_github_owner(&state.config.default_github_owner, job);
    if let Some(m) = &body.metadata {
        job.metadata = draft::metadata(Some(m))?;
    }
    if let Some(raw) = &body.category {
        job.category = resolve_and_validate(state, TaxonKind::Category, raw.as_deref()).await?;
    }
    if let Some(v) = &body.end_date {
        job.end_date = Some(parse_end(
            v,
            today,
            ("Invalid end_date", "end_date is required (YYYY-MM-DD)."),
        )?);
    }
    if let Some(raw) = body.team() {
        job.pic_team = Some(resolve_and_validate(state, TaxonKind::Team, raw.as_deref()).await?);
    }
    if let Some(v) = body.enable_email_notifications {
        job.enable_email_notifications = v;
    }
    if body.notification_emails.is_some() {
        job.notification_emails = parse_emails(body.notification_emails.as_ref())?;
    }
    if let Some(v) = body.notify_on_success {
        job.notify_on_success = v;
    }
    if !job.enable_email_notifications {
        job.notification_emails.clear();
        job.notify_on_success = false;
    }
    job.policy.apply(&body.policy, state.config.timezone)?;
    Ok(body.is_active.and_then(|v| {
        *is_active = v;
        (v != previous.is_active).then_some(v)
    }))
}

/// The pause record after an update (issue 23): a pause (`is_active` true → false) records
/// the caller, the time and the body's `pause_note`; a paused job's note may be edited by
/// sending `pause_note` again; a resume clears it. A note on an active job is refused.
fn pause_after_update(
    caller: Caller<'_>,
    previous: &Job,
    is_active: bool,
    body: &JobBody,
) -> Result<Option<crate::domain::Pause>> {
    let note = body
        .pause_note
        .as_ref()
        .map(crate::domain::policy::pause_note)
        .transpose()?;
    if is_active {
        if note.flatten().is_some() {
            return Err(JobError::Invalid(FieldError::new(
                "Invalid pause_note",
                "pause_note is accepted only when the job is paused (is_active: false).",
            )));
        }
        return Ok(None);
    }
    Ok(match (&previous.pause, previous.is_active, note) {
        // Still paused, note untouched.
        (p, false, None) => p.clone(),
        // Still paused, note edited.
        (Some(p), false, Some(note)) => Some(crate::domain::Pause { note, ..p.clone() }),
        // Paused now (or paused before pauses were recorded).
        (_, _, note) => Some(crate::domain::Pause {
            note: note.flatten(),
            by: Some(caller.user.id.clone()),
            at: now(),
        }),
    })
}

/// PUT /jobs/{id} after the not-found/owner checks (api-contract §3.5 steps 4-8).
pub async fn update(
    state: &AppState,
    caller: Caller<'_>,
    previous: Job,
    body: JobBody,
) -> Result<JobWritten> {
    let today = today_in(state.config.timezone);
    let mut draft = JobDraft::of(&previous);
    let mut is_active = previous.is_active;
    let toggled = apply_patch(state, &previous, (&mut draft, &mut is_active), &body, today).await?;
    if is_active && draft.end_date.is_some_and(|d| d < today) {
        return Err(JobError::Expired(
            "Job cannot be enabled after end_date has passed. Update end_date first.",
        ));
    }
    if draft.target_url.is_none() && draft.target().is_none() {
        return Err(JobError::MissingTarget(
            "Job must have either target_url or complete GitHub Actions configuration",
        ));
    }
    // A new GitHub owner must be on the allowlist (a job whose owner was removed since can
    // still be paused, renamed or edited otherwise).
    if let Some(JobTarget::GitHub(d)) = draft.target() {
        if previous.github_owner.as_deref() != Some(d.owner.as_str()) {
            require_github_owner(state, &d.owner).await?;
        }
    }
    let pause = pause_after_update(caller, &previous, is_active, &body)?;
    let job = draft.checked()?.into_job(JobOrigin {
        is_active,
        updated_at: now().max(previous.updated_at + Duration::microseconds(1)),
        pause,
        ..JobOrigin::of(&previous)
    });

    let token = uuid::Uuid::new_v4().to_string();
    let (title, verb, kind) = match toggled {
        Some(true) => ("Job Enabled", "enabled", Level::Info),
        Some(false) => ("Job Disabled", "disabled", Level::Warning),
        None => ("Job Updated", "updated", Level::Info),
    };
    let notice = job_notice(
        &job.id,
        &token,
        title,
        format!("Job \"{}\" was {verb} by {}.", job.name, caller.actor()),
        kind,
        true,
    );
    let audit = caller.audit(
        "update",
        "job",
        &job.id,
        Some(previous.to_json()),
        Some(job.to_json()),
    );
    match state
        .store
        .update_job(
            &previous,
            &job,
            &token,
            std::slice::from_ref(&notice),
            Some(&audit),
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict) => {
            if crate::domain::name::name_key(&job.name)
                != crate::domain::name::name_key(&previous.name)
                && state.store.job_name_taken(&job.name).await?
            {
                return Err(JobError::DuplicateName {
                    name: job.name,
                    on_create: false,
                });
            }
            return Err(JobError::Conflict);
        }
        Err(e) => return Err(e.into()),
    }
    let synced = schedule_after_write(state, &job, &token).await;
    deliver_now(state, &notice).await;
    Ok(JobWritten {
        message: "Job updated successfully",
        job: job.to_json(),
        schedule_sync: (!synced).then_some("pending"),
    })
}

/// DELETE /jobs/{id} after not-found/owner: schedule first (so a scheduler outage fails
/// cleanly with nothing deleted), then the job and its name claim; its history is hidden at
/// once and purged asynchronously (`Store::delete_job`), so the answer does not wait for any
/// history size.
pub async fn delete(state: &AppState, caller: Caller<'_>, job: Job) -> Result<JobDeleted> {
    let token = uuid::Uuid::new_v4().to_string();
    state
        .store
        .mark_sync_pending(&job.id, &token)
        .await
        .map_err(|e| match e {
            StoreError::Conflict => JobError::NotFound(job.id.clone()),
            e => e.into(),
        })?;
    if let Err(e) = state.schedules.remove(&job.id).await {
        tracing::error!(job_id = %job.id, error = %e, "schedule removal failed; job kept");
        return Err(JobError::SchedulerUnavailable);
    }
    let notice = job_notice(
        &job.id,
        &token,
        "Job Deleted",
        format!("Job \"{}\" was deleted by {}.", job.name, caller.actor()),
        Level::Warning,
        false,
    );
    let audit = caller.audit("delete", "job", &job.id, Some(job.to_json()), None);
    state
        .store
        .delete_job(&job, std::slice::from_ref(&notice), Some(&audit))
        .await?;
    deliver_now(state, &notice).await;
    Ok(JobDeleted {
        message: "Job deleted successfully",
        deleted_job: JobRef {
            id: job.id,
            name: job.name,
        },
    })
}

/// How long after a request arrives a manual run must be recorded: API Gateway gives up at
/// 30 s, so the run's calls end early enough for the store writes and the answer.
pub const MANUAL_RUN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(25);

/// The expired-job check of execute (step 3): pause, unschedule, refuse. The pause tells the
/// creator and the admins once per end date, as every path that pauses does (the reference
/// told nobody here; a silent pause would leave no path to tell them later).
pub async fn refuse_if_expired(state: &AppState, job: &Job) -> Result<()> {
    let today = today_in(state.config.timezone);
    if !job.is_expired(today) {
        return Ok(());
    }
    if job.is_active {
        state.engine.pause_expired(job).await?;
    }
    Err(JobError::Expired(
        "This job has passed its end_date and was auto-paused.",
    ))
}

/// The target a manual run calls after its overrides (§3.5 step 6).
fn run_target(job: &Job, o: &ExecuteOverrides) -> Result<JobTarget> {
    let invalid = |m: String| JobError::Invalid(FieldError::new("Invalid payload", m));
    if let Some(stored_url) = &job.target_url {
        let url = draft::bounded_url("target_url", o.target_url.as_deref())?
            .unwrap_or_else(|| stored_url.clone());
        return Ok(
            match Dispatch::from_parts(
                job.github_owner.as_deref(),
                job.github_repo.as_deref(),
                job.github_workflow_name.as_deref(),
            ) {
                Some(d) => JobTarget::GitHub(d),
                None => JobTarget::Webhook(
                    parse_webhook_url(&url)
                        .ok_or_else(|| invalid("\"target_url\" must be an http(s) URL.".into()))?,
                ),
            },
        );
    }
    let (mut owner, mut repo, mut workflow) = (
        job.github_owner.clone(),
        job.github_repo.clone(),
        job.github_workflow_name.clone(),
    );
    if let Some(url) = draft::bounded_url("dispatch_url", o.dispatch_url.as_deref())? {
        let d = parse_dispatch_url(&url).map_err(invalid)?;
        (owner, repo, workflow) = (Some(d.owner), Some(d.repo), Some(d.workflow));
    }
    for (key, slot, raw, stored) in [
        (
            "github_owner",
            &mut owner,
            &o.github_owner,
            &job.github_owner,
        ),
        ("github_repo", &mut repo, &o.github_repo, &job.github_repo),
        (
            "github_workflow_name",
            &mut workflow,
            &o.github_workflow_name,
            &job.github_workflow_name,
        ),
    ] {
        if let Some(raw) = raw {
            *slot = draft::github_part(key, raw.as_deref())?.or_else(|| stored.clone());
        }
    }
    let d = Dispatch::from_parts(owner.as_deref(), repo.as_deref(), workflow.as_deref()).ok_or(
        JobError::MissingTarget("Job has no valid target configuration to execute."),
    )?;
    Ok(JobTarget::GitHub(d))
}

/// POST /jobs/{id}/execute after not-found/owner and the expiry check (§3.5 steps 5-9): the
/// run is bounded by what is left of [`MANUAL_RUN_DEADLINE`] since `received`.
pub async fn execute(
    state: &AppState,
    job: Job,
    o: ExecuteOverrides,
    received: std::time::Instant,
) -> Result<Triggered> {
    let metadata = match &o.metadata {
        None => None,
        Some(Value::Object(m)) => {
            draft::metadata_size(m, "Invalid payload")?;
            Some(m.clone())
        }
        Some(_) => {
            return Err(JobError::Invalid(FieldError::new(
                "Invalid payload",
                "\"metadata\" must be a JSON object.",
            )))
        }
    };
    let target = run_target(&job, &o)?;
    let github_token = match (&target, &o.github_token) {
        (JobTarget::GitHub(_), Some(t)) => Some(Secret::new(t.clone())),
        _ => None,
    };
    if let (JobTarget::GitHub(d), None) = (&target, &github_token) {
        require_github_owner(state, &d.owner).await?;
    }
    let plan = RunPlan {
        target,
        metadata: metadata.unwrap_or_else(|| job.metadata.clone()),
        github_token,
        deadline: Some(received + MANUAL_RUN_DEADLINE),
    };
    let exec = state.engine.run_manual(&job, plan).await?;
    Ok(Triggered {
        message: "Job triggered successfully",
        job_id: job.id,
        execution_id: exec.id,
        status: exec.status,
    })
}
