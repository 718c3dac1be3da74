//! Black-box harness: each test gets its own table and schedule group in the shared
//! emulators (DynamoDB Local, moto), the real application on a random loopback port, and a
//! local HTTP fake standing in for GitHub's API.
//!
//! The emulators are found through the standard `AWS_ENDPOINT_URL` and
//! `AWS_ENDPOINT_URL_DYNAMODB` variables (`make test` sets them).

#![allow(dead_code)]

use reqwest::{Client, Response};
use serde_json::{json, Value};
use shared::state::AppState;
use shared::{config::Config, engine::Timeouts};
use std::{path::PathBuf, time::Duration};
use wiremock::MockServer;

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub http: Client,
    pub github: MockServer,
    pub admin_token: String,
    pub scheduler: aws_sdk_scheduler::Client,
    /// The executor's and the maintenance function's own states (their AWS calls are
    /// recorded under their names and held against their policies, `make check-iam`).
    pub executor: AppState,
    pub maintenance: AppState,
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The GitHub owner allowlist every test app starts with.
pub const TEST_GITHUB_OWNERS: &[&str] = &["Pay-Baymax", "o", "acme", "other", "Octo"];

/// Short limits so timeout tests take a second, not ten.
pub const FAST: Timeouts = Timeouts {
    per_call: Duration::from_millis(800),
    total: Duration::from_secs(5),
};

pub async fn test_config(github: &MockServer) -> Config {
    let mut config = Config::from_env();
    let id = uuid::Uuid::new_v4().simple().to_string();
    config.table_name = format!("t-{id}");
    config.schedule_group = format!("g-{}", &id[..20]);
    config.github_api_base = github.uri();
    config.github_token = Some(shared::config::Secret::new("test-token"));
    config.allow_private_targets = true;
    config.default_github_owner = "Pay-Baymax".into();
    config.mail_from = Some("cron@example.com".into());
    // Tests call costly endpoints back to back; the limits' own test sets 1.
    config.rate_limit_scale = 100;
    config
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_on(shared::config::sdk_config().await, tweak).await
}

/// [`spawn_app_with`] on a given SDK configuration (retries, endpoints).
pub async fn spawn_app_on(sdk: aws_config::SdkConfig, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let github = MockServer::start().await;
    let mut config = test_config(&github).await;
    tweak(&mut config);
    let scheduler = aws_sdk_scheduler::Client::new(&sdk);
    let mut state = AppState::new(
        config,
        aws_sdk_dynamodb::Client::new(&sdk),
        scheduler.clone(),
        aws_sdk_sesv2::Client::new(&sdk),
    );
    state.engine = state.engine.clone().with_timeouts(FAST, FAST);
    infra::provision(&state, &repo_root().join("template.yaml"))
        .await
        .expect("provision");
    web::services::auth::ensure_admin(&state, "admin", "admin@example.com", "admin123")
        .await
        .expect("admin");
    // The GitHub owners the tests aim at (the allowlist's own test replaces this list).
    state
        .store
        .put_github_owners(
            &shared::store::GithubOwners {
                owners: TEST_GITHUB_OWNERS.iter().map(|o| o.to_string()).collect(),
                updated_at: shared::domain::now(),
                updated_by: None,
            },
            &shared::store::audit::AuditEntry::new(
                None,
                "test harness",
                "update",
                "github_owners",
                "allowlist",
                None,
                Some(serde_json::json!({"owners": TEST_GITHUB_OWNERS})),
            ),
        )
        .await
        .expect("github owners");
    let base = serve(state.clone()).await;
    let http = Client::new();
    let mut t = TestApp {
        base,
        executor: state.for_function("ExecutorFunction"),
        maintenance: state.for_function("MaintenanceFunction"),
        state,
        http,
        github,
        admin_token: String::new(),
        scheduler,
    };
    t.admin_token = t.login("admin", "admin123").await;
    t
}

/// Serves the merged router for `state` on a random loopback port; returns the `/api/v2` base.
pub async fn serve(state: AppState) -> String {
    serve_router(infra::router(state)).await
}

/// Serves `app` on a random loopback port; returns the `/api/v2` base.
pub async fn serve_router(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v2", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap()
    });
    base
}

impl TestApp {
    /// The state as deployed unit `function` sees it (`cronctl`, `SystemFunction`, …): its
    /// AWS calls are recorded under that name for `make check-iam`.
    pub fn as_fn(&self, function: &str) -> AppState {
        self.state.for_function(function)
    }

    /// `POST /jobs/bulk-upload` of `csv` (file `jobs.csv`) as `token`.
    pub async fn upload_csv(&self, token: &str, csv: Vec<u8>) -> Response {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(csv).file_name("jobs.csv"),
        );
        self.http
            .post(self.url("/jobs/bulk-upload"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let r = self
            .post_json(
                "/auth/login",
                None,
                json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(r.status(), 200, "login {username}");
        r.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        let mut r = self.http.post(self.url(path)).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.unwrap()
    }

    pub async fn put_json(&self, path: &str, token: &str, body: Value) -> Response {
        self.http
            .put(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Registers a user with `role` (password `password1`) and returns `(id, access token)`.
    pub async fn user(&self, username: &str, role: &str) -> (String, String) {
        let r = self
            .post_json(
                "/auth/register",
                Some(&self.admin_token),
                json!({"username": username, "email": format!("{username}@example.com"), "password": "password1", "role": role}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let id = r.json::<Value>().await.unwrap()["user"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        (id, self.login(username, "password1").await)
    }

    pub async fn team(&self, name: &str) {
        let r = self
            .post_json(
                "/pic-teams",
                Some(&self.admin_token),
                json!({"name": name, "slack_handle": format!("@{name}")}),
            )
            .await;
        assert_eq!(r.status(), 201, "team {name}");
    }

    /// Creates one webhook job per name as `token` (to `https://example.com/h`); their ids.
    pub async fn webhook_jobs(&self, token: &str, names: &[&str]) -> Vec<String> {
        let mut ids = Vec::new();
        for name in names {
            let job = self
                .job(token, webhook_job(name, "https://example.com/h"))
                .await;
            ids.push(job["id"].as_str().unwrap().to_string());
        }
        ids
    }

    /// Creates a job as `token` and returns its JSON.
    pub async fn job(&self, token: &str, body: Value) -> Value {
        let r = self.post_json("/jobs", Some(token), body).await;
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 201, "{v}");
        v["job"].clone()
    }

    /// The stored schedule of a job, if any.
    pub async fn schedule(&self, job_id: &str) -> Option<shared::schedules::StoredSchedule> {
        self.state.schedules.get(job_id).await.unwrap()
    }

    /// Moves a job's end date into the past directly in the table (the API refuses that).
    pub async fn expire_job(&self, job_id: &str, end: chrono::NaiveDate) {
        let previous = self.state.store.get_job(job_id).await.unwrap().unwrap();
        let mut aged = previous.clone();
        aged.end_date = Some(end);
        aged.updated_at = shared::domain::now();
        self.state
            .store
            .update_job(&previous, &aged, "test", &[], None)
            .await
            .unwrap();
    }

    pub async fn schedule_names(&self) -> Vec<String> {
        self.state.schedules.list_names().await.unwrap()
    }
}

/// Makes outbox task `id` due again now, as if its lease or backoff had run out (due time and
/// its index key moved to the epoch).
pub async fn make_outbox_task_due(store: &shared::store::Store, id: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key("PK", AttributeValue::S(format!("OUTBOX#{id}")))
        .key("SK", AttributeValue::S("OUTBOX".into()))
        .update_expression("SET due_at = :past, GSI2SK = :key")
        .expression_attribute_values(":past", AttributeValue::N("1".into()))
        .expression_attribute_values(":key", AttributeValue::S(format!("0000000001#{id}")))
        .send()
        .await
        .unwrap();
}

/// An `info` notification for `user_id` titled `title`, created at `created_at`, read at
/// `read_at` (unread when `None`), with a fresh id: for `Store::import_notification`.
pub fn notification(
    user_id: &str,
    title: &str,
    created_at: chrono::DateTime<chrono::Utc>,
    read_at: Option<chrono::DateTime<chrono::Utc>>,
) -> shared::store::Notification {
    shared::store::Notification {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user_id.into(),
        title: title.into(),
        message: "m".into(),
        kind: shared::domain::Level::Info,
        related_job_id: None,
        related_execution_id: None,
        is_read: read_at.is_some(),
        read_at,
        created_at,
    }
}

/// A valid webhook job body aimed at `url`.
pub fn webhook_job(name: &str, url: &str) -> Value {
    json!({
        "name": name,
        "cron_expression": "0 9 * * 1",
        "end_date": "2099-12-31",
        "pic_team": "PAM",
        "target_url": url,
        "metadata": {"k": "v"},
    })
}

/// Reads a response as `(status, json)`.
pub async fn read(r: Response) -> (u16, Value) {
    let s = r.status().as_u16();
    let v = r.json().await.unwrap_or(Value::Null);
    (s, v)
}

/// The minute of the first call, once per test process: fire times relative to it stay
/// equal within a test and inside every job's catch-up window (issue 23).
static BASE_MINUTE: std::sync::OnceLock<chrono::DateTime<chrono::Utc>> = std::sync::OnceLock::new();

/// A fire time `minutes` before [`BASE_MINUTE`].
pub fn fire_at(minutes: i64) -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound, TimeDelta};
    let base = *BASE_MINUTE.get_or_init(|| {
        chrono::Utc::now()
            .duration_trunc(TimeDelta::minutes(1))
            .expect("a minute")
    });
    base - TimeDelta::minutes(minutes)
}

/// [`fire_at`] as RFC 3339 UTC (`YYYY-MM-DDTHH:MM:SSZ`), as EventBridge delivers it.
pub fn fire(minutes: i64) -> String {
    fire_at(minutes).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// One schedule delivery to the executor's handler, as EventBridge Scheduler invokes it.
pub async fn deliver(app: &TestApp, job_id: &str, at: &str) -> Value {
    executor_fn::handle(
        &app.executor.engine,
        json!({"job_id": job_id, "scheduled_time": at}),
    )
    .await
    .unwrap()
}

/// A job's executions, newest first (`GET /jobs/{id}/executions` as the admin).
pub async fn executions(app: &TestApp, id: &str) -> Vec<Value> {
    let (_, v) = read(
        app.get(&format!("/jobs/{id}/executions"), &app.admin_token)
            .await,
    )
    .await;
    v["executions"].as_array().unwrap().clone()
}
