//! Singletons in the `SETTINGS` partition: the Slack settings (api-contract §2.8) and the
//! record of the last reconciliation (scheduler admin, §3.11).

use super::{from_item, item_with_keys, Store, StoreResult};
use crate::domain::{fmt_ts, ts};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The Slack settings singleton; absent until first read.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SlackSettings {
    pub id: String,
    pub is_enabled: bool,
    pub webhook_url: Option<String>,
    pub channel: Option<String>,
    /// Beyond the reference: also post failed runs to Slack (opt-in, default off).
    #[serde(default)]
    pub notify_run_failures: bool,
    #[serde(with = "ts")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "ts")]
    pub updated_at: DateTime<Utc>,
}

impl SlackSettings {
    /// `{"id","is_enabled","webhook_url","channel","created_at","updated_at"}` (URL in clear).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// When the last reconciliation ran and what it found (the report as JSON).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ReconcileRecord {
    #[serde(with = "ts")]
    pub ran_at: DateTime<Utc>,
    /// The report's counters as JSON text.
    pub report: String,
}

const PK: &str = "SETTINGS";

/// The GitHub owners the platform's token may reach (`SETTINGS` / `GITHUB_OWNERS`), managed
/// by admins; absent: only `DEFAULT_GITHUB_OWNER`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct GithubOwners {
    pub owners: Vec<String>,
    #[serde(with = "ts")]
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<String>,
}

impl GithubOwners {
    /// Whether `owner` may be reached: it is on the saved list, or, with none saved, it is
    /// `default_owner` (GitHub owners compare case-insensitively).
    pub fn allows(saved: Option<&GithubOwners>, default_owner: &str, owner: &str) -> bool {
        match saved {
            Some(list) => list.owners.iter().any(|o| o.eq_ignore_ascii_case(owner)),
            None => !default_owner.is_empty() && default_owner.eq_ignore_ascii_case(owner),
        }
    }
}

impl Store {
    /// The Slack settings, if ever saved (GetItem `SETTINGS`/`SLACK`).
    pub async fn get_slack_settings(&self) -> StoreResult<Option<SlackSettings>> {
        self.get(PK.into(), "SLACK")
            .await?
            .map(from_item)
            .transpose()
    }

    /// Creates the Slack settings only if none exist (first GET); returns the stored ones.
    pub async fn create_slack_settings(&self, s: &SlackSettings) -> StoreResult<SlackSettings> {
        if self.create_as(s, PK.into(), "SLACK").await? {
            return Ok(s.clone());
        }
        Ok(self
            .get_slack_settings()
            .await?
            .unwrap_or_else(|| s.clone()))
    }

    /// Writes the Slack settings (PutItem; last writer wins, as for any settings form).
    pub async fn put_slack_settings(&self, s: &SlackSettings) -> StoreResult<()> {
        self.put_as(s, PK.into(), "SLACK").await
    }

    /// Whether the one-off step `name` ran on this stack (`SETTINGS` / `DONE#<name>`; one
    /// GetItem).
    pub async fn setting_done(&self, name: &str) -> StoreResult<bool> {
        Ok(self
            .get(PK.into(), &format!("DONE#{name}"))
            .await?
            .is_some())
    }

    /// Records that the one-off step `name` ran.
    pub async fn mark_setting_done(&self, name: &str) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("PK", super::s(PK))
            .item("SK", super::s(format!("DONE#{name}")))
            .item("at", super::s(fmt_ts(&chrono::Utc::now())))
            .send()
            .await
            .map_err(super::StoreError::from)?;
        Ok(())
    }

    /// The stored GitHub owner allowlist, if an admin ever saved one (GetItem).
    pub async fn get_github_owners(&self) -> StoreResult<Option<GithubOwners>> {
        self.get_as(PK.into(), "GITHUB_OWNERS").await
    }

    /// Saves the GitHub owner allowlist (PutItem).
    pub async fn put_github_owners(
        &self,
        o: &GithubOwners,
        audit: &super::audit::AuditEntry,
    ) -> StoreResult<()> {
        self.put_setting_audited(o, "GITHUB_OWNERS", audit).await
    }

    /// Saves an admin's change of the Slack settings with its audit entry, in one transaction.
    pub async fn put_slack_settings_audited(
        &self,
        s: &SlackSettings,
        audit: &super::audit::AuditEntry,
    ) -> StoreResult<()> {
        self.put_setting_audited(s, "SLACK", audit).await
    }

    /// Put `SETTINGS`/`sk` and the audit entry in one TransactWriteItems.
    async fn put_setting_audited<T: Serialize>(
        &self,
        value: &T,
        sk: &str,
        audit: &super::audit::AuditEntry,
    ) -> StoreResult<()> {
        let item = item_with_keys(value, &[("PK", PK.to_string()), ("SK", sk.to_string())])?;
        self.transact(vec![
            super::tx::put(&self.table, item, None, &[], &[])?,
            self.audit_tx(audit)?,
        ])
        .await
    }

    /// Whether the platform's GitHub token may reach `owner`: it is on the stored allowlist,
    /// or, with none stored, it is `default_owner` (GitHub owners compare case-insensitively).
    pub async fn github_owner_allowed(
        &self,
        owner: &str,
        default_owner: &str,
    ) -> StoreResult<bool> {
        Ok(GithubOwners::allows(
            self.get_github_owners().await?.as_ref(),
            default_owner,
            owner,
        ))
    }

    /// The last reconciliation record.
    pub async fn last_reconcile(&self) -> StoreResult<Option<ReconcileRecord>> {
        self.get_as(PK.into(), "RECONCILE").await
    }

    /// Records a reconciliation.
    pub async fn put_reconcile(&self, r: &ReconcileRecord) -> StoreResult<()> {
        self.put_as(r, PK.into(), "RECONCILE").await
    }

    /// Asks the next sweep for a whole reconciliation (`SETTINGS` / `RECONCILE_REQUEST`): a
    /// `POST /scheduler/resync` whose reconciliation did not fit its request.
    pub async fn request_reconcile(&self) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("PK", super::s(PK))
            .item("SK", super::s("RECONCILE_REQUEST"))
            .item("requested_at", super::s(fmt_ts(&chrono::Utc::now())))
            .send()
            .await
            .map_err(super::StoreError::from)?;
        Ok(())
    }

    /// Takes a pending reconciliation request: `true` when there was one (removed now). One
    /// read (1 RCU) per sweep when there is none.
    pub async fn take_reconcile_request(&self) -> StoreResult<bool> {
        if self.get(PK.into(), "RECONCILE_REQUEST").await?.is_none() {
            return Ok(false);
        }
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("PK", super::s(PK))
            .key("SK", super::s("RECONCILE_REQUEST"))
            .send()
            .await
            .map_err(super::StoreError::from)?;
        Ok(true)
    }
}
