//! Delivery of outbox tasks ([`crate::store::outbox`]): in-app notifications, e-mail through
//! SES v2 and Slack posts (api-contract §6.4, §7.3-§7.5; policy §9).
//!
//! Who receives what:
//! - **Run notifications** and job-change notices (in-app): everyone, as one item of the shared
//!   feed ([`crate::store::feed`]).
//! - **Run e-mail**: a job with `enable_email_notifications` e-mails its `notification_emails`
//!   on every failed run (scheduled or manual) and, with `notify_on_success`, on every
//!   successful one. An address that belongs to a user is dropped when that user turned off
//!   `email_on_job_failure` (failures) or `email_on_job_success` (successes).
//! - **Auto-pause** (end date passed): in-app to the creator and active admins; e-mail to
//!   those of them who turned **on** `email_on_job_disabled` (default off); Slack when enabled.
//! - **Ending soon** (weekly): in-app to the creator and active admins; Slack when enabled.
//! - **Slack for failed runs**: only with the Slack setting `notify_run_failures` (opt-in).
//!
//! A delivery never touches the run it reports: the result is recorded before its tasks are
//! enqueued (same transaction), and a failed delivery is retried with backoff, logged, and
//! written on the execution (`alerts.email` / `alerts.slack`).

use crate::{
    config::Config,
    safe_http,
    store::{
        outbox::{Audience, EmailPref, EmailTo, Leased, Task},
        NotificationPrefs, Store, StoreError,
    },
};
use std::time::Duration;

/// Slack's timeout (api-contract §7.4).
pub const SLACK_TIMEOUT: Duration = Duration::from_secs(10);

/// A Slack webhook URL we may post to: `https` with a host, no credentials. On the local
/// stack (private targets allowed) `http` to a loopback host is accepted too, for the local
/// receiver. `None` otherwise.
pub fn slack_url(raw: &str, allow_private: bool) -> Option<url::Url> {
    let u = url::Url::parse(raw.trim()).ok()?;
    let loopback = match u.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    let scheme_ok = u.scheme() == "https" || (allow_private && loopback && u.scheme() == "http");
    let host_ok = u.host_str().is_some_and(|h| !h.is_empty());
    (scheme_ok && host_ok && u.username().is_empty() && u.password().is_none()).then_some(u)
}

/// The SES v2 sender, built once per Lambda.
#[derive(Clone, Debug)]
pub struct Mailer {
    client: aws_sdk_sesv2::Client,
    from: String,
    configuration_set: Option<String>,
}

impl Mailer {
    /// Sends one e-mail with text and HTML bodies to `to` (one message, all recipients).
    pub async fn send(
        &self,
        to: &[String],
        subject: &str,
        text: &str,
        html: &str,
    ) -> Result<(), String> {
        use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
        let content = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|e| e.to_string())
        };
        let message = Message::builder()
            .subject(content(subject)?)
            .body(
                Body::builder()
                    .text(content(text)?)
                    .html(content(html)?)
                    .build(),
            )
            .build();
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(to.to_vec()))
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_sdk_sesv2::error::DisplayErrorContext(&e).to_string())
    }

    /// Creates the sender identity if SES does not know it (the local stack and tests: moto
    /// then treats it as verified). On AWS the identity is verified out of band.
    pub async fn ensure_identity(&self) -> Result<(), String> {
        if self
            .client
            .get_email_identity()
            .email_identity(&self.from)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        self.client
            .create_email_identity()
            .email_identity(&self.from)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_sdk_sesv2::error::DisplayErrorContext(&e).to_string())
    }
}

/// What a delivery did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivered {
    /// Performed (or nothing to do, e.g. no recipient left).
    Done,
    /// Not performed, by configuration (no sender, Slack off); recorded, not retried.
    Skipped(String),
    /// Progress made, more to do (a history purge): handed back due now, not an attempt.
    Continue,
}

/// Longest slice of a history purge per lease, well inside [`crate::store::outbox::LEASE_SECS`].
/// Schedule calls in flight while delivering one [`Task::SyncSchedules`] (the SDK's standard
/// retry mode backs off on `ThrottlingException`; EventBridge Scheduler's lowest published
/// default is 50 `CreateSchedule` per second).
pub const SCHEDULE_CONCURRENCY: usize = 16;

const PURGE_SLICE: std::time::Duration = std::time::Duration::from_secs(20);
/// Longest one delivery run keeps re-leasing a purge that has more to do (the maintenance
/// function's timeout is 300 s); the rest is picked up by the next sweep.
const PURGE_RUN: std::time::Duration = std::time::Duration::from_secs(200);

/// Performs outbox tasks. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Alerts {
    store: Store,
    /// For the bulk upload's schedule tasks ([`Task::SyncSchedules`]).
    schedules: crate::schedules::Schedules,
    tz: chrono_tz::Tz,
    mailer: Option<Mailer>,
    /// `None` when the safe client could not be built: Slack then fails closed.
    http: Option<reqwest::Client>,
    allow_private: bool,
}

/// Counts of one drain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DrainReport {
    pub delivered: usize,
    pub failed: usize,
}

impl Alerts {
    /// Builds the sender (when `MAIL_FROM` is set) and the Slack client once.
    pub fn new(
        store: Store,
        ses: aws_sdk_sesv2::Client,
        schedules: crate::schedules::Schedules,
        config: &Config,
    ) -> Self {
        Self {
            store,
            schedules,
            tz: config.timezone,
            mailer: config.mail_from.clone().map(|from| Mailer {
                client: ses,
                from,
                configuration_set: config.ses_configuration_set.clone(),
            }),
            http: safe_http::client(config.allow_private_targets),
            allow_private: config.allow_private_targets,
        }
    }

    /// The SES sender, if configured.
    pub fn mailer(&self) -> Option<&Mailer> {
        self.mailer.as_ref()
    }

    /// Leases, performs and settles tasks by id; those leased elsewhere or already done are
    /// passed over. Store failures stop the batch (the tasks stay pending for the next run).
    pub async fn deliver(&self, ids: &[String]) -> Result<DrainReport, StoreError> {
        let mut report = DrainReport::default();
        let started = std::time::Instant::now();
        let mut queue: std::collections::VecDeque<&String> = ids.iter().collect();
        while let Some(id) = queue.pop_front() {
            let Some(leased) = self.store.lease_outbox(id).await? else {
                continue;
            };
            let result = self.perform(&leased).await;
            if matches!(result, Ok(Delivered::Continue)) {
                self.store.requeue_outbox(&leased).await?;
                if started.elapsed() < PURGE_RUN {
                    queue.push_back(id);
                }
                continue;
            }
            self.record(&leased, &result).await;
            match &result {
                Ok(_) => report.delivered += 1,
                Err(e) => {
                    report.failed += 1;
                    tracing::error!(task_id = %leased.id, attempt = leased.attempts, error = %e, "outbox delivery failed");
                }
            }
            self.store
                .settle_outbox(&leased, &result.map(|_| ()))
                .await?;
        }
        Ok(report)
    }

    /// Delivers every task due now, a bounded batch at a time, until none is left or
    /// `max_rounds` batches ran.
    pub async fn drain(&self, max_rounds: usize) -> Result<DrainReport, StoreError> {
        let mut total = DrainReport::default();
        for _ in 0..max_rounds {
            let ids = self.store.due_outbox(25).await?;
            if ids.is_empty() {
                break;
            }
            let r = self.deliver(&ids).await?;
            total.delivered += r.delivered;
            total.failed += r.failed;
            if r.delivered + r.failed == 0 {
                break;
            }
        }
        Ok(total)
    }

    /// Writes the outcome of an e-mail or Slack delivery on the execution it reports.
    async fn record(&self, leased: &Leased, result: &Result<Delivered, String>) {
        let (Some(exec_id), channel) = (leased.task.execution_id(), leased.task.channel()) else {
            return;
        };
        if channel == "notify" {
            return;
        }
        let status = match result {
            Ok(Delivered::Done) => "sent".to_string(),
            Ok(Delivered::Skipped(why)) => format!("skipped: {why}"),
            Ok(Delivered::Continue) => return,
            Err(e) => format!("failed (attempt {}): {e}", leased.attempts),
        };
        if let Err(e) = self.store.record_alert(exec_id, channel, &status).await {
            tracing::warn!(execution_id = exec_id, error = %e, "could not record the alert outcome");
        }
    }

    async fn perform(&self, leased: &Leased) -> Result<Delivered, String> {
        match &leased.task {
            Task::Notify {
                audience,
                title,
                message,
                level,
                related_job_id,
                related_execution_id,
            } => {
                let written = match audience {
                    // Everyone: one feed item, whatever the number of users.
                    Audience::ActiveUsers => {
                        self.store
                            .broadcast(
                                &leased.id,
                                title,
                                message,
                                *level,
                                related_job_id.as_deref(),
                                related_execution_id.as_deref(),
                            )
                            .await
                    }
                    Audience::Users { ids } => {
                        self.store
                            .notify(
                                &leased.id,
                                ids,
                                title,
                                message,
                                *level,
                                related_job_id.as_deref(),
                                related_execution_id.as_deref(),
                            )
                            .await
                    }
                };
                written.map_err(|e| e.to_string())?;
                Ok(Delivered::Done)
            }
            Task::Email {
                to,
                pref,
                subject,
                text,
                html,
                ..
            } => {
                let Some(mailer) = &self.mailer else {
                    tracing::info!(task_id = %leased.id, "no MAIL_FROM configured: e-mail skipped");
                    return Ok(Delivered::Skipped(
                        "no sender configured (MAIL_FROM)".into(),
                    ));
                };
                let recipients = self
                    .recipients(to, *pref)
                    .await
                    .map_err(|e| e.to_string())?;
                if recipients.is_empty() {
                    return Ok(Delivered::Skipped("no recipient wants it".into()));
                }
                mailer.send(&recipients, subject, text, html).await?;
                tracing::info!(task_id = %leased.id, recipients = recipients.len(), "e-mail sent");
                Ok(Delivered::Done)
            }
            Task::Slack { text, .. } => self.post_slack(text).await,
            Task::SyncSchedules {
                job_ids,
                sync_token,
            } => self.sync_schedules(job_ids, sync_token).await,
            Task::OneTimeSchedule { schedule } => {
                self.schedules
                    .create_one_time(schedule)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Delivered::Done)
            }
            Task::PurgeJobHistory { job_id } => {
                let deadline = std::time::Instant::now() + PURGE_SLICE;
                match self.store.purge_job_history(job_id, deadline).await {
                    Ok(true) => {
                        tracing::info!(job_id = %job_id, "deleted job's history purged");
                        Ok(Delivered::Done)
                    }
                    Ok(false) => Ok(Delivered::Continue),
                    Err(e) => Err(e.to_string()),
                }
            }
        }
    }

    /// Repairs the schedules of a bulk upload's jobs ([`crate::schedules::repair`]),
    /// [`SCHEDULE_CONCURRENCY`] calls in flight; fails (to be retried) when any call failed,
    /// those jobs keeping their `SYNC_PENDING` mark meanwhile.
    async fn sync_schedules(&self, job_ids: &[String], token: &str) -> Result<Delivered, String> {
        use futures::StreamExt;
        let today = crate::domain::today_in(self.tz);
        let (store, schedules) = (self.store.clone(), self.schedules.clone());
        let results: Vec<_> = futures::stream::iter(job_ids.to_vec())
            .map(move |id| {
                let (store, schedules, token) = (store.clone(), schedules.clone(), token.to_string());
                async move {
                    crate::schedules::repair(&store, &schedules, &id, &token, today).await
                }
            })
            .buffer_unordered(SCHEDULE_CONCURRENCY)
            .collect()
            .await;
        let mut failed = 0;
        for r in results {
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    failed += 1;
                    tracing::warn!(error = %e, "bulk schedule call failed; retried");
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        if failed > 0 {
            return Err(format!(
                "{failed} of {} schedule call(s) failed",
                job_ids.len()
            ));
        }
        Ok(Delivered::Done)
    }

    /// Resolves e-mail recipients and applies the users' preferences.
    async fn recipients(&self, to: &EmailTo, pref: EmailPref) -> Result<Vec<String>, StoreError> {
        // Without a stored row the model defaults apply (api-contract §2.6): success and
        // failure on, disabled off.
        let wants = |p: Option<NotificationPrefs>| match (pref, p) {
            (EmailPref::JobFailure, p) => p.is_none_or(|p| p.email_on_job_failure),
            (EmailPref::JobSuccess, p) => p.is_none_or(|p| p.email_on_job_success),
            (EmailPref::JobDisabled, p) => p.is_some_and(|p| p.email_on_job_disabled),
        };
        let mut out: Vec<String> = Vec::new();
        match to {
            EmailTo::Addresses { list } => {
                for addr in list {
                    let keep = match self.store.find_user_by_login(addr).await? {
                        Some(u) if u.email == *addr => wants(self.store.get_prefs(&u.id).await?),
                        _ => true,
                    };
                    if keep && !out.contains(addr) {
                        out.push(addr.clone());
                    }
                }
            }
            EmailTo::Users { ids } => {
                for id in ids {
                    let Some(u) = self.store.get_user(id).await? else {
                        continue;
                    };
                    if u.is_active
                        && wants(self.store.get_prefs(id).await?)
                        && !out.contains(&u.email)
                    {
                        out.push(u.email);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Posts `{"text", "channel"?}` to the configured Slack webhook (api-contract §7.4).
    async fn post_slack(&self, text: &str) -> Result<Delivered, String> {
        let settings = self
            .store
            .get_slack_settings()
            .await
            .map_err(|e| e.to_string())?;
        let Some(s) = settings.filter(|s| s.is_enabled) else {
            return Ok(Delivered::Skipped("Slack is not enabled".into()));
        };
        let Some(url) = s
            .webhook_url
            .as_deref()
            .and_then(|u| slack_url(u, self.allow_private))
        else {
            return Ok(Delivered::Skipped("no usable Slack webhook URL".into()));
        };
        safe_http::check_literal_host(&url, self.allow_private)?;
        let Some(http) = &self.http else {
            return Err("outbound client unavailable".into());
        };
        let body = SlackMessage {
            text,
            channel: s.channel.as_deref(),
        };
        let resp = http
            .post(url)
            .timeout(SLACK_TIMEOUT)
            .json(&body)
            .send()
            .await
            .map_err(|e| safe_http::describe(&e))?;
        if resp.status().is_success() {
            Ok(Delivered::Done)
        } else {
            Err(format!("Slack answered {}", resp.status().as_u16()))
        }
    }
}

/// Escapes text for HTML bodies.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The failure e-mail of api-contract §6.4 step 4: `(subject, text, html)`.
pub fn failure_email(name: &str, job_id: &str, error: &str) -> (String, String, String) {
    (
        format!("Job Failure: {name}"),
        format!(
            "Job Execution Failed\n====================\n\nJob Name: {name}\nJob ID: {job_id}\nError: {error}\n"
        ),
        format!(
            "<html><body><h2 style=\"color: #d32f2f;\">Job Execution Failed</h2><ul><li><strong>Job Name:</strong> {}</li><li><strong>Job ID:</strong> {}</li><li><strong>Error:</strong> <code>{}</code></li></ul></body></html>",
            html_escape(name),
            html_escape(job_id),
            html_escape(error)
        ),
    )
}

/// The success e-mail of api-contract §6.4 step 4: `(subject, text, html)`.
pub fn success_email(name: &str, job_id: &str, duration_seconds: f64) -> (String, String, String) {
    (
        format!("Job Success: {name}"),
        format!(
            "Job Completed Successfully\n==========================\n\nJob Name: {name}\nJob ID: {job_id}\nDuration: {duration_seconds:.2}s\n"
        ),
        format!(
            "<html><body><h2 style=\"color: #388e3c;\">Job Completed Successfully</h2><ul><li><strong>Job Name:</strong> {}</li><li><strong>Job ID:</strong> {}</li><li><strong>Duration:</strong> {duration_seconds:.2}s</li></ul></body></html>",
            html_escape(name),
            html_escape(job_id)
        ),
    )
}

/// The body of a Slack incoming-webhook post: `{"text", "channel"?}`.
#[derive(serde::Serialize)]
struct SlackMessage<'a> {
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'a str>,
}
