//! The local stack: everything `make dev` runs besides the emulators, and what the black-box
//! tests start for each test.
//!
//! - [`table`]: creates the DynamoDB table from the `Table` resource of `template.yaml` (the
//!   one definition of the key schema, indexes and TTL).
//! - [`provision`]: table, schedule group, seeded categories.
//! - [`router`]: every API area's router merged on one port, wrapped exactly like each Lambda.
//! - [`trigger`]: stands in for EventBridge Scheduler, which the emulator stores but never fires.

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
/// Lambda.
pub fn router(state: AppState) -> axum::Router {
    finish(merged().split_for_parts().0, state)
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
}

/// Creates (if missing) the table from `template`, the schedule group, and the seeded
/// categories. Idempotent.
pub async fn provision(state: &AppState, template: &std::path::Path) -> Result<(), ProvisionError> {
    let def = table::TableDefinition::from_template(template)?;
    def.create_if_missing(state.store.client(), state.store.table())
        .await?;
    state.schedules.ensure_group().await?;
    shared::services::taxonomy::seed_categories(state).await?;
    Ok(())
}
