//! Jobs area (api-contract §3.4-§3.6, §4): list, read, create, update, delete, execute,
//! bulk upload, cron validation and preview. Routing and request mapping only; the rules are
//! in `shared::services::jobs` and `shared::services::bulk`.

use axum::{
    body::Bytes,
    extract::{FromRequest, Multipart, Path, Request, State},
    http::{HeaderMap, StatusCode},
    routing::{get, post},
    Json, Router,
};
use serde_json::{Map, Value};
use shared::{
    error::{ApiError, ApiResult},
    services::{bulk, jobs as svc},
    web::{finish, json_object, AppState, CurrentUser},
};

/// The area's routes, without state.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v2/jobs", get(list).post(create))
        // `GET` on the action paths reads them as job ids, as the reference's routing does
        // (404 "Job not found"), instead of a 405.
        .route(
            "/api/v2/jobs/validate-cron",
            post(validate_cron).get(read_action_path),
        )
        .route(
            "/api/v2/jobs/cron-preview",
            post(cron_preview).get(read_action_path),
        )
        .route(
            "/api/v2/jobs/bulk-upload",
            post(bulk_upload).get(read_action_path),
        )
        .route("/api/v2/jobs/{id}", get(read).put(update).delete(delete))
        .route("/api/v2/jobs/{id}/execute", post(execute))
}

/// The Lambda's whole application.
pub fn app(state: AppState) -> Router {
    finish(routes(), state)
}

type Reply = ApiResult<(StatusCode, Json<Value>)>;

async fn list(State(state): State<AppState>, _user: CurrentUser) -> ApiResult<Json<Value>> {
    Ok(Json(svc::list(&state).await?))
}

async fn read(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(svc::get(&state, &id).await?))
}

async fn read_action_path(
    State(state): State<AppState>,
    _user: CurrentUser,
    uri: axum::http::Uri,
) -> ApiResult<Json<Value>> {
    let id = uri.path().rsplit('/').next().unwrap_or_default();
    Ok(Json(svc::get(&state, id).await?))
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    user.require_writer()?;
    let body = json_object(&headers, &body)?;
    let (status, out) = svc::create(&state, &user, body).await?;
    Ok((status, Json(out)))
}

async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    user.require_writer()?;
    let job = svc::load_owned(&state, &user, &id, "update").await?;
    let body = json_object(&headers, &body)?;
    Ok(Json(svc::update(&state, &user, job, body).await?))
}

async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    user.require_writer()?;
    let job = svc::load_owned(&state, &user, &id, "delete").await?;
    Ok(Json(svc::delete(&state, &user, job).await?))
}

async fn execute(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    user.require_writer()?;
    let job = svc::load_owned(&state, &user, &id, "execute").await?;
    svc::refuse_if_expired(&state, &job).await?;
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        json_object(&headers, &body)?
    };
    Ok(Json(svc::execute(&state, job, body).await?))
}

async fn validate_cron(
    _user: CurrentUser,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    Ok(Json(svc::validate_cron(&json_object(&headers, &body)?)?))
}

async fn cron_preview(
    State(state): State<AppState>,
    _user: CurrentUser,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    Ok(Json(svc::cron_preview(
        &state,
        &json_object(&headers, &body)?,
    )?))
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

async fn bulk_upload(State(state): State<AppState>, user: CurrentUser, req: Request) -> Reply {
    user.require_writer()?;
    let upload = read_upload(&state, req).await?;
    let (status, out) = bulk::upload(&state, &user, upload).await?;
    Ok((status, Json(out)))
}
