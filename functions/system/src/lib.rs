//! System area: health, the welcome document at `/`, the scheduler admin endpoints
//! (api-contract §1.1, §3.1, §3.11), and the API's own description — the OpenAPI 3.1
//! document at `/api/v2/openapi.json` and a Swagger UI at `/api/v2/docs` whose assets are
//! compiled into this function only (no CDN at run time).
//!
//! The document is generated from every area's router (`cargo run -p infra --bin openapi`,
//! `make openapi`) into `functions/system/openapi.json`; a test fails when that file and the
//! routers disagree.

use axum::{
    extract::{Path, State},
    http::{header, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Response},
    Json, Router,
};
use serde_json::{json, Value};
use shared::{
    domain::{fmt_ts, now},
    services::scheduler,
};
use utoipa_axum::{router::OpenApiRouter, routes};
use web::{
    error::{ApiError, ApiResult},
    finish, openapi as doc, AppState, CurrentUser,
};

/// The generated OpenAPI document served at `/api/v2/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

const SWAGGER_JS_GZ: &[u8] = include_bytes!("../assets/swagger-ui-bundle.js.gz");
const SWAGGER_CSS_GZ: &[u8] = include_bytes!("../assets/swagger-ui.css.gz");

/// The area's routes and their OpenAPI description, without state.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(welcome))
        .routes(routes!(health))
        .routes(routes!(audit_log))
        .routes(routes!(scheduler_status))
        .routes(routes!(scheduler_resync))
        .routes(routes!(openapi_json))
        .routes(routes!(docs))
        .routes(routes!(docs_asset))
}

/// The Lambda's whole application.
pub fn app(state: AppState) -> Router {
    finish(routes().split_for_parts().0, state)
}

/// Links to the health check and the documentation.
#[utoipa::path(get, path = "/", tag = "system",
    responses((status = 200, body = doc::Welcome)))]
async fn welcome() -> Json<Value> {
    Json(json!({
        "message": "Welcome to Cron Job Scheduler API v2",
        "docs": "/api/v2/docs",
        "redoc": "/api/v2/docs",
        "health": "/api/v2/health",
    }))
}

/// Health (api-contract §3.1). Schedules live in EventBridge Scheduler, which is always
/// "running". `scheduled_jobs_count` is the count of jobs that should hold a schedule as the
/// last reconciliation (every 10 minutes) found it — one GetItem, no Scheduler call; 0 before
/// the first reconciliation or when the table cannot be read (health stays cheap and up).
/// `docs_url` is `DOCS_URL`, or this API's own Swagger UI at the origin the request came to.
#[utoipa::path(get, path = "/api/v2/health", tag = "system",
    responses((status = 200, body = doc::Health)))]
async fn health(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Json<Value> {
    let scheduled = match state.store.last_reconcile().await {
        Ok(Some(r)) => serde_json::from_str::<Value>(&r.report)
            .ok()
            .and_then(|v| v["db_jobs_active"].as_u64())
            .unwrap_or(0),
        Ok(None) => 0,
        Err(e) => {
            tracing::warn!(error = %e, "health: last reconciliation not readable");
            0
        }
    };
    Json(json!({
        "status": "healthy",
        "service": "cron-job-scheduler",
        "version": state.config.app_version,
        "timestamp": fmt_ts(&now()),
        "api": "v2",
        "scheduler_running": true,
        "scheduled_jobs_count": scheduled,
        "docs_url": docs_url(state.config.docs_url.as_deref(), &headers),
    }))
}

/// `DOCS_URL` when set, else `<scheme>://<Host>/api/v2/docs` for the request (`https` unless
/// the host is loopback; API Gateway only serves HTTPS). No usable `Host`: the path alone.
fn docs_url(configured: Option<&str>, headers: &axum::http::HeaderMap) -> String {
    if let Some(url) = configured {
        return url.to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        });
    match host {
        Some(h) => {
            let local =
                h.starts_with("127.") || h.starts_with("localhost") || h.starts_with("[::1]");
            let scheme = if local { "http" } else { "https" };
            format!("{scheme}://{h}/api/v2/docs")
        }
        None => "/api/v2/docs".into(),
    }
}

/// The audit log, newest first, 50 a page (admin).
#[utoipa::path(get, path = "/api/v2/audit", tag = "audit", security(("bearer" = [])),
    params(
        ("entity_type" = Option<String>, Query, description = "job, user, category, pic_team, slack_settings, github_owners, test_run"),
        ("entity_id" = Option<String>, Query, description = "With entity_type: one entity's history"),
        ("actor_id" = Option<String>, Query, description = "One actor's entries"),
        ("from" = Option<String>, Query, description = "YYYY-MM-DD or ISO datetime, inclusive"),
        ("to" = Option<String>, Query, description = "YYYY-MM-DD (whole day) or ISO datetime, exclusive"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, body = doc::AuditPage), doc::Errors))]
async fn audit_log(
    State(state): State<AppState>,
    user: CurrentUser,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    user.require_admin()?;
    Ok(Json(web::services::audit::list(&state, &q).await?))
}

/// Schedules in the group, jobs awaiting repair, the last reconciliation (admin).
#[utoipa::path(get, path = "/api/v2/scheduler/status", tag = "scheduler", security(("bearer" = [])),
    responses((status = 200, body = doc::SchedulerStatus), doc::Errors))]
async fn scheduler_status(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<scheduler::SchedulerStatus>> {
    user.require_admin()?;
    Ok(Json(scheduler::status(&state).await?))
}

/// Reconciles the table with the schedules now (admin).
#[utoipa::path(post, path = "/api/v2/scheduler/resync", tag = "scheduler", security(("bearer" = [])),
    responses((status = 200, body = doc::ResyncResponse), doc::Errors))]
async fn scheduler_resync(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<scheduler::Resync>> {
    user.require_admin()?;
    Ok(Json(scheduler::resync(&state).await?))
}

/// This document (OpenAPI 3.1).
#[utoipa::path(get, path = "/api/v2/openapi.json", tag = "system",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_json() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI_JSON,
    )
        .into_response()
}

const DOCS_HTML: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Cron Job Scheduler API v2</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({ url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true });
</script>
</body>
</html>
"##;

/// Swagger UI for this document (assets served by this function, no CDN).
#[utoipa::path(get, path = "/api/v2/docs", tag = "system",
    responses((status = 200, description = "HTML page", content_type = "text/html")))]
async fn docs() -> Html<&'static str> {
    Html(DOCS_HTML)
}

/// Swagger UI assets (`swagger-ui-bundle.js`, `swagger-ui.css`), gzip-encoded.
#[utoipa::path(get, path = "/api/v2/docs/{file}", tag = "system",
    params(("file" = String, Path, description = "swagger-ui-bundle.js | swagger-ui.css")),
    responses((status = 200, description = "Asset"), doc::Errors))]
async fn docs_asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (body, kind) = match file.as_str() {
        "swagger-ui-bundle.js" => (SWAGGER_JS_GZ, "application/javascript"),
        "swagger-ui.css" => (SWAGGER_CSS_GZ, "text/css"),
        _ => {
            return Err(
                ApiError::new(StatusCode::NOT_FOUND, "Not Found", "Not Found")
                    .with("detail", "Not Found"),
            )
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (header::CONTENT_ENCODING, HeaderValue::from_static("gzip")),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        body,
    )
        .into_response())
}
