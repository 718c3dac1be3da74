//! The job-body rules whose wording belongs to the JSON doors (create and update): e-mail
//! lists, end dates, the `target_url` forms and the default GitHub owner.

use crate::domain::{
    draft::{self, EndDateError, FieldError, JobDraft, TargetField},
    EmailAddress,
};
use chrono::NaiveDate;
use serde_json::Value;

/// `notification_emails`: absent or null is none; a list of at most [`draft::MAX_EMAILS`]
/// e-mail addresses (blank items dropped, case-insensitive duplicates once).
pub(super) fn parse_emails(v: Option<&Value>) -> Result<Vec<String>, FieldError> {
    let invalid = |m: String| FieldError::new("Invalid notification_emails", m);
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

/// End date checks shared by create and update: format, required (`required` is the path's
/// wording), not in the past.
pub(super) fn parse_end(
    v: &Value,
    today: NaiveDate,
    required: (&'static str, &str),
) -> Result<NaiveDate, FieldError> {
    let text = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(EndDateError::Format.field_error(required)),
    };
    draft::end_date(Some(&text), today).map_err(|e| e.field_error(required))
}

/// Applies the `target_url` rules (shorthand → GitHub fields; otherwise an http(s) URL).
pub(super) fn apply_target_url(
    raw: Option<String>,
    job: &mut JobDraft,
    scheme_msg: &str,
) -> Result<(), FieldError> {
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

/// Fills `github_owner` with `default_owner` when only repo and workflow are set.
pub(super) fn complete_github_owner(default_owner: &str, job: &mut JobDraft) {
    if job.target_url.is_none()
        && job.github_owner.is_none()
        && job.github_repo.is_some()
        && job.github_workflow_name.is_some()
    {
        job.github_owner = Some(default_owner.to_string());
    }
}

#[cfg(test)]
#[path = "fields_test.rs"]
mod tests;
