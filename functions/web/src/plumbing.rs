//! HTTP plumbing shared by every API function: the application state built once per Lambda,
//! the bearer-token extractor and role gates (api-contract §1.2-§1.3), the hand-parsed JSON
//! body rules (§1.8), CORS (§1.11) and the JSON 404/405/500 fallbacks.

use crate::error::{ApiError, ApiResult};
use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Router,
};
use serde_json::{Map, Value};
use shared::{auth::TokenKind, config::CorsOrigins, store::User};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

pub use shared::state::AppState;

/// The authenticated caller, with the role **stored** for them (never the token's claim).
#[derive(Clone, Debug)]
/// The caller: its user (read and checked), the session of the token it presented, and where
/// the request came from (for the audit log).
pub struct CurrentUser(pub User, pub shared::store::SessionClaims, pub RequestMeta);

/// What identifies a request in the audit log: API Gateway's trace id (or `X-Request-Id`),
/// and the source address — the right-most `X-Forwarded-For` entry (the one API Gateway
/// appends; those before it are the client's to write), or the peer address locally.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub source: Option<String>,
}

impl RequestMeta {
    fn of(parts: &Parts) -> Self {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.len() <= 256)
                .map(str::to_string)
        };
        let source = header("x-forwarded-for")
            .and_then(|v| v.rsplit(',').next().map(|s| s.trim().to_string()))
            .or_else(|| {
                parts
                    .extensions
                    .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                    .map(|c| c.0.ip().to_string())
            });
        Self {
            request_id: header("x-amzn-trace-id").or_else(|| header("x-request-id")),
            source,
        }
    }
}

impl CurrentUser {
    /// user-or-admin gate: 403 `User or admin access required`.
    pub fn require_writer(&self) -> ApiResult<()> {
        if self.0.role.can_write() {
            Ok(())
        } else {
            Err(ApiError::forbidden_gate("User or admin access required"))
        }
    }
    /// admin gate: 403 `Admin access required`.
    pub fn require_admin(&self) -> ApiResult<()> {
        if self.0.role == shared::domain::Role::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden_gate("Admin access required"))
        }
    }
    /// Whether the caller is an admin.
    pub fn is_admin(&self) -> bool {
        self.caller().is_admin()
    }

    /// The caller as the core's use cases take it.
    pub fn caller(&self) -> shared::services::Caller<'_> {
        shared::services::Caller {
            user: &self.0,
            session_id: &self.1.sid,
            request_id: self.2.request_id.as_deref(),
            source: self.2.source.as_deref(),
        }
    }
}

/// The bearer token of a request: 401 `Not authenticated` when absent or not `Bearer`.
pub fn bearer_token(headers: &HeaderMap) -> ApiResult<&str> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized("Not authenticated"))?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthorized("Not authenticated"));
    }
    Ok(token.trim())
}

/// Loads the token's user: 401 `User not found` / `User account is deactivated`.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    kind: TokenKind,
) -> ApiResult<(User, shared::store::SessionClaims)> {
    let token = bearer_token(headers)?;
    let verified = state.tokens.verify_claims(token, kind)?;
    // A refresh token can also be revoked by its own id (logout with it in the body).
    if kind == TokenKind::Refresh {
        let revoked = match &verified.jti {
            Some(jti) => {
                state
                    .store
                    .is_revoked(jti, chrono::Utc::now().timestamp())
                    .await?
            }
            None => false,
        };
        if revoked {
            return Err(ApiError::unauthorized("Token has been revoked"));
        }
    }
    Ok((load_user(state, &verified).await?, verified.session))
}

/// The check every authenticated request makes of its token's user once looked up
/// (api-contract §1.2): `None` (no such user) → 401 `User not found`; a user `is_active`
/// says is deactivated → 401 `User account is deactivated`; else the user.
pub fn require_active<U>(found: Option<U>, is_active: impl Fn(&U) -> bool) -> ApiResult<U> {
    match found {
        None => Err(ApiError::unauthorized("User not found")),
        Some(u) if !is_active(&u) => Err(ApiError::unauthorized("User account is deactivated")),
        Some(u) => Ok(u),
    }
}

/// The user a verified token names: 401 `User not found` / `User account is deactivated`,
/// and 401 `Token has been revoked` when its session ended (logout, a password change or
/// reset, a role change, a deactivation: [`User::admits`]).
async fn load_user(state: &AppState, verified: &shared::auth::Verified) -> ApiResult<User> {
    let user = state.store.get_user(&verified.sub).await?;
    let user = require_active(user, |u| u.is_active)?;
    require_session(&user, &verified.session)?;
    Ok(user)
}

/// 401 `Token has been revoked` unless `user` admits the token's session.
pub fn require_session(user: &User, session: &shared::store::SessionClaims) -> ApiResult<()> {
    if user.admits(session) {
        Ok(())
    } else {
        Err(ApiError::unauthorized("Token has been revoked"))
    }
}

/// An access token whose signature and expiry check out (401 as [`CurrentUser`] otherwise),
/// its user not looked up yet: for reads that need no user but its being active, so the lookup
/// runs beside the read ([`VerifiedAccess::read`]) rather than a round trip before it.
#[derive(Clone, Debug)]
pub struct VerifiedAccess {
    verified: shared::auth::Verified,
}

impl VerifiedAccess {
    /// The token's subject (a user id): for a read that looks the user up itself, in one
    /// call with what it reads, and answers its 401 first
    /// ([`require_active`]).
    pub fn subject(&self) -> &str {
        &self.verified.sub
    }

    /// The token's session, checked against the user once read ([`require_session`]).
    pub fn session(&self) -> &shared::store::SessionClaims {
        &self.verified.session
    }

    /// Runs `read` while the token's user is looked up; the lookup answers first: a missing or
    /// deactivated user gets the same 401 as [`CurrentUser`] whatever `read` returned (a 400
    /// included), so the order of checks is unchanged. `read` must not write anything.
    pub async fn read<T>(
        self,
        state: &AppState,
        read: impl std::future::Future<Output = ApiResult<T>>,
    ) -> ApiResult<T> {
        let (user, out) = futures::future::join(load_user(state, &self.verified), read).await;
        user?;
        out
    }
}

impl FromRequestParts<AppState> for VerifiedAccess {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers)?;
        let verified = state.tokens.verify_claims(token, TokenKind::Access)?;
        Ok(VerifiedAccess { verified })
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        authenticate(state, &parts.headers, TokenKind::Access)
            .await
            .map(|(user, session)| CurrentUser(user, session, RequestMeta::of(parts)))
    }
}

/// §1.8 Content-Type check: must contain `application/json` (case-insensitive).
pub fn require_json(headers: &HeaderMap) -> ApiResult<()> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("application/json"));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request_plain(
            "Content-Type must be application/json",
        ))
    }
}

/// §1.8 JSON parse: 400 `Invalid JSON`.
pub fn parse_json(body: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(body)
        .map_err(|_| ApiError::bad_request("Invalid JSON", "Request body is not valid JSON."))
}

/// §1.8 object check: 400 `Invalid payload` / `JSON body must be an object.`
pub fn expect_object(v: Value) -> ApiResult<Map<String, Value>> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::bad_request(
            "Invalid payload",
            "JSON body must be an object.",
        )),
    }
}

/// Content-Type, JSON and object checks in the contract's order.
pub fn json_object(headers: &HeaderMap, body: &[u8]) -> ApiResult<Map<String, Value>> {
    require_json(headers)?;
    expect_object(parse_json(body)?)
}

/// A body boolean (policy §5, [`shared::domain::body::bool_field`]); 400 otherwise.
pub fn body_bool(v: &Value, field: &str) -> ApiResult<bool> {
    Ok(shared::domain::body::bool_field(v, field)?)
}

/// An optional body string, trimmed ([`shared::domain::body::str_field`]); 400 for a type
/// other than string, number or boolean.
pub fn body_str(m: &Map<String, Value>, field: &str) -> ApiResult<Option<String>> {
    Ok(shared::domain::body::str_field(m, field)?)
}

/// A query boolean (§1.7): `true/false/1/0/yes/no/on/off/t/f/y/n`, case-insensitive.
pub fn query_bool(v: Option<&String>, field: &str, default: bool) -> ApiResult<bool> {
    match v.map(|s| s.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(s) => match s.as_str() {
            "true" | "1" | "yes" | "on" | "t" | "y" => Ok(true),
            "false" | "0" | "no" | "off" | "f" | "n" => Ok(false),
            _ => Err(ApiError::bad_request(
                "Invalid query parameter",
                format!("\"{field}\" must be a boolean."),
            )),
        },
    }
}

/// Longest `Idempotency-Key` accepted, characters.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// Runs a creating or running request at most once per `Idempotency-Key` (IETF draft "The
/// Idempotency-Key HTTP Header Field"), per caller: the first final answer (a 2xx: the
/// request took effect) is stored for 24 h and replayed to a retry with the same key and the
/// same request (header `Idempotent-Replayed: true`). The same key with a different request is
/// 400 (the draft's 422; this API never answers 422); a retry while the first is still running
/// is 409, for at most [`shared::store::IN_PROGRESS_TTL_SECS`] (a function that died
/// mid-request frees its key then). A 4xx or 5xx is not stored: a refused request wrote
/// nothing, and its cause (a role, a missing team, a duplicate name, a rate limit) may be gone
/// by the retry, which runs again. Without the header, `run` simply runs. `request` is what
/// identifies the request (method, path, body), hashed.
pub async fn idempotent<F, Fut>(
    state: &AppState,
    user: &User,
    headers: &HeaderMap,
    request: &[&[u8]],
    run: F,
) -> Response
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ApiResult<(StatusCode, Value)>>,
{
    let Some(raw) = headers.get("idempotency-key") else {
        return into_reply(run().await);
    };
    let key = match raw.to_str().map(str::trim) {
        Ok(k) if !k.is_empty() && k.chars().count() <= MAX_IDEMPOTENCY_KEY_CHARS => k.to_string(),
        _ => {
            return ApiError::bad_request(
                "Invalid Idempotency-Key",
                "Idempotency-Key must be 1-255 visible characters.",
            )
            .into_response()
        }
    };
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for part in request {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    let hash = format!("{:x}", hasher.finalize());
    let now = chrono::Utc::now().timestamp();
    match state
        .store
        .claim_idempotency_key(&user.id, &key, &hash, now)
        .await
    {
        Err(e) => ApiError::from(e).into_response(),
        Ok(Some(record)) => {
            let (stored_hash, done) = match &record {
                shared::store::IdempotencyRecord::InProgress { request_hash } => {
                    (request_hash, None)
                }
                shared::store::IdempotencyRecord::Done {
                    request_hash,
                    status,
                    body,
                } => (request_hash, Some((*status, body))),
            };
            if *stored_hash != hash {
                return ApiError::bad_request(
                    "Idempotency-Key reused",
                    "This Idempotency-Key was already used for a different request.",
                )
                .into_response();
            }
            match done {
                None => ApiError::new(
                    StatusCode::CONFLICT,
                    "Request in progress",
                    "A request with this Idempotency-Key is still being processed.",
                )
                .into_response(),
                Some((status, body)) => {
                    let mut resp = (
                        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                        [(header::CONTENT_TYPE, "application/json")],
                        body.clone(),
                    )
                        .into_response();
                    resp.headers_mut()
                        .insert("idempotent-replayed", HeaderValue::from_static("true"));
                    resp
                }
            }
        }
        Ok(None) => {
            let result = run().await;
            let (status, body) = match &result {
                Ok((s, v)) => (*s, v.clone()),
                Err(e) => (e.status, e.body()),
            };
            let stored = if !status.is_success() {
                Err(shared::store::StoreError::Dynamo(
                    "not stored: not a final answer".into(),
                ))
            } else {
                state
                    .store
                    .complete_idempotency_key(
                        &user.id,
                        &key,
                        &hash,
                        status.as_u16(),
                        &body.to_string(),
                        now,
                    )
                    .await
            };
            // Not stored (refused, failed, or too large to keep): free the key so a retry runs
            // again.
            if stored.is_err() {
                if let Err(e) = state.store.release_idempotency_key(&user.id, &key).await {
                    tracing::warn!(error = %e, "could not release an Idempotency-Key");
                }
            }
            into_reply(result)
        }
    }
}

fn into_reply(r: ApiResult<(StatusCode, Value)>) -> Response {
    match r {
        Ok((status, body)) => (status, axum::Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

fn cors_layer(cors: &CorsOrigins) -> CorsLayer {
    let base = CorsLayer::new().max_age(std::time::Duration::from_secs(600));
    match cors {
        CorsOrigins::Any => base
            .allow_origin(AllowOrigin::any())
            .allow_methods(AllowMethods::any())
            // Echo the requested headers: `*` does not cover `Authorization` (Fetch standard).
            .allow_headers(AllowHeaders::mirror_request()),
        CorsOrigins::List(list) => {
            let origins: Vec<HeaderValue> = list
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect();
            base.allow_origin(AllowOrigin::list(origins))
                .allow_credentials(true)
                .allow_methods(AllowMethods::mirror_request())
                .allow_headers(AllowHeaders::mirror_request())
        }
    }
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Not Found", "Not Found").with("detail", "Not Found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method Not Allowed",
        "Method Not Allowed",
    )
    .with("detail", "Method Not Allowed")
}

/// Gives every error answer the contract's JSON body: the framework's own rejections (a path
/// that is not UTF-8, a body over the size limit, a malformed form) answer `text/plain`; they
/// are rewritten as `{"error": <reason>, "message": <their text>}` with the same status.
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let reason = status.canonical_reason().unwrap_or("Error");
    let message = if text.is_empty() {
        reason.to_string()
    } else {
        text
    };
    let mut out = ApiError::new(status, reason, message).into_response();
    for (k, v) in parts.headers.iter() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("handler panicked").into_response()
}

/// Wraps an area's routes: JSON 404/405 fallbacks, panic → JSON 500, CORS on every response
/// (errors included) and the state. Used identically by each Lambda and the local stack.
pub fn finish(routes: Router<AppState>, state: AppState) -> Router {
    let cors = state.config.cors.clone();
    finish_stateless(routes.with_state(state), &cors)
}

/// [`finish`] for routes that already carry their state (the local stack serves each API
/// area with its own function's state, then finishes them together).
pub fn finish_stateless(routes: Router, cors: &CorsOrigins) -> Router {
    let cors = cors_layer(cors);
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response(json_errors))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .layer(cors)
}

#[cfg(test)]
#[path = "plumbing_test.rs"]
mod tests;

/// The costly actions limited per user (429 + `Retry-After` past the limit), each with its
/// own bucket ([`shared::store::Store::take_rate_token`]). Sized for people, not scripts: the
/// web client's debounced cron checks (every 350 ms while typing) stay far below theirs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Costly {
    /// `POST /jobs/{id}/execute`: 30 a minute, 10 at once.
    Execute,
    /// `POST /jobs/test-run`: 10 a minute, 5 at once.
    TestRun,
    /// `POST /jobs/bulk-upload`: 5 a minute, 3 at once.
    BulkUpload,
    /// `POST /jobs/cron-preview`: 240 a minute, 60 at once.
    CronPreview,
    /// `POST /jobs/validate-cron`: 240 a minute, 60 at once.
    ValidateCron,
    /// `POST /auth/register` (admins): 30 a minute, 10 at once.
    Register,
}

impl Costly {
    /// Its name in keys and messages.
    pub fn name(self) -> &'static str {
        match self {
            Costly::Execute => "execute",
            Costly::TestRun => "test-run",
            Costly::BulkUpload => "bulk-upload",
            Costly::CronPreview => "cron-preview",
            Costly::ValidateCron => "validate-cron",
            Costly::Register => "register",
        }
    }

    /// Its limit per user.
    pub fn limit(self) -> shared::store::RateLimit {
        let (per_minute, burst) = match self {
            Costly::Execute => (30, 10),
            Costly::TestRun => (10, 5),
            Costly::BulkUpload => (5, 3),
            Costly::CronPreview | Costly::ValidateCron => (240, 60),
            Costly::Register => (30, 10),
        };
        shared::store::RateLimit { per_minute, burst }
    }
}

/// Counts one `action` of `user` against its limit: 429 `Too many requests` with
/// `Retry-After` (whole seconds, at least 1) when the user's bucket is empty.
pub async fn rate_limit(state: &AppState, user: &User, action: Costly) -> ApiResult<()> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    match state
        .store
        .take_rate_token(
            &user.id,
            action.name(),
            action.limit().scaled(state.config.rate_limit_scale),
            now_ms,
        )
        .await?
    {
        None => Ok(()),
        Some(wait_ms) => {
            let secs = ((wait_ms + 999) / 1000).max(1);
            Err(ApiError::too_many(
                "Too many requests",
                format!(
                    "Too many {} requests. Try again in {secs} seconds.",
                    action.name()
                ),
                secs as u64,
            ))
        }
    }
}
