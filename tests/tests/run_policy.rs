//! Issue 23 over HTTP and through the executor's handler: retries with attempts, per-job
//! time zones, backfill, overlap policies, the catch-up window, pause after failures and
//! pause notes, and the policy fields' validation on every door.

mod common;
use common::*;
use serde_json::{json, Value};
use std::time::Duration;
use wiremock::{
    matchers::{method, path},
    Mock, MockServer, ResponseTemplate,
};

async fn job_with(app: &TestApp, name: &str, url: &str, extra: Value) -> String {
    let mut body = webhook_job(name, url);
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.job(&app.admin_token, body).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn retries_until_success_and_never_on_other_4xx() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/flaky"))
        .respond_with(ResponseTemplate::new(503).set_body_string("busy"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&hooks)
        .await;
    Mock::given(method("POST"))
        .and(path("/flaky"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .with_priority(2)
        .mount(&hooks)
        .await;
    Mock::given(method("POST"))
        .and(path("/bad"))
        .respond_with(ResponseTemplate::new(400))
        .expect(1)
        .mount(&hooks)
        .await;
    let retry = json!({"retry_policy": {"maximum_attempts": 3, "initial_interval_seconds": 1, "backoff_coefficient": 1.0}});
    let flaky = job_with(
        &app,
        "flaky",
        &format!("{}/flaky", hooks.uri()),
        retry.clone(),
    )
    .await;
    let bad = job_with(&app, "bad", &format!("{}/bad", hooks.uri()), retry).await;

    let out = deliver(&app, &flaky, &fire(3)).await;
    assert_eq!(out["outcome"], "ran", "{out}");
    let ex = executions(&app, &flaky).await;
    assert_eq!(ex.len(), 1, "one execution whatever the attempts");
    let e = &ex[0];
    assert_eq!(e["status"], "success", "{e}");
    let attempts = e["attempts"].as_array().unwrap();
    assert_eq!(
        attempts
            .iter()
            .map(|a| (a["status"].as_str().unwrap(), a["response_status"].as_u64()))
            .collect::<Vec<_>>(),
        [
            ("failed", Some(503)),
            ("failed", Some(503)),
            ("success", Some(200))
        ]
    );
    // Counted once in the statistics.
    let (_, st) = read(
        app.get(&format!("/jobs/{flaky}/executions/stats"), &app.admin_token)
            .await,
    )
    .await;
    assert_eq!(st["statistics"]["total_executions"], 1, "{st}");
    assert_eq!(st["statistics"]["success_count"], 1, "{st}");

    deliver(&app, &bad, &fire(3)).await;
    let e = &executions(&app, &bad).await[0];
    assert_eq!(e["status"], "failed");
    assert_eq!(
        e["attempts"].as_array().unwrap().len(),
        1,
        "a 400 is not retried"
    );
}

/// A job whose policy would wait 60 s before its second attempt (which would park the run),
/// answered once with `status` and the `Retry-After` value `retry_after()` gives at that
/// moment, then 204: the run ends in success after two attempts, the wait the answer's.
async fn retried_at_the_answers_retry_after(
    status: u16,
    retry_after: impl Fn() -> String + Send + Sync + 'static,
) {
    let app = spawn_app().await;
    app.team("PAM").await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/limited"))
        .respond_with(move |_: &wiremock::Request| {
            ResponseTemplate::new(status).insert_header("Retry-After", retry_after())
        })
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&hooks)
        .await;
    Mock::given(method("POST"))
        .and(path("/limited"))
        .respond_with(ResponseTemplate::new(204))
        .with_priority(2)
        .mount(&hooks)
        .await;
    let id = job_with(
        &app,
        "limited",
        &format!("{}/limited", hooks.uri()),
        json!({"retry_policy": {"maximum_attempts": 2, "initial_interval_seconds": 60}}),
    )
    .await;
    let started = std::time::Instant::now();
    deliver(&app, &id, &fire(3)).await;
    let e = &executions(&app, &id).await[0];
    assert_eq!(e["status"], "success", "{e}");
    assert_eq!(e["attempts"].as_array().unwrap().len(), 2);
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    retried_at_the_answers_retry_after(429, || "1".into()).await;
}

#[tokio::test]
async fn a_503_is_retried_at_its_retry_after_date() {
    // Two seconds after the answer, in whole seconds: a wait of 1-2 s.
    retried_at_the_answers_retry_after(503, || {
        httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2))
    })
    .await;
}

#[tokio::test]
async fn a_job_lives_in_its_own_time_zone() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let mut body = webhook_job("ny", "https://example.com/h");
    body["cron_expression"] = json!("0 9 * * *");
    body["timezone"] = json!("America/New_York");
    let job = app.job(&app.admin_token, body).await;
    let id = job["id"].as_str().unwrap();
    assert_eq!(job["timezone"], "America/New_York");
    let schedule = app.schedule(id).await.expect("a schedule");
    assert_eq!(schedule.timezone, "America/New_York");
    assert_eq!(schedule.expression, "cron(0 9 * * ? *)");

    let (_, v) = read(app.get(&format!("/jobs/{id}"), &app.admin_token).await).await;
    let next = v["job"]["next_execution_at"].as_str().unwrap().to_string();
    let t = chrono::DateTime::parse_from_rfc3339(&next).unwrap();
    let ny = t.with_timezone(&chrono_tz::America::New_York);
    assert_eq!(ny.format("%H:%M").to_string(), "09:00", "{next}");
    let utc_hour = t.with_timezone(&chrono::Utc).format("%H").to_string();
    assert!(utc_hour == "13" || utc_hour == "14", "{next}");

    let (s, p) = read(
        app.post_json(
            "/jobs/cron-preview",
            Some(&app.admin_token),
            json!({"expression": "0 9 * * *", "timezone": "America/New_York", "count": 1}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["timezone"], "America/New_York");
    assert_eq!(p["next_runs"][0], next.as_str());
    let (_, c) = read(
        app.post_json(
            "/jobs/validate-cron",
            Some(&app.admin_token),
            json!({"expression": "0 9 * * *", "timezone": "America/New_York"}),
        )
        .await,
    )
    .await;
    assert_eq!(c["next_run"], next.as_str(), "{c}");

    // Back to the default zone: null resets it, and the schedule follows.
    let r = app
        .put_json(
            &format!("/jobs/{id}"),
            &app.admin_token,
            json!({"timezone": null}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.schedule(id).await.unwrap().timezone, "Asia/Tokyo");
}

#[tokio::test]
async fn backfill_runs_each_past_fire_time_once() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/h"))
        .respond_with(ResponseTemplate::new(200))
        .expect(3)
        .mount(&hooks)
        .await;
    let mut body = webhook_job("hourly", &format!("{}/h", hooks.uri()));
    body["cron_expression"] = json!("0 * * * *");
    let id = app.job(&app.admin_token, body).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    use chrono::{DurationRound, TimeDelta};
    let hour = chrono::Utc::now()
        .duration_trunc(TimeDelta::hours(1))
        .unwrap();
    let (from, to) = (hour - TimeDelta::hours(3), hour);
    let backfill_path = format!("/jobs/{id}/backfill");
    let ask = || {
        app.post_json(
            &backfill_path,
            Some(&app.admin_token),
            json!({"from": from.to_rfc3339(), "to": to.to_rfc3339()}),
        )
    };
    let (s, v) = read(ask().await).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["new"], 3, "{v}");
    let expected: Vec<String> = (0..3)
        .map(|i| {
            (from + TimeDelta::hours(i))
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        })
        .collect();
    assert_eq!(v["fire_times"], json!(expected));

    // One one-time schedule carries them; fired as EventBridge would, it runs them in order.
    // The test's executor budget (5 s) holds one run of this job (30 s timeout): each
    // invocation runs one fire time and hands the rest to an outbox task, which the sweep
    // turns into the next one-time schedule.
    let bf_names = || async {
        let names = app.state.schedules.list_all_names().await.unwrap();
        names
            .into_iter()
            .filter(|n| n.starts_with("bf-"))
            .collect::<Vec<_>>()
    };
    let first = bf_names().await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(
        !app.schedule_names().await.contains(&first[0]),
        "not a job's schedule"
    );
    let mut first_payload = None;
    let (mut ran, mut rounds) = (0, 0);
    loop {
        let names = bf_names().await;
        if names.is_empty() || rounds == 5 {
            break;
        }
        rounds += 1;
        for name in names {
            let stored = app.state.schedules.get(&name).await.unwrap().unwrap();
            assert!(
                stored.expression.starts_with("at("),
                "{}",
                stored.expression
            );
            app.state.schedules.remove(&name).await.unwrap();
            let payload: Value = serde_json::from_str(&stored.input).unwrap();
            first_payload.get_or_insert(payload.clone());
            let out = executor_fn::handle(&app.executor.engine, payload)
                .await
                .unwrap();
            ran += out["report"]["ran"].as_u64().unwrap();
        }
        maintenance_fn::handle(&app.maintenance, json!({"task": "sweep"}))
            .await
            .unwrap();
    }
    assert_eq!((ran, rounds), (3, 3));
    let payload = first_payload.unwrap();
    let mut ex = executions(&app, &id).await;
    ex.reverse();
    assert_eq!(
        ex.iter()
            .map(|e| (
                e["trigger_type"].as_str().unwrap(),
                e["scheduled_time"].as_str().unwrap()[..19].to_string()
            ))
            .collect::<Vec<_>>(),
        expected
            .iter()
            .map(|t| ("backfill", t[..19].to_string()))
            .collect::<Vec<_>>()
    );
    // Asked again (or delivered again): nothing runs twice.
    let (s, v) = read(ask().await).await;
    assert_eq!(
        (s, v["new"].as_u64(), v["already"].as_u64()),
        (202, Some(0), Some(3)),
        "{v}"
    );
    let again = executor_fn::handle(&app.executor.engine, payload)
        .await
        .unwrap();
    assert_eq!(again["report"]["ran"], 0, "{again}");
    assert_eq!(again["report"]["duplicate"], 1, "{again}");
    assert_eq!(executions(&app, &id).await.len(), 3);

    // Refusals: the future, an empty range, too many fire times, a viewer.
    for (range, why) in [
        (
            json!({"from": from.to_rfc3339(), "to": (hour + TimeDelta::hours(2)).to_rfc3339()}),
            "future",
        ),
        (
            json!({"from": to.to_rfc3339(), "to": from.to_rfc3339()}),
            "reversed",
        ),
        (
            json!({"from": (hour - TimeDelta::hours(200)).to_rfc3339(), "to": to.to_rfc3339()}),
            "200 fire times",
        ),
        (
            json!({"from": "yesterday", "to": to.to_rfc3339()}),
            "not a time",
        ),
    ] {
        let (s, v) = read(
            app.post_json(
                &format!("/jobs/{id}/backfill"),
                Some(&app.admin_token),
                range,
            )
            .await,
        )
        .await;
        assert_eq!(
            (s, v["error"].as_str()),
            (400, Some("Invalid backfill range")),
            "{why}: {v}"
        );
    }
    let (_, viewer) = app.user("watcher", "viewer").await;
    let r = app
        .post_json(
            &format!("/jobs/{id}/backfill"),
            Some(&viewer),
            json!({"from": from.to_rfc3339(), "to": to.to_rfc3339()}),
        )
        .await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn overlap_skip_and_buffer_one() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(600)))
        .mount(&hooks)
        .await;
    let skip = job_with(
        &app,
        "skip",
        &format!("{}/s", hooks.uri()),
        json!({"overlap_policy": "skip"}),
    )
    .await;
    let outs = futures::future::join_all([fire(2), fire(1)].map(|t| {
        let (app, skip) = (&app, &skip);
        async move { deliver(app, skip, &t).await }
    }))
    .await;
    let mut kinds: Vec<&str> = outs
        .iter()
        .map(|o| o["outcome"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["ran", "skipped"], "{outs:?}");
    let ex = executions(&app, &skip).await;
    let skipped = ex.iter().find(|e| e["status"] == "skipped").unwrap();
    assert!(skipped["error_message"]
        .as_str()
        .unwrap()
        .contains("overlap_policy: skip"));
    // Not running: the lease went with the run.
    assert_eq!(deliver(&app, &skip, &fire(0)).await["outcome"], "ran");

    // buffer_one: the second waits and runs after the first, the third is skipped.
    let buffer = job_with(
        &app,
        "buffer",
        &format!("{}/b", hooks.uri()),
        json!({"overlap_policy": "buffer_one", "timeout_seconds": 1}),
    )
    .await;
    let f3 = fire(3);
    let first = deliver(&app, &buffer, &f3);
    let later = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        futures::future::join(deliver(&app, &buffer, &fire(2)), async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            deliver(&app, &buffer, &fire(1)).await
        })
        .await
    };
    let (a, (b, c)) = futures::future::join(first, later).await;
    assert_eq!(
        (
            a["outcome"].as_str(),
            b["outcome"].as_str(),
            c["outcome"].as_str()
        ),
        (Some("ran"), Some("ran"), Some("skipped")),
        "{a} {b} {c}"
    );
    // Never two at once: the buffered run started after the first completed.
    let ran: Vec<_> = executions(&app, &buffer)
        .await
        .into_iter()
        .filter(|e| e["status"] == "success")
        .collect();
    let t =
        |e: &Value, k: &str| chrono::DateTime::parse_from_rfc3339(e[k].as_str().unwrap()).unwrap();
    assert!(
        t(&ran[0], "started_at") >= t(&ran[1], "completed_at"),
        "{ran:?}"
    );
    let (_, st) = read(
        app.get(
            &format!("/jobs/{buffer}/executions/stats"),
            &app.admin_token,
        )
        .await,
    )
    .await;
    assert_eq!(st["statistics"]["skipped_count"], 1, "{st}");
    assert_eq!(st["statistics"]["total_executions"], 3, "{st}");
}

#[tokio::test]
async fn a_delivery_past_the_catch_up_window_is_missed() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(2)
        .mount(&hooks)
        .await;
    let id = job_with(
        &app,
        "late",
        &format!("{}/l", hooks.uri()),
        json!({"catchup_window_seconds": 600}),
    )
    .await;
    assert_eq!(
        app.schedule(&id).await.unwrap().max_event_age,
        Some(600),
        "EventBridge drops what the executor would refuse"
    );
    let out = deliver(&app, &id, &fire(11)).await;
    assert_eq!(out["outcome"], "missed", "{out}");
    assert!(out["execution"]["error_message"]
        .as_str()
        .unwrap()
        .contains("catch-up window of 600 s"));
    assert_eq!(deliver(&app, &id, &fire(11)).await["outcome"], "duplicate");
    assert_eq!(deliver(&app, &id, &fire(5)).await["outcome"], "ran");
    let (_, v) = read(
        app.get(
            &format!("/executions?job_id={id}&status=missed"),
            &app.admin_token,
        )
        .await,
    )
    .await;
    assert_eq!(v["total"], 1, "{v}");
    // A flexible window moves the catch-up window's start to its end.
    let flexible = job_with(
        &app,
        "flexible",
        &format!("{}/l", hooks.uri()),
        json!({"catchup_window_seconds": 60, "flexible_window_minutes": 5}),
    )
    .await;
    assert_eq!(
        deliver(&app, &flexible, &fire(7)).await["outcome"],
        "missed"
    );
    assert_eq!(deliver(&app, &flexible, &fire(4)).await["outcome"], "ran");
}

#[tokio::test]
async fn consecutive_failures_pause_the_job_with_a_notice() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&hooks)
        .await;
    let id = job_with(
        &app,
        "fragile",
        &format!("{}/f", hooks.uri()),
        json!({"pause_after_failures": 2, "cron_expression": "* * * * *"}),
    )
    .await;
    deliver(&app, &id, &fire(3)).await;
    let (_, v) = read(app.get(&format!("/jobs/{id}"), &app.admin_token).await).await;
    assert_eq!(v["job"]["is_active"], true, "one failure is not two");
    deliver(&app, &id, &fire(2)).await;
    let (_, v) = read(app.get(&format!("/jobs/{id}"), &app.admin_token).await).await;
    let job = &v["job"];
    assert_eq!(job["is_active"], false, "{job}");
    assert_eq!(job["paused_by"], "system");
    assert!(job["pause_note"]
        .as_str()
        .unwrap()
        .contains("2 consecutive failed runs"));
    assert!(app.schedule(&id).await.is_none(), "unscheduled");
    let (_, n) = read(app.get("/notifications", &app.admin_token).await).await;
    assert!(
        n["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["title"] == "Job auto-paused (consecutive failures)"),
        "{n}"
    );
}

#[tokio::test]
async fn pause_notes_show_until_resumed() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let id = job_with(&app, "vendor", "https://example.com/h", json!({})).await;
    let job_path = format!("/jobs/{id}");
    let put = |body: Value| app.put_json(&job_path, &app.admin_token, body);
    let (s, v) = read(put(json!({"pause_note": "too early"})).await).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("Invalid pause_note")),
        "{v}"
    );
    let (s, v) = read(put(json!({"is_active": false, "pause_note": "x".repeat(501)})).await).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("Invalid pause_note")),
        "{v}"
    );
    let (s, _) =
        read(put(json!({"is_active": false, "pause_note": "waiting for vendor"})).await).await;
    assert_eq!(s, 200);
    let (_, v) = read(app.get(&format!("/jobs/{id}"), &app.admin_token).await).await;
    let admin_id = app
        .state
        .store
        .find_user_by_login("admin")
        .await
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(v["job"]["pause_note"], "waiting for vendor");
    assert_eq!(v["job"]["paused_by"], admin_id.as_str());
    assert!(v["job"]["paused_at"].as_str().is_some());
    // Another edit keeps the pause as it was.
    let (s, v) = read(put(json!({"name": "vendor 2"})).await).await;
    assert_eq!(
        (s, v["job"]["pause_note"].as_str()),
        (200, Some("waiting for vendor"))
    );
    let (_, v) = read(put(json!({"is_active": true})).await).await;
    assert_eq!(v["job"]["pause_note"], Value::Null);
    assert_eq!(v["job"]["paused_at"], Value::Null);
}

#[tokio::test]
async fn policy_fields_are_validated_and_defaulted_on_every_door() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let job = app
        .job(
            &app.admin_token,
            webhook_job("plain", "https://example.com/h"),
        )
        .await;
    assert_eq!(
        (
            &job["retry_policy"],
            &job["timeout_seconds"],
            &job["overlap_policy"],
            &job["catchup_window_seconds"],
            &job["timezone"],
            &job["flexible_window_minutes"],
            &job["pause_after_failures"],
        ),
        (
            &json!({"maximum_attempts": 1, "initial_interval_seconds": 10, "backoff_coefficient": 2.0, "maximum_interval_seconds": 600}),
            &json!(30),
            &json!("allow"),
            &json!(3600),
            &json!("Asia/Tokyo"),
            &json!(0),
            &json!(0),
        )
    );
    for (extra, error) in [
        (json!({"timeout_seconds": 0}), "Invalid timeout_seconds"),
        (json!({"timeout_seconds": 601}), "Invalid timeout_seconds"),
        (
            json!({"retry_policy": {"maximum_attempts": 11}}),
            "Invalid retry_policy",
        ),
        (json!({"overlap_policy": "queue"}), "Invalid overlap_policy"),
        (
            json!({"catchup_window_seconds": 30}),
            "Invalid catchup_window_seconds",
        ),
        (json!({"timezone": "Mars/Olympus"}), "Invalid timezone"),
        (
            json!({"flexible_window_minutes": 16}),
            "Invalid flexible_window_minutes",
        ),
        (
            json!({"pause_after_failures": "often"}),
            "Invalid pause_after_failures",
        ),
    ] {
        let mut body = webhook_job("bad policy", "https://example.com/h");
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (s, v) = read(app.post_json("/jobs", Some(&app.admin_token), body).await).await;
        assert_eq!((s, v["error"].as_str()), (400, Some(error)), "{extra}: {v}");
    }
    // A flexible window reaches the schedule.
    let id = job["id"].as_str().unwrap();
    let r = app
        .put_json(
            &format!("/jobs/{id}"),
            &app.admin_token,
            json!({"flexible_window_minutes": 5}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.schedule(id).await.unwrap().flexible_minutes, 5);

    // CSV: the policy columns, and a refusal per row.
    let csv = "Job Name,Cron Schedule (JST),Target URL,End Date,PIC Team,Timezone,Retry Policy,Overlap Policy\n\
        csv ny,0 9 * * *,https://example.com/h,2099-12-31,PAM,America/New_York,\"{\"\"maximum_attempts\"\": 4}\",skip\n\
        csv bad,0 9 * * *,https://example.com/h,2099-12-31,PAM,Nowhere/Land,,\n";
    let (s, v) = read(
        app.upload_csv(&app.admin_token, csv.as_bytes().to_vec())
            .await,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["created_count"], 1, "{v}");
    assert_eq!(v["errors"][0]["error"], "Invalid timezone", "{v}");
    let (_, list) = read(app.get("/jobs", &app.admin_token).await).await;
    let ny = list["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "csv ny")
        .unwrap()
        .clone();
    assert_eq!(
        (
            &ny["timezone"],
            &ny["retry_policy"]["maximum_attempts"],
            &ny["overlap_policy"]
        ),
        (&json!("America/New_York"), &json!(4), &json!("skip"))
    );
}

#[tokio::test]
async fn a_retry_that_does_not_fit_its_invocation_continues_in_a_later_one() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&hooks)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&hooks)
        .await;
    // A 30 s backoff never fits the test executor's 5 s budget: each wait parks the run.
    let id = job_with(
        &app,
        "patient",
        &format!("{}/p", hooks.uri()),
        json!({"overlap_policy": "skip", "retry_policy": {"maximum_attempts": 3, "initial_interval_seconds": 30, "backoff_coefficient": 1.0}}),
    )
    .await;
    let out = deliver(&app, &id, &fire(3)).await;
    assert_eq!(out["outcome"], "retry_queued", "{out}");
    let exec_id = out["execution"]["id"].as_str().unwrap().to_string();
    let retry_schedule = |n: u32| {
        let name = format!("rt-{exec_id}-{n}");
        let app = &app;
        async move { app.state.schedules.get(&name).await.unwrap() }
    };
    // The maintenance function creates it from the outbox (the table's stream on AWS).
    let sweep = || async {
        maintenance_fn::handle(&app.maintenance, json!({"task": "sweep"}))
            .await
            .unwrap()
    };
    sweep().await;
    let second = retry_schedule(2)
        .await
        .expect("the next attempt's one-time schedule");
    assert!(
        second.expression.starts_with("at("),
        "{}",
        second.expression
    );
    assert!(!app
        .schedule_names()
        .await
        .iter()
        .any(|n| n.starts_with("rt-")));
    // Parked: still running, one attempt; the sweep left it; the lease holds the next fire
    // time off (overlap_policy: skip).
    let e = &executions(&app, &id).await[0];
    assert_eq!(
        (
            e["status"].as_str(),
            e["attempts"].as_array().unwrap().len()
        ),
        (Some("running"), 1),
        "{e}"
    );
    assert_eq!(deliver(&app, &id, &fire(2)).await["outcome"], "skipped");

    let payload: Value = serde_json::from_str(&second.input).unwrap();
    let out = executor_fn::handle(&app.executor.engine, payload.clone())
        .await
        .unwrap();
    assert_eq!(out["outcome"], "retry_queued", "{out}");
    // The same attempt delivered again makes no second call.
    let again = executor_fn::handle(&app.executor.engine, payload)
        .await
        .unwrap();
    assert_eq!(again["outcome"], "duplicate", "{again}");
    sweep().await;
    let third = retry_schedule(3)
        .await
        .expect("the third attempt's schedule");
    let payload: Value = serde_json::from_str(&third.input).unwrap();
    let out = executor_fn::handle(&app.executor.engine, payload)
        .await
        .unwrap();
    assert_eq!(out["outcome"], "ran", "{out}");
    let runs = executions(&app, &id).await;
    let e = runs.iter().find(|e| e["id"] == exec_id.as_str()).unwrap();
    assert_eq!(e["status"], "success", "{e}");
    assert_eq!(
        e["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["response_status"].as_u64())
            .collect::<Vec<_>>(),
        [Some(502), Some(502), Some(200)]
    );
    assert_eq!(
        hooks.received_requests().await.unwrap().len(),
        3,
        "one call per attempt"
    );
    // The lease went with the run's end.
    assert_eq!(deliver(&app, &id, &fire(1)).await["outcome"], "ran");
}
