//! Per-user rate limits on costly endpoints (`RATE#<user id>#<action>` / `GCRA`): the generic
//! cell rate algorithm, the token bucket's exact equivalent kept as one number — the
//! bucket's "theoretical arrival time" `tat` (epoch ms) — so a request costs one consistent
//! GetItem and one conditional PutItem, and an idle user's item expires by TTL.

use super::{map_conditional, s, Store, StoreError, StoreResult};
use aws_sdk_dynamodb::types::AttributeValue;

/// A limit: `burst` requests at once, refilled at `per_minute`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

impl RateLimit {
    /// This limit `factor` times over (rate and burst).
    pub fn scaled(self, factor: u32) -> Self {
        Self {
            per_minute: self.per_minute.saturating_mul(factor.max(1)),
            burst: self.burst.saturating_mul(factor.max(1)),
        }
    }
}

/// Attempts at the conditional write before a request is counted as limited (concurrent
/// requests of one user race on one item).
const WRITE_ATTEMPTS: usize = 8;

impl Store {
    /// Takes one request from `user_id`'s bucket for `action`: `Ok(None)` when allowed (and
    /// counted), `Ok(Some(ms))` when the bucket is empty, with how long until it allows one.
    pub async fn take_rate_token(
        &self,
        user_id: &str,
        action: &str,
        limit: RateLimit,
        now_ms: i64,
    ) -> StoreResult<Option<i64>> {
        let key = format!("RATE#{user_id}#{action}");
        let interval = 60_000 / i64::from(limit.per_minute.max(1));
        let tolerance = interval * i64::from(limit.burst.max(1) - 1);
        for _ in 0..WRITE_ATTEMPTS {
            let stored = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("PK", s(key.clone()))
                .key("SK", s("GCRA"))
                .consistent_read(true)
                .send()
                .await
                .map_err(StoreError::from)?
                .item
                .and_then(|i| i.get("tat").and_then(|v| v.as_n().ok()).cloned())
                .and_then(|n| n.parse::<i64>().ok());
            let start = stored.unwrap_or(now_ms).max(now_ms);
            if start - now_ms > tolerance {
                return Ok(Some(start - tolerance - now_ms));
            }
            let tat = start + interval;
            let mut put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("PK", s(key.clone()))
                .item("SK", s("GCRA"))
                .item("tat", AttributeValue::N(tat.to_string()))
                .item(
                    "expires_at",
                    AttributeValue::N((tat / 1000 + 60).to_string()),
                );
            put = match stored {
                Some(old) => put
                    .condition_expression("tat = :old")
                    .expression_attribute_values(":old", AttributeValue::N(old.to_string())),
                None => put.condition_expression("attribute_not_exists(PK)"),
            };
            match map_conditional(put.send().await) {
                Ok(_) => return Ok(None),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        // Contended past every attempt: this user is sending many at once.
        Ok(Some(interval))
    }
}
