//! Holes found when the service was attacked (issue 7), each closed at its root: GitHub
//! coordinates that could leave the dispatch path, oversized or malformed input answering 500.

mod common;
use common::*;
use serde_json::json;
use wiremock::{matchers::any, Mock, ResponseTemplate};

#[tokio::test]
async fn github_coordinates_cannot_leave_the_dispatch_path() {
    let app = spawn_app().await;
    app.team("PAM").await;
    // Whatever reaches the fake GitHub is recorded; nothing may.
    Mock::given(any())
        .respond_with(ResponseTemplate::new(204))
        .expect(0)
        .mount(&app.github)
        .await;
    let (_, ut) = app.user("mallory", "user").await;
    let job = app
        .job(&ut, json!({"name": "gh", "cron_expression": "0 9 * * 1", "end_date": "2099-12-31", "pic_team": "PAM",
            "github_owner": "o", "github_repo": "r", "github_workflow_name": "w.yml"}))
        .await;
    let id = job["id"].as_str().unwrap();
    for bad in ["../../../../../user/keys?", "..", "w#frag", "%2e%2e", "a/b"] {
        for body in [
            json!({"github_workflow_name": bad}),
            json!({"github_owner": bad}),
            json!({"github_repo": bad}),
        ] {
            let (s, v) = read(
                app.post_json(&format!("/jobs/{id}/execute"), Some(&ut), body.clone())
                    .await,
            )
            .await;
            assert_eq!(s, 400, "{body}: {v}");
        }
        let mut create = json!({"name": format!("x{bad}"), "cron_expression": "0 9 * * 1", "end_date": "2099-12-31",
            "pic_team": "PAM", "github_owner": "o", "github_repo": "r", "github_workflow_name": bad});
        let (s, v) = read(app.post_json("/jobs", Some(&ut), create.clone()).await).await;
        assert_eq!(
            (s, v["error"].as_str()),
            (400, Some("Invalid GitHub configuration")),
            "{bad}"
        );
        create["github_workflow_name"] = json!("w.yml");
        create["github_repo"] = json!(bad);
        assert_eq!(
            read(
                app.put_json(&format!("/jobs/{id}"), &ut, json!({"github_repo": bad}))
                    .await
            )
            .await
            .0,
            400
        );
        let (s, _) = read(
            app.post_json(
                "/jobs/test-run",
                Some(&ut),
                json!({"github_owner": "o", "github_repo": "r", "github_workflow_name": bad}),
            )
            .await,
        )
        .await;
        assert_eq!(s, 400, "{bad}");
    }
    // A dispatch URL is read as a URL: traversal resolves out of the workflow path, encoded
    // dots stay encoded; neither names a workflow.
    for url in [
        "https://github.com/o/r/actions/workflows/../../../../../user/keys?",
        "https://github.com/o/r/actions/workflows/%2e%2e",
        "o/r/%2e%2e",
        "o/r/..",
    ] {
        let (s, v) = read(
            app.post_json(
                &format!("/jobs/{id}/execute"),
                Some(&ut),
                json!({"dispatch_url": url}),
            )
            .await,
        )
        .await;
        assert_eq!(s, 400, "{url}: {v}");
    }
    // The stored job is unchanged and no request reached GitHub (checked when the mock drops).
    let (_, v) = read(app.get(&format!("/jobs/{id}"), &ut).await).await;
    assert_eq!(v["job"]["github_workflow_name"], "w.yml");
}

#[tokio::test]
async fn oversized_and_malformed_queries_are_400_not_500() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let job = app
        .job(&app.admin_token, webhook_job("j", "https://example.com/h"))
        .await;
    let id = job["id"].as_str().unwrap();
    let statuses = vec!["success"; 101].join(",");
    for q in [
        format!("/jobs/{id}/executions?status={statuses}"),
        format!("/executions?status={statuses}"),
        format!("/jobs/{id}/executions?from=+10000-01-01T00:00:00Z"),
        "/executions?to=99999-01-01".to_string(),
        "/notifications?from=0000-00-00".to_string(),
    ] {
        let (s, v) = read(app.get(&q, &app.admin_token).await).await;
        assert_eq!(s, 400, "{q}: {v}");
        assert!(
            v["error"].is_string() && v["message"].is_string(),
            "{q}: {v}"
        );
    }
    let (s, v) = read(
        app.post_json(
            "/pic-teams",
            Some(&app.admin_token),
            json!({"name": "Big", "slack_handle": "h".repeat(1_000_000)}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("Invalid slack_handle"))
    );
}

#[tokio::test]
async fn framework_rejections_carry_the_json_error_body_and_cors() {
    let app = spawn_app().await;
    let big = vec![b'a'; 3 * 1024 * 1024];
    let cases = [
        app.http
            .get(app.url("/jobs/%ff"))
            .bearer_auth(&app.admin_token)
            .header("origin", "http://localhost:5173"),
        app.http
            .post(app.url("/jobs"))
            .bearer_auth(&app.admin_token)
            .header("content-type", "application/json")
            .header("origin", "http://localhost:5173")
            .body(big),
    ];
    for (i, req) in cases.into_iter().enumerate() {
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        assert!((400..500).contains(&status), "case {i}: {status}");
        assert_eq!(r.headers()["access-control-allow-origin"], "*", "case {i}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "case {i}"
        );
        let v: serde_json::Value = r.json().await.unwrap();
        assert!(
            v["error"].is_string() && v["message"].is_string(),
            "case {i}: {v}"
        );
    }
}

#[tokio::test]
async fn failed_logins_are_throttled_per_account_and_per_source_then_released() {
    let app = spawn_app_with(|c| {
        // Long enough for ten password checks in a debug build.
        c.login_throttle.window_secs = 15;
    })
    .await;
    app.user("alice", "viewer").await;
    let attempt = |u: &str, p: &str| {
        let body = json!({"username": u, "password": p});
        let app = &app;
        async move { app.post_json("/auth/login", None, body).await }
    };
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..20 {
        let r = attempt("alice", "wrong-password").await;
        if r.status() == 429 {
            retry_after = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
        }
        statuses.push(r.status().as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        10,
        "{statuses:?}"
    );
    let wait = retry_after.unwrap();
    assert!((1..=15).contains(&wait), "{wait}");
    // Even the right password waits for the window; then it works again.
    let r = attempt("alice", "password1").await;
    let (s, v) = read(r).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (429, Some("Too many login attempts"))
    );
    tokio::time::sleep(std::time::Duration::from_millis(wait * 1000 + 1200)).await;
    assert_eq!(attempt("alice", "password1").await.status(), 200);
    // Another account was never affected.
    assert_eq!(attempt("admin", "admin123").await.status(), 200);
}

#[tokio::test]
async fn failed_logins_from_one_source_across_accounts_are_throttled() {
    let app = spawn_app_with(|c| {
        c.login_throttle.max_source_failures = 5;
    })
    .await;
    for i in 0..5 {
        let r = app
            .post_json(
                "/auth/login",
                None,
                json!({"username": format!("ghost{i}"), "password": "whatever1"}),
            )
            .await;
        assert_eq!(r.status(), 401);
    }
    let r = app
        .post_json(
            "/auth/login",
            None,
            json!({"username": "admin", "password": "admin123"}),
        )
        .await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_job_update_never_undoes_a_concurrent_run_start() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let hooks = wiremock::MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&hooks)
        .await;
    let job = app
        .job(
            &app.admin_token,
            webhook_job("raced", &format!("{}/h", hooks.uri())),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    // A PUT read the job before the run started...
    let stale = app.state.store.get_job(id).await.unwrap().unwrap();
    assert!(stale.last_execution_at.is_none());
    let (s, _) = read(
        app.post_json(
            &format!("/jobs/{id}/execute"),
            Some(&app.admin_token),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    // ...and writes after it: the run's start stays recorded.
    let mut edited = stale.clone();
    edited.name = "raced-renamed".into();
    edited.updated_at = shared::domain::now();
    app.state
        .store
        .update_job(&stale, &edited, "t", &[], None)
        .await
        .unwrap();
    let (_, v) = read(app.get(&format!("/jobs/{id}"), &app.admin_token).await).await;
    assert_eq!(v["job"]["name"], "raced-renamed");
    assert!(v["job"]["last_execution_at"].is_string(), "{v}");
}

#[tokio::test]
async fn a_manual_run_ends_before_its_deadline_leaving_time_to_record_it() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let hooks = wiremock::MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(4)))
        .mount(&hooks)
        .await;
    let job = app
        .job(
            &app.admin_token,
            webhook_job("slow", &format!("{}/h", hooks.uri())),
        )
        .await;
    let job = app
        .state
        .store
        .get_job(job["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    let started = std::time::Instant::now();
    let plan = shared::engine::RunPlan {
        target: job.target().unwrap(),
        metadata: job.metadata.clone(),
        github_token: None,
        // 5 s left: the store margin keeps 4, so the call gets about 1.
        deadline: Some(started + std::time::Duration::from_secs(5)),
    };
    let e = app.state.engine.run_manual(&job, plan).await.unwrap();
    let took = started.elapsed();
    assert_eq!(e.status.as_str(), "timed_out");
    assert!(took < std::time::Duration::from_millis(2500), "{took:?}");
    let msg = e.error_message.unwrap();
    assert!(
        msg.contains("timed out") || msg.contains("exceeded"),
        "{msg}"
    );
}

#[tokio::test]
async fn auto_pause_never_undoes_a_concurrent_end_date_extension() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let job = app
        .job(
            &app.admin_token,
            webhook_job("ext", "https://example.com/h"),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    app.expire_job(id, chrono::NaiveDate::from_ymd_opt(2021, 3, 4).unwrap())
        .await;
    // The engine read the expired job...
    let stale = app.state.store.get_job(id).await.unwrap().unwrap();
    // ...while its owner extended the end date.
    let mut extended = stale.clone();
    extended.end_date = chrono::NaiveDate::from_ymd_opt(2099, 1, 1);
    extended.updated_at = shared::domain::now();
    app.state
        .store
        .update_job(&stale, &extended, "t", &[], None)
        .await
        .unwrap();
    app.state.engine.pause_expired(&stale).await.unwrap();
    let now_job = app.state.store.get_job(id).await.unwrap().unwrap();
    assert!(now_job.is_active, "the extension won");
    let admin = app
        .state
        .store
        .find_user_by_login("admin")
        .await
        .unwrap()
        .unwrap();
    let notes = app
        .state
        .store
        .recent_notifications(&admin.id, 20)
        .await
        .unwrap();
    assert!(!notes.iter().any(|n| n.title.starts_with("Job auto-paused")));
}

#[tokio::test]
async fn schedules_carry_an_explicit_retry_policy_and_dead_letter_queue() {
    let dlq = "arn:aws:sqs:ap-northeast-1:000000000000:cron-dlq";
    let app = spawn_app_with(|c| c.schedule_dlq_arn = Some(dlq.into())).await;
    app.team("PAM").await;
    let job = app
        .job(
            &app.admin_token,
            webhook_job("dlq", "https://example.com/h"),
        )
        .await;
    let out = app
        .scheduler
        .get_schedule()
        .name(job["id"].as_str().unwrap())
        .group_name(app.state.schedules.group())
        .send()
        .await
        .unwrap();
    let target = out.target().unwrap();
    assert_eq!(target.dead_letter_config().and_then(|d| d.arn()), Some(dlq));
    let retry = target.retry_policy().unwrap();
    assert_eq!(
        (
            retry.maximum_retry_attempts(),
            retry.maximum_event_age_in_seconds()
        ),
        (Some(2), Some(3600))
    );
}

#[tokio::test]
async fn a_late_schedule_call_never_leaves_an_older_configuration_scheduled() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let job = app
        .job(
            &app.admin_token,
            webhook_job("order", "https://example.com/h"),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    let v1 = app.state.store.get_job(id).await.unwrap().unwrap();
    // Writer B stores v2 (and would schedule it)...
    let mut v2 = v1.clone();
    v2.cron = shared::domain::CronExpr::parse("30 18 * * 5").unwrap();
    v2.updated_at = shared::domain::now();
    app.state
        .store
        .update_job(&v1, &v2, "b", &[], None)
        .await
        .unwrap();
    app.state
        .schedules
        .sync(&v2, chrono::Utc::now().date_naive())
        .await
        .unwrap();
    // ...then writer A's call for v1 lands last: it must end with v2 scheduled.
    assert!(shared::services::schedule_after_write(&app.state, &v1, "a").await);
    let stored = app.schedule(id).await.unwrap();
    assert_eq!(stored.expression, v2.cron.to_eventbridge());
}

#[tokio::test]
async fn a_run_whose_notification_fails_is_still_a_recorded_success() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let hooks = wiremock::MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&hooks)
        .await;
    let job = app
        .job(
            &app.admin_token,
            webhook_job("quiet", &format!("{}/h", hooks.uri())),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    // Fault: an unreadable user in the recipients' list makes every broadcast fail.
    app.state
        .store
        .client()
        .put_item()
        .table_name(app.state.store.table())
        .item(
            "PK",
            aws_sdk_dynamodb::types::AttributeValue::S("USER#broken".into()),
        )
        .item(
            "SK",
            aws_sdk_dynamodb::types::AttributeValue::S("PROFILE".into()),
        )
        .item(
            "GSI1PK",
            aws_sdk_dynamodb::types::AttributeValue::S("USERS".into()),
        )
        .item(
            "GSI1SK",
            aws_sdk_dynamodb::types::AttributeValue::S("0#broken".into()),
        )
        .send()
        .await
        .unwrap();
    let (s, v) = read(
        app.post_json(
            &format!("/jobs/{id}/execute"),
            Some(&app.admin_token),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("success")), "{v}");
    let e = read(
        app.get(
            &format!("/executions/{}", v["execution_id"].as_str().unwrap()),
            &app.admin_token,
        )
        .await,
    )
    .await
    .1;
    assert_eq!(e["execution"]["status"], "success");
}

#[tokio::test]
async fn a_stalled_store_answers_503_with_retry_after_well_inside_30_s() {
    // A "DynamoDB" that accepts connections and never answers.
    let blackhole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = blackhole.local_addr().unwrap();
    let sdk = shared::config::sdk_loader().load().await;
    let dynamo = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(format!("http://{addr}"))
            .build(),
    );
    let github = wiremock::MockServer::start().await;
    let config = test_config(&github).await;
    let state = shared::state::AppState::new(
        config,
        dynamo,
        aws_sdk_scheduler::Client::new(&sdk),
        aws_sdk_sesv2::Client::new(&sdk),
    );
    let u1: shared::store::User = serde_json::from_value(json!({
        "id": "u1", "username": "u1", "email": "a@x.io", "password_hash": "",
        "role": "admin", "is_active": true,
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
    }))
    .unwrap();
    let token = state
        .tokens
        .issue(shared::auth::TokenKind::Access, &u1, "s1")
        .unwrap();
    let base = serve(state).await;
    let started = std::time::Instant::now();
    let r = reqwest::Client::new()
        .get(format!("{base}/jobs"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "5");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "Service unavailable");
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    drop(blackhole);
}

#[tokio::test]
async fn idempotency_key_replays_the_first_answer_and_refuses_a_different_body() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let post = |key: &'static str, body: serde_json::Value| {
        let app = &app;
        async move {
            app.http
                .post(app.url("/jobs"))
                .bearer_auth(&app.admin_token)
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let body = webhook_job("once-only", "https://example.com/h");
    let first = post("k-1", body.clone()).await;
    assert_eq!(first.status(), 201);
    let first: serde_json::Value = first.json().await.unwrap();
    // A retry (the client timed out) gets the same job, not "Duplicate job name".
    let again = post("k-1", body.clone()).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["job"]["id"], first["job"]["id"]);
    assert_eq!(
        read(app.get("/jobs", &app.admin_token).await).await.1["count"],
        1
    );
    // The same key with another request: 400 (the draft's 422, never used by this API).
    let mut other = body.clone();
    other["name"] = json!("another");
    let (s, v) = read(post("k-1", other.clone()).await).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("Idempotency-Key reused"))
    );
    // Without the header nothing changes: a second create is a duplicate name.
    let (s, v) = read(app.post_json("/jobs", Some(&app.admin_token), body).await).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("Duplicate job name")));
    // Keys are per caller.
    let (_, ut) = app.user("ursula", "user").await;
    let r = app
        .http
        .post(app.url("/jobs"))
        .bearer_auth(&ut)
        .header("idempotency-key", "k-1")
        .json(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn idempotency_key_replays_only_final_answers_and_frees_a_dead_claim() {
    let app = spawn_app().await;
    let post = |key: &'static str| {
        let app = &app;
        async move {
            read(
                app.http
                    .post(app.url("/jobs"))
                    .bearer_auth(&app.admin_token)
                    .header("idempotency-key", key)
                    .json(&webhook_job("after-fix", "https://example.com/h"))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    // Refused because of the caller's state (no PIC team yet): not kept.
    let (s, _) = post("k-fix").await;
    assert_eq!(s, 400);
    app.team("PAM").await;
    // The cause is fixed: the retry with the same key runs again and creates the job.
    let (s, v) = post("k-fix").await;
    assert_eq!(s, 201, "{v}");
    // A claim whose function died mid-request (no answer stored) holds its key only for the
    // functions' timeout + margin, not for a day.
    let store = &app.state.store;
    let now = chrono::Utc::now().timestamp();
    let admin = store.find_user_by_login("admin").await.unwrap().unwrap();
    assert_eq!(
        store
            .claim_idempotency_key(&admin.id, "k-dead", "h", now)
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        store
            .claim_idempotency_key(&admin.id, "k-dead", "h", now + 5)
            .await
            .unwrap(),
        Some(shared::store::IdempotencyRecord::InProgress { .. })
    ));
    let later = now + shared::store::IN_PROGRESS_TTL_SECS + 1;
    assert_eq!(
        store
            .claim_idempotency_key(&admin.id, "k-dead", "h", later)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_range_of_centuries_reads_only_the_days_that_have_history() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let hooks = wiremock::MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&hooks)
        .await;
    let job = app
        .job(
            &app.admin_token,
            webhook_job("old", &format!("{}/h", hooks.uri())),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    assert_eq!(
        read(
            app.post_json(
                &format!("/jobs/{id}/execute"),
                Some(&app.admin_token),
                json!({})
            )
            .await
        )
        .await
        .0,
        200
    );
    let started = std::time::Instant::now();
    for q in [
        "/executions/statistics?from=1970-01-01&to=9999-12-30",
        "/executions?from=0001-01-01",
        "/notifications?from=1970-01-01&to=9999-12-30",
        "/notifications/unread-count?from=1970-01-01",
    ] {
        let (s, v) = read(app.get(q, &app.admin_token).await).await;
        assert_eq!(s, 200, "{q}: {v}");
    }
    let (_, st) = read(
        app.get(
            "/executions/statistics?from=1970-01-01&to=9999-12-30",
            &app.admin_token,
        )
        .await,
    )
    .await;
    assert_eq!(st["total_executions"], 1);
    assert_eq!(st["range"]["from"], "1970-01-01T00:00:00.000000Z");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn without_its_filtered_client_a_run_calls_nothing_and_fails_closed() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let target = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&target)
        .await;
    let job = app
        .job(
            &app.admin_token,
            webhook_job("closed", &format!("{}/h", target.uri())),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    let engine = app.state.engine.clone().without_outbound_clients();
    let out = executor_fn::handle(&engine, json!({"job_id": id, "scheduled_time": fire(10)}))
        .await
        .unwrap();
    assert_eq!(out["execution"]["status"], "failed", "{out}");
    assert_eq!(
        out["execution"]["error_message"],
        "Webhook call failed: outbound client unavailable"
    );
    assert!(target.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_job_created_while_reconcile_runs_is_never_taken_for_an_orphan() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let created = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let slot = created.clone();
    let report = shared::services::maintenance::reconcile_with(&app.maintenance, || async {
        // Lands after the schedules were listed, before the jobs are.
        let job = app
            .job(
                &app.admin_token,
                webhook_job("racer", "https://example.com/h"),
            )
            .await;
        *slot.lock().unwrap() = job["id"].as_str().unwrap().to_string();
    })
    .await
    .unwrap();
    let id = created.lock().unwrap().clone();
    assert_eq!(report.orphaned_removed, 0, "{report:?}");
    assert!(app.schedule(&id).await.is_some(), "{report:?}");
}

/// Costly endpoints are limited per user: 40 parallel test-runs by one user meet 429 with
/// `Retry-After`, another user is not affected, and a refused call reaches nothing.
#[tokio::test]
async fn costly_endpoints_are_rate_limited_per_user() {
    let app = spawn_app_with(|c| c.rate_limit_scale = 1).await;
    let hooks = wiremock::MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&hooks)
        .await;
    let (_, ut) = app.user("ursula", "user").await;
    let url = format!("{}/h", hooks.uri());
    let calls = (0..40).map(|_| {
        app.http
            .post(app.url("/jobs/test-run"))
            .bearer_auth(&ut)
            .json(&json!({"target_url": url}))
            .send()
    });
    let answers = futures::future::join_all(calls).await;
    let mut limited = 0;
    for r in answers {
        let r = r.unwrap();
        if r.status() == 429 {
            limited += 1;
            let wait: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&wait), "{wait}");
            let v: serde_json::Value = r.json().await.unwrap();
            assert_eq!(v["error"], "Too many requests");
        } else {
            let status = r.status();
            assert_eq!(status, 200, "{}", r.text().await.unwrap_or_default());
        }
    }
    assert!(limited >= 30, "{limited} of 40 limited");
    let reached = hooks.received_requests().await.unwrap().len();
    assert_eq!(reached, 40 - limited, "a refused test-run calls nothing");
    // Another user's bucket is their own.
    let (s, _) = read(
        app.post_json(
            "/jobs/test-run",
            Some(&app.admin_token),
            json!({"target_url": url}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
}
