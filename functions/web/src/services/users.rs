//! Users and their preferences (api-contract §3.3): admin listing, self-or-admin reads and
//! updates, admin deletion, notification and UI preferences (get-or-create). Every check runs
//! before anything is written (policy §4).

use crate::{
    error::{ApiError, ApiResult},
    plumbing::{body_bool, expect_object, parse_json, require_json, AppState, CurrentUser},
};
use http::{HeaderMap, StatusCode};
use serde_json::{json, Map, Value};
use shared::{
    auth::{hash_password, verify_password},
    domain::{now, EmailAddress, Role},
    store::{NotificationPrefs, StoreError, UiPrefs, User},
};
use std::collections::BTreeMap;

/// Longest password accepted, characters.
pub const MAX_PASSWORD_CHARS: usize = 1024;

async fn load(state: &AppState, id: &str) -> ApiResult<User> {
    state
        .store
        .get_user(id)
        .await?
        .ok_or_else(|| ApiError::not_found("User not found", "User not found"))
}

fn is_self_or_admin(caller: &CurrentUser, id: &str) -> bool {
    caller.is_admin() || caller.0.id == id
}

fn forbidden(error: &str) -> ApiError {
    ApiError::forbidden(error, error)
}

/// GET /auth/users (admin): `{"count","users"}`, oldest first.
pub async fn list(state: &AppState) -> ApiResult<Value> {
    let users = state.store.list_users().await?;
    let items: Vec<Value> = users.iter().map(User::to_json).collect();
    Ok(json!({"count": items.len(), "users": items}))
}

/// GET /auth/users/{id}: self or admin.
pub async fn get(state: &AppState, caller: &CurrentUser, id: &str) -> ApiResult<Value> {
    if !is_self_or_admin(caller, id) {
        return Err(forbidden("Forbidden. You can only view your own profile."));
    }
    Ok(json!({"user": load(state, id).await?.to_json()}))
}

/// A new e-mail (valid, not another user's), `None` when blank.
async fn new_email(state: &AppState, previous: &User, v: &Value) -> ApiResult<Option<String>> {
    let raw = v
        .as_str()
        .ok_or_else(|| ApiError::bad_request("Invalid email", "\"email\" must be a string."))?;
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Ok(None);
    }
    let parsed = EmailAddress::parse(&email).ok_or_else(|| {
        ApiError::bad_request("Invalid email", "\"email\" is not a valid e-mail address.")
    })?;
    let email = parsed.as_str().to_string();
    if email != previous.email && state.store.login_taken(None, Some(&email)).await?.1 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "Email already exists",
            "Email already exists",
        ));
    }
    Ok(Some(email))
}

/// A new password's hash: 6-1024 characters; one's own change proves the current password
/// first, so a stolen access token alone cannot take the account over.
fn new_password_hash(
    caller: &CurrentUser,
    previous: &User,
    body: &serde_json::Map<String, Value>,
    v: Value,
) -> ApiResult<String> {
    let p = match v {
        Value::String(s) => s,
        other => other.to_string(),
    };
    let n = p.chars().count();
    if n < 6 {
        return Err(ApiError::bad_request_plain(
            "Password must be at least 6 characters long",
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(ApiError::bad_request(
            "Invalid password",
            "Password must be at most 1024 characters long",
        ));
    }
    if caller.0.id == previous.id {
        let current = match body.get("current_password") {
            Some(Value::String(c)) if !c.is_empty() => c.clone(),
            _ => {
                return Err(ApiError::bad_request(
                    "Current password required",
                    "\"current_password\" is required to change your own password.",
                ))
            }
        };
        if !verify_password(&current, &previous.password_hash) {
            return Err(ApiError::bad_request(
                "Invalid current password",
                "The current password is not correct.",
            ));
        }
    }
    Ok(hash_password(&p))
}

/// PUT /auth/users/{id} (api-contract §3.3 steps 1-10): e-mail (unique, valid), password
/// (≥ 6, re-hashed), role and `is_active` (admins only).
pub async fn update(
    state: &AppState,
    caller: &CurrentUser,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Value> {
    require_json(headers)?;
    if !is_self_or_admin(caller, id) {
        return Err(forbidden(
            "Forbidden. You can only update your own profile.",
        ));
    }
    let previous = load(state, id).await?;
    let body = expect_object(parse_json(body)?)?;
    let mut user = previous.clone();
    let mut updated: Vec<&str> = Vec::new();
    let truthy = |v: Option<&Value>| match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(v) => Some(v.clone()),
    };
    if let Some(v) = truthy(body.get("email")) {
        if let Some(email) = new_email(state, &previous, &v).await? {
            user.email = email;
            updated.push("email");
        }
    }
    if let Some(v) = truthy(body.get("password")) {
        user.password_hash = new_password_hash(caller, &previous, &body, v)?;
        updated.push("password");
    }
    if let Some(v) = body.get("role") {
        if !caller.is_admin() {
            return Err(forbidden("Only admins can change user roles"));
        }
        user.role = v.as_str().and_then(Role::parse).ok_or_else(|| {
            ApiError::bad_request("Invalid role", "Role must be one of: admin, user, viewer")
        })?;
        updated.push("role");
    }
    if let Some(v) = body.get("is_active") {
        if !caller.is_admin() {
            return Err(forbidden("Only admins can change user active status"));
        }
        user.is_active = body_bool(v, "is_active")?;
        updated.push("is_active");
    }
    if updated.is_empty() {
        return Err(ApiError::bad_request_plain("No valid fields to update"));
    }
    // A new password, another role or a deactivation ends every earlier session (a
    // reactivation does not bring them back); one's own password change keeps the session
    // it was made from.
    if updated.contains(&"password")
        || user.role != previous.role
        || (previous.is_active && !user.is_active)
    {
        let keep = (caller.0.id == previous.id && user.role == previous.role)
            .then_some(caller.1.sid.as_str());
        user.end_sessions(keep);
    }
    user.updated_at = now().max(previous.updated_at + chrono::Duration::microseconds(1));
    // A password set by someone else is a reset; the hash itself never reaches the log.
    let action = if updated.contains(&"password") && caller.0.id != previous.id {
        "password_reset"
    } else {
        "update"
    };
    let mut after = user.to_json();
    if updated.contains(&"password") {
        after["password"] = json!("changed");
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
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "Email already exists",
                    "Email already exists",
                ));
            }
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "Conflict",
                "The user was changed by another request. Reload and try again.",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(json!({
        "message": "User updated successfully",
        "updated_fields": updated,
        "user": user.to_json(),
    }))
}

/// DELETE /auth/users/{id} (admin): never oneself; removes the user, their preferences and
/// notifications; their jobs keep existing with `created_by = null` (§2.9).
pub async fn delete(state: &AppState, caller: &CurrentUser, id: &str) -> ApiResult<Value> {
    if caller.0.id == id {
        return Err(ApiError::bad_request_plain(
            "Cannot delete your own account",
        ));
    }
    let user = load(state, id).await?;
    let entry = caller.audit("delete", "user", &user.id, Some(user.to_json()), None);
    state.store.delete_user(&user, Some(&entry)).await?;
    Ok(json!({
        "message": "User deleted successfully",
        "deleted_user": {"id": user.id, "username": user.username},
    }))
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

const FORBIDDEN_READ_PREFS: &str = "Forbidden: Cannot access other users preferences";
const FORBIDDEN_WRITE_PREFS: &str = "Forbidden: Cannot update other users preferences";

/// GET /auth/users/{id}/preferences: get-or-create with the GET defaults (browser and weekly
/// report off).
pub async fn get_prefs(state: &AppState, caller: &CurrentUser, id: &str) -> ApiResult<Value> {
    if !is_self_or_admin(caller, id) {
        return Err(forbidden(FORBIDDEN_READ_PREFS));
    }
    load(state, id).await?;
    let prefs = match state.store.get_prefs(id).await? {
        Some(p) => p,
        None => {
            let p = new_prefs(id, false);
            state.store.put_prefs(&p).await?;
            p
        }
    };
    Ok(json!({
        "message": "Notification preferences retrieved successfully",
        "preferences": prefs.to_json(),
    }))
}

/// PUT /auth/users/{id}/preferences: sets the present flags (strict booleans); a missing row
/// starts from the model defaults (browser and weekly report on).
pub async fn put_prefs(
    state: &AppState,
    caller: &CurrentUser,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Value> {
    if !is_self_or_admin(caller, id) {
        return Err(forbidden(FORBIDDEN_WRITE_PREFS));
    }
    require_json(headers)?;
    load(state, id).await?;
    let body = expect_object(parse_json(body)?)?;
    let mut prefs = match state.store.get_prefs(id).await? {
        Some(p) => p,
        None => new_prefs(id, true),
    };
    for key in NotificationPrefs::FLAGS {
        if let Some(v) = body.get(key) {
            let b = body_bool(v, key)?;
            if let Some(slot) = prefs.flag_mut(key) {
                *slot = b;
            }
        }
    }
    prefs.updated_at = now();
    state.store.put_prefs(&prefs).await?;
    Ok(json!({
        "message": "Notification preferences updated successfully",
        "preferences": prefs.to_json(),
    }))
}

fn default_columns() -> BTreeMap<String, bool> {
    UiPrefs::DEFAULT_COLUMNS
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect()
}

fn columns_json(p: &UiPrefs) -> Value {
    let mut m = Map::new();
    for (k, default) in UiPrefs::DEFAULT_COLUMNS {
        m.insert(
            k.into(),
            Value::Bool(p.jobs_table_columns.get(k).copied().unwrap_or(default)),
        );
    }
    json!({"preferences": {"jobs_table_columns": m}})
}

/// GET /auth/users/{id}/ui-preferences: get-or-create with the canonical columns.
pub async fn get_ui_prefs(state: &AppState, caller: &CurrentUser, id: &str) -> ApiResult<Value> {
    if !is_self_or_admin(caller, id) {
        return Err(forbidden(FORBIDDEN_READ_PREFS));
    }
    load(state, id).await?;
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
    Ok(columns_json(&prefs))
}

/// PUT /auth/users/{id}/ui-preferences: `jobs_table_columns` required, an object; the five
/// known columns are set from it, the others reset to their defaults.
pub async fn put_ui_prefs(
    state: &AppState,
    caller: &CurrentUser,
    id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Value> {
    if !is_self_or_admin(caller, id) {
        return Err(forbidden(FORBIDDEN_WRITE_PREFS));
    }
    require_json(headers)?;
    load(state, id).await?;
    let body = expect_object(parse_json(body)?)?;
    let cols = match body.get("jobs_table_columns") {
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request(
                "Missing required fields",
                "\"jobs_table_columns\" is required.",
            ))
        }
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(ApiError::bad_request(
                "Invalid payload",
                "\"jobs_table_columns\" must be an object.",
            ))
        }
    };
    let mut columns = default_columns();
    for (k, _) in UiPrefs::DEFAULT_COLUMNS {
        if let Some(v) = cols.get(k) {
            columns.insert(k.to_string(), body_bool(v, k)?);
        }
    }
    let t = now();
    let prefs = match state.store.get_ui_prefs(id).await? {
        Some(mut p) => {
            p.jobs_table_columns = columns;
            p.updated_at = t;
            p
        }
        None => UiPrefs {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: id.to_string(),
            jobs_table_columns: columns,
            created_at: t,
            updated_at: t,
        },
    };
    state.store.put_ui_prefs(&prefs).await?;
    Ok(columns_json(&prefs))
}
