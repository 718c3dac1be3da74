//! Users and their username/email uniqueness claims (api-contract §2.1).

use super::{claim_item, from_item, item_with_keys, tx, Store, StoreResult};
use crate::domain::{fmt_ts, ts, Role};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

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
}

impl User {
    /// The user object of every payload: `{"id","username","email","role","is_active","created_at","updated_at"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "username": self.username,
            "email": self.email,
            "role": self.role.as_str(),
            "is_active": self.is_active,
            "created_at": fmt_ts(&self.created_at),
            "updated_at": fmt_ts(&self.updated_at),
        })
    }
}

fn pk(id: &str) -> String {
    format!("USER#{id}")
}

impl Store {
    /// GetItem `USER#<id>` / `PROFILE`.
    pub async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
        self.get(pk(id), "PROFILE")
            .await?
            .map(from_item)
            .transpose()
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

    /// Creates a user with its two claims in one transaction; `Conflict` if either is taken.
    pub async fn create_user(&self, user: &User) -> StoreResult<()> {
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
        self.transact(vec![
            tx::create(&self.table, item)?,
            tx::create(
                &self.table,
                claim_item(format!("USERNAME#{}", user.username), &user.id),
            )?,
            tx::create(
                &self.table,
                claim_item(format!("EMAIL#{}", user.email), &user.id),
            )?,
        ])
        .await
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
