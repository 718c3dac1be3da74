//! In-app notifications (api-contract §2.4), one item per recipient in the recipient's user
//! partition (newest last by sort key), also filed by read state in GSI2 (`NUNREAD#<user>` /
//! `NREAD#<user>`, ordered by creation) so unread lists, read-all and delete-read read only
//! what they touch. Totals and `unread_count` come from the user's counters (`NSTAT#<user>`,
//! fields `u` unread and `r` read), updated in the same transaction as every create, read and
//! delete.

use super::{
    counters::{floor_minute, Delta, RangeCounts, Tally},
    from_item, item_with_keys, s, tx, Item, Store, StoreError, StoreResult,
};
use crate::domain::{fmt_ts, now, ts};
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

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
    pub kind: String,
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
        json!({
            "id": self.id,
            "user_id": self.user_id,
            "title": self.title,
            "message": self.message,
            "type": self.kind,
            "related_job_id": self.related_job_id,
            "related_execution_id": self.related_execution_id,
            "is_read": self.is_read,
            "read_at": self.read_at.as_ref().map(fmt_ts),
            "created_at": fmt_ts(&self.created_at),
        })
    }

    pub(super) fn field(&self) -> &'static str {
        if self.is_read {
            READ
        } else {
            UNREAD
        }
    }
}

/// The counter scope of one user's notifications (`NSTAT#<user id>`).
pub fn scope(user_id: &str) -> String {
    format!("NSTAT#{user_id}")
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
        kind: &str,
        related_job_id: Option<&str>,
        related_execution_id: Option<&str>,
    ) -> StoreResult<()> {
        let created_at = now();
        let mut seen = std::collections::HashSet::new();
        let mut ops = Vec::with_capacity(recipients.len());
        for user_id in recipients.iter().filter(|u| seen.insert(u.as_str())) {
            let id = uuid::Uuid::new_v5(
                &uuid::Uuid::NAMESPACE_OID,
                format!("{seed}/{user_id}").as_bytes(),
            )
            .to_string();
            let n = Notification {
                id,
                user_id: user_id.clone(),
                title: title.into(),
                message: message.into(),
                kind: kind.into(),
                related_job_id: related_job_id.map(str::to_string),
                related_execution_id: related_execution_id.map(str::to_string),
                is_read: false,
                read_at: None,
                created_at,
            };
            // The id claim makes a repeated delivery fail its condition instead of writing a
            // second notification (the notification's own key embeds its time).
            let claim = std::collections::HashMap::from([
                ("PK".to_string(), s(format!("NOTIFID#{}", n.id))),
                ("SK".to_string(), s("UNIQUE")),
                (
                    "expires_at".to_string(),
                    aws_sdk_dynamodb::types::AttributeValue::N(
                        (created_at.timestamp() + 30 * 24 * 3600).to_string(),
                    ),
                ),
            ]);
            ops.push((
                vec![
                    tx::create(&self.table, self.notification_item(&n)?)?,
                    tx::create(&self.table, claim)?,
                ],
                Self::delta(&n, vec![(UNREAD, 1)]),
            ));
        }
        // One transaction per recipient (notification + id claim + counters), so a redelivery
        // skips exactly the ones already written; 8 in flight.
        use futures::StreamExt;
        let results: Vec<StoreResult<()>> = futures::stream::iter(ops)
            .map(|(writes, deltas)| async move {
                let mut changes = super::counters::CounterChanges::default();
                for (scope, d) in &deltas {
                    changes.add(scope, d);
                }
                let mut items = writes;
                items.extend(changes.into_updates(&self.table, self.floor_day())?);
                match self.transact(items).await {
                    Ok(()) | Err(StoreError::Conflict) => Ok(()),
                    Err(e) => Err(e),
                }
            })
            .buffer_unordered(8)
            .collect()
            .await;
        results.into_iter().collect::<StoreResult<Vec<()>>>()?;
        Ok(())
    }

    /// Writes a notification carried over from another deployment (id, times and read state
    /// kept) with its counts, only the first time: `false` when it is already there.
    pub async fn import_notification(&self, n: &Notification) -> StoreResult<bool> {
        let field = if n.is_read { READ } else { UNREAD };
        let mut changes = super::counters::CounterChanges::default();
        for (scope, d) in Self::delta(n, vec![(field, 1)]) {
            changes.add(&scope, &d);
        }
        let mut items = vec![tx::create(&self.table, self.notification_item(n)?)?];
        items.extend(changes.into_updates(&self.table, self.floor_day())?);
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
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

    /// A notification by id (Query GSI1 `NOTIF#<id>`, `Limit 1`).
    /// `None` once it is past retention.
    pub async fn get_notification(&self, id: &str) -> StoreResult<Option<Notification>> {
        Ok(self
            .get_by_gsi1::<Notification>(format!("NOTIF#{id}"))
            .await?
            .filter(|n| !self.expired(n.created_at)))
    }

    /// Counts of a user's notifications (`u`, `r`) over an optional range.
    pub async fn notification_counts(
        &self,
        user_id: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<(Tally, Option<RangeCounts>)> {
        let scopes = vec![scope(user_id)];
        self.counts(&scopes, from, to).await
    }

    /// A user's newest notifications, at most `limit` (one Query with `Limit`).
    pub async fn recent_notifications(
        &self,
        user_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<Notification>> {
        let items = self
            .query_time_range(
                None,
                ("PK", format!("USER#{user_id}")),
                ("SK", "NOTIF#"),
                None,
                None,
                0,
                limit,
            )
            .await?;
        items.into_iter().map(from_item).collect()
    }

    /// A user's unread count over an optional range.
    pub async fn unread_count(
        &self,
        user_id: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<i64> {
        Ok(self
            .notification_counts(user_id, from, to)
            .await?
            .0
            .get(UNREAD))
    }

    /// One page of a user's notifications newest first (`unread_only` reads the unread index),
    /// `total` from the counters, the page start found from them.
    pub async fn notification_page(
        &self,
        user_id: &str,
        unread_only: bool,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        offset: usize,
        limit: usize,
    ) -> StoreResult<NotificationPage> {
        let matches = move |t: &Tally| {
            if unread_only {
                t.get(UNREAD)
            } else {
                t.get(UNREAD) + t.get(READ)
            }
        };
        // The first page needs no positioning: it starts at the newest item of the range.
        let scopes = [scope(user_id)];
        let (tally, span) = if offset == 0 {
            (self.notification_counts(user_id, from, to).await?.0, None)
        } else {
            self.page_counts(&scopes, from, to).await?
        };
        let total = matches(&tally);
        let empty = || NotificationPage {
            items: Vec::new(),
            total,
        };
        if offset as i64 >= total {
            return Ok(empty());
        }
        let (lo, hi, skip) = match span {
            None => (from.map(floor_minute), to.map(floor_minute), 0),
            Some(span) => {
                let Some((lo, p)) = self
                    .locate_page(&scopes, span, (offset as i64, limit as i64), &matches)
                    .await?
                else {
                    return Ok(empty());
                };
                (lo, Some(p.bucket_end), p.skip as usize)
            }
        };
        let (index, pk_name, pk, sk_name, prefix) = if unread_only {
            (
                Some("GSI2"),
                "GSI2PK",
                state_pk(user_id, false),
                "GSI2SK",
                "",
            )
        } else {
            (None, "PK", format!("USER#{user_id}"), "SK", "NOTIF#")
        };
        let items = self
            .query_time_range(index, (pk_name, pk), (sk_name, prefix), lo, hi, skip, limit)
            .await?;
        Ok(NotificationPage {
            items: items
                .into_iter()
                .map(from_item)
                .collect::<StoreResult<_>>()?,
            total,
        })
    }

    /// Items of one partition whose sort key is `<prefix><timestamp>#...` with the timestamp
    /// in `[lo, hi)`, newest first, skipping `skip`, at most `limit` (`Limit = skip + limit`).
    #[allow(clippy::too_many_arguments)]
    async fn query_time_range(
        &self,
        index: Option<&str>,
        (pk_name, pk): (&str, String),
        (sk_name, prefix): (&str, &str),
        lo: Option<DateTime<Utc>>,
        hi: Option<DateTime<Utc>>,
        skip: usize,
        limit: usize,
    ) -> StoreResult<Vec<Item>> {
        let lo = format!(
            "{prefix}{}",
            self.visible_from(lo)
                .as_ref()
                .map(fmt_ts)
                .unwrap_or_else(|| "0".into())
        );
        let hi = match hi {
            Some(h) => format!("{prefix}{}#~", fmt_ts(&(h - Duration::microseconds(1)))),
            None => format!("{prefix}~"),
        };
        if lo > hi {
            // The range ends before the retention floor.
            return Ok(Vec::new());
        }
        let mut stream = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_string))
            .key_condition_expression(format!("{pk_name} = :pk AND {sk_name} BETWEEN :lo AND :hi"))
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":lo", s(lo))
            .expression_attribute_values(":hi", s(hi))
            .scan_index_forward(false)
            .limit((skip + limit).clamp(1, 1000) as i32)
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::with_capacity(limit);
        let mut skipped = 0;
        while out.len() < limit {
            match stream.next().await {
                Some(item) if skipped < skip => {
                    item?;
                    skipped += 1;
                }
                Some(item) => out.push(item?),
                None => break,
            }
        }
        Ok(out)
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

    fn read_op(
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

    /// Marks one notification read (idempotent: an already-read one keeps its `read_at`).
    /// Returns the stored state.
    pub async fn mark_notification_read(&self, n: &Notification) -> StoreResult<Notification> {
        if n.is_read {
            return Ok(n.clone());
        }
        let at = now();
        match self.transact_counted(vec![self.read_op(n, at)?]).await {
            Ok(()) => {
                let mut read = n.clone();
                read.is_read = true;
                read.read_at = Some(at);
                Ok(read)
            }
            Err(StoreError::Conflict) => Ok(self
                .get_notification(&n.id)
                .await?
                .unwrap_or_else(|| n.clone())),
            Err(e) => Err(e),
        }
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

    /// Marks every unread notification of a user read; returns how many. Reads only the
    /// unread index.
    pub async fn mark_all_notifications_read(&self, user_id: &str) -> StoreResult<usize> {
        let unread = self
            .notifications_in_state(user_id, false, None, None)
            .await?;
        let at = now();
        let mut done = 0;
        for chunk in unread.chunks(25) {
            let ops = chunk
                .iter()
                .map(|n| self.read_op(n, at))
                .collect::<StoreResult<Vec<_>>>()?;
            match self.transact_counted(ops).await {
                Ok(()) => done += chunk.len(),
                // One was read meanwhile: fall back to one at a time for this chunk.
                Err(StoreError::Conflict) => {
                    for n in chunk {
                        match self.transact_counted(vec![self.read_op(n, at)?]).await {
                            Ok(()) => done += 1,
                            Err(StoreError::Conflict) => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(done)
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

    /// Deletes one notification (a concurrent read is retried with the fresh state).
    pub async fn delete_notification(&self, n: &Notification) -> StoreResult<()> {
        let mut current = n.clone();
        for _ in 0..3 {
            match self.transact_counted(vec![self.delete_op(&current)?]).await {
                Err(StoreError::Conflict) => match self.get_notification(&n.id).await? {
                    Some(fresh) => current = fresh,
                    None => return Ok(()),
                },
                other => return other,
            }
        }
        Err(StoreError::Conflict)
    }

    /// Deletes a user's read notifications created in `[from, to)`; returns how many.
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
        Ok(read.len())
    }

    /// Deletes all of a user's notifications and their counters (user deletion, §2.9).
    pub async fn delete_user_notifications(&self, user_id: &str) -> StoreResult<()> {
        let keys = self
            .keys_with_prefix(&format!("USER#{user_id}"), "NOTIF#")
            .await?;
        self.batch_delete(keys).await?;
        self.drop_scope(&scope(user_id)).await
    }
}
