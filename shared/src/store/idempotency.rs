//! Stored first responses of requests sent with an `Idempotency-Key` header
//! (`IDEMP#<user id>#<key>` / `RESPONSE`), kept for [`IDEMPOTENCY_TTL_SECS`] (DynamoDB TTL).

use super::{map_conditional, s, Store, StoreError, StoreResult};
use aws_sdk_dynamodb::types::AttributeValue;

/// How long a stored response answers retries, seconds (24 h).
pub const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;

/// How long a claim without an answer holds its key, seconds: the API functions' Timeout
/// (template.yaml, 30 s, API Gateway's own ceiling) plus a margin. A function that died
/// mid-request (timeout, crash) frees the key this long after the claim, so the client's
/// retry runs again instead of meeting 409 for a day.
pub const IN_PROGRESS_TTL_SECS: i64 = 30 + 10;

/// What is stored under a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotencyRecord {
    /// The first request is still running.
    InProgress { request_hash: String },
    /// The first request's answer.
    Done {
        request_hash: String,
        status: u16,
        body: String,
    },
}

fn pk(user_id: &str, key: &str) -> String {
    format!("IDEMP#{user_id}#{key}")
}

impl Store {
    /// Claims `key` for a request for [`IN_PROGRESS_TTL_SECS`] (`attribute_not_exists`, or
    /// the record there has expired: an answer older than a day or a claim whose function
    /// died); `Ok(None)` when claimed now, otherwise the record already there.
    pub async fn claim_idempotency_key(
        &self,
        user_id: &str,
        key: &str,
        request_hash: &str,
        now: i64,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let r = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("PK", s(pk(user_id, key)))
            .item("SK", s("RESPONSE"))
            .item("request_hash", s(request_hash))
            .item("state", s("in_progress"))
            .item(
                "expires_at",
                AttributeValue::N((now + IN_PROGRESS_TTL_SECS).to_string()),
            )
            .condition_expression("attribute_not_exists(PK) OR expires_at < :now")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match map_conditional(r) {
            Ok(_) => Ok(None),
            Err(StoreError::Conflict) => {
                let item = self
                    .get(pk(user_id, key), "RESPONSE")
                    .await?
                    .unwrap_or_default();
                let text = |k: &str| {
                    item.get(k)
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default()
                };
                let request_hash = text("request_hash");
                Ok(Some(if text("state") == "done" {
                    IdempotencyRecord::Done {
                        request_hash,
                        status: text("status").parse().unwrap_or(200),
                        body: text("body"),
                    }
                } else {
                    IdempotencyRecord::InProgress { request_hash }
                }))
            }
            Err(e) => Err(e),
        }
    }

    /// Stores the first request's answer under its key.
    pub async fn complete_idempotency_key(
        &self,
        user_id: &str,
        key: &str,
        request_hash: &str,
        status: u16,
        body: &str,
        now: i64,
    ) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("PK", s(pk(user_id, key)))
            .item("SK", s("RESPONSE"))
            .item("request_hash", s(request_hash))
            .item("state", s("done"))
            .item("status", s(status.to_string()))
            .item("body", s(body))
            .item(
                "expires_at",
                AttributeValue::N((now + IDEMPOTENCY_TTL_SECS).to_string()),
            )
            .send()
            .await?;
        Ok(())
    }

    /// Forgets a key whose request failed on our side, so a retry runs again.
    pub async fn release_idempotency_key(&self, user_id: &str, key: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(pk(user_id, key)))
            .key("SK", s("RESPONSE"))
            .send()
            .await?;
        Ok(())
    }
}
