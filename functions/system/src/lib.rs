//! System area: `GET /api/v2/health` and the welcome document at `/` (api-contract §1.1, §3.1).

use axum::{extract::State, routing::get, Json, Router};
use serde_json::{json, Value};
use shared::{
    domain::{fmt_ts, now},
    web::{finish, AppState},
};

/// The area's routes, without state.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(welcome))
        .route("/api/v2/health", get(health))
}

/// The Lambda's whole application.
pub fn app(state: AppState) -> Router {
    finish(routes(), state)
}

async fn welcome() -> Json<Value> {
    Json(json!({
        "message": "Welcome to Cron Job Scheduler API v2",
        "docs": "/docs",
        "redoc": "/redoc",
        "health": "/api/v2/health",
    }))
}

/// Health. Schedules live in EventBridge Scheduler, which is always "running"; the count of
/// schedules is not read here to keep this call free of AWS round trips.
async fn health(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "status": "healthy",
        "service": "cron-job-scheduler",
        "version": state.config.app_version,
        "timestamp": fmt_ts(&now()),
        "api": "v2",
        "scheduler_running": true,
        "scheduled_jobs_count": Value::Null,
        "docs_url": state.config.docs_url,
    }))
}
