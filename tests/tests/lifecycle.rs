//! History lifecycle (issue 8): a deleted job's history is removed asynchronously and hidden
//! at once; executions and notifications past retention are hidden, counted out and folded
//! out of the counters; a run's time is kept off the job item.

mod common;
use chrono::{Duration, Utc};
use common::*;
use shared::store::{Execution, Notification};

fn execution(job_id: &str, started_at: chrono::DateTime<Utc>, status: &str) -> Execution {
    Execution {
        id: uuid::Uuid::new_v4().to_string(),
        job_id: job_id.to_string(),
        status: shared::domain::ExecutionStatus::parse(status).expect("a contract status"),
        trigger_type: shared::domain::Trigger::Scheduled,
        started_at,
        completed_at: Some(started_at + Duration::seconds(1)),
        duration_seconds: Some(1.0),
        execution_type: Some(shared::domain::ExecutionType::Webhook),
        target: Some("https://example.com/hook".into()),
        response_status: Some(200),
        error_message: None,
        output: None,
        scheduled_time: Some(started_at),
        start_delay_ms: Some(0),
        alerts: Default::default(),
        attempts: Vec::new(),
    }
}

async fn seed(app: &TestApp, job_id: &str, n: usize, newest: chrono::DateTime<Utc>) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let e = execution(job_id, newest - Duration::minutes(i as i64), "success");
        assert!(app.state.store.import_execution(&e).await.unwrap());
        ids.push(e.id);
    }
    ids
}

async fn total(app: &TestApp, path: &str) -> i64 {
    let (s, v) = read(app.get(path, &app.admin_token).await).await;
    assert_eq!(s, 200, "{path}: {v}");
    v["total"]
        .as_i64()
        .or_else(|| v["total_executions"].as_i64())
        .unwrap_or_else(|| panic!("{path}: no total in {v}"))
}

async fn unread(app: &TestApp, token: &str) -> i64 {
    let (_, v) = read(app.get("/notifications/unread-count", token).await).await;
    v["unread_count"].as_i64().unwrap()
}

/// Items left in a partition (whose SK starts with `prefix`, any SK when empty).
async fn partition_len(app: &TestApp, pk: &str, prefix: &str) -> usize {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    let q = app
        .state
        .store
        .client()
        .query()
        .table_name(app.state.store.table())
        .expression_attribute_values(":p", S(pk.into()));
    let q = if prefix.is_empty() {
        q.key_condition_expression("PK = :p")
    } else {
        q.key_condition_expression("PK = :p AND begins_with(SK, :s)")
            .expression_attribute_values(":s", S(prefix.into()))
    };
    q.send().await.unwrap().count as usize
}

#[tokio::test]
async fn deleting_a_job_hides_its_runs_at_once_and_purges_them_in_resumable_slices() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let t = app.admin_token.clone();
    let doomed = app
        .job(&t, webhook_job("doomed", "https://example.com/a"))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let kept = app
        .job(&t, webhook_job("kept", "https://example.com/b"))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Spread over three UTC hours so the purge has several counter items to move.
    let now = Utc::now();
    let doomed_runs = seed(&app, &doomed, 150, now).await;
    seed(&app, &kept, 5, now).await;
    assert_eq!(total(&app, "/executions?limit=100").await, 155);

    let (s, v) = read(app.delete(&format!("/jobs/{doomed}"), &t).await).await;
    assert_eq!(s, 200, "{v}");

    // Hidden at once: no list row, no lookup by id, no job-scoped read.
    let (_, page) = read(app.get("/executions?limit=100", &t).await).await;
    let rows = page["executions"].as_array().unwrap();
    assert!(rows.iter().all(|r| r["job_id"] == kept.as_str()), "{page}");
    assert_eq!(rows.len(), 5);
    let (s, _) = read(
        app.get(&format!("/executions/{}", doomed_runs[0]), &t)
            .await,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = read(app.get(&format!("/jobs/{doomed}/executions"), &t).await).await;
    assert_eq!(s, 404);
    // The purge is an outbox task written with the delete, not yet performed.
    let task = format!("purge-{doomed}");
    let (status, _, _) = app.state.store.outbox_status(&task).await.unwrap().unwrap();
    assert_eq!(status, "pending");
    // The all-time totals leave the job at once (its `TOTAL` counter is moved by the delete).
    assert_eq!(total(&app, "/executions?limit=100").await, 5);
    let (_, stats) = read(app.get("/executions/statistics", &t).await).await;
    assert_eq!(stats["total_executions"], 5, "{stats}");
    assert_eq!(
        partition_len(&app, &format!("JOB#{doomed}"), "EXEC#").await,
        150
    );

    // Slices that each stop at once (deadline already passed) still finish, and moving the
    // counters item by item never subtracts twice.
    let mut slices = 0;
    while !app
        .state
        .store
        .purge_job_history(&doomed, std::time::Instant::now())
        .await
        .unwrap()
    {
        slices += 1;
        assert!(slices < 500, "purge does not converge");
    }
    assert!(slices >= 2, "expected several slices, got {slices}");
    assert_eq!(
        partition_len(&app, &format!("JOB#{doomed}"), "EXEC#").await,
        0
    );
    assert_eq!(
        partition_len(&app, &format!("XSTAT#JOB#{doomed}"), "").await,
        0
    );
    assert_eq!(total(&app, "/executions?limit=100").await, 5);
    let (_, stats) = read(app.get("/executions/statistics", &t).await).await;
    assert_eq!(stats["total_executions"], 5, "{stats}");
    assert_eq!(total(&app, &format!("/jobs/{kept}/executions")).await, 5);

    // The task itself: the worker finds nothing left and settles it.
    app.state.alerts.drain(5).await.unwrap();
    let (status, _, _) = app.state.store.outbox_status(&task).await.unwrap().unwrap();
    assert_eq!(status, "delivered");
    assert_eq!(total(&app, "/executions?limit=100").await, 5);
}

#[tokio::test]
async fn history_past_retention_is_hidden_counted_out_and_folded_daily() {
    let app = spawn_app_with(|c| c.retention_days = Some(2)).await;
    app.team("PAM").await;
    let t = app.admin_token.clone();
    let job = app
        .job(&t, webhook_job("retained", "https://example.com/r"))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let floor = app.state.store.history_floor().unwrap();
    let old_day = floor - Duration::hours(12);
    let old = seed(&app, &job, 2, old_day).await;
    seed(&app, &job, 1, floor + Duration::hours(1)).await;
    let newest = Utc::now() - Duration::minutes(5);
    seed(&app, &job, 3, newest).await;

    // TTL one day after the day leaves the window.
    let item = app
        .state
        .store
        .client()
        .query()
        .table_name(app.state.store.table())
        .index_name("GSI1")
        .key_condition_expression("GSI1PK = :p")
        .expression_attribute_values(
            ":p",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("EXEC#{}", old[0])),
        )
        .send()
        .await
        .unwrap()
        .items
        .unwrap()
        .remove(0);
    let ttl: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
    // Day D is shown until D + 2 (retention) ends, deleted from D + 4 on.
    let day = floor - Duration::days(1);
    assert_eq!(ttl, (day + Duration::days(4)).timestamp());

    let check = |label: &'static str| {
        let app = &app;
        let t = t.clone();
        let job = job.clone();
        let old = old.clone();
        async move {
            assert_eq!(total(app, "/executions").await, 4, "{label}");
            assert_eq!(
                total(app, "/executions?from=1970-01-01").await,
                4,
                "{label}"
            );
            assert_eq!(
                total(app, &format!("/jobs/{job}/executions")).await,
                4,
                "{label}"
            );
            let (_, stats) = read(app.get("/executions/statistics", &t).await).await;
            assert_eq!(stats["total_executions"], 4, "{label}: {stats}");
            let (_, page) = read(app.get("/executions?limit=100", &t).await).await;
            assert_eq!(page["executions"].as_array().unwrap().len(), 4, "{label}");
            let (s, _) = read(app.get(&format!("/executions/{}", old[0]), &t).await).await;
            assert_eq!(s, 404, "{label}");
        }
    };
    check("before folding").await;

    // Notifications: one past retention, one current, both unread.
    let unread_at_start = unread(&app, &t).await;
    let admin = app
        .state
        .store
        .find_user_by_login("admin")
        .await
        .unwrap()
        .unwrap();
    for (i, at) in [old_day, newest].into_iter().enumerate() {
        let n = Notification {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: admin.id.clone(),
            title: format!("n{i}"),
            message: "m".into(),
            kind: shared::domain::Level::Info,
            related_job_id: None,
            related_execution_id: None,
            is_read: false,
            read_at: None,
            created_at: at,
        };
        assert!(app.state.store.import_notification(&n).await.unwrap());
    }
    assert_eq!(unread(&app, &t).await, unread_at_start + 1);
    let (_, list) = read(app.get("/notifications?per_page=100", &t).await).await;
    assert!(
        list["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["title"] != "n0"),
        "{list}"
    );

    // The daily pass folds the expired day out of every scope, once.
    let report = shared::services::maintenance::expire_history(&app.maintenance)
        .await
        .unwrap();
    assert!(report.days_folded >= 3, "{report:?}");
    let again = shared::services::maintenance::expire_history(&app.maintenance)
        .await
        .unwrap();
    assert_eq!(again.days_folded, 0);
    let day = format!("D#{}", old_day.format("%Y-%m-%d"));
    assert_eq!(
        partition_len(&app, &format!("XSTAT#JOB#{job}"), &day).await,
        0
    );
    check("after folding").await;
    assert_eq!(unread(&app, &t).await, unread_at_start + 1);

    // Folded scopes are marked and read without looking for expired days; an import of a run
    // already past retention moves the mark back, so it is still counted out until folded.
    let late = seed(&app, &job, 1, old_day).await;
    check("old run imported after folding").await;
    let report = shared::services::maintenance::expire_history(&app.maintenance)
        .await
        .unwrap();
    assert!(report.days_folded >= 2, "{report:?}");
    check("folded again").await;
    let (s, _) = read(app.get(&format!("/executions/{}", late[0]), &t).await).await;
    assert_eq!(s, 404);

    // The job's last run comes from its counter item (the import moved it forward only).
    let (_, j) = read(app.get(&format!("/jobs/{job}"), &t).await).await;
    let last = j["job"]["last_execution_at"].as_str().unwrap().to_string();
    assert!(
        last.starts_with(&newest.naive_utc().format("%Y-%m-%dT%H:%M:%S").to_string()),
        "{last} vs {newest}"
    );
}

#[tokio::test]
async fn offset_pages_over_weeks_of_history_match_the_full_order() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let t = app.admin_token.clone();
    let job = app
        .job(&t, webhook_job("weeks", "https://example.com/w"))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // 30 runs 16 hours apart: 20 days, several 7-day counter windows.
    let now = Utc::now();
    let mut expected = Vec::new();
    for i in 0..30 {
        let e = execution(&job, now - Duration::hours(16 * i), "success");
        assert!(app.state.store.import_execution(&e).await.unwrap());
        expected.push(e.id);
    }
    for path in ["/executions", &format!("/executions?job_id={job}")] {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut seen = Vec::new();
        for page in 1..=7 {
            let (s, v) = read(
                app.get(&format!("{path}{sep}limit=5&page={page}"), &t)
                    .await,
            )
            .await;
            assert_eq!(s, 200, "{v}");
            assert_eq!(v["total"], 30, "{path} page {page}: {v}");
            seen.extend(
                v["executions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].as_str().unwrap().to_string()),
            );
        }
        assert_eq!(seen, expected, "{path}");
    }
}

/// A history purge that keeps failing is never given up (its job's totals were already being
/// moved): it stays pending with a capped backoff, and the scheduler status shows it.
#[tokio::test]
async fn a_failing_history_purge_is_retried_until_done_and_visible_meanwhile() {
    use shared::store::outbox::{OutboxTask, Task};
    let app = spawn_app().await;
    let store = &app.state.store;
    let task = OutboxTask::new(
        "purge-gone-job",
        Task::PurgeJobHistory {
            job_id: "gone-job".into(),
        },
    );
    store.enqueue(&[task]).await.unwrap();
    async fn status(app: &TestApp) -> i64 {
        let (s, v) = read(app.get("/scheduler/status", &app.admin_token).await).await;
        assert_eq!(s, 200, "{v}");
        v["history_purges_pending"].as_i64().unwrap()
    }
    assert_eq!(status(&app).await, 1);
    assert_eq!(store.pending_purges().await.unwrap(), vec!["gone-job"]);
    // Failing far past the attempts other tasks get: still pending, due again within an hour.
    for _ in 0..(shared::store::outbox::MAX_ATTEMPTS + 2) {
        let leased = store.lease_outbox("purge-gone-job").await.unwrap().unwrap();
        store
            .settle_outbox(&leased, &Err("throttled".into()))
            .await
            .unwrap();
        make_outbox_task_due(store, "purge-gone-job").await;
    }
    let (st, attempts, _) = store
        .outbox_status("purge-gone-job")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (st.as_str(), attempts),
        ("pending", shared::store::outbox::MAX_ATTEMPTS + 2)
    );
    assert_eq!(status(&app).await, 1);
    // The next delivery succeeds (nothing left to purge): gone from the status.
    shared::services::maintenance::sweep(&app.maintenance)
        .await
        .unwrap();
    let (st, _, _) = store
        .outbox_status("purge-gone-job")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(st, "delivered");
    assert_eq!(status(&app).await, 0);
}
