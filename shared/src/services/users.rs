//! Users and their preferences (api-contract §3.3): admin listing, self-or-admin reads and
//! updates, admin deletion, notification and UI preferences (get-or-create). Every check runs
//! before anything is written (policy §4). The adapter keeps the contract's order of its own
//! checks (JSON content type) around [`authorize`] and [`load`].

use super::Caller;
use crate::{
    auth::{hash_password, verify_password},
    domain::{body::bool_field, draft::FieldError, now, EmailAddress, Role},
    state::AppState,
    store::{NotificationPrefs, StoreError, UiPrefs, User},
};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Longest password accepted, characters.
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Why a user use case refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// 403 with this text as `error` and `message`.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 404 `User not found`.
    #[error("User not found")]
    NotFound,
    /// 400 with the contract's `error` and `message`.
    #[error("{}", .0.message)]
    Invalid(FieldError),
    /// 400 where the reference has only an `error` string (this text).
    #[error("{0}")]
    Plain(&'static str),
    /// 409 `Email already exists`.
    #[error("Email already exists")]
    EmailTaken,
    /// 409: changed by another request meanwhile.
    #[error("The user was changed by another request. Reload and try again.")]
    Conflict,
    /// The table could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<FieldError> for UserError {
    fn from(e: FieldError) -> Self {
        UserError::Invalid(e)
    }
}

type Result<T> = std::result::Result<T, UserError>;

fn invalid(error: &'static str, message: &str) -> UserError {
    UserError::Invalid(FieldError::new(error, message))
}

/// What a self-or-admin request does (its 403 text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    ViewProfile,
    UpdateProfile,
    ReadPreferences,
    UpdatePreferences,
}

/// The self-or-admin gate: [`UserError::Forbidden`] with the contract's text for `access`.
pub fn authorize(caller: Caller<'_>, id: &str, access: Access) -> Result<()> {
    if caller.is_admin() || caller.user.id == id {
        return Ok(());
    }
    Err(UserError::Forbidden(match access {
        Access::ViewProfile => "Forbidden. You can only view your own profile.",
        Access::UpdateProfile => "Forbidden. You can only update your own profile.",
        Access::ReadPreferences => "Forbidden: Cannot access other users preferences",
        Access::UpdatePreferences => "Forbidden: Cannot update other users preferences",
    }))
}

/// The user or [`UserError::NotFound`].
pub async fn load(state: &AppState, id: &str) -> Result<User> {
    state.store.get_user(id).await?.ok_or(UserError::NotFound)
}

/// `{"count","users"}`.
#[derive(Debug, Serialize)]
pub struct UserList {
    pub count: usize,
    pub users: Vec<Value>,
}

/// GET /auth/users (admin): oldest first.
pub async fn list(state: &AppState) -> Result<UserList> {
    let users: Vec<Value> = state
        .store
        .list_users()
        .await?
        .iter()
        .map(User::to_json)
        .collect();
    Ok(UserList {
        count: users.len(),
        users,
    })
}

/// `{"user"}`.
#[derive(Debug, Serialize)]
pub struct UserRead {
    pub user: Value,
}

/// GET /auth/users/{id}: self or admin.
pub async fn get(state: &AppState, caller: Caller<'_>, id: &str) -> Result<UserRead> {
    authorize(caller, id, Access::ViewProfile)?;
    Ok(UserRead {
        user: load(state, id).await?.to_json(),
    })
}

/// A `PUT /auth/users/{id}` body, read once. `email` and `password` count only when truthy
/// (not null, false or ""); their rules, and the admin gates of `role` and `is_active`, apply
/// in the contract's order in [`update`].
#[derive(Clone, Debug, Default)]
pub struct UserPatch {
    pub email: Option<Value>,
    pub password: Option<Value>,
    pub current_password: Option<String>,
    pub role: Option<Value>,
    pub is_active: Option<Value>,
}

impl UserPatch {
    /// Reads a JSON object.
    pub fn from_json(m: &Map<String, Value>) -> Self {
        let truthy = |v: Option<&Value>| match v {
            None | Some(Value::Null) | Some(Value::Bool(false)) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(v) => Some(v.clone()),
        };
        Self {
            email: truthy(m.get("email")),
            password: truthy(m.get("password")),
            current_password: match m.get("current_password") {
                Some(Value::String(c)) if !c.is_empty() => Some(c.clone()),
                _ => None,
            },
            role: m.get("role").cloned(),
            is_active: m.get("is_active").cloned(),
        }
    }
}

/// A new e-mail (valid, not another user's), `None` when blank.
async fn new_email(state: &AppState, previous: &User, v: &Value) -> Result<Option<String>> {
    let raw = v
        .as_str()
        .ok_or_else(|| invalid("Invalid email", "\"email\" must be a string."))?;
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Ok(None);
    }
    let parsed = EmailAddress::parse(&email)
        .ok_or_else(|| invalid("Invalid email", "\"email\" is not a valid e-mail address."))?;
    let email = parsed.as_str().to_string();
    if email != previous.email && state.store.login_taken(None, Some(&email)).await?.1 {
        return Err(UserError::EmailTaken);
    }
    Ok(Some(email))
}

/// A new password's hash: 6-1024 characters; one's own change proves the current password
/// first, so a stolen access token alone cannot take the account over.
fn new_password_hash(
    caller: Caller<'_>,
    previous: &User,
    current: Option<&str>,
    v: &Value,
) -> Result<String> {
    let p = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let n = p.chars().count();
    if n < 6 {
        return Err(UserError::Plain(
            "Password must be at least 6 characters long",
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(invalid(
            "Invalid password",
            "Password must be at most 1024 characters long",
        ));
    }
    if caller.user.id == previous.id {
        let current = current.ok_or_else(|| {
            invalid(
                "Current password required",
                "\"current_password\" is required to change your own password.",
            )
        })?;
        if !verify_password(current, &previous.password_hash) {
            return Err(invalid(
                "Invalid current password",
                "The current password is not correct.",
            ));
        }
    }
    Ok(hash_password(&p))
}

/// `{"message","updated_fields","user"}`.
#[derive(Debug, Serialize)]
pub struct UserUpdated {
    pub message: &'static str,
    pub updated_fields: Vec<&'static str>,
    pub user: Value,
}

/// Applies `patch` to `previous` in the contract's order; the fields it set.
async fn apply(
    state: &AppState,
    caller: Caller<'_>,
    previous: &User,
    patch: &UserPatch,
    user: &mut User,
) -> Result<Vec<&'static str>> {
    let mut updated = Vec::new();
    if let Some(v) = &patch.email {
        if let Some(email) = new_email(state, previous, v).await? {
            user.email = email;
            updated.push("email");
        }
    }
    if let Some(v) = &patch.password {
        user.password_hash =
            new_password_hash(caller, previous, patch.current_password.as_deref(), v)?;
        updated.push("password");
    }
    if let Some(v) = &patch.role {
        if !caller.is_admin() {
            return Err(UserError::Forbidden("Only admins can change user roles"));
        }
        user.role = v
            .as_str()
            .and_then(Role::parse)
            .ok_or_else(|| invalid("Invalid role", "Role must be one of: admin, user, viewer"))?;
        updated.push("role");
    }
    if let Some(v) = &patch.is_active {
        if !caller.is_admin() {
            return Err(UserError::Forbidden(
                "Only admins can change user active status",
            ));
        }
        user.is_active = bool_field(v, "is_active")?;
        updated.push("is_active");
    }
    if updated.is_empty() {
        return Err(UserError::Plain("No valid fields to update"));
    }
    Ok(updated)
}

/// PUT /auth/users/{id} (api-contract §3.3) after [`authorize`] and [`load`]: e-mail
/// (unique, valid), password (≥ 6, re-hashed), role and `is_active` (admins only). A new
/// password, another role or a deactivation ends every earlier session; one's own password
/// change keeps the session it was made from. Audited (`password_reset` when someone else
/// set the password; the hash never reaches the log).
pub async fn update(
    state: &AppState,
    caller: Caller<'_>,
    previous: User,
    patch: UserPatch,
) -> Result<UserUpdated> {
    let mut user = previous.clone();
    let updated = apply(state, caller, &previous, &patch, &mut user).await?;
    if updated.contains(&"password")
        || user.role != previous.role
        || (previous.is_active && !user.is_active)
    {
        let keep = (caller.user.id == previous.id && user.role == previous.role)
            .then_some(caller.session_id);
        user.end_sessions(keep);
    }
    user.updated_at = now().max(previous.updated_at + chrono::Duration::microseconds(1));
    let action = if updated.contains(&"password") && caller.user.id != previous.id {
        "password_reset"
    } else {
        "update"
    };
    let mut after = user.to_json();
    if updated.contains(&"password") {
        after["password"] = Value::from("changed");
    }
    let entry = caller.audit(
        action,
        "user",
        &user.id,
        Some(previous.to_json()),
        Some(after),
    );
    match state
        .store
        .update_user_audited(&previous, &user, Some(&entry))
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict) => {
            if user.email != previous.email
                && state.store.login_taken(None, Some(&user.email)).await?.1
            {
                return Err(UserError::EmailTaken);
            }
            return Err(UserError::Conflict);
        }
        Err(e) => return Err(e.into()),
    }
    Ok(UserUpdated {
        message: "User updated successfully",
        updated_fields: updated,
        user: user.to_json(),
    })
}

/// `{"id","username"}` of a deleted user.
#[derive(Debug, Serialize)]
pub struct DeletedUser {
    pub id: String,
    pub username: String,
}

/// `{"message","deleted_user"}`.
#[derive(Debug, Serialize)]
pub struct UserDeleted {
    pub message: &'static str,
    pub deleted_user: DeletedUser,
}

/// DELETE /auth/users/{id} (admin): never oneself; removes the user, their preferences and
/// notifications; their jobs keep existing with `created_by = null` (§2.9).
pub async fn delete(state: &AppState, caller: Caller<'_>, id: &str) -> Result<UserDeleted> {
    if caller.user.id == id {
        return Err(UserError::Plain("Cannot delete your own account"));
    }
    let user = load(state, id).await?;
    let entry = caller.audit("delete", "user", &user.id, Some(user.to_json()), None);
    state.store.delete_user(&user, Some(&entry)).await?;
    Ok(UserDeleted {
        message: "User deleted successfully",
        deleted_user: DeletedUser {
            id: user.id,
            username: user.username,
        },
    })
}

fn new_prefs(user_id: &str, browser_and_weekly: bool) -> NotificationPrefs {
    let t = now();
    NotificationPrefs {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user_id.to_string(),
        email_on_job_success: true,
        email_on_job_failure: true,
        email_on_job_disabled: false,
        browser_notifications: browser_and_weekly,
        daily_digest: false,
        weekly_report: browser_and_weekly,
        created_at: t,
        updated_at: t,
    }
}

/// `{"message","preferences"}`.
#[derive(Debug, Serialize)]
pub struct PrefsView {
    pub message: &'static str,
    pub preferences: NotificationPrefs,
}

/// GET /auth/users/{id}/preferences of an existing user ([`load`]): get-or-create with the
/// GET defaults (browser and weekly report off).
pub async fn get_prefs(state: &AppState, id: &str) -> Result<PrefsView> {
    let prefs = match state.store.get_prefs(id).await? {
        Some(p) => p,
        None => {
            let p = new_prefs(id, false);
            state.store.put_prefs(&p).await?;
            p
        }
    };
    Ok(PrefsView {
        message: "Notification preferences retrieved successfully",
        preferences: prefs,
    })
}

/// PUT /auth/users/{id}/preferences of an existing user: sets the present flags (by name,
/// [`NotificationPrefs::FLAGS`]); a missing row starts from the model defaults (browser and
/// weekly report on).
pub async fn put_prefs(
    state: &AppState,
    id: &str,
    flags: &[(&'static str, bool)],
) -> Result<PrefsView> {
    let mut prefs = match state.store.get_prefs(id).await? {
        Some(p) => p,
        None => new_prefs(id, true),
    };
    for (key, v) in flags {
        if let Some(slot) = prefs.flag_mut(key) {
            *slot = *v;
        }
    }
    prefs.updated_at = now();
    state.store.put_prefs(&prefs).await?;
    Ok(PrefsView {
        message: "Notification preferences updated successfully",
        preferences: prefs,
    })
}

fn default_columns() -> BTreeMap<String, bool> {
    UiPrefs::DEFAULT_COLUMNS
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect()
}

/// `{"jobs_table_columns": {<the five columns>}}`.
#[derive(Debug, Serialize)]
pub struct ColumnsView {
    pub jobs_table_columns: BTreeMap<&'static str, bool>,
}

/// `{"preferences": {"jobs_table_columns"}}`.
#[derive(Debug, Serialize)]
pub struct UiPrefsView {
    pub preferences: ColumnsView,
}

fn columns_view(p: &UiPrefs) -> UiPrefsView {
    UiPrefsView {
        preferences: ColumnsView {
            jobs_table_columns: UiPrefs::DEFAULT_COLUMNS
                .iter()
                .map(|(k, d)| (*k, p.jobs_table_columns.get(*k).copied().unwrap_or(*d)))
                .collect(),
        },
    }
}

/// GET /auth/users/{id}/ui-preferences of an existing user: get-or-create with the
/// canonical columns.
pub async fn get_ui_prefs(state: &AppState, id: &str) -> Result<UiPrefsView> {
    let prefs = match state.store.get_ui_prefs(id).await? {
        Some(p) => p,
        None => {
            let t = now();
            let p = UiPrefs {
                id: uuid::Uuid::new_v4().to_string(),
                user_id: id.to_string(),
                jobs_table_columns: default_columns(),
                created_at: t,
                updated_at: t,
            };
            state.store.put_ui_prefs(&p).await?;
            p
        }
    };
    Ok(columns_view(&prefs))
}

/// PUT /auth/users/{id}/ui-preferences of an existing user: the known columns set from
/// `columns` (by name), the others reset to their defaults.
pub async fn put_ui_prefs(
    state: &AppState,
    id: &str,
    columns: &[(&'static str, bool)],
) -> Result<UiPrefsView> {
    let mut all = default_columns();
    for (k, v) in columns {
        all.insert(k.to_string(), *v);
    }
    let t = now();
    let prefs = match state.store.get_ui_prefs(id).await? {
        Some(mut p) => {
            p.jobs_table_columns = all;
            p.updated_at = t;
            p
        }
        None => UiPrefs {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: id.to_string(),
            jobs_table_columns: all,
            created_at: t,
            updated_at: t,
        },
    };
    state.store.put_ui_prefs(&prefs).await?;
    Ok(columns_view(&prefs))
}
