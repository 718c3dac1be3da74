//! Run leases of jobs whose `overlap_policy` is `skip` or `buffer_one` (issue 23): one small
//! item `JOB#<id>` / `LEASE` names the run in flight until it completes or its `expires_at`
//! (epoch seconds) passes, and `JOB#<id>` / `BUFFER` holds the one fire time waiting for it
//! under `buffer_one`. Both are conditional single-item writes in the job's partition (one
//! WCU each); jobs with `overlap_policy: allow` never touch them.

use super::{map_conditional, s, Store, StoreError, StoreResult};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

/// A slot of a job's partition: the lease of its run in flight, or its buffered fire time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// `LEASE`: the run in flight.
    Lease,
    /// `BUFFER`: the one fire time waiting under `buffer_one`.
    Buffer,
}

impl Slot {
    fn sort_key(self) -> &'static str {
        match self {
            Slot::Lease => "LEASE",
            Slot::Buffer => "BUFFER",
        }
    }
}

impl Store {
    /// Takes `slot` of `job_id` for `holder` until `until` (PutItem, condition: no holder or
    /// an expired one). `Ok(None)` when taken; `Ok(Some(holder))` when another holds it.
    pub async fn take_slot(
        &self,
        job_id: &str,
        slot: Slot,
        holder: &str,
        until: DateTime<Utc>,
    ) -> StoreResult<Option<String>> {
        let now = Utc::now().timestamp();
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("PK", s(format!("JOB#{job_id}")))
            .item("SK", s(slot.sort_key()))
            .item("holder", s(holder))
            .item(
                "expires_at",
                AttributeValue::N(until.timestamp().to_string()),
            )
            .condition_expression("attribute_not_exists(PK) OR expires_at < :now")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match map_conditional(put) {
            Ok(_) => Ok(None),
            Err(StoreError::Conflict) => Ok(Some(
                self.slot_holder(job_id, slot)
                    .await?
                    .unwrap_or_else(|| "another run".into()),
            )),
            Err(e) => Err(e),
        }
    }

    /// Who holds `slot` now (strongly consistent GetItem), if anyone whose hold has not
    /// expired.
    pub async fn slot_holder(&self, job_id: &str, slot: Slot) -> StoreResult<Option<String>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", s(format!("JOB#{job_id}")))
            .key("SK", s(slot.sort_key()))
            .consistent_read(true)
            .send()
            .await?;
        let now = Utc::now().timestamp();
        Ok(out.item.and_then(|i| {
            let live = i
                .get("expires_at")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<i64>().ok())
                .is_some_and(|t| t >= now);
            live.then(|| i.get("holder").and_then(|v| v.as_s().ok()).cloned())
                .flatten()
        }))
    }

    /// Moves the end of `holder`'s hold on `slot` to `until` (a run parked until its next
    /// attempt keeps its lease); a hold taken over meanwhile is left alone.
    pub async fn extend_slot(
        &self,
        job_id: &str,
        slot: Slot,
        holder: &str,
        until: DateTime<Utc>,
    ) -> StoreResult<()> {
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(format!("JOB#{job_id}")))
            .key("SK", s(slot.sort_key()))
            .update_expression("SET expires_at = :u")
            .condition_expression("holder = :h")
            .expression_attribute_values(":h", s(holder))
            .expression_attribute_values(":u", AttributeValue::N(until.timestamp().to_string()))
            .send()
            .await;
        super::ignore_conflict(map_conditional(r).map(|_| ()))
    }

    /// Gives `slot` back if `holder` still holds it (DeleteItem, conditional; a hold taken
    /// over meanwhile is left alone).
    pub async fn release_slot(&self, job_id: &str, slot: Slot, holder: &str) -> StoreResult<()> {
        let r = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(format!("JOB#{job_id}")))
            .key("SK", s(slot.sort_key()))
            .condition_expression("holder = :h")
            .expression_attribute_values(":h", s(holder))
            .send()
            .await;
        super::ignore_conflict(map_conditional(r).map(|_| ()))
    }
}

impl Store {
    /// Records a finished run in the job's failure streak (`JOB#<id>` / `STREAK`, one
    /// UpdateItem: a failure adds one, a success sets zero) and answers the streak after it.
    /// Only jobs with `pause_after_failures` call this. The item expires 90 days after its
    /// last run (TTL), so a deleted job's streak goes too.
    pub async fn note_run_result(&self, job_id: &str, failed: bool) -> StoreResult<u32> {
        let req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(format!("JOB#{job_id}")))
            .key("SK", s("STREAK"))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .expression_attribute_values(
                ":exp",
                AttributeValue::N((Utc::now().timestamp() + 90 * 86_400).to_string()),
            );
        let req = if failed {
            req.update_expression("ADD failures :one SET expires_at = :exp")
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
        } else {
            req.update_expression("SET failures = :zero, expires_at = :exp")
                .expression_attribute_values(":zero", AttributeValue::N("0".into()))
        };
        let out = req.send().await?;
        Ok(out
            .attributes
            .and_then(|a| a.get("failures").and_then(|v| v.as_n().ok()).cloned())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0))
    }
}
