//! The outbox: side effects of a write (notifications, e-mail, Slack posts) stored as items
//! in the **same transaction** as the write, then performed by whoever gets there first —
//! the writer right after its write, the maintenance function fed by the table's stream
//! (AWS) or its one-minute sweep, or the local stack's delivery loop. Each task is performed
//! once: a delivery first *leases* the task (a conditional update that moves its due time a
//! lease ahead), and a delivered task stays as a tombstone (TTL 30 days) so that re-enqueuing
//! the same task id is refused.
//!
//! Keys: `OUTBOX#<task id>` / `OUTBOX`; while pending, GSI2 `OUTBOX#<shard>` /
//! `<due epoch seconds, 10 digits>#<task id>` (sparse, [`SHARDS`] partitions so a burst of
//! runs spreads its writes). Task ids are deterministic (`run-<execution id>-email`,
//! `weekly-<week>-<job id>-soon-slack`, …), which is what makes enqueuing idempotent.

use super::{map_conditional, s, tx, Store, StoreError, StoreResult};
use crate::domain::TaskState;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// GSI2 partitions of pending tasks.
pub const SHARDS: usize = 4;
/// How long a delivery may hold a task before another may take it over, seconds.
pub const LEASE_SECS: i64 = 60;
/// Deliveries tried before a task is given up (kept, marked `failed`, logged).
pub const MAX_ATTEMPTS: i64 = 5;
/// Longest wait between two deliveries of a failing task, seconds (a history purge, which is
/// retried until it is done).
pub const MAX_BACKOFF_SECS: i64 = 3600;
/// How long a delivered task's tombstone is kept, seconds.
const TOMBSTONE_SECS: i64 = 30 * 24 * 3600;

/// Who an in-app notification goes to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "audience", rename_all = "snake_case")]
pub enum Audience {
    /// Everyone: one item of the shared feed ([`crate::store::feed`]), seen by every account
    /// from its creation on (the serialized name is kept for tasks already queued).
    ActiveUsers,
    /// These users (duplicates dropped).
    Users { ids: Vec<String> },
}

/// Which notification preference (api-contract §2.6) lets a user opt out of an e-mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailPref {
    /// `email_on_job_failure` (default on): a failed run.
    JobFailure,
    /// `email_on_job_success` (default on): a successful run.
    JobSuccess,
    /// `email_on_job_disabled` (default **off**): a job auto-paused past its end date.
    JobDisabled,
}

/// Who an e-mail goes to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum EmailTo {
    /// These addresses (a job's `notification_emails`), except those of users whose
    /// preference `pref` is off.
    Addresses { list: Vec<String> },
    /// These users' e-mail addresses, only active users whose preference `pref` is on.
    Users { ids: Vec<String> },
}

/// One side effect.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Task {
    /// In-app notifications (api-contract §7.5 texts).
    Notify {
        audience: Audience,
        title: String,
        message: String,
        level: crate::domain::Level,
        related_job_id: Option<String>,
        related_execution_id: Option<String>,
    },
    /// One e-mail through SES v2 (text and HTML bodies).
    Email {
        to: EmailTo,
        pref: EmailPref,
        subject: String,
        text: String,
        html: String,
        /// The run it reports, whose record shows a delivery failure.
        execution_id: Option<String>,
    },
    /// One Slack post through the admin's Slack settings (api-contract §7.4).
    Slack {
        text: String,
        execution_id: Option<String>,
    },
    /// Removes a deleted job's history (executions, then its counters out of the all-jobs
    /// counters), a bounded slice per delivery, so `DELETE /jobs/{id}` answers at once.
    PurgeJobHistory { job_id: String },
    /// Makes the schedules of freshly written jobs agree with them (a bulk upload answers
    /// once its jobs are written, marked `SYNC_PENDING` with `sync_token`; the table's stream
    /// delivers this at once) and clears their marks. Jobs whose call fails keep their mark
    /// for the sweep, and the task is retried.
    SyncSchedules {
        job_ids: Vec<String>,
        sync_token: String,
    },
    /// Creates a one-time schedule for the executor: the rest of a backfill, or a run's next
    /// attempt, that did not fit the invocation ([`crate::schedules::OneTime`]). Delivered by
    /// the maintenance function: the functions that create schedules hold the executor's ARN
    /// and the scheduler role; the executor does not.
    OneTimeSchedule { schedule: crate::schedules::OneTime },
}

impl Task {
    /// Short name for logs and records: `notify`, `email`, `slack`.
    pub fn channel(&self) -> &'static str {
        match self {
            Task::Notify { .. } => "notify",
            Task::Email { .. } => "email",
            Task::Slack { .. } => "slack",
            Task::PurgeJobHistory { .. } => "purge",
            Task::SyncSchedules { .. } | Task::OneTimeSchedule { .. } => "schedule",
        }
    }

    /// The execution this task reports on, if any.
    pub fn execution_id(&self) -> Option<&str> {
        match self {
            Task::Notify {
                related_execution_id,
                ..
            } => related_execution_id.as_deref(),
            Task::Email { execution_id, .. } | Task::Slack { execution_id, .. } => {
                execution_id.as_deref()
            }
            Task::PurgeJobHistory { .. }
            | Task::SyncSchedules { .. }
            | Task::OneTimeSchedule { .. } => None,
        }
    }
}

/// A task with its deterministic id.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxTask {
    pub id: String,
    pub task: Task,
}

impl OutboxTask {
    /// `id` must be deterministic for the event it reports (the same event, the same id).
    pub fn new(id: impl Into<String>, task: Task) -> Self {
        Self {
            id: id.into(),
            task,
        }
    }
}

/// A task leased for delivery.
#[derive(Clone, Debug)]
pub struct Leased {
    pub id: String,
    pub task: Task,
    /// Deliveries tried so far, this one included.
    pub attempts: i64,
    /// This lease's token (a fresh UUID per lease, stored on the task as `lease`): every write
    /// that records the delivery's outcome is conditional on it, so a delivery whose lease
    /// expired and was taken over cannot overwrite the new owner's result.
    pub token: String,
}

fn pk(id: &str) -> String {
    format!("OUTBOX#{id}")
}

fn due_key(due: i64, id: &str) -> String {
    format!("{due:010}#{id}")
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The outcome of a write conditional on a lease: a lost lease (taken over after it expired,
/// or the task settled by its new owner) is logged and dropped, not an error.
fn lease_held<E, R>(
    id: &str,
    r: Result<(), aws_sdk_dynamodb::error::SdkError<E, R>>,
) -> StoreResult<()>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match map_conditional(r) {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict) => {
            tracing::warn!(task_id = id, "outbox lease lost: this delivery's outcome is dropped (the task's new owner records its own)");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

impl Store {
    /// The item of a pending task, due now.
    fn outbox_item(&self, t: &OutboxTask) -> StoreResult<super::Item> {
        let now = chrono::Utc::now().timestamp();
        let body = serde_json::to_string(&t.task).map_err(|e| StoreError::Dynamo(e.to_string()))?;
        Ok(HashMap::from([
            ("PK".to_string(), s(pk(&t.id))),
            ("SK".to_string(), s("OUTBOX")),
            ("task".to_string(), s(body)),
            ("channel".to_string(), s(t.task.channel())),
            ("status".to_string(), s(TaskState::Pending.as_str())),
            ("attempts".to_string(), n(0)),
            ("due_at".to_string(), n(now)),
            (
                "GSI2PK".to_string(),
                s(format!("OUTBOX#{}", super::shard_of(&t.id, SHARDS))),
            ),
            ("GSI2SK".to_string(), s(due_key(now, &t.id))),
        ]))
    }

    /// The transaction items that enqueue `tasks` (each must not exist yet: an enqueued or
    /// delivered task with the same id fails the whole transaction with `Conflict`).
    pub fn outbox_items(&self, tasks: &[OutboxTask]) -> StoreResult<Vec<TransactWriteItem>> {
        tasks
            .iter()
            .map(|t| tx::create(&self.table, self.outbox_item(t)?))
            .collect()
    }

    /// Enqueues tasks on their own (no other write to join): one conditional PutItem each.
    /// Ids already enqueued or delivered are skipped. Returns the ids enqueued now.
    pub async fn enqueue(&self, tasks: &[OutboxTask]) -> StoreResult<Vec<String>> {
        let mut fresh = Vec::new();
        for t in tasks {
            let r = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(self.outbox_item(t)?))
                .condition_expression("attribute_not_exists(PK)")
                .send()
                .await;
            match map_conditional(r) {
                Ok(_) => fresh.push(t.id.clone()),
                Err(StoreError::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(fresh)
    }

    /// Leases a pending task that is due (not leased by another delivery): moves its due time
    /// [`LEASE_SECS`] ahead and counts the attempt. `None` when it is delivered, given up,
    /// leased elsewhere or missing.
    pub async fn lease_outbox(&self, id: &str) -> StoreResult<Option<Leased>> {
        let now = chrono::Utc::now().timestamp();
        let until = now + LEASE_SECS;
        let token = uuid::Uuid::new_v4().simple().to_string();
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(pk(id)))
            .key("SK", s("OUTBOX"))
            .update_expression("SET due_at = :until, GSI2SK = :key, lease = :tok ADD attempts :one")
            .expression_attribute_values(":tok", s(token.clone()))
            .condition_expression("#st = :pending AND due_at <= :now")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":key", s(due_key(until, id)))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":pending", s(TaskState::Pending.as_str()))
            .expression_attribute_values(":now", n(now))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        let item = match map_conditional(r) {
            Ok(out) => out.attributes.unwrap_or_default(),
            Err(StoreError::Conflict) => return Ok(None),
            Err(e) => return Err(e),
        };
        let task = item
            .get("task")
            .and_then(|v| v.as_s().ok())
            .and_then(|t| serde_json::from_str::<Task>(t).ok());
        let attempts = item
            .get("attempts")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        match task {
            Some(task) => Ok(Some(Leased {
                id: id.to_string(),
                task,
                attempts,
                token,
            })),
            None => {
                tracing::error!(task_id = id, "outbox task unreadable: given up");
                self.finish_outbox(id, &token, TaskState::Failed, Some("unreadable task"))
                    .await?;
                Ok(None)
            }
        }
    }

    /// Records a delivery: `delivered` (tombstone), or a failure that is retried after a
    /// backoff (30 s × 2^attempt, at most [`MAX_BACKOFF_SECS`]) until [`MAX_ATTEMPTS`], then
    /// `failed` (kept for 30 days) — except a history purge, retried until it is done.
    /// Every outcome is written only while `leased` still holds the task (its token, status
    /// `pending`); a lost lease drops the outcome with a warning (the new owner records its
    /// own).
    pub async fn settle_outbox(
        &self,
        leased: &Leased,
        result: &Result<(), String>,
    ) -> StoreResult<()> {
        match result {
            Ok(()) => {
                self.finish_outbox(&leased.id, &leased.token, TaskState::Delivered, None)
                    .await
            }
            Err(e)
                if leased.attempts >= MAX_ATTEMPTS
                    && !matches!(leased.task, Task::PurgeJobHistory { .. }) =>
            {
                // The template's OutboxGivenUp metric filter counts this exact message.
                tracing::error!(task_id = %leased.id, attempts = leased.attempts, error = %e, "outbox task given up");
                self.finish_outbox(&leased.id, &leased.token, TaskState::Failed, Some(e))
                    .await
            }
            Err(e) => {
                // A history purge is never given up (leftover items would disagree with the
                // totals it already moved): retried with the backoff capped at an hour.
                let backoff = (30_i64 << leased.attempts.min(10)).min(MAX_BACKOFF_SECS);
                if leased.attempts >= MAX_ATTEMPTS {
                    tracing::error!(task_id = %leased.id, attempts = leased.attempts, error = %e, "history purge still failing; retried");
                }
                let due = chrono::Utc::now().timestamp() + backoff;
                let r = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .key("PK", s(pk(&leased.id)))
                    .key("SK", s("OUTBOX"))
                    .update_expression("SET due_at = :due, GSI2SK = :key, last_error = :e")
                    .condition_expression("lease = :tok AND #st = :pending")
                    .expression_attribute_names("#st", "status")
                    .expression_attribute_values(":tok", s(leased.token.clone()))
                    .expression_attribute_values(":pending", s(TaskState::Pending.as_str()))
                    .expression_attribute_values(":due", n(due))
                    .expression_attribute_values(":key", s(due_key(due, &leased.id)))
                    .expression_attribute_values(":e", s(e.clone()))
                    .send()
                    .await;
                lease_held(&leased.id, r.map(|_| ()))
            }
        }
    }

    /// Hands a leased task back, due now, without counting the delivery as an attempt: a
    /// long task (a history purge) that made progress and has more to do.
    pub async fn requeue_outbox(&self, leased: &Leased) -> StoreResult<()> {
        let now = chrono::Utc::now().timestamp();
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(pk(&leased.id)))
            .key("SK", s("OUTBOX"))
            .update_expression("SET due_at = :now, GSI2SK = :key ADD attempts :minus")
            .condition_expression("lease = :tok AND #st = :pending")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":tok", s(leased.token.clone()))
            .expression_attribute_values(":pending", s(TaskState::Pending.as_str()))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":key", s(due_key(now, &leased.id)))
            .expression_attribute_values(":minus", n(-1))
            .send()
            .await;
        lease_held(&leased.id, r.map(|_| ()))
    }

    async fn finish_outbox(
        &self,
        id: &str,
        token: &str,
        status: TaskState,
        error: Option<&str>,
    ) -> StoreResult<()> {
        let expires = chrono::Utc::now().timestamp() + TOMBSTONE_SECS;
        let mut b = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(pk(id)))
            .key("SK", s("OUTBOX"))
            .condition_expression("lease = :tok AND #st = :pending")
            .expression_attribute_values(":tok", s(token))
            .expression_attribute_values(":pending", s(TaskState::Pending.as_str()))
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":st", s(status.as_str()))
            .expression_attribute_values(":exp", n(expires));
        b = match error {
            Some(e) => b
                .update_expression(
                    "SET #st = :st, expires_at = :exp, last_error = :e REMOVE GSI2PK, GSI2SK",
                )
                .expression_attribute_values(":e", s(e)),
            None => b.update_expression("SET #st = :st, expires_at = :exp REMOVE GSI2PK, GSI2SK"),
        };
        lease_held(id, b.send().await.map(|_| ()))
    }

    /// Deleted jobs whose history is still being purged (pending `purge-…` tasks, due or
    /// backing off): Query GSI2 `OUTBOX#<shard>` (every pending task, usually a handful),
    /// filtered on `channel = purge`. Their ids, sorted.
    pub async fn pending_purges(&self) -> StoreResult<Vec<String>> {
        let mut ids = Vec::new();
        for shard in 0..SHARDS {
            let items: Vec<_> = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("GSI2")
                .key_condition_expression("GSI2PK = :p")
                .filter_expression("channel = :purge")
                .expression_attribute_values(":p", s(format!("OUTBOX#{shard}")))
                .expression_attribute_values(":purge", s("purge"))
                .into_paginator()
                .items()
                .send()
                .collect()
                .await;
            for item in items {
                if let Some(id) = item?
                    .get("PK")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|p| p.strip_prefix("OUTBOX#purge-"))
                {
                    ids.push(id.to_string());
                }
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Ids of pending tasks due now, oldest first, at most `limit` per shard (Query GSI2
    /// `OUTBOX#<shard>`, `GSI2SK <= <now>#~`, `Limit`).
    pub async fn due_outbox(&self, limit: i32) -> StoreResult<Vec<String>> {
        let now = chrono::Utc::now().timestamp();
        let mut ids = Vec::new();
        for shard in 0..SHARDS {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("GSI2")
                .key_condition_expression("GSI2PK = :p AND GSI2SK <= :upto")
                .expression_attribute_values(":p", s(format!("OUTBOX#{shard}")))
                .expression_attribute_values(":upto", s(format!("{now:010}#~")))
                .limit(limit)
                .send()
                .await?;
            for item in out.items.unwrap_or_default() {
                if let Some(id) = item
                    .get("PK")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|p| p.strip_prefix("OUTBOX#"))
                {
                    ids.push(id.to_string());
                }
            }
        }
        Ok(ids)
    }

    /// A task's state: `(status, attempts, last_error)` (tests and diagnostics).
    pub async fn outbox_status(
        &self,
        id: &str,
    ) -> StoreResult<Option<(String, i64, Option<String>)>> {
        let Some(item) = self.get(pk(id), "OUTBOX").await? else {
            return Ok(None);
        };
        let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        let attempts = item
            .get("attempts")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok(Some((
            text("status").unwrap_or_default(),
            attempts,
            text("last_error"),
        )))
    }
}
