//! Login, logout, refresh, register (api-contract §3.2) with the policy's fixes: validation
//! failures are refusals (400 in the adapter, never Unprocessable Entity), tokens always
//! carry `exp` and a `type`; failed logins are throttled without letting strangers lock an
//! owner out. Bodies are read once ([`Credentials`], [`Registration`]); results are bodies;
//! [`AuthError`] is mapped by the adapter.

use super::Caller;
use crate::{
    auth::{hash_password, verify_password, TokenError, TokenKind},
    domain::{body::bool_field, draft::FieldError, now, EmailAddress, Role},
    state::AppState,
    store::{SessionClaims, StoreError, User},
};
use serde::Serialize;
use serde_json::{Map, Value};

/// Why an auth use case refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// 400 `Validation error` with this sentence.
    #[error("{0}")]
    Invalid(String),
    /// 400 with the contract's `error` and `message` (a role, a boolean).
    #[error("{}", .0.message)]
    Field(FieldError),
    /// 401 with this `detail`.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 429 `Too many login attempts`, with `Retry-After`.
    #[error("Too many failed logins. Try again in {retry_after_secs} seconds.")]
    Throttled { retry_after_secs: u64 },
    /// 409 with this `detail` (a taken username or e-mail).
    #[error("{0}")]
    Taken(&'static str),
    /// A token could not be issued.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The table could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Result<T> = std::result::Result<T, AuthError>;

fn invalid(message: impl Into<String>) -> AuthError {
    AuthError::Invalid(message.into())
}

/// An optional string field: absent or null → `None`; a non-string is refused.
fn opt_string(v: Option<&Value>, field: &str) -> Result<Option<String>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("\"{field}\" must be a string."))),
    }
}

fn required_password(v: Option<&Value>, allow_blank: bool) -> Result<String> {
    let p = opt_string(v, "password")?.ok_or_else(|| invalid("\"password\" is required."))?;
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
async fn refuse_if_throttled(state: &AppState, keys: &ThrottleKeys) -> Result<()> {
    let limits = state.config.login_throttle;
    let now = chrono::Utc::now().timestamp();
    let all = keys.all();
    let failures = state.store.login_failures(&all).await?;
    let live = |f: &crate::store::Failures| f.window_start + limits.window_secs > now;
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
        return Err(AuthError::Throttled {
            retry_after_secs: secs.max(1) as u64,
        });
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

/// A login body (`POST /auth/login`, or the OAuth2 form read into the same fields), read
/// once; the rules apply in the contract's order in [`login`].
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    pub username: Option<Value>,
    pub email: Option<Value>,
    pub password: Option<Value>,
}

impl Credentials {
    /// Reads a JSON object.
    pub fn from_json(m: &Map<String, Value>) -> Self {
        Self {
            username: m.get("username").cloned(),
            email: m.get("email").cloned(),
            password: m.get("password").cloned(),
        }
    }
}

/// `{"success","message","user","access_token","refresh_token","token_type"}`.
#[derive(Debug, Serialize)]
pub struct LoggedIn {
    pub success: bool,
    pub message: &'static str,
    pub user: Value,
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
}

/// POST /auth/login: tokens and the user; [`AuthError::Unauthorized`] `Invalid
/// email/username or password` (unknown account, wrong password — an inactive account's
/// included); `Account is inactive…` only with the right password;
/// [`AuthError::Throttled`] after too many failures for this (account, source) pair or
/// this source within the window (never a permanent lockout: the window ends); an account
/// failing from many sources is only slowed down.
pub async fn login(state: &AppState, c: Credentials, source: Option<&str>) -> Result<LoggedIn> {
    let password = required_password(c.password.as_ref(), false)?;
    let username = opt_string(c.username.as_ref(), "username")?;
    if let Some(u) = &username {
        let n = u.chars().count();
        if !(3..=80).contains(&n) {
            return Err(invalid("Username must be 3 to 80 characters long"));
        }
    }
    let email = opt_string(c.email.as_ref(), "email")?;
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
        return Err(AuthError::Unauthorized(
            "Invalid email/username or password",
        ));
    };
    if !verify_password(&password, &user.password_hash) {
        count_failure(state, &keys).await;
        return Err(AuthError::Unauthorized(
            "Invalid email/username or password",
        ));
    }
    if !user.is_active {
        return Err(AuthError::Unauthorized(
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
    Ok(LoggedIn {
        success: true,
        message: "Login successful",
        user: user.to_json(),
        access_token: state.tokens.issue(TokenKind::Access, &user, &sid)?,
        refresh_token: state.tokens.issue(TokenKind::Refresh, &user, &sid)?,
        token_type: "bearer",
    })
}

/// `{"success","message","detail"}` after a logout.
#[derive(Debug, Serialize)]
pub struct LoggedOut {
    pub success: bool,
    pub message: &'static str,
    pub detail: &'static str,
}

/// POST /auth/logout: ends the caller's session — the presented access token, its refresh
/// token and every access token minted from it are refused from now on. A `refresh_token`
/// (optional) is revoked too, by its own id, when it is the caller's.
pub async fn logout(
    state: &AppState,
    caller: &User,
    session: &SessionClaims,
    refresh_token: Option<&str>,
) -> Result<LoggedOut> {
    let now = chrono::Utc::now().timestamp();
    if !session.sid.is_empty() {
        state
            .store
            .revoke_session(caller, &session.sid, now + state.tokens.refresh_ttl(), now)
            .await?;
    }
    if let Some(t) = refresh_token {
        if let Ok(v) = state.tokens.verify_claims(t, TokenKind::Refresh) {
            if let (true, Some(jti)) = (v.sub == caller.id, v.jti.as_deref()) {
                state.store.revoke_token(jti, v.exp).await?;
            }
        }
    }
    Ok(LoggedOut {
        success: true,
        message: "Logout successful",
        detail: "Please discard your tokens on the client side",
    })
}

/// `{"access_token","refresh_token": null,"token_type","expires_in"}`.
#[derive(Debug, Serialize)]
pub struct Refreshed {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub token_type: &'static str,
    /// Seconds.
    pub expires_in: i64,
}

/// POST /auth/refresh for an authenticated refresh-token holder: a new access token in the
/// same session (`sid`). The refresh token stays valid and reusable (policy §8) until its
/// session ends.
pub fn refresh(state: &AppState, user: &User, sid: &str) -> Result<Refreshed> {
    Ok(Refreshed {
        access_token: state.tokens.issue(TokenKind::Access, user, sid)?,
        refresh_token: None,
        token_type: "bearer",
        expires_in: state.config.access_ttl_secs,
    })
}

/// A `POST /auth/register` body, read once; the rules apply in order in [`register`].
#[derive(Clone, Debug, Default)]
pub struct Registration {
    pub username: Option<Value>,
    pub email: Option<Value>,
    pub password: Option<Value>,
    pub role: Option<Value>,
    pub is_active: Option<Value>,
}

impl Registration {
    /// Reads a JSON object.
    pub fn from_json(m: &Map<String, Value>) -> Self {
        Self {
            username: m.get("username").cloned(),
            email: m.get("email").cloned(),
            password: m.get("password").cloned(),
            role: m.get("role").cloned(),
            is_active: m.get("is_active").cloned(),
        }
    }
}

/// `{"success","message","user"}`.
#[derive(Debug, Serialize)]
pub struct Registered {
    pub success: bool,
    pub message: &'static str,
    pub user: Value,
}

/// POST /auth/register (admin, after the gate); [`AuthError::Taken`] on a taken username or
/// e-mail. Audited.
pub async fn register(state: &AppState, caller: Caller<'_>, r: Registration) -> Result<Registered> {
    let username = opt_string(r.username.as_ref(), "username")?
        .ok_or_else(|| invalid("\"username\" is required."))?;
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
    let email =
        opt_string(r.email.as_ref(), "email")?.ok_or_else(|| invalid("\"email\" is required."))?;
    let email = EmailAddress::parse(&email)
        .ok_or_else(|| invalid("\"email\" is not a valid e-mail address."))?
        .as_str()
        .to_lowercase();
    let password = required_password(r.password.as_ref(), true)?;
    let bad_role = || {
        AuthError::Field(FieldError::new(
            "Invalid role",
            "Role must be one of: admin, user, viewer",
        ))
    };
    let role = match &r.role {
        None | Some(Value::Null) => Role::Viewer,
        Some(Value::String(s)) => Role::parse(s).ok_or_else(bad_role)?,
        Some(_) => return Err(bad_role()),
    };
    let is_active = match &r.is_active {
        None => true,
        Some(v) => bool_field(v, "is_active").map_err(AuthError::Field)?,
    };
    let (u_taken, e_taken) = state
        .store
        .login_taken(Some(&username), Some(&email))
        .await?;
    if u_taken {
        return Err(AuthError::Taken("Username already exists"));
    }
    if e_taken {
        return Err(AuthError::Taken("Email already exists"));
    }
    let user = User {
        is_active,
        ..User::new((username, email), hash_password(&password), role, now())
    };
    let audit = caller.audit("create", "user", &user.id, None, Some(user.to_json()));
    match state.store.create_user(&user, Some(&audit)).await {
        Ok(()) => Ok(Registered {
            success: true,
            message: "User created successfully",
            user: user.to_json(),
        }),
        Err(StoreError::Conflict) => {
            let (u, _) = state.store.login_taken(Some(&user.username), None).await?;
            Err(AuthError::Taken(if u {
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
) -> std::result::Result<bool, StoreError> {
    if state.store.login_taken(Some(username), None).await?.0 {
        return Ok(false);
    }
    let user = User::new(
        (username.into(), email.into()),
        hash_password(password),
        Role::Admin,
        now(),
    );
    match state.store.create_user(&user, None).await {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict) => Ok(false),
        Err(e) => Err(e),
    }
}
