//! The executor: invoked by a job's EventBridge schedule with
//! `{"job_id": "...", "scheduled_time": "<fire time>"}` and runs the job once per fire time
//! (api-contract §6.6). The local stack's trigger calls [`handle`] directly.

use serde_json::{json, Value};
use shared::{
    engine::{Engine, ScheduledOutcome},
    schedules::{ScheduledInput, SCHEDULED_TIME_PLACEHOLDER},
    store::{RunClaim, StoreError},
};

/// Handles one delivery. Returns a summary (`{"outcome": "ran"|"skipped"|"missed"|
/// "auto_paused"|"duplicate"|"ignored", ...}`; `skipped` with an `execution` is a fire time
/// recorded as skipped by the overlap policy, without one a job gone or paused); a storage failure is an error, so the invocation fails and
/// EventBridge Scheduler retries it (the run claim keeps a retry from running twice).
pub async fn handle(engine: &Engine, payload: Value) -> Result<Value, StoreError> {
    handle_until(engine, payload, None).await
}

/// [`handle`] finishing by `deadline` (the Lambda invocation's, when known): a run's
/// attempts, its retries' waits and a buffered fire time's wait all end before it.
pub async fn handle_until(
    engine: &Engine,
    payload: Value,
    deadline: Option<std::time::Instant>,
) -> Result<Value, StoreError> {
    let input: ScheduledInput = match serde_json::from_value(payload.clone()) {
        Ok(i) => i,
        Err(e) => {
            tracing::error!(error = %e, %payload, "executor input is not {{job_id, scheduled_time}}: ignored");
            return Ok(json!({"outcome": "ignored", "reason": e.to_string()}));
        }
    };
    if input.job_id.trim().is_empty()
        || input.scheduled_time == SCHEDULED_TIME_PLACEHOLDER
        || RunClaim::parse(&input.job_id, &input.scheduled_time).is_none()
    {
        tracing::error!(%payload, "executor input lacks a job id or a resolved scheduled time: ignored");
        return Ok(
            json!({"outcome": "ignored", "reason": "job_id and an RFC 3339 scheduled_time are required"}),
        );
    }
    if input.backfill.is_some() {
        let report = engine.run_backfill(&input, deadline).await?;
        return Ok(json!({"outcome": "backfill", "job_id": input.job_id, "report": report}));
    }
    let outcome = engine.run_delivery(&input, deadline).await?;
    Ok(match outcome {
        ScheduledOutcome::Skipped => json!({"outcome": "skipped", "job_id": input.job_id}),
        ScheduledOutcome::AutoPaused => json!({"outcome": "auto_paused", "job_id": input.job_id}),
        ScheduledOutcome::Duplicate => json!({"outcome": "duplicate", "job_id": input.job_id}),
        ScheduledOutcome::Ran(e) => {
            json!({"outcome": "ran", "job_id": input.job_id, "execution": e.to_json()})
        }
        ScheduledOutcome::Parked(e) => {
            json!({"outcome": "retry_queued", "job_id": input.job_id, "execution": e.to_json()})
        }
        ScheduledOutcome::NotRun(e) => {
            json!({"outcome": e.status.as_str(), "job_id": input.job_id, "execution": e.to_json()})
        }
    })
}
