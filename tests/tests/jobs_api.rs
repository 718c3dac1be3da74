//! Jobs area over HTTP against the emulators: validation order, RBAC and ownership, schedule
//! sync on every write, manual execution through local fakes.

mod common;
use common::*;
use serde_json::{json, Value};
use wiremock::{
    matchers::{header, method, path},
    Mock, MockServer, ResponseTemplate,
};

#[tokio::test]
async fn create_validates_in_contract_order_and_writes_nothing_on_error() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let t = app.admin_token.clone();
    let ok = webhook_job("j1", "https://example.com/hook");
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let without = |k: &str| {
        let mut b = ok.clone();
        b.as_object_mut().unwrap().remove(k);
        b
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"cron_expression": "* * * * *"}), "Missing required fields", "Missing required fields: name, end_date"),
        (with("name", json!("  ")), "Job name cannot be empty", "Job name cannot be empty"),
        (with("name", json!(null)), "Job name cannot be empty", "Job name cannot be empty"),
        (with("cron_expression", json!("* * *")), "Invalid cron expression", "Cron expression must have exactly 5 fields (minute hour day month day-of-week)."),
        (with("cron_expression", json!("0 9 1 * 1")), "Invalid cron expression", shared::domain::cron::MSG_BOTH_DAYS),
        (with("target_url", json!("example.com/hook")), "Invalid target_url", "target_url must include scheme (http:// or https://). For GitHub dispatch, use github_owner/github_repo/github_workflow_name or provide owner/repo/workflow."),
        (with("category", json!("nope")), "Invalid category", "Unknown category. Create it in Settings → Categories first, or choose General."),
        (with("metadata", json!([1])), "Invalid metadata", "metadata must be a JSON object"),
        (with("end_date", json!("2020-01-01")), "Invalid end_date", "end_date must be today or in the future (JST)."),
        (with("end_date", json!("01/02/2030")), "Invalid end_date", "Invalid end_date. Use YYYY-MM-DD."),
        (with("end_date", json!("")), "Missing required fields", "\"end_date\" is required (YYYY-MM-DD)."),
        (without("pic_team"), "Invalid PIC team", "PIC team is required. Create one in Settings → PIC Teams."),
        (with("pic_team", json!("Ghosts")), "Invalid PIC team", "Unknown PIC team. Create it in Settings → PIC Teams first."),
        (without("target_url"), "Missing target configuration", "Please provide either \"target_url\" or GitHub Actions configuration (github_owner, github_repo, github_workflow_name)"),
        (with("enable_email_notifications", json!("maybe")), "Invalid payload", "\"enable_email_notifications\" must be a boolean."),
    ];
    for (body, error, message) in cases {
        let (s, v) = read(app.post_json("/jobs", Some(&t), body.clone()).await).await;
        assert_eq!(s, 400, "{body}");
        assert_eq!(v["error"], error, "{body}");
        assert_eq!(v["message"], message, "{body}");
    }
    let r = app
        .http
        .post(app.url("/jobs"))
        .bearer_auth(&t)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        read(r).await.1["error"],
        "Content-Type must be application/json"
    );
    let r = app
        .http
        .post(app.url("/jobs"))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{x")
        .send()
        .await
        .unwrap();
    assert_eq!(read(r).await.1["error"], "Invalid JSON");
    let (s, v) = read(app.post_json("/jobs", Some(&t), json!([1, 2])).await).await;
    assert_eq!((s, v["error"].as_str().unwrap()), (400, "Invalid payload"));

    // Nothing was written by any of those.
    assert_eq!(read(app.get("/jobs", &t).await).await.1["count"], 0);
    assert!(app.schedule_names().await.is_empty());

    // Then the valid one, and its duplicate.
    let job = app.job(&t, ok.clone()).await;
    assert_eq!(job["category"], "general");
    assert_eq!(job["pic_team"], "pam");
    assert_eq!(job["is_active"], true);
    let (s, v) = read(app.post_json("/jobs", Some(&t), ok).await).await;
    assert_eq!(
        (s, v["error"].as_str().unwrap()),
        (400, "Duplicate job name")
    );
    assert_eq!(
        v["message"],
        "A job with the name \"j1\" already exists. Please use a unique name."
    );
}

#[tokio::test]
async fn create_github_forms_and_defaults() {
    let app = spawn_app().await;
    app.team("QA Tech").await;
    let t = app.admin_token.clone();
    // Shorthand target_url becomes the GitHub trio; team resolved by name.
    let j = app
        .job(
            &t,
            json!({"name": "gh1", "cron_expression": "30 21 * * 0", "end_date": "20991231",
        "pic_team": "QA Tech", "target_url": "acme/api/deploy.yml", "category": "Regression"}),
        )
        .await;
    assert_eq!(
        (
            j["github_owner"].as_str(),
            j["github_repo"].as_str(),
            j["github_workflow_name"].as_str()
        ),
        (Some("acme"), Some("api"), Some("deploy.yml"))
    );
    assert_eq!(j["target_url"], Value::Null);
    assert_eq!(j["end_date"], "2099-12-31");
    assert_eq!(j["category"], "regression");
    assert_eq!(j["pic_team"], "qa-tech");
    // Repo + workflow without owner → default owner.
    let j = app.job(&t, json!({"name": "gh2", "cron_expression": "0 9 * * *", "end_date": "2099-01-01",
        "pic_team": "qa-tech", "github_repo": "api", "github_workflow_name": "w.yml", "metadata": {"branchDetails": "dev"}})).await;
    assert_eq!(j["github_owner"], "Pay-Baymax");
    assert_eq!(j["metadata"]["branchDetails"], "dev");

    let (s, v) = read(app.get("/jobs", &t).await).await;
    assert_eq!(s, 200);
    assert_eq!(v["count"], 2);
    assert_eq!(v["jobs"][0]["name"], "gh2", "newest first");
    let next = v["jobs"][1]["next_execution_at"].as_str().unwrap();
    assert!(next.ends_with("T21:30:00+09:00"), "{next}");
    let sunday = chrono::DateTime::parse_from_rfc3339(next).unwrap();
    assert_eq!(
        chrono::Datelike::weekday(&sunday),
        chrono::Weekday::Sun,
        "0 = Sunday"
    );
    assert_eq!(v["jobs"][1]["last_execution_at"], Value::Null);

    let id = j["id"].as_str().unwrap();
    let (s, v) = read(app.get(&format!("/jobs/{id}"), &t).await).await;
    assert_eq!(s, 200);
    assert_eq!(v["job"]["id"], id);
    let (s, v) = read(app.get("/jobs/bulk-upload", &t).await).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (404, Some("No job found with ID: bulk-upload"))
    );
    let (s, v) = read(app.get("/jobs/missing-id", &t).await).await;
    assert_eq!(
        (s, v["error"].as_str(), v["message"].as_str()),
        (
            404,
            Some("Job not found"),
            Some("No job found with ID: missing-id")
        )
    );
}

#[tokio::test]
async fn schedules_follow_every_job_write() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let t = app.admin_token.clone();
    let j = app
        .job(
            &t,
            json!({"name": "s1", "cron_expression": "0 9 * * 1-5", "end_date": "2031-02-10",
        "pic_team": "PAM", "target_url": "https://example.com/h"}),
        )
        .await;
    let id = j["id"].as_str().unwrap().to_string();
    let s = app.schedule(&id).await.expect("schedule after create");
    assert_eq!(s.expression, "cron(0 9 ? * 2-6 *)");
    assert_eq!(s.timezone, "Asia/Tokyo");
    assert_eq!(
        s.end_date.unwrap().to_rfc3339(),
        "2031-02-10T15:00:00+00:00"
    );
    assert_eq!(s.target_arn, app.state.config.executor_arn);
    let input: Value = serde_json::from_str(&s.input).unwrap();
    assert_eq!(
        input,
        json!({"job_id": id, "scheduled_time": "<aws.scheduler.scheduled-time>"})
    );

    // Update the cron: schedule replaced.
    let (st, v) = read(
        app.put_json(
            &format!("/jobs/{id}"),
            &t,
            json!({"cron_expression": "*/15 * * * *", "end_date": "2032-01-01"}),
        )
        .await,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["job"]["cron_expression"], "*/15 * * * *");
    let s = app.schedule(&id).await.unwrap();
    assert_eq!(s.expression, "cron(0/15 * * * ? *)");
    assert_eq!(
        s.end_date.unwrap().to_rfc3339(),
        "2032-01-01T15:00:00+00:00"
    );

    // Disable: schedule gone. Enable: back.
    let (st, v) = read(
        app.put_json(&format!("/jobs/{id}"), &t, json!({"is_active": false}))
            .await,
    )
    .await;
    assert_eq!((st, v["job"]["is_active"].as_bool()), (200, Some(false)));
    assert!(app.schedule(&id).await.is_none());
    assert_eq!(
        read(app.get(&format!("/jobs/{id}"), &t).await).await.1["job"]["next_execution_at"],
        Value::Null
    );
    let (st, _) = read(
        app.put_json(&format!("/jobs/{id}"), &t, json!({"is_active": true}))
            .await,
    )
    .await;
    assert_eq!(st, 200);
    assert!(app.schedule(&id).await.is_some());

    // Invalid update: 400 and nothing changed (no partial write).
    let (st, v) = read(
        app.put_json(
            &format!("/jobs/{id}"),
            &t,
            json!({"name": "renamed", "cron_expression": "bad"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("Invalid cron expression"))
    );
    assert_eq!(
        read(app.get(&format!("/jobs/{id}"), &t).await).await.1["job"]["name"],
        "s1"
    );

    // Rename frees the old name.
    assert_eq!(
        read(
            app.put_json(&format!("/jobs/{id}"), &t, json!({"name": "s2"}))
                .await
        )
        .await
        .0,
        200
    );
    app.job(&t, json!({"name": "s1", "cron_expression": "0 9 * * *", "end_date": "2031-02-10", "pic_team": "PAM", "target_url": "https://example.com/h"})).await;
    let (st, v) = read(
        app.put_json(&format!("/jobs/{id}"), &t, json!({"name": "s1"}))
            .await,
    )
    .await;
    assert_eq!(
        (st, v["message"].as_str()),
        (400, Some("A job with the name \"s1\" already exists."))
    );

    // No SYNC_PENDING marker left behind after successful syncs.
    assert!(app
        .state
        .store
        .sync_pending_jobs()
        .await
        .unwrap()
        .is_empty());

    // Delete: schedule and job gone.
    let (st, v) = read(app.delete(&format!("/jobs/{id}"), &t).await).await;
    assert_eq!(
        (st, v["deleted_job"]["id"].as_str()),
        (200, Some(id.as_str()))
    );
    assert!(app.schedule(&id).await.is_none());
    assert_eq!(read(app.get(&format!("/jobs/{id}"), &t).await).await.0, 404);
    assert_eq!(
        read(app.delete(&format!("/jobs/{id}"), &t).await).await.0,
        404
    );
}

#[tokio::test]
async fn rbac_and_ownership() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let (_, alice) = app.user("alice", "user").await;
    let (_, bob) = app.user("bob", "user").await;
    let (_, viewer) = app.user("victor", "viewer").await;
    let body = webhook_job("alice-job", "https://example.com/h");
    let (s, v) = read(app.post_json("/jobs", Some(&viewer), body.clone()).await).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (403, Some("User or admin access required"))
    );
    let job = app.job(&alice, body).await;
    let id = job["id"].as_str().unwrap();
    // Viewers read.
    assert_eq!(read(app.get("/jobs", &viewer).await).await.0, 200);
    assert_eq!(
        read(app.get(&format!("/jobs/{id}"), &viewer).await).await.0,
        200
    );
    // Bob may not touch Alice's job.
    let (s, v) = read(
        app.put_json(&format!("/jobs/{id}"), &bob, json!({"is_active": false}))
            .await,
    )
    .await;
    assert_eq!(
        (s, v["message"].as_str()),
        (403, Some("You can only update your own jobs"))
    );
    let (s, v) = read(app.delete(&format!("/jobs/{id}"), &bob).await).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (403, Some("You can only delete your own jobs"))
    );
    let (s, v) = read(
        app.post_json(&format!("/jobs/{id}/execute"), Some(&bob), json!({}))
            .await,
    )
    .await;
    assert_eq!(
        (s, v["message"].as_str()),
        (403, Some("You can only execute your own jobs"))
    );
    assert_eq!(
        read(
            app.put_json(&format!("/jobs/{id}"), &viewer, json!({}))
                .await
        )
        .await
        .0,
        403
    );
    // Alice and the admin may.
    assert_eq!(
        read(
            app.put_json(&format!("/jobs/{id}"), &alice, json!({"is_active": false}))
                .await
        )
        .await
        .0,
        200
    );
    assert_eq!(
        read(
            app.put_json(
                &format!("/jobs/{id}"),
                &app.admin_token,
                json!({"is_active": true})
            )
            .await
        )
        .await
        .0,
        200
    );
    // Job events notify active users.
    let alice_id = app
        .state
        .store
        .find_user_by_login("alice")
        .await
        .unwrap()
        .unwrap()
        .id;
    let titles: Vec<String> = app
        .state
        .store
        .notification_page(&alice_id, false, None, None, 0, 100)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|n| n.title)
        .collect();
    assert_eq!(titles, ["Job Enabled", "Job Disabled", "New Job Created"]);
}

#[tokio::test]
async fn cron_tools() {
    let app = spawn_app().await;
    let (_, viewer) = app.user("victor", "viewer").await;
    let (s, v) = read(
        app.post_json(
            "/jobs/validate-cron",
            Some(&viewer),
            json!({"expression": "0 9 * * MON-FRI"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, v),
        (
            200,
            json!({"valid": true, "message": "Valid cron expression"})
        )
    );
    let (s, v) = read(
        app.post_json(
            "/jobs/validate-cron",
            Some(&viewer),
            json!({"cron_expression": "61 * * * *"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["valid"], false);
    assert_eq!(v["error"], "Invalid cron expression");
    assert_eq!(v["message"], "Error validating expression '61': the last value (61) is higher than the maximum value (59)");
    let r = app
        .http
        .post(app.url("/jobs/validate-cron"))
        .bearer_auth(&viewer)
        .header("content-type", "application/json")
        .body("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(read(r).await.0, 400);

    let (s, v) = read(
        app.post_json(
            "/jobs/cron-preview",
            Some(&viewer),
            json!({"expression": "0 9 * * *", "count": 3}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["timezone"], "Asia/Tokyo");
    assert_eq!(v["count"], 3);
    for run in v["next_runs"].as_array().unwrap() {
        assert!(run.as_str().unwrap().ends_with("T09:00:00+09:00"));
    }
    let (_, v) = read(
        app.post_json(
            "/jobs/cron-preview",
            Some(&viewer),
            json!({"expression": "* * * * *", "count": 50}),
        )
        .await,
    )
    .await;
    assert_eq!(v["count"], 20);
    let (_, v) = read(
        app.post_json(
            "/jobs/cron-preview",
            Some(&viewer),
            json!({"expression": "0 9 31 2 *"}),
        )
        .await,
    )
    .await;
    assert_eq!(v["next_runs"], json!([]));
    let (s, v) = read(
        app.post_json(
            "/jobs/cron-preview",
            Some(&viewer),
            json!({"expression": "bad"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("Invalid cron expression"))
    );
    let (s, _) = read(
        app.post_json(
            "/jobs/cron-preview",
            Some(&viewer),
            json!({"expression": "* * * * *", "count": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn manual_execute_webhook_success_failure_and_overrides() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/ok"))
        .respond_with(ResponseTemplate::new(200).set_body_string("fine"))
        .mount(&hooks)
        .await;
    Mock::given(method("GET"))
        .and(path("/ok"))
        .respond_with(ResponseTemplate::new(200).set_body_string("got"))
        .mount(&hooks)
        .await;
    Mock::given(method("POST"))
        .and(path("/fail"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .mount(&hooks)
        .await;
    Mock::given(method("POST"))
        .and(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(3)))
        .mount(&hooks)
        .await;
    let t = app.admin_token.clone();
    let job = app
        .job(&t, webhook_job("hook", &format!("{}/ok", hooks.uri())))
        .await;
    let id = job["id"].as_str().unwrap();

    let (s, v) = read(
        app.http
            .post(app.url(&format!("/jobs/{id}/execute")))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, v["message"].as_str(), v["status"].as_str()),
        (200, Some("Job triggered successfully"), Some("success"))
    );
    // metadata {} override → GET
    let (_, v) = read(
        app.post_json(
            &format!("/jobs/{id}/execute"),
            Some(&t),
            json!({"metadata": {}}),
        )
        .await,
    )
    .await;
    assert_eq!(v["status"], "success");
    // target_url override → failing endpoint; still 200 (result visible in executions).
    let (s, v) = read(
        app.post_json(
            &format!("/jobs/{id}/execute"),
            Some(&t),
            json!({"target_url": format!("{}/fail", hooks.uri())}),
        )
        .await,
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("failed")));
    let (_, v) = read(
        app.post_json(
            &format!("/jobs/{id}/execute"),
            Some(&t),
            json!({"target_url": format!("{}/slow", hooks.uri())}),
        )
        .await,
    )
    .await;
    assert_eq!(v["status"], "timed_out");
    let (s, v) = read(
        app.post_json(
            &format!("/jobs/{id}/execute"),
            Some(&t),
            json!({"metadata": [1]}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, v["message"].as_str()),
        (400, Some("\"metadata\" must be a JSON object."))
    );

    let (s, v) = read(app.get(&format!("/jobs/{id}/executions"), &t).await).await;
    assert_eq!(s, 200);
    assert_eq!(v["job_name"], "hook");
    let ex = v["executions"].as_array().unwrap();
    assert_eq!(ex.len(), 4);
    // newest first
    assert!(
        ex[0]["error_message"]
            .as_str()
            .unwrap()
            .starts_with("Request failed: timed out"),
        "{}",
        ex[0]
    );
    assert_eq!(ex[1]["error_message"], "Webhook returned status 500");
    assert_eq!(ex[1]["response_status"], 500);
    assert_eq!(ex[1]["output"], "boom");
    assert_eq!(ex[2]["output"], "got");
    assert_eq!(ex[3]["output"], "fine");
    for e in ex {
        assert_eq!(e["trigger_type"], "manual");
        assert_eq!(e["execution_type"], "webhook");
        assert!(e["duration_seconds"].is_number());
    }
    // Filters.
    let (_, v) = read(
        app.get(&format!("/jobs/{id}/executions?status=failed&limit=1"), &t)
            .await,
    )
    .await;
    assert_eq!(v["total_executions"], 1);
    assert_eq!(v["executions"][0]["status"], "failed");
    let (_, v) = read(
        app.get(
            &format!("/jobs/{id}/executions?status=success,failed&trigger_type=scheduled"),
            &t,
        )
        .await,
    )
    .await;
    assert_eq!(v["total_executions"], 0);
    let (_, v) = read(
        app.get(
            &format!("/jobs/{id}/executions?from=2000-01-01&to=2000-01-02"),
            &t,
        )
        .await,
    )
    .await;
    assert_eq!(v["total_executions"], 0);
    for bad in [
        "limit=0",
        "limit=201",
        "limit=x",
        "from=garbage",
        "from=2030-01-02&to=2030-01-01",
    ] {
        assert_eq!(
            read(app.get(&format!("/jobs/{id}/executions?{bad}"), &t).await)
                .await
                .0,
            400,
            "{bad}"
        );
    }
    assert_eq!(
        read(app.get("/jobs/nope/executions", &t).await).await.0,
        404
    );
    // last_execution_at is maintained on the job.
    let (_, v) = read(app.get("/jobs", &t).await).await;
    assert_eq!(v["jobs"][0]["last_execution_at"], ex[0]["started_at"]);
}

#[tokio::test]
async fn manual_execute_github_dispatch_with_extension_retry_and_overrides() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let t = app.admin_token.clone();
    let job = app.job(&t, json!({"name": "gh", "cron_expression": "0 9 * * *", "end_date": "2099-01-01", "pic_team": "PAM",
        "github_owner": "acme", "github_repo": "api", "github_workflow_name": "deploy", "metadata": {"branchDetails": "dev", "x": "1"}})).await;
    let id = job["id"].as_str().unwrap();
    Mock::given(method("POST"))
        .and(path("/repos/acme/api/actions/workflows/deploy/dispatches"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&app.github)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/repos/acme/api/actions/workflows/deploy.yml/dispatches",
        ))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&app.github)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/other/web/actions/workflows/w.yml/dispatches"))
        .and(header("authorization", "Bearer one-off"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&app.github)
        .await;

    let (s, v) = read(
        app.post_json(&format!("/jobs/{id}/execute"), Some(&t), json!({}))
            .await,
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("success")));
    let (_, v) = read(app.post_json(&format!("/jobs/{id}/execute"), Some(&t),
        json!({"dispatch_url": "https://github.com/other/web/actions/workflows/w.yml", "github_owner": "", "github_token": "one-off"})).await).await;
    // An empty github_owner falls back to the job's stored owner, not the dispatch URL's.
    assert_eq!(v["status"], "failed");
    let (_, v) = read(app.post_json(&format!("/jobs/{id}/execute"), Some(&t),
        json!({"dispatch_url": "https://github.com/other/web/actions/workflows/w.yml", "github_token": "one-off"})).await).await;
    assert_eq!(v["status"], "success");
    let (s, v) = read(
        app.post_json(
            &format!("/jobs/{id}/execute"),
            Some(&t),
            json!({"dispatch_url": "https://github.com/x"}),
        )
        .await,
    )
    .await;
    assert_eq!((s, v["error"].as_str()), (400, Some("Invalid payload")));

    let (_, v) = read(
        app.get(&format!("/jobs/{id}/executions?status=success"), &t)
            .await,
    )
    .await;
    let ex = &v["executions"];
    assert_eq!(ex[1]["target"], "acme/api/deploy.yml");
    assert_eq!(ex[1]["execution_type"], "github_actions");
    assert_eq!(
        ex[1]["output"],
        "Workflow triggered successfully on branch dev"
    );
    assert_eq!(ex[0]["target"], "other/web/w.yml");
    let sent: Vec<Value> = app
        .github
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("deploy.yml/dispatches"))
        .map(|r| r.body_json().unwrap())
        .collect();
    assert_eq!(
        sent[0],
        json!({"ref": "dev", "inputs": {"branchDetails": "dev", "x": "1"}})
    );
}

#[tokio::test]
async fn manual_execute_expired_job_is_paused_and_refused() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let t = app.admin_token.clone();
    let job = app
        .job(&t, webhook_job("old", "https://example.com/h"))
        .await;
    let id = job["id"].as_str().unwrap();
    app.expire_job(id, chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap())
        .await;
    let (s, v) = read(
        app.post_json(&format!("/jobs/{id}/execute"), Some(&t), json!({}))
            .await,
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str(), v["message"].as_str()),
        (
            400,
            Some("Job expired"),
            Some("This job has passed its end_date and was auto-paused.")
        )
    );
    let (_, v) = read(app.get(&format!("/jobs/{id}"), &t).await).await;
    assert_eq!(v["job"]["is_active"], false);
    assert!(app.schedule(id).await.is_none());
    // And it cannot be re-enabled without a new end date.
    let (s, v) = read(
        app.put_json(&format!("/jobs/{id}"), &t, json!({"is_active": true}))
            .await,
    )
    .await;
    assert_eq!((s, v["error"].as_str()), (400, Some("Job expired")));
}

#[tokio::test]
async fn taxonomy_endpoints() {
    let app = spawn_app().await;
    let (_, viewer) = app.user("victor", "viewer").await;
    let (s, v) = read(app.get("/job-categories", &viewer).await).await;
    assert_eq!(s, 200);
    let slugs: Vec<&str> = v["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["slug"].as_str().unwrap())
        .collect();
    assert!(slugs.contains(&"general"));
    assert_eq!(slugs.len(), 7);
    let (s, v) = read(
        app.post_json("/job-categories", Some(&viewer), json!({"name": "X"}))
            .await,
    )
    .await;
    assert_eq!(
        (s, v["message"].as_str()),
        (403, Some("Admin access required"))
    );

    // (path, body, status, JSON pointer, expected string), in order.
    let cases = [
        (
            "/job-categories",
            json!({"name": "Nightly Runs"}),
            201,
            "/category/slug",
            "nightly-runs",
        ),
        (
            "/job-categories",
            json!({"name": "nightly runs!"}),
            409,
            "/message",
            "Category slug \"nightly-runs\" already exists.",
        ),
        (
            "/job-categories",
            json!({"name": " "}),
            400,
            "/message",
            "\"name\" is required.",
        ),
        (
            "/job-categories",
            json!({"name": "日本"}),
            400,
            "/error",
            "Invalid slug",
        ),
        (
            "/pic-teams",
            json!({"name": "QA Tech"}),
            400,
            "/message",
            "\"slack_handle\" is required.",
        ),
        (
            "/pic-teams",
            json!({"name": "QA Tech", "slack_handle": "@qa"}),
            201,
            "/pic_team/slug",
            "qa-tech",
        ),
        (
            "/pic-teams",
            json!({"name": "qa  tech", "slack_handle": "@qa"}),
            409,
            "/message",
            "PIC team slug \"qa-tech\" already exists.",
        ),
    ];
    for (path, body, status, pointer, want) in cases {
        let (s, v) = read(
            app.post_json(path, Some(&app.admin_token), body.clone())
                .await,
        )
        .await;
        assert_eq!(
            (s, v.pointer(pointer).and_then(Value::as_str)),
            (status, Some(want)),
            "{path} {body}"
        );
    }
    let (_, v) = read(app.get("/pic-teams?include_inactive=true", &viewer).await).await;
    assert_eq!(v["pic_teams"].as_array().unwrap().len(), 1);
    assert_eq!(v["pic_teams"][0]["slack_handle"], "@qa");
    assert_eq!(
        read(app.get("/pic-teams?include_inactive=maybe", &viewer).await)
            .await
            .0,
        400
    );
}

/// A scheduler failure leaves the job saved and marked for repair, never silently out of step;
/// the repair then creates the schedule and clears the mark.
#[tokio::test]
async fn failed_schedule_call_is_recorded_and_repaired() {
    let app = spawn_app().await;
    app.team("PAM").await;
    // Same table, but a scheduler endpoint that refuses connections: every schedule call fails.
    let sdk = shared::config::sdk_config().await;
    let dead = aws_sdk_scheduler::config::Builder::from(&sdk)
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let broken = shared::state::AppState::new(
        (*app.state.config).clone(),
        aws_sdk_dynamodb::Client::new(&sdk),
        aws_sdk_scheduler::Client::from_conf(dead),
        aws_sdk_sesv2::Client::new(&sdk),
    );
    let base = serve(broken.clone()).await;
    let r = app
        .http
        .post(format!("{base}/jobs"))
        .bearer_auth(&app.admin_token)
        .json(&webhook_job("pending", "https://example.com/h"))
        .send()
        .await
        .unwrap();
    let (s, v) = read(r).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["schedule_sync"], "pending");
    let id = v["job"]["id"].as_str().unwrap().to_string();
    let pending: Vec<String> = app
        .state
        .store
        .sync_pending_jobs()
        .await
        .unwrap()
        .into_iter()
        .map(|(j, _)| j)
        .collect();
    assert_eq!(pending, vec![id.clone()]);

    // Deleting through the broken scheduler fails cleanly: 503, job kept.
    let r = app
        .http
        .delete(format!("{base}/jobs/{id}"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(read(r).await.0, 503);
    assert_eq!(
        read(app.get(&format!("/jobs/{id}"), &app.admin_token).await)
            .await
            .0,
        200
    );

    assert!(app.schedule(&id).await.is_none());

    // Once the scheduler answers again, the repair brings the schedule in line.
    let report = shared::services::maintenance::reconcile(&app.maintenance)
        .await
        .unwrap();
    assert_eq!((report.scheduled_added, report.repaired), (1, 1));
    assert!(app.schedule(&id).await.is_some());
    assert!(app
        .state
        .store
        .sync_pending_jobs()
        .await
        .unwrap()
        .is_empty());
}

/// Nothing a client can send produces a 500: oversized values are 400s, oversized ids 404s.
#[tokio::test]
async fn oversized_inputs_are_client_errors() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let t = app.admin_token.clone();
    let ok = webhook_job("big", "https://example.com/h");
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let huge = "x".repeat(70 * 1024);
    let cases = [
        with("name", json!("n".repeat(300))),
        with("metadata", json!({ "blob": huge })),
        with(
            "target_url",
            json!(format!("https://example.com/{}", "p".repeat(3000))),
        ),
        with("github_repo", json!("r".repeat(300))),
        with(
            "cron_expression",
            json!(format!("{} * * * *", vec!["1"; 150].join(","))),
        ),
        with("enable_email_notifications", json!(true))
            .as_object()
            .map(|m| {
                let mut m = m.clone();
                m.insert(
                    "notification_emails".into(),
                    json!((0..60)
                        .map(|i| format!("u{i}@example.com"))
                        .collect::<Vec<_>>()),
                );
                Value::Object(m)
            })
            .unwrap(),
    ];
    for body in cases {
        let (s, v) = read(app.post_json("/jobs", Some(&t), body).await).await;
        assert_eq!(s, 400, "{v}");
    }
    let long_id = "i".repeat(5000);
    assert_eq!(
        read(app.get(&format!("/jobs/{long_id}"), &t).await).await.0,
        404
    );
    assert_eq!(
        read(app.get(&format!("/jobs/{long_id}/executions"), &t).await)
            .await
            .0,
        404
    );
    assert_eq!(
        read(
            app.put_json(&format!("/jobs/{long_id}"), &t, json!({}))
                .await
        )
        .await
        .0,
        404
    );
    let (s, _) = read(
        app.post_json(
            "/pic-teams",
            Some(&t),
            json!({"name": "t".repeat(300), "slack_handle": "@x"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = read(
        app.post_json(
            "/auth/login",
            None,
            json!({"username": "u".repeat(5000), "password": "secret1"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 400);

    let csv = format!(
        "Job Name,Repo,Workflow Name,Cron,End Date,PIC Team\n{},api,wf,0 9 * * 1,2099-01-01,PAM\n",
        "n".repeat(3000)
    );
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("a.csv"),
    );
    let (s, v) = read(
        app.http
            .post(app.url("/jobs/bulk-upload"))
            .bearer_auth(&t)
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(v["errors"][0]["error"], "Invalid name");
    assert_eq!(read(app.get("/jobs", &t).await).await.1["count"], 0);
}

/// `GET /jobs` of one process, every entry compared with that job's own read.
async fn listed(app: &TestApp) -> Vec<Value> {
    let (s, v) = read(app.get("/jobs", &app.admin_token).await).await;
    assert_eq!(s, 200);
    // Asked again at once: the same list (from the cache when it is trusted), but for the
    // next firing, which the clock may have passed in between.
    let (s, again) = read(app.get("/jobs", &app.admin_token).await).await;
    let timeless = |v: &Value| -> Vec<Value> {
        let mut jobs = v["jobs"].as_array().unwrap().clone();
        jobs.iter_mut()
            .for_each(|j| j["next_execution_at"] = Value::Null);
        jobs
    };
    assert_eq!((s, timeless(&again)), (200, timeless(&v)));
    let jobs = v["jobs"].as_array().unwrap().clone();
    assert_eq!(v["count"], json!(jobs.len()));
    for j in &jobs {
        let (_, one) = read(
            app.get(
                &format!("/jobs/{}", j["id"].as_str().unwrap()),
                &app.admin_token,
            )
            .await,
        )
        .await;
        assert_eq!(*j, one["job"], "list entry = job read");
    }
    jobs
}

/// The list is served from a per-process cache: each kind of write to a job (update, team
/// rename, its creator deleted, a run, delete, create) shows in the very next list. Here the
/// writes come faster than the settle time: every list reads the index.
#[tokio::test]
async fn list_follows_every_write_to_a_job() {
    list_follows_every_write(&spawn_app().await).await;
}

/// The same with a zero settle time (DynamoDB Local's index is read-after-write consistent):
/// a list right after a list is answered from the cache on the unmoved change mark alone
/// (one BatchGetItem), so a write that did not move the mark would show as a stale entry.
#[tokio::test]
async fn list_served_on_the_change_mark_follows_every_write_to_a_job() {
    let app = spawn_app_with(|c| c.job_list_settle = chrono::Duration::zero()).await;
    list_follows_every_write(&app).await;
    // `listed` asks twice after each write; the second is served on the mark.
    assert!(
        app.state.job_list.served_on_mark() >= 7,
        "{}",
        app.state.job_list.served_on_mark()
    );
}

async fn list_follows_every_write(app: &TestApp) {
    app.team("PAM").await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/ok"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hooks)
        .await;
    let (carol_id, carol) = app.user("carol", "user").await;
    let a = app
        .job(
            &carol,
            webhook_job("list-a", &format!("{}/ok", hooks.uri())),
        )
        .await;
    let b = app
        .job(
            &app.admin_token,
            webhook_job("list-b", "https://example.com/b"),
        )
        .await;
    let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let names = |jobs: &[Value]| -> Vec<String> {
        jobs.iter()
            .map(|j| j["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&listed(app).await), ["list-b", "list-a"]);

    let (s, _) = read(
        app.put_json(&format!("/jobs/{a_id}"), &carol, json!({"name": "list-a2"}))
            .await,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(names(&listed(app).await), ["list-b", "list-a2"]);

    let (_, v) = read(app.get("/pic-teams", &app.admin_token).await).await;
    let pam = v["pic_teams"][0]["id"].as_str().unwrap().to_string();
    let (s, _) = read(
        app.put_json(
            &format!("/pic-teams/{pam}"),
            &app.admin_token,
            json!({"name": "Platform"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    let jobs = listed(app).await;
    assert!(jobs.iter().all(|j| j["pic_team"] == "platform"), "{jobs:?}");

    let (s, _) = read(
        app.delete(&format!("/auth/users/{carol_id}"), &app.admin_token)
            .await,
    )
    .await;
    assert_eq!(s, 200);
    let jobs = listed(app).await;
    assert_eq!(jobs[1]["created_by"], Value::Null);

    let (s, v) = read(
        app.http
            .post(app.url(&format!("/jobs/{a_id}/execute")))
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("success")), "{v}");
    let jobs = listed(app).await;
    assert!(jobs[1]["last_execution_at"].is_string(), "{jobs:?}");
    assert_eq!(jobs[0]["last_execution_at"], Value::Null);

    let (s, _) = read(app.delete(&format!("/jobs/{b_id}"), &app.admin_token).await).await;
    assert_eq!(s, 200);
    assert_eq!(names(&listed(app).await), ["list-a2"]);
    let mut c = webhook_job("list-c", "https://example.com/c");
    c["pic_team"] = json!("platform");
    app.job(&app.admin_token, c).await;
    assert_eq!(names(&listed(app).await), ["list-c", "list-a2"]);
}

/// Job names that read the same are the same name (NFKC, case, invisible characters), and
/// names that would display other than they read are refused.
#[tokio::test]
async fn lookalike_names_are_duplicates_and_bidi_or_line_breaks_are_refused() {
    let app = spawn_app().await;
    app.team("PAM").await;
    app.job(
        &app.admin_token,
        webhook_job("Café Sync", "https://example.com/h"),
    )
    .await;
    for name in [
        "café sync",
        "Cafe\u{301} Sync",
        "Caf\u{200B}é Sync",
        "CAFÉ  SYNC",
    ] {
        let (s, v) = read(
            app.post_json(
                "/jobs",
                Some(&app.admin_token),
                webhook_job(name, "https://example.com/h"),
            )
            .await,
        )
        .await;
        assert_eq!(
            (s, v["error"].as_str()),
            (400, Some("Duplicate job name")),
            "{name:?} {v}"
        );
    }
    for name in ["evil\u{202E}gnp.exe", "two\r\nlines", "nul\u{0}byte"] {
        let (s, v) = read(
            app.post_json(
                "/jobs",
                Some(&app.admin_token),
                webhook_job(name, "https://example.com/h"),
            )
            .await,
        )
        .await;
        assert_eq!(
            (s, v["error"].as_str()),
            (400, Some("Invalid name")),
            "{name:?} {v}"
        );
    }
    // A new spelling of its own name is a rename to itself, not a duplicate.
    let (_, list) = read(app.get("/jobs", &app.admin_token).await).await;
    let id = list["jobs"][0]["id"].as_str().unwrap().to_string();
    let (s, v) = read(
        app.put_json(
            &format!("/jobs/{id}"),
            &app.admin_token,
            json!({"name": "CAFÉ SYNC"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    // Deleting it frees the name for every spelling.
    assert_eq!(
        read(app.delete(&format!("/jobs/{id}"), &app.admin_token).await)
            .await
            .0,
        200
    );
    app.job(
        &app.admin_token,
        webhook_job("café sync", "https://example.com/h"),
    )
    .await;
}
