//! In-app notifications (api-contract §2.4). A notice for everyone is one item of the shared
//! feed ([`super::feed`]); a notice for some users (an auto-pause, an ending-soon reminder)
//! is one item per recipient in the recipient's user partition (newest last by sort key), also
//! filed by read state in GSI2 (`NUNREAD#<user>` / `NREAD#<user>`, ordered by creation) so
//! unread lists and delete-read read only what they touch. Totals and `unread_count` come
//! from the user's counters (`NSTAT#<user>`, fields `u` unread and `r` read — own items and
//! feed exceptions) and the feed's, updated in the same transaction as every write.

use super::{
    counters::{floor_minute, Delta, Tally},
    feed::{feed_scopes, later},
    from_item, item_with_keys,
    read_mark::ReadMark,
    s, tx, Item, Store, StoreError, StoreResult,
};
use crate::domain::{fmt_ts, now, ts, Level};
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A transaction item with the counter changes it causes.
type CountedWrite = (TransactWriteItem, Vec<(String, Delta)>);

/// Unread counter field.
const UNREAD: &str = "u";
/// Read counter field.
const READ: &str = "r";

/// One notification for one user. `kind` is `success` | `error` | `warning` | `info`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Notification {
    pub id: String,
    pub user_id: String,
    pub title: String,
    pub message: String,
    #[serde(rename = "type")]
    pub kind: Level,
    pub related_job_id: Option<String>,
    pub related_execution_id: Option<String>,
    pub is_read: bool,
    #[serde(default, with = "ts::option")]
    pub read_at: Option<DateTime<Utc>>,
    #[serde(with = "ts")]
    pub created_at: DateTime<Utc>,
}

impl Notification {
    /// The notification JSON (api-contract §2.4), timestamps RFC 3339 UTC `Z`.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The notification as its owner sees it: one covered by their read mark reads as read
    /// (`read_at` = the mark that covered it), whatever its stored state.
    pub fn as_seen(mut self, mark: Option<&ReadMark>) -> Self {
        if let Some(m) = mark.filter(|m| !self.is_read && m.covers(self.created_at)) {
            self.is_read = true;
            self.read_at = Some(m.read_at(self.created_at));
        }
        self
    }

    pub(super) fn field(&self) -> &'static str {
        if self.is_read {
            READ
        } else {
            UNREAD
        }
    }
}

pub use super::read_mark::scope;

/// A notification id derived from what it is for (UUID v5 of `<seed>/<who>`): a repeated
/// delivery of the same outbox task (`seed`) to the same recipient, or the feed, gets the same
/// id, so its claim makes the write happen once.
pub(crate) fn derived_id(seed: &str, who: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("{seed}/{who}").as_bytes(),
    )
    .to_string()
}

/// The claim of notification id `id` (`NOTIFID#<id>` / `UNIQUE`, TTL 30 days from `at`),
/// created in the notification's own transaction: a repeated delivery fails its condition
/// instead of writing a second notification (the notification's key embeds its time).
pub(crate) fn notice_claim(id: &str, at: DateTime<Utc>) -> Item {
    std::collections::HashMap::from([
        ("PK".to_string(), s(format!("NOTIFID#{id}"))),
        ("SK".to_string(), s("UNIQUE")),
        (
            "expires_at".to_string(),
            aws_sdk_dynamodb::types::AttributeValue::N(
                (at.timestamp() + 30 * 24 * 3600).to_string(),
            ),
        ),
    ])
}

impl Store {
    /// Whether notification id `id` is already claimed (a failed write was a repeat).
    pub(crate) async fn notice_claimed(&self, id: &str) -> StoreResult<bool> {
        Ok(self.get(format!("NOTIFID#{id}"), "UNIQUE").await?.is_some())
    }
}

fn state_pk(user_id: &str, read: bool) -> String {
    if read {
        format!("NREAD#{user_id}")
    } else {
        format!("NUNREAD#{user_id}")
    }
}

/// One page of a user's notifications and the total matching.
#[derive(Clone, Debug, Default)]
pub struct NotificationPage {
    pub items: Vec<Notification>,
    pub total: i64,
}

impl Store {
    fn notification_item(&self, n: &Notification) -> StoreResult<Item> {
        let ts_key = format!("{}#{}", fmt_ts(&n.created_at), n.id);
        let mut item = item_with_keys(
            n,
            &[
                ("PK", format!("USER#{}", n.user_id)),
                ("SK", format!("NOTIF#{ts_key}")),
                ("GSI1PK", format!("NOTIF#{}", n.id)),
                ("GSI1SK", "NOTIF".into()),
                ("GSI2PK", state_pk(&n.user_id, n.is_read)),
                ("GSI2SK", ts_key),
            ],
        )?;
        item.extend(self.history_ttl(n.created_at));
        Ok(item)
    }

    pub(super) fn delta(n: &Notification, adds: Vec<(&str, i64)>) -> Vec<(String, Delta)> {
        vec![(
            scope(&n.user_id),
            Delta {
                at: n.created_at,
                adds: adds.into_iter().map(|(f, v)| (f.to_string(), v)).collect(),
            },
        )]
    }

    /// Writes the same notification to each recipient (duplicates dropped), one transaction
    /// per recipient with their unread counters. Each notification id is derived from
    /// `(seed, user id)` (UUID v5) and claimed, so delivering the same outbox task (`seed` =
    /// its id) again writes nothing twice: already-written ones are skipped one by one.
    #[allow(clippy::too_many_arguments)]
    pub async fn notify(
        &self,
        seed: &str,
        recipients: &[String],
        title: &str,
        message: &str,
        kind: Level,
        related_job_id: Option<&str>,
        related_execution_id: Option<&str>,
    ) -> StoreResult<()> {
        let mut seen = std::collections::HashSet::new();
        let notes: Vec<Notification> = recipients
            .iter()
            .filter(|u| seen.insert(u.as_str()))
            .map(|user_id| Notification {
                id: derived_id(seed, user_id),
                user_id: user_id.clone(),
                title: title.into(),
                message: message.into(),
                kind,
                related_job_id: related_job_id.map(str::to_string),
                related_execution_id: related_execution_id.map(str::to_string),
                is_read: false,
                read_at: None,
                created_at: now(),
            })
            .collect();
        // One transaction per recipient (notification + id claim + read-mark check +
        // counters), so a redelivery skips exactly the ones already written; 8 in flight.
        use futures::StreamExt;
        let results: Vec<StoreResult<()>> = futures::stream::iter(notes)
            .map(|n| self.notify_one(n))
            .buffer_unordered(8)
            .collect()
            .await;
        results.into_iter().collect::<StoreResult<Vec<()>>>()?;
        Ok(())
    }

    /// Writes one recipient's notification unless its id is already claimed. A read mark
    /// set at the same instant fails the check: the notification is then stamped again.
    async fn notify_one(&self, mut n: Notification) -> StoreResult<()> {
        for _ in 0..3 {
            n.created_at = now();
            let claim = notice_claim(&n.id, n.created_at);
            let mut changes = super::counters::CounterChanges::default();
            for (scope, d) in Self::delta(&n, vec![(UNREAD, 1)]) {
                changes.add(&scope, &d);
            }
            let mut items = vec![
                tx::create(&self.table, self.notification_item(&n)?)?,
                tx::create(&self.table, claim)?,
                self.mark_before(&n.user_id, n.created_at)?,
            ];
            items.extend(changes.into_updates(&self.table, self.floor_day())?);
            match self.transact(items).await {
                Err(StoreError::Conflict) => {
                    if self.notice_claimed(&n.id).await? {
                        return Ok(());
                    }
                }
                other => return other,
            }
        }
        Err(StoreError::Conflict)
    }

    /// Writes a notification carried over from another deployment (id, times and read state
    /// kept) with its counts, only the first time: `false` when it is already there.
    pub async fn import_notification(&self, n: &Notification) -> StoreResult<bool> {
        let mut n = n.clone();
        for _ in 0..2 {
            let mut changes = super::counters::CounterChanges::default();
            for (scope, d) in Self::delta(&n, vec![(n.field(), 1)]) {
                changes.add(&scope, &d);
            }
            let mut items = vec![tx::create(&self.table, self.notification_item(&n)?)?];
            if !n.is_read {
                items.push(self.mark_before(&n.user_id, n.created_at)?);
            }
            items.extend(changes.into_updates(&self.table, self.floor_day())?);
            match self.transact(items).await {
                Ok(()) => return Ok(true),
                Err(StoreError::Conflict) if !n.is_read => {
                    // Already there, or the owner's read mark covers it: then it is read.
                    let mark = self.read_mark(&n.user_id).await?;
                    if !mark.as_ref().is_some_and(|m| m.covers(n.created_at)) {
                        return Ok(false);
                    }
                    n = n.as_seen(mark.as_ref());
                }
                Err(StoreError::Conflict) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// Every notification of a user, oldest first (Query `PK = USER#<id>`,
    /// `begins_with(SK, NOTIF#)`, all pages): export only.
    pub async fn all_user_notifications(&self, user_id: &str) -> StoreResult<Vec<Notification>> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :n)")
            .expression_attribute_values(":pk", s(format!("USER#{user_id}")))
            .expression_attribute_values(":n", s("NOTIF#"))
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        items.into_iter().map(|i| from_item(i?)).collect()
    }

    /// A user's own notification by id (Query GSI1 `NOTIF#<id>`, `Limit 1`); `None` for a
    /// feed item ([`Store::user_notification`] sees those) and once past retention.
    pub async fn get_notification(&self, id: &str) -> StoreResult<Option<Notification>> {
        let Some(item) = self.gsi1_item(format!("NOTIF#{id}")).await? else {
            return Ok(None);
        };
        if item
            .get("GSI1SK")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
            != Some("NOTIF")
        {
            return Ok(None);
        }
        Ok(Some(from_item::<Notification>(item)?).filter(|n| !self.expired(n.created_at)))
    }

    /// A user's newest own notifications as stored, at most `limit` (one Query with `Limit`).
    pub async fn recent_notifications(
        &self,
        user_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<Notification>> {
        use futures::StreamExt;
        let Some(stream) = self.time_range_stream(
            None,
            ("PK", format!("USER#{user_id}")),
            ("SK", "NOTIF#"),
            None,
            None,
            limit,
        ) else {
            return Ok(Vec::new());
        };
        let items: Vec<StoreResult<Item>> = stream.take(limit).collect().await;
        items.into_iter().map(|i| from_item(i?)).collect()
    }

    /// A user's unread count over an optional range (own items and the feed, mark applied).
    pub async fn unread_count(
        &self,
        user_id: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<i64> {
        if from.is_none() && to.is_none() && self.history_floor().is_none() {
            // The polled case: the mark beside the join and the TOTALs, one round trip.
            return self.unread_total(user_id).await;
        }
        let (mark, join) = futures::try_join!(self.read_mark(user_id), self.feed_join(user_id))?;
        self.unread_with(user_id, mark.as_ref(), join.as_ref(), from, to)
            .await
    }

    /// One page of what a user sees newest first (`unread_only`: their unread index and the
    /// feed after their mark), `total` from the counters, the page start found from them.
    pub async fn notification_page(
        &self,
        user_id: &str,
        unread_only: bool,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        offset: usize,
        limit: usize,
    ) -> StoreResult<NotificationPage> {
        let (mark, join) = futures::try_join!(self.read_mark(user_id), self.feed_join(user_id))?;
        let total = if unread_only {
            self.unread_with(user_id, mark.as_ref(), join.as_ref(), from, to)
                .await?
        } else {
            self.all_with(user_id, join.as_ref(), from, to).await?
        };
        let empty = || NotificationPage {
            items: Vec::new(),
            total,
        };
        if offset as i64 >= total {
            return Ok(empty());
        }
        let (from, to) = (from.map(floor_minute), to.map(floor_minute));
        // What is covered by the mark (unread) or from before the join (the feed) sorts last:
        // counted from these bounds, it only ever adds to the oldest end, which `total` cuts.
        let own_lo = if unread_only {
            later(from, mark.as_ref().map(|m| m.cut))
        } else {
            from
        };
        let feed_lo = later(own_lo, join.as_ref().map(|j| j.cut));
        let matches = move |t: &Tally| {
            if unread_only {
                t.get(UNREAD)
            } else {
                t.get(UNREAD) + t.get(READ)
            }
        };
        let (lo, hi, skip) = if offset == 0 {
            (None, to, 0)
        } else {
            let mut scopes = vec![scope(user_id)];
            scopes.extend(feed_scopes());
            let (_, span) = self.page_counts(&scopes, own_lo, to).await?;
            let Some(span) = span else {
                return Ok(empty());
            };
            let Some((lo, p)) = self
                .locate_page(&scopes, span, (offset as i64, limit as i64), &matches)
                .await?
            else {
                return Ok(empty());
            };
            (lo, Some(p.bucket_end), p.skip as usize)
        };
        let items = self
            .merged_page(
                user_id,
                unread_only,
                (later(lo, own_lo), later(lo, feed_lo), hi),
                skip,
                limit,
                mark.as_ref(),
            )
            .await?;
        Ok(NotificationPage { items, total })
    }

    /// A user's own notifications stored unread created from `cut` on (a read-all's tail).
    pub(crate) async fn own_unread_since(
        &self,
        user_id: &str,
        cut: DateTime<Utc>,
    ) -> StoreResult<Vec<Notification>> {
        self.notifications_in_state(user_id, false, Some(cut), None)
            .await
    }

    /// The first UTC day a scope has counts for (keys-only Query, `Limit 1`).
    pub(crate) async fn first_counted_day(
        &self,
        scope: &str,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :d)")
            .expression_attribute_values(":pk", s(scope))
            .expression_attribute_values(":d", s("D#"))
            .projection_expression("SK")
            .limit(1)
            .send()
            .await?;
        Ok(out
            .items
            .unwrap_or_default()
            .into_iter()
            .next()
            .and_then(|i| i.get("SK").and_then(|v| v.as_s().ok()).cloned())
            .and_then(|sk| {
                chrono::NaiveDate::parse_from_str(sk.trim_start_matches("D#"), "%Y-%m-%d").ok()
            })
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc()))
    }

    pub(super) fn read_op(
        &self,
        n: &Notification,
        at: DateTime<Utc>,
    ) -> StoreResult<(TransactWriteItem, Vec<(String, Delta)>)> {
        let mut read = n.clone();
        read.is_read = true;
        read.read_at = Some(at);
        Ok((
            tx::put(
                &self.table,
                self.notification_item(&read)?,
                Some("is_read = :f"),
                &[(":f", aws_sdk_dynamodb::types::AttributeValue::Bool(false))],
                &[],
            )?,
            Self::delta(n, vec![(UNREAD, -1), (READ, 1)]),
        ))
    }

    /// Marks one notification read (idempotent: an already-read one, or one its owner's read
    /// mark covers, keeps its `read_at`). Returns the state its owner sees.
    pub async fn mark_notification_read(&self, n: &Notification) -> StoreResult<Notification> {
        let mut current = n.clone();
        for _ in 0..3 {
            let mark = self.read_mark(&current.user_id).await?;
            let seen = current.clone().as_seen(mark.as_ref());
            if seen.is_read {
                return Ok(seen);
            }
            let at = now();
            let check = self.mark_before(&current.user_id, current.created_at)?;
            match self
                .transact_counted(vec![self.read_op(&current, at)?, (check, vec![])])
                .await
            {
                Ok(()) => {
                    current.is_read = true;
                    current.read_at = Some(at);
                    return Ok(current);
                }
                // Read meanwhile, or a read mark passed it: look again.
                Err(StoreError::Conflict) => match self.get_notification(&n.id).await? {
                    Some(fresh) => current = fresh,
                    None => return Ok(seen),
                },
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    /// The notifications of one read state in `[from, to)` (the state index; all pages).
    async fn notifications_in_state(
        &self,
        user_id: &str,
        read: bool,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<Notification>> {
        // Key values may not be empty strings; "0" sorts before every timestamp.
        let lo = self
            .visible_from(from)
            .as_ref()
            .map(fmt_ts)
            .unwrap_or_else(|| "0".into());
        let hi = match to {
            Some(t) => format!("{}#~", fmt_ts(&(t - Duration::microseconds(1)))),
            None => "~".into(),
        };
        if lo > hi {
            return Ok(Vec::new());
        }
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("GSI2")
            .key_condition_expression("GSI2PK = :pk AND GSI2SK BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", s(state_pk(user_id, read)))
            .expression_attribute_values(":lo", s(lo))
            .expression_attribute_values(":hi", s(hi))
            .limit(500)
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        items.into_iter().map(|i| from_item(i?)).collect()
    }

    fn delete_op(
        &self,
        n: &Notification,
    ) -> StoreResult<(TransactWriteItem, Vec<(String, Delta)>)> {
        Ok((
            tx::delete(
                &self.table,
                format!("USER#{}", n.user_id),
                &format!("NOTIF#{}#{}", fmt_ts(&n.created_at), n.id),
                Some("is_read = :r"),
                &[(
                    ":r",
                    aws_sdk_dynamodb::types::AttributeValue::Bool(n.is_read),
                )],
            )?,
            Self::delta(n, vec![(n.field(), -1)]),
        ))
    }

    /// The read-mark side of deleting `n` (stored state): nothing for a stored-read one; for a
    /// stored-unread one, its removal from the snapshot when the mark covers it, else the check
    /// that the mark has not passed it.
    fn delete_mark_op(
        &self,
        n: &Notification,
        mark: Option<&ReadMark>,
    ) -> StoreResult<Option<CountedWrite>> {
        if n.is_read {
            return Ok(None);
        }
        Ok(Some(match mark.filter(|m| m.covers(n.created_at)) {
            Some(m) => (self.mark_forget(&n.user_id, m, 1)?, vec![]),
            None => (self.mark_before(&n.user_id, n.created_at)?, vec![]),
        }))
    }

    /// Deletes one notification (a concurrent read or read mark is retried with the fresh
    /// state).
    pub async fn delete_notification(&self, n: &Notification) -> StoreResult<()> {
        let mut current = n.clone();
        for _ in 0..3 {
            let mark = self.read_mark(&current.user_id).await?;
            let mut ops = vec![self.delete_op(&current)?];
            ops.extend(self.delete_mark_op(&current, mark.as_ref())?);
            match self.transact_counted(ops).await {
                Err(StoreError::Conflict) => match self.get_notification(&n.id).await? {
                    Some(fresh) => current = fresh,
                    None => return Ok(()),
                },
                other => return other,
            }
        }
        Err(StoreError::Conflict)
    }

    /// Deletes a user's read notifications created in `[from, to)` — stored read, and stored
    /// unread but covered by their read mark; returns how many.
    pub async fn delete_read_notifications(
        &self,
        user_id: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<usize> {
        let read = self.notifications_in_state(user_id, true, from, to).await?;
        for chunk in read.chunks(25) {
            let ops = chunk
                .iter()
                .map(|n| self.delete_op(n))
                .collect::<StoreResult<Vec<_>>>()?;
            match self.transact_counted(ops).await {
                Ok(()) | Err(StoreError::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        let mut deleted = read.len();
        if let Some(mark) = self.read_mark(user_id).await? {
            deleted += self.delete_covered_own(user_id, &mark, from, to).await?;
        }
        deleted += self.delete_read_feed(user_id, from, to).await?;
        Ok(deleted)
    }

    /// Deletes a user's own notifications stored unread but covered by their mark, created in
    /// `[from, to)`, taking them out of its `p_base`; returns how many.
    async fn delete_covered_own(
        &self,
        user_id: &str,
        mark: &ReadMark,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<usize> {
        let mut deleted = 0;
        let covered = self
            .notifications_in_state(
                user_id,
                false,
                from,
                Some(to.map_or(mark.cut, |t| t.min(mark.cut))),
            )
            .await?;
        // 20 deletes + their counter items + the mark stay under 100 transaction items.
        for chunk in covered.chunks(20) {
            let mut ops = chunk
                .iter()
                .map(|n| self.delete_op(n))
                .collect::<StoreResult<Vec<_>>>()?;
            ops.push((self.mark_forget(user_id, mark, chunk.len())?, vec![]));
            match self.transact_counted(ops).await {
                Ok(()) => deleted += chunk.len(),
                // The mark moved or one of them changed: one at a time, as they are now.
                Err(StoreError::Conflict) => {
                    for n in chunk {
                        let fresh = self.get_notification(&n.id).await?;
                        let mark = self.read_mark(user_id).await?;
                        if let Some(f) = fresh.filter(|f| f.clone().as_seen(mark.as_ref()).is_read)
                        {
                            self.delete_notification(&f).await?;
                            deleted += 1;
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }

    /// Deletes all of a user's notifications, their read mark and their counters (user
    /// deletion, §2.9).
    pub async fn delete_user_notifications(&self, user_id: &str) -> StoreResult<()> {
        let mut keys = self
            .keys_with_prefix(&format!("USER#{user_id}"), "NOTIF#")
            .await?;
        keys.push(Self::mark_key(user_id));
        keys.extend(self.feed_state_keys(user_id).await?);
        self.batch_delete(keys).await?;
        self.drop_scope(&scope(user_id)).await
    }
}
