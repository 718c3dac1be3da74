//! Login, logout, refresh, register (api-contract §3.2): bodies (JSON, or the OAuth2
//! password form) read into the core's inputs (`shared::services::auth`), whose results are
//! the bodies.

use crate::{
    error::{to_body, ApiError, ApiResult},
    plumbing::AppState,
};
use http::StatusCode;
use serde_json::{Map, Value};
use shared::{
    services::auth::{self as core, Credentials, Registration},
    store::User,
};

pub use core::{account_delay, ensure_admin, MAX_ACCOUNT_DELAY_MS};

/// POST /auth/login: 200 with tokens and the user; 401, or 429 with `Retry-After`.
pub async fn login(
    state: &AppState,
    b: Map<String, Value>,
    source: Option<&str>,
) -> ApiResult<Value> {
    to_body(core::login(state, Credentials::from_json(&b), source).await?)
}

/// POST /auth/login/form (OAuth2 password form, `application/x-www-form-urlencoded`):
/// `username` (or an e-mail) and `password` required, `grant_type` must be `password` when
/// given; then exactly [`login`]. Form problems are 400 (the reference answered 422 or 500).
pub async fn login_form(state: &AppState, raw: &[u8], source: Option<&str>) -> ApiResult<Value> {
    let invalid = |m: String| ApiError::bad_request("Validation error", m);
    let mut fields: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        fields
            .entry(k.into_owned())
            .or_insert_with(|| v.into_owned());
    }
    if let Some(g) = fields.get("grant_type") {
        if g != "password" {
            return Err(invalid("\"grant_type\" must be \"password\".".into()));
        }
    }
    let mut take = |key: &str| {
        fields
            .remove(key)
            .map(Value::String)
            .ok_or_else(|| invalid(format!("\"{key}\" is required.")))
    };
    let credentials = Credentials {
        username: Some(take("username")?),
        password: Some(take("password")?),
        email: None,
    };
    to_body(core::login(state, credentials, source).await?)
}

/// POST /auth/logout: ends the caller's session, with or without a body (the web client
/// sends none); a `refresh_token` in a JSON body is revoked too when it is the caller's.
pub async fn logout(
    state: &AppState,
    caller: &User,
    session: &shared::store::SessionClaims,
    raw: &[u8],
) -> ApiResult<Value> {
    let token = serde_json::from_slice::<Value>(raw).ok().and_then(|v| {
        v.get("refresh_token")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    to_body(core::logout(state, caller, session, token.as_deref()).await?)
}

/// POST /auth/refresh for an authenticated refresh-token holder.
pub fn refresh(state: &AppState, user: &User, sid: &str) -> ApiResult<Value> {
    to_body(core::refresh(state, user, sid)?)
}

/// POST /auth/register (admin, after the gate): 201 `{"success","message","user"}`;
/// 409 on a taken username or e-mail.
pub async fn register(
    state: &AppState,
    caller: &crate::plumbing::CurrentUser,
    b: Map<String, Value>,
) -> ApiResult<(StatusCode, Value)> {
    let out = core::register(state, caller.caller(), Registration::from_json(&b)).await?;
    Ok((StatusCode::CREATED, to_body(out)?))
}
