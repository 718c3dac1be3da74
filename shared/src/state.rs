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
    /// `RETENTION_DAYS` against the table's record ([`AppState::from_env`]): what the store
    /// applies, and why a changed value is not applied.
    pub retention: crate::store::RetentionCheck,
    /// The SDK clients behind the store, schedules and alerts ([`AppState::for_function`]).
    sdk: SdkClients,
}

/// The three AWS clients a state is built from.
#[derive(Clone)]
struct SdkClients {
    dynamo: aws_sdk_dynamodb::Client,
    scheduler: aws_sdk_scheduler::Client,
    ses: aws_sdk_sesv2::Client,
}

impl AppState {
    /// Builds the state from configuration and SDK clients (call once, at init), applying
    /// `RETENTION_DAYS` as configured (no comparison with the table: tests and tools that
    /// settle it themselves, [`AppState::with_retention`]).
    pub fn new(
        config: Config,
        dynamo: aws_sdk_dynamodb::Client,
        scheduler: aws_sdk_scheduler::Client,
        ses: aws_sdk_sesv2::Client,
    ) -> Self {
        let check = crate::store::RetentionCheck::unchecked(config.retention_days);
        Self::with_retention(config, check, dynamo, scheduler, ses)
    }

    /// [`AppState::new`] applying a settled retention ([`AppState::settle_retention`]).
    pub fn with_retention(
        config: Config,
        retention: crate::store::RetentionCheck,
        dynamo: aws_sdk_dynamodb::Client,
        scheduler: aws_sdk_scheduler::Client,
        ses: aws_sdk_sesv2::Client,
    ) -> Self {
        let sdk = SdkClients {
            dynamo: dynamo.clone(),
            scheduler: scheduler.clone(),
            ses: ses.clone(),
        };
        let store = Store::new(dynamo, config.table_name.clone())
            .with_retention_in_effect(retention.in_effect.clone());
        let schedules = Schedules::new(scheduler, &config);
        let alerts = crate::alerts::Alerts::new(store.clone(), ses, schedules.clone(), &config);
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
            retention,
            sdk,
        }
    }

    /// Compares `RETENTION_DAYS` with the retention recorded in the table
    /// ([`Store::settle_retention`]; one GetItem, and — `record`, for the maintenance
    /// function and cronctl — one PutItem on a stack's first start). A changed value is
    /// refused — the record stays in effect — and logged as an error with the reason; an
    /// unreachable table leaves the configured value in effect (warned).
    pub async fn settle_retention(
        config: &Config,
        dynamo: &aws_sdk_dynamodb::Client,
        record: bool,
    ) -> crate::store::RetentionCheck {
        let store = Store::new(dynamo.clone(), config.table_name.clone());
        match store.settle_retention(config.retention_days, record).await {
            Ok(check) => {
                if let Some(reason) = &check.refused {
                    tracing::error!(%reason, "RETENTION_DAYS change refused");
                }
                check
            }
            Err(e) => {
                tracing::warn!(error = %e, "retention record unreadable: RETENTION_DAYS applied as configured");
                crate::store::RetentionCheck::unchecked(config.retention_days)
            }
        }
    }

    /// [`AppState::from_env`] for a function that serves HTTP: refuses to start (an error
    /// from `main`) without the secrets it needs ([`Config::check_http_secrets`]).
    pub async fn from_env_http(function: &str) -> Result<Self, String> {
        let state = Self::from_env(function).await;
        state.config.check_http_secrets()?;
        Ok(state)
    }

    /// Reads the environment and the standard AWS settings (`AWS_ENDPOINT_URL`,
    /// `AWS_ENDPOINT_URL_DYNAMODB`, region, credentials) once. `function` is the caller's
    /// logical id in `template.yaml` ([`crate::config::sdk_config_for`]).
    pub async fn from_env(function: &str) -> Self {
        let config = Config::from_env();
        let sdk = crate::config::sdk_config_for(function).await;
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        let record = function == "MaintenanceFunction";
        let retention = Self::settle_retention(&config, &dynamo, record).await;
        Self::with_retention(
            config,
            retention,
            dynamo,
            aws_sdk_scheduler::Client::new(&sdk),
            aws_sdk_sesv2::Client::new(&sdk),
        )
    }

    /// The same state as seen by another deployed unit: the same configuration and
    /// endpoints, SDK clients that name `function` as their app name
    /// ([`crate::config::sdk_config_for`]), the engine's run timeouts and the `GET /jobs`
    /// cache kept (only the jobs function reads it). The local stack serves each API area with
    /// the state of its function, so every AWS call is attributed as it would be on AWS.
    pub fn for_function(&self, function: &str) -> Self {
        let app = aws_config::AppName::new(function.to_owned()).ok();
        let mut ddb = self.sdk.dynamo.config().to_builder();
        ddb.set_app_name(app.clone());
        let mut scheduler = self.sdk.scheduler.config().to_builder();
        scheduler.set_app_name(app.clone());
        let mut ses = self.sdk.ses.config().to_builder();
        ses.set_app_name(app);
        let (ddb, scheduler, ses) = (
            aws_sdk_dynamodb::Client::from_conf(ddb.build()),
            aws_sdk_scheduler::Client::from_conf(scheduler.build()),
            aws_sdk_sesv2::Client::from_conf(ses.build()),
        );
        let mut state = Self::with_retention(
            (*self.config).clone(),
            self.retention.clone(),
            ddb,
            scheduler,
            ses,
        );
        let (scheduled, manual) = self.engine.timeouts();
        state.engine = state.engine.with_timeouts(scheduled, manual);
        state.job_list = self.job_list.clone();
        state
    }
}
