//! Executions (api-contract §2.3), kept in their job's partition newest-last by sort key,
//! and run claims that make scheduled delivery idempotent.

use super::{
    counters::{self, floor_minute, CounterChanges, Delta, RangeCounts, Tally},
    from_item, item_with_keys, s, tx, Store, StoreError, StoreResult,
};
use crate::domain::{fmt_ts, ts, ExecutionStatus, ExecutionType, Trigger};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How long a run claim is kept (TTL), seconds: far longer than any redelivery window.
const CLAIM_TTL_SECS: i64 = 7 * 24 * 3600;

/// Attribute of a job's `XSTAT#JOB#<id>` / `TOTAL` counter item holding its newest run's
/// `started_at` (the job's `last_execution_at`).
pub(super) const LAST_STARTED_ATTR: &str = "last_started_at";

/// Partitions of the runs-in-flight markers (`RUNNING#<n>`).
const RUNNING_SHARDS: usize = 4;

/// The marker of a run in flight: `RUNNING#<shard>` / `<started_at>#<id>`, written with the
/// `running` row and deleted with its completion (a sparse "index" of running runs).
/// `last_execution_at` by job id, taken out of `items` (BatchGetItem answers by
/// `"<PK>|<SK>"`) from each of `job_ids`' `TOTAL` counter item; jobs that never ran are absent.
pub(super) fn last_runs_in(
    items: &mut std::collections::HashMap<String, super::Item>,
    job_ids: &[&str],
) -> std::collections::HashMap<String, DateTime<Utc>> {
    job_ids
        .iter()
        .filter_map(|id| {
            let item = items.remove(&format!("{}|TOTAL", job_scope(id)))?;
            let t = item.get(LAST_STARTED_ATTR)?.as_s().ok()?;
            let t = DateTime::parse_from_rfc3339(t).ok()?.with_timezone(&Utc);
            Some((id.to_string(), t))
        })
        .collect()
}

fn running_marker(e: &Execution) -> super::Item {
    let shard = super::shard_of(&e.id, RUNNING_SHARDS);
    std::collections::HashMap::from([
        ("PK".to_string(), s(format!("RUNNING#{shard}"))),
        (
            "SK".to_string(),
            s(format!("{}#{}", fmt_ts(&e.started_at), e.id)),
        ),
        ("execution_id".to_string(), s(e.id.clone())),
        ("job_id".to_string(), s(e.job_id.clone())),
    ])
}

/// One run of a job.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Execution {
    pub id: String,
    pub job_id: String,
    /// `running` → `success` | `failed` | `timed_out`; or at once `skipped` | `missed`.
    pub status: ExecutionStatus,
    /// `scheduled` | `manual` | `backfill`.
    pub trigger_type: Trigger,
    #[serde(with = "ts")]
    pub started_at: DateTime<Utc>,
    #[serde(default, with = "ts::option")]
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<f64>,
    /// `github_actions` | `webhook`.
    pub execution_type: Option<ExecutionType>,
    /// The webhook URL or `owner/repo/workflow`.
    pub target: Option<String>,
    pub response_status: Option<u16>,
    pub error_message: Option<String>,
    pub output: Option<String>,
    /// The schedule's fire time this run answers; `None` for manual runs.
    #[serde(default, with = "ts::option")]
    pub scheduled_time: Option<DateTime<Utc>>,
    /// `started_at - scheduled_time` in milliseconds; `None` for manual runs.
    #[serde(default)]
    pub start_delay_ms: Option<i64>,
    /// Delivery of this run's alerts, per channel (`email`, `slack`): `sent`, `skipped: …`
    /// or `failed: …`. Written after the run is recorded; empty until then.
    #[serde(default)]
    pub alerts: std::collections::BTreeMap<String, String>,
    /// Each outbound attempt, oldest first (one unless the job's retry policy retried).
    #[serde(default)]
    pub attempts: Vec<Attempt>,
}

/// One outbound attempt of a run (issue 23).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Attempt {
    #[serde(with = "ts")]
    pub started_at: DateTime<Utc>,
    /// `success`, `failed` or `timed_out`.
    pub status: ExecutionStatus,
    pub response_status: Option<u16>,
    pub error: Option<String>,
}

impl Execution {
    /// The execution JSON (api-contract §2.3), timestamps RFC 3339 UTC `Z`.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The counter field of this run's state: status (`r`unning, `s`uccess, `f`ailed),
    /// trigger (`S`cheduled, `M`anual), type (`g`ithub_actions, `w`ebhook, `n`one).
    pub fn counter_field(&self) -> String {
        counter_field(self.status, self.trigger_type, self.execution_type)
    }

    /// The counts of this row as it stands: one in its state's field, plus its duration in
    /// the success / failed sum once finished (bucketed at `started_at`).
    pub(super) fn recorded_delta(&self) -> Delta {
        let mut adds = vec![(self.counter_field(), 1)];
        let micros = self.duration_micros();
        if micros != 0 && self.status.is_finished() {
            let f = if self.status == ExecutionStatus::Success {
                DURATION_SUCCESS_FIELD
            } else {
                DURATION_FAILED_FIELD
            };
            adds.push((f.to_string(), micros));
        }
        Delta {
            at: self.started_at,
            adds,
        }
    }

    fn duration_micros(&self) -> i64 {
        self.duration_seconds
            .map(|d| (d * 1e6).round() as i64)
            .unwrap_or(0)
    }

    fn sort_key(&self) -> String {
        format!("EXEC#{}#{}", fmt_ts(&self.started_at), self.id)
    }
}

/// Counter field code of a status/trigger/type combination (see [`Execution::counter_field`]).
pub fn counter_field(
    status: ExecutionStatus,
    trigger: Trigger,
    execution_type: Option<ExecutionType>,
) -> String {
    let ty = execution_type.map_or('n', ExecutionType::code);
    format!("{}{}{ty}", status.code(), trigger.code())
}

/// Sum of successful durations in a tally, microseconds.
pub const DURATION_SUCCESS_FIELD: &str = "ds";
/// Sum of failed durations in a tally, microseconds.
pub const DURATION_FAILED_FIELD: &str = "df";
/// Shards of the every-execution index (`EXECS#<n>`), which reads merge.
pub const ALL_SHARDS: usize = 4;
/// Shards of the all-jobs counters (`XSTAT#ALL#<n>`). A run writes 16 WCU into its shard's
/// partition (8 `ADD`s in two transactions) and 4 into each of its 4 counter items: 16
/// shards keep the partitions under DynamoDB's 1,000 WCU/s up to 1,000 runs/s even without
/// split-for-heat, the items up to 4,000 (docs/cost.md, "Capacity ceiling"). Reads sum every
/// shard, so the count may grow: runs counted under fewer shards stay where they are.
pub const COUNTER_SHARDS: usize = 16;

/// The counter scopes of all executions (every shard).
pub fn all_scopes() -> Vec<String> {
    (0..COUNTER_SHARDS)
        .map(|i| format!("XSTAT#ALL#{i}"))
        .collect()
}

/// The counter scope of one job's executions.
pub fn job_scope(job_id: &str) -> String {
    format!("XSTAT#JOB#{job_id}")
}

/// The write-sharded time-ordered index of every execution: GSI2 `EXECS#<shard>`, the shard
/// chosen by execution id, so a burst of runs at
/// the top of the hour spreads over [`ALL_SHARDS`] index partitions; reads merge the shards.
fn execs_partition(execution_id: &str) -> String {
    format!("EXECS#{}", super::shard_of(execution_id, ALL_SHARDS))
}

pub(super) fn all_scope_of(execution_id: &str) -> String {
    format!(
        "XSTAT#ALL#{}",
        super::shard_of(execution_id, COUNTER_SHARDS)
    )
}

/// Statistics over a tally (api-contract §3.7): counts by status and duration sums.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecutionStats {
    pub total: i64,
    pub success: i64,
    pub failed: i64,
    pub running: i64,
    pub timed_out: i64,
    pub skipped: i64,
    pub missed: i64,
    /// Sum of successful runs' durations, seconds.
    pub success_seconds: f64,
    /// Sum of failed runs' durations, seconds.
    pub failed_seconds: f64,
}

impl ExecutionStats {
    /// Reads the counts of executions matching `filter`'s trigger and type (status is not
    /// filtered: the statistics report every status).
    pub fn from_tally(t: &Tally, filter: &ExecutionFilter) -> Self {
        let by = |st: char| {
            t.sum(|f| f.len() == 3 && f.starts_with(st) && filter.matches_ignoring_status(f))
        };
        let (success, failed, running) = (by('s'), by('f'), by('r'));
        let (timed_out, skipped, missed) = (by('t'), by('k'), by('m'));
        Self {
            total: success + failed + running + timed_out + skipped + missed,
            success,
            failed,
            running,
            timed_out,
            skipped,
            missed,
            success_seconds: t.get(DURATION_SUCCESS_FIELD) as f64 / 1e6,
            failed_seconds: t.get(DURATION_FAILED_FIELD) as f64 / 1e6,
        }
    }
}

/// The idempotency key of one scheduled delivery: job id plus the schedule's fire time,
/// normalised to whole UTC seconds, so every spelling of one instant is one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunClaim {
    pub job_id: String,
    pub scheduled_time: DateTime<Utc>,
}

impl RunClaim {
    /// Parses the delivery's RFC 3339 fire time (any offset, any fraction); `None` when it is
    /// not one.
    pub fn parse(job_id: &str, scheduled_time: &str) -> Option<Self> {
        let t = DateTime::parse_from_rfc3339(scheduled_time.trim()).ok()?;
        let t = t.with_timezone(&Utc);
        let secs = DateTime::from_timestamp(t.timestamp(), 0)?;
        Some(Self {
            job_id: job_id.to_string(),
            scheduled_time: secs,
        })
    }

    /// `RUN#<job id>#<YYYY-MM-DDTHH:MM:SSZ>`.
    fn key(&self) -> String {
        format!(
            "RUN#{}#{}",
            self.job_id,
            self.scheduled_time.format("%Y-%m-%dT%H:%M:%SZ")
        )
    }
}

/// Filters of the execution lists (api-contract §3.7). Empty `statuses` means any.
#[derive(Clone, Debug, Default)]
pub struct ExecutionFilter {
    pub limit: usize,
    pub statuses: Vec<String>,
    pub trigger_type: Option<String>,
    pub execution_type: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl ExecutionFilter {
    /// Whether a counter field (status/trigger/type code) is counted by this filter.
    pub fn matches_field(&self, field: &str) -> bool {
        if field.len() != 3 {
            return false;
        }
        let st = field.as_bytes()[0] as char;
        (self.statuses.is_empty()
            || self
                .statuses
                .iter()
                .filter_map(|s| ExecutionStatus::parse(s))
                .any(|s| s.code() == st))
            && self.matches_ignoring_status(field)
    }

    fn matches_ignoring_status(&self, field: &str) -> bool {
        let b = field.as_bytes();
        if b.len() != 3 {
            return false;
        }
        // A value outside the contract's set matches nothing.
        let tr_ok = self
            .trigger_type
            .as_deref()
            .is_none_or(|t| Trigger::parse(t).is_some_and(|t| t.code() as u8 == b[1]));
        let ty_ok = self
            .execution_type
            .as_deref()
            .is_none_or(|t| ExecutionType::parse(t).is_some_and(|t| t.code() as u8 == b[2]));
        tr_ok && ty_ok
    }

    /// Number of matching executions counted in a tally.
    pub fn count(&self, t: &Tally) -> i64 {
        t.sum(|f| self.matches_field(f))
    }
}

/// Which executions a list or statistics read covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecutionScope {
    /// Every job's executions (the time-ordered index).
    All,
    /// One job's executions (its partition).
    Job(String),
}

impl ExecutionScope {
    /// The counter scopes to sum.
    pub fn counter_scopes(&self) -> Vec<String> {
        match self {
            ExecutionScope::All => all_scopes(),
            ExecutionScope::Job(id) => vec![job_scope(id)],
        }
    }
}

/// One page of executions and the total matching the filter.
#[derive(Clone, Debug, Default)]
pub struct ExecutionPage {
    pub items: Vec<Execution>,
    pub total: i64,
}

impl Store {
    /// The execution's item: keys, index keys and its retention TTL.
    fn execution_item(&self, e: &Execution) -> StoreResult<super::Item> {
        let mut item = item_with_keys(
            e,
            &[
                ("PK", format!("JOB#{}", e.job_id)),
                ("SK", e.sort_key()),
                ("GSI1PK", format!("EXEC#{}", e.id)),
                ("GSI1SK", "EXEC".into()),
                ("GSI2PK", execs_partition(&e.id)),
                ("GSI2SK", e.sort_key()),
            ],
        )?;
        item.extend(self.history_ttl(e.started_at));
        Ok(item)
    }

    /// Records a `running` execution (or one already finished without running: `skipped`,
    /// `missed`). With a claim, the claim and the row are written in one transaction that
    /// succeeds only for the first delivery: returns `false` for a duplicate. A running one
    /// gets its run-in-flight marker, which the abandoned-run sweep leaves alone until
    /// `abandon_after` (when given).
    pub async fn start_execution(
        &self,
        e: &Execution,
        claim: Option<&RunClaim>,
        abandon_after: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        let running = e.status == ExecutionStatus::Running;
        let mut items = vec![tx::create(&self.table, self.execution_item(e)?)?];
        let delta = Delta {
            at: e.started_at,
            adds: vec![(e.counter_field(), 1)],
        };
        let mut all =
            counters::updates(&self.table, &all_scope_of(&e.id), &delta, self.floor_day())?;
        let mut job = CounterChanges::default();
        job.add(&job_scope(&e.job_id), &delta);
        // The job's last run time lives on its small `TOTAL` counter item, which this
        // transaction updates anyway: recording a run never rewrites the job item or its
        // `JOBS` index copy (a hot partition when thousands of jobs fire together). A fire
        // time not run (skipped, missed) is no run.
        if running {
            job.set_on_total(LAST_STARTED_ATTR, s(fmt_ts(&e.started_at)));
        }
        all.extend(job.into_updates(&self.table, self.floor_day())?);
        items.extend(all);
        // The job must still exist: checked in the same transaction as the claim, so once the
        // run is claimed nothing else must succeed before the run can happen.
        items.push(self.job_exists_check(&e.job_id)?);
        if let Some(c) = claim {
            let expires = Utc::now().timestamp() + CLAIM_TTL_SECS;
            let claim_item = std::collections::HashMap::from([
                ("PK".to_string(), s(c.key())),
                ("SK".to_string(), s("CLAIM")),
                ("execution_id".to_string(), s(e.id.clone())),
                (
                    "expires_at".to_string(),
                    AttributeValue::N(expires.to_string()),
                ),
            ]);
            items.insert(0, tx::create(&self.table, claim_item)?);
        }
        if running {
            let mut marker = running_marker(e);
            if let Some(t) = abandon_after {
                marker.insert(
                    "abandon_after".into(),
                    AttributeValue::N(t.timestamp().to_string()),
                );
            }
            items.push(tx::put(&self.table, marker, None, &[], &[])?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes the completed row if the stored one is still `running`, moving its counts from
    /// `running` to its final status in the same transaction; `false` when another writer (the
    /// abandoned-run sweep) completed it first.
    /// `tasks` (the run's notifications and alerts) are enqueued in the same transaction, so
    /// they exist exactly when the result does.
    pub async fn complete_execution(
        &self,
        e: &Execution,
        tasks: &[super::outbox::OutboxTask],
    ) -> StoreResult<bool> {
        // Counted as running since its start: that count moves to the final state.
        let running = counter_field(ExecutionStatus::Running, e.trigger_type, e.execution_type);
        let mut delta = e.recorded_delta();
        delta.adds.insert(0, (running, -1));
        let mut items = vec![tx::put(
            &self.table,
            self.execution_item(e)?,
            Some("#status = :running"),
            &[(":running", s(ExecutionStatus::Running.as_str()))],
            &[("#status", "status")],
        )?];
        items.extend(self.execution_counter_updates(&e.id, &e.job_id, &delta)?);
        let marker = running_marker(e);
        items.push(tx::delete(
            &self.table,
            marker["PK"].as_s().cloned().unwrap_or_default(),
            marker["SK"].as_s().map(String::as_str).unwrap_or_default(),
            None,
            &[],
        )?);
        items.extend(self.outbox_items(tasks)?);
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Parks a `running` run until its next attempt (issue 23): Put the row as it stands
    /// (its attempts so far) with `resume_attempt = attempt` if it is still `running`, Put its
    /// run-in-flight marker with the later `abandon_after`, and enqueue `task` (the one-time
    /// schedule of that attempt), in one transaction; `false` when the row is no longer
    /// `running` (the abandoned-run sweep completed it first).
    pub async fn park_execution(
        &self,
        e: &Execution,
        attempt: u32,
        abandon_after: DateTime<Utc>,
        task: &super::outbox::OutboxTask,
    ) -> StoreResult<bool> {
        let mut item = self.execution_item(e)?;
        item.insert(
            "resume_attempt".into(),
            AttributeValue::N(attempt.to_string()),
        );
        let mut marker = running_marker(e);
        marker.insert(
            "abandon_after".into(),
            AttributeValue::N(abandon_after.timestamp().to_string()),
        );
        let mut items = vec![
            tx::put(
                &self.table,
                item,
                Some("#status = :running"),
                &[(":running", s(ExecutionStatus::Running.as_str()))],
                &[("#status", "status")],
            )?,
            tx::put(&self.table, marker, None, &[], &[])?,
        ];
        items.extend(self.outbox_items(std::slice::from_ref(task))?);
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Claims attempt `attempt` of a parked run for this delivery: UpdateItem `REMOVE
    /// resume_attempt` if `status = running AND resume_attempt = :n`. `false` when another
    /// delivery claimed it, or the run ended.
    pub async fn claim_attempt(&self, e: &Execution, attempt: u32) -> StoreResult<bool> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(format!("JOB#{}", e.job_id)))
            .key("SK", s(e.sort_key()))
            .update_expression("REMOVE resume_attempt")
            .condition_expression("#status = :running AND resume_attempt = :n")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":running", s(ExecutionStatus::Running.as_str()))
            .expression_attribute_values(":n", AttributeValue::N(attempt.to_string()))
            .send()
            .await;
        match super::map_conditional(r) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn execution_counter_updates(
        &self,
        execution_id: &str,
        job_id: &str,
        delta: &Delta,
    ) -> StoreResult<Vec<aws_sdk_dynamodb::types::TransactWriteItem>> {
        let mut items = counters::updates(
            &self.table,
            &all_scope_of(execution_id),
            delta,
            self.floor_day(),
        )?;
        items.extend(counters::updates(
            &self.table,
            &job_scope(job_id),
            delta,
            self.floor_day(),
        )?);
        Ok(items)
    }

    /// Which of `claims` (one job's fire times) a delivery has claimed already: one
    /// BatchGetItem of their `RUN#…` / `CLAIM` keys (at most 100 per call; claims are tiny).
    pub async fn claimed(
        &self,
        claims: &[RunClaim],
    ) -> StoreResult<std::collections::HashSet<DateTime<Utc>>> {
        let keys: Vec<(String, String)> = claims
            .iter()
            .map(|c| (c.key(), "CLAIM".to_string()))
            .collect();
        let found = self.batch_get(&keys).await?;
        Ok(claims
            .iter()
            .filter(|c| found.contains_key(&format!("{}|CLAIM", c.key())))
            .map(|c| c.scheduled_time)
            .collect())
    }

    /// Counter sums of a scope over an optional range (all time when both bounds are absent).
    /// Returns the per-bucket counts too when a range was given.
    pub async fn execution_counts(
        &self,
        scope: &ExecutionScope,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<(Tally, Option<RangeCounts>)> {
        let scopes = scope.counter_scopes();
        self.counts(&scopes, from, to).await
    }

    /// One page of executions newest first: `total` from the counters, the page start found
    /// from the counters ([`Store::locate_offset`]), then one Query from there reading about
    /// one page (plus rows the filter drops); the first page's Query runs concurrently with
    /// the counts. Range bounds apply at minute precision.
    pub async fn execution_page(
        &self,
        scope: &ExecutionScope,
        filter: &ExecutionFilter,
        offset: usize,
    ) -> StoreResult<ExecutionPage> {
        // The first page needs no positioning: it starts at the newest item of the range, so
        // its Query runs beside the counts (a round trip less; when the range turns out empty,
        // the few rows it may have read are dropped).
        if offset == 0 && filter.limit > 0 {
            let ((tally, _), items) = futures::future::try_join(
                self.execution_counts(scope, filter.from, filter.to),
                self.query_executions(
                    scope,
                    filter,
                    filter.from.map(floor_minute),
                    filter.to.map(floor_minute),
                    0,
                    filter.limit,
                ),
            )
            .await?;
            let total = filter.count(&tally);
            let items = if total > 0 { items } else { Vec::new() };
            return Ok(ExecutionPage { items, total });
        }
        let scopes = scope.counter_scopes();
        let (tally, span) = self.page_counts(&scopes, filter.from, filter.to).await?;
        let total = filter.count(&tally);
        let empty = || ExecutionPage {
            items: Vec::new(),
            total,
        };
        let Some(span) = span.filter(|_| (offset as i64) < total && filter.limit > 0) else {
            return Ok(empty());
        };
        let matches = |t: &Tally| filter.count(t);
        let Some((lo, p)) = self
            .locate_page(
                &scopes,
                span,
                (offset as i64, filter.limit as i64),
                &matches,
            )
            .await?
        else {
            return Ok(empty());
        };
        let (hi, skip) = (Some(p.bucket_end), p.skip as usize);
        let items = self
            .query_executions(scope, filter, lo, hi, skip, filter.limit)
            .await?;
        Ok(ExecutionPage { items, total })
    }

    /// Newest first within `[lo, hi)`, skipping `skip` matching rows, returning at most
    /// `limit`. One job: one Query of its partition. All jobs: the same Query on each
    /// `EXECS#<shard>` partition of GSI2, concurrently, merged by sort key. Each Query asks for
    /// `Limit = skip + limit` rows and pages on only while the filter leaves it short.
    async fn query_executions(
        &self,
        scope: &ExecutionScope,
        filter: &ExecutionFilter,
        lo: Option<DateTime<Utc>>,
        hi: Option<DateTime<Utc>>,
        skip: usize,
        limit: usize,
    ) -> StoreResult<Vec<Execution>> {
        let lo = format!(
            "EXEC#{}",
            self.visible_from(lo)
                .as_ref()
                .map(fmt_ts)
                .unwrap_or_default()
        );
        let hi = match hi {
            Some(h) => format!("EXEC#{}#~", fmt_ts(&(h - Duration::microseconds(1)))),
            None => "EXEC#~".into(),
        };
        let want = skip + limit;
        if lo > hi {
            // The range ends before the retention floor.
            return Ok(Vec::new());
        }
        let mut rows = match scope {
            ExecutionScope::Job(id) => {
                self.query_execution_partition(None, format!("JOB#{id}"), &lo, &hi, filter, want)
                    .await?
            }
            ExecutionScope::All => {
                let shards = (0..ALL_SHARDS).map(|i| {
                    self.query_execution_partition(
                        Some("GSI2"),
                        format!("EXECS#{i}"),
                        &lo,
                        &hi,
                        filter,
                        want,
                    )
                });
                let mut merged: Vec<Execution> = futures::future::try_join_all(shards)
                    .await?
                    .into_iter()
                    .flatten()
                    .collect();
                merged.sort_by_cached_key(|e| std::cmp::Reverse(e.sort_key()));
                merged
            }
        };
        rows.truncate(want);
        Ok(rows.into_iter().skip(skip).collect())
    }

    /// At most `want` matching executions of one partition (a job's, or one `EXECS#<shard>`
    /// of GSI2), newest first, sort key in `[lo, hi]`.
    async fn query_execution_partition(
        &self,
        index: Option<&str>,
        pk_value: String,
        lo: &str,
        hi: &str,
        filter: &ExecutionFilter,
        want: usize,
    ) -> StoreResult<Vec<Execution>> {
        let (pk_name, sk_name) = match index {
            Some(_) => ("GSI2PK", "GSI2SK"),
            None => ("PK", "SK"),
        };
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_string))
            .key_condition_expression(format!("{pk_name} = :pk AND {sk_name} BETWEEN :lo AND :hi"))
            .expression_attribute_values(":pk", s(pk_value))
            .expression_attribute_values(":lo", s(lo))
            .expression_attribute_values(":hi", s(hi))
            .scan_index_forward(false)
            .limit(want.clamp(1, 1000) as i32);
        let (expr, names, values) = filter_expression(filter);
        if let Some(expr) = expr {
            q = q.filter_expression(expr);
            for (k, v) in names {
                q = q.expression_attribute_names(k, v);
            }
            for (k, v) in values {
                q = q.expression_attribute_values(k, v);
            }
        }
        let mut stream = q.into_paginator().items().send();
        let mut out = Vec::with_capacity(want);
        while out.len() < want {
            match stream.next().await {
                Some(item) => out.push(from_item(item?)?),
                None => break,
            }
        }
        Ok(out)
    }

    /// Fills each job's `last_execution_at` from [`Store::last_runs`]: `None` for a job that
    /// never ran.
    pub async fn with_last_runs(&self, jobs: &mut [crate::domain::Job]) -> StoreResult<()> {
        let ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
        let mut last = self.last_runs(&ids).await?;
        for job in jobs.iter_mut() {
            job.last_execution_at = last.remove(&job.id);
        }
        Ok(())
    }

    /// The start of each job's newest run, by job id, from its `XSTAT#JOB#<id>` / `TOTAL`
    /// counter item (BatchGetItem, 100 keys per call, that one attribute projected); jobs
    /// that never ran are absent.
    pub async fn last_runs(
        &self,
        job_ids: &[&str],
    ) -> StoreResult<std::collections::HashMap<String, DateTime<Utc>>> {
        let keys: Vec<(String, String)> = job_ids
            .iter()
            .map(|id| (job_scope(id), "TOTAL".to_string()))
            .collect();
        let mut items = self.batch_get_attrs(&keys, &[LAST_STARTED_ATTR]).await?;
        Ok(last_runs_in(&mut items, job_ids))
    }

    /// Moves a job's `last_execution_at` forward to `at` (never back): imports, whose rows
    /// arrive in any order.
    async fn note_last_run(&self, job_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(job_scope(job_id)))
            .key("SK", s("TOTAL"))
            .update_expression("SET #l = :t")
            .condition_expression("attribute_not_exists(#l) OR #l < :t")
            .expression_attribute_names("#l", LAST_STARTED_ATTR)
            .expression_attribute_values(":t", s(fmt_ts(&at)))
            .send()
            .await;
        super::ignore_conflict(super::map_conditional(r.map(|_| ())))
    }

    /// The most recent execution of a job (Query `Limit 1`).
    pub async fn latest_execution(&self, job_id: &str) -> StoreResult<Option<Execution>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", s(format!("JOB#{job_id}")))
            .expression_attribute_values(
                ":lo",
                s(format!(
                    "EXEC#{}",
                    self.history_floor()
                        .as_ref()
                        .map(fmt_ts)
                        .unwrap_or_default()
                )),
            )
            .expression_attribute_values(":hi", s("EXEC#~"))
            .scan_index_forward(false)
            .limit(1)
            .send()
            .await?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .next()
            .map(from_item)
            .transpose()
    }

    /// An execution by id (Query GSI1 `EXEC#<id>`, `Limit 1`).
    /// `None` once it is past retention.
    pub async fn get_execution(&self, id: &str) -> StoreResult<Option<Execution>> {
        Ok(self
            .get_by_gsi1::<Execution>(format!("EXEC#{id}"))
            .await?
            .filter(|e| !self.expired(e.started_at)))
    }

    /// Executions still `running` that started at or before `started_before`, oldest first,
    /// at most `limit` per shard: Query `RUNNING#<shard>` with `SK <= <started_before>~`
    /// (one small marker item per run in flight, written and deleted with the run), then one
    /// GSI1 lookup per stale run; `true` beside a run carried over by an import
    /// ([`Store::import_execution`]). Markers whose execution is gone (or no longer
    /// `running`) are returned as `Err((PK, SK))`.
    pub async fn stale_running(
        &self,
        started_before: DateTime<Utc>,
        limit: i32,
    ) -> StoreResult<Vec<Result<(Execution, bool), (String, String)>>> {
        let mut out = Vec::new();
        for shard in 0..RUNNING_SHARDS {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :p AND SK <= :upto")
                .expression_attribute_values(":p", s(format!("RUNNING#{shard}")))
                .expression_attribute_values(":upto", s(format!("{}~", fmt_ts(&started_before))))
                .limit(limit)
                .send()
                .await?;
            for item in page.items.unwrap_or_default() {
                let (Some(AttributeValue::S(sk)), Some(AttributeValue::S(id))) =
                    (item.get("SK"), item.get("execution_id"))
                else {
                    continue;
                };
                let imported = item.contains_key("imported");
                let budget_left = item
                    .get("abandon_after")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<i64>().ok())
                    .is_some_and(|t| t > Utc::now().timestamp());
                if budget_left {
                    continue;
                }
                match self.get_execution(id).await? {
                    Some(e) if e.status == ExecutionStatus::Running => out.push(Ok((e, imported))),
                    _ => out.push(Err((format!("RUNNING#{shard}"), sk.clone()))),
                }
            }
        }
        Ok(out)
    }

    /// Writes a finished (or still `running`) execution carried over from another deployment,
    /// with its counts, in one transaction that only succeeds the first time: `false` when it
    /// is already there (an import re-run). A carried-over `running` row gets a run-in-flight
    /// marker (flagged `imported`): no executor of ours will finish it, so the sweep settles it
    /// as failed with the reason ([`crate::engine::Engine::fail_abandoned`]), without alerts.
    pub async fn import_execution(&self, e: &Execution) -> StoreResult<bool> {
        let delta = e.recorded_delta();
        let mut items = vec![tx::create(&self.table, self.execution_item(e)?)?];
        if e.status == ExecutionStatus::Running {
            let mut marker = running_marker(e);
            marker.insert("imported".into(), AttributeValue::Bool(true));
            items.push(tx::put(&self.table, marker, None, &[], &[])?);
        }
        items.extend(self.execution_counter_updates(&e.id, &e.job_id, &delta)?);
        match self.transact(items).await {
            Ok(()) => {
                self.note_last_run(&e.job_id, e.started_at).await?;
                Ok(true)
            }
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Bulk load of finished executions for benchmarks and fixtures: rows by BatchWriteItem
    /// (8 calls in flight), counters merged per counter item and added with one UpdateItem
    /// each (16 in flight), the jobs' last run times moved forward. **Not idempotent** (a
    /// second load of the same rows counts them twice) and not for live data: use
    /// [`Store::import_execution`] there.
    pub async fn seed_executions(&self, rows: &[Execution]) -> StoreResult<()> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let mut requests = Vec::with_capacity(rows.len());
        let mut changes = CounterChanges::default();
        let mut last: std::collections::HashMap<&str, DateTime<Utc>> = Default::default();
        for e in rows {
            let put = PutRequest::builder()
                .set_item(Some(self.execution_item(e)?))
                .build()
                .map_err(|x| StoreError::Build(x.to_string()))?;
            requests.push(WriteRequest::builder().put_request(put).build());
            let delta = e.recorded_delta();
            changes.add(&all_scope_of(&e.id), &delta);
            changes.add(&job_scope(&e.job_id), &delta);
            let t = last.entry(e.job_id.as_str()).or_insert(e.started_at);
            *t = (*t).max(e.started_at);
        }
        self.batch_write(requests).await?;
        let updates: Vec<_> = changes
            .into_updates(&self.table, self.floor_day())?
            .into_iter()
            .filter_map(|t| t.update)
            .collect();
        for group in updates.chunks(16) {
            let calls = group.iter().map(|u| {
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(u.key.clone()))
                    .update_expression(u.update_expression.clone())
                    .set_expression_attribute_names(u.expression_attribute_names.clone())
                    .set_expression_attribute_values(u.expression_attribute_values.clone())
                    .send()
            });
            futures::future::try_join_all(calls).await?;
        }
        for (job_id, at) in last {
            self.note_last_run(job_id, at).await?;
        }
        Ok(())
    }

    /// Every execution of a job, oldest first (Query `PK = JOB#<id>`, `begins_with(SK, EXEC#)`,
    /// all pages): export only.
    pub async fn all_job_executions(&self, job_id: &str) -> StoreResult<Vec<Execution>> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :e)")
            .expression_attribute_values(":pk", s(format!("JOB#{job_id}")))
            .expression_attribute_values(":e", s("EXEC#"))
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        items.into_iter().map(|i| from_item(i?)).collect()
    }

    /// Records how one alert channel of a run went (`alerts.<channel> = status`), on the
    /// execution item found by id; nothing when the execution is gone.
    pub async fn record_alert(
        &self,
        execution_id: &str,
        channel: &str,
        status: &str,
    ) -> StoreResult<()> {
        let Some(e) = self.get_execution(execution_id).await? else {
            return Ok(());
        };
        // Every execution written by this code carries an `alerts` map; one written before it
        // existed gets the whole map instead (the nested path would be invalid there).
        let key =
            |b: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder| {
                b.table_name(&self.table)
                    .key("PK", s(format!("JOB#{}", e.job_id)))
                    .key("SK", s(e.sort_key()))
                    .condition_expression("attribute_exists(PK)")
            };
        let nested = key(self.client.update_item())
            .update_expression("SET alerts.#c = :v")
            .expression_attribute_names("#c", channel)
            .expression_attribute_values(":v", s(status))
            .send()
            .await;
        match nested {
            Err(err)
                if err.as_service_error().and_then(|x| x.meta().code())
                    == Some("ValidationException") =>
            {
                let r = key(self.client.update_item())
                    .update_expression("SET alerts = :m")
                    .expression_attribute_values(
                        ":m",
                        AttributeValue::M([(channel.to_string(), s(status))].into()),
                    )
                    .send()
                    .await;
                super::ignore_conflict(super::map_conditional(r.map(|_| ())))
            }
            r => super::ignore_conflict(super::map_conditional(r.map(|_| ()))),
        }
    }

    /// Deletes a run-in-flight marker whose run is gone or finished.
    pub async fn drop_running_marker(&self, pk: String, sk: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(pk))
            .key("SK", s(sk))
            .send()
            .await?;
        Ok(())
    }

    /// A job's executions newest first (Query `JOB#<id>`, SK range over `EXEC#<from>`…`EXEC#<to>`,
    /// descending, filters on status/trigger type), at most `filter.limit`.
    pub async fn list_job_executions(
        &self,
        job_id: &str,
        filter: &ExecutionFilter,
    ) -> StoreResult<Vec<Execution>> {
        let lo = format!(
            "EXEC#{}",
            self.visible_from(filter.from)
                .as_ref()
                .map(fmt_ts)
                .unwrap_or_default()
        );
        let hi = format!(
            "EXEC#{}",
            filter.to.as_ref().map(fmt_ts).unwrap_or_else(|| "~".into())
        );
        if lo > hi {
            return Ok(Vec::new());
        }
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", s(format!("JOB#{job_id}")))
            .expression_attribute_values(":lo", s(lo))
            .expression_attribute_values(":hi", s(hi))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(filter.limit.clamp(1, 1000) as i32);
        let (expr, names, values) = filter_expression(filter);
        if let Some(expr) = expr {
            q = q.filter_expression(expr);
            for (k, v) in names {
                q = q.expression_attribute_names(k, v);
            }
            for (k, v) in values {
                q = q.expression_attribute_values(k, v);
            }
        }
        let mut stream = q.into_paginator().items().send();
        let mut out = Vec::new();
        while out.len() < filter.limit {
            match stream.next().await {
                Some(item) => {
                    let e: Execution = from_item(item?)?;
                    // `to` is exclusive; the BETWEEN above is inclusive of the prefix.
                    if filter.to.is_some_and(|to| e.started_at >= to) {
                        continue;
                    }
                    out.push(e);
                }
                None => break,
            }
        }
        Ok(out)
    }
}

/// The FilterExpression of a filter's status list, trigger and type, with its names and values.
#[allow(clippy::type_complexity)]
fn filter_expression(
    filter: &ExecutionFilter,
) -> (
    Option<String>,
    Vec<(String, String)>,
    Vec<(String, AttributeValue)>,
) {
    let mut conditions = Vec::new();
    let mut names = Vec::new();
    let mut values = Vec::new();
    if !filter.statuses.is_empty() {
        let placeholders: Vec<String> = (0..filter.statuses.len())
            .map(|i| format!(":st{i}"))
            .collect();
        for (n, v) in placeholders.iter().zip(&filter.statuses) {
            values.push((n.clone(), s(v.clone())));
        }
        conditions.push(format!("#status IN ({})", placeholders.join(", ")));
        names.push(("#status".to_string(), "status".to_string()));
    }
    if let Some(t) = &filter.trigger_type {
        conditions.push("trigger_type = :tt".into());
        values.push((":tt".into(), s(t.clone())));
    }
    if let Some(t) = &filter.execution_type {
        conditions.push("execution_type = :xt".into());
        values.push((":xt".into(), s(t.clone())));
    }
    let expr = (!conditions.is_empty()).then(|| conditions.join(" AND "));
    (expr, names, values)
}
