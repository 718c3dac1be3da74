//! `make dev`: provisions the emulators from `template.yaml`, seeds the `general` category
//! and the local admin (`admin` / `admin123`), serves every API area on
//! `http://127.0.0.1:3000/api/v2` and runs the local schedule trigger until Ctrl-C.

use shared::state::AppState;
use std::path::PathBuf;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let state = AppState::from_env("local").await;
    let template = std::env::var("TEMPLATE_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|_| "template.yaml".into());
    infra::provision(&state, &template).await?;
    if web::services::auth::ensure_admin(&state, "admin", "admin@example.com", "admin123").await? {
        tracing::info!("seeded local admin: admin / admin123");
    }
    if web::services::taxonomy::seed_local_team(&state).await? {
        tracing::info!("seeded local PIC team: Platform (platform)");
    }
    let addr = std::env::var("LOCAL_API_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(
        "API on http://{addr}/api/v2 (table {}, schedule group {})",
        state.store.table(),
        state.schedules.group()
    );
    tokio::spawn(infra::trigger::run(state.clone()));
    let mailbox_addr =
        std::env::var("LOCAL_SLACK_ADDR").unwrap_or_else(|_| "127.0.0.1:3001".into());
    // The receiver is a convenience: a busy port is logged, never fatal for the stack.
    match tokio::net::TcpListener::bind(&mailbox_addr).await {
        Ok(mailbox) => {
            tracing::info!(
                "local Slack receiver on http://{mailbox_addr}/slack (POST to receive, GET to list); \
                 e-mail sent through SES is kept by the emulator: GET <AWS_ENDPOINT_URL>/moto-api/data.json, key \"ses\""
            );
            tokio::spawn(async move {
                let app = infra::mailbox::router(infra::mailbox::Mailbox::default());
                if let Err(e) = axum::serve(mailbox, app).await {
                    tracing::error!(error = %e, "local Slack receiver stopped");
                }
            });
        }
        Err(e) => {
            tracing::warn!(addr = %mailbox_addr, error = %e, "local Slack receiver not started")
        }
    }
    axum::serve(
        listener,
        infra::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
