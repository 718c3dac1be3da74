//! Every function binary, run as Lambda runs it: the real executable talks to a local fake of
//! the Lambda Runtime API (`/2018-06-01/runtime/invocation/next` → event, `.../response` ←
//! result). API functions receive API Gateway HTTP API v2 events; the executor receives a
//! schedule's input.

mod common;
use axum::{
    extract::{Path, State},
    http::HeaderMap,
    response::IntoResponse,
    routing::{get, post},
    Router,
};
use common::*;
use serde_json::{json, Value};
use std::{process::Stdio, sync::Arc, time::Duration};
use tokio::sync::{mpsc, Mutex};

#[derive(Clone)]
struct Runtime {
    events: Arc<Mutex<mpsc::Receiver<Value>>>,
    results: mpsc::Sender<(String, Value)>,
}

async fn next(State(rt): State<Runtime>) -> impl IntoResponse {
    let event = rt.events.lock().await.recv().await.unwrap_or(Value::Null);
    let mut h = HeaderMap::new();
    h.insert(
        "lambda-runtime-aws-request-id",
        uuid::Uuid::new_v4().to_string().parse().unwrap(),
    );
    let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
    h.insert(
        "lambda-runtime-deadline-ms",
        deadline.to_string().parse().unwrap(),
    );
    h.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:ap-northeast-1:000000000000:function:f"
            .parse()
            .unwrap(),
    );
    h.insert(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000".parse().unwrap(),
    );
    (h, axum::Json(event))
}

async fn response(
    State(rt): State<Runtime>,
    Path(_id): Path<String>,
    body: axum::body::Bytes,
) -> &'static str {
    let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
    rt.results.send(("response".into(), v)).await.ok();
    "{}"
}

async fn error(State(rt): State<Runtime>, body: axum::body::Bytes) -> &'static str {
    let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
    rt.results.send(("error".into(), v)).await.ok();
    "{}"
}

/// Starts `binary` against a fake runtime API and feeds it `events`, returning each result.
async fn invoke(app: &TestApp, binary: &str, events: Vec<Value>) -> Vec<(String, Value)> {
    invoke_with_env(app, binary, events, &[]).await
}

/// [`invoke`] with extra environment variables for the function.
async fn invoke_with_env(
    app: &TestApp,
    binary: &str,
    events: Vec<Value>,
    extra_env: &[(&str, &str)],
) -> Vec<(String, Value)> {
    let (etx, erx) = mpsc::channel(16);
    let (rtx, mut rrx) = mpsc::channel(16);
    let rt = Runtime {
        events: Arc::new(Mutex::new(erx)),
        results: rtx,
    };
    let router = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(rt);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let target_dir = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("target"));
    let exe = target_dir.join("debug").join(binary);
    assert!(
        exe.exists(),
        "{} not built: run `cargo build --workspace --bins` (make test does)",
        exe.display()
    );
    let c = &app.state.config;
    let mut child = tokio::process::Command::new(exe)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", binary)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "test")
        .env("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true")
        .env("TABLE_NAME", &c.table_name)
        .env("SCHEDULE_GROUP_NAME", &c.schedule_group)
        .env("JWT_SECRET_KEY", c.jwt_secret.expose())
        .env("GITHUB_API_BASE_URL", &c.github_api_base)
        .env("ALLOW_PRIVATE_TARGETS", "true")
        .env("LOCAL_MODE", "true")
        .envs(extra_env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = Vec::new();
    for e in events {
        etx.send(e).await.unwrap();
        let r = tokio::time::timeout(Duration::from_secs(30), rrx.recv())
            .await
            .expect("lambda answered")
            .unwrap();
        out.push(r);
    }
    child.kill().await.ok();
    out
}

fn http_event(method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Value {
    let mut headers = json!({"accept": "application/json", "origin": "http://localhost:5173"});
    if let Some(t) = token {
        headers["authorization"] = json!(format!("Bearer {t}"));
    }
    if body.is_some() {
        headers["content-type"] = json!("application/json");
    }
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000", "apiId": "api", "domainName": "api.example.com", "domainPrefix": "api",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": "r1", "routeKey": "$default", "stage": "$default",
            "time": "22/Nov/2026:00:00:00 +0000", "timeEpoch": 1795000000000i64
        },
        "body": body.map(|b| b.to_string()),
        "isBase64Encoded": false
    })
}

fn http_result(r: &(String, Value)) -> (u64, Value, Value) {
    assert_eq!(r.0, "response", "{:?}", r.1);
    let status = r.1["statusCode"].as_u64().unwrap();
    let body = r.1["body"]
        .as_str()
        .map(|b| serde_json::from_str(b).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    (status, body, r.1["headers"].clone())
}

#[tokio::test]
async fn api_functions_answer_http_api_v2_events() {
    let app = spawn_app().await;
    let t = app.admin_token.clone();

    let r = invoke(
        &app,
        "system",
        vec![http_event("GET", "/api/v2/health", None, None)],
    )
    .await;
    let (s, b, h) = http_result(&r[0]);
    assert_eq!((s, b["status"].as_str()), (200, Some("healthy")));
    assert_eq!(h["access-control-allow-origin"], "*");

    let r = invoke(
        &app,
        "auth",
        vec![
            http_event(
                "POST",
                "/api/v2/auth/login",
                None,
                Some(json!({"username": "admin", "password": "admin123"})),
            ),
            http_event("GET", "/api/v2/auth/me", None, None),
        ],
    )
    .await;
    let (s, b, _) = http_result(&r[0]);
    assert_eq!(s, 200);
    assert!(b["access_token"].is_string());
    let (s, b, h) = http_result(&r[1]);
    assert_eq!((s, b["message"].as_str()), (401, Some("Not authenticated")));
    assert_eq!(h["www-authenticate"], "Bearer");

    let r = invoke(
        &app,
        "taxonomy",
        vec![http_event("GET", "/api/v2/job-categories", Some(&t), None)],
    )
    .await;
    let (s, b, _) = http_result(&r[0]);
    assert_eq!(s, 200);
    assert!(b["categories"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["slug"] == "general"));

    let r = invoke(
        &app,
        "jobs",
        vec![
            http_event("GET", "/api/v2/jobs", Some(&t), None),
            http_event(
                "POST",
                "/api/v2/jobs/validate-cron",
                Some(&t),
                Some(json!({"expression": "0 9 * * 1"})),
            ),
        ],
    )
    .await;
    let (s, b, _) = http_result(&r[0]);
    assert_eq!((s, b["count"].as_u64()), (200, Some(0)));
    let (s, b, _) = http_result(&r[1]);
    assert_eq!((s, b["valid"].as_bool()), (200, Some(true)));

    let r = invoke(
        &app,
        "executions",
        vec![http_event(
            "GET",
            "/api/v2/jobs/nope/executions",
            Some(&t),
            None,
        )],
    )
    .await;
    let (s, b, _) = http_result(&r[0]);
    assert_eq!((s, b["error"].as_str()), (404, Some("Job not found")));
}

#[tokio::test]
async fn executor_binary_handles_a_schedule_delivery() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let hooks = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&hooks)
        .await;
    let job = app
        .job(
            &app.admin_token,
            webhook_job("bin", &format!("{}/x", hooks.uri())),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    let input = shared::schedules::schedule_input(id)
        .replace(shared::schedules::SCHEDULED_TIME_PLACEHOLDER, &fire(10));
    let event: Value = serde_json::from_str(&input).unwrap();
    let r = invoke(&app, "executor", vec![event.clone(), event]).await;
    assert_eq!(r[0].0, "response");
    assert_eq!(r[0].1["outcome"], "ran");
    assert_eq!(r[0].1["execution"]["status"], "success");
    assert_eq!(
        r[1].1["outcome"], "duplicate",
        "redelivery of the same fire time"
    );
    assert_eq!(hooks.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn maintenance_binary_reconciles() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let job = app
        .job(&app.admin_token, webhook_job("m", "https://example.com/h"))
        .await;
    let id = job["id"].as_str().unwrap();
    app.state.schedules.remove(id).await.unwrap();
    let r = invoke(&app, "maintenance", vec![json!({})]).await;
    assert_eq!(r[0].0, "response", "{:?}", r[0].1);
    assert_eq!(r[0].1["report"]["scheduled_added"], 1);
    assert!(app.schedule(id).await.is_some());
}

#[tokio::test]
async fn http_functions_refuse_to_start_without_a_jwt_key_outside_local_mode() {
    let target_dir = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("target"));
    for (binary, key) in [("auth", None), ("jobs", Some("too-short"))] {
        let mut cmd = tokio::process::Command::new(target_dir.join("debug").join(binary));
        cmd.env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
            .env_remove("LOCAL_MODE")
            .env_remove("JWT_SECRET_KEY")
            .env_remove("SECRET_KEY")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        if let Some(k) = key {
            cmd.env("JWT_SECRET_KEY", k);
        }
        let status = tokio::time::timeout(Duration::from_secs(20), cmd.status())
            .await
            .expect("exits at init")
            .unwrap();
        assert!(
            !status.success(),
            "{binary} started without a usable JWT key"
        );
    }
}

#[tokio::test]
async fn the_executor_ignores_proxy_settings_for_webhooks() {
    // A proxy would resolve names itself, past the address filter: it must never be used.
    let app = spawn_app().await;
    app.team("PAM").await;
    // The webhook listens on 127.0.0.2, so `NO_PROXY=127.0.0.1` keeps the emulators and the
    // runtime API direct (the AWS SDK honours proxies) while a proxy-honouring webhook client
    // would go through the proxy.
    let listener = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
    let hooks = wiremock::MockServer::builder()
        .listener(listener)
        .start()
        .await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&hooks)
        .await;
    let proxy = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&proxy)
        .await;
    let job = app
        .job(
            &app.admin_token,
            webhook_job("proxied", &format!("{}/x", hooks.uri())),
        )
        .await;
    let input = shared::schedules::schedule_input(job["id"].as_str().unwrap())
        .replace(shared::schedules::SCHEDULED_TIME_PLACEHOLDER, &fire(10));
    let event: Value = serde_json::from_str(&input).unwrap();
    let p = proxy.uri();
    let r = invoke_with_env(
        &app,
        "executor",
        vec![event],
        &[
            ("HTTP_PROXY", &p),
            ("http_proxy", &p),
            ("ALL_PROXY", &p),
            ("NO_PROXY", "127.0.0.1,localhost"),
            ("no_proxy", "127.0.0.1,localhost"),
        ],
    )
    .await;
    assert_eq!(r[0].1["outcome"], "ran", "{:?}", r[0].1);
    assert_eq!(hooks.received_requests().await.unwrap().len(), 1);
    assert!(proxy.received_requests().await.unwrap().is_empty());
}
