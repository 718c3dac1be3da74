//! Jobs, their name claims, and the `SYNC_PENDING` marker that records a job whose
//! EventBridge schedule may not match the table yet (set in the same write as the job,
//! cleared once the schedule call succeeded; see `crate::schedules`).

use super::{
    claim_item, from_item, ignore_conflict, item_with_keys, map_conditional, s, tx, Item, Store,
    StoreError, StoreResult,
};
use crate::domain::{fmt_ts, Job};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};

fn pk(id: &str) -> String {
    format!("JOB#{id}")
}

/// The claim of a job name: one per name identity ([`crate::domain::name::name_key`]), so
/// "Café Sync", "café sync" and its decomposed spelling are one name.
fn name_pk(name: &str) -> String {
    format!("JOBNAME#{}", crate::domain::name::name_key(name))
}

/// The claim key the store wrote before names were compared by identity (the exact name);
/// removed beside the identity claim so none is left behind.
fn legacy_name_pk(name: &str) -> Option<String> {
    let exact = format!("JOBNAME#{name}");
    (exact != name_pk(name)).then_some(exact)
}

/// What identifies one stored state of a job's read shape: `updated_at` changes on every
/// write of the job item that alters it (update, pause, taxonomy rename) but one, the
/// clearing of `created_by` when its creator is deleted, which is why it is part of it.
/// `last_execution_at` is not (it lives on the job's counter item).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct JobVersion {
    /// Job id.
    pub id: String,
    /// The job's `updated_at`.
    #[serde(with = "crate::domain::ts")]
    pub updated_at: DateTime<Utc>,
    /// The job's `created_by` (user id or none).
    #[serde(default)]
    pub created_by: Option<String>,
}

impl JobVersion {
    /// The version of a job as read in full.
    pub fn of(job: &Job) -> Self {
        Self {
            id: job.id.clone(),
            updated_at: job.updated_at,
            created_by: job.created_by.clone(),
        }
    }
}

/// The job list's change mark: one item, `JOBLIST` / `MARK`, `{v: <count of list changes>,
/// changed_at: <UTC>}`, moved (`ADD v 1`) after every write that changes what `GET /jobs`
/// shows of a job (create, bulk create, update, pause, creator cleared, delete). Lets a
/// process that caches the list skip re-reading the list index while the mark stands still
/// ([`crate::job_list`]).
const LIST_MARK: (&str, &str) = ("JOBLIST", "MARK");

/// The job list's change mark as read ([`Store::job_list_snapshot`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListMark {
    /// How many list changes were recorded (0: none ever, the item is absent).
    pub version: u64,
    /// When the last one was (the Unix epoch when none was).
    pub changed_at: DateTime<Utc>,
}

impl ListMark {
    /// The mark of a table in which no list change was ever recorded.
    pub const NONE: ListMark = ListMark {
        version: 0,
        changed_at: DateTime::UNIX_EPOCH,
    };
}

/// What `GET /jobs` reads first, in one BatchGetItem ([`Store::job_list_snapshot`]).
#[derive(Clone, Debug)]
pub struct ListSnapshot {
    /// The caller's user: `None` when it does not exist, else whether it is active.
    pub caller_active: Option<bool>,
    /// Whether the caller's user admits the token's session ([`super::User::admits`]).
    pub caller_session_ok: bool,
    /// The job list's change mark.
    pub mark: ListMark,
    /// `last_execution_at` of the jobs asked for that ever ran, by job id.
    pub last_runs: std::collections::HashMap<String, DateTime<Utc>>,
}

/// Most jobs one bulk transaction carries (two items each, 100 items per transaction).
const JOBS_PER_TX: usize = 50;
/// JSON bytes one bulk transaction carries at most (DynamoDB's limit is 4 MB).
const TX_BYTES: usize = 3 * 1024 * 1024;
/// An item's largest size (DynamoDB's limit), the estimate for one that does not serialize.
const MAX_ITEM_BYTES: usize = 400 * 1024;

impl Store {
    fn job_item(&self, job: &Job, sync_token: &str) -> StoreResult<Item> {
        let mut item = self.job_item_unmarked(job)?;
        item.insert("GSI2PK".into(), s("SYNC_PENDING"));
        item.insert("GSI2SK".into(), s(job.id.clone()));
        item.insert("sync_token".into(), s(sync_token));
        Ok(item)
    }

    fn job_item_unmarked(&self, job: &Job) -> StoreResult<Item> {
        item_with_keys(
            job,
            &[
                ("PK", pk(&job.id)),
                ("SK", "JOB".into()),
                ("GSI1PK", "JOBS".into()),
                ("GSI1SK", format!("{}#{}", fmt_ts(&job.created_at), job.id)),
            ],
        )
    }

    /// GetItem `JOB#<id>` / `JOB` (strongly consistent).
    pub async fn get_job(&self, id: &str) -> StoreResult<Option<Job>> {
        self.get_as(pk(id), "JOB").await
    }

    /// Several jobs by id (BatchGetItem); missing ones are absent from the result.
    pub async fn get_jobs(&self, ids: &[String]) -> StoreResult<Vec<Job>> {
        let keys: Vec<(String, String)> = ids.iter().map(|id| (pk(id), "JOB".into())).collect();
        self.batch_get(&keys)
            .await?
            .into_values()
            .map(from_item)
            .collect()
    }

    /// Every job, newest first (Query GSI1 `JOBS` descending, all pages) — the contract's
    /// unpaginated `GET /jobs`.
    pub async fn list_jobs(&self) -> StoreResult<Vec<Job>> {
        self.query_gsi1("JOBS", false)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    /// Every job's [`JobVersion`], newest first: the same Query as [`Store::list_jobs`]
    /// projected to `id, updated_at, created_by` (same capacity, a fraction of the bytes to
    /// parse). Lets a per-process cache of list entries revalidate on every request.
    pub async fn list_job_versions(&self) -> StoreResult<Vec<JobVersion>> {
        self.query_gsi1_projected("JOBS", false, Some("id, updated_at, created_by"))
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    /// One BatchGetItem (eventually consistent, like the list index itself), projected to
    /// what is needed: the caller's user item (`is_active` and its sessions), the job list's change mark
    /// ([`LIST_MARK`]) and the counter `TOTAL` item of each of `job_ids` (`last_started_at`).
    /// Capacity: half a unit per item found (all under 4 KB), `2 + job_ids.len()` keys.
    pub async fn job_list_snapshot(
        &self,
        user_id: &str,
        session: &super::SessionClaims,
        job_ids: &[&str],
    ) -> StoreResult<ListSnapshot> {
        let user_key = (super::users::pk(user_id), "PROFILE".to_string());
        let mark_key = (LIST_MARK.0.to_string(), LIST_MARK.1.to_string());
        let mut keys = Vec::with_capacity(job_ids.len() + 2);
        keys.push(mark_key.clone());
        // A subject no key can hold is no user (asking would be a ValidationException).
        let user_key = (user_key.0.len() <= super::MAX_PARTITION_KEY_BYTES).then_some(user_key);
        keys.extend(user_key.clone());
        keys.extend(
            job_ids
                .iter()
                .map(|id| (super::executions::job_scope(id), "TOTAL".to_string())),
        );
        let mut items = self
            .batch_get_attrs(
                &keys,
                &[
                    "is_active",
                    "session_version",
                    "kept_session",
                    "revoked_sessions",
                    "v",
                    "changed_at",
                    super::executions::LAST_STARTED_ATTR,
                ],
            )
            .await?;
        let caller = user_key.and_then(|(pk, sk)| items.remove(&format!("{pk}|{sk}")));
        let caller_session_ok = caller
            .as_ref()
            .is_some_and(|u| super::users::item_admits(u, session));
        let caller_active =
            caller.map(|u| u.get("is_active").and_then(|v| v.as_bool().ok()) == Some(&true));
        let mark = items
            .remove(&format!("{}|{}", mark_key.0, mark_key.1))
            .map(|m| ListMark {
                version: m
                    .get("v")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0),
                changed_at: m
                    .get("changed_at")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map_or(DateTime::UNIX_EPOCH, |t| t.with_timezone(&Utc)),
            })
            .unwrap_or(ListMark::NONE);
        let last_runs = super::executions::last_runs_in(&mut items, job_ids);
        Ok(ListSnapshot {
            caller_active,
            caller_session_ok,
            mark,
            last_runs,
        })
    }

    /// Moves the job list's change mark ([`LIST_MARK`]: `ADD v 1`, `changed_at` = now) after
    /// a write that changed the list. Not in the write's transaction (every job write would
    /// then conflict on this one item); a failure is logged and bounded by the list cache's
    /// periodic full check ([`crate::job_list::MAX_TRUST`]).
    pub(super) async fn note_list_changed(&self) {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(LIST_MARK.0))
            .key("SK", s(LIST_MARK.1))
            .update_expression("ADD v :one SET changed_at = :now")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":now", s(fmt_ts(&Utc::now())))
            .send()
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %super::StoreError::from(e), "job list change mark not moved");
        }
    }

    /// Whether a job name (by identity: [`crate::domain::name::name_key`]) is claimed.
    pub async fn job_name_taken(&self, name: &str) -> StoreResult<bool> {
        Ok(self.get(name_pk(name), "UNIQUE").await?.is_some())
    }

    /// Which of `names` are claimed, by identity (BatchGetItem on the name claims, 100 keys
    /// per call): the names of `names` whose identity is taken.
    pub async fn taken_job_names(
        &self,
        names: &[String],
    ) -> StoreResult<std::collections::HashSet<String>> {
        let keys: std::collections::BTreeSet<String> = names
            .iter()
            .map(|n| crate::domain::name::name_key(n))
            .collect();
        let keys: Vec<String> = keys.into_iter().collect();
        let taken = self.taken_name_keys(&keys).await?;
        Ok(names
            .iter()
            .filter(|n| taken.contains(&crate::domain::name::name_key(n)))
            .cloned()
            .collect())
    }

    async fn taken_name_keys(
        &self,
        unique: &[String],
    ) -> StoreResult<std::collections::HashSet<String>> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut taken = std::collections::HashSet::new();
        for chunk in unique.chunks(100) {
            let mut keys = KeysAndAttributes::builder().consistent_read(true);
            for n in chunk {
                keys = keys.keys(std::collections::HashMap::from([
                    ("PK".to_string(), s(format!("JOBNAME#{n}"))),
                    ("SK".to_string(), s("UNIQUE")),
                ]));
            }
            let mut request = Some(keys.build().map_err(|e| StoreError::Build(e.to_string()))?);
            while let Some(req) = request.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, req)
                    .send()
                    .await?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    if let Some(AttributeValue::S(pk)) = item.get("PK") {
                        if let Some(n) = pk.strip_prefix("JOBNAME#") {
                            taken.insert(n.to_string());
                        }
                    }
                }
                request = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys.is_empty());
            }
        }
        Ok(taken)
    }

    /// The transaction items that release a job's name: its identity claim and, when the
    /// store wrote one before names were compared by identity, its exact-name claim — each
    /// deleted if it is this job's, and a claim already gone is no failure.
    fn release_name_claims(&self, name: &str, job_id: &str) -> StoreResult<Vec<TransactWriteItem>> {
        std::iter::once(name_pk(name))
            .chain(legacy_name_pk(name))
            .map(|claim| {
                tx::delete(
                    &self.table,
                    claim,
                    "UNIQUE",
                    Some("attribute_not_exists(PK) OR owner_id = :id"),
                    &[(":id", s(job_id.to_string()))],
                )
            })
            .collect()
    }

    /// Claims every job's name identity (a stack whose claims were written by exact name
    /// before): PutItem `JOBNAME#<identity>` if absent, then DeleteItem of the exact-name
    /// claim. Idempotent; run once per stack by the maintenance sweep (marker
    /// `SETTINGS`/`NAME_KEYS`). Returns the identities two jobs share (left to an admin:
    /// neither is renamed behind their back).
    pub async fn claim_name_identities(&self) -> StoreResult<Vec<String>> {
        let mut shared = Vec::new();
        for job in self.list_jobs().await? {
            let r = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(claim_item(name_pk(&job.name), &job.id)))
                .condition_expression("attribute_not_exists(PK) OR owner_id = :id")
                .expression_attribute_values(":id", s(job.id.clone()))
                .send()
                .await;
            match super::map_conditional(r) {
                Ok(_) => {}
                Err(StoreError::Conflict) => shared.push(job.name.clone()),
                Err(e) => return Err(e),
            }
            if let Some(exact) = legacy_name_pk(&job.name) {
                let r = self
                    .client
                    .delete_item()
                    .table_name(&self.table)
                    .key("PK", s(exact))
                    .key("SK", s("UNIQUE"))
                    .condition_expression("owner_id = :id")
                    .expression_attribute_values(":id", s(job.id.clone()))
                    .send()
                    .await;
                super::ignore_conflict(super::map_conditional(r).map(|_| ()))?;
            }
        }
        Ok(shared)
    }

    /// Creates a job and its name claim, marked `SYNC_PENDING` with `sync_token`.
    /// `Conflict` when the name is taken.
    /// `tasks` (its notifications) are enqueued, and `audit` written, in the same transaction.
    pub async fn create_job(
        &self,
        job: &Job,
        sync_token: &str,
        tasks: &[super::outbox::OutboxTask],
        audit: Option<&super::audit::AuditEntry>,
    ) -> StoreResult<()> {
        let mut items = vec![
            tx::create(&self.table, self.job_item(job, sync_token)?)?,
            tx::create(&self.table, claim_item(name_pk(&job.name), &job.id))?,
        ];
        items.extend(self.outbox_items(tasks)?);
        items.extend(audit.map(|a| self.audit_tx(a)).transpose()?);
        self.transact(items).await?;
        self.note_list_changed().await;
        Ok(())
    }

    /// Creates many jobs: first their audit entries from `audit` (BatchWriteItem: append-only
    /// items under fresh ids), then [`JOBS_PER_TX`] jobs per transaction (job and name claim:
    /// 100 items), 8 transactions in flight; the jobs `pending` picks carry the `SYNC_PENDING`
    /// mark with `sync_token` (bulk upload: their schedules are made by a task right after, and
    /// the sweep repairs what it leaves). Returns, per job, whether it was written; a chunk that
    /// loses a name race is retried job by job so one taken name only costs its own row, and
    /// the entries of jobs not written are deleted. Entries go first so that a crash between
    /// the two never leaves a created job without its entry (at worst, entries of jobs that
    /// were not created, each naming its job id).
    pub async fn create_jobs(
        &self,
        jobs: &[Job],
        sync_token: &str,
        pending: impl Fn(&Job) -> bool,
        audit: impl Fn(&Job) -> super::audit::AuditEntry,
    ) -> StoreResult<Vec<bool>> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        use futures::StreamExt;
        let entries: Vec<Item> = jobs
            .iter()
            .map(|j| self.audit_item(&audit(j)))
            .collect::<StoreResult<_>>()?;
        let entry_keys: Vec<(String, String)> = entries
            .iter()
            .map(|i| {
                let k = |a: &str| {
                    i.get(a)
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default()
                };
                (k("PK"), k("SK"))
            })
            .collect();
        let requests = entries
            .into_iter()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|p| WriteRequest::builder().put_request(p).build())
                    .map_err(|e| StoreError::Build(e.to_string()))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        self.batch_write(requests).await?;
        let item = |job: &Job| {
            if pending(job) {
                self.job_item(job, sync_token)
            } else {
                self.job_item_unmarked(job)
            }
        };
        // Chunks of at most JOBS_PER_TX jobs and TX_BYTES of JSON (a job may carry 64 KB of
        // metadata; a transaction takes at most 4 MB).
        let mut chunks: Vec<(Vec<TransactWriteItem>, Vec<Vec<TransactWriteItem>>)> = Vec::new();
        let mut bytes = 0;
        for job in jobs {
            let size = serde_json::to_vec(job).map_or(MAX_ITEM_BYTES, |b| b.len()) + 2048;
            let full = chunks
                .last()
                .is_none_or(|(_, jobs)| jobs.len() >= JOBS_PER_TX || bytes + size > TX_BYTES);
            if full {
                chunks.push((Vec::new(), Vec::new()));
                bytes = 0;
            }
            bytes += size;
            let writes = vec![
                tx::create(&self.table, item(job)?)?,
                tx::create(&self.table, claim_item(name_pk(&job.name), &job.id))?,
            ];
            if let Some((items, one_by_one)) = chunks.last_mut() {
                items.extend(writes.iter().cloned());
                one_by_one.push(writes);
            }
        }
        let results: Vec<StoreResult<Vec<bool>>> = futures::stream::iter(chunks)
            .map(|(items, one_by_one)| async move {
                match self.transact(items).await {
                    Ok(()) => Ok(vec![true; one_by_one.len()]),
                    Err(StoreError::Conflict) => {
                        let mut written = Vec::with_capacity(one_by_one.len());
                        for pair in one_by_one {
                            match self.transact(pair).await {
                                Ok(()) => written.push(true),
                                Err(StoreError::Conflict) => written.push(false),
                                Err(e) => return Err(e),
                            }
                        }
                        Ok(written)
                    }
                    Err(e) => Err(e),
                }
            })
            // 8 in flight: measured faster than 4 (docs/benchmarks.md, bulk upload).
            .buffered(8)
            .collect()
            .await;
        let mut written = Vec::with_capacity(jobs.len());
        for r in results {
            written.extend(r?);
        }
        let orphans: Vec<(String, String)> = entry_keys
            .into_iter()
            .zip(&written)
            .filter(|(_, ok)| !**ok)
            .map(|(k, _)| k)
            .collect();
        if !orphans.is_empty() {
            self.batch_delete(orphans).await?;
        }
        if written.contains(&true) {
            self.note_list_changed().await;
        }
        Ok(written)
    }

    /// Replaces a job if it still has `previous.updated_at` (optimistic lock), moving the name
    /// claim when the name changed, and marks it `SYNC_PENDING`. `Conflict` when the job changed
    /// meanwhile or the new name is taken.
    /// `tasks` (its notifications) are enqueued, and `audit` written, in the same transaction.
    pub async fn update_job(
        &self,
        previous: &Job,
        job: &Job,
        sync_token: &str,
        tasks: &[super::outbox::OutboxTask],
        audit: Option<&super::audit::AuditEntry>,
    ) -> StoreResult<()> {
        // An UpdateItem of every attribute but `last_execution_at` (kept on the job's counter
        // item, see `Store::with_last_runs`; rows written before that may still carry one).
        let item = self.job_item(job, sync_token)?;
        let mut b = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key("PK", s(pk(&job.id)))
            .key("SK", s("JOB"))
            .condition_expression("attribute_exists(PK) AND #prev = :prev")
            .expression_attribute_names("#prev", "updated_at")
            .expression_attribute_values(":prev", s(fmt_ts(&previous.updated_at)));
        let mut sets = Vec::new();
        for (i, (name, value)) in item
            .into_iter()
            .filter(|(n, _)| !matches!(n.as_str(), "PK" | "SK" | "last_execution_at"))
            .enumerate()
        {
            sets.push(format!("#n{i} = :v{i}"));
            b = b
                .expression_attribute_names(format!("#n{i}"), name)
                .expression_attribute_values(format!(":v{i}"), value);
        }
        let update = b
            .update_expression(format!("SET {}", sets.join(", ")))
            .build()
            .map_err(|e| StoreError::Build(e.to_string()))?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        // A new name identity moves the claim; a new spelling of the same name keeps it.
        if name_pk(&previous.name) != name_pk(&job.name) {
            items.extend(self.release_name_claims(&previous.name, &job.id)?);
            items.push(tx::create(
                &self.table,
                claim_item(name_pk(&job.name), &job.id),
            )?);
        }
        items.extend(self.outbox_items(tasks)?);
        items.extend(audit.map(|a| self.audit_tx(a)).transpose()?);
        self.transact(items).await?;
        self.note_list_changed().await;
        Ok(())
    }

    /// Marks a job `SYNC_PENDING` before its schedule is removed (delete path).
    pub async fn mark_sync_pending(&self, job_id: &str, sync_token: &str) -> StoreResult<()> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(pk(job_id)))
            .key("SK", s("JOB"))
            .update_expression("SET GSI2PK = :p, GSI2SK = :id, sync_token = :t")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":p", s("SYNC_PENDING"))
            .expression_attribute_values(":id", s(job_id))
            .expression_attribute_values(":t", s(sync_token))
            .send()
            .await;
        map_conditional(r.map(|_| ()))
    }

    /// Clears the `SYNC_PENDING` marker if it is still the one `sync_token` set (a later write
    /// keeps its own marker). A lost race is not an error.
    pub async fn clear_sync_pending(&self, job_id: &str, sync_token: &str) -> StoreResult<()> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(pk(job_id)))
            .key("SK", s("JOB"))
            .update_expression("REMOVE GSI2PK, GSI2SK, sync_token")
            .condition_expression("sync_token = :t")
            .expression_attribute_values(":t", s(sync_token))
            .send()
            .await;
        ignore_conflict(map_conditional(r.map(|_| ())))
    }

    /// `(job id, sync token)` of jobs marked `SYNC_PENDING` (Query GSI2, sparse: only jobs
    /// awaiting repair).
    pub async fn sync_pending_jobs(&self) -> StoreResult<Vec<(String, String)>> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("GSI2")
            .key_condition_expression("GSI2PK = :p")
            .expression_attribute_values(":p", s("SYNC_PENDING"))
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        let mut ids = Vec::new();
        for item in items {
            let item = item?;
            if let (Some(AttributeValue::S(id)), Some(AttributeValue::S(t))) =
                (item.get("GSI2SK"), item.get("sync_token"))
            {
                ids.push((id.clone(), t.clone()));
            }
        }
        Ok(ids)
    }

    /// Auto-pause: sets `is_active = false` (bumping `updated_at`) only if the job is still
    /// active and its stored end date is still before `today` — a concurrent write that
    /// extended the end date or paused it wins. `tasks` (the notices) are enqueued in the same
    /// transaction. Returns whether this call paused it.
    pub async fn pause_if_expired(
        &self,
        job_id: &str,
        today: chrono::NaiveDate,
        now: DateTime<Utc>,
        tasks: &[super::outbox::OutboxTask],
    ) -> StoreResult<bool> {
        let today = s(today.format("%Y-%m-%d").to_string());
        self.pause_in_transaction(
            (job_id, &now),
            ("", " AND end_date < :today", (":today", today)),
            tasks,
        )
        .await
    }

    /// Pauses active job `job_id` at `now` (`SET is_active = false, updated_at`, plus
    /// `extra_set`, if `is_active` and `extra_condition`; `value` is the one extra expression
    /// value) with its notice `tasks` in one transaction, then moves the list change mark;
    /// `false` when the condition failed (nothing written).
    async fn pause_in_transaction(
        &self,
        (job_id, now): (&str, &DateTime<Utc>),
        (extra_set, extra_condition, value): (&str, &str, (&str, AttributeValue)),
        tasks: &[super::outbox::OutboxTask],
    ) -> StoreResult<bool> {
        let u = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key("PK", s(pk(job_id)))
            .key("SK", s("JOB"))
            .update_expression(format!("SET is_active = :f, updated_at = :now{extra_set}"))
            .condition_expression(format!("is_active = :t{extra_condition}"))
            .expression_attribute_values(":f", AttributeValue::Bool(false))
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .expression_attribute_values(":now", s(fmt_ts(now)))
            .expression_attribute_values(value.0, value.1)
            .build()
            .map_err(|e| StoreError::Build(e.to_string()))?;
        let mut items = vec![TransactWriteItem::builder().update(u).build()];
        items.extend(self.outbox_items(tasks)?);
        match self.transact(items).await {
            Ok(()) => {
                self.note_list_changed().await;
                Ok(true)
            }
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Pauses an active job with its pause record (`pause_after_failures`, issue 23) and
    /// enqueues `tasks` (the notices) in the same transaction; `false` when it was no longer
    /// active (paused or deleted meanwhile: nobody to tell).
    pub async fn pause_with(
        &self,
        job_id: &str,
        pause: &crate::domain::Pause,
        tasks: &[super::outbox::OutboxTask],
    ) -> StoreResult<bool> {
        let record = serde_dynamo::to_attribute_value(pause)?;
        self.pause_in_transaction(
            (job_id, &pause.at),
            (", pause = :pause", "", (":pause", record)),
            tasks,
        )
        .await
    }

    /// A transaction item that fails unless the job exists (a ConditionCheck: nothing is
    /// written to the job item or its index copies).
    pub(crate) fn job_exists_check(&self, job_id: &str) -> StoreResult<TransactWriteItem> {
        let c = aws_sdk_dynamodb::types::ConditionCheck::builder()
            .table_name(&self.table)
            .key("PK", s(pk(job_id)))
            .key("SK", s("JOB"))
            .condition_expression("attribute_exists(PK)")
            .build()
            .map_err(|e| StoreError::Dynamo(e.to_string()))?;
        Ok(TransactWriteItem::builder().condition_check(c).build())
    }

    /// Sets `created_by = null` on the jobs a deleted user created (reads the job list: a rare
    /// admin action).
    pub(crate) async fn clear_job_creator(&self, user_id: &str) -> StoreResult<()> {
        let mut changed = false;
        for job in self.list_jobs().await? {
            if job.created_by.as_deref() != Some(user_id) {
                continue;
            }
            let r = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("PK", s(pk(&job.id)))
                .key("SK", s("JOB"))
                .update_expression("SET created_by = :null")
                .condition_expression("created_by = :u")
                .expression_attribute_values(":null", AttributeValue::Null(true))
                .expression_attribute_values(":u", s(user_id))
                .send()
                .await;
            ignore_conflict(map_conditional(r.map(|_| ())))?;
            changed = true;
        }
        if changed {
            self.note_list_changed().await;
        }
        Ok(())
    }

    /// Deletes a job and its name claim, and enqueues in the same transaction `tasks` (its
    /// notices) and the purge of its history ([`Store::purge_job_history`], task
    /// `purge-<job id>`): the request does not wait for a history of any size. Until the purge
    /// finishes, the job's rows are hidden by every read (they belong to no job); its all-time
    /// totals leave the all-jobs totals right after the delete (one counter item moved).
    pub async fn delete_job(
        &self,
        job: &Job,
        tasks: &[super::outbox::OutboxTask],
        audit: Option<&super::audit::AuditEntry>,
    ) -> StoreResult<()> {
        let mut items = vec![tx::delete(&self.table, pk(&job.id), "JOB", None, &[])?];
        items.extend(self.release_name_claims(&job.name, &job.id)?);
        let mut tasks = tasks.to_vec();
        tasks.push(super::outbox::OutboxTask::new(
            format!("purge-{}", job.id),
            super::outbox::Task::PurgeJobHistory {
                job_id: job.id.clone(),
            },
        ));
        items.extend(self.outbox_items(&tasks)?);
        items.extend(audit.map(|a| self.audit_tx(a)).transpose()?);
        self.transact(items).await?;
        // All-time totals leave the job at once (one small item); the purge moves the rest.
        let (_, moved) = futures::future::join(
            self.note_list_changed(),
            self.move_counter_item(
                &super::executions::job_scope(&job.id),
                &super::executions::all_scopes()[0],
                "TOTAL",
            ),
        )
        .await;
        if let Err(e) = moved {
            tracing::warn!(job_id = %job.id, error = %e, "job totals left to the history purge");
        }
        Ok(())
    }

    /// One slice of a deleted job's history removal, until `deadline`: its executions first
    /// (keys-only Query `JOB#<id>` `begins_with(SK, EXEC#)` `Limit 1000` + BatchWriteItem
    /// deletes; a run completing meanwhile fails its `status = running` condition and writes
    /// no counts), then its counters, subtracted from `XSTAT#ALL#0` item by item
    /// ([`Store::subtract_scope`], idempotent). Returns `true` when nothing is left. Safe to
    /// repeat and to resume after a crash.
    pub async fn purge_job_history(
        &self,
        job_id: &str,
        deadline: std::time::Instant,
    ) -> StoreResult<bool> {
        loop {
            let keys = self.first_keys(&pk(job_id), "EXEC#", 1000).await?;
            if keys.is_empty() {
                break;
            }
            self.batch_delete(keys).await?;
            if std::time::Instant::now() >= deadline {
                return Ok(false);
            }
        }
        self.subtract_scope(
            &super::executions::job_scope(job_id),
            &super::executions::all_scopes()[0],
            deadline,
        )
        .await
    }
}
