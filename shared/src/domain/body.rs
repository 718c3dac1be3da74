//! A JSON request body read into typed fields (policy §5), once, before any rule: the
//! JSON-level reading every door that takes JSON shares. Rules (names, URLs, dates, the
//! taxonomy) are applied afterwards by the use case, in the contract's order.

use super::draft::FieldError;
use serde_json::{Map, Value};

/// A body boolean (policy §5): JSON booleans; `null` is false; the strings
/// `true/false/1/0/yes/no/on/off` and the numbers 0/1 are read as such; anything else is
/// refused (`Invalid payload`).
pub fn bool_field(v: &Value, field: &str) -> Result<bool, FieldError> {
    let parsed = match v {
        Value::Bool(b) => Some(*b),
        Value::Null => Some(false),
        Value::Number(n) => match n.as_f64() {
            Some(0.0) => Some(false),
            Some(1.0) => Some(true),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" | "" => Some(false),
            _ => None,
        },
        _ => None,
    };
    parsed.ok_or_else(|| {
        FieldError::new("Invalid payload", format!("\"{field}\" must be a boolean."))
    })
}

/// An optional body string, trimmed; `null`, absent and blank are `None`; numbers and
/// booleans are stringified; other types are refused (`Invalid payload`).
pub fn str_field(m: &Map<String, Value>, field: &str) -> Result<Option<String>, FieldError> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(FieldError::new(
            "Invalid payload",
            format!("\"{field}\" must be a string."),
        )),
    }
}

/// A key of a job body: `None` when absent; present with its value read.
pub type Present<T> = Option<T>;

/// A `POST /jobs` or `PUT /jobs/{id}` body (api-contract §3.5), read once: each field
/// `None` when its key is absent (PUT leaves those untouched), else its value read as
/// [`str_field`] / [`bool_field`] read it. `metadata`, `end_date` and
/// `notification_emails` keep their JSON value: their rules depend on its type.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobBody {
    pub name: Present<Option<String>>,
    pub cron_expression: Present<Option<String>>,
    pub target_url: Present<Option<String>>,
    pub github_owner: Present<Option<String>>,
    pub github_repo: Present<Option<String>>,
    pub github_workflow_name: Present<Option<String>>,
    pub category: Present<Option<String>>,
    pub pic_team: Present<Option<String>>,
    pub pic_team_slug: Present<Option<String>>,
    pub metadata: Present<Value>,
    pub end_date: Present<Value>,
    pub enable_email_notifications: Present<bool>,
    pub notification_emails: Present<Value>,
    pub notify_on_success: Present<bool>,
    pub is_active: Present<bool>,
    /// The run-policy keys present (issue 23), read by [`super::RunPolicy::apply`].
    pub policy: super::policy::PolicyPatch,
    /// `pause_note` as sent (update with `is_active: false`).
    pub pause_note: Present<Value>,
}

impl JobBody {
    /// Reads a JSON object; a field of the wrong JSON type is refused (`Invalid payload`).
    pub fn from_json(m: &Map<String, Value>) -> Result<Self, FieldError> {
        let text = |k: &str| -> Result<Present<Option<String>>, FieldError> {
            m.contains_key(k).then(|| str_field(m, k)).transpose()
        };
        let flag = |k: &str| m.get(k).map(|v| bool_field(v, k)).transpose();
        Ok(Self {
            name: text("name")?,
            cron_expression: text("cron_expression")?,
            target_url: text("target_url")?,
            github_owner: text("github_owner")?,
            github_repo: text("github_repo")?,
            github_workflow_name: text("github_workflow_name")?,
            category: text("category")?,
            pic_team: text("pic_team")?,
            pic_team_slug: text("pic_team_slug")?,
            metadata: m.get("metadata").cloned(),
            end_date: m.get("end_date").cloned(),
            enable_email_notifications: flag("enable_email_notifications")?,
            notification_emails: m.get("notification_emails").cloned(),
            notify_on_success: flag("notify_on_success")?,
            is_active: flag("is_active")?,
            policy: super::policy::PolicyPatch::from_json(m),
            pause_note: m.get("pause_note").cloned(),
        })
    }

    /// `pic_team`, or `pic_team_slug` when that is blank (§3.5 step 13); `None` when
    /// neither key is present.
    pub fn team(&self) -> Present<Option<String>> {
        match (&self.pic_team, &self.pic_team_slug) {
            (None, None) => None,
            (Some(Some(t)), _) => Some(Some(t.clone())),
            (_, slug) => Some(slug.clone().flatten()),
        }
    }
}

/// The overrides of a manual run (`POST /jobs/{id}/execute`, §3.5 steps 5-6), read once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecuteOverrides {
    /// `metadata` when present and not null (the rule: an object).
    pub metadata: Option<Value>,
    pub target_url: Option<String>,
    pub dispatch_url: Option<String>,
    /// Present keys only; a blank value falls back to the job's stored one.
    pub github_owner: Present<Option<String>>,
    pub github_repo: Present<Option<String>>,
    pub github_workflow_name: Present<Option<String>>,
    pub github_token: Option<String>,
}

impl ExecuteOverrides {
    /// Reads a JSON object; a field of the wrong JSON type is refused (`Invalid payload`).
    pub fn from_json(m: &Map<String, Value>) -> Result<Self, FieldError> {
        let text = |k: &str| -> Result<Present<Option<String>>, FieldError> {
            m.contains_key(k).then(|| str_field(m, k)).transpose()
        };
        Ok(Self {
            metadata: m.get("metadata").filter(|v| !v.is_null()).cloned(),
            target_url: str_field(m, "target_url")?,
            dispatch_url: str_field(m, "dispatch_url")?,
            github_owner: text("github_owner")?,
            github_repo: text("github_repo")?,
            github_workflow_name: text("github_workflow_name")?,
            github_token: str_field(m, "github_token")?,
        })
    }
}
