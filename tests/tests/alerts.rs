//! Alerts and the outbox: run e-mail through SES v2 (read back from the emulator), Slack
//! posts at a local receiver, the weekly end-date maintenance, delivery exactly once, and
//! delivery failures that never touch the run (issue: alerts; issue: no lost side effects).

mod common;
use common::*;
use serde_json::{json, Value};
use wiremock::{
    matchers::{method, path},
    Mock, MockServer, ResponseTemplate,
};

/// Messages the SES emulator kept whose subject contains `needle`.
async fn sent_mail(needle: &str) -> Vec<Value> {
    let base = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
    let data: Value = reqwest::get(format!("{base}/moto-api/data.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut out = Vec::new();
    // { "ses": { "Message": { "<account>": { "<region>": [ {...}, ... ] } } } } or similar:
    // walk every object under `ses` and keep those with a matching subject.
    fn walk(v: &Value, needle: &str, out: &mut Vec<Value>) {
        match v {
            Value::Object(m) => {
                if m.get("subject")
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.contains(needle))
                {
                    out.push(v.clone());
                    return;
                }
                m.values().for_each(|x| walk(x, needle, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, needle, out)),
            _ => {}
        }
    }
    walk(&data["ses"], needle, &mut out);
    out
}

async fn slack_receiver() -> MockServer {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&slack)
        .await;
    slack
}

async fn enable_slack(app: &TestApp, slack: &MockServer, run_failures: bool) {
    let (s, v) = read(
        app.http
            .put(format!("{}/settings/slack", app.base))
            .bearer_auth(&app.admin_token)
            .json(&json!({
                "is_enabled": true,
                "webhook_url": format!("{}/hook", slack.uri()),
                "channel": "#ops",
                "notify_run_failures": run_failures,
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
}

async fn slack_posts(slack: &MockServer) -> Vec<Value> {
    slack
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

async fn sweep(app: &TestApp) -> Value {
    maintenance_fn::handle(&app.maintenance, json!({"task": "sweep"}))
        .await
        .unwrap()
}

async fn deliver_fire(app: &TestApp, job_id: &str, at: &str) -> Value {
    executor_fn::handle(
        &app.executor.engine,
        json!({"job_id": job_id, "scheduled_time": at}),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_failed_scheduled_run_emails_posts_and_notifies_once() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let target = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .mount(&target)
        .await;
    let slack = slack_receiver().await;
    enable_slack(&app, &slack, true).await;
    let name = format!("mail-{}", uuid::Uuid::new_v4().simple());
    let mut body = webhook_job(&name, &format!("{}/run", target.uri()));
    body["metadata"] = json!({});
    body["enable_email_notifications"] = json!(true);
    body["notification_emails"] = json!(["ops@example.com", "oncall@example.com"]);
    let job = app.job(&app.admin_token, body).await;
    let id = job["id"].as_str().unwrap();

    let out = deliver_fire(&app, id, &fire(10)).await;
    assert_eq!(out["outcome"], "ran", "{out}");
    assert_eq!(out["execution"]["status"], "failed");
    let exec_id = out["execution"]["id"].as_str().unwrap().to_string();
    // The in-app notice is there at once; e-mail and Slack wait for the outbox worker.
    let (_, n) = read(app.get("/notifications", &app.admin_token).await).await;
    let failed: Vec<&Value> = n["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["related_execution_id"] == exec_id.as_str())
        .collect();
    assert_eq!(failed.len(), 1, "{n}");
    assert_eq!(failed[0]["title"], "Job Failed");
    assert!(sent_mail(&name).await.is_empty());

    let r = sweep(&app).await;
    assert!(r["report"]["delivered"].as_u64().unwrap() >= 2, "{r}");
    let mail = sent_mail(&name).await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    let m = &mail[0];
    assert_eq!(m["subject"], format!("Job Failure: {name}"));
    let text = m.to_string();
    assert!(
        text.contains("ops@example.com") && text.contains("oncall@example.com"),
        "{m}"
    );
    assert!(text.contains("Job Execution Failed"), "{m}");
    assert!(text.contains("Webhook returned status 500"), "{m}");
    assert!(text.contains(id), "{m}");
    let posts = slack_posts(&slack).await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0]["channel"], "#ops");
    let t = posts[0]["text"].as_str().unwrap();
    assert!(
        t.starts_with(":x: @PAM Job failed: <http://localhost:5173/jobs/"),
        "{t}"
    );
    assert!(t.contains(&format!("/jobs/{id}/edit|{name}>")), "{t}");

    // The execution says how its alerts went.
    let (_, e) = read(
        app.get(&format!("/executions/{exec_id}"), &app.admin_token)
            .await,
    )
    .await;
    let e = if e.get("execution").is_some() {
        e["execution"].clone()
    } else {
        e
    };
    assert_eq!(e["alerts"]["email"], "sent", "{e}");
    assert_eq!(e["alerts"]["slack"], "sent", "{e}");

    // The same delivery again (EventBridge retries), and more sweeps: nothing is sent twice.
    let again = deliver_fire(
        &app,
        id,
        &fire_at(10)
            .with_timezone(&chrono_tz::Asia::Tokyo)
            .to_rfc3339(),
    )
    .await;
    assert_eq!(again["outcome"], "duplicate", "{again}");
    sweep(&app).await;
    sweep(&app).await;
    assert_eq!(sent_mail(&name).await.len(), 1);
    assert_eq!(slack_posts(&slack).await.len(), 1);
    let (_, n) = read(app.get("/notifications", &app.admin_token).await).await;
    let count = n["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["related_execution_id"] == exec_id.as_str())
        .count();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn success_mail_only_with_notify_on_success_and_preferences_are_honoured() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let target = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("fine"))
        .mount(&target)
        .await;
    // The admin (admin@example.com) turns success e-mail off.
    let (_, me) = read(app.get("/auth/me", &app.admin_token).await).await;
    let admin_id = me["user"]["id"]
        .as_str()
        .or(me["id"].as_str())
        .unwrap()
        .to_string();
    let r = app
        .http
        .put(format!("{}/auth/users/{admin_id}/preferences", app.base))
        .bearer_auth(&app.admin_token)
        .json(&json!({"email_on_job_success": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let quiet = format!("quiet-{}", uuid::Uuid::new_v4().simple());
    let loud = format!("loud-{}", uuid::Uuid::new_v4().simple());
    let mut ids = Vec::new();
    for (name, on_success) in [(&quiet, false), (&loud, true)] {
        let mut body = webhook_job(name, &format!("{}/ok", target.uri()));
        body["metadata"] = json!({});
        body["enable_email_notifications"] = json!(true);
        body["notification_emails"] = json!(["admin@example.com", "dev@example.com"]);
        body["notify_on_success"] = json!(on_success);
        ids.push(
            app.job(&app.admin_token, body).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    for id in &ids {
        let out = deliver_fire(&app, id, &fire(10)).await;
        assert_eq!(out["execution"]["status"], "success", "{out}");
    }
    sweep(&app).await;
    assert!(sent_mail(&quiet).await.is_empty());
    let mail = sent_mail(&loud).await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0]["subject"], format!("Job Success: {loud}"));
    let text = mail[0].to_string();
    assert!(text.contains("dev@example.com"), "{text}");
    assert!(
        !text.contains("admin@example.com"),
        "preference ignored: {text}"
    );
    assert!(text.contains("Job Completed Successfully"), "{text}");
}

#[tokio::test]
async fn ses_down_during_a_run_leaves_the_run_recorded_and_the_failure_visible() {
    let app = spawn_app().await;
    app.team("PAM").await;
    // Same table, but SES refuses connections.
    let sdk = shared::config::sdk_config().await;
    let dead = aws_sdk_sesv2::config::Builder::from(&sdk)
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let mut broken = shared::state::AppState::new(
        (*app.state.config).clone(),
        aws_sdk_dynamodb::Client::new(&sdk),
        app.scheduler.clone(),
        aws_sdk_sesv2::Client::from_conf(dead),
    );
    broken.engine = broken.engine.clone().with_timeouts(FAST, FAST);
    let target = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&target)
        .await;
    let name = format!("sesdown-{}", uuid::Uuid::new_v4().simple());
    let mut body = webhook_job(&name, &format!("{}/x", target.uri()));
    body["metadata"] = json!({});
    body["enable_email_notifications"] = json!(true);
    body["notification_emails"] = json!(["ops@example.com"]);
    let id = app.job(&app.admin_token, body).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = executor_fn::handle(
        &broken.engine,
        json!({"job_id": id, "scheduled_time": fire(10)}),
    )
    .await
    .unwrap();
    assert_eq!(out["outcome"], "ran");
    assert_eq!(out["execution"]["status"], "failed");
    assert_eq!(
        out["execution"]["error_message"],
        "Webhook returned status 503"
    );
    let exec_id = out["execution"]["id"].as_str().unwrap().to_string();
    let r = maintenance_fn::handle(&broken, json!({"task": "sweep"}))
        .await
        .unwrap();
    assert_eq!(r["report"]["delivery_failures"], 1, "{r}");
    let e = broken.store.get_execution(&exec_id).await.unwrap().unwrap();
    assert_eq!(e.status.as_str(), "failed");
    assert!(
        e.alerts
            .get("email")
            .is_some_and(|s| s.starts_with("failed (attempt 1)")),
        "{:?}",
        e.alerts
    );
    let (status, attempts, err) = broken
        .store
        .outbox_status(&format!("run-{exec_id}-email"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((status.as_str(), attempts), ("pending", 1));
    assert!(err.is_some());
    assert!(sent_mail(&name).await.is_empty());
}

#[tokio::test]
async fn weekly_end_date_maintenance_twice_for_one_week_sends_once() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let slack = slack_receiver().await;
    enable_slack(&app, &slack, false).await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .date_naive();
    let soon = app
        .job(&app.admin_token, {
            let mut b = webhook_job("ends-soon", "https://example.com/h");
            b["end_date"] = json!((today + chrono::Duration::days(3))
                .format("%Y-%m-%d")
                .to_string());
            b
        })
        .await;
    let gone = app
        .job(
            &app.admin_token,
            webhook_job("expired", "https://example.com/h"),
        )
        .await;
    let gone_id = gone["id"].as_str().unwrap();
    app.expire_job(gone_id, today - chrono::Duration::days(2))
        .await;
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let event = json!({"task": "end_date_maintenance", "scheduled_time": at});
    let first = maintenance_fn::handle(&app.maintenance, event.clone())
        .await
        .unwrap();
    let r = &first["report"];
    assert_eq!(r["paused_expired_jobs"], 1, "{first}");
    assert_eq!(r["ending_soon_jobs"], 1, "{first}");
    assert_eq!(r["slack_messages"], 2, "{first}");
    let second = maintenance_fn::handle(&app.maintenance, event)
        .await
        .unwrap();
    let r = &second["report"];
    assert_eq!(r["paused_expired_jobs"], 0, "{second}");
    assert_eq!(r["ending_soon_jobs"], 0, "{second}");
    assert_eq!(r["already_done"], 1, "{second}");
    sweep(&app).await;

    let paused = app.state.store.get_job(gone_id).await.unwrap().unwrap();
    assert!(!paused.is_active);
    let (_, n) = read(app.get("/notifications", &app.admin_token).await).await;
    let titles: Vec<(String, String)> = n["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["type"] == "warning")
        .map(|x| {
            (
                x["title"].as_str().unwrap().to_string(),
                x["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let soon_end = soon["end_date"].as_str().unwrap();
    assert_eq!(
        titles
            .iter()
            .filter(|(t, m)| t == "Job ending soon"
                && m == &format!(
                    "Job \"ends-soon\" ends on {soon_end} JST (3 day(s) left). PIC Team: pam"
                ))
            .count(),
        1,
        "{titles:?}"
    );
    assert_eq!(
        titles
            .iter()
            .filter(|(t, m)| t == "Job auto-paused (end date passed)"
                && m.ends_with("and was auto-paused. PIC Team: pam"))
            .count(),
        1,
        "{titles:?}"
    );
    let posts = slack_posts(&slack).await;
    assert_eq!(posts.len(), 2, "{posts:?}");
    let texts: Vec<&str> = posts.iter().map(|p| p["text"].as_str().unwrap()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t
                .starts_with(":warning: @PAM Job ending soon (3d): <http://localhost:5173/jobs/")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with(":warning: @PAM Job auto-paused (end date passed): <")),
        "{texts:?}"
    );
}

/// The end date passes → the 10-minute reconciliation pauses the job and tells its creator
/// and the admins (in-app, Slack) once → the weekly run, a schedule delivery and another
/// reconciliation send nothing twice.
#[tokio::test]
async fn an_end_date_pause_is_told_once_whichever_path_gets_there_first() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let slack = slack_receiver().await;
    enable_slack(&app, &slack, false).await;
    let (alice_id, alice) = app.user("alice", "user").await;
    let job = app
        .job(
            &alice,
            webhook_job("DR Testing - API - Failback", "https://example.com/h"),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .date_naive();
    app.expire_job(id, today - chrono::Duration::days(1)).await;
    let r = shared::services::maintenance::reconcile(&app.maintenance)
        .await
        .unwrap();
    assert_eq!(r.expired_auto_paused, 1, "{r:?}");
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
    sweep(&app).await;
    let paused_notes = |token: String| {
        let app = &app;
        async move {
            let (_, n) = read(app.get("/notifications", &token).await).await;
            n["notifications"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| {
                    x["title"] == "Job auto-paused (end date passed)" && x["related_job_id"] == id
                })
                .count()
        }
    };
    assert_eq!(paused_notes(alice.clone()).await, 1);
    assert_eq!(paused_notes(app.admin_token.clone()).await, 1);
    let posts = slack_posts(&slack).await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(posts[0]["text"]
        .as_str()
        .unwrap()
        .starts_with(":warning: @PAM Job auto-paused (end date passed): <"));
    // Every other path: nothing more.
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let weekly = maintenance_fn::handle(
        &app.maintenance,
        json!({"task": "end_date_maintenance", "scheduled_time": at}),
    )
    .await
    .unwrap();
    assert_eq!(weekly["report"]["paused_expired_jobs"], 0, "{weekly}");
    assert_eq!(weekly["report"]["notifications_created"], 0, "{weekly}");
    deliver_fire(&app, id, &at).await;
    shared::services::maintenance::reconcile(&app.maintenance)
        .await
        .unwrap();
    // Reactivated with the same (past) end date behind the API's back, then paused again:
    // paused, but the notices of that end date are not sent twice.
    let stored = app.state.store.get_job(id).await.unwrap().unwrap();
    let mut active = stored.clone();
    active.is_active = true;
    app.state
        .store
        .update_job(&stored, &active, "t", &[], None)
        .await
        .unwrap();
    let r = shared::services::maintenance::reconcile(&app.maintenance)
        .await
        .unwrap();
    assert_eq!(r.expired_auto_paused, 1, "{r:?}");
    sweep(&app).await;
    assert_eq!(paused_notes(alice).await, 1);
    assert_eq!(paused_notes(app.admin_token.clone()).await, 1);
    assert_eq!(slack_posts(&slack).await.len(), 1);
    let _ = alice_id;
}

#[tokio::test]
async fn a_write_whose_request_was_cut_off_still_gets_its_notice_from_the_worker() {
    let app = spawn_app().await;
    app.team("PAM").await;
    // The job write and its notice commit together; the writer "dies" before delivering it.
    let job = shared::domain::Job {
        id: uuid::Uuid::new_v4().to_string(),
        ..serde_json::from_value::<shared::domain::Job>(json!({
            "id": "x", "name": "cut-off", "cron_expression": "0 9 * * 1",
            "target_url": "https://example.com/h", "github_owner": null, "github_repo": null,
            "github_workflow_name": null, "metadata": "{}", "category": "general",
            "end_date": null, "pic_team": "pam", "enable_email_notifications": false,
            "notification_emails": [], "notify_on_success": false, "created_by": null,
            "is_active": true, "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap()
    };
    let notice = shared::store::outbox::OutboxTask::new(
        format!("job-{}-t1-notify", job.id),
        shared::store::outbox::Task::Notify {
            audience: shared::store::outbox::Audience::ActiveUsers,
            title: "New Job Created".into(),
            message: "Job \"cut-off\" was created by admin@example.com.".into(),
            level: shared::domain::Level::Info,
            related_job_id: Some(job.id.clone()),
            related_execution_id: None,
        },
    );
    app.state
        .store
        .create_job(&job, "t1", std::slice::from_ref(&notice), None)
        .await
        .unwrap();
    assert!(app.schedule(&job.id).await.is_none());
    let r = sweep(&app).await;
    assert_eq!(r["report"]["delivered"], 1, "{r}");
    assert_eq!(r["report"]["schedules_repaired"], 1, "{r}");
    assert!(app.schedule(&job.id).await.is_some());
    let (_, n) = read(app.get("/notifications", &app.admin_token).await).await;
    assert_eq!(
        n["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["related_job_id"] == job.id.as_str() && x["title"] == "New Job Created")
            .count(),
        1
    );
    // Delivered once: re-enqueuing the same task is refused, a second sweep sends nothing.
    assert!(app.state.store.enqueue(&[notice]).await.unwrap().is_empty());
    let r = sweep(&app).await;
    assert_eq!(r["report"]["delivered"], 0, "{r}");
}

/// A delivery whose lease expired and was taken over cannot overwrite the new owner's
/// result: every outcome write is conditional on the lease's token.
#[tokio::test]
async fn a_delivery_that_lost_its_lease_cannot_overwrite_the_new_owner() {
    use shared::store::outbox::{OutboxTask, Task};
    let app = spawn_app().await;
    let store = &app.state.store;
    let task = OutboxTask::new(
        "lease-test-slack",
        Task::Slack {
            text: "hello".into(),
            execution_id: None,
        },
    );
    assert_eq!(store.enqueue(&[task]).await.unwrap().len(), 1);
    let slow = store
        .lease_outbox("lease-test-slack")
        .await
        .unwrap()
        .unwrap();
    // Held: nobody else can take it.
    assert!(store
        .lease_outbox("lease-test-slack")
        .await
        .unwrap()
        .is_none());
    // The lease runs out (moved into the past here) and another delivery takes the task over.
    make_outbox_task_due(store, "lease-test-slack").await;
    let owner = store
        .lease_outbox("lease-test-slack")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner.attempts, 2);
    // The new owner fails and schedules a retry; the slow one's late "delivered" is dropped.
    store
        .settle_outbox(&owner, &Err("Slack answered 500".into()))
        .await
        .unwrap();
    store.settle_outbox(&slow, &Ok(())).await.unwrap();
    store.requeue_outbox(&slow).await.unwrap();
    let (status, attempts, err) = store
        .outbox_status("lease-test-slack")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (status.as_str(), attempts, err.as_deref()),
        ("pending", 2, Some("Slack answered 500"))
    );
}
