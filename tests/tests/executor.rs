//! The executor's handler as EventBridge Scheduler invokes it: success, failure, timeout,
//! expiry, skips, and at-least-once delivery (duplicates, concurrent duplicates).

mod common;
use common::*;
use serde_json::{json, Value};
use std::time::Duration;
use wiremock::{
    matchers::{method, path},
    Mock, MockServer, ResponseTemplate,
};

#[tokio::test]
async fn scheduled_success_failure_and_timeout() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/ok"))
        .respond_with(ResponseTemplate::new(201).set_body_string("created"))
        .mount(&hooks)
        .await;
    Mock::given(method("POST"))
        .and(path("/bad"))
        .respond_with(ResponseTemplate::new(503).set_body_string("down"))
        .mount(&hooks)
        .await;
    Mock::given(method("POST"))
        .and(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&hooks)
        .await;
    let t = app.admin_token.clone();
    for (name, p) in [("ok", "/ok"), ("bad", "/bad"), ("slow", "/slow")] {
        let job = app
            .job(&t, webhook_job(name, &format!("{}{p}", hooks.uri())))
            .await;
        let id = job["id"].as_str().unwrap();
        let out = deliver(&app, id, &fire(10)).await;
        assert_eq!(out["outcome"], "ran");
        let ex = executions(&app, id).await;
        assert_eq!(ex.len(), 1);
        let e = &ex[0];
        assert_eq!(e["trigger_type"], "scheduled");
        match name {
            "ok" => {
                assert_eq!(
                    (
                        e["status"].as_str(),
                        e["response_status"].as_u64(),
                        e["output"].as_str()
                    ),
                    (Some("success"), Some(201), Some("created"))
                );
            }
            "bad" => {
                assert_eq!(e["status"], "failed");
                assert_eq!(e["error_message"], "Webhook returned status 503");
            }
            _ => {
                assert_eq!(e["status"], "timed_out");
                assert!(
                    e["error_message"]
                        .as_str()
                        .unwrap()
                        .starts_with("Webhook call failed: timed out"),
                    "{e}"
                );
                assert_eq!(e["response_status"], Value::Null);
            }
        }
        assert!(e["completed_at"].is_string());
    }
    // Run notifications went to everyone (the feed).
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
        .notification_page(&admin.id, false, None, None, 0, 100)
        .await
        .unwrap()
        .items;
    assert!(notes
        .iter()
        .any(|n| n.title == "Job Completed" && n.related_execution_id.is_some()));
    assert!(notes.iter().any(|n| n.title == "Job Failed"
        && n.message == "Job \"bad\" failed: Webhook returned status 503"));
}

#[tokio::test]
async fn duplicate_delivery_runs_once_even_concurrently() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/once"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(200)))
        .expect(2)
        .mount(&hooks)
        .await;
    let job = app
        .job(
            &app.admin_token,
            webhook_job("once", &format!("{}/once", hooks.uri())),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    let at = &fire(5);
    let outcomes = futures::future::join_all((0..5).map(|_| deliver(&app, id, at))).await;
    let ran = outcomes.iter().filter(|o| o["outcome"] == "ran").count();
    let dup = outcomes
        .iter()
        .filter(|o| o["outcome"] == "duplicate")
        .count();
    assert_eq!((ran, dup), (1, 4));
    // Sequential redelivery of the same fire time: still one.
    assert_eq!(deliver(&app, id, at).await["outcome"], "duplicate");
    // A different fire time is a new run.
    assert_eq!(deliver(&app, id, &fire(4)).await["outcome"], "ran");
    assert_eq!(executions(&app, id).await.len(), 2);
    hooks.verify().await;
}

#[tokio::test]
async fn expired_job_is_auto_paused_and_unscheduled() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&hooks)
        .await;
    let (alice_id, alice) = app.user("alice", "user").await;
    let job = app.job(&alice, webhook_job("expiring", &hooks.uri())).await;
    let id = job["id"].as_str().unwrap();
    assert!(app.schedule(id).await.is_some());
    app.expire_job(id, chrono::NaiveDate::from_ymd_opt(2021, 3, 4).unwrap())
        .await;

    assert_eq!(deliver(&app, id, &fire(5)).await["outcome"], "auto_paused");
    assert!(executions(&app, id).await.is_empty());
    assert!(
        !app.state
            .store
            .get_job(id)
            .await
            .unwrap()
            .unwrap()
            .is_active
    );
    assert!(app.schedule(id).await.is_none());
    let notes = app
        .state
        .store
        .recent_notifications(&alice_id, 100)
        .await
        .unwrap();
    assert!(notes
        .iter()
        .any(|n| n.title == "Job auto-paused (end date passed)"
            && n.message
                == "Job \"expiring\" passed its end_date (2021-03-04 JST) and was auto-paused."));
    // Further deliveries are skipped: the job is inactive.
    assert_eq!(deliver(&app, id, &fire(4)).await["outcome"], "skipped");
    hooks.verify().await;
}

#[tokio::test]
async fn missing_inactive_and_malformed_inputs() {
    let app = spawn_app().await;
    app.team("PAM").await;
    assert_eq!(
        deliver(&app, "no-such-job", &fire(5)).await["outcome"],
        "skipped"
    );
    let job = app
        .job(
            &app.admin_token,
            webhook_job("off", "https://example.invalid/x"),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    app.put_json(
        &format!("/jobs/{id}"),
        &app.admin_token,
        json!({"is_active": false}),
    )
    .await;
    assert_eq!(deliver(&app, id, &fire(5)).await["outcome"], "skipped");
    for bad in [
        json!({}),
        json!({"job_id": id}),
        json!({"job_id": id, "scheduled_time": "<aws.scheduler.scheduled-time>"}),
        json!("x"),
    ] {
        let out = executor_fn::handle(&app.executor.engine, bad)
            .await
            .unwrap();
        assert_eq!(out["outcome"], "ignored");
    }
    assert!(executions(&app, id).await.is_empty());
}

#[tokio::test]
async fn github_scheduled_run_and_missing_token() {
    let app = spawn_app().await;
    app.team("PAM").await;
    Mock::given(method("POST"))
        .and(path(
            "/repos/Pay-Baymax/api/actions/workflows/w.yml/dispatches",
        ))
        .respond_with(ResponseTemplate::new(422).set_body_string("{\"message\":\"No ref found\"}"))
        .mount(&app.github)
        .await;
    let job = app
        .job(
            &app.admin_token,
            json!({"name": "gh", "cron_expression": "0 9 * * *", "end_date": "2099-01-01",
        "pic_team": "PAM", "github_repo": "api", "github_workflow_name": "w.yml"}),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    deliver(&app, id, &fire(10)).await;
    let e = &executions(&app, id).await[0];
    assert_eq!(e["status"], "failed");
    assert_eq!(e["response_status"], 422);
    assert_eq!(
        e["error_message"],
        "GitHub Actions dispatch failed. Status: 422, Response: {\"message\":\"No ref found\"}"
    );
    assert_eq!(e["target"], "Pay-Baymax/api/w.yml");

    let no_token = spawn_app_with(|c| c.github_token = None).await;
    no_token.team("PAM").await;
    let job = no_token
        .job(
            &no_token.admin_token,
            json!({"name": "gh", "cron_expression": "0 9 * * *", "end_date": "2099-01-01",
        "pic_team": "PAM", "github_repo": "api", "github_workflow_name": "w.yml"}),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    deliver(&no_token, id, &fire(10)).await;
    let e = &executions(&no_token, id).await[0];
    assert_eq!(
        e["error_message"],
        "GitHub token not configured. Cannot trigger workflow for job 'gh'"
    );
}

#[tokio::test]
async fn private_targets_are_refused_outside_local_mode() {
    let app = spawn_app_with(|c| c.allow_private_targets = false).await;
    app.team("PAM").await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&hooks)
        .await;
    let job = app
        .job(
            &app.admin_token,
            webhook_job("ssrf", &format!("{}/x", hooks.uri())),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    deliver(&app, id, &fire(10)).await;
    let e = &executions(&app, id).await[0];
    assert_eq!(e["status"], "failed");
    assert!(
        e["error_message"]
            .as_str()
            .unwrap()
            .contains("not a public address"),
        "{e}"
    );
    hooks.verify().await;
}

#[tokio::test]
async fn every_spelling_of_one_fire_time_runs_once() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/once"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&hooks)
        .await;
    let job = app
        .job(
            &app.admin_token,
            webhook_job("once", &format!("{}/once", hooks.uri())),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    let outcomes: Vec<Value> = futures::future::join_all(
        {
            let t = fire_at(10);
            [
                t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                t.format("%Y-%m-%dT%H:%M:%S.000Z").to_string(),
                t.with_timezone(&chrono_tz::Asia::Tokyo).to_rfc3339(),
                t.format("%Y-%m-%dT%H:%M:%S.123456+00:00").to_string(),
            ]
        }
        .iter()
        .map(|at| deliver(&app, id, at)),
    )
    .await;
    let ran = outcomes.iter().filter(|o| o["outcome"] == "ran").count();
    let dup = outcomes
        .iter()
        .filter(|o| o["outcome"] == "duplicate")
        .count();
    assert_eq!((ran, dup), (1, 3), "{outcomes:?}");
    assert_eq!(deliver(&app, id, "not a time").await["outcome"], "ignored");
}

/// A webhook that sends its headers and the start of a body, then nothing: the run's call
/// timeout covers the body, and a response that does not complete is a failed run.
#[tokio::test]
async fn a_webhook_that_stalls_after_its_headers_is_a_timed_out_run() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    app.team("PAM").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/stall", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{\"started\":")
                    .await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            });
        }
    });
    let job = app.job(&app.admin_token, webhook_job("stall", &url)).await;
    let id = job["id"].as_str().unwrap();
    let out = deliver(&app, id, &fire(10)).await;
    assert_eq!(out["outcome"], "ran");
    let ex = executions(&app, id).await;
    assert_eq!(ex[0]["status"], "timed_out", "{}", ex[0]);
    let error = ex[0]["error_message"].as_str().unwrap();
    assert!(
        error.contains("did not complete") && error.contains("timed out"),
        "{error}"
    );
}
