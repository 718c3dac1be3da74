//! Lambda entry point: build the engine once at init, then handle schedule deliveries.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

// Lambda sends one invocation at a time: a single-threaded runtime starts no worker threads
// and hands no work between threads (less init time and CPU per request).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let state = shared::state::AppState::from_env("ExecutorFunction").await;
    let engine = &state.engine;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // The context's deadline is epoch milliseconds: what is left of it, from now.
        let left_ms = event.context.deadline.saturating_sub(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(left_ms);
        executor_fn::handle_until(engine, event.payload, Some(deadline))
            .await
            .map_err(Error::from)
    }))
    .await
}
