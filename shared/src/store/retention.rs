//! The history retention in effect, recorded in the table (`SETTINGS` / `RETENTION`), so a
//! change of `RETENTION_DAYS` on a live stack is refused with its reason instead of silently
//! splitting history between two expiry rules, and `cronctl retention set` changes it whole:
//! every execution and notification re-stamped, then the new rule recorded
//! (docs/dynamodb-access-patterns.md, "Retention").
//!
//! Raising retention (or switching it off) cannot bring back what the old window already hid:
//! its days are folded out of the counters and its rows are due for deletion. So the first
//! day the old window showed becomes `kept_since`, the floor never goes below it, and those
//! rows keep their old expiry.

use super::{s, Store, StoreError, StoreResult};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

const PK: &str = "SETTINGS";
const SK: &str = "RETENTION";

/// Which history is kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Whole UTC days of executions and notifications kept; `None` keeps everything.
    pub days: Option<u32>,
    /// The first UTC day still visible whatever `days` says (set when a change raised the
    /// window past what an older window had already hidden).
    #[serde(default)]
    pub kept_since: Option<NaiveDate>,
}

/// The outcome of comparing `RETENTION_DAYS` with the table's record at start-up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionCheck {
    /// What the functions apply: the record (or the configuration when there is none yet).
    pub in_effect: Retention,
    /// `RETENTION_DAYS` as configured.
    pub configured: Option<u32>,
    /// Why the configured value is not applied, when it differs from the record.
    pub refused: Option<String>,
}

impl RetentionCheck {
    /// The configuration taken as is (no table to compare with: tests, local tools).
    pub fn unchecked(configured: Option<u32>) -> Self {
        Self {
            in_effect: Retention {
                days: configured,
                kept_since: None,
            },
            configured,
            refused: None,
        }
    }
}

/// What `cronctl retention set` did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Restamp {
    /// The rule recorded at the end.
    pub retention: Retention,
    /// Executions and notifications whose expiry was set or removed.
    pub executions: usize,
    pub notifications: usize,
    /// Rows the previous window already hid: left with their expiry.
    pub left_hidden: usize,
}

fn days_text(d: Option<u32>) -> String {
    d.map_or_else(|| "off".to_string(), |d| d.to_string())
}

/// The time in a history sort key `EXEC#<t>#<id>` / `NOTIF#<t>#<id>`.
fn key_time(sk: &str) -> Option<DateTime<Utc>> {
    let rest = sk
        .strip_prefix("EXEC#")
        .or_else(|| sk.strip_prefix("NOTIF#"))?;
    let t = rest.split('#').next()?;
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl Store {
    /// The recorded retention (strongly consistent GetItem); `None` before the first start.
    pub async fn recorded_retention(&self) -> StoreResult<Option<Retention>> {
        self.get_as(PK.into(), SK).await
    }

    /// Compares `RETENTION_DAYS` with the record: applies it when equal, and otherwise keeps
    /// the record in effect and says why (`refused`). Without a record yet (a stack's first
    /// start, or a stack older than the record) the configured value applies, and is recorded
    /// when `record` (the maintenance function and cronctl; read-only functions only read).
    pub async fn settle_retention(
        &self,
        configured: Option<u32>,
        record: bool,
    ) -> StoreResult<RetentionCheck> {
        for _ in 0..2 {
            match self.recorded_retention().await? {
                None if !record => return Ok(RetentionCheck::unchecked(configured)),
                None => {
                    let first = Retention {
                        days: configured,
                        kept_since: None,
                    };
                    if self.create_as(&first, PK.into(), SK).await? {
                        return Ok(RetentionCheck::unchecked(configured));
                    }
                    // Another function recorded it first: compare with that.
                    continue;
                }
                Some(r) if r.days == configured => {
                    return Ok(RetentionCheck {
                        in_effect: r,
                        configured,
                        refused: None,
                    })
                }
                Some(r) => {
                    let refused = format!(
                        "RETENTION_DAYS is {} but this table's history is kept for {}: a change on a live table is refused, \
                         because rows already written would keep the old expiry; `cronctl retention set {}` re-stamps every \
                         execution and notification and records the new rule",
                        days_text(configured),
                        days_text(r.days),
                        days_text(configured),
                    );
                    return Ok(RetentionCheck {
                        in_effect: r,
                        configured,
                        refused: Some(refused),
                    });
                }
            }
        }
        Err(StoreError::Conflict)
    }

    /// Changes the retention of a live table: re-stamps the expiry of every execution and
    /// notification the current rule still shows (SET the new `expires_at`, or REMOVE it when
    /// everything is kept), then records the new rule. Reads the whole table (a Scan keeping
    /// only history keys): an operator's tool. Running it again is harmless (same values).
    pub async fn set_retention(&self, days: Option<u32>) -> StoreResult<Restamp> {
        let old = self
            .recorded_retention()
            .await?
            .unwrap_or_else(|| self.retention.clone());
        let today = Utc::now().date_naive();
        let old_floor = self
            .clone()
            .with_retention_in_effect(old.clone())
            .floor_at(Utc::now());
        let new_window = days.map(|d| today - chrono::Duration::days(d as i64));
        // What the old rule hid stays hidden when the new one would reach further back.
        let kept_since = match (old_floor.map(|f| f.date_naive()), new_window) {
            (Some(f), Some(w)) if w < f => Some(f),
            (Some(f), None) => Some(f),
            _ => None,
        };
        let target = Retention { days, kept_since };
        let stamper = self.clone().with_retention_in_effect(target.clone());
        let mut report = Restamp {
            retention: target.clone(),
            ..Restamp::default()
        };
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("begins_with(SK, :e) OR begins_with(SK, :n)")
            .expression_attribute_values(":e", s("EXEC#"))
            .expression_attribute_values(":n", s("NOTIF#"))
            .projection_expression("PK, SK")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page?;
            let mut keys = Vec::new();
            for item in page.items.unwrap_or_default() {
                let key = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
                let (Some(pk), Some(sk)) = (key("PK"), key("SK")) else {
                    continue;
                };
                let Some(t) = key_time(&sk) else { continue };
                if old_floor.is_some_and(|f| t < f) {
                    report.left_hidden += 1;
                    continue;
                }
                if sk.starts_with("EXEC#") {
                    report.executions += 1;
                } else {
                    report.notifications += 1;
                }
                keys.push((pk, sk, t));
            }
            use futures::StreamExt;
            let results: Vec<StoreResult<()>> = futures::stream::iter(keys)
                .map(|(pk, sk, t)| stamper.restamp(pk, sk, t))
                .buffer_unordered(16)
                .collect()
                .await;
            results.into_iter().collect::<StoreResult<Vec<()>>>()?;
        }
        self.put_as(&target, PK.into(), SK).await?;
        Ok(report)
    }

    /// Sets (or removes) one history row's `expires_at` by this store's rule; a row deleted
    /// meanwhile is left alone.
    async fn restamp(&self, pk: String, sk: String, t: DateTime<Utc>) -> StoreResult<()> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(pk))
            .key("SK", s(sk))
            .condition_expression("attribute_exists(PK)");
        let update = match self.history_ttl(t) {
            Some((attr, v)) => update
                .update_expression("SET #x = :x")
                .expression_attribute_names("#x", attr)
                .expression_attribute_values(":x", v),
            None => update
                .update_expression("REMOVE #x")
                .expression_attribute_names("#x", "expires_at"),
        };
        super::ignore_conflict(super::map_conditional(update.send().await).map(|_| ()))
    }
}
