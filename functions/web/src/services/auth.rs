//! Login, refresh, register (api-contract §3.2) with the policy's fixes: validation failures
//! are 400 (never Unprocessable Entity), tokens always carry `exp` and a `type`.

use crate::{
    error::{ApiError, ApiResult},
    plumbing::{body_bool, AppState},
};
use http::StatusCode;
use serde_json::{json, Map, Value};
use shared::{
    auth::{hash_password, verify_password, TokenKind},
    domain::{now, EmailAddress, Role},
    store::{StoreError, User},
};

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("Validation error", message)
}

/// An optional string field: absent or null → `None`; a non-string is a 400.
fn opt_string(body: &Map<String, Value>, field: &str) -> ApiResult<Option<String>> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("\"{field}\" must be a string."))),
    }
}

fn required_password(body: &Map<String, Value>, allow_blank: bool) -> ApiResult<String> {
    let p = opt_string(body, "password")?.ok_or_else(|| invalid("\"password\" is required."))?;
    if p.chars().count() < 6 {
        return Err(invalid("Password must be at least 6 characters long"));
    }
    if !allow_blank && p.trim().is_empty() {
        return Err(invalid("Password cannot be empty"));
    }
    Ok(p)
}

/// A hash to verify against when the user does not exist, so both paths cost the same.
const DUMMY_HASH: &str =
    "$pbkdf2-sha256$29000$lHIupTTm/D.nFEJIyTnHGA$ZZl4UjH6CU7BaJ1H40sPzovxrbEuXZUHMdXvODU2JNc";

/// Longest a login is slowed down for an account under attack from many sources, ms.
pub const MAX_ACCOUNT_DELAY_MS: u64 = 3_000;

/// Throttling keys of one login attempt (OWASP authentication cheat sheet, NIST 800-63B
/// §5.2.2): the **pair** (account, source) and the **source** block when their failures run
/// out; the **account** alone never blocks — past its ceiling it only slows logins down
/// ([`account_delay`]), so strangers cannot lock its owner out. The account is the user id
/// whatever identifier was typed (username or e-mail), or the typed identifier (lower-cased)
/// when there is no such user.
struct ThrottleKeys {
    pair: String,
    source: Option<String>,
    account: String,
}

impl ThrottleKeys {
    fn new(account: &str, source: Option<&str>) -> Self {
        let source = source.filter(|s| !s.is_empty());
        Self {
            pair: format!("PAIR#{account}#{}", source.unwrap_or("-")),
            source: source.map(|ip| format!("SOURCE#{ip}")),
            account: format!("ACCOUNT#{account}"),
        }
    }

    fn all(&self) -> Vec<String> {
        let mut keys = vec![self.pair.clone(), self.account.clone()];
        keys.extend(self.source.clone());
        keys
    }
}

/// How long a login waits when its account has failed `count` times in the window from
/// anywhere: nothing up to the ceiling `max`, then 250 ms doubling per failure, at most
/// [`MAX_ACCOUNT_DELAY_MS`].
pub fn account_delay(count: i64, max: i64) -> std::time::Duration {
    if count < max {
        return std::time::Duration::ZERO;
    }
    let doublings = (count - max).min(8) as u32;
    std::time::Duration::from_millis((250u64 << doublings).min(MAX_ACCOUNT_DELAY_MS))
}

/// 429 when this (account, source) pair or this source has used up its failed logins for
/// the window; otherwise waits out the account's progressive delay, if any.
async fn refuse_if_throttled(state: &AppState, keys: &ThrottleKeys) -> ApiResult<()> {
    let limits = state.config.login_throttle;
    let now = chrono::Utc::now().timestamp();
    let all = keys.all();
    let failures = state.store.login_failures(&all).await?;
    let live = |f: &shared::store::Failures| f.window_start + limits.window_secs > now;
    let wait = all
        .iter()
        .zip(&failures)
        .filter(|(k, f)| {
            let max = if k.starts_with("PAIR#") {
                limits.max_account_failures
            } else if k.starts_with("SOURCE#") {
                limits.max_source_failures
            } else {
                return false;
            };
            f.count >= max && live(f)
        })
        .map(|(_, f)| f.window_start + limits.window_secs - now)
        .max();
    if let Some(secs) = wait {
        return Err(ApiError::too_many(
            "Too many login attempts",
            format!("Too many failed logins. Try again in {secs} seconds."),
            secs.max(1) as u64,
        ));
    }
    let account = failures[1];
    if live(&account) {
        let delay = account_delay(account.count, limits.max_account_failures);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
    Ok(())
}

async fn count_failure(state: &AppState, keys: &ThrottleKeys) {
    let now = chrono::Utc::now().timestamp();
    let window = state.config.login_throttle.window_secs;
    for k in keys.all() {
        if let Err(e) = state.store.record_login_failure(&k, now, window).await {
            tracing::warn!(error = %e, "could not record a failed login");
        }
    }
}

/// POST /auth/login: 200 with tokens and the user; 401 `Invalid email/username or password`
/// (unknown account, wrong password — an inactive account's included); 401 `Account is
/// inactive…` only with the right password; 429 with `Retry-After` after too many failures
/// for this (account, source) pair or this source within the window (never a permanent
/// lockout: the window ends); an account failing from many sources is only slowed down.
pub async fn login(
    state: &AppState,
    body: Map<String, Value>,
    source: Option<&str>,
) -> ApiResult<Value> {
    let password = required_password(&body, false)?;
    let username = opt_string(&body, "username")?;
    if let Some(u) = &username {
        let n = u.chars().count();
        if !(3..=80).contains(&n) {
            return Err(invalid("Username must be 3 to 80 characters long"));
        }
    }
    let email = opt_string(&body, "email")?;
    if let Some(e) = &email {
        if EmailAddress::parse(e).is_none() {
            return Err(invalid("\"email\" is not a valid e-mail address."));
        }
    }
    let identifier = username
        .or(email)
        .ok_or_else(|| invalid("Either username or email must be provided"))?;
    let identifier = identifier.trim();
    let user = state.store.find_user_by_login(identifier).await?;
    let account = match &user {
        Some(u) => u.id.clone(),
        None => format!("name:{}", identifier.to_lowercase()),
    };
    let keys = ThrottleKeys::new(&account, source);
    refuse_if_throttled(state, &keys).await?;
    // One password check on every path (a dummy hash when there is no such user), and one
    // answer for an unknown account, a wrong password and an inactive account's wrong
    // password: nothing tells them apart. Only the right password learns that the account
    // is inactive.
    let Some(user) = user else {
        let _ = verify_password(&password, DUMMY_HASH);
        count_failure(state, &keys).await;
        return Err(ApiError::unauthorized("Invalid email/username or password"));
    };
    if !verify_password(&password, &user.password_hash) {
        count_failure(state, &keys).await;
        return Err(ApiError::unauthorized("Invalid email/username or password"));
    }
    if !user.is_active {
        return Err(ApiError::unauthorized(
            "Account is inactive. Contact administrator.",
        ));
    }
    for k in [&keys.pair, &keys.account] {
        if let Err(e) = state.store.clear_login_failures(k).await {
            tracing::warn!(error = %e, "could not clear failed logins");
        }
    }
    // A new session: both tokens carry its id and the user's session version.
    let sid = uuid::Uuid::new_v4().simple().to_string();
    let access = state.tokens.issue(TokenKind::Access, &user, &sid)?;
    let refresh = state.tokens.issue(TokenKind::Refresh, &user, &sid)?;
    Ok(json!({
        "success": true,
        "message": "Login successful",
        "user": user.to_json(),
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "bearer",
    }))
}

/// POST /auth/login/form (OAuth2 password form, `application/x-www-form-urlencoded`):
/// `username` (or an e-mail) and `password` required, `grant_type` must be `password` when
/// given; then exactly [`login`]. Form problems are 400 (the reference answered 422 or 500).
pub async fn login_form(state: &AppState, body: &[u8], source: Option<&str>) -> ApiResult<Value> {
    let mut fields: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        fields
            .entry(k.into_owned())
            .or_insert_with(|| v.into_owned());
    }
    if let Some(g) = fields.get("grant_type") {
        if g != "password" {
            return Err(invalid("\"grant_type\" must be \"password\"."));
        }
    }
    let mut m = Map::new();
    for key in ["username", "password"] {
        let v = fields
            .remove(key)
            .ok_or_else(|| invalid(format!("\"{key}\" is required.")))?;
        m.insert(key.into(), Value::String(v));
    }
    login(state, m, source).await
}

/// POST /auth/logout: ends the caller's session — the presented access token, its refresh
/// token and every access token minted from it answer 401 from now on — with or without a
/// body (the web client sends none). A `refresh_token` in the body (optional) is revoked too,
/// by its own id, when it is the caller's.
pub async fn logout(
    state: &AppState,
    caller: &User,
    session: &shared::store::SessionClaims,
    body: &[u8],
) -> ApiResult<Value> {
    let now = chrono::Utc::now().timestamp();
    if !session.sid.is_empty() {
        state
            .store
            .revoke_session(caller, &session.sid, now + state.tokens.refresh_ttl(), now)
            .await?;
    }
    let token = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        v.get("refresh_token")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    if let Some(t) = token {
        if let Ok(v) = state.tokens.verify_claims(&t, TokenKind::Refresh) {
            if let (true, Some(jti)) = (v.sub == caller.id, v.jti.as_deref()) {
                state.store.revoke_token(jti, v.exp).await?;
            }
        }
    }
    Ok(json!({
        "success": true,
        "message": "Logout successful",
        "detail": "Please discard your tokens on the client side",
    }))
}

/// POST /auth/refresh for an authenticated refresh-token holder: a new access token in the
/// same session (`sid`). The refresh token stays valid and reusable (policy §8) until its
/// session ends.
pub fn refresh(state: &AppState, user: &User, sid: &str) -> ApiResult<Value> {
    let access = state.tokens.issue(TokenKind::Access, user, sid)?;
    Ok(json!({
        "access_token": access,
        "refresh_token": Value::Null,
        "token_type": "bearer",
        "expires_in": state.config.access_ttl_secs,
    }))
}

/// POST /auth/register (admin, after the gate): 201 `{"success","message","user"}`;
/// 409 on a taken username or e-mail.
pub async fn register(
    state: &AppState,
    caller: &crate::plumbing::CurrentUser,
    body: Map<String, Value>,
) -> ApiResult<(StatusCode, Value)> {
    let username =
        opt_string(&body, "username")?.ok_or_else(|| invalid("\"username\" is required."))?;
    let n = username.chars().count();
    if !(3..=80).contains(&n) {
        return Err(invalid("Username must be 3 to 80 characters long"));
    }
    if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(invalid(
            "Username may contain only letters, digits, '_' and '-'",
        ));
    }
    let username = username.to_lowercase();
    let email = opt_string(&body, "email")?.ok_or_else(|| invalid("\"email\" is required."))?;
    let email = EmailAddress::parse(&email)
        .ok_or_else(|| invalid("\"email\" is not a valid e-mail address."))?
        .as_str()
        .to_lowercase();
    let password = required_password(&body, true)?;
    let role = match body.get("role") {
        None | Some(Value::Null) => Role::Viewer,
        Some(Value::String(r)) => Role::parse(r).ok_or_else(|| {
            ApiError::bad_request("Invalid role", "Role must be one of: admin, user, viewer")
        })?,
        Some(_) => {
            return Err(ApiError::bad_request(
                "Invalid role",
                "Role must be one of: admin, user, viewer",
            ))
        }
    };
    let is_active = match body.get("is_active") {
        None => true,
        Some(v) => body_bool(v, "is_active")?,
    };
    let (u_taken, e_taken) = state
        .store
        .login_taken(Some(&username), Some(&email))
        .await?;
    if u_taken {
        return Err(ApiError::conflict_detail("Username already exists"));
    }
    if e_taken {
        return Err(ApiError::conflict_detail("Email already exists"));
    }
    let t = now();
    let user = User {
        id: uuid::Uuid::new_v4().to_string(),
        username,
        email,
        password_hash: hash_password(&password),
        role,
        is_active,
        created_at: t,
        updated_at: t,
        session_version: 0,
        kept_session: None,
        revoked_sessions: Default::default(),
    };
    let audit = caller.audit("create", "user", &user.id, None, Some(user.to_json()));
    match state.store.create_user(&user, Some(&audit)).await {
        Ok(()) => Ok((
            StatusCode::CREATED,
            json!({"success": true, "message": "User created successfully", "user": user.to_json()}),
        )),
        Err(StoreError::Conflict) => {
            let (u, _) = state.store.login_taken(Some(&user.username), None).await?;
            Err(ApiError::conflict_detail(if u {
                "Username already exists"
            } else {
                "Email already exists"
            }))
        }
        Err(e) => Err(e.into()),
    }
}

/// Creates an admin with these credentials unless the username exists (local stack seed,
/// api-contract §2.10 step 3). Returns whether it was created.
pub async fn ensure_admin(
    state: &AppState,
    username: &str,
    email: &str,
    password: &str,
) -> Result<bool, StoreError> {
    if state.store.login_taken(Some(username), None).await?.0 {
        return Ok(false);
    }
    let t = now();
    let user = User {
        id: uuid::Uuid::new_v4().to_string(),
        username: username.into(),
        email: email.into(),
        password_hash: hash_password(password),
        role: Role::Admin,
        is_active: true,
        created_at: t,
        updated_at: t,
        session_version: 0,
        kept_session: None,
        revoked_sessions: Default::default(),
    };
    match state.store.create_user(&user, None).await {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict) => Ok(false),
        Err(e) => Err(e),
    }
}
