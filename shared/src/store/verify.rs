//! Recounting every counter from the items it counts (`cronctl verify [--repair]`).
//!
//! Counters move in the same transactions as the items they count, so they cannot drift —
//! unless a write was made outside the store (a console edit, a restored backup, a bug). This
//! reads **everything** (every job's executions, every user's notifications, every counter
//! item: an operator's tool, never on a request path), builds the counter items the items
//! imply with the same bucketing the writers use, and lists every attribute that differs:
//! the job scopes (`XSTAT#JOB#<id>`), the all-jobs scopes (`XSTAT#ALL#<0-15>`, compared as
//! their sum: a purge moves a deleted job's counts out of shard 0 whatever shard they were
//! added to), the users' notification scopes (`NSTAT#<id>`: own items and feed exceptions) and
//! the feed's (`NSTAT#FEED#<0-7>`, compared as their sum: shards may have changed in number).
//! `repair` then adds the difference to each drifting attribute (`ADD`, so a write landing
//! meanwhile is not undone; run it again to confirm).

use super::{
    counters::CounterChanges,
    executions::job_scope,
    feed::{feed_scopes, ExceptionState},
    notification_counter_scope, s, Store, StoreError, StoreResult,
};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::BTreeMap;

/// Counter values by item key `(PK, SK)` and attribute.
type Counts = BTreeMap<(String, String), BTreeMap<String, i64>>;

/// The pseudo-scope under which the all-jobs shards are summed and compared.
const ALL: &str = "XSTAT#ALL#*";
/// The pseudo-scope under which the feed's shards are summed and compared.
const FEED: &str = "NSTAT#FEED#*";

/// One counter attribute that disagrees with the items.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Drift {
    /// Counter item partition (`XSTAT#ALL#*` / `NSTAT#FEED#*` stand for the sum of their shards).
    pub pk: String,
    /// Counter item (`TOTAL`, `D#<day>`, `DH#<day>`, `H#<day>T<hour>`).
    pub sk: String,
    /// Attribute (`t_<field>`, `d_<field>`, `h<hour>_<field>`, `m<minute>_<field>`).
    pub field: String,
    /// What the items say.
    pub counted: i64,
    /// What the counter holds.
    pub stored: i64,
}

/// What a verification found (and, with `repair`, fixed).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct VerifyReport {
    pub jobs: usize,
    pub executions: usize,
    pub users: usize,
    pub notifications: usize,
    /// Counter items compared.
    pub counter_items: usize,
    pub drift: Vec<Drift>,
    /// Counter items corrected (`repair`).
    pub repaired_items: usize,
    /// Why part of it was not compared.
    pub notes: Vec<String>,
}

impl Store {
    /// Recounts every counter from its items; with `repair`, corrects what drifted. Refuses
    /// (in `notes`) to compare while retention is on (its folded days leave the totals on
    /// purpose) and compares the all-jobs sum only when no history purge is pending.
    pub async fn verify_counters(&self, repair: bool) -> StoreResult<VerifyReport> {
        let mut report = VerifyReport::default();
        if self.history_floor().is_some() {
            report.notes.push(
                "RETENTION_DAYS is set: totals leave folded days out on purpose; not compared"
                    .into(),
            );
            return Ok(report);
        }
        let mut expected = CounterChanges::default();
        let mut scopes: Vec<String> = Vec::new();
        let jobs = self.list_jobs().await?;
        report.jobs = jobs.len();
        for job in &jobs {
            let scope = job_scope(&job.id);
            for e in self.all_job_executions(&job.id).await? {
                let delta = e.recorded_delta();
                expected.add(&scope, &delta);
                expected.add(ALL, &delta);
                report.executions += 1;
            }
            scopes.push(scope);
        }
        let users = self.list_users().await?;
        report.users = users.len();
        for u in &users {
            let scope = notification_counter_scope(&u.id);
            for n in self.all_user_notifications(&u.id).await? {
                for (sc, d) in Self::delta(&n, vec![(n.field(), 1)]) {
                    expected.add(&sc, &d);
                }
                report.notifications += 1;
            }
            // The user's feed exceptions count in their scope at the item's time: read
            // `u −1, r +1`; deleted `u −1` (from unread, from read or covered alike).
            for e in self.exceptions(&u.id, None, None).await?.into_values() {
                let adds = match e.state {
                    ExceptionState::Read => vec![("u".to_string(), -1), ("r".to_string(), 1)],
                    ExceptionState::Deleted => vec![("u".to_string(), -1)],
                };
                expected.add(
                    &scope,
                    &super::counters::Delta {
                        at: e.created_at,
                        adds,
                    },
                );
            }
            scopes.push(scope);
        }
        // The feed: one `u` per item, compared as the sum of its shards.
        for f in self.feed_items(None, None).await? {
            expected.add(
                FEED,
                &super::counters::Delta {
                    at: f.created_at,
                    adds: vec![("u".to_string(), 1)],
                },
            );
            report.notifications += 1;
        }
        scopes.push(FEED.into());
        let purges = self.pending_purges().await?;
        let compare_all = purges.is_empty();
        if compare_all {
            scopes.push(ALL.into());
        } else {
            report.notes.push(format!(
                "{} history purge(s) pending: the all-jobs totals still hold those jobs; not compared",
                purges.len()
            ));
        }
        let expected: Counts = expected.0.into_iter().collect();
        let stored = self.stored_counts(&scopes).await?;
        let keys: std::collections::BTreeSet<&(String, String)> = expected
            .keys()
            .filter(|(pk, _)| compare_all || pk != ALL)
            .chain(stored.keys())
            .collect();
        report.counter_items = keys.len();
        let empty = BTreeMap::new();
        for key in keys {
            let want = expected.get(key).unwrap_or(&empty);
            let have = stored.get(key).unwrap_or(&empty);
            let fields: std::collections::BTreeSet<&String> =
                want.keys().chain(have.keys()).collect();
            for f in fields {
                let (counted, held) = (
                    want.get(f).copied().unwrap_or(0),
                    have.get(f).copied().unwrap_or(0),
                );
                if counted != held {
                    report.drift.push(Drift {
                        pk: key.0.clone(),
                        sk: key.1.clone(),
                        field: f.clone(),
                        counted,
                        stored: held,
                    });
                }
            }
        }
        if repair {
            report.repaired_items = self.repair_drift(&report.drift).await?;
        }
        Ok(report)
    }

    /// The numeric attributes of every item of `scopes` (all pages), the all-jobs shards
    /// summed under [`ALL`].
    async fn stored_counts(&self, scopes: &[String]) -> StoreResult<Counts> {
        let mut out = Counts::new();
        let mut partitions: Vec<(String, String)> = Vec::new();
        for scope in scopes {
            if scope == ALL {
                for shard in super::executions::all_scopes() {
                    partitions.push((shard, ALL.into()));
                }
            } else if scope == FEED {
                for shard in feed_scopes() {
                    partitions.push((shard, FEED.into()));
                }
            } else {
                partitions.push((scope.clone(), scope.clone()));
            }
        }
        for (pk, into) in partitions {
            let items: Vec<_> = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(":pk", s(pk))
                .into_paginator()
                .items()
                .send()
                .collect()
                .await;
            for item in items {
                let item = item.map_err(StoreError::from)?;
                let Some(sk) = item.get("SK").and_then(|v| v.as_s().ok()).cloned() else {
                    continue;
                };
                let attrs = out.entry((into.clone(), sk)).or_default();
                for (k, v) in &item {
                    if let (AttributeValue::N(n), false) = (v, k == "expires_at") {
                        *attrs.entry(k.clone()).or_insert(0) += n.parse::<i64>().unwrap_or(0);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Adds `counted - stored` to every drifting attribute, one UpdateItem per counter item
    /// (the all-jobs sum is corrected on shard 0). Returns the items written.
    async fn repair_drift(&self, drift: &[Drift]) -> StoreResult<usize> {
        let mut by_item: BTreeMap<(String, String), Vec<(&str, i64)>> = BTreeMap::new();
        for d in drift {
            let pk = if d.pk == ALL {
                super::executions::all_scopes()[0].clone()
            } else if d.pk == FEED {
                feed_scopes()[0].clone()
            } else {
                d.pk.clone()
            };
            by_item
                .entry((pk, d.sk.clone()))
                .or_default()
                .push((&d.field, d.counted - d.stored));
        }
        for ((pk, sk), adds) in &by_item {
            let mut u = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("PK", s(pk.clone()))
                .key("SK", s(sk.clone()));
            let mut parts = Vec::new();
            for (i, (field, diff)) in adds.iter().enumerate() {
                parts.push(format!("#f{i} :v{i}"));
                u = u
                    .expression_attribute_names(format!("#f{i}"), *field)
                    .expression_attribute_values(
                        format!(":v{i}"),
                        AttributeValue::N(diff.to_string()),
                    );
            }
            u.update_expression(format!("ADD {}", parts.join(", ")))
                .send()
                .await
                .map_err(StoreError::from)?;
        }
        Ok(by_item.len())
    }
}
