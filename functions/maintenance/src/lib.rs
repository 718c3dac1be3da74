//! The maintenance function. One Lambda, four kinds of event:
//!
//! | event | from | does |
//! |---|---|---|
//! | `{"task": "sweep"}` | EventBridge Scheduler, every 2 minutes | delivers due outbox tasks, fails abandoned runs, completes `SYNC_PENDING` schedule calls ([`maintenance::sweep`]) |
//! | `{"task": "reconcile"}` (or anything unrecognised) | every 10 minutes | makes every schedule agree with the table ([`maintenance::reconcile`]) |
//! | `{"task": "end_date_maintenance", "scheduled_time": "<fire time>"}` | Monday 09:00 in the scheduler time zone | auto-pause and "ending soon" reminders ([`maintenance::end_date_maintenance`]) |
//! | `{"task": "expire_history"}` | daily, 00:30 UTC | folds days past retention out of the counters ([`maintenance::expire_history`]) |
//! | DynamoDB Streams batch (`{"Records": [...]}`), filtered to inserted `OUTBOX#` items | the table's stream | delivers those outbox tasks at once |
//!
//! The local stack calls [`handle`] with the same events.

use serde_json::{json, Value};
use shared::{services::maintenance, state::AppState, store::StoreError};

/// The outbox task ids of a DynamoDB Streams batch (`Records[].dynamodb.Keys.PK.S` with the
/// `OUTBOX#` prefix); other records are ignored.
pub fn outbox_ids(event: &Value) -> Option<Vec<String>> {
    let records = event.get("Records")?.as_array()?;
    Some(
        records
            .iter()
            .filter_map(|r| r.pointer("/dynamodb/Keys/PK/S")?.as_str())
            .filter_map(|pk| pk.strip_prefix("OUTBOX#"))
            .map(str::to_string)
            .collect(),
    )
}

/// Handles one event (table in the module docs) and returns its report as JSON. A store
/// failure fails the invocation (a stream batch is then retried; a scheduled task runs again
/// at its next tick).
pub async fn handle(state: &AppState, event: Value) -> Result<Value, StoreError> {
    if let Some(ids) = outbox_ids(&event) {
        let report = state.alerts.deliver(&ids).await?;
        return Ok(json!({"task": "deliver", "report": report}));
    }
    match event.get("task").and_then(Value::as_str) {
        Some("sweep") => {
            let report = maintenance::sweep(state).await?;
            if report != Default::default() {
                tracing::info!(?report, "sweep");
            }
            Ok(json!({"task": "sweep", "report": report}))
        }
        Some("expire_history") => {
            let report = maintenance::expire_history(state).await?;
            tracing::info!(?report, "retention pass");
            Ok(json!({"task": "expire_history", "report": report}))
        }
        Some("end_date_maintenance") => {
            let at = event
                .get("scheduled_time")
                .and_then(Value::as_str)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&chrono::Utc));
            let report = maintenance::end_date_maintenance(state, at).await?;
            Ok(json!({"task": "end_date_maintenance", "report": report}))
        }
        _ => {
            let report = maintenance::reconcile(state).await?;
            tracing::info!(?report, "reconciled schedules");
            Ok(json!({"task": "reconcile", "report": report}))
        }
    }
}
