//! Users and their preferences (api-contract §3.3): the contract's order of the HTTP checks
//! (JSON content type, then the self-or-admin gate, then 404, then the body) around the
//! core's use cases (`shared::services::users`).

use crate::{
    error::{to_body, ApiError, ApiResult},
    plumbing::{body_bool, expect_object, parse_json, require_json, AppState, CurrentUser},
};
use http::HeaderMap;
use serde_json::Value;
use shared::{
    services::users::{self as core, Access, UserPatch},
    store::{NotificationPrefs, UiPrefs},
};

pub use core::MAX_PASSWORD_CHARS;

/// GET /auth/users (admin): `{"count","users"}`, oldest first.
pub async fn list(state: &AppState) -> ApiResult<Value> {
    to_body(core::list(state).await?)
}

/// GET /auth/users/{id}: self or admin.
pub async fn get(state: &AppState, caller: &CurrentUser, id: &str) -> ApiResult<Value> {
    to_body(core::get(state, caller.caller(), id).await?)
}

/// PUT /auth/users/{id} (api-contract §3.3 steps 1-10).
pub async fn update(
    state: &AppState,
    caller: &CurrentUser,
    id: &str,
    headers: &HeaderMap,
    raw: &[u8],
) -> ApiResult<Value> {
    require_json(headers)?;
    core::authorize(caller.caller(), id, Access::UpdateProfile)?;
    let previous = core::load(state, id).await?;
    let patch = UserPatch::from_json(&expect_object(parse_json(raw)?)?);
    to_body(core::update(state, caller.caller(), previous, patch).await?)
}

/// DELETE /auth/users/{id} (admin): never oneself.
pub async fn delete(state: &AppState, caller: &CurrentUser, id: &str) -> ApiResult<Value> {
    to_body(core::delete(state, caller.caller(), id).await?)
}

/// A preferences read's checks in the contract's order: the gate, then 404.
async fn readable(state: &AppState, caller: &CurrentUser, id: &str) -> ApiResult<()> {
    core::authorize(caller.caller(), id, Access::ReadPreferences)?;
    core::load(state, id).await?;
    Ok(())
}

/// A preferences write's checks in the contract's order: the gate, the content type, 404,
/// then the JSON object.
async fn writable(
    state: &AppState,
    caller: &CurrentUser,
    id: &str,
    headers: &HeaderMap,
    raw: &[u8],
) -> ApiResult<serde_json::Map<String, Value>> {
    core::authorize(caller.caller(), id, Access::UpdatePreferences)?;
    require_json(headers)?;
    core::load(state, id).await?;
    expect_object(parse_json(raw)?)
}

/// The present keys of `keys` in `b`, each a strict body boolean (400 otherwise).
fn known_flags<const N: usize>(
    b: &serde_json::Map<String, Value>,
    keys: [&'static str; N],
) -> ApiResult<Vec<(&'static str, bool)>> {
    keys.into_iter()
        .filter_map(|k| b.get(k).map(|v| Ok((k, body_bool(v, k)?))))
        .collect()
}

/// GET /auth/users/{id}/preferences: get-or-create.
pub async fn get_prefs(state: &AppState, caller: &CurrentUser, id: &str) -> ApiResult<Value> {
    readable(state, caller, id).await?;
    to_body(core::get_prefs(state, id).await?)
}

/// PUT /auth/users/{id}/preferences: sets the present flags (strict booleans).
pub async fn put_prefs(
    state: &AppState,
    caller: &CurrentUser,
    id: &str,
    headers: &HeaderMap,
    raw: &[u8],
) -> ApiResult<Value> {
    let b = writable(state, caller, id, headers, raw).await?;
    let mut flags = Vec::new();
    for key in NotificationPrefs::FLAGS {
        if let Some(v) = b.get(key) {
            flags.push((key, body_bool(v, key)?));
        }
    }
    to_body(core::put_prefs(state, id, &flags).await?)
}

/// GET /auth/users/{id}/ui-preferences: get-or-create with the canonical columns.
pub async fn get_ui_prefs(state: &AppState, caller: &CurrentUser, id: &str) -> ApiResult<Value> {
    readable(state, caller, id).await?;
    to_body(core::get_ui_prefs(state, id).await?)
}

/// PUT /auth/users/{id}/ui-preferences: `jobs_table_columns` required, an object.
pub async fn put_ui_prefs(
    state: &AppState,
    caller: &CurrentUser,
    id: &str,
    headers: &HeaderMap,
    raw: &[u8],
) -> ApiResult<Value> {
    let b = writable(state, caller, id, headers, raw).await?;
    let cols = match b.get("jobs_table_columns") {
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
    let columns = known_flags(cols, UiPrefs::DEFAULT_COLUMNS.map(|(k, _)| k))?;
    to_body(core::put_ui_prefs(state, id, &columns).await?)
}
