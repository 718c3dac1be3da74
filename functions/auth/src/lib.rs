//! Auth and users area: `POST /auth/login`, `POST /auth/refresh`, `GET /auth/me`,
//! `GET /auth/verify`, `POST /auth/logout`, `POST /auth/register` (api-contract §3.2).

use axum::{
    body::Bytes,
    http::HeaderMap,
    routing::{get, post},
    Json, Router,
};
use serde_json::{json, Value};
use shared::{
    auth::TokenKind,
    error::ApiResult,
    services::auth as svc,
    web::{authenticate, expect_object, finish, parse_json, AppState, CurrentUser},
};

/// The area's routes, without state (merged by the local stack).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v2/auth/login", post(login))
        .route("/api/v2/auth/refresh", post(refresh))
        .route("/api/v2/auth/me", get(me))
        .route("/api/v2/auth/verify", get(verify))
        .route("/api/v2/auth/logout", post(logout))
        .route("/api/v2/auth/register", post(register))
}

/// The Lambda's whole application: routes, fallbacks, CORS, state.
pub fn app(state: AppState) -> Router {
    finish(routes(), state)
}

async fn login(
    axum::extract::State(state): axum::extract::State<AppState>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body = expect_object(parse_json(&body)?)?;
    Ok(Json(svc::login(&state, body).await?))
}

async fn refresh(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let user = authenticate(&state, &headers, TokenKind::Refresh).await?;
    Ok(Json(svc::refresh(&state, &user)?))
}

async fn me(user: CurrentUser) -> Json<Value> {
    Json(user.0.to_json())
}

async fn verify(user: CurrentUser) -> Json<Value> {
    Json(json!({
        "valid": true,
        "user_id": user.0.id,
        "username": user.0.username,
        "role": user.0.role.as_str(),
        "message": "Token is valid",
    }))
}

async fn logout(_user: CurrentUser) -> Json<Value> {
    Json(json!({
        "success": true,
        "message": "Logout successful",
        "detail": "Please discard your tokens on the client side",
    }))
}

async fn register(
    axum::extract::State(state): axum::extract::State<AppState>,
    user: CurrentUser,
    body: Bytes,
) -> ApiResult<(axum::http::StatusCode, Json<Value>)> {
    user.require_admin()?;
    let body = expect_object(parse_json(&body)?)?;
    let (status, out) = svc::register(&state, body).await?;
    Ok((status, Json(out)))
}
