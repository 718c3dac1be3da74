//! The shared notification feed (docs/dynamodb-access-patterns.md, "Notification feed"): a
//! notice for everyone (a run, a job change) is **one** item, `FEED#<shard>` /
//! `NOTIF#<created>#<id>` (8 shards), counted in its shard's scope `NSTAT#FEED#<shard>` (field `u`),
//! whatever the number of users. Each user's view of it is derived:
//! - **join**: `USER#<id>` / `FEEDJOIN` — the user sees feed items created from `cut` (a minute
//!   boundary just before the account existed) on; `base` = the feed's items before it;
//! - **read mark** ([`super::read_mark`]): feed items before its cut read as read;
//! - **exceptions**: `USER#<id>` / `FEEDX#<created>#<id>`, one per feed item the user read or
//!   deleted one by one; each moves the user's own scope (`NSTAT#<id>`) at the item's time as
//!   the same change to an own item would (read: `u −1, r +1`; deleted: `u −1` or `r −1`).
//!
//! So a user's counts are their own scope plus the feed's scopes from their join (and, for
//! unread, from their mark's cut): O(1) items to read, whatever the number of users or items.

use super::{
    counters::{CounterChanges, Delta},
    from_item, item_with_keys,
    read_mark::{num, scope, settled_cut, ReadMark},
    s, shard_of, tx, Item, Notification, Store, StoreError, StoreResult,
};
use crate::domain::{fmt_ts, now, ts, Level};
use aws_sdk_dynamodb::types::{Get, TransactGetItem};
use chrono::{DateTime, Duration, Timelike, Utc};
use futures::stream::{BoxStream, StreamExt};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A transaction item with the counter changes it causes.
type CountedWrite = (
    aws_sdk_dynamodb::types::TransactWriteItem,
    Vec<(String, Delta)>,
);
/// Lower bounds of a merged page (own items, feed items) and its upper bound.
type PageBounds = (
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

/// Partitions of the feed (items and counters). A notice writes 8 WCU into its shard's
/// counter partition (4 `ADD`s in a transaction): 8 shards keep them under 1,000 WCU/s up to
/// 1,000 notices a second (docs/cost.md, "Capacity ceiling"). Reads sum and merge every
/// shard; items and counts written under fewer shards stay valid.
pub const FEED_SHARDS: usize = 8;
/// `GSI1SK` of a feed item (a user's own notification has `NOTIF`).
const FEED_GSI1SK: &str = "FEED";
/// Sort key of a user's join.
const JOIN_SK: &str = "FEEDJOIN";
/// Sort-key prefix of a user's feed exceptions.
pub(crate) const EXC_PREFIX: &str = "FEEDX#";

/// The counter scopes of the feed (`NSTAT#FEED#<0-7>`).
pub fn feed_scopes() -> Vec<String> {
    (0..FEED_SHARDS)
        .map(|k| format!("NSTAT#FEED#{k}"))
        .collect()
}

pub(crate) fn feed_pk(shard: usize) -> String {
    format!("FEED#{shard}")
}

fn user_pk(user_id: &str) -> String {
    format!("USER#{user_id}")
}

/// The later of two optional instants (`None` = unbounded below).
pub(crate) fn later(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// One notice for everyone (api-contract §6.4, §7.5 texts), stored once.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FeedItem {
    pub id: String,
    pub title: String,
    pub message: String,
    #[serde(rename = "type")]
    pub kind: Level,
    pub related_job_id: Option<String>,
    pub related_execution_id: Option<String>,
    #[serde(with = "ts")]
    pub created_at: DateTime<Utc>,
}

impl FeedItem {
    /// `<created>#<id>`: the order of pages (newest first) and of exceptions.
    pub(crate) fn key(&self) -> String {
        format!("{}#{}", fmt_ts(&self.created_at), self.id)
    }

    fn shard(&self) -> usize {
        shard_of(&self.id, FEED_SHARDS)
    }
}

/// Where a user's feed starts (module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeedJoin {
    /// Feed items created from this minute boundary on are the user's.
    #[serde(with = "ts")]
    pub cut: DateTime<Utc>,
    /// The feed's items before `cut`.
    pub base: i64,
}

/// A user's own state of one feed item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionState {
    Read,
    Deleted,
}

/// One feed item a user read or deleted by itself (`USER#<id>` / `FEEDX#<created>#<id>`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FeedException {
    pub id: String,
    pub state: ExceptionState,
    #[serde(default, with = "ts::option")]
    pub read_at: Option<DateTime<Utc>>,
    #[serde(with = "ts")]
    pub created_at: DateTime<Utc>,
}

/// A notification id as one user may see it.
#[derive(Clone, Debug)]
pub enum Owned {
    /// One of the user's own items.
    Personal(Notification),
    /// A feed item the user sees, with their exception if any.
    Feed(FeedItem, Option<FeedException>),
}

/// What a notification id is to one user.
#[derive(Clone, Debug)]
pub enum Lookup {
    /// No such notification (or past retention, or deleted by this user).
    Missing,
    /// Someone else's (or a feed item from before the user joined).
    Foreign,
    Mine(Owned),
}

/// Counter values read in one TransactGetItems: per scope, `TOTAL` unread and the unread
/// counted from a cut on ([`Store::counts_since`]).
pub(crate) struct SinceCounts(HashMap<String, (i64, i64)>);

impl SinceCounts {
    pub fn total(&self, scope: &str) -> i64 {
        self.0.get(scope).map_or(0, |v| v.0)
    }
    pub fn since(&self, scope: &str) -> i64 {
        self.0.get(scope).map_or(0, |v| v.1)
    }
}

fn hour_sk(t: DateTime<Utc>) -> String {
    format!("H#{}", t.format("%Y-%m-%dT%H"))
}

/// The feed item as `user_id` sees it; `None` when they deleted it.
pub(crate) fn view(
    f: &FeedItem,
    user_id: &str,
    mark: Option<&ReadMark>,
    exc: Option<&FeedException>,
) -> Option<Notification> {
    let (is_read, read_at) = match exc {
        Some(e) if e.state == ExceptionState::Deleted => return None,
        Some(e) => (true, e.read_at),
        None => match mark.filter(|m| m.covers(f.created_at)) {
            Some(m) => (true, Some(m.read_at(f.created_at))),
            None => (false, None),
        },
    };
    Some(Notification {
        id: f.id.clone(),
        user_id: user_id.to_string(),
        title: f.title.clone(),
        message: f.message.clone(),
        kind: f.kind,
        related_job_id: f.related_job_id.clone(),
        related_execution_id: f.related_execution_id.clone(),
        is_read,
        read_at,
        created_at: f.created_at,
    })
}

/// Unread without a range from the `TOTAL`s ([`Store::totals_of`]): own `t_u − p_base` plus
/// the feed's `Σ t_u − max(f_base, join base)` (read-mark module docs).
fn unread_of(
    ((own_u, _), feed_u): ((i64, i64), i64),
    mark: Option<&ReadMark>,
    join: Option<&FeedJoin>,
) -> i64 {
    let f_base = mark.map_or(0, |m| m.f_base).max(join.map_or(0, |j| j.base));
    (own_u - mark.map_or(0, |m| m.p_base) + feed_u - f_base).max(0)
}

fn delta(user_id: &str, at: DateTime<Utc>, adds: &[(&str, i64)]) -> Vec<(String, Delta)> {
    vec![(
        scope(user_id),
        Delta {
            at,
            adds: adds.iter().map(|(f, v)| (f.to_string(), *v)).collect(),
        },
    )]
}

impl Store {
    fn feed_item(&self, f: &FeedItem) -> StoreResult<Item> {
        let mut item = item_with_keys(
            f,
            &[
                ("PK", feed_pk(f.shard())),
                ("SK", format!("NOTIF#{}", f.key())),
                ("GSI1PK", format!("NOTIF#{}", f.id)),
                ("GSI1SK", FEED_GSI1SK.into()),
            ],
        )?;
        item.extend(self.history_ttl(f.created_at));
        Ok(item)
    }

    fn exception_item(&self, user_id: &str, e: &FeedException) -> StoreResult<Item> {
        let mut item = item_with_keys(
            e,
            &[
                ("PK", user_pk(user_id)),
                (
                    "SK",
                    format!("{EXC_PREFIX}{}#{}", fmt_ts(&e.created_at), e.id),
                ),
            ],
        )?;
        item.extend(self.history_ttl(e.created_at));
        Ok(item)
    }

    /// Writes one notice for everyone: one feed item, its id claim and its shard's counters in
    /// one transaction, whatever the number of users. The id is derived from `seed` (the
    /// outbox task's id), so a repeated delivery writes nothing twice. A write that had to be
    /// retried is stamped again so it never lands before a settled cut.
    #[allow(clippy::too_many_arguments)]
    pub async fn broadcast(
        &self,
        seed: &str,
        title: &str,
        message: &str,
        kind: Level,
        related_job_id: Option<&str>,
        related_execution_id: Option<&str>,
    ) -> StoreResult<()> {
        let mut f = FeedItem {
            id: super::notifications::derived_id(seed, "feed"),
            title: title.into(),
            message: message.into(),
            kind,
            related_job_id: related_job_id.map(str::to_string),
            related_execution_id: related_execution_id.map(str::to_string),
            created_at: now(),
        };
        for _ in 0..3 {
            f.created_at = now();
            let claim = super::notifications::notice_claim(&f.id, f.created_at);
            let mut changes = CounterChanges::default();
            changes.add(
                &feed_scopes()[f.shard()],
                &Delta {
                    at: f.created_at,
                    adds: vec![("u".into(), 1)],
                },
            );
            let mut items = vec![
                tx::create(&self.table, self.feed_item(&f)?)?,
                tx::create(&self.table, claim)?,
            ];
            items.extend(changes.into_updates(&self.table, self.floor_day())?);
            match self.transact(items).await {
                Ok(()) if now() - f.created_at < super::read_mark::SETTLE => return Ok(()),
                // Landed late: a read-all may have settled its minute meanwhile. Rare; the
                // item stays (its claim holds), counted where it is.
                Ok(()) => {
                    tracing::warn!(id = %f.id, "feed item written more than SETTLE after its stamp");
                    return Ok(());
                }
                Err(StoreError::Conflict) => {
                    if self.notice_claimed(&f.id).await? {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    /// A user's join (strongly consistent GetItem); `None` for an account from before the
    /// feed existed, which sees all of it.
    pub async fn feed_join(&self, user_id: &str) -> StoreResult<Option<FeedJoin>> {
        self.get_as(user_pk(user_id), JOIN_SK).await
    }

    /// The join item of an account created at `created_at` (for its creating transaction):
    /// it sees feed items from the settled cut before that instant on.
    pub(crate) async fn join_item(
        &self,
        user_id: &str,
        created_at: DateTime<Utc>,
    ) -> StoreResult<Item> {
        let cut = settled_cut(created_at.min(now()));
        let base = self.feed_before(cut).await?;
        item_with_keys(
            &FeedJoin { cut, base },
            &[("PK", user_pk(user_id)), ("SK", JOIN_SK.into())],
        )
    }

    /// The feed's items created before `cut` (a settled minute boundary): for a recent cut,
    /// `TOTAL` minus what came since, read in one TransactGetItems; for an older one (an
    /// imported account), the counts up to it (nothing moves there any more).
    pub(crate) async fn feed_before(&self, cut: DateTime<Utc>) -> StoreResult<i64> {
        let scopes = feed_scopes();
        if now() - cut <= Duration::hours(2) {
            let c = self.counts_since(&scopes, cut).await?;
            return Ok(scopes.iter().map(|f| c.total(f) - c.since(f)).sum());
        }
        Ok(self.counts(&scopes, None, Some(cut)).await?.0.get("u"))
    }

    /// For each scope, `TOTAL` unread (`t_u`) and the unread counted in the minute slots from
    /// `cut` (a minute boundary at most two hours old) to now, all read in one
    /// TransactGetItems (one instant: 2 RCU per item, at most 3 items per scope).
    pub(crate) async fn counts_since(
        &self,
        scopes: &[String],
        cut: DateTime<Utc>,
    ) -> StoreResult<SinceCounts> {
        let end = now();
        let mut hours = Vec::new();
        let mut h = cut;
        while h <= end {
            hours.push(h);
            h = (h + Duration::hours(1))
                .with_minute(0)
                .unwrap_or(h + Duration::hours(1));
        }
        let mut gets = Vec::new();
        for sc in scopes {
            for sk in std::iter::once("TOTAL".to_string()).chain(hours.iter().map(|h| hour_sk(*h)))
            {
                let g = Get::builder()
                    .table_name(&self.table)
                    .key("PK", s(sc.clone()))
                    .key("SK", s(sk))
                    .build()
                    .map_err(|e| StoreError::Build(e.to_string()))?;
                gets.push(TransactGetItem::builder().get(g).build());
            }
        }
        let mut attempt = 0u32;
        let out = loop {
            match self
                .client
                .transact_get_items()
                .set_transact_items(Some(gets.clone()))
                .send()
                .await
            {
                Ok(out) => break out,
                // A transaction in flight on one of the items: read again.
                Err(e)
                    if attempt < 5
                        && e.as_service_error()
                            .is_some_and(|se| se.is_transaction_canceled_exception()) =>
                {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(10 << attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let mut counts: HashMap<String, (i64, i64)> = HashMap::new();
        for item in out.responses().iter().filter_map(|r| r.item()) {
            let (Some(pk), Some(sk)) = (
                item.get("PK").and_then(|v| v.as_s().ok()),
                item.get("SK").and_then(|v| v.as_s().ok()),
            ) else {
                continue;
            };
            let entry = counts.entry(pk.clone()).or_default();
            if sk == "TOTAL" {
                entry.0 = num(Some(item), "t_u");
                continue;
            }
            let first = if *sk == hour_sk(cut) { cut.minute() } else { 0 };
            entry.1 += (first..60)
                .map(|m| num(Some(item), &format!("m{m:02}_u")))
                .sum::<i64>();
        }
        Ok(SinceCounts(counts))
    }

    /// A user's unread count over an optional range: their scope from their mark's cut, the
    /// feed from the later of that cut and their join (module docs). Without a range and
    /// without retention, from the `TOTAL`s and the bases.
    pub(crate) async fn unread_with(
        &self,
        user_id: &str,
        mark: Option<&ReadMark>,
        join: Option<&FeedJoin>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<i64> {
        let own = vec![scope(user_id)];
        let feed = feed_scopes();
        if from.is_none() && to.is_none() && self.history_floor().is_none() {
            return Ok(unread_of(self.totals_of(user_id).await?, mark, join));
        }
        let p_from = later(from, mark.map(|m| m.cut));
        let f_from = later(p_from, join.map(|j| j.cut));
        let ((p, _), (f, _)) = futures::try_join!(
            self.counts(&own, p_from, to),
            self.counts(&feed, f_from, to)
        )?;
        Ok((p.get("u") + f.get("u")).max(0))
    }

    /// A user's count of all their notifications (read or not) over an optional range.
    pub(crate) async fn all_with(
        &self,
        user_id: &str,
        join: Option<&FeedJoin>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<i64> {
        let own = vec![scope(user_id)];
        let feed = feed_scopes();
        if from.is_none() && to.is_none() && self.history_floor().is_none() {
            let ((u, r), f) = self.totals_of(user_id).await?;
            return Ok((u + r + f - join.map_or(0, |j| j.base)).max(0));
        }
        let ((p, _), (f, _)) = futures::try_join!(
            self.counts(&own, from, to),
            self.counts(&feed, later(from, join.map(|j| j.cut)), to)
        )?;
        Ok((p.get("u") + p.get("r") + f.get("u")).max(0))
    }

    /// `((own t_u, own t_r), feed t_u)`: one BatchGetItem of the user's and the feed's `TOTAL` items
    /// (eventually consistent, like every counter read).
    async fn totals_of(&self, user_id: &str) -> StoreResult<((i64, i64), i64)> {
        let own = scope(user_id);
        let mut keys = vec![(own.clone(), "TOTAL".to_string())];
        keys.extend(feed_scopes().into_iter().map(|f| (f, "TOTAL".to_string())));
        let items = self.batch_get_attrs(&keys, &["t_u", "t_r"]).await?;
        let get = |sc: &str| items.get(&format!("{sc}|TOTAL"));
        let f = feed_scopes().iter().map(|f| num(get(f), "t_u")).sum();
        Ok(((num(get(&own), "t_u"), num(get(&own), "t_r")), f))
    }

    /// The polled unread count (no range, no retention): the mark strongly consistent (a
    /// read-all just made shows at once) beside the join (GetItem) and one BatchGetItem of the
    /// `TOTAL` items: one round trip.
    pub(crate) async fn unread_total(&self, user_id: &str) -> StoreResult<i64> {
        let (mark, join, totals) = futures::try_join!(
            self.read_mark(user_id),
            self.feed_join(user_id),
            self.totals_of(user_id)
        )?;
        Ok(unread_of(totals, mark.as_ref(), join.as_ref()))
    }

    /// What a notification id is to `user_id` (Query GSI1 `NOTIF#<id>`, `Limit 1`; for a
    /// feed item also the user's join and exception).
    pub async fn user_notification(&self, user_id: &str, id: &str) -> StoreResult<Lookup> {
        let Some(item) = self.gsi1_item(format!("NOTIF#{id}")).await? else {
            return Ok(Lookup::Missing);
        };
        if item
            .get("GSI1SK")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
            != Some(FEED_GSI1SK)
        {
            let n: Notification = from_item(item)?;
            if self.expired(n.created_at) {
                return Ok(Lookup::Missing);
            }
            if n.user_id != user_id {
                return Ok(Lookup::Foreign);
            }
            return Ok(Lookup::Mine(Owned::Personal(n)));
        }
        let f: FeedItem = from_item(item)?;
        if self.expired(f.created_at) {
            return Ok(Lookup::Missing);
        }
        let join = self.feed_join(user_id).await?;
        if join.is_some_and(|j| f.created_at < j.cut) {
            return Ok(Lookup::Foreign);
        }
        let exc: Option<FeedException> = self
            .get_as(user_pk(user_id), &format!("{EXC_PREFIX}{}", f.key()))
            .await?;
        if exc
            .as_ref()
            .is_some_and(|e| e.state == ExceptionState::Deleted)
        {
            return Ok(Lookup::Missing);
        }
        Ok(Lookup::Mine(Owned::Feed(f, exc)))
    }

    /// A read exception for `f` (not covered, no exception yet) with its counts, for a
    /// transaction; the mark check makes it fail once a read-all covers it.
    fn read_exception_op(
        &self,
        user_id: &str,
        f: &FeedItem,
        at: DateTime<Utc>,
    ) -> StoreResult<(
        aws_sdk_dynamodb::types::TransactWriteItem,
        Vec<(String, Delta)>,
    )> {
        let e = FeedException {
            id: f.id.clone(),
            state: ExceptionState::Read,
            read_at: Some(at),
            created_at: f.created_at,
        };
        Ok((
            tx::create(&self.table, self.exception_item(user_id, &e)?)?,
            delta(user_id, f.created_at, &[("u", -1), ("r", 1)]),
        ))
    }

    /// Marks one feed item read for `user_id` (idempotent: one already read, by an exception
    /// or by their mark, keeps its `read_at`). Returns what the user sees.
    pub async fn read_feed_item(
        &self,
        user_id: &str,
        f: &FeedItem,
        exc: Option<&FeedException>,
    ) -> StoreResult<Notification> {
        let gone = || StoreError::Conflict;
        let mut exc = exc.cloned();
        for _ in 0..3 {
            let mark = self.read_mark(user_id).await?;
            let seen = view(f, user_id, mark.as_ref(), exc.as_ref()).ok_or_else(gone)?;
            if seen.is_read {
                return Ok(seen);
            }
            let at = now();
            match self
                .transact_counted(vec![
                    self.read_exception_op(user_id, f, at)?,
                    (self.mark_before(user_id, f.created_at)?, vec![]),
                ])
                .await
            {
                Ok(()) => {
                    let e = FeedException {
                        id: f.id.clone(),
                        state: ExceptionState::Read,
                        read_at: Some(at),
                        created_at: f.created_at,
                    };
                    return view(f, user_id, mark.as_ref(), Some(&e)).ok_or_else(gone);
                }
                Err(StoreError::Conflict) => {
                    exc = self
                        .get_as(user_pk(user_id), &format!("{EXC_PREFIX}{}", f.key()))
                        .await?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    /// The writes that delete feed item `f` for `user_id` as they see it now: a deleted
    /// exception and the count it leaves (`u −1` for an unread or covered one, `r −1` for one
    /// read by an exception), with the mark check or `p_base` adjustment (module docs of
    /// [`super::read_mark`]); the adjustment is returned apart so a batch can merge it.
    fn delete_feed_ops(
        &self,
        user_id: &str,
        f: &FeedItem,
        exc: Option<&FeedException>,
        mark: Option<&ReadMark>,
    ) -> StoreResult<(Vec<CountedWrite>, bool)> {
        let e = FeedException {
            id: f.id.clone(),
            state: ExceptionState::Deleted,
            read_at: exc.and_then(|e| e.read_at),
            created_at: f.created_at,
        };
        let item = self.exception_item(user_id, &e)?;
        Ok(match exc {
            Some(_) => (
                vec![(
                    tx::put(
                        &self.table,
                        item,
                        Some("#st = :st"),
                        &[(":st", s("read"))],
                        &[("#st", "state")],
                    )?,
                    delta(user_id, f.created_at, &[("r", -1)]),
                )],
                false,
            ),
            None => {
                let covered = mark.is_some_and(|m| m.covers(f.created_at));
                let mut ops = vec![(
                    tx::create(&self.table, item)?,
                    delta(user_id, f.created_at, &[("u", -1)]),
                )];
                if !covered {
                    ops.push((self.mark_before(user_id, f.created_at)?, vec![]));
                }
                (ops, covered)
            }
        })
    }

    /// Deletes one feed item for `user_id` (a concurrent read or read-all is retried with
    /// the fresh state).
    pub async fn delete_feed_item(
        &self,
        user_id: &str,
        f: &FeedItem,
        exc: Option<&FeedException>,
    ) -> StoreResult<()> {
        let mut exc = exc.cloned();
        for _ in 0..3 {
            if exc
                .as_ref()
                .is_some_and(|e| e.state == ExceptionState::Deleted)
            {
                return Ok(());
            }
            let mark = self.read_mark(user_id).await?;
            let (mut ops, covered) =
                self.delete_feed_ops(user_id, f, exc.as_ref(), mark.as_ref())?;
            if let (true, Some(m)) = (covered, &mark) {
                ops.push((self.mark_forget(user_id, m, 1)?, vec![]));
            }
            match self.transact_counted(ops).await {
                Err(StoreError::Conflict) => {
                    exc = self
                        .get_as(user_pk(user_id), &format!("{EXC_PREFIX}{}", f.key()))
                        .await?;
                }
                other => return other,
            }
        }
        Err(StoreError::Conflict)
    }

    /// Marks read, one by one, what a read-all at a cut does not cover: the user's own unread
    /// items and the feed items (without an exception, from their join) created from `cut` on.
    pub(crate) async fn read_since(
        &self,
        user_id: &str,
        cut: DateTime<Utc>,
        at: DateTime<Utc>,
        mark: Option<&ReadMark>,
        join: Option<&FeedJoin>,
    ) -> StoreResult<()> {
        let own = self.own_unread_since(user_id, cut).await?;
        // (write with its counts, creation time): one mark check per transaction, on the
        // oldest of its notifications (a transaction may name the mark only once).
        let mut ops = Vec::new();
        for n in own
            .iter()
            .filter(|n| !mark.is_some_and(|m| m.covers(n.created_at)))
        {
            ops.push((self.read_op(n, at)?, n.created_at));
        }
        let feed_from = later(Some(cut), join.map(|j| j.cut));
        let items = self.feed_items(feed_from, None).await?;
        let excepted = self.exceptions(user_id, feed_from, None).await?;
        for f in items.iter().filter(|f| !excepted.contains_key(&f.key())) {
            ops.push((self.read_exception_op(user_id, f, at)?, f.created_at));
        }
        // In groups small enough for one transaction each; a conflict (read meanwhile) is
        // settled by the caller's retry.
        for chunk in ops.chunks(40) {
            let Some(oldest) = chunk.iter().map(|(_, t)| *t).min() else {
                continue;
            };
            let mut writes: Vec<_> = chunk.iter().map(|(w, _)| w.clone()).collect();
            writes.push((self.mark_before(user_id, oldest)?, vec![]));
            match self.transact_counted(writes).await {
                Ok(()) | Err(StoreError::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Feed items created in `[from, to)`, all shards, newest first (Query per shard, all
    /// pages: for short spans — a read-all's tail — and operator tools).
    pub async fn feed_items(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<FeedItem>> {
        let mut all = Vec::new();
        for k in 0..FEED_SHARDS {
            let Some(mut stream) =
                self.time_range_stream(None, ("PK", feed_pk(k)), ("SK", "NOTIF#"), from, to, 500)
            else {
                continue;
            };
            while let Some(item) = stream.next().await {
                all.push(from_item::<FeedItem>(item?)?);
            }
        }
        all.sort_by_key(|f| std::cmp::Reverse(f.key()));
        Ok(all)
    }

    /// A user's feed exceptions for items created in `[from, to)`, by item key.
    pub(crate) async fn exceptions(
        &self,
        user_id: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<HashMap<String, FeedException>> {
        let mut out = HashMap::new();
        if let Some(mut stream) = self.time_range_stream(
            None,
            ("PK", user_pk(user_id)),
            ("SK", EXC_PREFIX),
            from,
            to,
            500,
        ) {
            while let Some(item) = stream.next().await {
                let e: FeedException = from_item(item?)?;
                out.insert(format!("{}#{}", fmt_ts(&e.created_at), e.id), e);
            }
        }
        Ok(out)
    }

    /// Items of one partition whose sort key is `<prefix><timestamp>#...` with the timestamp
    /// in `[lo, hi)`, newest first, `Limit` per page; `None` when the range is empty (it ends
    /// before the retention floor).
    pub(crate) fn time_range_stream(
        &self,
        index: Option<&str>,
        (pk_name, pk): (&str, String),
        (sk_name, prefix): (&str, &str),
        lo: Option<DateTime<Utc>>,
        hi: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Option<BoxStream<'static, StoreResult<Item>>> {
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
            return None;
        }
        let stream = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_string))
            .key_condition_expression(format!("{pk_name} = :pk AND {sk_name} BETWEEN :lo AND :hi"))
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":lo", s(lo))
            .expression_attribute_values(":hi", s(hi))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 1000) as i32)
            .into_paginator()
            .items()
            .send();
        Some(
            futures::stream::unfold(stream, |mut st| async move {
                st.next().await.map(|r| (r.map_err(StoreError::from), st))
            })
            .boxed(),
        )
    }

    /// One page of what `user_id` sees, newest first, from `skip` on: their own items and the
    /// feed's merged by creation (the feed from `feed_lo`), deleted feed items left out; with
    /// `unread_only`, their own unread index from `own_lo` and feed items without an
    /// exception. Each partition is read a page at a time (`Limit = skip + limit`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn merged_page(
        &self,
        user_id: &str,
        unread_only: bool,
        (own_lo, feed_lo, hi): PageBounds,
        skip: usize,
        limit: usize,
        mark: Option<&ReadMark>,
    ) -> StoreResult<Vec<Notification>> {
        let lim = skip + limit;
        // Source 0: own items; 1..=FEED_SHARDS: feed shards.
        let own = if unread_only {
            self.time_range_stream(
                Some("GSI2"),
                ("GSI2PK", format!("NUNREAD#{user_id}")),
                ("GSI2SK", ""),
                own_lo,
                hi,
                lim,
            )
        } else {
            self.time_range_stream(
                None,
                ("PK", user_pk(user_id)),
                ("SK", "NOTIF#"),
                own_lo,
                hi,
                lim,
            )
        };
        let mut sources: Vec<Option<BoxStream<'static, StoreResult<Item>>>> = vec![own];
        for k in 0..FEED_SHARDS {
            sources.push(self.time_range_stream(
                None,
                ("PK", feed_pk(k)),
                ("SK", "NOTIF#"),
                feed_lo,
                hi,
                lim,
            ));
        }
        let mut exceptions = self.time_range_stream(
            None,
            ("PK", user_pk(user_id)),
            ("SK", EXC_PREFIX),
            feed_lo,
            hi,
            lim,
        );
        async fn pull(
            src: &mut Option<BoxStream<'static, StoreResult<Item>>>,
        ) -> StoreResult<Option<Item>> {
            match src {
                Some(st) => st.next().await.transpose(),
                None => Ok(None),
            }
        }
        // The merge key of an item: `<created>#<id>` from its sort key.
        fn key_of(item: &Item) -> String {
            let sk = item
                .get("SK")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            match sk.split_once('#') {
                Some(("NOTIF", rest)) | Some(("FEEDX", rest)) => rest.to_string(),
                _ => sk,
            }
        }
        let mut heads: Vec<Option<(String, Item)>> = Vec::with_capacity(sources.len());
        for src in sources.iter_mut() {
            heads.push(pull(src).await?.map(|i| (key_of(&i), i)));
        }
        let mut exc_head: Option<(String, Item)> =
            pull(&mut exceptions).await?.map(|i| (key_of(&i), i));
        let mut out = Vec::with_capacity(limit);
        let mut skipped = 0;
        while out.len() < limit {
            let Some(pick) = (0..heads.len())
                .filter(|i| heads[*i].is_some())
                .max_by(|a, b| {
                    heads[*a]
                        .as_ref()
                        .map(|h| &h.0)
                        .cmp(&heads[*b].as_ref().map(|h| &h.0))
                })
            else {
                break;
            };
            let Some((key, item)) = heads[pick].take() else {
                break;
            };
            heads[pick] = pull(&mut sources[pick]).await?.map(|i| (key_of(&i), i));
            let seen = if pick == 0 {
                Some(from_item::<Notification>(item)?.as_seen(mark))
            } else {
                while exc_head.as_ref().is_some_and(|(k, _)| *k > key) {
                    exc_head = pull(&mut exceptions).await?.map(|i| (key_of(&i), i));
                }
                let exc = match &exc_head {
                    Some((k, e)) if *k == key => Some(from_item::<FeedException>(e.clone())?),
                    _ => None,
                };
                if unread_only && exc.is_some() {
                    None
                } else {
                    view(&from_item::<FeedItem>(item)?, user_id, mark, exc.as_ref())
                }
            };
            let Some(seen) = seen else { continue };
            if skipped < skip {
                skipped += 1;
                continue;
            }
            out.push(seen);
        }
        Ok(out)
    }

    /// Everything `user_id` sees, oldest first, as they see it (export): own items with the
    /// mark applied, and feed items from their join not deleted, each under an id of its own
    /// for this user (UUID v5 of the feed id and the user), so an import writes them as the
    /// user's own.
    pub async fn user_view(&self, user_id: &str) -> StoreResult<Vec<Notification>> {
        let (mark, join) = futures::try_join!(self.read_mark(user_id), self.feed_join(user_id))?;
        let mut all: Vec<Notification> = self
            .all_user_notifications(user_id)
            .await?
            .into_iter()
            .map(|n| n.as_seen(mark.as_ref()))
            .collect();
        let from = join.as_ref().map(|j| j.cut);
        let exc = self.exceptions(user_id, from, None).await?;
        for f in self.feed_items(from, None).await? {
            if let Some(mut n) = view(&f, user_id, mark.as_ref(), exc.get(&f.key())) {
                n.id = super::notifications::derived_id(&f.id, user_id);
                all.push(n);
            }
        }
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(all)
    }

    /// Deletes, for `user_id`, the read feed items created in `[from, to)`: those read by an
    /// exception, and those their mark covers (from their join); returns how many.
    pub(crate) async fn delete_read_feed(
        &self,
        user_id: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<usize> {
        let join = self.feed_join(user_id).await?;
        let from = later(from, join.map(|j| j.cut));
        let mut deleted = 0;
        for attempt in 0..3 {
            let mark = self.read_mark(user_id).await?;
            let excepted = self.exceptions(user_id, from, to).await?;
            let covered_to = match (&mark, to) {
                (Some(m), Some(t)) => Some(m.cut.min(t)),
                (Some(m), None) => Some(m.cut),
                (None, _) => None,
            };
            let covered = match covered_to {
                Some(t) if from.is_none_or(|f| f < t) => self.feed_items(from, Some(t)).await?,
                _ => Vec::new(),
            };
            let mut targets: Vec<(FeedItem, Option<FeedException>)> = Vec::new();
            for f in covered {
                if !excepted.contains_key(&f.key()) {
                    targets.push((f, None));
                }
            }
            let read: Vec<&FeedException> = excepted
                .values()
                .filter(|e| e.state == ExceptionState::Read)
                .collect();
            for e in read {
                // The item itself is only needed for its key and time.
                let f = FeedItem {
                    id: e.id.clone(),
                    title: String::new(),
                    message: String::new(),
                    kind: Level::Info,
                    related_job_id: None,
                    related_execution_id: None,
                    created_at: e.created_at,
                };
                targets.push((f, Some(e.clone())));
            }
            let mut conflicts = false;
            for chunk in targets.chunks(20) {
                let mut ops = Vec::new();
                let mut forgotten = 0;
                for (f, e) in chunk {
                    let (o, covered) =
                        self.delete_feed_ops(user_id, f, e.as_ref(), mark.as_ref())?;
                    ops.extend(o);
                    forgotten += covered as usize;
                }
                if let (true, Some(m)) = (forgotten > 0, &mark) {
                    ops.push((self.mark_forget(user_id, m, forgotten)?, vec![]));
                }
                match self.transact_counted(ops).await {
                    Ok(()) => deleted += chunk.len(),
                    Err(StoreError::Conflict) => conflicts = true,
                    Err(e) => return Err(e),
                }
            }
            if !conflicts || attempt == 2 {
                break;
            }
        }
        Ok(deleted)
    }

    /// Keys of a user's join and feed exceptions (user deletion).
    pub(crate) async fn feed_state_keys(
        &self,
        user_id: &str,
    ) -> StoreResult<Vec<(String, String)>> {
        let mut keys = self.keys_with_prefix(&user_pk(user_id), EXC_PREFIX).await?;
        keys.push((user_pk(user_id), JOIN_SK.to_string()));
        Ok(keys)
    }
}
