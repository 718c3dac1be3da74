//! Settings area (api-contract §3.10): the Slack settings singleton and the GitHub owner
//! allowlist (admin). Routing only;
//! the rules are in `web::services::settings`.

use axum::{body::Bytes, extract::State, http::HeaderMap, Json, Router};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};
use web::{
    error::ApiResult, finish, json_object, openapi as doc, services::settings as svc, AppState,
    CurrentUser,
};

/// The area's routes and their OpenAPI description, without state.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_slack, put_slack))
        .routes(routes!(get_github_owners, put_github_owners))
}

/// The Lambda's whole application.
pub fn app(state: AppState) -> Router {
    finish(routes().split_for_parts().0, state)
}

/// The Slack settings (admin; created disabled on first read).
#[utoipa::path(get, path = "/api/v2/settings/slack", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = doc::SlackSettingsEnvelope), doc::Errors))]
async fn get_slack(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<Value>> {
    user.require_admin()?;
    Ok(Json(svc::get(&state).await?))
}

/// Saves the Slack settings (admin).
#[utoipa::path(put, path = "/api/v2/settings/slack", tag = "settings", security(("bearer" = [])),
    request_body = doc::SlackSettingsUpdate,
    responses((status = 200, body = doc::SlackSettingsEnvelope), doc::Errors))]
async fn put_slack(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    user.require_admin()?;
    let body = json_object(&headers, &body)?;
    Ok(Json(svc::put(&state, &user, &body).await?))
}

/// The GitHub owners the platform's token may reach (admin).
#[utoipa::path(get, path = "/api/v2/settings/github-owners", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = doc::GithubOwners), doc::Errors))]
async fn get_github_owners(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<Value>> {
    user.require_admin()?;
    Ok(Json(svc::get_github_owners(&state).await?))
}

/// Replaces the GitHub owner allowlist (admin).
#[utoipa::path(put, path = "/api/v2/settings/github-owners", tag = "settings", security(("bearer" = [])),
    request_body = doc::GithubOwnersUpdate,
    responses((status = 200, body = doc::GithubOwners), doc::Errors))]
async fn put_github_owners(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    user.require_admin()?;
    let body = json_object(&headers, &body)?;
    Ok(Json(svc::put_github_owners(&state, &user, &body).await?))
}
