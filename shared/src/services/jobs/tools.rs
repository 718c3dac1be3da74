//! Cron tools and the test-run (api-contract §3.6): nothing is stored but the test-run's
//! audit entry.

use super::{require_github_owner, Caller, JobError, Result};
use crate::{
    domain::{
        draft::{self, FieldError},
        target::parse_webhook_url,
        CronExpr, Dispatch, JobTarget,
    },
    engine::TestRun,
    state::AppState,
};
use chrono::Utc;
use serde::Serialize;
use serde_json::{Map, Value};

/// `{"valid": true, "message"}` or `{"valid": false, "error", "message"}`.
#[derive(Debug, Serialize)]
pub struct CronCheck {
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
    pub message: String,
    /// The zone the expression was read in (valid only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<&'static str>,
    /// Its next fire time there, RFC 3339 with the zone's offset (valid only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_run: Option<String>,
}

/// POST /jobs/validate-cron: always an answer, valid or not. A valid expression that never
/// fires in `zone` in the next 5 years (say `0 2 31 2 *`) is still valid, as it was.
/// With a `zone` (the body's `timezone`), a valid answer also names the zone and the next
/// fire time there; without one the body is the contract's `{"valid","message"}`.
pub fn validate_cron(expression: &str, zone: Option<chrono_tz::Tz>) -> CronCheck {
    match CronExpr::parse(expression) {
        Ok(cron) => CronCheck {
            valid: true,
            error: None,
            message: "Valid cron expression".into(),
            timezone: zone.map(|z| z.name()),
            next_run: zone
                .and_then(|z| cron.next_fire_from(Utc::now(), z))
                .map(|t| t.to_rfc3339()),
        },
        Err(e) => CronCheck {
            valid: false,
            error: Some("Invalid cron expression"),
            message: e.0,
            timezone: None,
            next_run: None,
        },
    }
}

/// `{"timezone","next_runs","count"}`.
#[derive(Debug, Serialize)]
pub struct CronPreview {
    pub timezone: &'static str,
    /// RFC 3339 with the zone's offset.
    pub next_runs: Vec<String>,
    pub count: usize,
}

/// POST /jobs/cron-preview: the next `count` fire times (`count` 0 means 5; clamped to
/// 0..=20) in `tz` (the body's `timezone`, else the scheduler zone).
pub fn cron_preview(expression: &str, count: i64, tz: chrono_tz::Tz) -> Result<CronPreview> {
    let count = if count == 0 {
        5
    } else {
        count.clamp(0, 20) as usize
    };
    let cron = CronExpr::parse(expression)?;
    let next_runs: Vec<String> = cron
        .upcoming(Utc::now(), tz, count)
        .iter()
        .map(|t| t.to_rfc3339())
        .collect();
    Ok(CronPreview {
        timezone: tz.name(),
        count: next_runs.len(),
        next_runs,
    })
}

/// A `POST /jobs/test-run` body, read once.
#[derive(Clone, Debug, Default)]
pub struct TestRunRequest {
    pub target_url: Option<String>,
    pub github_owner: Option<String>,
    pub github_repo: Option<String>,
    pub github_workflow_name: Option<String>,
    /// `metadata` as sent (a falsy value means none; anything else must be an object).
    pub metadata: Option<Value>,
    /// Seconds; `None`, 0 or not finite means 10; clamped to 1..=20.
    pub timeout_seconds: Option<f64>,
    /// The body as received, for the audit entry.
    pub raw: Value,
}

fn is_falsy(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Object(m) => m.is_empty(),
        Value::Bool(true) => false,
    }
}

/// POST /jobs/test-run (after the gate): one outbound call, nothing stored but an audit
/// entry written before the call. `target_url` wins over GitHub fields; the timeout stays
/// inside API Gateway's 30 s.
pub async fn test_run(
    state: &AppState,
    caller: Caller<'_>,
    req: TestRunRequest,
) -> Result<TestRun> {
    let target_url = draft::bounded_url("target_url", req.target_url.as_deref())?;
    let owner = draft::github_part("github_owner", req.github_owner.as_deref())?;
    let repo = draft::github_part("github_repo", req.github_repo.as_deref())?;
    let workflow = draft::github_part("github_workflow_name", req.github_workflow_name.as_deref())?;
    let metadata = match &req.metadata {
        None => Map::new(),
        Some(Value::Object(m)) => {
            draft::metadata_size(m, "Invalid metadata")?;
            m.clone()
        }
        Some(v) if is_falsy(v) => Map::new(),
        Some(_) => {
            return Err(JobError::Invalid(FieldError::new(
                "Invalid metadata",
                "\"metadata\" must be an object.",
            )))
        }
    };
    let dispatch = Dispatch::from_parts(owner.as_deref(), repo.as_deref(), workflow.as_deref());
    let missing = JobError::MissingTarget(
        "Provide target_url or GitHub config (github_owner, github_repo, github_workflow_name).",
    );
    let timeout = match req.timeout_seconds {
        Some(t) if t.is_finite() && t != 0.0 => t.clamp(1.0, 20.0),
        _ => 10.0,
    };
    let target = match (target_url, dispatch) {
        (Some(url), _) => JobTarget::Webhook(parse_webhook_url(&url).ok_or_else(|| {
            JobError::Invalid(FieldError::new(
                "Invalid target_url",
                "Webhook URL must start with http:// or https://",
            ))
        })?),
        (None, Some(d)) => {
            require_github_owner(state, &d.owner).await?;
            JobTarget::GitHub(d)
        }
        (None, None) => return Err(missing),
    };
    // Recorded before the call (which stores nothing else): who aimed what where.
    let aimed = match &target {
        JobTarget::GitHub(d) => d.display(),
        JobTarget::Webhook(u) => u.to_string(),
    };
    state
        .store
        .put_audit(&caller.audit("test_run", "test_run", &aimed, None, Some(req.raw)))
        .await?;
    Ok(state
        .engine
        .test_run(
            &target,
            &metadata,
            std::time::Duration::from_secs_f64(timeout),
        )
        .await)
}
