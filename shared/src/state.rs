//! The application state built once per Lambda (API functions, executor, maintenance): typed
//! configuration and the SDK clients behind the store, schedule sync, engine and alerts.

use crate::{auth::Tokens, config::Config, engine::Engine, schedules::Schedules, store::Store};
use std::sync::Arc;

/// Everything a handler needs; cloned per request (all fields are cheap handles).
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub schedules: Schedules,
    pub engine: Engine,
    pub tokens: Tokens,
    /// Delivers outbox tasks (notifications, e-mail, Slack).
    pub alerts: crate::alerts::Alerts,
    /// This process's cache of `GET /jobs` entries, revalidated on every request
    /// ([`crate::job_list`]).
    pub job_list: Arc<crate::job_list::JobListCache>,
}

impl AppState {
    /// Builds the state from configuration and SDK clients (call once, at init).
    pub fn new(
        config: Config,
        dynamo: aws_sdk_dynamodb::Client,
        scheduler: aws_sdk_scheduler::Client,
        ses: aws_sdk_sesv2::Client,
    ) -> Self {
        let store =
            Store::new(dynamo, config.table_name.clone()).with_retention(config.retention_days);
        let schedules = Schedules::new(scheduler, &config);
        let alerts = crate::alerts::Alerts::new(store.clone(), ses, &config);
        let engine = Engine::new(store.clone(), schedules.clone(), alerts.clone(), &config);
        let tokens = Tokens::new(
            &config.jwt_secret,
            config.access_ttl_secs,
            config.refresh_ttl_secs,
        );
        let job_list = Arc::new(crate::job_list::JobListCache::new(config.job_list_settle));
        Self {
            config: Arc::new(config),
            store,
            schedules,
            engine,
            tokens,
            alerts,
            job_list,
        }
    }

    /// [`AppState::from_env`] for a function that serves HTTP: refuses to start (an error
    /// from `main`) without the secrets it needs ([`Config::check_http_secrets`]).
    pub async fn from_env_http() -> Result<Self, String> {
        let state = Self::from_env().await;
        state.config.check_http_secrets()?;
        Ok(state)
    }

    /// Reads the environment and the standard AWS settings (`AWS_ENDPOINT_URL`,
    /// `AWS_ENDPOINT_URL_DYNAMODB`, region, credentials) once.
    pub async fn from_env() -> Self {
        let config = Config::from_env();
        let sdk = crate::config::sdk_config().await;
        Self::new(
            config,
            aws_sdk_dynamodb::Client::new(&sdk),
            aws_sdk_scheduler::Client::new(&sdk),
            aws_sdk_sesv2::Client::new(&sdk),
        )
    }
}
