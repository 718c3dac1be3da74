//! Job requests (api-contract §3.4-§3.6): bodies read once into the core's typed inputs
//! (`shared::domain::body`, `shared::services::jobs`), whose results are the bodies.
//! `GET /jobs` is served here from the process's list cache.

use crate::{
    error::{to_body, ApiError, ApiResult},
    plumbing::{body_str, AppState, CurrentUser},
};
use http::StatusCode;
use serde_json::{Map, Value};
use shared::{
    domain::body::{ExecuteOverrides, JobBody},
    services::jobs::{self as core, TestRunRequest},
};

pub use core::{deliver_now, MANUAL_RUN_DEADLINE};

/// POST /jobs (api-contract §3.5): 201 `{"message","job"}`.
pub async fn create(
    state: &AppState,
    user: &CurrentUser,
    b: Map<String, Value>,
) -> ApiResult<(StatusCode, Value)> {
    let input = JobBody::from_json(&b)?;
    let out = core::create(state, user.caller(), input).await?;
    Ok((StatusCode::CREATED, to_body(out)?))
}

/// The job or 404 `Job not found`.
pub async fn load(state: &AppState, id: &str) -> ApiResult<shared::domain::Job> {
    Ok(core::load(state, id).await?)
}

/// Step 1-2 of PUT/DELETE/execute: 404, then ownership 403.
pub async fn load_owned(
    state: &AppState,
    user: &CurrentUser,
    id: &str,
    verb: &'static str,
) -> ApiResult<shared::domain::Job> {
    Ok(core::load_owned(state, user.caller(), id, verb).await?)
}

/// PUT /jobs/{id} after the 404/403 and JSON checks (api-contract §3.5): 200 `{"message","job"}`.
pub async fn update(
    state: &AppState,
    user: &CurrentUser,
    previous: shared::domain::Job,
    b: Map<String, Value>,
) -> ApiResult<Value> {
    let input = JobBody::from_json(&b)?;
    to_body(core::update(state, user.caller(), previous, input).await?)
}

/// DELETE /jobs/{id} after 404/403.
pub async fn delete(
    state: &AppState,
    user: &CurrentUser,
    job: shared::domain::Job,
) -> ApiResult<Value> {
    to_body(core::delete(state, user.caller(), job).await?)
}

/// GET /jobs for a verified access token's subject and session: the response document as
/// JSON text (`shared::services::jobs::list`).
pub async fn list(
    state: &AppState,
    caller: &str,
    session: &shared::store::SessionClaims,
) -> ApiResult<String> {
    Ok(core::list(state, caller, session).await?)
}

/// GET /jobs/{id}: `{"job": ...}` or 404.
pub async fn get(state: &AppState, id: &str) -> ApiResult<Value> {
    to_body(core::get(state, id).await?)
}

fn expression_of(b: &Map<String, Value>) -> ApiResult<String> {
    Ok(match body_str(b, "expression")? {
        Some(e) => e,
        None => body_str(b, "cron_expression")?.unwrap_or_default(),
    })
}

/// POST /jobs/{id}/backfill after 404/403: `{"from","to"}` (ISO 8601 strings).
pub async fn backfill(
    state: &AppState,
    user: &CurrentUser,
    job: &shared::domain::Job,
    b: &Map<String, Value>,
) -> ApiResult<Value> {
    let text = |k: &str| shared::domain::body::str_field(b, k);
    let (from, to) = (text("from")?, text("to")?);
    to_body(
        core::backfill(
            state,
            Some(user.caller()),
            job,
            (from.as_deref(), to.as_deref()),
        )
        .await?,
    )
}

/// POST /jobs/validate-cron: always 200 `{"valid":...}`.
pub fn validate_cron(b: &Map<String, Value>) -> ApiResult<Value> {
    let zone = match b.get("timezone") {
        None => None,
        Some(v) => shared::domain::policy::parse_zone(v)?,
    };
    to_body(core::validate_cron(&expression_of(b)?, zone))
}

/// The optional `timezone` of a cron tool body (an IANA name; absent, null or blank is the
/// scheduler zone).
fn zone_of(state: &AppState, b: &Map<String, Value>) -> ApiResult<chrono_tz::Tz> {
    Ok(b.get("timezone")
        .map(shared::domain::policy::parse_zone)
        .transpose()?
        .flatten()
        .unwrap_or(state.config.timezone))
}

/// POST /jobs/cron-preview: `{"timezone","next_runs","count"}`; `count` (a number or a
/// numeric string, truncated) defaults to 5 and is clamped to 0..=20.
pub fn cron_preview(state: &AppState, b: &Map<String, Value>) -> ApiResult<Value> {
    let bad_count = || ApiError::bad_request("Invalid payload", "\"count\" must be an integer.");
    let count: i64 = match b.get("count") {
        None | Some(Value::Null) => 5,
        Some(Value::Number(n)) => n.as_f64().map(|f| f.trunc() as i64).ok_or_else(bad_count)?,
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .map(|f| f.trunc() as i64)
            .map_err(|_| bad_count())?,
        Some(_) => return Err(bad_count()),
    };
    let zone = zone_of(state, b)?;
    to_body(core::cron_preview(&expression_of(b)?, count, zone)?)
}

/// POST /jobs/{id}/execute after 404/403 and the expiry check (api-contract §3.5 steps 4-9);
/// an empty body arrives as an empty map. `received` is when the request arrived.
pub async fn execute(
    state: &AppState,
    job: shared::domain::Job,
    b: Map<String, Value>,
    received: std::time::Instant,
) -> ApiResult<Value> {
    let overrides = ExecuteOverrides::from_json(&b)?;
    to_body(core::execute(state, job, overrides, received).await?)
}

/// POST /jobs/test-run (after the gate and JSON checks): one outbound call, nothing stored.
pub async fn test_run(
    state: &AppState,
    user: &CurrentUser,
    b: &Map<String, Value>,
) -> ApiResult<Value> {
    let bad_timeout =
        || ApiError::bad_request("Invalid payload", "\"timeout_seconds\" must be a number.");
    let timeout_seconds = match b.get("timeout_seconds") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.as_f64().ok_or_else(bad_timeout)?),
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().parse::<f64>().map_err(|_| bad_timeout())?),
        Some(_) => return Err(bad_timeout()),
    };
    let req = TestRunRequest {
        target_url: body_str(b, "target_url")?,
        github_owner: body_str(b, "github_owner")?,
        github_repo: body_str(b, "github_repo")?,
        github_workflow_name: body_str(b, "github_workflow_name")?,
        metadata: b.get("metadata").cloned(),
        timeout_seconds,
        raw: Value::Object(b.clone()),
    };
    Ok(core::test_run(state, user.caller(), req).await?.to_json())
}

/// The expired-job check of execute (step 3): pause, unschedule, 400 `Job expired`.
pub async fn refuse_if_expired(state: &AppState, job: &shared::domain::Job) -> ApiResult<()> {
    Ok(core::refuse_if_expired(state, job).await?)
}
