//! Login throttling counters (`THROTTLE#<key>` / `LOGIN`): failures in a fixed window that
//! starts at the first failure, expiring with DynamoDB TTL (`expires_at`) after the window.
//! Also the refresh-token denylist (`REVOKED#<jti>` / `TOKEN`), kept until the token expires.

use super::{map_conditional, s, Store, StoreError, StoreResult};
use aws_sdk_dynamodb::types::AttributeValue;

/// Failures of one key in its current window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Failures {
    pub count: i64,
    /// Epoch seconds the window started.
    pub window_start: i64,
}

fn pk(key: &str) -> String {
    format!("THROTTLE#{key}")
}

fn num(item: &super::Item, k: &str) -> i64 {
    item.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

impl Store {
    /// The failures recorded for `keys` (one BatchGetItem); absent keys have none.
    pub async fn login_failures(&self, keys: &[String]) -> StoreResult<Vec<Failures>> {
        let ks: Vec<(String, String)> = keys.iter().map(|k| (pk(k), "LOGIN".into())).collect();
        let items = self.batch_get(&ks).await?;
        Ok(ks
            .iter()
            .map(|(p, sk)| {
                items
                    .get(&format!("{p}|{sk}"))
                    .map(|i| Failures {
                        count: num(i, "failures"),
                        window_start: num(i, "window_start"),
                    })
                    .unwrap_or_default()
            })
            .collect())
    }

    /// Counts one failure for `key` at `now` (epoch seconds): added to the current window, or
    /// starting a new one when the last began `window` seconds ago or more.
    pub async fn record_login_failure(&self, key: &str, now: i64, window: i64) -> StoreResult<()> {
        let added = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(pk(key)))
            .key("SK", s("LOGIN"))
            .update_expression("ADD failures :one")
            .condition_expression("window_start > :cutoff")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":cutoff", AttributeValue::N((now - window).to_string()))
            .send()
            .await;
        match map_conditional(added) {
            Ok(_) => Ok(()),
            Err(StoreError::Conflict) => {
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .item("PK", s(pk(key)))
                    .item("SK", s("LOGIN"))
                    .item("failures", AttributeValue::N("1".into()))
                    .item("window_start", AttributeValue::N(now.to_string()))
                    .item("expires_at", AttributeValue::N((now + window).to_string()))
                    .send()
                    .await?;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Forgets the failures of `key` (a successful login).
    pub async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(pk(key)))
            .key("SK", s("LOGIN"))
            .send()
            .await?;
        Ok(())
    }
}

impl Store {
    /// Denies a token id until `exp` (epoch seconds), when the token would expire anyway.
    pub async fn revoke_token(&self, jti: &str, exp: i64) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("PK", s(format!("REVOKED#{jti}")))
            .item("SK", s("TOKEN"))
            .item("expires_at", AttributeValue::N(exp.to_string()))
            .send()
            .await?;
        Ok(())
    }

    /// Whether a token id was revoked (and has not expired since: TTL deletion lags).
    pub async fn is_revoked(&self, jti: &str, now: i64) -> StoreResult<bool> {
        Ok(self
            .get(format!("REVOKED#{jti}"), "TOKEN")
            .await?
            .is_some_and(|i| num(&i, "expires_at") > now))
    }
}
