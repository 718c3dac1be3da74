//! In-app notifications (api-contract §2.4), one item per recipient in the recipient's
//! user partition, newest last by sort key.

use super::{item_with_keys, Store, StoreResult};
use crate::domain::{fmt_ts, now, ts};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One notification for one user. `kind` is `success` | `error` | `warning` | `info`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Notification {
    pub id: String,
    pub user_id: String,
    pub title: String,
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub related_job_id: Option<String>,
    pub related_execution_id: Option<String>,
    pub is_read: bool,
    #[serde(default, with = "ts::option")]
    pub read_at: Option<DateTime<Utc>>,
    #[serde(with = "ts")]
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// Writes the same notification to each recipient (BatchWriteItem, 25 per call).
    pub async fn notify(
        &self,
        recipients: &[String],
        title: &str,
        message: &str,
        kind: &str,
        related_job_id: Option<&str>,
        related_execution_id: Option<&str>,
    ) -> StoreResult<()> {
        let created_at = now();
        let mut seen = std::collections::HashSet::new();
        let mut items = Vec::with_capacity(recipients.len());
        for user_id in recipients.iter().filter(|u| seen.insert(u.as_str())) {
            let n = Notification {
                id: uuid::Uuid::new_v4().to_string(),
                user_id: user_id.clone(),
                title: title.into(),
                message: message.into(),
                kind: kind.into(),
                related_job_id: related_job_id.map(str::to_string),
                related_execution_id: related_execution_id.map(str::to_string),
                is_read: false,
                read_at: None,
                created_at,
            };
            items.push(item_with_keys(
                &n,
                &[
                    ("PK", format!("USER#{user_id}")),
                    ("SK", format!("NOTIF#{}#{}", fmt_ts(&created_at), n.id)),
                    ("GSI1PK", format!("NOTIF#{}", n.id)),
                    ("GSI1SK", "NOTIF".into()),
                ],
            )?);
        }
        self.batch_put(items).await
    }

    /// Writes one notification to every active user (policy §9 broadcast).
    pub async fn notify_active_users(
        &self,
        title: &str,
        message: &str,
        kind: &str,
        related_job_id: Option<&str>,
        related_execution_id: Option<&str>,
    ) -> StoreResult<()> {
        let users = self.active_user_ids().await?;
        self.notify(
            &users,
            title,
            message,
            kind,
            related_job_id,
            related_execution_id,
        )
        .await
    }

    /// A user's notifications, newest first (Query `USER#<id>`, `begins_with(SK, NOTIF#)`).
    pub async fn list_notifications(&self, user_id: &str) -> StoreResult<Vec<Notification>> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :n)")
            .expression_attribute_values(":pk", super::s(format!("USER#{user_id}")))
            .expression_attribute_values(":n", super::s("NOTIF#"))
            .scan_index_forward(false)
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        items.into_iter().map(|i| super::from_item(i?)).collect()
    }
}
