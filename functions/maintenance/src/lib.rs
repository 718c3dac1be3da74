//! The maintenance function: runs on its own schedule (every 10 minutes) and reconciles the
//! table with EventBridge Scheduler — missing, stale and orphaned schedules, active jobs past
//! their end date, jobs left `SYNC_PENDING` by a failed schedule call. The local trigger
//! calls [`handle`] directly.

use serde_json::{json, Value};
use shared::{services::maintenance, store::StoreError, web::AppState};

/// Runs one reconciliation and returns its report as JSON. A store failure fails the
/// invocation (the next run retries).
pub async fn handle(state: &AppState) -> Result<Value, StoreError> {
    let report = maintenance::reconcile(state).await?;
    tracing::info!(?report, "reconciled schedules");
    Ok(json!({"task": "reconcile", "report": report}))
}
