//! Lambda entry point: build the state once at init, then serve the area's router.

// Lambda sends one invocation at a time: a single-threaded runtime starts no worker threads
// and hands no work between threads (less init time and CPU per request).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let state = shared::state::AppState::from_env_http("ExecutionsFunction").await?;
    lambda_http::run(executions_fn::app(state)).await
}
