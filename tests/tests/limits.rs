//! What AWS enforces, enforced locally: API Gateway's 10 MB body and Lambda's 6 MB event,
//! each function's `Timeout` (a request still running is cut, as Lambda stops it), and
//! DynamoDB's 400 KB item / Scheduler's 256 KB input (the emulator front refuses beyond
//! them, so the largest job the API accepts proves our own bounds keep every write inside).

mod common;
use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use wiremock::{matchers::method, Mock, ResponseTemplate};

#[tokio::test]
async fn a_request_outliving_its_function_timeout_is_cut() {
    let mut app = spawn_app().await;
    // Runs that would wait 3 s for the webhook; the function may run 1 s.
    let slow = shared::engine::Timeouts {
        per_call: Duration::from_secs(10),
        total: Duration::from_secs(10),
    };
    app.state.engine = app.state.engine.clone().with_timeouts(slow, slow);
    let base = serve_router(infra::router_with_limits(app.state.clone(), |_| {
        infra::limits::FunctionLimits {
            timeout: Duration::from_secs(1),
            memory_mb: 128,
        }
    }))
    .await;
    let hook = wiremock::MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&hook)
        .await;
    let started = Instant::now();
    let r = app
        .http
        .post(format!("{base}/jobs/test-run"))
        .bearer_auth(&app.admin_token)
        .json(&json!({"target_url": format!("{}/slow", hook.uri()), "timeout_seconds": 10}))
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    // The function's own Timeout (1 s < API Gateway's 30 s) ended it: Lambda reports the
    // invocation failed and API Gateway answers 500 with its own body.
    assert_eq!(r.status(), 500);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v, json!({"message": "Internal Server Error"}));
    assert!(
        took < Duration::from_millis(2500),
        "cut at 1 s, took {took:?}"
    );
    // The same request inside its Timeout completes.
    let r = app
        .post_json(
            "/jobs/test-run",
            Some(&app.admin_token),
            json!({"target_url": format!("{}/slow", hook.uri()), "timeout_seconds": 10}),
        )
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn bodies_over_api_gateway_and_lambda_limits_are_refused() {
    let app = spawn_app().await;
    // 11 MB of JSON: over API Gateway's 10 MB.
    let big = json!({"name": "x".repeat(11 * 1024 * 1024)});
    let r = app.post_json("/jobs", Some(&app.admin_token), big).await;
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"message": "Request Entity Too Large"})
    );
    // 5 MB of CSV in a multipart body: under 10 MB, but base64-encoded into the Lambda
    // event it is over Lambda's 6 MB.
    let r = app
        .upload_csv(&app.admin_token, vec![b'a'; 5 * 1024 * 1024])
        .await;
    assert_eq!(r.status(), 413);
    let (s, v) = read(app.get("/jobs", &app.admin_token).await).await;
    assert_eq!((s, v["count"].as_u64()), (200, Some(0)));
}

#[tokio::test]
async fn the_largest_job_the_api_accepts_fits_dynamodb_and_scheduler_limits() {
    use shared::domain::draft::{MAX_EMAILS, MAX_METADATA_BYTES, MAX_NAME_CHARS, MAX_URL_CHARS};
    let app = spawn_app().await;
    app.team("edge").await;
    // Every bounded field at its bound, in multi-byte characters where text is free.
    let name: String = "名".repeat(MAX_NAME_CHARS);
    let url = format!("https://example.com/{}", "p".repeat(MAX_URL_CHARS - 20));
    let emails: Vec<String> = (0..MAX_EMAILS)
        .map(|i| format!("{}{i:02}@example.com", "u".repeat(50)))
        .collect();
    let mut metadata = serde_json::Map::new();
    let chunk = "値".repeat(1000);
    while serde_json::to_vec(&metadata).unwrap().len() + chunk.len() + 40 < MAX_METADATA_BYTES {
        metadata.insert(format!("k{}", metadata.len()), json!(chunk));
    }
    let body = json!({
        "name": name, "cron_expression": "*/5 * * * *", "end_date": "2099-01-01",
        "pic_team": "edge", "target_url": url, "metadata": metadata,
        "enable_email_notifications": true, "notification_emails": emails,
    });
    let job = app.job(&app.admin_token, body).await;
    let id = job["id"].as_str().unwrap();
    // Rewritten whole (the update writes the same item again, with its notice).
    let r = app
        .put_json(
            &format!("/jobs/{id}"),
            &app.admin_token,
            json!({"metadata": metadata}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let schedule = app.schedule(id).await.expect("schedule");
    assert!(schedule.input.len() < 256 * 1024);
    let (s, got) = read(app.get(&format!("/jobs/{id}"), &app.admin_token).await).await;
    assert_eq!(s, 200);
    assert_eq!(
        got["job"]["name"].as_str().unwrap().chars().count(),
        MAX_NAME_CHARS
    );
}
