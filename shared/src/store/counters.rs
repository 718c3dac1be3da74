//! Time-bucketed counters: totals, `unread_count` and statistics are read from these, never
//! by reading the items they count (docs/dynamodb-access-patterns.md, "Counters").
//!
//! A *scope* (one partition key, e.g. `XSTAT#JOB#<id>`) holds four kinds of counter items,
//! all updated with `ADD` in the same transaction as the write they count:
//!
//! | SK | attributes | read by |
//! |---|---|---|
//! | `TOTAL` | `t_<field>` | unbounded totals |
//! | `D#<yyyy-mm-dd>` (UTC day) | `d_<field>`: the day's sum | ranges: one item per whole day |
//! | `DH#<yyyy-mm-dd>` (UTC day) | `h<HH>_<field>`: one slot per hour | the partial day at each end of a range |
//! | `H#<yyyy-mm-dd>T<HH>` (UTC hour) | `m<MM>_<field>`: one slot per minute | the partial hour at each end of a range |
//!
//! Day sums and hour slots are separate items so that a whole day costs one small item
//! whatever the density of the scope: a busy scope's day of hour slots is ~24× larger, and is
//! read only for the (at most two) partial days of a range.
//!
//! A `<field>` is a short code chosen by the caller (an execution's status/trigger/type
//! combination, a notification's read state, a duration sum). A range `[from, to)` is
//! counted at minute precision (both bounds rounded down to the minute): whole days from day
//! items, whole hours from the hour slots of the day, leftover minutes from the hour item, so
//! a range costs one item per day it touches plus at most two hour-slot items and two hour
//! items. Nothing is counted after now, so an open-ended range ends with a whole day.

use super::{s, Item, Store, StoreError, StoreResult};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, TransactWriteItem, Update};
use chrono::{DateTime, Duration, DurationRound, NaiveDate, Timelike, Utc};
use std::collections::{BTreeMap, HashMap};

/// Sums of counter fields over some span: field code → value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally(pub BTreeMap<String, i64>);

impl Tally {
    /// The value of one field (0 when never counted).
    pub fn get(&self, field: &str) -> i64 {
        self.0.get(field).copied().unwrap_or(0)
    }
    /// Sum of the fields accepted by `pred`.
    pub fn sum(&self, pred: impl Fn(&str) -> bool) -> i64 {
        self.0
            .iter()
            .filter(|(k, _)| pred(k))
            .map(|(_, v)| *v)
            .sum()
    }
    fn add(&mut self, field: &str, v: i64) {
        *self.0.entry(field.to_string()).or_insert(0) += v;
    }
    /// Adds another tally into this one.
    pub fn merge(&mut self, other: &Tally) {
        for (k, v) in &other.0 {
            self.add(k, *v);
        }
    }
    /// The same fields with opposite signs.
    pub fn negated(&self) -> Tally {
        Tally(self.0.iter().map(|(k, v)| (k.clone(), -v)).collect())
    }
}

/// One change to count: `(field, amount)` pairs at the instant that places them in buckets.
#[derive(Clone, Debug)]
pub struct Delta {
    pub at: DateTime<Utc>,
    pub adds: Vec<(String, i64)>,
}

fn day_sk(d: NaiveDate) -> String {
    format!("D#{}", d.format("%Y-%m-%d"))
}

fn day_hours_sk(d: NaiveDate) -> String {
    format!("DH#{}", d.format("%Y-%m-%d"))
}

fn hour_sk(t: DateTime<Utc>) -> String {
    format!("H#{}", t.format("%Y-%m-%dT%H"))
}

/// `t` rounded down to the minute (the precision of counted ranges).
pub(crate) fn floor_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::minutes(1)).unwrap_or(t)
}

/// Counter item key `(PK, SK)`.
pub(crate) type CounterKey = (String, String);

/// Pending counter changes, merged per item and attribute, plus plain `SET`s on `TOTAL` items
/// (a job's last run time rides on its counter write).
#[derive(Clone, Debug, Default)]
pub(crate) struct CounterChanges(
    pub BTreeMap<CounterKey, BTreeMap<String, i64>>,
    pub BTreeMap<CounterKey, Vec<(String, AttributeValue)>>,
);

impl CounterChanges {
    /// `SET <attr> = <value>` on the `TOTAL` item of every scope changed so far.
    pub fn set_on_total(&mut self, attr: &str, value: AttributeValue) {
        let scopes: std::collections::BTreeSet<String> =
            self.0.keys().map(|(p, _)| p.clone()).collect();
        for scope in scopes {
            let sets = self.1.entry((scope, "TOTAL".to_string())).or_default();
            sets.retain(|(a, _)| a != attr);
            sets.push((attr.to_string(), value.clone()));
        }
    }

    /// Adds one delta in `scope`: its TOTAL, day sum, hour slot and minute slot items.
    pub fn add(&mut self, scope: &str, delta: &Delta) {
        let at = delta.at;
        for (sk, slot) in [
            ("TOTAL".to_string(), "t".to_string()),
            (day_sk(at.date_naive()), "d".to_string()),
            (day_hours_sk(at.date_naive()), format!("h{:02}", at.hour())),
            (hour_sk(at), format!("m{:02}", at.minute())),
        ] {
            let attrs = self.0.entry((scope.to_string(), sk)).or_default();
            for (field, v) in &delta.adds {
                *attrs.entry(format!("{slot}_{field}")).or_insert(0) += v;
            }
        }
    }

    /// The items these changes touch.
    pub fn keys(&self) -> impl Iterator<Item = &CounterKey> {
        self.0.keys()
    }

    /// One `ADD` update per counter item (attributes that cancel out are left out).
    ///
    /// With a retention `floor` (the first visible day), each scope's `TOTAL` also keeps the
    /// [`FOLDED_ATTR`] mark: `SET if_not_exists(…, floor)` when every item written is of a
    /// visible day (a new scope has nothing to fold), `SET` to the oldest day written when
    /// one is before the floor (an import of old history), which sends readers back to
    /// looking for unfolded days until the maintenance function has folded them.
    pub fn into_updates(
        mut self,
        table: &str,
        floor: Option<NaiveDate>,
    ) -> StoreResult<Vec<TransactWriteItem>> {
        // Per scope: the oldest day written before the floor, if any.
        let mut marks: BTreeMap<String, Option<NaiveDate>> = BTreeMap::new();
        if let Some(floor) = floor {
            for (pk, sk) in self.0.keys() {
                let mark = marks.entry(pk.clone()).or_insert(None);
                if let Some(day) = day_of_sk(sk).filter(|d| *d < floor) {
                    *mark = Some(mark.map_or(day, |m| m.min(day)));
                }
            }
            for (pk, old) in &marks {
                if old.is_some() {
                    self.0.entry((pk.clone(), "TOTAL".into())).or_default();
                }
            }
        }
        let mut out = Vec::with_capacity(self.0.len());
        for ((pk, sk), attrs) in self.0 {
            let sets = self.1.remove(&(pk.clone(), sk.clone())).unwrap_or_default();
            let mark = match (sk == "TOTAL", marks.get(&pk), floor) {
                (true, Some(Some(old)), _) => Some(("#fd = :fd", *old)),
                (true, Some(None), Some(floor)) => Some(("#fd = if_not_exists(#fd, :fd)", floor)),
                _ => None,
            };
            let mut b = Update::builder()
                .table_name(table)
                .key("PK", s(pk))
                .key("SK", s(sk));
            let mut parts = Vec::new();
            for (i, (name, v)) in attrs.into_iter().filter(|(_, v)| *v != 0).enumerate() {
                parts.push(format!("#a{i} :v{i}"));
                b = b
                    .expression_attribute_names(format!("#a{i}"), name)
                    .expression_attribute_values(
                        format!(":v{i}"),
                        AttributeValue::N(v.to_string()),
                    );
            }
            let mut set_parts = Vec::new();
            for (i, (name, v)) in sets.into_iter().enumerate() {
                set_parts.push(format!("#s{i} = :s{i}"));
                b = b
                    .expression_attribute_names(format!("#s{i}"), name)
                    .expression_attribute_values(format!(":s{i}"), v);
            }
            if let Some((expr, day)) = mark {
                set_parts.push(expr.to_string());
                b = b
                    .expression_attribute_names("#fd", FOLDED_ATTR)
                    .expression_attribute_values(":fd", s(day.format("%Y-%m-%d").to_string()));
            }
            if parts.is_empty() && set_parts.is_empty() {
                continue;
            }
            let mut expr = Vec::new();
            if !parts.is_empty() {
                expr.push(format!("ADD {}", parts.join(", ")));
            }
            if !set_parts.is_empty() {
                expr.push(format!("SET {}", set_parts.join(", ")));
            }
            b = b.update_expression(expr.join(" "));
            out.push(
                TransactWriteItem::builder()
                    .update(b.build().map_err(|e| StoreError::Build(e.to_string()))?)
                    .build(),
            );
        }
        Ok(out)
    }
}

/// The counter updates of one delta in `scope` (for a transaction), with the retention
/// `floor` ([`CounterChanges::into_updates`]).
pub(crate) fn updates(
    table: &str,
    scope: &str,
    delta: &Delta,
    floor: Option<NaiveDate>,
) -> StoreResult<Vec<TransactWriteItem>> {
    let mut c = CounterChanges::default();
    c.add(scope, delta);
    c.into_updates(table, floor)
}

/// Attribute of a scope's `TOTAL` item: `yyyy-mm-dd`, a day before which the scope has no
/// day item left to fold out (docs/dynamodb-access-patterns.md, "Retention"). Readers look
/// for unfolded days past retention only when it is older than today's floor.
pub(crate) const FOLDED_ATTR: &str = "folded_before";

/// The UTC day a counter item's SK names (`D#`, `DH#`, `H#` items; `None` for `TOTAL`).
fn day_of_sk(sk: &str) -> Option<NaiveDate> {
    let rest = sk
        .strip_prefix("D#")
        .or_else(|| sk.strip_prefix("DH#"))
        .or_else(|| sk.strip_prefix("H#"))?;
    NaiveDate::parse_from_str(rest.get(..10)?, "%Y-%m-%d").ok()
}

/// Whether a `TOTAL` item says its scope has nothing before `floor` left to fold.
fn folded_before(total: &Item, floor: NaiveDate) -> bool {
    total
        .get(FOLDED_ATTR)
        .and_then(|v| v.as_s().ok())
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .is_some_and(|d| d >= floor)
}

/// Most items DynamoDB takes in one transaction.
const MAX_TX_ITEMS: usize = 100;

impl Store {
    /// Writes items with the counter changes they cause, as few transactions as possible:
    /// each transaction carries whole writes and the merged counter updates of exactly those
    /// writes, so counters never disagree with what was written.
    pub(crate) async fn transact_counted(
        &self,
        ops: Vec<(TransactWriteItem, Vec<(String, Delta)>)>,
    ) -> StoreResult<()> {
        let mut writes = Vec::new();
        let mut changes = CounterChanges::default();
        for (write, deltas) in ops {
            let mut next = changes.clone();
            for (scope, d) in &deltas {
                next.add(scope, d);
            }
            if !writes.is_empty() && writes.len() + 1 + next.keys().count() > MAX_TX_ITEMS {
                let mut items = std::mem::take(&mut writes);
                items.extend(
                    std::mem::take(&mut changes).into_updates(&self.table, self.floor_day())?,
                );
                self.transact(items).await?;
                next = CounterChanges::default();
                for (scope, d) in &deltas {
                    next.add(scope, d);
                }
            }
            writes.push(write);
            changes = next;
        }
        if !writes.is_empty() {
            writes.extend(changes.into_updates(&self.table, self.floor_day())?);
            self.transact(writes).await?;
        }
        Ok(())
    }

    /// Moves a scope's counts out of another scope, item by item until `deadline`: each
    /// counter item of `from` is subtracted from the same item of `into`
    /// ([`Store::move_counter_item`]), then deleted. Returns `true` when `from` is empty.
    pub(crate) async fn subtract_scope(
        &self,
        from: &str,
        into: &str,
        deadline: std::time::Instant,
    ) -> StoreResult<bool> {
        loop {
            let keys = self.first_keys(from, "", 100).await?;
            if keys.is_empty() {
                return Ok(true);
            }
            for (_, sk) in keys {
                self.move_counter_item(from, into, &sk).await?;
                if std::time::Instant::now() >= deadline {
                    return Ok(false);
                }
            }
        }
    }

    /// Moves one counter item's counts from scope `from` into scope `into` (same SK) and
    /// deletes it: transactions of two updates, `ADD -n` on `into` and `REMOVE` of exactly
    /// those attributes from `from` **if they still hold the values read** (at most 90 per
    /// transaction). A concurrent writer or a second worker makes the condition fail and the
    /// item is read again, so nothing is ever subtracted twice or lost.
    pub(crate) async fn move_counter_item(
        &self,
        from: &str,
        into: &str,
        sk: &str,
    ) -> StoreResult<()> {
        for _ in 0..10 {
            let Some(item) = self.get(from.to_string(), sk).await? else {
                return Ok(());
            };
            let attrs: Vec<(String, String)> = item
                .iter()
                .filter_map(|(k, v)| match v {
                    AttributeValue::N(n) => Some((k.clone(), n.clone())),
                    _ => None,
                })
                .take(90)
                .collect();
            if attrs.is_empty() {
                self.batch_delete(vec![(from.to_string(), sk.to_string())])
                    .await?;
                return Ok(());
            }
            let mut sub = CounterChanges::default();
            sub.0.insert(
                (into.to_string(), sk.to_string()),
                attrs
                    .iter()
                    .map(|(k, v)| (k.clone(), -v.parse::<i64>().unwrap_or(0)))
                    .collect(),
            );
            let mut items = sub.into_updates(&self.table, self.floor_day())?;
            let mut rm = Update::builder()
                .table_name(&self.table)
                .key("PK", s(from))
                .key("SK", s(sk));
            let (mut names, mut conds) = (Vec::new(), Vec::new());
            for (i, (k, v)) in attrs.iter().enumerate() {
                names.push(format!("#r{i}"));
                conds.push(format!("#r{i} = :r{i}"));
                rm = rm
                    .expression_attribute_names(format!("#r{i}"), k)
                    .expression_attribute_values(format!(":r{i}"), AttributeValue::N(v.clone()));
            }
            let rm = rm
                .update_expression(format!("REMOVE {}", names.join(", ")))
                .condition_expression(conds.join(" AND "))
                .build()
                .map_err(|e| StoreError::Build(e.to_string()))?;
            items.push(TransactWriteItem::builder().update(rm).build());
            match self.transact(items).await {
                Ok(()) | Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Throttled(format!(
            "counter item {from}/{sk} kept changing while being moved"
        )))
    }

    /// `(PK, SK)` of at most `limit` items of partition `pk` whose SK starts with `prefix`
    /// (one keys-only Query page; an empty prefix: any SK).
    pub(crate) async fn first_keys(
        &self,
        pk: &str,
        prefix: &str,
        limit: i32,
    ) -> StoreResult<Vec<(String, String)>> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(pk))
            .projection_expression("PK, SK")
            .limit(limit);
        // An empty prefix is every item (key values may not be empty strings).
        q = if prefix.is_empty() {
            q.key_condition_expression("PK = :pk")
        } else {
            q.key_condition_expression("PK = :pk AND begins_with(SK, :p)")
                .expression_attribute_values(":p", s(prefix))
        };
        let out = q.send().await?;
        Ok(out
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|i| match (i.get("PK"), i.get("SK")) {
                (Some(AttributeValue::S(p)), Some(AttributeValue::S(k))) => {
                    Some((p.clone(), k.clone()))
                }
                _ => None,
            })
            .collect())
    }

    /// Deletes every counter item of a scope (all four kinds share these SK prefixes).
    pub(crate) async fn drop_scope(&self, scope: &str) -> StoreResult<()> {
        let mut keys = Vec::new();
        for prefix in ["TOTAL", "D", "H#"] {
            keys.extend(self.keys_with_prefix(scope, prefix).await?);
        }
        self.batch_delete(keys).await
    }

    /// `(PK, SK)` of the items of partition `pk` whose SK starts with `prefix` (keys only).
    pub(crate) async fn keys_with_prefix(
        &self,
        pk: &str,
        prefix: &str,
    ) -> StoreResult<Vec<(String, String)>> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :p)")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":p", s(prefix))
            .projection_expression("PK, SK")
            .limit(1000)
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        let mut keys = Vec::new();
        for item in items {
            let item = item?;
            if let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) =
                (item.get("PK"), item.get("SK"))
            {
                keys.push((pk.clone(), sk.clone()));
            }
        }
        Ok(keys)
    }
}

/// Sums the attributes of `item` named `<slot>_<field>` for slots accepted by `slot_ok`.
fn tally_of(item: Option<&Item>, prefix: char, slot_ok: impl Fn(u32) -> bool) -> Tally {
    let mut t = Tally::default();
    let Some(item) = item else { return t };
    for (name, v) in item {
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let Some((slot, field)) = rest.split_once('_') else {
            continue;
        };
        // `TOTAL` attributes have no slot number (`t_<field>`).
        let slot = if slot.is_empty() {
            Ok(0)
        } else {
            slot.parse::<u32>()
        };
        let (Ok(slot), AttributeValue::N(n)) = (slot, v) else {
            continue;
        };
        if slot_ok(slot) {
            t.add(field, n.parse().unwrap_or(0));
        }
    }
    t
}

/// A span of time whose count is known, at day, hour or minute resolution.
#[derive(Clone, Debug)]
pub struct Segment {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub tally: Tally,
}

/// Counts of a range, bucket by bucket (ascending time), with the items they came from so
/// a bucket can be refined without reading again.
#[derive(Clone, Debug, Default)]
pub struct RangeCounts {
    pub segments: Vec<Segment>,
    /// Items read, keyed `<scope>|<sk>` (absent items are absent).
    items: HashMap<String, Item>,
    scopes: Vec<String>,
}

impl RangeCounts {
    /// The sum over the whole range.
    pub fn total(&self) -> Tally {
        let mut t = Tally::default();
        for s in &self.segments {
            t.merge(&s.tally);
        }
        t
    }
}

impl Store {
    /// Sum of the `TOTAL` items of `scopes` (one GetItem each, batched), less the days past
    /// retention not folded out yet (Queried beside it).
    pub async fn counter_totals(&self, scopes: &[String]) -> StoreResult<Tally> {
        Ok(self.totals_and_range(scopes, None).await?.0)
    }

    /// [`Store::counter_totals`] and, when `range` is given, [`Store::counter_range`] of it,
    /// in one step: one BatchGetItem of the `TOTAL` items and the range's edge items (beside
    /// the range's day Queries); then, only for scopes whose [`FOLDED_ATTR`] mark is older than
    /// the floor, the Query of their expired days.
    async fn totals_and_range(
        &self,
        scopes: &[String],
        range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> StoreResult<(Tally, Option<RangeCounts>)> {
        let plan = range.map(|(from, to)| RangePlan::new(scopes, from, to));
        let keys: Vec<CounterKey> = scopes
            .iter()
            .map(|p| (p.clone(), "TOTAL".to_string()))
            .collect();
        let items = match &plan {
            Some(plan) => self.read_plan(scopes, plan, keys).await?,
            None => self.batch_get(&keys).await?,
        };
        // Days past retention that the maintenance function has not folded out yet: looked
        // for only in scopes whose `TOTAL` does not say they are all folded (normally none;
        // between midnight UTC and the daily fold, all of them).
        let expired = match self.history_floor() {
            Some(floor) => {
                let unfolded = scopes.iter().filter(|scope| {
                    items
                        .get(&format!("{scope}|TOTAL"))
                        .is_some_and(|total| !folded_before(total, floor.date_naive()))
                });
                futures::future::try_join_all(unfolded.map(|scope| self.expired_days(scope, floor)))
                    .await?
            }
            None => Vec::new(),
        };
        let mut t = Tally::default();
        for scope in scopes {
            t.merge(&tally_of(items.get(&format!("{scope}|TOTAL")), 't', |_| {
                true
            }));
        }
        for day in expired.into_iter().flatten() {
            t.merge(&tally_of(Some(&day), 'd', |_| true).negated());
        }
        Ok((t, plan.map(|plan| plan.assemble(items, scopes))))
    }

    /// Counts of `scopes` over `[from, to)`: all time ([`Store::counter_totals`]) when both
    /// bounds are absent, else the range clamped to where counts can be
    /// ([`Store::clamp_range`], [`Store::counter_range`]) with its per-bucket counts.
    pub(crate) async fn counts(
        &self,
        scopes: &[String],
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<(Tally, Option<RangeCounts>)> {
        if from.is_none() && to.is_none() {
            return Ok((self.counter_totals(scopes).await?, None));
        }
        Ok(match self.clamp_range(scopes, from, to).await? {
            Some((from, to)) => {
                let counts = self.counter_range(scopes, from, to).await?;
                (counts.total(), Some(counts))
            }
            None => (Tally::default(), None),
        })
    }

    /// What a page needs from the counters: the total of `[from, to)` (all time when both are
    /// absent) and the counts its offset is located in. Without a range, these are today's
    /// (by hour) and the [`RECENT_DAYS`] newest day items before today, read in the same step
    /// as the totals: older days are read only when the offset is past those. `None` when
    /// nothing can match.
    pub(crate) async fn page_counts(
        &self,
        scopes: &[String],
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<(Tally, Option<PageSpan>)> {
        if from.is_none() && to.is_none() {
            let today = Utc::now().date_naive();
            let start = today.and_time(chrono::NaiveTime::MIN).and_utc();
            let ((total, counts), earlier) = futures::future::try_join(
                self.totals_and_range(scopes, Some((start, start + Duration::days(1)))),
                self.recent_days(scopes, today),
            )
            .await?;
            return Ok((
                total,
                counts.map(|today| PageSpan::Newest { today, earlier }),
            ));
        }
        let (total, counts) = self.counts(scopes, from, to).await?;
        Ok((total, counts.map(PageSpan::Range)))
    }

    /// The [`RECENT_DAYS`] newest visible day items of each scope before `before` (one Query
    /// per scope, `Limit` [`RECENT_DAYS`]).
    async fn recent_days(&self, scopes: &[String], before: NaiveDate) -> StoreResult<RecentDays> {
        let first = self.floor_day();
        let last = before - Duration::days(1);
        if first.is_some_and(|f| f > last) {
            return Ok(RecentDays(vec![Vec::new(); scopes.len()]));
        }
        let lists = futures::future::try_join_all(
            scopes
                .iter()
                .map(|scope| self.day_items(scope, first, last, Some(RECENT_DAYS))),
        )
        .await?;
        Ok(RecentDays(lists))
    }

    /// A scope's day items before `floor` (Query `SK BETWEEN D# AND D#<floor − 1 day>~`):
    /// normally none or one, as [`Store::expire_counters`] folds them out daily.
    async fn expired_days(&self, scope: &str, floor: DateTime<Utc>) -> StoreResult<Vec<Item>> {
        let last = floor.date_naive() - Duration::days(1);
        let days = self.day_items(scope, None, last, None).await?;
        Ok(days.into_iter().map(|(_, item)| item).collect())
    }

    /// Folds a scope's days past retention out of its `TOTAL` item: per expired day one
    /// transaction (`ADD -sum` on `TOTAL`, Delete the day item if it still exists, so a
    /// second run never subtracts twice), then deletes that day's hour items. Returns the
    /// number of days folded. Run daily by the maintenance function.
    pub async fn expire_counters(&self, scope: &str) -> StoreResult<usize> {
        let Some(floor) = self.history_floor() else {
            return Ok(0);
        };
        // The mark as it was before looking: set below only if no writer changed it since.
        let Some(total) = self.get(scope.to_string(), "TOTAL").await? else {
            return Ok(0);
        };
        let mark = total.get(FOLDED_ATTR).cloned();
        let days = self.expired_days(scope, floor).await?;
        let mut folded = 0;
        for day in days {
            let Some(AttributeValue::S(sk)) = day.get("SK") else {
                continue;
            };
            let tally = tally_of(Some(&day), 'd', |_| true);
            let mut c = CounterChanges::default();
            c.0.insert(
                (scope.to_string(), "TOTAL".to_string()),
                tally
                    .0
                    .iter()
                    .map(|(k, v)| (format!("t_{k}"), -v))
                    .collect(),
            );
            // No mark here: it is set once every expired day is folded (below).
            let mut items = c.into_updates(&self.table, None)?;
            items.push(super::tx::delete(
                &self.table,
                scope.to_string(),
                sk,
                Some("attribute_exists(PK)"),
                &[],
            )?);
            match self.transact(items).await {
                Ok(()) => folded += 1,
                Err(StoreError::Conflict) => {}
                Err(e) => return Err(e),
            }
            let date = sk.trim_start_matches("D#");
            let mut hours: Vec<(String, String)> = (0..24)
                .map(|h| (scope.to_string(), format!("H#{date}T{h:02}")))
                .collect();
            hours.push((scope.to_string(), format!("DH#{date}")));
            self.batch_delete(hours).await?;
        }
        self.mark_folded(scope, floor.date_naive(), mark).await?;
        Ok(folded)
    }

    /// Sets a scope's [`FOLDED_ATTR`] to `floor` once its days before it are folded, on
    /// condition that the mark is still `seen` (a writer of an old day in between moves it
    /// back and wins: the next daily run folds that day too).
    async fn mark_folded(
        &self,
        scope: &str,
        floor: NaiveDate,
        seen: Option<AttributeValue>,
    ) -> StoreResult<()> {
        let mut u = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(scope))
            .key("SK", s("TOTAL"))
            .update_expression("SET #fd = :fd")
            .expression_attribute_names("#fd", FOLDED_ATTR)
            .expression_attribute_values(":fd", s(floor.format("%Y-%m-%d").to_string()));
        u = match seen {
            Some(v) => u
                .condition_expression("#fd = :seen")
                .expression_attribute_values(":seen", v),
            None => u.condition_expression("attribute_exists(PK) AND attribute_not_exists(#fd)"),
        };
        super::ignore_conflict(super::map_conditional(u.send().await).map(|_| ()))
    }

    /// The part of `[from, to)` where `scopes` can have counts: from the first counted day to
    /// the end of today (UTC), so a range asked for from 1970 or up to 9999 reads one item per day
    /// of actual history, never per day of the request. `None` when nothing can match.
    pub(crate) async fn clamp_range(
        &self,
        scopes: &[String],
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<Option<(DateTime<Utc>, DateTime<Utc>)>> {
        let firsts =
            futures::future::try_join_all(scopes.iter().map(|scope| self.first_counted_day(scope)))
                .await?;
        let Some(earliest) = firsts.into_iter().flatten().min() else {
            return Ok(None);
        };
        // Nothing is counted after now: the range may end with today as a whole day.
        let latest = (Utc::now().date_naive() + Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_else(Utc::now);
        let earliest = self.visible_from(Some(earliest)).unwrap_or(earliest);
        let from = from.map_or(earliest, |f| f.max(earliest));
        let to = to.map_or(latest, |t| t.min(latest));
        Ok((from < to).then_some((from, to)))
    }

    /// Counts of `[from, to)` (rounded down to the minute) summed over `scopes`: one day item
    /// per day touched (today: its hour-slot item) and at most two hour items per scope.
    pub async fn counter_range(
        &self,
        scopes: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<RangeCounts> {
        let plan = RangePlan::new(scopes, from, to);
        let items = self.read_plan(scopes, &plan, Vec::new()).await?;
        Ok(plan.assemble(items, scopes))
    }

    /// The counter items a plan needs, plus `extra` keys: one BatchGetItem of the hour-slot and
    /// hour items (and `extra`), concurrent with one Query per scope of its whole days. Keyed
    /// `<PK>|<SK>`.
    async fn read_plan(
        &self,
        scopes: &[String],
        plan: &RangePlan,
        mut keys: Vec<CounterKey>,
    ) -> StoreResult<HashMap<String, Item>> {
        keys.extend(plan.keys.iter().cloned());
        let days = async {
            match plan.days {
                Some((first, last)) => {
                    futures::future::try_join_all(
                        scopes
                            .iter()
                            .map(|scope| self.day_items(scope, Some(first), last, None)),
                    )
                    .await
                }
                None => Ok(Vec::new()),
            }
        };
        let (mut items, days) = futures::future::try_join(self.batch_get(&keys), days).await?;
        for (scope, list) in scopes.iter().zip(days) {
            for (day, item) in list {
                items.insert(format!("{scope}|{}", day_sk(day)), item);
            }
        }
        Ok(items)
    }

    /// A scope's day items (`D#<day>`) of `[first, last]` (from its first day when `first` is
    /// `None`), newest first: one Query `SK BETWEEN D#<first> AND D#<last>~`, paged on, or only
    /// its first page of `limit` items. Days without counts have no item and cost nothing; a
    /// Query is billed by the bytes it reads (~100 B a day item), not per item as BatchGetItem.
    async fn day_items(
        &self,
        scope: &str,
        first: Option<NaiveDate>,
        last: NaiveDate,
        limit: Option<i32>,
    ) -> StoreResult<Vec<(NaiveDate, Item)>> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", s(scope))
            .expression_attribute_values(":lo", s(first.map_or("D#".into(), day_sk)))
            .expression_attribute_values(":hi", s(format!("{}~", day_sk(last))))
            .scan_index_forward(false);
        let items = match limit {
            Some(n) => q.limit(n).send().await?.items.unwrap_or_default(),
            None => {
                q.into_paginator()
                    .items()
                    .send()
                    .collect::<Result<Vec<_>, _>>()
                    .await?
            }
        };
        Ok(items
            .into_iter()
            .filter_map(|item| {
                let day = day_of_sk(item.get("SK")?.as_s().ok()?)?;
                Some((day, item))
            })
            .collect())
    }

    /// Splits a segment into its hours (the day's hour-slot items) or minutes (the hour
    /// items), reading only the items `counts` does not hold yet (one BatchGetItem at most).
    pub async fn refine_segment(
        &self,
        counts: &RangeCounts,
        seg: &Segment,
    ) -> StoreResult<Vec<Segment>> {
        let span = seg.end - seg.start;
        let (sk, step, prefix) = if span > Duration::hours(1) {
            (
                day_hours_sk(seg.start.date_naive()),
                Duration::hours(1),
                'h',
            )
        } else if span > Duration::minutes(1) {
            (hour_sk(seg.start), Duration::minutes(1), 'm')
        } else {
            return Ok(vec![seg.clone()]);
        };
        let mut items: HashMap<String, Item> = HashMap::new();
        let mut missing = Vec::new();
        for p in &counts.scopes {
            let key = format!("{p}|{sk}");
            match counts.items.get(&key) {
                Some(i) => {
                    items.insert(key, i.clone());
                }
                None => missing.push((p.clone(), sk.clone())),
            }
        }
        if !missing.is_empty() {
            items.extend(self.batch_get(&missing).await?);
        }
        let with = RangeCounts {
            segments: Vec::new(),
            items,
            scopes: counts.scopes.clone(),
        };
        let mut out = Vec::new();
        let mut t = seg.start;
        while t < seg.end {
            let slot = if prefix == 'h' { t.hour() } else { t.minute() };
            out.push(with.segment(t, t + step, &sk, prefix, move |s| s == slot));
            t += step;
        }
        Ok(out)
    }

    /// GetItem for many keys (BatchGetItem, 100 per call, unprocessed keys retried); the
    /// result is keyed `<PK>|<SK>`.
    pub(crate) async fn batch_get(
        &self,
        keys: &[(String, String)],
    ) -> StoreResult<HashMap<String, Item>> {
        self.batch_get_attrs(keys, &[]).await
    }

    /// [`Store::batch_get`] returning only `PK`, `SK` and the attributes named in `attrs`
    /// (all of them when empty): smaller answers to parse, same capacity consumed.
    pub(crate) async fn batch_get_attrs(
        &self,
        keys: &[(String, String)],
        attrs: &[&str],
    ) -> StoreResult<HashMap<String, Item>> {
        let mut out = HashMap::new();
        for chunk in keys.chunks(100) {
            let mut ka = KeysAndAttributes::builder();
            if !attrs.is_empty() {
                let mut projection = String::from("PK, SK");
                for (i, a) in attrs.iter().enumerate() {
                    projection.push_str(&format!(", #a{i}"));
                    ka = ka.expression_attribute_names(format!("#a{i}"), *a);
                }
                ka = ka.projection_expression(projection);
            }
            for (pk, sk) in chunk {
                ka = ka.keys(HashMap::from([
                    ("PK".to_string(), s(pk.clone())),
                    ("SK".to_string(), s(sk.clone())),
                ]));
            }
            let mut request = Some(ka.build().map_err(|e| StoreError::Build(e.to_string()))?);
            let mut attempt = 0u32;
            while let Some(req) = request.take() {
                let resp = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, req)
                    .send()
                    .await?;
                for item in resp
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    let key = match (item.get("PK"), item.get("SK")) {
                        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => {
                            format!("{pk}|{sk}")
                        }
                        _ => continue,
                    };
                    out.insert(key, item);
                }
                request = resp
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys.is_empty());
                if request.is_some() {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempt.min(6)))
                        .await;
                }
            }
        }
        Ok(out)
    }
}

/// One bucket of a planned range.
enum Piece {
    Day(NaiveDate),
    Hour(DateTime<Utc>),
    Minute(DateTime<Utc>),
}

/// How `[from, to)` (rounded down to the minute) is counted: whole days before today from
/// their day items, whole hours (today's included) from their day's hour-slot item, leftover
/// minutes from their hour item; `keys` are the counter items to read, once each.
///
/// Today is counted by hours although a day item would do: the hour-slot item costs the same
/// read unit (both are well under 4 KB), and an offset landing in today (the usual page) is then
/// located down to the hour without another read.
struct RangePlan {
    pieces: Vec<Piece>,
    /// Hour-slot and hour items (BatchGetItem).
    keys: Vec<CounterKey>,
    /// First and last whole day (Queried, one Query per scope).
    days: Option<(NaiveDate, NaiveDate)>,
}

impl RangePlan {
    fn new(scopes: &[String], from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        let (from, to) = (floor_minute(from), floor_minute(to));
        let today = Utc::now().date_naive();
        let mut pieces = Vec::new();
        let mut cur = from;
        while cur < to {
            let day_start = cur.date_naive().and_hms_opt(0, 0, 0).map(|d| d.and_utc());
            if day_start == Some(cur) && cur + Duration::days(1) <= to && cur.date_naive() < today {
                pieces.push(Piece::Day(cur.date_naive()));
                cur += Duration::days(1);
            } else if cur.minute() == 0 && cur + Duration::hours(1) <= to {
                pieces.push(Piece::Hour(cur));
                cur += Duration::hours(1);
            } else {
                pieces.push(Piece::Minute(cur));
                cur += Duration::minutes(1);
            }
        }
        let mut keys = Vec::new();
        let mut days: Option<(NaiveDate, NaiveDate)> = None;
        for p in &pieces {
            let sk = match p {
                Piece::Day(d) => {
                    days = Some(days.map_or((*d, *d), |(first, _)| (first, *d)));
                    continue;
                }
                Piece::Hour(t) => day_hours_sk(t.date_naive()),
                Piece::Minute(t) => hour_sk(*t),
            };
            for scope in scopes {
                let k = (scope.clone(), sk.clone());
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        RangePlan { pieces, keys, days }
    }

    /// The range's buckets counted from `items` (keyed `<PK>|<SK>`, absent items count 0).
    fn assemble(self, items: HashMap<String, Item>, scopes: &[String]) -> RangeCounts {
        let mut out = RangeCounts {
            segments: Vec::with_capacity(self.pieces.len()),
            items,
            scopes: scopes.to_vec(),
        };
        for p in self.pieces {
            let seg = match p {
                Piece::Day(d) => {
                    let start = d.and_time(chrono::NaiveTime::MIN).and_utc();
                    out.segment(start, start + Duration::days(1), &day_sk(d), 'd', |_| true)
                }
                Piece::Hour(t) => {
                    let h = t.hour();
                    out.segment(
                        t,
                        t + Duration::hours(1),
                        &day_hours_sk(t.date_naive()),
                        'h',
                        move |s| s == h,
                    )
                }
                Piece::Minute(t) => {
                    let m = t.minute();
                    out.segment(t, t + Duration::minutes(1), &hour_sk(t), 'm', move |s| {
                        s == m
                    })
                }
            };
            out.segments.push(seg);
        }
        out
    }
}

impl RangeCounts {
    fn segment(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        sk: &str,
        prefix: char,
        slot_ok: impl Fn(u32) -> bool + Copy,
    ) -> Segment {
        let mut tally = Tally::default();
        for scope in &self.scopes {
            tally.merge(&tally_of(
                self.items.get(&format!("{scope}|{sk}")),
                prefix,
                slot_ok,
            ));
        }
        Segment { start, end, tally }
    }
}

/// Where offset `offset` (newest first) lands in a range: the bucket (at minute precision
/// when needed) and how many matching items of that bucket come before it.
#[derive(Clone, Debug, PartialEq)]
pub struct PagePosition {
    /// Exclusive upper bound of the bucket holding the first item of the page.
    pub bucket_end: DateTime<Utc>,
    /// Matching items inside that bucket, newest first, to skip.
    pub skip: i64,
}

impl Store {
    /// Finds where page offset `offset` starts, newest first, refining day → hour → minute
    /// (reading nothing but the hour-slot and hour items of the bucket it lands in) while the
    /// bucket holds more than `fine` matching items: a bucket of at most `fine` (the page size)
    /// is not split further, the page's Query skips them itself (at most one page more per
    /// partition, for one round trip less per level: sparse history is located at once).
    pub async fn locate_offset(
        &self,
        counts: &RangeCounts,
        offset: i64,
        fine: i64,
        matches: &(dyn Fn(&Tally) -> i64 + Sync),
    ) -> StoreResult<Option<PagePosition>> {
        let mut remaining = offset;
        let mut level: Vec<Segment> = counts.segments.clone();
        loop {
            let mut found = None;
            for seg in level.iter().rev() {
                let n = matches(&seg.tally);
                if n > remaining {
                    found = Some(seg.clone());
                    break;
                }
                remaining -= n;
            }
            let Some(seg) = found else { return Ok(None) };
            if seg.end - seg.start <= Duration::minutes(1) || matches(&seg.tally) <= fine {
                return Ok(Some(PagePosition {
                    bucket_end: seg.end,
                    skip: remaining,
                }));
            }
            level = self.refine_segment(counts, &seg).await?;
        }
    }
}

/// Day items read per scope and step when an offset is located without a range (one Query
/// per scope: about 1.4 KB, one read unit).
const RECENT_DAYS: i32 = 14;

/// Each scope's newest day items (newest first), as [`Store::day_items`] returned them.
#[derive(Clone, Debug)]
pub struct RecentDays(Vec<Vec<(NaiveDate, Item)>>);

impl RecentDays {
    /// The days every scope has answered for (a scope that returned a full page may have more
    /// before its oldest), their sums newest first, and where to go on (`None`: all read).
    fn complete_days(&self) -> (Vec<(NaiveDate, Tally)>, Option<NaiveDate>) {
        let cut = self
            .0
            .iter()
            .filter(|list| list.len() >= RECENT_DAYS as usize)
            .filter_map(|list| list.last().map(|(d, _)| *d))
            .max();
        let mut days: BTreeMap<NaiveDate, Tally> = BTreeMap::new();
        for (day, item) in self.0.iter().flatten() {
            if cut.is_none_or(|c| *day >= c) {
                days.entry(*day)
                    .or_default()
                    .merge(&tally_of(Some(item), 'd', |_| true));
            }
        }
        (days.into_iter().rev().collect(), cut)
    }
}

impl Store {
    /// Where an offset page starts: the Query's lower bound (the range's start; `None`
    /// without a range) and the bucket position; `None` when the offset is past the end.
    /// With a range, its counts locate it; without one, today's counts, then the day items
    /// before today ([`Store::locate_in_days`]).
    pub(crate) async fn locate_page(
        &self,
        scopes: &[String],
        span: PageSpan,
        (offset, page_size): (i64, i64),
        matches: &(dyn Fn(&Tally) -> i64 + Sync),
    ) -> StoreResult<Option<(Option<DateTime<Utc>>, PagePosition)>> {
        let fine = page_size;
        Ok(match span {
            PageSpan::Range(c) => self
                .locate_offset(&c, offset, fine, matches)
                .await?
                .map(|p| (c.segments.first().map(|s| s.start), p)),
            PageSpan::Newest { today, earlier } => {
                let in_today = matches(&today.total());
                let position = if offset < in_today {
                    self.locate_offset(&today, offset, fine, matches).await?
                } else {
                    self.locate_in_days(scopes, earlier, offset - in_today, fine, matches)
                        .await?
                };
                position.map(|p| (None, p))
            }
        })
    }

    /// [`Store::locate_offset`] over the days before today, newest first, from the day items
    /// already read (`days`), reading [`RECENT_DAYS`] more per scope while the offset is past
    /// them: cost grows with how deep the page is (and how many days had runs), never with how
    /// much history there is. The day found is refined to the minute as in a range.
    async fn locate_in_days(
        &self,
        scopes: &[String],
        mut days: RecentDays,
        offset: i64,
        fine: i64,
        matches: &(dyn Fn(&Tally) -> i64 + Sync),
    ) -> StoreResult<Option<PagePosition>> {
        let mut remaining = offset;
        loop {
            let (complete, cut) = days.complete_days();
            for (day, tally) in complete {
                let n = matches(&tally);
                if n > remaining {
                    let start = day.and_time(chrono::NaiveTime::MIN).and_utc();
                    let counts = RangeCounts {
                        segments: vec![Segment {
                            start,
                            end: start + Duration::days(1),
                            tally,
                        }],
                        items: HashMap::new(),
                        scopes: scopes.to_vec(),
                    };
                    return self.locate_offset(&counts, remaining, fine, matches).await;
                }
                remaining -= n;
            }
            let Some(cut) = cut else { return Ok(None) };
            days = self.recent_days(scopes, cut).await?;
        }
    }
}

/// The counts an offset page is located in ([`Store::page_counts`]).
#[derive(Clone, Debug)]
pub enum PageSpan {
    /// The whole requested range.
    Range(RangeCounts),
    /// No range: today's counts (by hour) and the newest day items before today.
    Newest {
        today: RangeCounts,
        earlier: RecentDays,
    },
}

#[cfg(test)]
#[path = "counters_test.rs"]
mod tests;
