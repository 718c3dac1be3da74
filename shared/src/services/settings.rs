//! Settings (api-contract §3.10): Slack settings, an admin singleton created on first read,
//! and the allowlist of GitHub owners the platform's token may reach. The webhook URL must be
//! `https` (policy: the reference stored an `http` URL and then silently never used it).
//! Typed patches in, bodies (`Serialize`) out; [`SettingsError`] is mapped by the adapter.

use super::Caller;
use crate::{
    domain::{draft::github_part, fmt_ts, name::first_forbidden, now},
    state::AppState,
    store::{GithubOwners, SlackSettings, StoreError},
};
use serde::Serialize;
use serde_json::Value;

/// Most owners on the GitHub allowlist.
pub const MAX_GITHUB_OWNERS: usize = 100;
/// Longest Slack webhook URL, characters.
pub const MAX_WEBHOOK_URL_CHARS: usize = 2048;
/// Longest Slack channel, characters.
pub const MAX_CHANNEL_CHARS: usize = 255;

/// Why a settings use case refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A Slack setting breaks a rule (400 `Invalid settings` with this sentence).
    #[error("{0}")]
    InvalidSettings(String),
    /// The owner list breaks a rule (400 `Invalid owners` with this sentence).
    #[error("{0}")]
    InvalidOwners(String),
    /// The platform token may not reach this GitHub owner (400 `GitHub owner not allowed`).
    #[error("GitHub owner \"{0}\" is not on this platform's allowlist; an admin can add it (PUT /api/v2/settings/github-owners).")]
    OwnerNotAllowed(String),
    /// The table could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Result<T> = std::result::Result<T, SettingsError>;

async fn get_or_create(state: &AppState) -> Result<SlackSettings> {
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

/// `{"message"?, "slack_settings"}`.
#[derive(Debug, Serialize)]
pub struct SlackView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'static str>,
    pub slack_settings: SlackSettings,
}

/// GET /settings/slack (admin).
pub async fn get_slack(state: &AppState) -> Result<SlackView> {
    Ok(SlackView {
        message: None,
        slack_settings: get_or_create(state).await?,
    })
}

/// A `PUT /settings/slack` body: each field `None` when absent; a text field `Some(None)`
/// when null or blank (cleared). Texts arrive trimmed.
#[derive(Clone, Debug, Default)]
pub struct SlackPatch {
    pub is_enabled: Option<bool>,
    pub webhook_url: Option<Option<String>>,
    pub channel: Option<Option<String>>,
    pub notify_run_failures: Option<bool>,
}

fn checked_text(key: &str, v: Option<String>, max: usize) -> Result<Option<String>> {
    let Some(s) = v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if s.chars().count() > max {
        return Err(SettingsError::InvalidSettings(format!(
            "\"{key}\" must be at most {max} characters."
        )));
    }
    if let Some(c) = first_forbidden(&s) {
        return Err(SettingsError::InvalidSettings(format!(
            "\"{key}\" cannot contain control, line-break or bidirectional characters (U+{:04X}).",
            c as u32
        )));
    }
    Ok(Some(s))
}

/// PUT /settings/slack (admin): `webhook_url` an https URL (`http` too on the local stack
/// with `ALLOW_PRIVATE_TARGETS`), enabled without a webhook refused; nothing is saved when a
/// rule is broken. Audited with the settings before and after.
pub async fn put_slack(
    state: &AppState,
    caller: Caller<'_>,
    patch: SlackPatch,
) -> Result<SlackView> {
    let mut s = get_or_create(state).await?;
    let before = s.to_json();
    if let Some(v) = patch.is_enabled {
        s.is_enabled = v;
    }
    if let Some(url) = patch.webhook_url {
        s.webhook_url = checked_text("webhook_url", url, MAX_WEBHOOK_URL_CHARS)?;
        if let Some(u) = &s.webhook_url {
            if crate::alerts::slack_url(u, state.config.allow_private_targets).is_none() {
                return Err(SettingsError::InvalidSettings(
                    "webhook_url must be an https:// URL.".into(),
                ));
            }
        }
    }
    if let Some(channel) = patch.channel {
        s.channel = checked_text("channel", channel, MAX_CHANNEL_CHARS)?;
    }
    if let Some(v) = patch.notify_run_failures {
        s.notify_run_failures = v;
    }
    if s.is_enabled && s.webhook_url.is_none() {
        return Err(SettingsError::InvalidSettings(
            "webhook_url is required when Slack is enabled.".into(),
        ));
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
    Ok(SlackView {
        message: Some("Slack settings updated"),
        slack_settings: s,
    })
}

/// `{"message"?, "owners","default_owner","updated_at","updated_by"}`.
#[derive(Debug, Serialize)]
pub struct OwnersView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'static str>,
    pub owners: Vec<String>,
    pub default_owner: String,
    pub updated_at: Option<String>,
    pub updated_by: Option<String>,
}

fn owners_view(state: &AppState, stored: Option<GithubOwners>) -> OwnersView {
    let default = state.config.default_github_owner.clone();
    match stored {
        Some(o) => OwnersView {
            message: None,
            owners: o.owners,
            default_owner: default,
            updated_at: Some(fmt_ts(&o.updated_at)),
            updated_by: o.updated_by,
        },
        None => OwnersView {
            message: None,
            owners: if default.is_empty() {
                vec![]
            } else {
                vec![default.clone()]
            },
            default_owner: default,
            updated_at: None,
            updated_by: None,
        },
    }
}

/// GET /settings/github-owners (admin): the owners the platform's GitHub token may reach —
/// the saved list, or only `DEFAULT_GITHUB_OWNER` until one is saved.
pub async fn get_github_owners(state: &AppState) -> Result<OwnersView> {
    Ok(owners_view(state, state.store.get_github_owners().await?))
}

/// PUT /settings/github-owners (admin): each owner one GitHub path segment
/// ([`github_part`]), duplicates (case-insensitive) dropped, at most [`MAX_GITHUB_OWNERS`]; an
/// empty list lets the token reach no owner at all. Audited.
pub async fn put_github_owners(
    state: &AppState,
    caller: Caller<'_>,
    raw: Vec<String>,
) -> Result<OwnersView> {
    let invalid = |m: String| SettingsError::InvalidOwners(m);
    if raw.len() > MAX_GITHUB_OWNERS {
        return Err(invalid(format!("At most {MAX_GITHUB_OWNERS} owners.")));
    }
    let mut owners: Vec<String> = Vec::new();
    for r in &raw {
        let owner = github_part("owners", Some(r))
            .map_err(|e| invalid(e.message))?
            .ok_or_else(|| invalid("An owner cannot be empty.".into()))?;
        if !owners.iter().any(|o| o.eq_ignore_ascii_case(&owner)) {
            owners.push(owner);
        }
    }
    let saved = GithubOwners {
        owners,
        updated_at: now(),
        updated_by: Some(caller.user.id.clone()),
    };
    let list = |o: &[String]| Value::from(o.to_vec());
    let before = state.store.get_github_owners().await?;
    let audit = caller.audit(
        "update",
        "github_owners",
        "allowlist",
        before.map(|b| {
            serde_json::Value::Object(
                [("owners".to_string(), list(&b.owners))]
                    .into_iter()
                    .collect(),
            )
        }),
        Some(serde_json::Value::Object(
            [("owners".to_string(), list(&saved.owners))]
                .into_iter()
                .collect(),
        )),
    );
    state.store.put_github_owners(&saved, &audit).await?;
    Ok(OwnersView {
        message: Some("GitHub owners updated"),
        ..owners_view(state, Some(saved))
    })
}

/// [`SettingsError::OwnerNotAllowed`] unless the platform's GitHub token may reach `owner`
/// (`Store::github_owner_allowed`): checked before any call, for jobs, manual runs and
/// test-runs alike.
pub async fn require_github_owner(state: &AppState, owner: &str) -> Result<()> {
    if state
        .store
        .github_owner_allowed(owner, &state.config.default_github_owner)
        .await?
    {
        Ok(())
    } else {
        Err(SettingsError::OwnerNotAllowed(owner.to_string()))
    }
}
