//! The notices of a job's end date (api-contract §7.3, §7.5): who is told, what they read,
//! and the outbox tasks that carry it, once per job and end date.

use super::*;

/// `<base>/jobs/<id>/edit` (api-contract §7.3 link).
pub fn job_link(frontend_base: &str, job_id: &str) -> String {
    format!("{frontend_base}/jobs/{job_id}/edit")
}

/// Escapes `&`, `<`, `>` for Slack message text.
pub fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The PIC team's trimmed Slack handle followed by a space, or empty (api-contract §7.3).
pub async fn team_mention(store: &Store, job: &Job) -> String {
    let Some(slug) = job.pic_team.as_deref() else {
        return String::new();
    };
    match store.taxon_by_slug(TaxonKind::Team, slug).await {
        Ok(Some(t)) => t
            .slack_handle
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .map(|h| format!("{h} "))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// Who is told about a job's end date (api-contract §7.3): the active admins `admins` and
/// the job's creator, once each.
pub fn creator_and_admins(admins: &[String], job: &Job) -> Vec<String> {
    let mut recipients = admins.to_vec();
    if let Some(owner) = job.created_by.as_ref().filter(|o| !admins.contains(o)) {
        recipients.push(owner.clone());
    }
    recipients
}

/// Which path paused a job past its end date; it words the notice (api-contract §6.6 step 2
/// for a scheduled run, §7.3 for maintenance).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PausePath {
    /// A schedule delivery or a manual run found the job expired.
    Run,
    /// The reconciliation or the weekly end-date maintenance found it.
    Maintenance,
}

/// What the end-date notices of a batch of pauses need, read once per batch: the active
/// admins and whether Slack posts are on.
#[derive(Clone, Debug, Default)]
pub struct EndDateAudience {
    pub admins: Vec<String>,
    pub slack_on: bool,
}

/// The outbox task ids of a job's end-date notices start with this: one set per job and end
/// date, whichever path pauses it first (a second path's enqueue is refused by the ids).
pub fn end_date_task_prefix(job: &Job) -> String {
    let end = job
        .end_date
        .map(|d| d.format("%Y%m%d").to_string())
        .unwrap_or_default();
    format!("enddate-{}-{end}", job.id)
}

/// The auto-pause notices of `job`: in-app to the creator and the active admins, an e-mail
/// to those of them with `email_on_job_disabled`, and (on the maintenance path, when Slack
/// is on) a Slack post with the PIC team's `mention` and a link to the job. Task ids are
/// [`end_date_task_prefix`] + `-notify` / `-email` / `-slack`.
pub fn end_date_notices(
    audience: &EndDateAudience,
    job: &Job,
    path: PausePath,
    mention: &str,
    frontend_base: &str,
) -> Vec<OutboxTask> {
    let prefix = end_date_task_prefix(job);
    let end = job
        .end_date
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let message = match path {
        PausePath::Run => format!(
            "Job \"{}\" passed its end_date ({end} JST) and was auto-paused.",
            job.name
        ),
        PausePath::Maintenance => format!(
            "Job \"{}\" passed its end_date ({end} JST) and was auto-paused. PIC Team: {}",
            job.name,
            job.pic_team.as_deref().unwrap_or("-")
        ),
    };
    let recipients = creator_and_admins(&audience.admins, job);
    let title = "Job auto-paused (end date passed)";
    let mut tasks = pause_notices(&prefix, recipients, job, (title, &message), None);
    if audience.slack_on && path == PausePath::Maintenance {
        tasks.push(OutboxTask::new(
            format!("{prefix}-slack"),
            Task::Slack {
                text: format!(
                    ":warning: {mention}Job auto-paused (end date passed): <{}|{}> (end_date {end} JST)",
                    job_link(frontend_base, &job.id),
                    slack_escape(&job.name)
                ),
                execution_id: None,
            },
        ));
    }
    tasks
}

/// The in-app notice and the e-mail (each user's `JobDisabled` preference) of an automatic
/// pause of `job`, to `recipients`: tasks `<prefix>-notify` and `<prefix>-email`, linked to
/// the run that caused it when there is one.
pub(super) fn pause_notices(
    prefix: &str,
    recipients: Vec<String>,
    job: &Job,
    (title, message): (&str, &str),
    execution_id: Option<&str>,
) -> Vec<OutboxTask> {
    vec![
        OutboxTask::new(
            format!("{prefix}-notify"),
            Task::Notify {
                audience: Audience::Users {
                    ids: recipients.clone(),
                },
                title: title.into(),
                message: message.to_string(),
                level: crate::domain::Level::Warning,
                related_job_id: Some(job.id.clone()),
                related_execution_id: execution_id.map(str::to_string),
            },
        ),
        OutboxTask::new(
            format!("{prefix}-email"),
            Task::Email {
                to: EmailTo::Users { ids: recipients },
                pref: EmailPref::JobDisabled,
                subject: format!("Job auto-paused: {}", job.name),
                text: format!("{title}\n\n{message}\n"),
                html: format!(
                    "<html><body><h2>{title}</h2><p>{}</p></body></html>",
                    crate::alerts::html_escape(message)
                ),
                execution_id: execution_id.map(str::to_string),
            },
        ),
    ]
}
