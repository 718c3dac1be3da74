//! Slack settings (api-contract §3.10), an admin singleton created on first read. The webhook
//! URL must be `https` (policy: the reference stored an `http` URL and then silently never
//! used it).

use crate::{
    error::{ApiError, ApiResult},
    plumbing::{body_bool, AppState},
};
use serde_json::{json, Map, Value};
use shared::{domain::now, store::SlackSettings};

async fn get_or_create(state: &AppState) -> ApiResult<SlackSettings> {
    if let Some(s) = state.store.get_slack_settings().await? {
        return Ok(s);
    }
    let t = now();
    Ok(state
        .store
        .create_slack_settings(&SlackSettings {
            id: uuid::Uuid::new_v4().to_string(),
            is_enabled: false,
            webhook_url: None,
            channel: None,
            notify_run_failures: false,
            created_at: t,
            updated_at: t,
        })
        .await?)
}

/// GET /settings/slack (admin): `{"slack_settings"}`.
pub async fn get(state: &AppState) -> ApiResult<Value> {
    Ok(json!({"slack_settings": get_or_create(state).await?.to_json()}))
}

fn invalid(message: &str) -> ApiError {
    ApiError::bad_request("Invalid settings", message)
}

fn text(body: &Map<String, Value>, key: &str, max: usize) -> ApiResult<Option<String>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.chars().count() > max {
                return Err(invalid(&format!(
                    "\"{key}\" must be at most {max} characters."
                )));
            }
            if let Some(c) = shared::domain::name::first_forbidden(s) {
                return Err(invalid(&format!(
                    "\"{key}\" cannot contain control, line-break or bidirectional characters (U+{:04X}).",
                    c as u32
                )));
            }
            Ok(Some(s.to_string()).filter(|s| !s.is_empty()))
        }
        Some(_) => Err(invalid(&format!("\"{key}\" must be a string."))),
    }
}

/// PUT /settings/slack (admin, after the JSON checks): `is_enabled`, `webhook_url` (an https
/// URL; `http` too on the local stack with `ALLOW_PRIVATE_TARGETS`), `channel`, and
/// `notify_run_failures` (beyond the reference: also post failed runs); enabled without a
/// webhook is a 400. Nothing is saved on a 400.
pub async fn put(
    state: &AppState,
    caller: &crate::plumbing::CurrentUser,
    body: &Map<String, Value>,
) -> ApiResult<Value> {
    let mut s = get_or_create(state).await?;
    let before = s.to_json();
    if let Some(v) = body.get("is_enabled") {
        s.is_enabled = body_bool(v, "is_enabled")?;
    }
    if body.contains_key("webhook_url") {
        s.webhook_url = text(body, "webhook_url", 2048)?;
        if let Some(u) = &s.webhook_url {
            let ok = shared::alerts::slack_url(u, state.config.allow_private_targets).is_some();
            if !ok {
                return Err(invalid("webhook_url must be an https:// URL."));
            }
        }
    }
    if body.contains_key("channel") {
        s.channel = text(body, "channel", 255)?;
    }
    if let Some(v) = body.get("notify_run_failures") {
        s.notify_run_failures = body_bool(v, "notify_run_failures")?;
    }
    if s.is_enabled && s.webhook_url.is_none() {
        return Err(invalid("webhook_url is required when Slack is enabled."));
    }
    s.updated_at = now();
    let audit = caller.audit(
        "update",
        "slack_settings",
        &s.id,
        Some(before),
        Some(s.to_json()),
    );
    state.store.put_slack_settings_audited(&s, &audit).await?;
    Ok(json!({"message": "Slack settings updated", "slack_settings": s.to_json()}))
}

/// Most owners on the GitHub allowlist.
pub const MAX_GITHUB_OWNERS: usize = 100;

fn owners_json(state: &AppState, stored: Option<shared::store::GithubOwners>) -> Value {
    let default = state.config.default_github_owner.clone();
    match stored {
        Some(o) => json!({
            "owners": o.owners,
            "default_owner": default,
            "updated_at": shared::domain::fmt_ts(&o.updated_at),
            "updated_by": o.updated_by,
        }),
        None => json!({
            "owners": if default.is_empty() { vec![] } else { vec![default.clone()] },
            "default_owner": default,
            "updated_at": Value::Null,
            "updated_by": Value::Null,
        }),
    }
}

/// GET /settings/github-owners (admin): the owners the platform's GitHub token may reach —
/// the saved list, or only `DEFAULT_GITHUB_OWNER` until one is saved.
pub async fn get_github_owners(state: &AppState) -> ApiResult<Value> {
    Ok(owners_json(state, state.store.get_github_owners().await?))
}

/// PUT /settings/github-owners (admin): `{"owners": [...]}`, each one GitHub path segment
/// (`draft::github_part`), duplicates (case-insensitive) dropped, at most
/// [`MAX_GITHUB_OWNERS`]; an empty list lets the token reach no owner at all.
pub async fn put_github_owners(
    state: &AppState,
    caller: &crate::plumbing::CurrentUser,
    body: &Map<String, Value>,
) -> ApiResult<Value> {
    let invalid = |m: String| ApiError::bad_request("Invalid owners", m);
    let Some(Value::Array(items)) = body.get("owners") else {
        return Err(invalid(
            "\"owners\" must be a list of GitHub owners.".into(),
        ));
    };
    if items.len() > MAX_GITHUB_OWNERS {
        return Err(invalid(format!("At most {MAX_GITHUB_OWNERS} owners.")));
    }
    let mut owners: Vec<String> = Vec::new();
    for item in items {
        let raw = item
            .as_str()
            .ok_or_else(|| invalid("\"owners\" must be a list of strings.".into()))?;
        let owner = shared::domain::draft::github_part("owners", Some(raw))
            .map_err(|e| invalid(e.message))?
            .ok_or_else(|| invalid("An owner cannot be empty.".into()))?;
        if !owners.iter().any(|o| o.eq_ignore_ascii_case(&owner)) {
            owners.push(owner);
        }
    }
    let saved = shared::store::GithubOwners {
        owners,
        updated_at: now(),
        updated_by: Some(caller.0.id.clone()),
    };
    let before = state.store.get_github_owners().await?;
    let audit = caller.audit(
        "update",
        "github_owners",
        "allowlist",
        before.map(|b| json!({"owners": b.owners})),
        Some(json!({"owners": saved.owners})),
    );
    state.store.put_github_owners(&saved, &audit).await?;
    let mut out = owners_json(state, Some(saved));
    out["message"] = json!("GitHub owners updated");
    Ok(out)
}

/// 400 `GitHub owner not allowed` unless the platform's GitHub token may reach `owner`
/// (`Store::github_owner_allowed`): checked before any call, for jobs, manual runs and
/// test-runs alike.
pub async fn require_github_owner(state: &AppState, owner: &str) -> ApiResult<()> {
    if state
        .store
        .github_owner_allowed(owner, &state.config.default_github_owner)
        .await?
    {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "GitHub owner not allowed",
        format!(
            "GitHub owner \"{owner}\" is not on this platform's allowlist; an admin can add it (PUT /api/v2/settings/github-owners)."
        ),
    ))
}
