//! A user's read watermark (`USER#<id>` / `NREADMARK`): mark-all-read is one write whatever
//! the number of unread notifications (docs/dynamodb-access-patterns.md, "Read watermark").
//!
//! Every notification created at or before the mark's `at` reads as read — its `read_at` the
//! first mark at or after its creation — whatever its stored `is_read`. The counters keep
//! counting stored state; the mark keeps what they said when it was set: `t_snap`, the
//! scope's `TOTAL` unread, and `m_snap`, the unread slot of the mark's own minute. So after
//! the mark, unread = counters − snapshot: without a range `t_u − t_snap` (two GetItems);
//! with a range (or with retention on, whose daily fold moves `TOTAL`) the range counted from
//! the mark's minute, minus `m_snap`.
//!
//! Conditions keep that exact:
//! - the mark is written under a ConditionCheck on both counter attributes it copied (nothing
//!   moved between reading and writing them) and on the previous mark (`at` unchanged);
//! - every write that moves a stored-unread notification's count (create, read, delete)
//!   carries a ConditionCheck that the mark has not passed it (`at < created_at`), or — a
//!   delete of one the mark already covers — takes it out of the snapshot in the same
//!   transaction (`ADD t_snap -1`, and `m_snap -1` in the mark's minute).

use super::{counters::floor_minute, item_with_keys, s, tx, Item, Store, StoreError, StoreResult};
use crate::domain::{fmt_ts, now, ts};
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem, Update};
use chrono::{DateTime, Duration, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// Sort key of the mark in the user's partition.
const MARK_SK: &str = "NREADMARK";
/// Earlier mark times kept for `read_at` (older notifications read by an older mark show the
/// oldest kept time).
const EARLIER_KEPT: usize = 50;
/// Attempts of mark-all-read while the user's counts keep moving.
const MARK_ATTEMPTS: u32 = 6;

/// A user's read watermark (module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReadMark {
    /// Notifications created at or before this instant read as read.
    #[serde(with = "ts")]
    pub at: DateTime<Utc>,
    /// Earlier marks' instants (RFC 3339), oldest first, at most 50.
    #[serde(default)]
    pub earlier: Vec<String>,
    /// The scope's `TOTAL` unread (`t_u`) when the mark was set, less the covered ones
    /// deleted since.
    #[serde(default)]
    pub t_snap: i64,
    /// The unread slot of the mark's minute (`m<MM>_u` of `H#<hour>`) when the mark was set,
    /// less the covered ones of that minute deleted since.
    #[serde(default)]
    pub m_snap: i64,
}

impl ReadMark {
    /// Whether a notification created at `t` reads as read.
    pub fn covers(&self, t: DateTime<Utc>) -> bool {
        t <= self.at
    }

    /// When a covered notification created at `t` was read: the first mark at or after `t`.
    pub fn read_at(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        self.earlier
            .iter()
            .filter_map(|m| DateTime::parse_from_rfc3339(m).ok())
            .map(|m| m.with_timezone(&Utc))
            .find(|m| *m >= t)
            .unwrap_or(self.at)
    }

    /// The minute the mark falls in (the precision of counted ranges).
    pub fn minute(&self) -> DateTime<Utc> {
        floor_minute(self.at)
    }
}

/// How a count or an unread page starts once a mark is applied.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct AfterMark {
    /// Start of the counted range (minute precision).
    pub count_from: Option<DateTime<Utc>>,
    /// What to subtract from that count (`m_snap` when the mark's minute is counted).
    pub subtract: i64,
    /// Exact lower bound for the items themselves (just after the mark), when it matters.
    pub items_from: Option<DateTime<Utc>>,
}

/// The counter scope of one user's notifications (`NSTAT#<user id>`), which the read mark
/// settles against.
pub fn scope(user_id: &str) -> String {
    format!("NSTAT#{user_id}")
}

fn num(item: Option<&Item>, attr: &str) -> i64 {
    item.and_then(|i| i.get(attr))
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn user_pk(user_id: &str) -> String {
    format!("USER#{user_id}")
}

fn hour_sk(t: DateTime<Utc>) -> String {
    format!("H#{}", t.format("%Y-%m-%dT%H"))
}

fn minute_attr(t: DateTime<Utc>) -> String {
    format!("m{:02}_u", t.minute())
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Build(e.to_string())
}

impl Store {
    /// A user's read mark (strongly consistent GetItem); `None` before their first
    /// mark-all-read.
    pub async fn read_mark(&self, user_id: &str) -> StoreResult<Option<ReadMark>> {
        self.get_as(user_pk(user_id), MARK_SK).await
    }

    /// Where an unread count or page over `[from, to)` starts once `mark` applies; `None`
    /// when the whole range is covered (nothing in it is unread).
    pub(crate) fn after_mark(
        &self,
        mark: &ReadMark,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Option<AfterMark> {
        let minute = mark.minute();
        if let Some(f) = from.filter(|f| floor_minute(*f) > minute) {
            return Some(AfterMark {
                count_from: Some(f),
                subtract: 0,
                items_from: None,
            });
        }
        if to.is_some_and(|t| floor_minute(t) <= minute) {
            return None;
        }
        // Retention hides the mark's minute: counting starts at the floor, nothing to take off.
        let hidden = self.history_floor().is_some_and(|f| minute < f);
        Some(AfterMark {
            count_from: Some(minute),
            subtract: if hidden { 0 } else { mark.m_snap },
            items_from: Some(mark.at + Duration::microseconds(1)),
        })
    }

    /// A user's unread count over an optional range, read marks applied.
    pub(crate) async fn unread_after_mark(
        &self,
        user_id: &str,
        mark: Option<&ReadMark>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<i64> {
        let Some(mark) = mark else {
            return Ok(self
                .notification_counts(user_id, from, to)
                .await?
                .0
                .get("u"));
        };
        if from.is_none() && to.is_none() && self.history_floor().is_none() {
            let total = self.get(scope(user_id), "TOTAL").await?;
            return Ok((num(total.as_ref(), "t_u") - mark.t_snap).max(0));
        }
        let Some(a) = self.after_mark(mark, from, to) else {
            return Ok(0);
        };
        let counted = self
            .notification_counts(user_id, a.count_from, to)
            .await?
            .0
            .get("u");
        Ok((counted - a.subtract).max(0))
    }

    /// A user's unread count without a range and without retention (nothing folds `TOTAL`):
    /// the read mark and `TOTAL` read concurrently, `t_u − t_snap` (or `t_u` with no mark).
    /// The mark strongly consistent (a read-all just made shows at once), `TOTAL` eventually
    /// consistent like every other counter read: 1.5 RCU in one round trip.
    pub(crate) async fn unread_total(&self, user_id: &str) -> StoreResult<i64> {
        let key = (scope(user_id), "TOTAL".to_string());
        let (mark, totals) = futures::try_join!(
            self.read_mark(user_id),
            self.batch_get_attrs(std::slice::from_ref(&key), &["t_u"])
        )?;
        let total = totals.get(&format!("{}|{}", key.0, key.1));
        let snap = mark.map_or(0, |m| m.t_snap);
        Ok((num(total, "t_u") - snap).max(0))
    }

    /// Marks every notification of a user read in one write: a new mark at now with the
    /// counters' snapshot. Returns how many were unread. Retried while the user's counts move
    /// between the snapshot and the write; [`StoreError::Unavailable`] if they never hold
    /// still.
    pub async fn mark_all_notifications_read(&self, user_id: &str) -> StoreResult<usize> {
        let scope = scope(user_id);
        for attempt in 0..MARK_ATTEMPTS {
            let old = self.read_mark(user_id).await?;
            let unread = self
                .unread_after_mark(user_id, old.as_ref(), None, None)
                .await?;
            if unread == 0 {
                return Ok(0);
            }
            let at = now();
            let hour_key = hour_sk(at);
            let (total, hour) = futures::try_join!(
                self.get(scope.clone(), "TOTAL"),
                self.get(scope.clone(), &hour_key)
            )?;
            let (t, m) = (
                num(total.as_ref(), "t_u"),
                num(hour.as_ref(), &minute_attr(at)),
            );
            let mut earlier = Vec::new();
            if let Some(o) = &old {
                earlier = o.earlier.clone();
                earlier.push(fmt_ts(&o.at));
                let excess = earlier.len().saturating_sub(EARLIER_KEPT);
                earlier.drain(..excess);
            }
            let mark = ReadMark {
                at,
                earlier,
                t_snap: t,
                m_snap: m,
            };
            let item = item_with_keys(
                &mark,
                &[("PK", user_pk(user_id)), ("SK", MARK_SK.to_string())],
            )?;
            let put = match &old {
                None => tx::create(&self.table, item)?,
                Some(o) => tx::put(
                    &self.table,
                    item,
                    Some("#at = :old"),
                    &[(":old", s(fmt_ts(&o.at)))],
                    &[("#at", "at")],
                )?,
            };
            let items = vec![
                put,
                self.counter_is(&scope, "TOTAL", "t_u", t)?,
                self.counter_is(&scope, &hour_sk(at), &minute_attr(at), m)?,
            ];
            match self.transact(items).await {
                Ok(()) => return Ok(unread as usize),
                Err(StoreError::Conflict) => {
                    tokio::time::sleep(std::time::Duration::from_millis(10 << attempt)).await
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Unavailable(
            "the unread counts kept changing while marking them read".into(),
        ))
    }

    /// ConditionCheck: counter attribute `attr` of `(scope, sk)` still holds `v`.
    fn counter_is(
        &self,
        scope: &str,
        sk: &str,
        attr: &str,
        v: i64,
    ) -> StoreResult<TransactWriteItem> {
        let condition = if v == 0 {
            "attribute_not_exists(#f) OR #f = :v"
        } else {
            "#f = :v"
        };
        let c = ConditionCheck::builder()
            .table_name(&self.table)
            .key("PK", s(scope))
            .key("SK", s(sk))
            .condition_expression(condition)
            .expression_attribute_names("#f", attr)
            .expression_attribute_values(":v", AttributeValue::N(v.to_string()))
            .build()
            .map_err(err)?;
        Ok(TransactWriteItem::builder().condition_check(c).build())
    }

    /// ConditionCheck: the user's mark has not passed a notification created at `t` (so a
    /// change to its stored-unread count stays outside every snapshot).
    pub(crate) fn mark_before(
        &self,
        user_id: &str,
        t: DateTime<Utc>,
    ) -> StoreResult<TransactWriteItem> {
        let c = ConditionCheck::builder()
            .table_name(&self.table)
            .key("PK", s(user_pk(user_id)))
            .key("SK", s(MARK_SK))
            .condition_expression("attribute_not_exists(PK) OR #at < :c")
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(":c", s(fmt_ts(&t)))
            .build()
            .map_err(err)?;
        Ok(TransactWriteItem::builder().condition_check(c).build())
    }

    /// UpdateItem taking deleted covered, stored-unread notifications (created at `times`)
    /// out of the mark's snapshot, on condition the mark is still `mark`.
    pub(crate) fn mark_forget(
        &self,
        user_id: &str,
        mark: &ReadMark,
        times: &[DateTime<Utc>],
    ) -> StoreResult<TransactWriteItem> {
        let in_minute = times
            .iter()
            .filter(|t| floor_minute(**t) == mark.minute())
            .count() as i64;
        let u = Update::builder()
            .table_name(&self.table)
            .key("PK", s(user_pk(user_id)))
            .key("SK", s(MARK_SK))
            .update_expression("ADD t_snap :t, m_snap :m")
            .condition_expression("#at = :at")
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(
                ":t",
                AttributeValue::N((-(times.len() as i64)).to_string()),
            )
            .expression_attribute_values(":m", AttributeValue::N((-in_minute).to_string()))
            .expression_attribute_values(":at", s(fmt_ts(&mark.at)))
            .build()
            .map_err(err)?;
        Ok(TransactWriteItem::builder().update(u).build())
    }

    /// Key of a user's mark (user deletion).
    pub(crate) fn mark_key(user_id: &str) -> (String, String) {
        (user_pk(user_id), MARK_SK.to_string())
    }
}
