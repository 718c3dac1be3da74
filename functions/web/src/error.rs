//! The one error type of the HTTP API, mapped once to the contract's error body
//! (spec/README.md policy §2-§3): `{"error": "<short reason>", "message": "<human sentence>"}`
//! plus optional extra keys (`missing_fields`, per-row CSV `errors`, `detail`).
//!
//! Status rules: input problems are 400, permission problems 403, and 401 only for a missing,
//! invalid or expired token (with `WWW-Authenticate: Bearer`). Nothing maps to Unprocessable Entity. Unexpected
//! failures are logged with their cause chain and answered with a generic 500 body.

use http::StatusCode;
use serde_json::{Map, Value};

/// An error answer: status, `error`, `message` and extra body keys.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub message: String,
    pub extra: Map<String, Value>,
}

impl ApiError {
    /// Any status with `error` and `message`.
    pub fn new(status: StatusCode, error: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            error: error.into(),
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// 400 with a short reason and a sentence.
    pub fn bad_request(error: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, message)
    }

    /// 400 where the reference only has an `error` string: the sentence repeats it.
    pub fn bad_request_plain(error: impl Into<String>) -> Self {
        let e = error.into();
        Self::new(StatusCode::BAD_REQUEST, e.clone(), e)
    }

    /// 401 for token problems; the reference's `detail` text becomes `message` (and `detail`).
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::detail(StatusCode::UNAUTHORIZED, "Unauthorized", detail)
    }

    /// 403 from a role gate (`detail` style in the reference).
    pub fn forbidden_gate(detail: impl Into<String>) -> Self {
        Self::detail(StatusCode::FORBIDDEN, "Forbidden", detail)
    }

    /// 409 from the auth router (`detail` style in the reference).
    pub fn conflict_detail(detail: impl Into<String>) -> Self {
        Self::detail(StatusCode::CONFLICT, "Conflict", detail)
    }

    fn detail(status: StatusCode, error: &str, detail: impl Into<String>) -> Self {
        let d = detail.into();
        Self::new(status, error, d.clone()).with("detail", d)
    }

    /// 403 from a handler's ownership rule (`{"error": ..., "message"?: ...}` style).
    pub fn forbidden(error: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, error, message)
    }

    /// 429 with `Retry-After: secs` (and `retry_after_seconds` in the body).
    pub fn too_many(error: impl Into<String>, message: impl Into<String>, secs: u64) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, error, message).with("retry_after_seconds", secs)
    }

    /// 404 with a short reason and a sentence.
    pub fn not_found(error: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, error, message)
    }

    /// The `{"error":"Job not found","message":"No job found with ID: <id>"}` 404 (§3.4).
    pub fn job_not_found(id: &str) -> Self {
        Self::not_found("Job not found", format!("No job found with ID: {id}"))
    }

    /// 500: logs `cause` and answers a generic body that reveals nothing.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error",
            "Internal server error",
        )
    }

    /// Adds a body key.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut map = Map::new();
        map.insert("error".into(), Value::String(self.error.clone()));
        map.insert("message".into(), Value::String(self.message.clone()));
        for (k, v) in &self.extra {
            map.insert(k.clone(), v.clone());
        }
        Value::Object(map)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.error,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        use axum::http::{header, HeaderValue};
        use axum::Json;
        let mut resp = (self.status, Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self
            .extra
            .get("retry_after_seconds")
            .and_then(Value::as_u64)
        {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

impl From<shared::domain::draft::FieldError> for ApiError {
    fn from(e: shared::domain::draft::FieldError) -> Self {
        ApiError::bad_request(e.error, e.message)
    }
}

/// Seconds a client is told to wait after a 503 from an unavailable AWS dependency.
pub const RETRY_AFTER_SECS: u64 = 5;

impl ApiError {
    /// 503 with `Retry-After` for an AWS dependency that did not answer in time.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "dependency unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service unavailable",
            "A storage dependency did not answer in time. Try again shortly.",
        )
        .with("retry_after_seconds", RETRY_AFTER_SECS)
    }
}

impl From<shared::store::StoreError> for ApiError {
    fn from(e: shared::store::StoreError) -> Self {
        match e {
            e if e.is_transient() => ApiError::unavailable(e),
            e => ApiError::internal(e),
        }
    }
}

impl From<shared::auth::TokenError> for ApiError {
    fn from(e: shared::auth::TokenError) -> Self {
        match e {
            shared::auth::TokenError::Signing(_) => ApiError::internal(e),
            e => ApiError::unauthorized(e.to_string()),
        }
    }
}

impl From<shared::services::scheduler::SchedulerAdminError> for ApiError {
    fn from(e: shared::services::scheduler::SchedulerAdminError) -> Self {
        use shared::services::scheduler::SchedulerAdminError as E;
        match e {
            E::Unavailable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Scheduler unavailable",
                "EventBridge Scheduler could not be reached. Try again shortly.",
            ),
            E::Store(e) => e.into(),
        }
    }
}

impl From<shared::services::notifications::NotificationError> for ApiError {
    fn from(e: shared::services::notifications::NotificationError) -> Self {
        use shared::services::notifications::NotificationError as E;
        match e {
            E::NotFound => ApiError::not_found("Notification not found", "Notification not found"),
            E::Forbidden(text) => ApiError::forbidden(text, text),
            E::Store(e) => e.into(),
        }
    }
}

impl From<shared::services::executions::ExecutionsError> for ApiError {
    fn from(e: shared::services::executions::ExecutionsError) -> Self {
        use shared::services::executions::ExecutionsError as E;
        match e {
            E::JobNotFound(id) => ApiError::job_not_found(&id),
            E::ExecutionNotFound(message) => ApiError::not_found("Execution not found", message),
            E::Store(e) => e.into(),
        }
    }
}

impl From<shared::services::settings::SettingsError> for ApiError {
    fn from(e: shared::services::settings::SettingsError) -> Self {
        use shared::services::settings::SettingsError as E;
        match e {
            E::InvalidSettings(m) => ApiError::bad_request("Invalid settings", m),
            E::InvalidOwners(m) => ApiError::bad_request("Invalid owners", m),
            E::OwnerNotAllowed(_) => {
                ApiError::bad_request("GitHub owner not allowed", e.to_string())
            }
            E::Store(e) => e.into(),
        }
    }
}

impl From<shared::services::taxonomy::ResolveError> for ApiError {
    fn from(e: shared::services::taxonomy::ResolveError) -> Self {
        use shared::services::taxonomy::ResolveError as E;
        match e {
            E::Refused(f) => f.into(),
            E::Store(e) => e.into(),
        }
    }
}

impl From<shared::services::jobs::JobError> for ApiError {
    fn from(e: shared::services::jobs::JobError) -> Self {
        use shared::services::jobs::JobError as E;
        match e {
            E::Invalid(f) => f.into(),
            E::MissingFields(missing) => ApiError::bad_request(
                "Missing required fields",
                format!("Missing required fields: {}", missing.join(", ")),
            )
            .with("missing_fields", missing),
            E::DuplicateName { name, on_create } => {
                let suffix = if on_create {
                    " Please use a unique name."
                } else {
                    ""
                };
                ApiError::bad_request(
                    "Duplicate job name",
                    format!("A job with the name \"{name}\" already exists.{suffix}"),
                )
            }
            E::NotFound(id) => ApiError::job_not_found(&id),
            E::NotOwner(_) => ApiError::forbidden("Insufficient permissions", e.to_string()),
            E::Expired(m) => ApiError::bad_request("Job expired", m),
            E::MissingTarget(m) => ApiError::bad_request("Missing target configuration", m),
            E::SchedulerUnavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Scheduler unavailable",
                e.to_string(),
            ),
            E::BackfillUnavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Scheduler unavailable",
                e.to_string(),
            ),
            E::Conflict => ApiError::new(StatusCode::CONFLICT, "Conflict", e.to_string()),
            E::Unauthorized(detail) => ApiError::unauthorized(detail),
            E::Settings(e) => e.into(),
            E::Store(e) => e.into(),
        }
    }
}

impl From<shared::services::taxonomy::TaxonError> for ApiError {
    fn from(e: shared::services::taxonomy::TaxonError) -> Self {
        use shared::services::taxonomy::TaxonError as E;
        match e {
            E::Invalid(f) => f.into(),
            E::NotFound(m) => ApiError::not_found("Not found", m),
            E::DuplicateSlug(m) => ApiError::new(StatusCode::CONFLICT, "Duplicate slug", m),
            E::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "Conflict", m),
            E::Store(e) => e.into(),
        }
    }
}

impl From<shared::services::users::UserError> for ApiError {
    fn from(e: shared::services::users::UserError) -> Self {
        use shared::services::users::UserError as E;
        match e {
            E::Forbidden(text) => ApiError::forbidden(text, text),
            E::NotFound => ApiError::not_found("User not found", "User not found"),
            E::Invalid(f) => f.into(),
            E::Plain(text) => ApiError::bad_request_plain(text),
            E::EmailTaken => ApiError::new(
                StatusCode::CONFLICT,
                "Email already exists",
                "Email already exists",
            ),
            E::Conflict => ApiError::new(StatusCode::CONFLICT, "Conflict", e.to_string()),
            E::Store(e) => e.into(),
        }
    }
}

impl From<shared::services::auth::AuthError> for ApiError {
    fn from(e: shared::services::auth::AuthError) -> Self {
        use shared::services::auth::AuthError as E;
        match e {
            E::Invalid(m) => ApiError::bad_request("Validation error", m),
            E::Field(f) => f.into(),
            E::Unauthorized(detail) => ApiError::unauthorized(detail),
            E::Throttled { retry_after_secs } => {
                ApiError::too_many("Too many login attempts", e.to_string(), retry_after_secs)
            }
            E::Taken(detail) => ApiError::conflict_detail(detail),
            E::Token(t) => t.into(),
            E::Store(e) => e.into(),
        }
    }
}

impl From<shared::services::bulk::BulkError> for ApiError {
    fn from(e: shared::services::bulk::BulkError) -> Self {
        use shared::services::bulk::BulkError as E;
        match e {
            E::Invalid(f) => f.into(),
            E::Store(e) => e.into(),
        }
    }
}

/// A use case's result as the response body (its `Serialize` shape is the contract's).
pub fn to_body(v: impl serde::Serialize) -> ApiResult<Value> {
    serde_json::to_value(v).map_err(ApiError::internal)
}

/// Result alias for handlers and services.
pub type ApiResult<T> = Result<T, ApiError>;
