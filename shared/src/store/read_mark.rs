//! A user's read watermark (`USER#<id>` / `NREADMARK`): mark-all-read is one write whatever
//! the number of unread notifications (docs/dynamodb-access-patterns.md, "Read watermark").
//!
//! The mark holds a **cut**, the start of a minute at least [`SETTLE`] before the moment it
//! was set: every notification created before the cut — the user's own items and the shared
//! feed's ([`super::feed`]) — reads as read, whatever its stored state. What was created
//! between the cut and the moment of the read-all (the last one to two minutes) is marked read
//! one by one first (own items stored read, feed items with a read exception), so the mark
//! itself covers only whole, settled minutes. The counters keep counting stored state; the
//! mark keeps what they said before the cut:
//! - `p_base`: the user's scope's stored-unread count (`u`) before the cut, less the covered
//!   ones deleted since;
//! - `f_base`: the feed's items before the cut (all shards).
//!
//! So without a range, unread = `(t_u − p_base)` of the user's scope + `(t_u − max(f_base,
//! join base))` of the feed; with a range, the counts of both from the cut, which is a minute
//! boundary like every counted range: no snapshot of a partial minute is needed.
//!
//! Conditions keep that exact:
//! - the mark is written under a ConditionCheck on the user scope's `TOTAL` unread it derived
//!   `p_base` from, and on the previous mark (`at` unchanged); the feed's counts before the cut
//!   are read in one TransactGetItems ([`Store::feed_before`]), and nothing is written before
//!   a settled cut any more;
//! - every write that moves a user's own stored-unread count, or adds a feed exception,
//!   carries a ConditionCheck that the mark does not cover it (`cut <= created_at`), or — a
//!   delete of one the mark covers — takes it out of `p_base` in the same transaction.

use super::{counters::floor_minute, item_with_keys, s, tx, Item, Store, StoreError, StoreResult};
use crate::domain::{fmt_ts, now, ts};
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem, Update};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Sort key of the mark in the user's partition.
const MARK_SK: &str = "NREADMARK";
/// Earlier mark times kept for `read_at` (older notifications read by an older mark show the
/// oldest kept time).
const EARLIER_KEPT: usize = 50;
/// Attempts of mark-all-read while the user's counts keep moving.
const MARK_ATTEMPTS: u32 = 6;
/// How long after its creation time a notification is surely written: a cut is at least this
/// far in the past, so no write lands before it afterwards (writers restamp a notification
/// whose write took longer).
pub const SETTLE: Duration = Duration::seconds(5);

/// A user's read watermark (module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReadMark {
    /// When the read-all was made (the `read_at` of what it covers).
    #[serde(with = "ts")]
    pub at: DateTime<Utc>,
    /// Earlier marks' instants (RFC 3339), oldest first, at most 50.
    #[serde(default)]
    pub earlier: Vec<String>,
    /// Everything created before this minute boundary reads as read.
    #[serde(with = "ts")]
    pub cut: DateTime<Utc>,
    /// The user scope's stored-unread count before `cut`, less covered ones deleted since.
    #[serde(default)]
    pub p_base: i64,
    /// The feed's items before `cut`.
    #[serde(default)]
    pub f_base: i64,
}

impl ReadMark {
    /// Whether a notification created at `t` reads as read.
    pub fn covers(&self, t: DateTime<Utc>) -> bool {
        t < self.cut
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
}

/// The cut a read-all or a join made now would have: the start of the minute
/// [`SETTLE`] ago.
pub(crate) fn settled_cut(at: DateTime<Utc>) -> DateTime<Utc> {
    floor_minute(at - SETTLE)
}

/// The counter scope of one user's notifications (`NSTAT#<user id>`): their own items and
/// their feed exceptions.
pub fn scope(user_id: &str) -> String {
    format!("NSTAT#{user_id}")
}

pub(crate) fn num(item: Option<&Item>, attr: &str) -> i64 {
    item.and_then(|i| i.get(attr))
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn user_pk(user_id: &str) -> String {
    format!("USER#{user_id}")
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Build(e.to_string())
}

impl Store {
    /// A user's read mark (strongly consistent GetItem); `None` before their first
    /// mark-all-read. A mark written before cuts existed (no `cut`) is read as none.
    pub async fn read_mark(&self, user_id: &str) -> StoreResult<Option<ReadMark>> {
        match self.get(user_pk(user_id), MARK_SK).await? {
            Some(item) if item.contains_key("cut") => Ok(Some(super::from_item(item)?)),
            _ => Ok(None),
        }
    }

    /// Marks every notification of a user read: what arrived in the last minute or two one by
    /// one, then one mark at the settled cut with the counters' bases. Returns how many were
    /// unread. Retried while the user's counts move between the reads and the write;
    /// [`StoreError::Unavailable`] if they never hold still.
    pub async fn mark_all_notifications_read(&self, user_id: &str) -> StoreResult<usize> {
        let scope = scope(user_id);
        let join = self.feed_join(user_id).await?;
        for attempt in 0..MARK_ATTEMPTS {
            let old = self.read_mark(user_id).await?;
            let unread = self
                .unread_with(user_id, old.as_ref(), join.as_ref(), None, None)
                .await?;
            if unread == 0 {
                return Ok(0);
            }
            let at = now();
            let cut = settled_cut(at).max(old.as_ref().map_or(DateTime::UNIX_EPOCH, |o| o.cut));
            // The tail after the cut, one by one (normally a handful), read at the mark's time.
            self.read_since(user_id, cut, at, old.as_ref(), join.as_ref())
                .await?;
            let (p_total, p_base, f_base) = self.bases_before(user_id, cut).await?;
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
                cut,
                p_base,
                f_base,
            };
            let item = item_with_keys(
                &mark,
                &[("PK", user_pk(user_id)), ("SK", MARK_SK.to_string())],
            )?;
            let put = match &old {
                None => tx::put(
                    &self.table,
                    item,
                    Some("attribute_not_exists(PK) OR attribute_not_exists(#cut)"),
                    &[],
                    &[("#cut", "cut")],
                )?,
                Some(o) => tx::put(
                    &self.table,
                    item,
                    Some("#at = :old"),
                    &[(":old", s(fmt_ts(&o.at)))],
                    &[("#at", "at")],
                )?,
            };
            let items = vec![put, self.counter_is(&scope, "TOTAL", "t_u", p_total)?];
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

    /// The user scope's `TOTAL` unread, its stored-unread count before `cut`, and the feed's
    /// items before `cut`: one TransactGetItems of the `TOTAL` and hour items from the cut's
    /// hour to now (the cut is at most two minutes old), so the subtraction is of one instant.
    async fn bases_before(
        &self,
        user_id: &str,
        cut: DateTime<Utc>,
    ) -> StoreResult<(i64, i64, i64)> {
        let user = scope(user_id);
        let mut scopes = vec![user.clone()];
        scopes.extend(super::feed::feed_scopes());
        let counts = self.counts_since(&scopes, cut).await?;
        let p_total = counts.total(&user);
        Ok((
            p_total,
            p_total - counts.since(&user),
            super::feed::feed_scopes()
                .iter()
                .map(|f| counts.total(f) - counts.since(f))
                .sum(),
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

    /// ConditionCheck: the user's mark does not cover a notification created at `t` (so a
    /// change to its count stays outside `p_base`).
    pub(crate) fn mark_before(
        &self,
        user_id: &str,
        t: DateTime<Utc>,
    ) -> StoreResult<TransactWriteItem> {
        let c = ConditionCheck::builder()
            .table_name(&self.table)
            .key("PK", s(user_pk(user_id)))
            .key("SK", s(MARK_SK))
            .condition_expression("attribute_not_exists(#cut) OR #cut <= :c")
            .expression_attribute_names("#cut", "cut")
            .expression_attribute_values(":c", s(fmt_ts(&t)))
            .build()
            .map_err(err)?;
        Ok(TransactWriteItem::builder().condition_check(c).build())
    }

    /// UpdateItem taking `n` deleted covered notifications (stored unread, or feed items
    /// without an exception) out of the mark's `p_base`, on condition the mark is still `mark`.
    pub(crate) fn mark_forget(
        &self,
        user_id: &str,
        mark: &ReadMark,
        n: usize,
    ) -> StoreResult<TransactWriteItem> {
        let u = Update::builder()
            .table_name(&self.table)
            .key("PK", s(user_pk(user_id)))
            .key("SK", s(MARK_SK))
            .update_expression("ADD p_base :n")
            .condition_expression("#at = :at")
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(":n", AttributeValue::N((-(n as i64)).to_string()))
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
