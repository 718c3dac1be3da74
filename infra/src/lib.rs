//! The local stack: everything `make dev` runs besides the emulators, and what the black-box
//! tests start for each test.
//!
//! - [`table`]: creates the DynamoDB table from the `Table` resource of `template.yaml` (the
//!   one definition of the key schema, indexes and TTL).
//! - [`provision`]: table, schedule group, seeded categories.
//! - [`router`]: every API area's router merged on one port, wrapped exactly like each Lambda.
//! - [`trigger`]: stands in for EventBridge Scheduler, which the emulator stores but never fires.

pub mod front;
pub mod iam;
pub mod limits;
pub mod mailbox;
pub mod table;
pub mod trigger;

use utoipa::openapi::{
    security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    InfoBuilder, OpenApi,
};
use utoipa_axum::router::OpenApiRouter;
use web::AppState;

/// The API areas, each as its Lambda serves it: `(function name in template.yaml, routes)`.
pub fn areas() -> Vec<(&'static str, OpenApiRouter<AppState>)> {
    vec![
        ("AuthFunction", auth_fn::routes()),
        ("JobsFunction", jobs_fn::routes()),
        ("ExecutionsFunction", executions_fn::routes()),
        ("TaxonomyFunction", taxonomy_fn::routes()),
        ("NotificationsFunction", notifications_fn::routes()),
        ("SettingsFunction", settings_fn::routes()),
        ("SystemFunction", system_fn::routes()),
    ]
}

fn merged() -> OpenApiRouter<AppState> {
    areas()
        .into_iter()
        .fold(OpenApiRouter::new(), |all, (_, r)| all.merge(r))
}

/// All API areas on one router (`/api/v2/...`), as API Gateway and Lambda serve them: each
/// area with its own function's state (its SDK clients name the function,
/// [`AppState::for_function`]) and that function's template limits ([`gateway`]), then the
/// same fallbacks and CORS as each Lambda. Each request runs in its own task, so a client
/// that disconnects does not cancel the work after a write (as in Lambda, where the
/// invocation runs to its end).
pub fn router(state: AppState) -> axum::Router {
    router_with_limits(state, limits::of)
}

/// [`router`] with each function's limits from `limits_of` instead of the template (tests
/// cut requests after a second rather than thirty).
pub fn router_with_limits(
    state: AppState,
    limits_of: impl Fn(&str) -> limits::FunctionLimits,
) -> axum::Router {
    let mut all = axum::Router::new();
    for (function, routes) in areas() {
        let fn_limits = limits_of(function);
        all = all.merge(
            routes
                .split_for_parts()
                .0
                .with_state(state.for_function(function))
                .layer(axum::middleware::from_fn_with_state(fn_limits, gateway)),
        );
    }
    web::finish_stateless(all, &state.config.cors).layer(axum::middleware::from_fn(detach))
}

/// API Gateway's body as it answers its own refusals: `{"message": …}`.
fn gateway_error(status: axum::http::StatusCode, message: &str) -> axum::response::Response {
    axum::response::IntoResponse::into_response((
        status,
        axum::Json(serde_json::json!({ "message": message })),
    ))
}

/// What API Gateway and Lambda enforce around one function, locally: a request body over
/// API Gateway's 10 MB, or an event over Lambda's 6 MB (a binary body is base64-encoded into
/// the event), answers 413 `Request Entity Too Large`; a request still running at the
/// function's `Timeout` or API Gateway's 30 s is cut (the invocation is dropped, as Lambda
/// stops it) and answers 503 `Service Unavailable` as API Gateway does when the integration
/// gives no answer in time (500 `Internal Server Error` when the function's own shorter
/// `Timeout` ended it: Lambda reports the invocation failed); a response over Lambda's 6 MB
/// answers 500 as well.
pub async fn gateway(
    axum::extract::State(fn_limits): axum::extract::State<limits::FunctionLimits>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::StatusCode;
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, limits::API_GATEWAY_MAX_BODY).await else {
        return gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    };
    let textual = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/") || t.contains("json") || t.contains("urlencoded"));
    let event_bytes = if textual {
        bytes.len()
    } else {
        bytes.len().div_ceil(3) * 4
    };
    if event_bytes > limits::LAMBDA_MAX_PAYLOAD {
        return gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    }
    let req = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
    let cut = fn_limits.timeout.min(limits::API_GATEWAY_TIMEOUT);
    let Ok(resp) = tokio::time::timeout(cut, next.run(req)).await else {
        tracing::error!(after_s = cut.as_secs_f64(), "request cut at its time limit");
        return if fn_limits.timeout < limits::API_GATEWAY_TIMEOUT {
            gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        } else {
            gateway_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
        };
    };
    let (parts, body) = resp.into_parts();
    match axum::body::to_bytes(body, limits::LAMBDA_MAX_PAYLOAD).await {
        Ok(b) => axum::response::Response::from_parts(parts, axum::body::Body::from(b)),
        Err(_) => {
            tracing::error!("response over Lambda's 6 MB payload limit");
            gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

async fn detach(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::spawn(next.run(req)).await {
        Ok(r) => r,
        // Unreachable in practice: `finish` already turns a handler panic into a JSON 500.
        Err(e) => axum::response::IntoResponse::into_response(web::error::ApiError::internal(e)),
    }
}

/// The OpenAPI 3.1 document of every area, built from the routers that serve the requests.
pub fn openapi() -> OpenApi {
    let mut doc = merged().split_for_parts().1;
    doc.info = InfoBuilder::new()
        .title("Cron Job Scheduler API")
        .version("2.0.0")
        .description(Some(
            "Serverless cron-job platform (api-contract v2). Errors are always \
             {\"error\", \"message\"}; input errors are 400, never 422.",
        ))
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    // Referenced by name from every operation's error responses (`openapi::Errors`).
    {
        use utoipa::{PartialSchema, ToSchema};
        components.schemas.insert(
            web::openapi::ErrorBody::name().into_owned(),
            web::openapi::ErrorBody::schema(),
        );
    }
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    doc
}

/// [`openapi`] as the pretty JSON committed at `functions/system/openapi.json`.
pub fn openapi_json() -> String {
    let mut s = openapi().to_pretty_json().unwrap_or_default();
    s.push('\n');
    s
}

/// Errors while provisioning.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("table: {0}")]
    Table(#[from] table::TableError),
    #[error("schedule group: {0}")]
    Schedules(#[from] shared::schedules::ScheduleError),
    #[error("seed: {0}")]
    Store(#[from] shared::store::StoreError),
    #[error("e-mail sender identity: {0}")]
    Mail(String),
}

/// Creates (if missing) the table from `template`, the schedule group, the seeded
/// categories and the SES sender identity (`MAIL_FROM`). Idempotent.
pub async fn provision(state: &AppState, template: &std::path::Path) -> Result<(), ProvisionError> {
    let def = table::TableDefinition::from_template(template)?;
    def.create_if_missing(state.store.client(), state.store.table())
        .await?;
    state.schedules.ensure_group().await?;
    web::services::taxonomy::seed_categories(state).await?;
    if let Some(mailer) = state.alerts.mailer() {
        mailer
            .ensure_identity()
            .await
            .map_err(ProvisionError::Mail)?;
    }
    Ok(())
}
