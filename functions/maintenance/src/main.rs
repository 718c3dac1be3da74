//! Lambda entry point: build the state once at init, reconcile on every invocation.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let state = &shared::web::AppState::from_env().await;
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| async move {
        maintenance_fn::handle(state).await.map_err(Error::from)
    }))
    .await
}
