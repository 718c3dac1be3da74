//! Job use cases (api-contract §3.4-§3.6): validate everything, then write, then keep the
//! schedule in step. Each function takes the parsed request and returns the response body.

use super::taxonomy::resolve_and_validate;
use crate::{
    error::{ApiError, ApiResult},
    plumbing::{body_bool, body_str, AppState, CurrentUser},
};
use chrono::{Duration, NaiveDate, Utc};
use http::StatusCode;
use serde_json::{json, Map, Value};
use shared::services::schedule_after_write;
use shared::store::outbox::{Audience, OutboxTask, Task};
use shared::{
    domain::{
        cron::CronExpr,
        draft::{self, JobDraft, JobOrigin, TargetField},
        now, parse_dispatch_url,
        target::parse_webhook_url,
        today_in, Dispatch, EmailAddress, Job, JobTarget, Level,
    },
    engine::RunPlan,
    store::{JobVersion, StoreError, TaxonKind},
};

const MSG_SCHEME: &str =
    "target_url must include scheme (http:// or https://). For GitHub dispatch, use \
github_owner/github_repo/github_workflow_name or provide owner/repo/workflow.";

fn cron_error(e: shared::domain::CronError) -> ApiError {
    ApiError::bad_request("Invalid cron expression", e.0)
}

/// The job name: required, trimmed, at most [`draft::MAX_NAME_CHARS`].
fn job_name(body: &Map<String, Value>) -> ApiResult<String> {
    Ok(draft::job_name(body_str(body, "name")?.as_deref())?)
}

/// An optional URL override, bounded.
fn bounded_url(body: &Map<String, Value>, key: &str) -> ApiResult<Option<String>> {
    Ok(draft::bounded_url(key, body_str(body, key)?.as_deref())?)
}

/// An optional GitHub field, bounded.
fn github_field(body: &Map<String, Value>, key: &str) -> ApiResult<Option<String>> {
    Ok(draft::github_part(key, body_str(body, key)?.as_deref())?)
}

fn parse_emails(v: Option<&Value>) -> ApiResult<Vec<String>> {
    let invalid = |m: String| ApiError::bad_request("Invalid notification_emails", m);
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) if items.len() > draft::MAX_EMAILS => Err(invalid(format!(
            "notification_emails may list at most {} addresses",
            draft::MAX_EMAILS
        ))),
        Some(Value::Array(items)) => {
            let mut out: Vec<String> = Vec::new();
            for item in items {
                let s = item.as_str().ok_or_else(|| {
                    invalid("notification_emails must be a list of e-mail addresses".into())
                })?;
                if s.trim().is_empty() {
                    continue;
                }
                let e = EmailAddress::parse(s)
                    .ok_or_else(|| invalid(format!("Invalid e-mail address: {}", s.trim())))?;
                if !out.iter().any(|x| x.eq_ignore_ascii_case(e.as_str())) {
                    out.push(e.as_str().to_string());
                }
            }
            Ok(out)
        }
        Some(_) => Err(invalid("notification_emails must be a list".into())),
    }
}

/// End date checks shared by create and update: format, required, not in the past.
fn parse_end(v: &Value, today: NaiveDate, required: (&'static str, &str)) -> ApiResult<NaiveDate> {
    let text = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(draft::EndDateError::Format.field_error(required).into()),
    };
    draft::end_date(Some(&text), today).map_err(|e| e.field_error(required).into())
}

/// Applies the `target_url` rules (shorthand → GitHub fields; otherwise an http(s) URL).
fn apply_target_url(raw: Option<String>, job: &mut JobDraft, scheme_msg: &str) -> ApiResult<()> {
    job.target_url = None;
    match raw
        .as_deref()
        .map(|t| draft::target_url(t, scheme_msg))
        .transpose()?
    {
        None => {}
        Some(TargetField::GitHub(d)) => {
            job.github_owner = Some(d.owner);
            job.github_repo = Some(d.repo);
            job.github_workflow_name = Some(d.workflow);
        }
        Some(TargetField::Webhook(url)) => job.target_url = Some(url.to_string()),
    }
    Ok(())
}

/// POST /jobs (api-contract §3.5): 201 `{"message","job"}`.
pub async fn create(
    state: &AppState,
    user: &CurrentUser,
    body: Map<String, Value>,
) -> ApiResult<(StatusCode, Value)> {
    let missing: Vec<&str> = ["name", "cron_expression", "end_date"]
        .into_iter()
        .filter(|k| !body.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::bad_request(
            "Missing required fields",
            format!("Missing required fields: {}", missing.join(", ")),
        )
        .with("missing_fields", json!(missing)));
    }
    let name = job_name(&body)?;
    if state.store.job_name_taken(&name).await? {
        return Err(duplicate_name(&name, true));
    }
    let cron = CronExpr::parse(&body_str(&body, "cron_expression")?.unwrap_or_default())
        .map_err(cron_error)?;
    let today = today_in(state.config.timezone);
    let mut job = JobDraft {
        name,
        cron,
        target_url: None,
        github_owner: github_field(&body, "github_owner")?,
        github_repo: github_field(&body, "github_repo")?,
        github_workflow_name: github_field(&body, "github_workflow_name")?,
        metadata: Map::new(),
        category: "general".into(),
        end_date: None,
        pic_team: None,
        enable_email_notifications: false,
        notification_emails: Vec::new(),
        notify_on_success: false,
    };
    apply_target_url(body_str(&body, "target_url")?, &mut job, MSG_SCHEME)?;
    job.category = resolve_and_validate(
        state,
        TaxonKind::Category,
        body_str(&body, "category")?.as_deref(),
    )
    .await?;
    job.metadata = draft::metadata(body.get("metadata"))?;
    job.enable_email_notifications = body_bool(
        body.get("enable_email_notifications")
            .unwrap_or(&Value::Null),
        "enable_email_notifications",
    )?;
    if job.enable_email_notifications {
        job.notification_emails = parse_emails(body.get("notification_emails"))?;
        job.notify_on_success = body_bool(
            body.get("notify_on_success").unwrap_or(&Value::Null),
            "notify_on_success",
        )?;
    }
    job.end_date = Some(parse_end(
        body.get("end_date").unwrap_or(&Value::Null),
        today,
        (
            "Missing required fields",
            "\"end_date\" is required (YYYY-MM-DD).",
        ),
    )?);
    let team_raw = match body_str(&body, "pic_team")? {
        Some(v) => Some(v),
        None => body_str(&body, "pic_team_slug")?,
    };
    job.pic_team = Some(resolve_and_validate(state, TaxonKind::Team, team_raw.as_deref()).await?);
    complete_github_owner(state, &mut job);
    if job.target_url.is_none() && job.target().is_none() {
        return Err(ApiError::bad_request(
            "Missing target configuration",
            "Please provide either \"target_url\" or GitHub Actions configuration (github_owner, github_repo, github_workflow_name)",
        ));
    }
    if let Some(JobTarget::GitHub(d)) = job.target() {
        super::settings::require_github_owner(state, &d.owner).await?;
    }
    let job = job
        .checked()?
        .into_job(JobOrigin::new(Some(user.0.id.clone()), now()));

    let token = uuid::Uuid::new_v4().to_string();
    let notice = job_notice(
        &job.id,
        &token,
        "New Job Created",
        format!("Job \"{}\" was created by {}.", job.name, user.actor()),
        Level::Info,
        true,
    );
    match state
        .store
        .create_job(
            &job,
            &token,
            std::slice::from_ref(&notice),
            Some(&user.audit("create", "job", &job.id, None, Some(job.to_json()))),
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict) => return Err(duplicate_name(&job.name, true)),
        Err(e) => return Err(e.into()),
    }
    let synced = schedule_after_write(state, &job, &token).await;
    deliver_now(state, &notice).await;
    let mut out = json!({"message": "Job created successfully", "job": job.to_json()});
    if !synced {
        out["schedule_sync"] = json!("pending");
    }
    Ok((StatusCode::CREATED, out))
}

/// Fills `github_owner` from `DEFAULT_GITHUB_OWNER` when only repo and workflow are set.
fn complete_github_owner(state: &AppState, job: &mut JobDraft) {
    if job.target_url.is_none()
        && job.github_owner.is_none()
        && job.github_repo.is_some()
        && job.github_workflow_name.is_some()
    {
        job.github_owner = Some(state.config.default_github_owner.clone());
    }
}

fn duplicate_name(name: &str, create: bool) -> ApiError {
    let suffix = if create {
        " Please use a unique name."
    } else {
        ""
    };
    ApiError::bad_request(
        "Duplicate job name",
        format!("A job with the name \"{name}\" already exists.{suffix}"),
    )
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
pub(crate) async fn deliver_now(state: &AppState, task: &OutboxTask) {
    if let Err(e) = state.alerts.deliver(std::slice::from_ref(&task.id)).await {
        tracing::warn!(task_id = %task.id, error = %e, "notice left to the outbox workers");
    }
}

/// The job or 404 `Job not found`.
pub async fn load(state: &AppState, id: &str) -> ApiResult<Job> {
    state
        .store
        .get_job(id)
        .await?
        .ok_or_else(|| ApiError::job_not_found(id))
}

fn require_owner(user: &CurrentUser, job: &Job, verb: &str) -> ApiResult<()> {
    if user.is_admin() || job.created_by.as_deref() == Some(user.0.id.as_str()) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "Insufficient permissions",
            format!("You can only {verb} your own jobs"),
        ))
    }
}

/// Step 1-2 of PUT/DELETE/execute: 404, then ownership 403.
pub async fn load_owned(
    state: &AppState,
    user: &CurrentUser,
    id: &str,
    verb: &str,
) -> ApiResult<Job> {
    let job = load(state, id).await?;
    require_owner(user, &job, verb)?;
    Ok(job)
}

/// The fields of a `PUT /jobs/{id}` body applied to the job's draft and `is_active` in the
/// contract's order (§3.5 steps 4-15), each checked as it is read. Returns the new
/// `is_active` when the body toggles it.
async fn apply_patch(
    state: &AppState,
    previous: &Job,
    (job, is_active): (&mut JobDraft, &mut bool),
    body: &Map<String, Value>,
    today: chrono::NaiveDate,
) -> ApiResult<Option<bool>> {
    if body.contains_key("name") {
        let name = job_name(body)?;
        if shared::domain::name::name_key(&name) != shared::domain::name::name_key(&previous.name)
            && state.store.job_name_taken(&name).await?
        {
            return Err(duplicate_name(&name, false));
        }
        job.name = name;
    }
    if body.contains_key("cron_expression") {
        job.cron = CronExpr::parse(&body_str(body, "cron_expression")?.unwrap_or_default())
            .map_err(cron_error)?;
    }
    if body.contains_key("target_url") {
        apply_target_url(
            body_str(body, "target_url")?,
            job,
            "target_url must include scheme (http:// or https://).",
        )?;
    }
    for (key, slot) in [
        ("github_owner", &mut job.github_owner),
        ("github_repo", &mut job.github_repo),
        ("github_workflow_name", &mut job.github_workflow_name),
    ] {
        if body.contains_key(key) {
            *slot = github_field(body, key)?;
        }
    }
    complete_github_owner(state, job);
    if body.contains_key("metadata") {
        job.metadata = draft::metadata(body.get("metadata"))?;
    }
    if body.contains_key("category") {
        job.category = resolve_and_validate(
            state,
            TaxonKind::Category,
            body_str(body, "category")?.as_deref(),
        )
        .await?;
    }
    if let Some(v) = body.get("end_date") {
        job.end_date = Some(parse_end(
            v,
            today,
            ("Invalid end_date", "end_date is required (YYYY-MM-DD)."),
        )?);
    }
    if body.contains_key("pic_team") || body.contains_key("pic_team_slug") {
        let raw = match body_str(body, "pic_team")? {
            Some(v) => Some(v),
            None => body_str(body, "pic_team_slug")?,
        };
        job.pic_team = Some(resolve_and_validate(state, TaxonKind::Team, raw.as_deref()).await?);
    }
    if let Some(v) = body.get("enable_email_notifications") {
        job.enable_email_notifications = body_bool(v, "enable_email_notifications")?;
    }
    if body.contains_key("notification_emails") {
        job.notification_emails = parse_emails(body.get("notification_emails"))?;
    }
    if let Some(v) = body.get("notify_on_success") {
        job.notify_on_success = body_bool(v, "notify_on_success")?;
    }
    if !job.enable_email_notifications {
        job.notification_emails.clear();
        job.notify_on_success = false;
    }
    Ok(match body.get("is_active") {
        Some(v) => {
            *is_active = body_bool(v, "is_active")?;
            (*is_active != previous.is_active).then_some(*is_active)
        }
        None => None,
    })
}

/// PUT /jobs/{id} after the 404/403 and JSON checks (api-contract §3.5): 200 `{"message","job"}`.
pub async fn update(
    state: &AppState,
    user: &CurrentUser,
    previous: Job,
    body: Map<String, Value>,
) -> ApiResult<Value> {
    let today = today_in(state.config.timezone);
    let mut draft = JobDraft::of(&previous);
    let mut is_active = previous.is_active;
    let toggled = apply_patch(state, &previous, (&mut draft, &mut is_active), &body, today).await?;
    if is_active && draft.end_date.is_some_and(|d| d < today) {
        return Err(ApiError::bad_request(
            "Job expired",
            "Job cannot be enabled after end_date has passed. Update end_date first.",
        ));
    }
    if draft.target_url.is_none() && draft.target().is_none() {
        return Err(ApiError::bad_request(
            "Missing target configuration",
            "Job must have either target_url or complete GitHub Actions configuration",
        ));
    }
    // A new GitHub owner must be on the allowlist (a job whose owner was removed since can
    // still be paused, renamed or edited otherwise).
    if let Some(JobTarget::GitHub(d)) = draft.target() {
        if previous.github_owner.as_deref() != Some(d.owner.as_str()) {
            super::settings::require_github_owner(state, &d.owner).await?;
        }
    }
    let job = draft.checked()?.into_job(JobOrigin {
        is_active,
        updated_at: now().max(previous.updated_at + Duration::microseconds(1)),
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
        format!("Job \"{}\" was {verb} by {}.", job.name, user.actor()),
        kind,
        true,
    );
    match state
        .store
        .update_job(
            &previous,
            &job,
            &token,
            std::slice::from_ref(&notice),
            Some(&user.audit(
                "update",
                "job",
                &job.id,
                Some(previous.to_json()),
                Some(job.to_json()),
            )),
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict) => {
            if shared::domain::name::name_key(&job.name)
                != shared::domain::name::name_key(&previous.name)
                && state.store.job_name_taken(&job.name).await?
            {
                return Err(duplicate_name(&job.name, false));
            }
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "Conflict",
                "The job was changed by another request. Reload it and try again.",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let synced = schedule_after_write(state, &job, &token).await;
    deliver_now(state, &notice).await;
    let mut out = json!({"message": "Job updated successfully", "job": job.to_json()});
    if !synced {
        out["schedule_sync"] = json!("pending");
    }
    Ok(out)
}

/// DELETE /jobs/{id} after 404/403: schedule first (so a scheduler outage fails cleanly with
/// nothing deleted), then the job and its name claim; its history is hidden at once and purged
/// asynchronously (`Store::delete_job`), so the answer does not wait for any history size.
pub async fn delete(state: &AppState, user: &CurrentUser, job: Job) -> ApiResult<Value> {
    let token = uuid::Uuid::new_v4().to_string();
    state
        .store
        .mark_sync_pending(&job.id, &token)
        .await
        .map_err(|e| match e {
            StoreError::Conflict => ApiError::job_not_found(&job.id),
            e => e.into(),
        })?;
    if let Err(e) = state.schedules.remove(&job.id).await {
        tracing::error!(job_id = %job.id, error = %e, "schedule removal failed; job kept");
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Scheduler unavailable",
            "The job's schedule could not be removed, so the job was not deleted. Try again shortly.",
        ));
    }
    let notice = job_notice(
        &job.id,
        &token,
        "Job Deleted",
        format!("Job \"{}\" was deleted by {}.", job.name, user.actor()),
        Level::Warning,
        false,
    );
    state
        .store
        .delete_job(
            &job,
            std::slice::from_ref(&notice),
            Some(&user.audit("delete", "job", &job.id, Some(job.to_json()), None)),
        )
        .await?;
    deliver_now(state, &notice).await;
    Ok(
        json!({"message": "Job deleted successfully", "deleted_job": {"id": job.id, "name": job.name}}),
    )
}

/// GET /jobs: every job, newest first, with `last_execution_at` and `next_execution_at`,
/// for `caller` (a verified access token's subject: 401 when that user is missing or
/// deactivated, before anything else is answered).
///
/// Served from this process's [`shared::job_list::JobListCache`]. First one BatchGetItem
/// ([`shared::store::Store::job_list_snapshot`]: the caller, the list change mark, the cached
/// jobs' last runs); while the cache is trusted for the mark that is all. Otherwise (also
/// beside the snapshot when no trust is left) the list index is read projected to each job's
/// version (one Query), the stale or missing jobs re-read (one BatchGetItem; the whole list
/// in one Query when the cache is empty or more than [`shared::job_list::FULL_RELOAD_AT`] are
/// stale), and the last runs of jobs not cached before (one BatchGetItem). Returns the
/// response document as JSON text.
pub async fn list(
    state: &AppState,
    caller: &str,
    session: &shared::store::SessionClaims,
) -> ApiResult<String> {
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
    if stale.len() > shared::job_list::FULL_RELOAD_AT {
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

/// GET /jobs/{id}: `{"job": ...}` or 404.
pub async fn get(state: &AppState, id: &str) -> ApiResult<Value> {
    let mut job = [load(state, id).await?];
    state.store.with_last_runs(&mut job).await?;
    Ok(json!({"job": job[0].to_read_json(state.config.timezone, Utc::now())}))
}

fn expression_of(body: &Map<String, Value>) -> ApiResult<String> {
    Ok(match body_str(body, "expression")? {
        Some(e) => e,
        None => body_str(body, "cron_expression")?.unwrap_or_default(),
    })
}

/// POST /jobs/validate-cron: always 200 `{"valid":...}`.
pub fn validate_cron(body: &Map<String, Value>) -> ApiResult<Value> {
    Ok(match CronExpr::parse(&expression_of(body)?) {
        Ok(_) => json!({"valid": true, "message": "Valid cron expression"}),
        Err(e) => json!({"valid": false, "error": "Invalid cron expression", "message": e.0}),
    })
}

/// POST /jobs/cron-preview: `{"timezone","next_runs","count"}`; `count` defaults to 5 and is
/// clamped to 0..=20.
pub fn cron_preview(state: &AppState, body: &Map<String, Value>) -> ApiResult<Value> {
    let bad_count = || ApiError::bad_request("Invalid payload", "\"count\" must be an integer.");
    let count: i64 = match body.get("count") {
        None | Some(Value::Null) => 5,
        Some(Value::Number(n)) => n.as_f64().map(|f| f.trunc() as i64).ok_or_else(bad_count)?,
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .map(|f| f.trunc() as i64)
            .map_err(|_| bad_count())?,
        Some(_) => return Err(bad_count()),
    };
    let count = if count == 0 {
        5
    } else {
        count.clamp(0, 20) as usize
    };
    let cron = CronExpr::parse(&expression_of(body)?).map_err(cron_error)?;
    let tz = state.config.timezone;
    let runs: Vec<String> = cron
        .upcoming(Utc::now(), tz, count)
        .iter()
        .map(|t| t.to_rfc3339())
        .collect();
    Ok(json!({"timezone": tz.name(), "next_runs": runs, "count": runs.len()}))
}

/// How long after a request arrives a manual run must be recorded: API Gateway gives up at
/// 30 s, so the run's calls end early enough for the store writes and the answer.
pub const MANUAL_RUN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(25);

/// POST /jobs/{id}/execute after 404/403 and the expiry check (api-contract §3.5 steps 4-9);
/// an empty body arrives as an empty map. `received` is when the request arrived: the run is
/// bounded by what is left of [`MANUAL_RUN_DEADLINE`].
pub async fn execute(
    state: &AppState,
    job: Job,
    body: Map<String, Value>,
    received: std::time::Instant,
) -> ApiResult<Value> {
    let metadata = match body.get("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => {
            draft::metadata_size(m, "Invalid payload")?;
            Some(m.clone())
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "Invalid payload",
                "\"metadata\" must be a JSON object.",
            ))
        }
    };
    let invalid = |m: String| ApiError::bad_request("Invalid payload", m);
    let target = if let Some(stored_url) = &job.target_url {
        let url = bounded_url(&body, "target_url")?.unwrap_or_else(|| stored_url.clone());
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
        }
    } else {
        let (mut owner, mut repo, mut workflow) = (
            job.github_owner.clone(),
            job.github_repo.clone(),
            job.github_workflow_name.clone(),
        );
        if let Some(url) = bounded_url(&body, "dispatch_url")? {
            let d = parse_dispatch_url(&url).map_err(invalid)?;
            (owner, repo, workflow) = (Some(d.owner), Some(d.repo), Some(d.workflow));
        }
        for (key, slot, stored) in [
            ("github_owner", &mut owner, &job.github_owner),
            ("github_repo", &mut repo, &job.github_repo),
            (
                "github_workflow_name",
                &mut workflow,
                &job.github_workflow_name,
            ),
        ] {
            if body.contains_key(key) {
                *slot = github_field(&body, key)?.or_else(|| stored.clone());
            }
        }
        let d = Dispatch::from_parts(owner.as_deref(), repo.as_deref(), workflow.as_deref())
            .ok_or_else(no_target)?;
        JobTarget::GitHub(d)
    };
    let github_token = match (&target, body_str(&body, "github_token")?) {
        (JobTarget::GitHub(_), Some(t)) => Some(shared::config::Secret::new(t)),
        _ => None,
    };
    if let (JobTarget::GitHub(d), None) = (&target, &github_token) {
        super::settings::require_github_owner(state, &d.owner).await?;
    }
    let plan = RunPlan {
        target,
        metadata: metadata.unwrap_or_else(|| job.metadata.clone()),
        github_token,
        deadline: Some(received + MANUAL_RUN_DEADLINE),
    };
    let exec = state.engine.run_manual(&job, plan).await?;
    Ok(json!({
        "message": "Job triggered successfully",
        "job_id": job.id,
        "execution_id": exec.id,
        "status": exec.status,
    }))
}

/// POST /jobs/test-run (after the gate and JSON checks): one outbound call, nothing stored.
/// `target_url` wins over GitHub fields; `timeout_seconds` (default 10) is clamped to 1..=20
/// so the answer stays inside API Gateway's 30 s.
pub async fn test_run(
    state: &AppState,
    user: &CurrentUser,
    body: &Map<String, Value>,
) -> ApiResult<Value> {
    let target_url = bounded_url(body, "target_url")?;
    let owner = github_field(body, "github_owner")?;
    let repo = github_field(body, "github_repo")?;
    let workflow = github_field(body, "github_workflow_name")?;
    let metadata = match body.get("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => {
            draft::metadata_size(m, "Invalid metadata")?;
            m.clone()
        }
        Some(v) if is_falsy(v) => Map::new(),
        Some(_) => {
            return Err(ApiError::bad_request(
                "Invalid metadata",
                "\"metadata\" must be an object.",
            ))
        }
    };
    let dispatch = Dispatch::from_parts(owner.as_deref(), repo.as_deref(), workflow.as_deref());
    let missing = || {
        ApiError::bad_request(
            "Missing target configuration",
            "Provide target_url or GitHub config (github_owner, github_repo, github_workflow_name).",
        )
    };
    if target_url.is_none() && dispatch.is_none() {
        return Err(missing());
    }
    let bad_timeout =
        || ApiError::bad_request("Invalid payload", "\"timeout_seconds\" must be a number.");
    let timeout = match body.get("timeout_seconds") {
        None | Some(Value::Null) => 10.0,
        Some(Value::Number(n)) => n.as_f64().ok_or_else(bad_timeout)?,
        Some(Value::String(s)) if s.trim().is_empty() => 10.0,
        Some(Value::String(s)) => s.trim().parse::<f64>().map_err(|_| bad_timeout())?,
        Some(_) => return Err(bad_timeout()),
    };
    let timeout = if timeout.is_finite() && timeout != 0.0 {
        timeout.clamp(1.0, 20.0)
    } else {
        10.0
    };
    let target = match (target_url, dispatch) {
        (Some(url), _) => JobTarget::Webhook(parse_webhook_url(&url).ok_or_else(|| {
            ApiError::bad_request(
                "Invalid target_url",
                "Webhook URL must start with http:// or https://",
            )
        })?),
        (None, Some(d)) => {
            super::settings::require_github_owner(state, &d.owner).await?;
            JobTarget::GitHub(d)
        }
        (None, None) => return Err(missing()),
    };
    // Recorded before the call (which stores nothing else): who aimed what where.
    let aimed = match &target {
        JobTarget::GitHub(d) => d.display(),
        JobTarget::Webhook(u) => u.to_string(),
    };
    state
        .store
        .put_audit(&user.audit(
            "test_run",
            "test_run",
            &aimed,
            None,
            Some(Value::Object(body.clone())),
        ))
        .await?;
    let out = state
        .engine
        .test_run(
            &target,
            &metadata,
            std::time::Duration::from_secs_f64(timeout),
        )
        .await;
    Ok(out.to_json())
}

fn is_falsy(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Object(m) => m.is_empty(),
        Value::Bool(true) => false,
    }
}

fn no_target() -> ApiError {
    ApiError::bad_request(
        "Missing target configuration",
        "Job has no valid target configuration to execute.",
    )
}

/// The caller checks of a job list snapshot: 401 as every authenticated request
/// (`User not found`, `User account is deactivated`, `Token has been revoked`).
fn caller_checks(snap: &shared::store::ListSnapshot) -> ApiResult<()> {
    crate::plumbing::require_active(snap.caller_active, |active| *active)?;
    if !snap.caller_session_ok {
        return Err(ApiError::unauthorized("Token has been revoked"));
    }
    Ok(())
}

/// The expired-job check of execute (step 3): pause, unschedule, 400. The pause tells the
/// creator and the admins once per end date, as every path that pauses does (the reference
/// told nobody here; a silent pause would leave no path to tell them later).
pub async fn refuse_if_expired(state: &AppState, job: &Job) -> ApiResult<()> {
    let today = today_in(state.config.timezone);
    if !job.is_expired(today) {
        return Ok(());
    }
    if job.is_active {
        state.engine.pause_expired(job).await?;
    }
    Err(ApiError::bad_request(
        "Job expired",
        "This job has passed its end_date and was auto-paused.",
    ))
}

#[cfg(test)]
#[path = "jobs_test.rs"]
mod tests;
