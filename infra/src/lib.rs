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

/// All API areas on one router (`/api/v2/...`), with the same fallbacks and CORS as each
/// Lambda.
pub fn router(state: AppState) -> axum::Router {
    let routes = auth_fn::routes()
        .merge(jobs_fn::routes())
        .merge(executions_fn::routes())
        .merge(taxonomy_fn::routes())
        .merge(system_fn::routes());
    finish(routes, state)
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
