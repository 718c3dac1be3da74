//! Executions (api-contract §2.3), kept in their job's partition newest-last by sort key,
//! and run claims that make scheduled delivery idempotent.

use super::{from_item, item_with_keys, map_conditional, s, tx, Store, StoreError, StoreResult};
use crate::domain::{fmt_ts, ts};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// How long a run claim is kept (TTL), seconds: far longer than any redelivery window.
const CLAIM_TTL_SECS: i64 = 7 * 24 * 3600;

/// One run of a job.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Execution {
    pub id: String,
    pub job_id: String,
    /// `running` → `success` | `failed`.
    pub status: String,
    /// `scheduled` | `manual`.
    pub trigger_type: String,
    #[serde(with = "ts")]
    pub started_at: DateTime<Utc>,
    #[serde(default, with = "ts::option")]
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<f64>,
    /// `github_actions` | `webhook`.
    pub execution_type: Option<String>,
    /// The webhook URL or `owner/repo/workflow`.
    pub target: Option<String>,
    pub response_status: Option<u16>,
    pub error_message: Option<String>,
    pub output: Option<String>,
}

impl Execution {
    /// The execution JSON (api-contract §2.3), timestamps RFC 3339 UTC `Z`.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "job_id": self.job_id,
            "status": self.status,
            "trigger_type": self.trigger_type,
            "started_at": fmt_ts(&self.started_at),
            "completed_at": self.completed_at.as_ref().map(fmt_ts),
            "duration_seconds": self.duration_seconds,
            "execution_type": self.execution_type,
            "target": self.target,
            "response_status": self.response_status,
            "error_message": self.error_message,
            "output": self.output,
        })
    }

    fn sort_key(&self) -> String {
        format!("EXEC#{}#{}", fmt_ts(&self.started_at), self.id)
    }
}

/// The idempotency key of one scheduled delivery: job id plus the schedule's fire time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunClaim {
    pub job_id: String,
    pub scheduled_time: String,
}

/// Filters of `GET /jobs/{id}/executions` (api-contract §3.7).
#[derive(Clone, Debug, Default)]
pub struct ExecutionFilter {
    pub limit: usize,
    pub statuses: Vec<String>,
    pub trigger_type: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl Store {
    fn execution_item(&self, e: &Execution) -> StoreResult<super::Item> {
        item_with_keys(
            e,
            &[
                ("PK", format!("JOB#{}", e.job_id)),
                ("SK", e.sort_key()),
                ("GSI1PK", format!("EXEC#{}", e.id)),
                ("GSI1SK", "EXEC".into()),
                ("GSI2PK", "EXECS".into()),
                ("GSI2SK", e.sort_key()),
            ],
        )
    }

    /// Records a `running` execution. With a claim, the claim and the row are written in one
    /// transaction that succeeds only for the first delivery: returns `false` for a duplicate.
    pub async fn start_execution(
        &self,
        e: &Execution,
        claim: Option<&RunClaim>,
    ) -> StoreResult<bool> {
        let mut items = vec![tx::create(&self.table, self.execution_item(e)?)?];
        if let Some(c) = claim {
            let expires = Utc::now().timestamp() + CLAIM_TTL_SECS;
            let claim_item = std::collections::HashMap::from([
                (
                    "PK".to_string(),
                    s(format!("RUN#{}#{}", c.job_id, c.scheduled_time)),
                ),
                ("SK".to_string(), s("CLAIM")),
                ("execution_id".to_string(), s(e.id.clone())),
                (
                    "expires_at".to_string(),
                    AttributeValue::N(expires.to_string()),
                ),
            ]);
            items.insert(0, tx::create(&self.table, claim_item)?);
        }
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes the completed row if the stored one is still `running`; `false` when another
    /// writer (the abandoned-run sweep) completed it first.
    pub async fn complete_execution(&self, e: &Execution) -> StoreResult<bool> {
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.execution_item(e)?))
            .condition_expression("#status = :running")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":running", s("running"))
            .send()
            .await;
        match map_conditional(r) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Executions still `running` that started in `[from, to)`, across all jobs (Query GSI2
    /// `EXECS`, SK range, filter on status).
    pub async fn running_executions(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<Execution>> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("GSI2")
            .key_condition_expression("GSI2PK = :p AND GSI2SK BETWEEN :lo AND :hi")
            .filter_expression("#status = :running")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":p", s("EXECS"))
            .expression_attribute_values(":lo", s(format!("EXEC#{}", fmt_ts(&from))))
            .expression_attribute_values(":hi", s(format!("EXEC#{}", fmt_ts(&to))))
            .expression_attribute_values(":running", s("running"))
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        items.into_iter().map(|i| from_item(i?)).collect()
    }

    /// A job's executions newest first (Query `JOB#<id>`, SK range over `EXEC#<from>`…`EXEC#<to>`,
    /// descending, filters on status/trigger type), at most `filter.limit`.
    pub async fn list_job_executions(
        &self,
        job_id: &str,
        filter: &ExecutionFilter,
    ) -> StoreResult<Vec<Execution>> {
        let lo = format!(
            "EXEC#{}",
            filter.from.as_ref().map(fmt_ts).unwrap_or_default()
        );
        let hi = format!(
            "EXEC#{}",
            filter.to.as_ref().map(fmt_ts).unwrap_or_else(|| "~".into())
        );
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", s(format!("JOB#{job_id}")))
            .expression_attribute_values(":lo", s(lo))
            .expression_attribute_values(":hi", s(hi))
            .scan_index_forward(false)
            .consistent_read(true);
        let mut conditions = Vec::new();
        if !filter.statuses.is_empty() {
            let names: Vec<String> = (0..filter.statuses.len())
                .map(|i| format!(":st{i}"))
                .collect();
            for (n, v) in names.iter().zip(&filter.statuses) {
                q = q.expression_attribute_values(n, s(v.clone()));
            }
            conditions.push(format!("#status IN ({})", names.join(", ")));
            q = q.expression_attribute_names("#status", "status");
        }
        if let Some(t) = &filter.trigger_type {
            conditions.push("trigger_type = :tt".into());
            q = q.expression_attribute_values(":tt", s(t.clone()));
        }
        if !conditions.is_empty() {
            q = q.filter_expression(conditions.join(" AND "));
        }
        let mut stream = q.into_paginator().items().send();
        let mut out = Vec::new();
        while out.len() < filter.limit {
            match stream.next().await {
                Some(item) => {
                    let e: Execution = from_item(item?)?;
                    // `to` is exclusive; the BETWEEN above is inclusive of the prefix.
                    if filter.to.is_some_and(|to| e.started_at >= to) {
                        continue;
                    }
                    out.push(e);
                }
                None => break,
            }
        }
        Ok(out)
    }

    /// Keys of all a job's executions (for cascade delete).
    pub(crate) async fn execution_keys(&self, job_id: &str) -> StoreResult<Vec<(String, String)>> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :e)")
            .expression_attribute_values(":pk", s(format!("JOB#{job_id}")))
            .expression_attribute_values(":e", s("EXEC#"))
            .projection_expression("PK, SK")
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
