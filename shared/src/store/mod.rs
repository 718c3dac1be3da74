//! The DynamoDB single-table store: the only code that knows keys and indexes.
//! The access patterns are listed, with their key conditions and costs, in
//! `docs/dynamodb-access-patterns.md`; keep that table true when changing this module.
//!
//! Key design (table `PK`/`SK`, overloaded `GSI1PK`/`GSI1SK` and `GSI2PK`/`GSI2SK`,
//! TTL attribute `expires_at`):
//!
//! | entity | PK | SK | GSI1PK / GSI1SK | GSI2PK / GSI2SK |
//! |---|---|---|---|---|
//! | user | `USER#<id>` | `PROFILE` | `USERS` / `<created_at>#<id>` | |
//! | username / email claim | `USERNAME#<u>` / `EMAIL#<e>` | `UNIQUE` | | |
//! | job | `JOB#<id>` | `JOB` | `JOBS` / `<created_at>#<id>` | `SYNC_PENDING` / `<id>` while its schedule may disagree |
//! | job name claim | `JOBNAME#<name identity>` (`domain::name::name_key`) | `UNIQUE` | | |
//! | job list change mark | `JOBLIST` | `MARK` | | |
//! | execution | `JOB#<job_id>` | `EXEC#<started_at>#<id>` | `EXEC#<id>` / `EXEC` | `EXECS#<shard 0-3>` / `EXEC#<started_at>#<id>` (TTL: retention) |
//! | run claim (idempotency key) | `RUN#<job_id>#<scheduled_time>` | `CLAIM` | | |
//! | category / PIC team | `CATEGORY#<id>` / `TEAM#<id>` | same word | `CATEGORIES` / `TEAMS` / `<lower name>#<id>` | |
//! | category / team slug claim | `CATSLUG#<s>` / `TEAMSLUG#<s>` | `UNIQUE` | | |
//! | notification | `USER#<user_id>` | `NOTIF#<created_at>#<id>` | `NOTIF#<id>` / `NOTIF` | |
//! | run in flight | `RUNNING#<shard 0-3>` | `<started_at>#<execution id>` | | |
//! | outbox task | `OUTBOX#<task id>` | `OUTBOX` | | `OUTBOX#<shard 0-3>` / `<due epoch s>#<task id>` while pending |

pub mod audit;
pub mod counters;
mod executions;
pub mod feed;
mod idempotency;
mod jobs;
pub mod lease;
mod notifications;
pub mod outbox;
mod rate;
mod read_mark;
mod retention;
mod settings;
mod taxonomy;
mod throttle;
mod users;
pub mod verify;

pub use executions::{
    all_scopes as execution_counter_scopes, counter_field, job_scope as job_counter_scope, Attempt,
    Execution, ExecutionFilter, ExecutionPage, ExecutionScope, ExecutionStats, RunClaim,
};
pub use idempotency::{IdempotencyRecord, IDEMPOTENCY_TTL_SECS, IN_PROGRESS_TTL_SECS};
pub use jobs::{JobVersion, ListMark, ListSnapshot};
pub use notifications::{scope as notification_counter_scope, Notification, NotificationPage};
pub use rate::RateLimit;
pub use read_mark::ReadMark;
pub use retention::{Restamp, Retention, RetentionCheck};
pub use settings::{GithubOwners, ReconcileRecord, SlackSettings};
pub use taxonomy::{PendingRename, Taxon, TaxonKind};
pub use throttle::Failures;
pub use users::{NotificationPrefs, SessionClaims, UiPrefs, User};

use aws_sdk_dynamodb::{
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
    operation::transact_write_items::TransactWriteItemsError,
    types::{AttributeValue, TransactWriteItem},
    Client,
};
use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Serialize};
use std::collections::HashMap;

/// DynamoDB's partition key limit, bytes.
const MAX_PARTITION_KEY_BYTES: usize = 2048;
/// DynamoDB's sort key limit, bytes.
const MAX_SORT_KEY_BYTES: usize = 1024;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Store failures, typed from the SDK's error kinds and DynamoDB's error codes (never from
/// message text). `Conflict` is a failed condition (a uniqueness claim or an optimistic
/// lock); `Throttled` and `Unavailable` may be retried shortly; the rest is unexpected.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("conditional write failed")]
    Conflict,
    /// Any other DynamoDB service error, with its code.
    #[error("dynamodb: {0}")]
    Dynamo(String),
    /// DynamoDB throttled us past the SDK's retries (`ThrottlingException`,
    /// `ProvisionedThroughputExceededException`, `RequestLimitExceeded`).
    #[error("dynamodb throttled: {0}")]
    Throttled(String),
    /// DynamoDB did not answer in time, could not be reached, or failed on its side
    /// (`InternalServerError`, `ServiceUnavailable`): the request may be tried again shortly.
    #[error("dynamodb unavailable: {0}")]
    Unavailable(String),
    /// A transaction cancelled for reasons other than a failed condition, with DynamoDB's
    /// reason codes in item order (`None` for items that were fine).
    #[error("transaction cancelled: {0:?}")]
    Cancelled(Vec<String>),
    /// A request the SDK's builders refused (a programming error, never input).
    #[error("request not built: {0}")]
    Build(String),
    #[error("a transaction would exceed DynamoDB's 100 items ({0} needed)")]
    TooManyItems(usize),
    #[error("item (de)serialization: {0}")]
    Serde(#[from] serde_dynamo::Error),
}

impl<E, R> From<SdkError<E, R>> for StoreError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn from(e: SdkError<E, R>) -> Self {
        let text = DisplayErrorContext(&e).to_string();
        match &e {
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => StoreError::Unavailable(text),
            SdkError::ServiceError(se) => match se.err().code() {
                Some("ConditionalCheckFailedException") => StoreError::Conflict,
                Some(
                    "ThrottlingException"
                    | "ProvisionedThroughputExceededException"
                    | "RequestLimitExceeded",
                ) => StoreError::Throttled(text),
                Some("InternalServerError" | "ServiceUnavailable") => StoreError::Unavailable(text),
                _ => StoreError::Dynamo(text),
            },
            _ => StoreError::Dynamo(text),
        }
    }
}

impl StoreError {
    /// Whether trying again shortly may succeed (throttled, unavailable).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Throttled(_) | StoreError::Unavailable(_))
    }
}

/// Maps a single-item write result, turning a failed condition into [`StoreError::Conflict`].
pub(crate) fn map_conditional<T, E, R>(r: Result<T, SdkError<E, R>>) -> StoreResult<T>
where
    E: std::error::Error + Send + Sync + 'static + aws_sdk_dynamodb::error::ProvideErrorMetadata,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match r {
        Ok(v) => Ok(v),
        Err(e) => {
            if e.as_service_error().and_then(|se| se.code())
                == Some("ConditionalCheckFailedException")
            {
                Err(StoreError::Conflict)
            } else {
                Err(e.into())
            }
        }
    }
}

/// A failed condition means "nothing to do" here (the item is gone or already newer).
pub(crate) fn ignore_conflict(r: StoreResult<()>) -> StoreResult<()> {
    match r {
        Err(StoreError::Conflict) => Ok(()),
        other => other,
    }
}

/// The shard (`0..shards`) of an id: a stable string hash, so the same id always lands on the
/// same partition (counter scopes, runs-in-flight markers, outbox tasks).
pub(crate) fn shard_of(id: &str, shards: usize) -> usize {
    id.bytes()
        .fold(0usize, |a, b| a.wrapping_mul(31).wrapping_add(b as usize))
        % shards
}

/// Result alias for store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Handle on the table; cheap to clone (the SDK client is shared).
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
    /// The history kept (days, and the first day still visible after a raise).
    retention: Retention,
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// Serializes `value` and adds key attributes.
pub(crate) fn item_with_keys<T: Serialize>(
    value: &T,
    keys: &[(&str, String)],
) -> StoreResult<Item> {
    let mut item: Item = serde_dynamo::to_item(value)?;
    for (k, v) in keys {
        item.insert((*k).to_string(), s(v.clone()));
    }
    Ok(item)
}

pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> StoreResult<T> {
    Ok(serde_dynamo::from_item(item)?)
}

/// A `UNIQUE` claim item: `PK`, `SK=UNIQUE` and the id it points to.
pub(crate) fn claim_item(pk: String, owner_id: &str) -> Item {
    HashMap::from([
        ("PK".into(), s(pk)),
        ("SK".into(), s("UNIQUE")),
        ("owner_id".into(), s(owner_id)),
    ])
}

impl Store {
    /// A store over `table` using a client built once at init.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            retention: Retention::default(),
        }
    }

    /// The same store with a retention period for executions and notifications
    /// (`Config::retention_days`).
    pub fn with_retention(mut self, days: Option<u32>) -> Self {
        self.retention = Retention {
            days,
            kept_since: None,
        };
        self
    }

    /// The same store with the retention recorded for its table ([`Store::settle_retention`]).
    pub fn with_retention_in_effect(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// The retention this store applies.
    pub fn retention(&self) -> &Retention {
        &self.retention
    }

    /// The oldest instant still visible: 00:00 UTC of `today - retention days` (`None`: keep
    /// everything). Executions started and notifications created before it are hidden by
    /// every read (key conditions start there, counts leave those days out) and deleted by
    /// DynamoDB TTL (`expires_at`, one day after they are hidden); the maintenance function
    /// folds their days out of the `TOTAL` counters ([`Store::expire_counters`]).
    pub fn history_floor(&self) -> Option<DateTime<Utc>> {
        self.floor_at(Utc::now())
    }

    /// The day of [`Store::history_floor`]: the first visible UTC day.
    pub(crate) fn floor_day(&self) -> Option<chrono::NaiveDate> {
        self.history_floor().map(|f| f.date_naive())
    }

    fn floor_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let window = self
            .retention
            .days
            .map(|d| now.date_naive() - chrono::Duration::days(d as i64));
        let day = window.max(self.retention.kept_since)?;
        day.and_hms_opt(0, 0, 0).map(|t| t.and_utc())
    }

    /// `max(t, history_floor)`.
    pub(crate) fn visible_from(&self, t: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        match (t, self.history_floor()) {
            (Some(t), Some(f)) => Some(t.max(f)),
            (t, f) => t.or(f),
        }
    }

    /// Whether something that happened at `t` is past retention.
    pub(crate) fn expired(&self, t: DateTime<Utc>) -> bool {
        self.history_floor().is_some_and(|f| t < f)
    }

    /// The TTL attribute of a history item that happened at `t`: one day after the day it
    /// leaves the retention window (`None` without retention).
    pub(crate) fn history_ttl(&self, t: DateTime<Utc>) -> Option<(String, AttributeValue)> {
        let days = self.retention.days? as i64 + 2;
        let day = t.date_naive().and_hms_opt(0, 0, 0)?.and_utc();
        let at = day + chrono::Duration::days(days);
        Some((
            "expires_at".into(),
            AttributeValue::N(at.timestamp().to_string()),
        ))
    }
    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The SDK client (for the local stack's table bootstrap).
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn get(&self, pk: String, sk: &str) -> StoreResult<Option<Item>> {
        // No item can have a key past DynamoDB's limits; asking would be a ValidationException.
        if pk.len() > MAX_PARTITION_KEY_BYTES || sk.len() > MAX_SORT_KEY_BYTES {
            return Ok(None);
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", s(pk))
            .key("SK", s(sk))
            .consistent_read(true)
            .send()
            .await?;
        Ok(out.item)
    }

    /// GetItem deserialized into `T` (strongly consistent); `None` when absent.
    async fn get_as<T: DeserializeOwned>(&self, pk: String, sk: &str) -> StoreResult<Option<T>> {
        self.get(pk, sk).await?.map(from_item).transpose()
    }

    /// PutItem of `value` under `(pk, sk)` only if nothing is stored there
    /// (`attribute_not_exists(PK)`): `false` when something already is.
    async fn create_as<T: Serialize>(&self, value: &T, pk: String, sk: &str) -> StoreResult<bool> {
        let item = item_with_keys(value, &[("PK", pk), ("SK", sk.to_string())])?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match map_conditional(put) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// PutItem of `value` under `(pk, sk)`, unconditional (settings and preferences: the last
    /// writer wins, as for any form).
    async fn put_as<T: Serialize>(&self, value: &T, pk: String, sk: &str) -> StoreResult<()> {
        let item = item_with_keys(value, &[("PK", pk), ("SK", sk.to_string())])?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await?;
        Ok(())
    }

    /// The one item of a GSI1 id partition (`EXEC#<id>`, `NOTIF#<id>`): Query, `Limit 1`.
    /// Over-long ids cannot exist and are `None` without a call.
    async fn get_by_gsi1<T: DeserializeOwned>(&self, pk: String) -> StoreResult<Option<T>> {
        self.gsi1_item(pk).await?.map(from_item).transpose()
    }

    /// [`Store::get_by_gsi1`] as stored (the caller tells the kinds of item apart).
    pub(crate) async fn gsi1_item(&self, pk: String) -> StoreResult<Option<Item>> {
        if pk.len() > 256 {
            return Ok(None);
        }
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(":pk", s(pk))
            .limit(1)
            .send()
            .await?;
        Ok(out.items.unwrap_or_default().into_iter().next())
    }

    /// All items of one GSI1 partition, following every page, in `GSI1SK` order.
    async fn query_gsi1(&self, pk: &str, forward: bool) -> StoreResult<Vec<Item>> {
        self.query_gsi1_projected(pk, forward, None).await
    }

    /// [`Store::query_gsi1`] returning only the attributes of `projection` (a
    /// ProjectionExpression of plain names) when given: fewer bytes to parse, same capacity.
    async fn query_gsi1_projected(
        &self,
        pk: &str,
        forward: bool,
        projection: Option<&str>,
    ) -> StoreResult<Vec<Item>> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(":pk", s(pk))
            .set_projection_expression(projection.map(str::to_string))
            .scan_index_forward(forward)
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        items
            .into_iter()
            .map(|r| r.map_err(StoreError::from))
            .collect()
    }

    /// Runs a transaction; a failed condition anywhere becomes [`StoreError::Conflict`].
    /// A `TransactionConflict` (another transaction holds one of the items, e.g. a concurrent
    /// duplicate delivery) is retried with backoff, so the loser then sees the failed condition.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> StoreResult<()> {
        const ATTEMPTS: u32 = 6;
        for attempt in 0..ATTEMPTS {
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let e = match sent {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let codes: Vec<String> = match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(t)) => t
                    .cancellation_reasons()
                    .iter()
                    .filter_map(|r| r.code().map(str::to_string))
                    .collect(),
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => {
                    vec!["TransactionConflict".into()]
                }
                _ => Vec::new(),
            };
            if codes.iter().any(|c| c == "ConditionalCheckFailed") {
                return Err(StoreError::Conflict);
            }
            if codes.iter().any(|c| c == "TransactionConflict") && attempt + 1 < ATTEMPTS {
                tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                continue;
            }
            let busy = [
                "ThrottlingError",
                "ProvisionedThroughputExceeded",
                "TransactionConflict",
            ];
            if codes.iter().any(|c| busy.contains(&c.as_str())) {
                return Err(StoreError::Throttled(format!(
                    "transaction cancelled: {codes:?}"
                )));
            }
            if codes.iter().any(|c| c != "None") {
                return Err(StoreError::Cancelled(codes));
            }
            return Err(e.into());
        }
        Err(StoreError::Throttled("transaction kept conflicting".into()))
    }

    /// Deletes items by key in batches of 25.
    async fn batch_delete(&self, keys: Vec<(String, String)>) -> StoreResult<()> {
        use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
        let requests = keys
            .into_iter()
            .map(|(pk, sk)| {
                DeleteRequest::builder()
                    .key("PK", s(pk))
                    .key("SK", s(sk))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build())
                    .map_err(|e| StoreError::Build(e.to_string()))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        self.batch_write(requests).await
    }

    /// BatchWriteItem in chunks of 25 ([`BATCH_WRITES_IN_FLIGHT`] at a time), retrying
    /// unprocessed requests with backoff.
    async fn batch_write(
        &self,
        requests: Vec<aws_sdk_dynamodb::types::WriteRequest>,
    ) -> StoreResult<()> {
        // Owned chunks, whole groups joined: a lazy stream over borrowed chunks would make
        // the callers' futures not `Send` for every lifetime (axum handlers need that).
        let chunks: Vec<Vec<_>> = requests.chunks(25).map(<[_]>::to_vec).collect();
        let mut chunks = chunks.into_iter();
        loop {
            let group: Vec<_> = chunks
                .by_ref()
                .take(BATCH_WRITES_IN_FLIGHT)
                .map(|c| self.batch_write_chunk(c))
                .collect();
            if group.is_empty() {
                return Ok(());
            }
            futures::future::try_join_all(group).await?;
        }
    }

    async fn batch_write_chunk(
        &self,
        mut pending: Vec<aws_sdk_dynamodb::types::WriteRequest>,
    ) -> StoreResult<()> {
        for attempt in 0..8u32 {
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, pending)
                .send()
                .await?;
            pending = out
                .unprocessed_items
                .and_then(|mut m| m.remove(&self.table))
                .unwrap_or_default();
            if pending.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
        }
        Err(StoreError::Throttled(
            "batch write left unprocessed items".into(),
        ))
    }
}

/// BatchWriteItem calls one batch write keeps in flight.
const BATCH_WRITES_IN_FLIGHT: usize = 8;

/// Builders for transaction items, keeping the SDK's fallible builders in one place.
pub(crate) mod tx {
    use super::*;
    use aws_sdk_dynamodb::types::{Delete, Put};

    fn err(e: impl std::fmt::Display) -> StoreError {
        StoreError::Build(e.to_string())
    }

    /// Put; `condition` optional with its attribute values and names.
    pub fn put(
        table: &str,
        item: Item,
        condition: Option<&str>,
        values: &[(&str, AttributeValue)],
        names: &[(&str, &str)],
    ) -> StoreResult<TransactWriteItem> {
        let mut b = Put::builder().table_name(table).set_item(Some(item));
        if let Some(c) = condition {
            b = b.condition_expression(c);
        }
        for (k, v) in values {
            b = b.expression_attribute_values(*k, v.clone());
        }
        for (k, v) in names {
            b = b.expression_attribute_names(*k, *v);
        }
        Ok(TransactWriteItem::builder()
            .put(b.build().map_err(err)?)
            .build())
    }

    /// Put that must create (no item with that key yet).
    pub fn create(table: &str, item: Item) -> StoreResult<TransactWriteItem> {
        put(table, item, Some("attribute_not_exists(PK)"), &[], &[])
    }

    /// Delete by key with an optional condition.
    pub fn delete(
        table: &str,
        pk: String,
        sk: &str,
        condition: Option<&str>,
        values: &[(&str, AttributeValue)],
    ) -> StoreResult<TransactWriteItem> {
        let mut b = Delete::builder()
            .table_name(table)
            .key("PK", s(pk))
            .key("SK", s(sk));
        if let Some(c) = condition {
            b = b.condition_expression(c);
        }
        for (k, v) in values {
            b = b.expression_attribute_values(*k, v.clone());
        }
        Ok(TransactWriteItem::builder()
            .delete(b.build().map_err(err)?)
            .build())
    }
}
