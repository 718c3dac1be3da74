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
    fn new(error: &'static str, message: impl Into<String>) -> Self {
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

/// The rules every door applies, held against a job that was built elsewhere (an import from a
/// legacy database or an export file): the name, the GitHub fields, the `target_url`, the
/// notification e-mails (at most [`MAX_EMAILS`], each an [`super::EmailAddress`]), the
/// metadata size, and a target to call. An end date in the past is allowed (an imported job
/// may have ended; it is paused). The first broken rule is the answer.
pub fn check_job(job: &super::Job) -> Result<(), FieldError> {
    job_name(Some(&job.name))?;
    for (key, v) in [
        ("github_owner", &job.github_owner),
        ("github_repo", &job.github_repo),
        ("github_workflow_name", &job.github_workflow_name),
    ] {
        github_part(key, v.as_deref())?;
    }
    if let Some(url) = &job.target_url {
        target_url(url, "target_url must include scheme (http:// or https://).")?;
    }
    if job.notification_emails.len() > MAX_EMAILS {
        return Err(FieldError::new(
            "Invalid notification_emails",
            format!("notification_emails may list at most {MAX_EMAILS} addresses"),
        ));
    }
    if let Some(bad) = job
        .notification_emails
        .iter()
        .find(|e| super::EmailAddress::parse(e).is_none())
    {
        return Err(FieldError::new(
            "Invalid notification_emails",
            format!("Invalid e-mail address: {}", bad.trim()),
        ));
    }
    metadata_size(&job.metadata, "Invalid metadata")?;
    if job.target().is_none() {
        return Err(FieldError::new(
            "Invalid target",
            "Job must have either target_url or complete GitHub Actions configuration",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "draft_test.rs"]
mod tests;
