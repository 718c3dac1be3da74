//! Lambda entry point: build the state once at init, then serve the area's router.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let state = shared::state::AppState::from_env_http().await?;
    lambda_http::run(auth_fn::app(state)).await
}
