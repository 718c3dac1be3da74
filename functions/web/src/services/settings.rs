//! Settings (api-contract §3.10): the JSON bodies read into the core's typed patches
//! (`shared::services::settings`), whose results are the bodies.

use crate::{
    error::{to_body, ApiError, ApiResult},
    plumbing::{body_bool, AppState, CurrentUser},
};
use serde_json::{Map, Value};
use shared::services::settings::{self as core, SlackPatch};

pub use core::MAX_GITHUB_OWNERS;

/// GET /settings/slack (admin): `{"slack_settings"}`.
pub async fn get(state: &AppState) -> ApiResult<Value> {
    to_body(core::get_slack(state).await?)
}

/// A text field: absent `None`; null `Some(None)`; a string `Some(Some(..))`; else 400.
fn text(body: &Map<String, Value>, key: &str) -> ApiResult<Option<Option<String>>> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(_) => Err(ApiError::bad_request(
            "Invalid settings",
            format!("\"{key}\" must be a string."),
        )),
    }
}

/// PUT /settings/slack (admin, after the JSON checks): `is_enabled`, `webhook_url`,
/// `channel`, `notify_run_failures` (beyond the reference: also post failed runs).
pub async fn put(
    state: &AppState,
    caller: &CurrentUser,
    b: &Map<String, Value>,
) -> ApiResult<Value> {
    let flag = |key: &str| b.get(key).map(|v| body_bool(v, key)).transpose();
    let patch = SlackPatch {
        is_enabled: flag("is_enabled")?,
        webhook_url: text(b, "webhook_url")?,
        channel: text(b, "channel")?,
        notify_run_failures: flag("notify_run_failures")?,
    };
    to_body(core::put_slack(state, caller.caller(), patch).await?)
}

/// GET /settings/github-owners (admin).
pub async fn get_github_owners(state: &AppState) -> ApiResult<Value> {
    to_body(core::get_github_owners(state).await?)
}

/// PUT /settings/github-owners (admin): `{"owners": [...]}`, a list of strings.
pub async fn put_github_owners(
    state: &AppState,
    caller: &CurrentUser,
    b: &Map<String, Value>,
) -> ApiResult<Value> {
    let invalid = |m: &str| ApiError::bad_request("Invalid owners", m);
    let Some(Value::Array(items)) = b.get("owners") else {
        return Err(invalid("\"owners\" must be a list of GitHub owners."));
    };
    if items.len() > MAX_GITHUB_OWNERS {
        return Err(invalid(&format!("At most {MAX_GITHUB_OWNERS} owners.")));
    }
    let owners = items
        .iter()
        .map(|i| i.as_str().map(str::to_string))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| invalid("\"owners\" must be a list of strings."))?;
    to_body(core::put_github_owners(state, caller.caller(), owners).await?)
}

/// 400 `GitHub owner not allowed` unless the platform's GitHub token may reach `owner`.
pub async fn require_github_owner(state: &AppState, owner: &str) -> ApiResult<()> {
    Ok(core::require_github_owner(state, owner).await?)
}
