//! The job entity (api-contract §2.2) and its JSON shapes (§3.4, client-needs §6).

use super::{fmt_ts, ts, CronExpr, Dispatch, JobTarget, Pause, RunPolicy};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The first instant after an inclusive end date in `tz` (the following day's midnight, or
/// the first existing instant after it when a DST gap swallows midnight): the schedule's
/// `EndDate`, and the bound of `next_execution_at`.
pub fn end_instant(end_date: NaiveDate, tz: Tz) -> Option<DateTime<Utc>> {
    let next = end_date.succ_opt()?.and_hms_opt(0, 0, 0)?;
    tz.from_local_datetime(&next)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| {
            tz.from_local_datetime(&(next + chrono::Duration::hours(1)))
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        })
}

/// The next fire time of `cron` after `now` in `tz`, unless it falls at or after the end of
/// `end_date` in `end_tz` (the scheduler zone: then the schedule never fires it).
pub fn next_fire_before_end(
    cron: &CronExpr,
    end_date: Option<NaiveDate>,
    (tz, end_tz): (Tz, Tz),
    now: DateTime<Utc>,
) -> Option<DateTime<Tz>> {
    let at = cron.next_fire_from(now, tz)?;
    match end_date.and_then(|d| end_instant(d, end_tz)) {
        Some(end) if at.with_timezone(&Utc) >= end => None,
        _ => Some(at),
    }
}

/// A stored job. Invariants enforced by the write paths: `name` non-empty and unique,
/// `cron` valid, `category` a slug (`general` by default), emails empty unless enabled.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub name: String,
    #[serde(rename = "cron_expression")]
    pub cron: CronExpr,
    pub target_url: Option<String>,
    pub github_owner: Option<String>,
    pub github_repo: Option<String>,
    pub github_workflow_name: Option<String>,
    /// Stored as a JSON string so that every JSON value survives DynamoDB unchanged.
    #[serde(with = "json_string")]
    pub metadata: Map<String, Value>,
    pub category: String,
    pub end_date: Option<NaiveDate>,
    pub pic_team: Option<String>,
    pub enable_email_notifications: bool,
    pub notification_emails: Vec<String>,
    pub notify_on_success: bool,
    pub created_by: Option<String>,
    pub is_active: bool,
    #[serde(with = "ts")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "ts")]
    pub updated_at: DateTime<Utc>,
    /// Start of the most recent execution, maintained by the engine.
    #[serde(default, with = "ts::option")]
    pub last_execution_at: Option<DateTime<Utc>>,
    /// Retries, timeout, overlap, catch-up, time zone, flexible window, pause after failures
    /// (issue 23); jobs stored before it read as the defaults.
    #[serde(default)]
    pub policy: RunPolicy,
    /// Who paused the job, when and why, while it is paused (`None` when active, or paused
    /// before pauses were recorded, or by its end date).
    #[serde(default)]
    pub pause: Option<Pause>,
}

impl Job {
    /// What a run calls: GitHub when owner, repo and workflow are all set, else the webhook.
    pub fn target(&self) -> Option<JobTarget> {
        Self::target_of(
            self.target_url.as_deref(),
            self.github_owner.as_deref(),
            self.github_repo.as_deref(),
            self.github_workflow_name.as_deref(),
        )
    }

    /// [`Job::target`] of these fields.
    pub fn target_of(
        target_url: Option<&str>,
        owner: Option<&str>,
        repo: Option<&str>,
        workflow: Option<&str>,
    ) -> Option<JobTarget> {
        if let Some(d) = Dispatch::from_parts(owner, repo, workflow) {
            return Some(JobTarget::GitHub(d));
        }
        target_url
            .and_then(super::target::parse_webhook_url)
            .map(JobTarget::Webhook)
    }

    /// Past its inclusive end date in the scheduler zone.
    pub fn is_expired(&self, today: NaiveDate) -> bool {
        self.end_date.is_some_and(|d| d < today)
    }

    /// Whether the job should have a schedule: active and not expired.
    pub fn should_be_scheduled(&self, today: NaiveDate) -> bool {
        self.is_active && !self.is_expired(today)
    }

    /// `job.to_dict` (api-contract §2.2): the 18 contract keys, then the run policy's seven
    /// and the pause's three (issue 23).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.view(None)).unwrap_or(Value::Null)
    }

    /// The read shape (§3.4): [`Job::to_json`] plus `last_execution_at` (UTC `Z`) and
    /// `next_execution_at` (the job's zone with offset; null when inactive, never firing, or
    /// when the next fire time is past the end date, read in the scheduler zone `tz`: the
    /// schedule ends there).
    pub fn to_read_json(&self, tz: Tz, now: DateTime<Utc>) -> Value {
        let zones = (self.policy.timezone, tz);
        let next_execution_at = self
            .is_active
            .then(|| next_fire_before_end(&self.cron, self.end_date, zones, now))
            .flatten()
            .map(|t| t.to_rfc3339());
        let read = ReadTimes {
            last_execution_at: self.last_execution_at.as_ref().map(fmt_ts),
            next_execution_at,
        };
        serde_json::to_value(self.view(Some(read))).unwrap_or(Value::Null)
    }

    fn view(&self, read: Option<ReadTimes>) -> JobView<'_> {
        JobView {
            id: &self.id,
            name: &self.name,
            cron_expression: self.cron.as_str(),
            target_url: self.target_url.as_deref(),
            github_owner: self.github_owner.as_deref(),
            github_repo: self.github_repo.as_deref(),
            github_workflow_name: self.github_workflow_name.as_deref(),
            metadata: &self.metadata,
            category: &self.category,
            end_date: self.end_date.map(|d| d.format("%Y-%m-%d").to_string()),
            pic_team: self.pic_team.as_deref(),
            enable_email_notifications: self.enable_email_notifications,
            notification_emails: &self.notification_emails,
            notify_on_success: self.notify_on_success,
            created_by: self.created_by.as_deref(),
            is_active: self.is_active,
            created_at: fmt_ts(&self.created_at),
            updated_at: fmt_ts(&self.updated_at),
            policy: &self.policy,
            pause_note: self.pause.as_ref().and_then(|p| p.note.as_deref()),
            paused_by: self.pause.as_ref().and_then(|p| p.by.as_deref()),
            paused_at: self.pause.as_ref().map(|p| fmt_ts(&p.at)),
            read,
        }
    }
}

/// The contract's job body (§2.2): dates as `YYYY-MM-DD`, timestamps as UTC `Z`.
#[derive(Serialize)]
struct JobView<'a> {
    id: &'a str,
    name: &'a str,
    cron_expression: &'a str,
    target_url: Option<&'a str>,
    github_owner: Option<&'a str>,
    github_repo: Option<&'a str>,
    github_workflow_name: Option<&'a str>,
    metadata: &'a Map<String, Value>,
    category: &'a str,
    end_date: Option<String>,
    pic_team: Option<&'a str>,
    enable_email_notifications: bool,
    notification_emails: &'a [String],
    notify_on_success: bool,
    created_by: Option<&'a str>,
    is_active: bool,
    created_at: String,
    updated_at: String,
    /// `retry_policy`, `timeout_seconds`, `overlap_policy`, `catchup_window_seconds`,
    /// `timezone`, `flexible_window_minutes`, `pause_after_failures` (issue 23).
    #[serde(flatten)]
    policy: &'a RunPolicy,
    pause_note: Option<&'a str>,
    paused_by: Option<&'a str>,
    paused_at: Option<String>,
    /// Present (both keys, null when unknown) only in the read shape.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    read: Option<ReadTimes>,
}

/// `last_execution_at` and `next_execution_at` of the read shape (§3.4).
#[derive(Serialize)]
struct ReadTimes {
    last_execution_at: Option<String>,
    next_execution_at: Option<String>,
}

impl Serialize for CronExpr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CronExpr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CronExpr::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Serde adapter: a JSON object kept as its JSON text.
pub mod json_string {
    use serde::{Deserialize, Deserializer, Serializer};
    use serde_json::{Map, Value};
    /// Serialize as compact JSON text.
    pub fn serialize<S: Serializer>(m: &Map<String, Value>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&Value::Object(m.clone()).to_string())
    }
    /// Deserialize JSON text; anything but an object reads as `{}` (api-contract §2.2).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        Ok(
            match s.and_then(|s| serde_json::from_str::<Value>(&s).ok()) {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            },
        )
    }
}
