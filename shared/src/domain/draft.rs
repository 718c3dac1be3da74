//! Job fields parsed once, the same way whichever door they come through: `POST /jobs`,
//! `PUT /jobs/{id}`, execute overrides, test-run, and CSV rows of a bulk upload. Each parser
//! applies the contract's rule (api-contract §3.5, §4.4) and the size bounds that keep every
//! item far below DynamoDB's limits, and answers a [`FieldError`] the caller places in its own
//! error shape (a 400 body, or a CSV row error).

use super::{
    parse_dispatch_url,
    target::{is_github_segment, looks_like_shorthand, parse_webhook_url},
    Dispatch,
};
use chrono::NaiveDate;
use serde_json::{Map, Value};
use url::Url;

/// Longest job name and GitHub field, characters (the reference's column sizes).
pub const MAX_NAME_CHARS: usize = 255;
/// Longest `target_url` / `dispatch_url`, characters.
pub const MAX_URL_CHARS: usize = 2048;
/// Most `notification_emails` on one job.
pub const MAX_EMAILS: usize = 50;
/// Largest `metadata` (a CSV Request Body included), as JSON bytes: items stay under 400 KB.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// A rejected field: the contract's short `error` and a sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub error: &'static str,
    pub message: String,
}

impl FieldError {
    /// A refusal with the contract's short `error` and a sentence.
    pub fn new(error: &'static str, message: impl Into<String>) -> Self {
        Self {
            error,
            message: message.into(),
        }
    }
}

/// A job name: trimmed, non-empty, at most [`MAX_NAME_CHARS`], no character
/// [`super::name::is_forbidden`] (controls, line breaks, bidi overrides). Two names are the
/// same job name when their [`super::name::name_key`] is (the store's claim).
pub fn job_name(raw: Option<&str>) -> Result<String, FieldError> {
    let name = raw.map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Err(FieldError::new(
            "Job name cannot be empty",
            "Job name cannot be empty",
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(FieldError::new(
            "Invalid name",
            format!("Job name must be at most {MAX_NAME_CHARS} characters."),
        ));
    }
    if let Some(c) = super::name::first_forbidden(name) {
        return Err(FieldError::new(
            "Invalid name",
            format!(
                "Job name may not contain control, line-break or bidirectional-override characters (found U+{:04X}).",
                c as u32
            ),
        ));
    }
    Ok(name.to_string())
}

/// An optional GitHub owner, repository or workflow: trimmed, blank is `None`, at most
/// [`MAX_NAME_CHARS`], and one safe path segment ([`is_github_segment`]: letters, digits,
/// `.`, `_`, `-`; never `.` or `..`).
pub fn github_part(key: &str, raw: Option<&str>) -> Result<Option<String>, FieldError> {
    let v = raw.map(str::trim).filter(|v| !v.is_empty());
    if v.is_some_and(|v| v.chars().count() > MAX_NAME_CHARS) {
        return Err(FieldError::new(
            "Invalid payload",
            format!("\"{key}\" must be at most {MAX_NAME_CHARS} characters."),
        ));
    }
    if v.is_some_and(|v| !is_github_segment(v)) {
        return Err(FieldError::new(
            "Invalid GitHub configuration",
            format!("\"{key}\" may contain only letters, digits, '.', '_' and '-' (and is not '.' or '..')."),
        ));
    }
    Ok(v.map(str::to_string))
}

/// An optional URL-like text (`target_url` override, `dispatch_url`): at most
/// [`MAX_URL_CHARS`].
pub fn bounded_url(key: &str, raw: Option<&str>) -> Result<Option<String>, FieldError> {
    let v = raw.map(str::trim).filter(|v| !v.is_empty());
    if v.is_some_and(|v| v.chars().count() > MAX_URL_CHARS) {
        return Err(FieldError::new(
            "Invalid payload",
            format!("\"{key}\" must be at most {MAX_URL_CHARS} characters."),
        ));
    }
    Ok(v.map(str::to_string))
}

/// What a job's `target_url` field says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetField {
    /// The `owner/repo/workflow` shorthand: a GitHub dispatch, no webhook.
    GitHub(Dispatch),
    /// An http(s) webhook.
    Webhook(Url),
}

/// A `target_url`: the `owner/repo/workflow` shorthand or an http(s) URL of at most
/// [`MAX_URL_CHARS`]; `scheme_message` is the path's wording for a URL without a scheme.
pub fn target_url(raw: &str, scheme_message: &str) -> Result<TargetField, FieldError> {
    let t = raw.trim();
    if t.chars().count() > MAX_URL_CHARS {
        return Err(FieldError::new(
            "Invalid target_url",
            format!("target_url must be at most {MAX_URL_CHARS} characters."),
        ));
    }
    if looks_like_shorthand(t) {
        return parse_dispatch_url(t)
            .map(TargetField::GitHub)
            .map_err(|m| FieldError::new("Invalid target_url", m));
    }
    parse_webhook_url(t)
        .map(TargetField::Webhook)
        .ok_or_else(|| FieldError::new("Invalid target_url", scheme_message))
}

/// Checks the size of a metadata object ([`MAX_METADATA_BYTES`] of JSON).
pub fn metadata_size(m: &Map<String, Value>, error: &'static str) -> Result<(), FieldError> {
    if serde_json::to_vec(m).map(|b| b.len()).unwrap_or(usize::MAX) > MAX_METADATA_BYTES {
        return Err(FieldError::new(
            error,
            "metadata must be at most 64 KiB of JSON.",
        ));
    }
    Ok(())
}

/// `metadata` of a job body: absent or null is `{}`, otherwise an object of bounded size.
pub fn metadata(v: Option<&Value>) -> Result<Map<String, Value>, FieldError> {
    let m = match v {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(FieldError::new(
                "Invalid metadata",
                "metadata must be a JSON object",
            ))
        }
    };
    metadata_size(&m, "Invalid metadata")?;
    Ok(m)
}

/// A CSV Request Body: JSON text of a bounded object (api-contract §4.4 step 9).
pub fn metadata_text(text: &str) -> Result<Map<String, Value>, FieldError> {
    if text.len() > MAX_METADATA_BYTES {
        return Err(FieldError::new(
            "Invalid Request Body",
            "Request Body must be at most 64 KiB.",
        ));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => {
            metadata_size(&m, "Invalid Request Body")?;
            Ok(m)
        }
        Ok(_) => Err(FieldError::new(
            "Invalid Request Body",
            "Request Body must be a JSON object.",
        )),
        Err(e) => Err(FieldError::new(
            "Invalid JSON in Request Body",
            e.to_string(),
        )),
    }
}

/// Why an end date was refused; each path words [`EndDateError::Missing`] its own way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndDateError {
    Missing,
    Format,
    Past,
}

impl EndDateError {
    /// The `Format` and `Past` errors (the `Missing` wording belongs to each path).
    pub fn field_error(self, missing: (&'static str, &str)) -> FieldError {
        match self {
            EndDateError::Missing => FieldError::new(missing.0, missing.1),
            EndDateError::Format => {
                FieldError::new("Invalid end_date", "Invalid end_date. Use YYYY-MM-DD.")
            }
            EndDateError::Past => FieldError::new(
                "Invalid end_date",
                "end_date must be today or in the future (JST).",
            ),
        }
    }
}

/// An end date: `YYYY-MM-DD` or `YYYYMMDD`, today or later in the scheduler zone.
pub fn end_date(text: Option<&str>, today: NaiveDate) -> Result<NaiveDate, EndDateError> {
    let text = text.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Err(EndDateError::Missing);
    }
    let d = super::parse_end_date(text).ok_or(EndDateError::Format)?;
    if d < today {
        return Err(EndDateError::Past);
    }
    Ok(d)
}

/// A job's own fields, as every door hands them over: `POST /jobs` (services/jobs), a CSV row
/// (services/bulk), a legacy SQLite row and a JSONL export line (cronctl). [`JobDraft::checked`]
/// holds it to the rules every door shares; [`JobDraft::into_job`] is the one place a [`Job`]
/// is built. Door-specific rules (required keys, end date not in the past, the taxonomy and
/// the GitHub owner allowlist) are the door's, applied in its contract order before this.
///
/// [`Job`]: super::Job
#[derive(Clone, Debug, PartialEq)]
pub struct JobDraft {
    pub name: String,
    pub cron: super::CronExpr,
    pub target_url: Option<String>,
    pub github_owner: Option<String>,
    pub github_repo: Option<String>,
    pub github_workflow_name: Option<String>,
    pub metadata: Map<String, Value>,
    /// A category slug (`general` by default).
    pub category: String,
    pub end_date: Option<NaiveDate>,
    /// A PIC team slug.
    pub pic_team: Option<String>,
    pub enable_email_notifications: bool,
    pub notification_emails: Vec<String>,
    pub notify_on_success: bool,
    /// Retries, timeout, overlap, catch-up, zone, flexible window, pause after failures.
    pub policy: super::RunPolicy,
}

/// Who made a job, when, and in which state: what a door adds to a [`JobDraft`].
#[derive(Clone, Debug, PartialEq)]
pub struct JobOrigin {
    pub id: String,
    pub created_by: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub is_active: bool,
    pub last_execution_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Who paused it, when and why (`None` while active).
    pub pause: Option<super::Pause>,
}

impl JobOrigin {
    /// The origin of a stored job (to rebuild it after a change).
    pub fn of(job: &super::Job) -> Self {
        Self {
            id: job.id.clone(),
            created_by: job.created_by.clone(),
            created_at: job.created_at,
            updated_at: job.updated_at,
            is_active: job.is_active,
            last_execution_at: job.last_execution_at,
            pause: job.pause.clone(),
        }
    }

    /// A new, active job: a fresh v4 id, created and updated `at`, never run.
    pub fn new(created_by: Option<String>, at: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            created_by,
            created_at: at,
            updated_at: at,
            is_active: true,
            last_execution_at: None,
            pause: None,
        }
    }
}

impl JobDraft {
    /// The fields of a stored job (to hold an imported job to the rules again).
    pub fn of(job: &super::Job) -> Self {
        Self {
            name: job.name.clone(),
            cron: job.cron.clone(),
            target_url: job.target_url.clone(),
            github_owner: job.github_owner.clone(),
            github_repo: job.github_repo.clone(),
            github_workflow_name: job.github_workflow_name.clone(),
            metadata: job.metadata.clone(),
            category: job.category.clone(),
            end_date: job.end_date,
            pic_team: job.pic_team.clone(),
            enable_email_notifications: job.enable_email_notifications,
            notification_emails: job.notification_emails.clone(),
            notify_on_success: job.notify_on_success,
            policy: job.policy,
        }
    }

    /// What a job of these fields would call ([`super::Job::target`]).
    pub fn target(&self) -> Option<super::JobTarget> {
        super::Job::target_of(
            self.target_url.as_deref(),
            self.github_owner.as_deref(),
            self.github_repo.as_deref(),
            self.github_workflow_name.as_deref(),
        )
    }

    /// The rules every door applies: the name, the GitHub fields, the `target_url`, the
    /// notification e-mails (at most [`MAX_EMAILS`], each an [`super::EmailAddress`]), the
    /// metadata size, and a target to call. An end date in the past is allowed here (an
    /// imported job may have ended; it is paused). The first broken rule is the answer.
    pub fn checked(self) -> Result<Self, FieldError> {
        job_name(Some(&self.name))?;
        for (key, v) in [
            ("github_owner", &self.github_owner),
            ("github_repo", &self.github_repo),
            ("github_workflow_name", &self.github_workflow_name),
        ] {
            github_part(key, v.as_deref())?;
        }
        if let Some(url) = &self.target_url {
            target_url(url, "target_url must include scheme (http:// or https://).")?;
        }
        if self.notification_emails.len() > MAX_EMAILS {
            return Err(FieldError::new(
                "Invalid notification_emails",
                format!("notification_emails may list at most {MAX_EMAILS} addresses"),
            ));
        }
        if let Some(bad) = self
            .notification_emails
            .iter()
            .find(|e| super::EmailAddress::parse(e).is_none())
        {
            return Err(FieldError::new(
                "Invalid notification_emails",
                format!("Invalid e-mail address: {}", bad.trim()),
            ));
        }
        metadata_size(&self.metadata, "Invalid metadata")?;
        self.policy.checked()?;
        if self.target().is_none() {
            return Err(FieldError::new(
                "Invalid target",
                "Job must have either target_url or complete GitHub Actions configuration",
            ));
        }
        Ok(self)
    }

    /// The one place a [`super::Job`] is built: these fields, made by `origin`.
    pub fn into_job(self, origin: JobOrigin) -> super::Job {
        super::Job {
            id: origin.id,
            name: self.name,
            cron: self.cron,
            target_url: self.target_url,
            github_owner: self.github_owner,
            github_repo: self.github_repo,
            github_workflow_name: self.github_workflow_name,
            metadata: self.metadata,
            category: self.category,
            end_date: self.end_date,
            pic_team: self.pic_team,
            enable_email_notifications: self.enable_email_notifications,
            notification_emails: self.notification_emails,
            notify_on_success: self.notify_on_success,
            created_by: origin.created_by,
            is_active: origin.is_active,
            created_at: origin.created_at,
            updated_at: origin.updated_at,
            last_execution_at: origin.last_execution_at,
            policy: self.policy,
            pause: origin.pause.filter(|_| !origin.is_active),
        }
    }
}

/// [`JobDraft::checked`] held against a job built elsewhere (an export file read by serde).
pub fn check_job(job: &super::Job) -> Result<(), FieldError> {
    JobDraft::of(job).checked().map(|_| ())
}

#[cfg(test)]
#[path = "draft_test.rs"]
mod tests;
