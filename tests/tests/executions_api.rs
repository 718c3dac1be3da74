//! Execution reads over HTTP (api-contract §3.7): the global list with its filters, pages
//! and joined job fields, statistics from counters (also under concurrent runs), one run by
//! id, a job's statistics, and history leaving with its job.

mod common;
use common::*;
use serde_json::{json, Value};
use wiremock::{
    matchers::{method, path},
    Mock, MockServer, ResponseTemplate,
};

async fn get_ok(app: &TestApp, url: &str) -> Value {
    let (s, v) = read(app.get(url, &app.admin_token).await).await;
    assert_eq!(s, 200, "{url}: {v}");
    v
}

async fn run(app: &TestApp, id: &str) -> String {
    let (s, v) = read(
        app.post_json(
            &format!("/jobs/{id}/execute"),
            Some(&app.admin_token),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v["execution_id"].as_str().unwrap().to_string()
}

async fn hooks() -> MockServer {
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/ok"))
        .respond_with(ResponseTemplate::new(200).set_body_string("fine"))
        .mount(&hooks)
        .await;
    Mock::given(method("POST"))
        .and(path("/bad"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&hooks)
        .await;
    hooks
}

#[tokio::test]
async fn global_list_filters_pages_and_statistics() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let hooks = hooks().await;
    let ok = app
        .job(
            &app.admin_token,
            webhook_job("ok-job", &format!("{}/ok", hooks.uri())),
        )
        .await;
    let bad = app
        .job(
            &app.admin_token,
            webhook_job("bad-job", &format!("{}/bad", hooks.uri())),
        )
        .await;
    let (ok_id, bad_id) = (ok["id"].as_str().unwrap(), bad["id"].as_str().unwrap());
    let mut order = Vec::new();
    for id in [ok_id, bad_id, ok_id, ok_id, bad_id] {
        order.push(run(&app, id).await);
    }
    order.reverse(); // newest first

    let v = get_ok(&app, "/executions").await;
    assert_eq!(
        (
            v["total"].as_i64(),
            v["page"].as_i64(),
            v["limit"].as_i64(),
            v["total_pages"].as_i64()
        ),
        (Some(5), Some(1), Some(20), Some(1))
    );
    let got: Vec<&str> = v["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, order);
    let first = &v["executions"][0];
    assert_eq!(
        (first["job_name"].as_str(), first["status"].as_str()),
        (Some("bad-job"), Some("failed"))
    );
    assert!(first.get("github_repo").is_some());
    assert_eq!(first["scheduled_time"], Value::Null);

    // Pages of two walk the same order.
    let mut paged = Vec::new();
    for page in 1..=3 {
        let v = get_ok(&app, &format!("/executions?page={page}&limit=2")).await;
        assert_eq!(v["total_pages"], 3);
        paged.extend(
            v["executions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_string()),
        );
    }
    assert_eq!(paged, order);
    assert!(
        get_ok(&app, "/executions?page=9&limit=2").await["executions"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Filters: totals agree with the rows.
    for (q, n) in [
        ("status=failed", 2),
        ("status=failed,running", 2),
        ("status=success", 3),
        ("trigger_type=manual", 5),
        ("trigger_type=scheduled", 0),
        ("execution_type=webhook", 5),
        ("execution_type=github_actions", 0),
        ("status=bogus", 0),
    ] {
        let v = get_ok(&app, &format!("/executions?{q}")).await;
        assert_eq!(v["total"].as_i64(), Some(n), "{q}");
        assert_eq!(v["executions"].as_array().unwrap().len() as i64, n, "{q}");
    }
    let v = get_ok(&app, &format!("/executions?job_id={ok_id}&limit=2&page=2")).await;
    assert_eq!(
        (
            v["total"].as_i64(),
            v["executions"].as_array().unwrap().len()
        ),
        (Some(3), 1)
    );
    assert_eq!(v["executions"][0]["job_name"], "ok-job");
    let v = get_ok(&app, &format!("/executions?job_id={bad_id}&status=success")).await;
    assert_eq!(v["total"], 0);

    // Statistics, with and without a range.
    let st = get_ok(&app, "/executions/statistics").await;
    assert_eq!(
        (
            st["total_executions"].as_i64(),
            st["successful_executions"].as_i64(),
            st["failed_executions"].as_i64(),
            st["running_executions"].as_i64()
        ),
        (Some(5), Some(3), Some(2), Some(0))
    );
    assert_eq!(st["success_rate"].as_f64(), Some(60.0));
    assert!(st["average_duration_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(st["range"], Value::Null);
    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let st = get_ok(
        &app,
        &format!("/executions/statistics?from={today}&to={today}"),
    )
    .await;
    assert_eq!(st["total_executions"], 5);
    assert_eq!(st["range"]["to"], format!("{tomorrow}T00:00:00.000000Z"));
    let day_ago = (chrono::Utc::now() - chrono::Duration::hours(24))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert_eq!(
        get_ok(&app, &format!("/executions/statistics?from={day_ago}")).await["failed_executions"],
        2
    );
    assert_eq!(
        get_ok(
            &app,
            &format!("/executions?status=failed,running&from={day_ago}")
        )
        .await["total"],
        2
    );
    assert_eq!(
        get_ok(&app, &format!("/executions/statistics?from={tomorrow}")).await["total_executions"],
        0
    );
    let st = get_ok(&app, &format!("/executions/statistics?job_id={bad_id}")).await;
    assert_eq!(
        (st["total_executions"].as_i64(), st["success_rate"].as_f64()),
        (Some(2), Some(0.0))
    );

    // A job's statistics and one run.
    let js = get_ok(&app, &format!("/jobs/{ok_id}/executions/stats")).await;
    assert_eq!(js["statistics"]["total_executions"], 3);
    assert_eq!(js["statistics"]["success_count"], 3);
    assert_eq!(js["statistics"]["success_rate"], 100.0);
    assert!(js["statistics"]["average_duration_seconds"]
        .as_f64()
        .is_some());
    assert_eq!(js["latest_execution"]["id"], order[1]);
    let js = get_ok(&app, &format!("/jobs/{bad_id}/executions/stats")).await;
    assert_eq!(js["statistics"]["average_duration_seconds"], Value::Null);
    let one = get_ok(&app, &format!("/jobs/{ok_id}/executions/{}", order[1])).await;
    assert_eq!(one["job"], json!({"id": ok_id, "name": "ok-job"}));
    assert_eq!(one["execution"]["output"], "fine");
    let (s, v) = read(
        app.get(
            &format!("/jobs/{bad_id}/executions/{}", order[1]),
            &app.admin_token,
        )
        .await,
    )
    .await;
    assert_eq!((s, v["error"].as_str()), (404, Some("Execution not found")));
    let g = get_ok(&app, &format!("/executions/{}", order[0])).await;
    assert_eq!(g["execution"]["job_name"], "bad-job");
    let (s, v) = read(app.get("/executions/nope", &app.admin_token).await).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (404, Some("No execution found with ID: nope"))
    );

    // Bad queries are 400.
    for q in [
        "page=0",
        "limit=0",
        "limit=201",
        "from=garbage",
        &format!("from={tomorrow}&to={today}"),
    ] {
        let (s, _) = read(app.get(&format!("/executions?{q}"), &app.admin_token).await).await;
        assert_eq!(s, 400, "{q}");
    }

    // Deleting a job takes its history out of every read.
    assert_eq!(
        read(
            app.delete(&format!("/jobs/{bad_id}"), &app.admin_token)
                .await
        )
        .await
        .0,
        200
    );
    let v = get_ok(&app, "/executions").await;
    assert_eq!(
        (
            v["total"].as_i64(),
            v["executions"].as_array().unwrap().len()
        ),
        (Some(3), 3)
    );
    assert_eq!(
        get_ok(&app, "/executions/statistics").await["failed_executions"],
        0
    );
    assert_eq!(
        read(
            app.get(&format!("/executions/{}", order[0]), &app.admin_token)
                .await
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn concurrent_runs_all_count_and_scheduled_runs_record_their_plan() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let hooks = hooks().await;
    let job = app
        .job(
            &app.admin_token,
            webhook_job("busy", &format!("{}/ok", hooks.uri())),
        )
        .await;
    let id = job["id"].as_str().unwrap().to_string();
    let runs = (0..8).map(|_| run(&app, &id));
    futures::future::join_all(runs).await;
    let st = get_ok(&app, "/executions/statistics").await;
    assert_eq!(
        (
            st["total_executions"].as_i64(),
            st["successful_executions"].as_i64()
        ),
        (Some(8), Some(8))
    );
    assert_eq!(
        get_ok(&app, &format!("/jobs/{id}/executions/stats")).await["statistics"]
            ["total_executions"],
        8
    );

    // A scheduled delivery records its planned time and how late it started.
    let planned = chrono::Utc::now() - chrono::Duration::seconds(3);
    let at = planned.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let out = executor_fn::handle(
        &app.executor.engine,
        json!({"job_id": id, "scheduled_time": at}),
    )
    .await
    .unwrap();
    assert_eq!(out["outcome"], "ran");
    let e = &out["execution"];
    assert_eq!(e["scheduled_time"].as_str().unwrap()[..19], at[..19]);
    assert!(e["start_delay_ms"].as_i64().unwrap() >= 2000, "{e}");
    let v = get_ok(&app, "/executions?trigger_type=scheduled").await;
    assert_eq!(
        (v["total"].as_i64(), v["executions"][0]["id"].clone()),
        (Some(1), e["id"].clone())
    );
}
