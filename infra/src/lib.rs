//! The local stack: everything `make dev` runs besides the emulators, and what the black-box
//! tests start for each test.
//!
//! - [`table`]: creates the DynamoDB table from the `Table` resource of `template.yaml` (the
//!   one definition of the key schema, indexes and TTL).
//! - [`provision`]: table, schedule group, seeded categories.
//! - [`router`]: every API area's router merged on one port, wrapped exactly like each Lambda.
//! - [`trigger`]: stands in for EventBridge Scheduler, which the emulator stores but never fires.

pub mod mailbox;
pub mod table;
pub mod trigger;

use shared::web::{finish, AppState};
use utoipa::openapi::{
    security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    InfoBuilder, OpenApi,
};
use utoipa_axum::router::OpenApiRouter;

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

/// All API areas on one router (`/api/v2/...`), with the same fallbacks and CORS as each
/// Lambda. Each request runs in its own task, so a client that disconnects does not cancel
/// the work after a write (as in Lambda, where the invocation runs to its end).
pub fn router(state: AppState) -> axum::Router {
    finish(merged().split_for_parts().0, state).layer(axum::middleware::from_fn(detach))
}

async fn detach(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::spawn(next.run(req)).await {
        Ok(r) => r,
        // Unreachable in practice: `finish` already turns a handler panic into a JSON 500.
        Err(e) => axum::response::IntoResponse::into_response(shared::error::ApiError::internal(e)),
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
            shared::openapi::ErrorBody::name().into_owned(),
            shared::openapi::ErrorBody::schema(),
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
    shared::services::taxonomy::seed_categories(state).await?;
    if let Some(mailer) = state.alerts.mailer() {
        mailer
            .ensure_identity()
            .await
            .map_err(ProvisionError::Mail)?;
    }
    Ok(())
}
