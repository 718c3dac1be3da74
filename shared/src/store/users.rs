//! Users and their username/email uniqueness claims (api-contract §2.1).

use super::{claim_item, from_item, item_with_keys, s, tx, Store, StoreError, StoreResult};
use crate::domain::{fmt_ts, ts, Role};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A stored user. `password_hash` is a passlib `pbkdf2_sha256` string and never leaves the API.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub is_active: bool,
    #[serde(with = "ts")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "ts")]
    pub updated_at: DateTime<Utc>,
    /// Sessions: a token is honoured only while its `sv` claim equals this. A password
    /// change or reset, a role change and a deactivation move it on, ending every session
    /// issued before ([`User::admits`]).
    #[serde(default)]
    pub session_version: u64,
    /// A session kept across the last move of `session_version`: the caller's own, when they
    /// changed their own password.
    #[serde(default)]
    pub kept_session: Option<String>,
    /// Sessions ended by logout: session id → when its refresh token expires (epoch s; then
    /// the entry is dropped).
    #[serde(default)]
    pub revoked_sessions: std::collections::BTreeMap<String, i64>,
}

/// [`User::admits`] over the parts of a user item (a projected read that did not load the
/// whole user).
pub(crate) fn admits(
    version: u64,
    kept: Option<&str>,
    revoked: impl Fn(&str) -> bool,
    session: &SessionClaims,
) -> bool {
    if !session.sid.is_empty() && revoked(&session.sid) {
        return false;
    }
    session.sv == version || (!session.sid.is_empty() && kept == Some(session.sid.as_str()))
}

/// [`User::admits`] of a raw user item (`session_version`, `kept_session`,
/// `revoked_sessions`; absent: a user from before sessions, version 0).
pub(crate) fn item_admits(item: &super::Item, session: &SessionClaims) -> bool {
    let version = item
        .get("session_version")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let kept = item.get("kept_session").and_then(|v| v.as_s().ok());
    let revoked = item.get("revoked_sessions").and_then(|v| v.as_m().ok());
    admits(
        version,
        kept.map(String::as_str),
        |sid| revoked.is_some_and(|m| m.contains_key(sid)),
        session,
    )
}

/// What a verified token says about its session (claims `sid`, `sv`; absent in tokens issued
/// before sessions existed: session `""`, version 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionClaims {
    pub sid: String,
    pub sv: u64,
}

impl User {
    /// A new active user made `at`: a fresh v4 id, no session issued yet. `password_hash` is
    /// a passlib-format hash ([`crate::auth::hash_password`]).
    pub fn new(
        (username, email): (String, String),
        password_hash: String,
        role: crate::domain::Role,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            username,
            email,
            password_hash,
            role,
            is_active: true,
            created_at: at,
            updated_at: at,
            session_version: 0,
            kept_session: None,
            revoked_sessions: Default::default(),
        }
    }

    /// Whether a token of `session` may act for this user: its session was not ended by
    /// logout, and it was issued at the current session version (or is the one session kept
    /// across the last change).
    pub fn admits(&self, session: &SessionClaims) -> bool {
        admits(
            self.session_version,
            self.kept_session.as_deref(),
            |sid| self.revoked_sessions.contains_key(sid),
            session,
        )
    }

    /// Ends every session issued so far, except `keep` (the caller's own, on a change of
    /// their own password).
    pub fn end_sessions(&mut self, keep: Option<&str>) {
        self.session_version += 1;
        self.kept_session = keep.filter(|k| !k.is_empty()).map(str::to_string);
    }

    /// The user object of every payload: `{"id","username","email","role","is_active","created_at","updated_at"}`.
    pub fn to_json(&self) -> Value {
        #[derive(Serialize)]
        struct View<'a> {
            id: &'a str,
            username: &'a str,
            email: &'a str,
            role: &'a str,
            is_active: bool,
            created_at: String,
            updated_at: String,
        }
        serde_json::to_value(View {
            id: &self.id,
            username: &self.username,
            email: &self.email,
            role: self.role.as_str(),
            is_active: self.is_active,
            created_at: fmt_ts(&self.created_at),
            updated_at: fmt_ts(&self.updated_at),
        })
        .unwrap_or(Value::Null)
    }
}

pub(super) fn pk(id: &str) -> String {
    format!("USER#{id}")
}

/// A user's notification preferences (api-contract §2.6), one per user (`USER#<id>`/`PREFS`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NotificationPrefs {
    pub id: String,
    pub user_id: String,
    pub email_on_job_success: bool,
    pub email_on_job_failure: bool,
    pub email_on_job_disabled: bool,
    pub browser_notifications: bool,
    pub daily_digest: bool,
    pub weekly_report: bool,
    #[serde(with = "ts")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "ts")]
    pub updated_at: DateTime<Utc>,
}

impl NotificationPrefs {
    /// The six flags in the contract's order, by wire name.
    pub const FLAGS: [&'static str; 6] = [
        "email_on_job_success",
        "email_on_job_failure",
        "email_on_job_disabled",
        "browser_notifications",
        "daily_digest",
        "weekly_report",
    ];

    /// A mutable flag by wire name.
    pub fn flag_mut(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "email_on_job_success" => &mut self.email_on_job_success,
            "email_on_job_failure" => &mut self.email_on_job_failure,
            "email_on_job_disabled" => &mut self.email_on_job_disabled,
            "browser_notifications" => &mut self.browser_notifications,
            "daily_digest" => &mut self.daily_digest,
            "weekly_report" => &mut self.weekly_report,
            _ => return None,
        })
    }

    /// `{"id","user_id",<six flags>,"created_at","updated_at"}`.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A user's UI preferences (api-contract §2.7): the jobs table's visible columns
/// (`USER#<id>`/`UIPREFS`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UiPrefs {
    pub id: String,
    pub user_id: String,
    /// Column → visible, exactly the five canonical columns.
    pub jobs_table_columns: std::collections::BTreeMap<String, bool>,
    #[serde(with = "ts")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "ts")]
    pub updated_at: DateTime<Utc>,
}

impl UiPrefs {
    /// The canonical columns and their defaults.
    pub const DEFAULT_COLUMNS: [(&'static str, bool); 5] = [
        ("pic_team", true),
        ("end_date", true),
        ("cron_expression", false),
        ("target_url", false),
        ("last_execution_at", false),
    ];
}

impl Store {
    /// GetItem `USER#<id>` / `PROFILE`.
    pub async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
        self.get_as(pk(id), "PROFILE").await
    }

    /// Login lookup (api-contract §3.2): exact username first, then exact e-mail, via the
    /// claim items (two GetItems at most, then the profile).
    pub async fn find_user_by_login(&self, identifier: &str) -> StoreResult<Option<User>> {
        for prefix in ["USERNAME#", "EMAIL#"] {
            if let Some(claim) = self.get(format!("{prefix}{identifier}"), "UNIQUE").await? {
                if let Some(id) = claim.get("owner_id").and_then(|v| v.as_s().ok()) {
                    if let Some(user) = self.get_user(id).await? {
                        return Ok(Some(user));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Whether a username (exact) or e-mail (exact) is already claimed.
    pub async fn login_taken(
        &self,
        username: Option<&str>,
        email: Option<&str>,
    ) -> StoreResult<(bool, bool)> {
        let u = match username {
            Some(u) => self.get(format!("USERNAME#{u}"), "UNIQUE").await?.is_some(),
            None => false,
        };
        let e = match email {
            Some(e) => self.get(format!("EMAIL#{e}"), "UNIQUE").await?.is_some(),
            None => false,
        };
        Ok((u, e))
    }

    /// Creates a user with its two claims in one transaction — with its audit entry, when
    /// given; `Conflict` if either claim is taken.
    pub async fn create_user(
        &self,
        user: &User,
        audit: Option<&super::audit::AuditEntry>,
    ) -> StoreResult<()> {
        let item = item_with_keys(
            user,
            &[
                ("PK", pk(&user.id)),
                ("SK", "PROFILE".into()),
                ("GSI1PK", "USERS".into()),
                (
                    "GSI1SK",
                    format!("{}#{}", fmt_ts(&user.created_at), user.id),
                ),
            ],
        )?;
        let mut items = vec![
            tx::create(&self.table, item)?,
            tx::create(
                &self.table,
                claim_item(format!("USERNAME#{}", user.username), &user.id),
            )?,
            tx::create(
                &self.table,
                claim_item(format!("EMAIL#{}", user.email), &user.id),
            )?,
        ];
        // Where the account's share of the notification feed starts.
        items.push(tx::create(
            &self.table,
            self.join_item(&user.id, user.created_at).await?,
        )?);
        if let Some(a) = audit {
            items.push(self.audit_tx(a)?);
        }
        self.transact(items).await
    }

    /// Replaces a user if it still has `previous.updated_at`, moving the e-mail claim when the
    /// e-mail changed. `Conflict` when the user changed meanwhile or the e-mail is taken.
    pub async fn update_user(&self, previous: &User, user: &User) -> StoreResult<()> {
        self.update_user_audited(previous, user, None).await
    }

    /// [`Store::update_user`] with its audit entry in the same transaction.
    pub async fn update_user_audited(
        &self,
        previous: &User,
        user: &User,
        audit: Option<&super::audit::AuditEntry>,
    ) -> StoreResult<()> {
        let item = item_with_keys(
            user,
            &[
                ("PK", pk(&user.id)),
                ("SK", "PROFILE".into()),
                ("GSI1PK", "USERS".into()),
                (
                    "GSI1SK",
                    format!("{}#{}", fmt_ts(&user.created_at), user.id),
                ),
            ],
        )?;
        let mut items = vec![tx::put(
            &self.table,
            item,
            Some("attribute_exists(PK) AND updated_at = :prev"),
            &[(":prev", s(fmt_ts(&previous.updated_at)))],
            &[],
        )?];
        if previous.email != user.email {
            items.push(tx::delete(
                &self.table,
                format!("EMAIL#{}", previous.email),
                "UNIQUE",
                Some("owner_id = :id"),
                &[(":id", s(user.id.clone()))],
            )?);
            items.push(tx::create(
                &self.table,
                claim_item(format!("EMAIL#{}", user.email), &user.id),
            )?);
        }
        if let Some(a) = audit {
            items.push(self.audit_tx(a)?);
        }
        self.transact(items).await
    }

    /// Ends one session of a user (logout): `revoked_sessions.<sid> = until` (the refresh
    /// token's expiry), dropping entries already expired, in one UpdateItem that leaves
    /// `updated_at` alone. A user item written before sessions existed gets the map.
    pub async fn revoke_session(
        &self,
        user: &User,
        sid: &str,
        until: i64,
        now: i64,
    ) -> StoreResult<()> {
        let expired: Vec<&String> = user
            .revoked_sessions
            .iter()
            .filter(|(k, exp)| **exp < now && k.as_str() != sid)
            .map(|(k, _)| k)
            .take(50)
            .collect();
        let mut u = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(pk(&user.id)))
            .key("SK", s("PROFILE"))
            .condition_expression("attribute_exists(revoked_sessions)")
            .expression_attribute_names("#rs", "revoked_sessions")
            .expression_attribute_names("#sid", sid)
            .expression_attribute_values(":until", AttributeValue::N(until.to_string()));
        let mut expr = "SET #rs.#sid = :until".to_string();
        if !expired.is_empty() {
            let names: Vec<String> = (0..expired.len()).map(|i| format!("#rs.#x{i}")).collect();
            for (i, k) in expired.iter().enumerate() {
                u = u.expression_attribute_names(format!("#x{i}"), k.as_str());
            }
            expr.push_str(&format!(" REMOVE {}", names.join(", ")));
        }
        match super::map_conditional(u.update_expression(expr).send().await) {
            Err(StoreError::Conflict) => {
                let map = AttributeValue::M(std::collections::HashMap::from([(
                    sid.to_string(),
                    AttributeValue::N(until.to_string()),
                )]));
                let r = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .key("PK", s(pk(&user.id)))
                    .key("SK", s("PROFILE"))
                    .condition_expression(
                        "attribute_exists(PK) AND attribute_not_exists(revoked_sessions)",
                    )
                    .update_expression("SET revoked_sessions = :m")
                    .expression_attribute_values(":m", map)
                    .send()
                    .await;
                match super::map_conditional(r) {
                    // Created meanwhile by another logout: set the entry in it.
                    Err(StoreError::Conflict) => {
                        let r = self
                            .client
                            .update_item()
                            .table_name(&self.table)
                            .key("PK", s(pk(&user.id)))
                            .key("SK", s("PROFILE"))
                            .condition_expression("attribute_exists(revoked_sessions)")
                            .update_expression("SET #rs.#sid = :until")
                            .expression_attribute_names("#rs", "revoked_sessions")
                            .expression_attribute_names("#sid", sid)
                            .expression_attribute_values(
                                ":until",
                                AttributeValue::N(until.to_string()),
                            )
                            .send()
                            .await;
                        super::ignore_conflict(super::map_conditional(r).map(|_| ()))
                    }
                    other => other.map(|_| ()),
                }
            }
            other => other.map(|_| ()),
        }
    }

    /// Deletes a user, their claims, preferences, notifications and notification counters
    /// (api-contract §2.9); jobs they created keep existing with `created_by = null`.
    pub async fn delete_user(
        &self,
        user: &User,
        audit: Option<&super::audit::AuditEntry>,
    ) -> StoreResult<()> {
        let mut items = vec![
            tx::delete(&self.table, pk(&user.id), "PROFILE", None, &[])?,
            tx::delete(
                &self.table,
                format!("USERNAME#{}", user.username),
                "UNIQUE",
                Some("owner_id = :id"),
                &[(":id", s(user.id.clone()))],
            )?,
            tx::delete(
                &self.table,
                format!("EMAIL#{}", user.email),
                "UNIQUE",
                Some("owner_id = :id"),
                &[(":id", s(user.id.clone()))],
            )?,
            tx::delete(&self.table, pk(&user.id), "PREFS", None, &[])?,
            tx::delete(&self.table, pk(&user.id), "UIPREFS", None, &[])?,
        ];
        if let Some(a) = audit {
            items.push(self.audit_tx(a)?);
        }
        self.transact(items).await?;
        self.delete_user_notifications(&user.id).await?;
        self.clear_job_creator(&user.id).await
    }

    /// A user's notification preferences, if saved.
    pub async fn get_prefs(&self, user_id: &str) -> StoreResult<Option<NotificationPrefs>> {
        self.get_as(pk(user_id), "PREFS").await
    }

    /// Saves notification preferences.
    pub async fn put_prefs(&self, p: &NotificationPrefs) -> StoreResult<()> {
        self.put_as(p, pk(&p.user_id), "PREFS").await
    }

    /// A user's UI preferences, if saved.
    pub async fn get_ui_prefs(&self, user_id: &str) -> StoreResult<Option<UiPrefs>> {
        self.get_as(pk(user_id), "UIPREFS").await
    }

    /// Saves UI preferences.
    pub async fn put_ui_prefs(&self, p: &UiPrefs) -> StoreResult<()> {
        self.put_as(p, pk(&p.user_id), "UIPREFS").await
    }

    /// Every user, oldest first (Query GSI1 `USERS`, all pages).
    pub async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.query_gsi1("USERS", true)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    /// Ids of active users (the recipients of broadcast notifications, policy §9).
    pub async fn active_user_ids(&self) -> StoreResult<Vec<String>> {
        Ok(self
            .list_users()
            .await?
            .into_iter()
            .filter(|u| u.is_active)
            .map(|u| u.id)
            .collect())
    }

    /// Ids of active admins.
    pub async fn active_admin_ids(&self) -> StoreResult<Vec<String>> {
        Ok(self
            .list_users()
            .await?
            .into_iter()
            .filter(|u| u.is_active && u.role == Role::Admin)
            .map(|u| u.id)
            .collect())
    }
}
