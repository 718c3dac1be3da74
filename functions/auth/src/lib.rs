//! Auth and users area (api-contract §3.2-§3.3): login (JSON and OAuth2 form), refresh, me,
//! verify, logout, register; users list, read, update, delete; notification and UI
//! preferences. Routing and request mapping only; the rules are in `web::services::auth`
//! and `web::services::users`.

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{Extensions, HeaderMap, StatusCode},
    Json, Router,
};
use serde_json::{json, Value};
use shared::auth::TokenKind;
use utoipa_axum::{router::OpenApiRouter, routes};
use web::{
    authenticate,
    error::ApiResult,
    expect_object, finish, openapi as doc, parse_json,
    services::{auth as svc, users},
    AppState, CurrentUser,
};

/// The area's routes and their OpenAPI description, without state.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(login_form))
        .routes(routes!(refresh))
        .routes(routes!(me))
        .routes(routes!(verify))
        .routes(routes!(logout))
        .routes(routes!(register))
        .routes(routes!(list_users))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(get_prefs, put_prefs))
        .routes(routes!(get_ui_prefs, put_ui_prefs))
}

/// The Lambda's whole application: routes, fallbacks, CORS, state.
pub fn app(state: AppState) -> Router {
    finish(routes().split_for_parts().0, state)
}

/// Logs in with `username` or `email` and `password`.
#[utoipa::path(post, path = "/api/v2/auth/login", tag = "auth",
    request_body = doc::LoginRequest,
    responses((status = 200, body = doc::LoginResponse), (status = 429, description = "Too many failed logins; see Retry-After", body = doc::ErrorBody), doc::Errors))]
async fn login(
    State(state): State<AppState>,
    ext: Extensions,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body = expect_object(parse_json(&body)?)?;
    Ok(Json(
        svc::login(&state, body, source_ip(&ext).as_deref()).await?,
    ))
}

/// The caller's address: API Gateway's `sourceIp` in Lambda, the peer address locally.
fn source_ip(ext: &Extensions) -> Option<String> {
    if let Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) =
        ext.get::<lambda_http::request::RequestContext>()
    {
        return ctx.http.source_ip.clone();
    }
    ext.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// Logs in with an OAuth2 password form.
#[utoipa::path(post, path = "/api/v2/auth/login/form", tag = "auth",
    request_body(content = doc::LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = doc::LoginResponse), (status = 429, description = "Too many failed logins; see Retry-After", body = doc::ErrorBody), doc::Errors))]
async fn login_form(
    State(state): State<AppState>,
    ext: Extensions,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        svc::login_form(&state, &body, source_ip(&ext).as_deref()).await?,
    ))
}

/// A new access token for a refresh token (sent as the bearer token; body ignored).
#[utoipa::path(post, path = "/api/v2/auth/refresh", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = doc::RefreshResponse), doc::Errors))]
async fn refresh(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let (user, session) = authenticate(&state, &headers, TokenKind::Refresh).await?;
    Ok(Json(svc::refresh(&state, &user, &session.sid)?))
}

/// The caller.
#[utoipa::path(get, path = "/api/v2/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = doc::User), doc::Errors))]
async fn me(user: CurrentUser) -> Json<Value> {
    Json(user.0.to_json())
}

/// Checks the token.
#[utoipa::path(get, path = "/api/v2/auth/verify", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = doc::VerifyResponse), doc::Errors))]
async fn verify(user: CurrentUser) -> Json<Value> {
    Json(json!({
        "valid": true,
        "user_id": user.0.id,
        "username": user.0.username,
        "role": user.0.role.as_str(),
        "message": "Token is valid",
    }))
}

/// Logs out: ends the session of the presented token (its refresh token and every access
/// token of that login), with or without a body; a `refresh_token` in the body is revoked too.
#[utoipa::path(post, path = "/api/v2/auth/logout", tag = "auth", security(("bearer" = [])),
    request_body(content = Option<doc::LogoutRequest>, description = "Optional"),
    responses((status = 200, body = doc::LogoutResponse), doc::Errors))]
async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    Ok(Json(svc::logout(&state, &user.0, &user.1, &body).await?))
}

/// Creates a user (admin).
#[utoipa::path(post, path = "/api/v2/auth/register", tag = "auth", security(("bearer" = [])),
    request_body = doc::RegisterRequest,
    responses((status = 201, body = doc::UserCreated), doc::Errors))]
async fn register(
    State(state): State<AppState>,
    user: CurrentUser,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    user.require_admin()?;
    web::rate_limit(&state, &user.0, web::Costly::Register).await?;
    let body = expect_object(parse_json(&body)?)?;
    let (status, out) = svc::register(&state, &user, body).await?;
    Ok((status, Json(out)))
}

/// Every user (admin).
#[utoipa::path(get, path = "/api/v2/auth/users", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = doc::UserList), doc::Errors))]
async fn list_users(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<Value>> {
    user.require_admin()?;
    Ok(Json(users::list(&state).await?))
}

/// One user (self or admin).
#[utoipa::path(get, path = "/api/v2/auth/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = doc::UserEnvelope), doc::Errors))]
async fn get_user(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(users::get(&state, &user, &id).await?))
}

/// Updates e-mail and password (self or admin), role and active status (admin).
#[utoipa::path(put, path = "/api/v2/auth/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    request_body = doc::UserUpdate,
    responses((status = 200, body = doc::UserUpdated), doc::Errors))]
async fn update_user(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        users::update(&state, &user, &id, &headers, &body).await?,
    ))
}

/// Deletes a user with their notifications and preferences (admin, not oneself).
#[utoipa::path(delete, path = "/api/v2/auth/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = doc::UserDeleted), doc::Errors))]
async fn delete_user(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    user.require_admin()?;
    Ok(Json(users::delete(&state, &user, &id).await?))
}

/// Notification preferences (self or admin; created with defaults on first read).
#[utoipa::path(get, path = "/api/v2/auth/users/{id}/preferences", tag = "users",
    security(("bearer" = [])), params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = doc::NotificationPrefsEnvelope), doc::Errors))]
async fn get_prefs(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(users::get_prefs(&state, &user, &id).await?))
}

/// Saves notification preferences (self or admin).
#[utoipa::path(put, path = "/api/v2/auth/users/{id}/preferences", tag = "users",
    security(("bearer" = [])), params(("id" = String, Path, description = "User id")),
    request_body = doc::NotificationPrefsUpdate,
    responses((status = 200, body = doc::NotificationPrefsEnvelope), doc::Errors))]
async fn put_prefs(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        users::put_prefs(&state, &user, &id, &headers, &body).await?,
    ))
}

/// UI preferences (self or admin; created with defaults on first read).
#[utoipa::path(get, path = "/api/v2/auth/users/{id}/ui-preferences", tag = "users",
    security(("bearer" = [])), params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = doc::UiPrefsEnvelope), doc::Errors))]
async fn get_ui_prefs(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(users::get_ui_prefs(&state, &user, &id).await?))
}

/// Saves the jobs table's columns (self or admin).
#[utoipa::path(put, path = "/api/v2/auth/users/{id}/ui-preferences", tag = "users",
    security(("bearer" = [])), params(("id" = String, Path, description = "User id")),
    request_body = doc::UiPrefs,
    responses((status = 200, body = doc::UiPrefsEnvelope), doc::Errors))]
async fn put_ui_prefs(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        users::put_ui_prefs(&state, &user, &id, &headers, &body).await?,
    ))
}
