//! Jobs area (api-contract §3.4-§3.6, §4): list, read, create, update, delete, execute,
//! bulk upload, cron validation and preview, test run. Routing and request mapping only; the
//! rules are in `web::services::jobs` and `web::services::bulk`. Every route is
//! registered with its OpenAPI description (`routes!`), so the two cannot drift apart.

use axum::response::{IntoResponse, Response};
use axum::{
    body::Bytes,
    extract::{FromRequest, Multipart, Path, Request, State},
    http::{HeaderMap, StatusCode},
    Json, Router,
};
use serde_json::{Map, Value};
use utoipa_axum::{router::OpenApiRouter, routes};
use web::{
    error::{ApiError, ApiResult},
    finish, idempotent, json_object, openapi as doc, rate_limit,
    services::{bulk, jobs as svc},
    AppState, Costly, CurrentUser, VerifiedAccess,
};

/// The area's routes and their OpenAPI description, without state.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs, create_job))
        // `GET` on the action paths reads them as job ids, as the reference's routing does
        // (404 "Job not found"), instead of a 405.
        .routes(routes!(validate_cron, read_validate_cron))
        .routes(routes!(cron_preview, read_cron_preview))
        .routes(routes!(bulk_upload, read_bulk_upload))
        .routes(routes!(test_run, read_test_run))
        .routes(routes!(get_job, update_job, delete_job))
        .routes(routes!(execute_job))
        .routes(routes!(backfill_job))
}

/// The Lambda's whole application.
pub fn app(state: AppState) -> Router {
    finish(routes().split_for_parts().0, state)
}

/// Every job, newest first, unpaginated.
#[utoipa::path(get, path = "/api/v2/jobs", tag = "jobs", security(("bearer" = [])),
    responses((status = 200, body = doc::JobList), doc::Errors))]
async fn list_jobs(State(state): State<AppState>, token: VerifiedAccess) -> ApiResult<Response> {
    let body = svc::list(&state, token.subject(), token.session()).await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

/// One job with `last_execution_at` and `next_execution_at`.
#[utoipa::path(get, path = "/api/v2/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = doc::JobEnvelope), doc::Errors))]
async fn get_job(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(svc::get(&state, &id).await?))
}

async fn read_action(state: AppState, uri: axum::http::Uri) -> ApiResult<Json<Value>> {
    let id = uri.path().rsplit('/').next().unwrap_or_default();
    Ok(Json(svc::get(&state, id).await?))
}

/// Not a job: the reference reads this path as a job id (404 `Job not found`).
#[utoipa::path(get, path = "/api/v2/jobs/validate-cron", tag = "jobs", security(("bearer" = [])),
    responses(doc::Errors))]
async fn read_validate_cron(
    State(state): State<AppState>,
    _user: CurrentUser,
    uri: axum::http::Uri,
) -> ApiResult<Json<Value>> {
    read_action(state, uri).await
}

/// Not a job: the reference reads this path as a job id (404 `Job not found`).
#[utoipa::path(get, path = "/api/v2/jobs/cron-preview", tag = "jobs", security(("bearer" = [])),
    responses(doc::Errors))]
async fn read_cron_preview(
    State(state): State<AppState>,
    _user: CurrentUser,
    uri: axum::http::Uri,
) -> ApiResult<Json<Value>> {
    read_action(state, uri).await
}

/// Not a job: the reference reads this path as a job id (404 `Job not found`).
#[utoipa::path(get, path = "/api/v2/jobs/bulk-upload", tag = "jobs", security(("bearer" = [])),
    responses(doc::Errors))]
async fn read_bulk_upload(
    State(state): State<AppState>,
    _user: CurrentUser,
    uri: axum::http::Uri,
) -> ApiResult<Json<Value>> {
    read_action(state, uri).await
}

/// Not a job: the reference reads this path as a job id (404 `Job not found`).
#[utoipa::path(get, path = "/api/v2/jobs/test-run", tag = "jobs", security(("bearer" = [])),
    responses(doc::Errors))]
async fn read_test_run(
    State(state): State<AppState>,
    _user: CurrentUser,
    uri: axum::http::Uri,
) -> ApiResult<Json<Value>> {
    read_action(state, uri).await
}

/// Creates a job (user or admin) and its schedule.
#[utoipa::path(post, path = "/api/v2/jobs", tag = "jobs", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a retry with the same key and request (24 h)")),
    request_body = doc::JobWrite,
    responses((status = 201, body = doc::JobWritten), doc::Errors))]
async fn create_job(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    idempotent(
        &state,
        &user.0,
        &headers,
        &[b"POST /jobs", &body],
        || async {
            user.require_writer()?;
            let body = json_object(&headers, &body)?;
            svc::create(&state, &user, body).await
        },
    )
    .await
}

/// Partial update (owner or admin); keeps the schedule in step.
#[utoipa::path(put, path = "/api/v2/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id"), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a retry with the same key and request (24 h)")),
    request_body = doc::JobWrite,
    responses((status = 200, body = doc::JobWritten), doc::Errors))]
async fn update_job(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("PUT /jobs/{id}");
    idempotent(
        &state,
        &user.0,
        &headers,
        &[path.as_bytes(), &body],
        || async {
            user.require_writer()?;
            let job = svc::load_owned(&state, &user, &id, "update").await?;
            let body = json_object(&headers, &body)?;
            Ok((StatusCode::OK, svc::update(&state, &user, job, body).await?))
        },
    )
    .await
}

/// Deletes a job (owner or admin): its schedule first, then the job and its history.
#[utoipa::path(delete, path = "/api/v2/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = doc::JobDeleted), doc::Errors))]
async fn delete_job(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    user.require_writer()?;
    let job = svc::load_owned(&state, &user, &id, "delete").await?;
    Ok(Json(svc::delete(&state, &user, job).await?))
}

/// Runs a job now with optional overrides (owner or admin); answers when the run is recorded.
#[utoipa::path(post, path = "/api/v2/jobs/{id}/execute", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id"), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a retry with the same key and request (24 h)")),
    request_body(content = doc::ExecuteRequest, description = "Optional overrides; an empty body is allowed"),
    responses((status = 200, body = doc::ExecuteResponse), doc::Errors))]
async fn execute_job(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = std::time::Instant::now();
    let path = format!("POST /jobs/{id}/execute");
    idempotent(
        &state,
        &user.0,
        &headers,
        &[path.as_bytes(), &body],
        || async {
            user.require_writer()?;
            rate_limit(&state, &user.0, Costly::Execute).await?;
            let job = svc::load_owned(&state, &user, &id, "execute").await?;
            svc::refuse_if_expired(&state, &job).await?;
            // A privileged action: recorded before the run starts (the run records itself).
            state
                .store
                .put_audit(&user.caller().audit("execute", "job", &job.id, None, None))
                .await?;
            let body = if body.iter().all(u8::is_ascii_whitespace) {
                Map::new()
            } else {
                json_object(&headers, &body)?
            };
            Ok((
                StatusCode::OK,
                svc::execute(&state, job, body, received).await?,
            ))
        },
    )
    .await
}

/// Replays the job's fire times in `[from, to)` (owner or admin; at most 100, oldest first):
/// queued at once, run by the executor, each fire time at most once however often asked.
#[utoipa::path(post, path = "/api/v2/jobs/{id}/backfill", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id")),
    request_body = doc::BackfillRequest,
    responses((status = 202, body = doc::BackfillResponse), doc::Errors))]
async fn backfill_job(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    user.require_writer()?;
    rate_limit(&state, &user.0, Costly::Execute).await?;
    let job = svc::load_owned(&state, &user, &id, "backfill").await?;
    let body = json_object(&headers, &body)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(svc::backfill(&state, &user, &job, &body).await?),
    ))
}

/// Validates a cron expression (always 200).
#[utoipa::path(post, path = "/api/v2/jobs/validate-cron", tag = "jobs", security(("bearer" = [])),
    request_body = doc::CronRequest,
    responses((status = 200, body = doc::CronValidation), doc::Errors))]
async fn validate_cron(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    rate_limit(&state, &user.0, Costly::ValidateCron).await?;
    Ok(Json(svc::validate_cron(&json_object(&headers, &body)?)?))
}

/// The next fire times of a cron expression in the scheduler zone.
#[utoipa::path(post, path = "/api/v2/jobs/cron-preview", tag = "jobs", security(("bearer" = [])),
    request_body = doc::CronRequest,
    responses((status = 200, body = doc::CronPreview), doc::Errors))]
async fn cron_preview(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    rate_limit(&state, &user.0, Costly::CronPreview).await?;
    Ok(Json(svc::cron_preview(
        &state,
        &json_object(&headers, &body)?,
    )?))
}

/// One outbound call to a webhook or GitHub; nothing is stored (user or admin).
#[utoipa::path(post, path = "/api/v2/jobs/test-run", tag = "jobs", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a retry with the same key and request (24 h)")),
    request_body = doc::TestRunRequest,
    responses((status = 200, body = doc::TestRunResponse), doc::Errors))]
async fn test_run(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    idempotent(
        &state,
        &user.0,
        &headers,
        &[b"POST /jobs/test-run", &body],
        || async {
            user.require_writer()?;
            rate_limit(&state, &user.0, Costly::TestRun).await?;
            let body = json_object(&headers, &body)?;
            Ok((StatusCode::OK, svc::test_run(&state, &user, &body).await?))
        },
    )
    .await
}

fn invalid_upload(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(
        "Invalid upload",
        format!("The multipart body could not be read: {e}"),
    )
}

/// Reads the multipart form; a non-multipart body reads as "no file".
async fn read_upload(state: &AppState, req: Request) -> ApiResult<bulk::Upload> {
    let mut upload = bulk::Upload::default();
    let Ok(mut form) = Multipart::from_request(req, state).await else {
        return Ok(upload);
    };
    while let Some(field) = form.next_field().await.map_err(invalid_upload)? {
        match field.name().unwrap_or_default() {
            "file" => {
                upload.filename = field.file_name().map(str::to_string);
                upload.file = Some(field.bytes().await.map_err(invalid_upload)?.to_vec());
            }
            "default_github_owner" => {
                upload.default_github_owner = Some(field.text().await.map_err(invalid_upload)?)
            }
            "dry_run" => {
                let v = field.text().await.map_err(invalid_upload)?;
                upload.dry_run = matches!(
                    v.trim().to_lowercase().as_str(),
                    "1" | "true" | "yes" | "y" | "on"
                );
            }
            _ => {}
        }
    }
    Ok(upload)
}

/// Creates jobs from a CSV file (create-only; per-row errors; 400 when nothing was created).
#[utoipa::path(post, path = "/api/v2/jobs/bulk-upload", tag = "jobs", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a retry with the same key and request (24 h)")),
    request_body(content = doc::BulkUploadForm, content_type = "multipart/form-data"),
    responses((status = 200, body = doc::BulkUploadResponse), doc::Errors))]
async fn bulk_upload(State(state): State<AppState>, user: CurrentUser, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    // The whole body is read once: it is hashed for Idempotency-Key and then parsed.
    let bytes = match axum::body::to_bytes(body, MAX_UPLOAD_BYTES).await {
        Ok(b) => b,
        Err(e) => return invalid_upload(e).into_response(),
    };
    let headers = parts.headers.clone();
    idempotent(
        &state,
        &user.0,
        &headers,
        &[b"POST /jobs/bulk-upload", &bytes],
        || async {
            user.require_writer()?;
            rate_limit(&state, &user.0, Costly::BulkUpload).await?;
            let req = Request::from_parts(parts, axum::body::Body::from(bytes.clone()));
            let upload = read_upload(&state, req).await?;
            bulk::upload(&state, &user, upload).await
        },
    )
    .await
}

/// Largest bulk upload body (Lambda's synchronous payload limit is 6 MB).
const MAX_UPLOAD_BYTES: usize = 6 * 1024 * 1024;
