//! `cronctl`: the legacy import end to end against the emulators with the real legacy file,
//! re-runs and interrupted runs, the JSON-lines round trip, and the binary's admin bootstrap.

mod common;
use common::*;
use cronctl::{bundle::Bundle, export, import, legacy};
use serde_json::json;

fn legacy_db() -> std::path::PathBuf {
    // A copy of ../shared/data/legacy/cron_jobs.db (CI clones have no ../shared).
    repo_root().join("tests/fixtures/legacy/cron_jobs.db")
}

const QUIET: import::Options = import::Options {
    dry_run: false,
    progress: false,
    keep_invalid: false,
    keep_expired: false,
};

/// The legacy history spans Aug-Nov 2026: keep it all, whatever today's date.
async fn spawn_keeping_history() -> TestApp {
    spawn_app_with(|c| c.retention_days = None).await
}

async fn stats(app: &TestApp, token: &str) -> serde_json::Value {
    let (s, v) = read(app.get("/executions/statistics", token).await).await;
    assert_eq!(s, 200, "{v}");
    v
}

#[tokio::test]
async fn legacy_import_dry_run_then_real_then_again() {
    let app = spawn_keeping_history().await;
    let bundle = legacy::read(&legacy_db(), legacy::CronMode::Convert).unwrap();
    let dry = import::apply(
        &app.as_fn("cronctl"),
        bundle.clone(),
        import::Options {
            dry_run: true,
            ..QUIET
        },
    )
    .await
    .unwrap();
    let c = |r: &import::Report, k: &str| r.counts[k].clone();
    assert_eq!(c(&dry, "users").in_file, 5);
    assert_eq!(c(&dry, "categories").in_file, 7);
    assert_eq!(c(&dry, "pic_teams").in_file, 6);
    assert_eq!(c(&dry, "jobs").in_file, 48);
    assert_eq!(c(&dry, "executions").in_file, 1010);
    assert_eq!(c(&dry, "notifications").in_file, 125);
    assert!(dry
        .conversions
        .iter()
        .any(|x| x.from == "0 10 * * 2" && x.to == "0 10 * * 3"));
    // The seeded admin and categories are merged, visibly.
    assert_eq!(c(&dry, "users").merged, 1);
    assert_eq!(c(&dry, "categories").merged, 7);
    assert!(dry.merged.iter().any(|m| m.contains("user \"admin\"")));
    // Nothing written.
    let (_, jobs) = read(app.get("/jobs", &app.admin_token).await).await;
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 0);
    assert!(app.schedule_names().await.is_empty());

    let real = import::apply(&app.as_fn("cronctl"), bundle.clone(), QUIET)
        .await
        .unwrap();
    assert_eq!(c(&real, "jobs").created, 48);
    assert_eq!(c(&real, "executions").created, 1010);
    assert_eq!(c(&real, "notifications").created, 125);
    assert!(real
        .problems
        .iter()
        .any(|p| p.contains("no creator in the source")));
    // alice logs in with her old password and sees what the file had.
    let alice = app.login("alice", "alice-pass1").await;
    let (_, jobs) = read(app.get("/jobs", &alice).await).await;
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 48);
    let st = stats(&app, &alice).await;
    assert_eq!(st["total_executions"], 1010, "{st}");
    assert_eq!(st["successful_executions"], 853, "{st}");
    assert_eq!(st["failed_executions"], 156, "{st}");
    assert_eq!(st["running_executions"], 1, "{st}");
    // The run the source left `running` is settled by the next sweep, without alerts.
    shared::services::maintenance::sweep(&app.maintenance)
        .await
        .unwrap();
    let st = stats(&app, &alice).await;
    assert_eq!(st["running_executions"], 0, "{st}");
    assert_eq!(st["failed_executions"], 157, "{st}");
    assert_eq!(st["total_executions"], 1010, "{st}");
    let (_, unread) = read(app.get("/notifications/unread-count", &alice).await).await;
    assert_eq!(
        unread["unread_count"], 12,
        "no alert for a settled imported run: {unread}"
    );
    // Every counter agrees with the items it counts.
    let v = app
        .as_fn("cronctl")
        .store
        .verify_counters(false)
        .await
        .unwrap();
    assert_eq!((v.executions, v.notifications), (1010, 125), "{v:?}");
    assert!(v.drift.is_empty(), "{:?}", v.drift);
    assert!(v.notes.is_empty(), "{:?}", v.notes);
    // One schedule per active unexpired job, carrying the converted expression.
    assert_eq!(app.schedule_names().await.len(), real.schedules_expected);
    assert_eq!(real.schedules_created, real.schedules_expected);
    let wed = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "QA - PP-INDIA-PAAS")
        .unwrap();
    assert_eq!(wed["cron_expression"], "0 10 * * 3");

    // A second import changes nothing and says so.
    let again = import::apply(&app.as_fn("cronctl"), bundle, QUIET)
        .await
        .unwrap();
    assert!(!again.changed_anything(), "{}", again.to_text());
    assert!(again.to_text().contains("nothing to change"));
    assert_eq!(stats(&app, &alice).await["total_executions"], 1010);
}

#[tokio::test]
async fn an_import_killed_half_way_finishes_on_the_next_run() {
    let app = spawn_keeping_history().await;
    let full = legacy::read(&legacy_db(), legacy::CronMode::Convert).unwrap();
    // What a run killed half-way leaves: everything up to half the executions, some jobs
    // written without their schedule, no notifications.
    let mut half = full.clone();
    half.executions.truncate(500);
    half.notifications.clear();
    import::apply(&app.as_fn("cronctl"), half, QUIET)
        .await
        .unwrap();
    let unscheduled = full
        .jobs
        .iter()
        .find(|j| {
            j.is_active
                && j.end_date
                    .is_none_or(|d| d > chrono::Utc::now().date_naive())
        })
        .unwrap();
    app.state.schedules.remove(&unscheduled.id).await.unwrap();
    let done = import::apply(&app.as_fn("cronctl"), full, QUIET)
        .await
        .unwrap();
    assert_eq!(done.counts["executions"].created, 510);
    assert_eq!(done.counts["executions"].unchanged, 500);
    assert_eq!(done.counts["notifications"].created, 125);
    assert_eq!(done.schedules_created, 1);
    let st = stats(&app, &app.admin_token).await;
    assert_eq!(st["total_executions"], 1010, "{st}");
    assert_eq!(st["successful_executions"], 853, "{st}");
    assert_eq!(app.schedule_names().await.len(), done.schedules_expected);
}

#[tokio::test]
async fn keep_cron_text_keeps_the_expressions_and_says_so() {
    let app = spawn_keeping_history().await;
    let b = legacy::read(&legacy_db(), legacy::CronMode::KeepText).unwrap();
    assert!(b.conversions.is_empty());
    let r = import::apply(&app.as_fn("cronctl"), b, QUIET)
        .await
        .unwrap();
    assert!(r.cron_mode.starts_with("kept as written"));
    let job = app
        .state
        .store
        .list_jobs()
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.name == "QA - PP-INDIA-PAAS")
        .unwrap();
    assert_eq!(job.cron.as_str(), "0 10 * * 2");
}

#[tokio::test]
async fn export_import_export_gives_the_same_lines() {
    let app = spawn_keeping_history().await;
    import::apply(
        &app.as_fn("cronctl"),
        legacy::read(&legacy_db(), legacy::CronMode::Convert).unwrap(),
        QUIET,
    )
    .await
    .unwrap();
    let first = export::collect(&app.as_fn("cronctl"), true)
        .await
        .unwrap()
        .to_lines();
    assert!(first.iter().all(|l| !l.contains("password_hash")));
    // An empty stack: a new table and schedule group, nothing seeded.
    let github = wiremock::MockServer::start().await;
    let config = test_config(&github).await;
    let sdk = shared::config::sdk_config().await;
    let empty = shared::state::AppState::new(
        config,
        aws_sdk_dynamodb::Client::new(&sdk),
        aws_sdk_scheduler::Client::new(&sdk),
        aws_sdk_sesv2::Client::new(&sdk),
    );
    infra::table::TableDefinition::from_template(&repo_root().join("template.yaml"))
        .unwrap()
        .create_if_missing(empty.store.client(), empty.store.table())
        .await
        .unwrap();
    empty.schedules.ensure_group().await.unwrap();
    let b = Bundle::from_lines("jsonl:test", &first.join("\n"));
    assert!(b.problems.is_empty(), "{:?}", b.problems);
    let r = import::apply(&empty.for_function("cronctl"), b, QUIET)
        .await
        .unwrap();
    assert_eq!(r.counts["executions"].created, 1010);
    let second = export::collect(&empty.for_function("cronctl"), true)
        .await
        .unwrap()
        .to_lines();
    assert_eq!(first.len(), second.len());
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a, b);
    }
}

#[tokio::test]
async fn the_binary_bootstraps_an_admin_from_stdin_and_documents_itself() {
    let app = spawn_keeping_history().await;
    let bin = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(|p| p.parent())
        .unwrap()
        .join("cronctl");
    let help = std::process::Command::new(&bin)
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for sub in [
        "admin",
        "import",
        "export",
        "resync",
        "status",
        "maintenance",
    ] {
        assert!(help.contains(sub), "{help}");
    }
    use std::io::Write;
    let mut child = std::process::Command::new(&bin)
        .args([
            "admin",
            "create",
            "--username",
            "ops",
            "--email",
            "ops@example.com",
            "--password-stdin",
        ])
        .env("TABLE_NAME", app.state.store.table())
        .env("RETENTION_DAYS", "off")
        .env("SCHEDULE_GROUP_NAME", app.state.schedules.group())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a-long-secret\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let token = app.login("ops", "a-long-secret").await;
    let (_, me) = read(app.get("/auth/me", &token).await).await;
    assert_eq!(me["role"], "admin", "{me}");
    // Reset: a new password for the same user.
    let mut child = std::process::Command::new(&bin)
        .args(["admin", "create", "--username", "ops", "--password-stdin"])
        .env("TABLE_NAME", app.state.store.table())
        .env("RETENTION_DAYS", "off")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"another-secret\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    app.login("ops", "another-secret").await;
    let r = app
        .post_json(
            "/auth/login",
            None,
            json!({"username": "ops", "password": "a-long-secret"}),
        )
        .await;
    assert_eq!(r.status(), 401);
}

/// A legacy copy with rows the API would refuse: those are listed with their reasons and not
/// carried (nor their runs); everything else is; `--keep-invalid` carries them as they are.
#[tokio::test]
async fn legacy_rows_the_api_would_refuse_are_listed_and_skipped() {
    let app = spawn_keeping_history().await;
    let dir = std::env::temp_dir().join(format!("legacy-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("cron_jobs.db");
    std::fs::copy(legacy_db(), &copy).unwrap();
    let db = rusqlite::Connection::open(&copy).unwrap();
    let ids: Vec<String> = db
        .prepare("SELECT id FROM jobs ORDER BY created_at, id LIMIT 3")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let long = "L".repeat(300);
    db.execute("UPDATE jobs SET name = ?1 WHERE id = ?2", (&long, &ids[0]))
        .unwrap();
    db.execute(
        "UPDATE jobs SET notification_emails = '[\"not-an-email\"]' WHERE id = ?1",
        [&ids[1]],
    )
    .unwrap();
    db.execute(
        "UPDATE jobs SET end_date = 'someday' WHERE id = ?1",
        [&ids[2]],
    )
    .unwrap();
    drop(db);
    let bundle = legacy::read(&copy, legacy::CronMode::Convert).unwrap();
    let r = import::apply(&app.as_fn("cronctl"), bundle.clone(), QUIET)
        .await
        .unwrap();
    let text = r.to_text();
    assert_eq!(r.refused.len(), 3, "{text}");
    for (id, why) in [
        (&ids[0], "Job name must be at most 255 characters"),
        (&ids[1], "Invalid e-mail address: not-an-email"),
        (&ids[2], "end_date \"someday\" is not a date"),
    ] {
        assert!(
            r.refused
                .iter()
                .any(|l| l.contains(id.as_str()) && l.contains(why)),
            "{id} {why}: {text}"
        );
    }
    assert!(
        text.contains("refused: the API would refuse these jobs (3)"),
        "{text}"
    );
    assert_eq!(r.counts["jobs"].in_file, 48);
    assert_eq!(r.counts["jobs"].created, 45);
    assert_eq!(r.counts["jobs"].skipped, 3);
    for id in &ids {
        assert!(app.state.store.get_job(id).await.unwrap().is_none());
    }
    // Asked for, they are carried as they are (and still listed).
    let kept = import::apply(
        &app.as_fn("cronctl"),
        bundle,
        import::Options {
            keep_invalid: true,
            ..QUIET
        },
    )
    .await
    .unwrap();
    assert_eq!(kept.refused.len(), 3);
    assert_eq!(kept.counts["jobs"].created, 3);
    let _ = std::fs::remove_dir_all(&dir);
}

/// With a retention window, the import says how much history it would hide and carries it
/// only when asked.
#[tokio::test]
async fn history_outside_the_retention_window_is_carried_only_when_asked() {
    let app = spawn_app_with(|c| c.retention_days = Some(1)).await;
    let bundle = legacy::read(&legacy_db(), legacy::CronMode::Convert).unwrap();
    let r = import::apply(&app.as_fn("cronctl"), bundle.clone(), QUIET)
        .await
        .unwrap();
    // The legacy history ends in November 2026: all of it is older than one day.
    assert_eq!(r.outside_retention, 1010 + 125, "{}", r.to_text());
    assert_eq!(r.counts["executions"].skipped, 1010);
    assert_eq!(r.counts["executions"].created, 0);
    assert!(r.to_text().contains("--keep-expired"));
    let r = import::apply(
        &app.as_fn("cronctl"),
        bundle,
        import::Options {
            keep_expired: true,
            ..QUIET
        },
    )
    .await
    .unwrap();
    assert_eq!(r.counts["executions"].created, 1010);
}

/// `cronctl verify` finds no drift after runs and after a job with history is deleted, and
/// reports (then `--repair` fixes) drift written on purpose.
#[tokio::test]
async fn verify_reports_and_repairs_counter_drift() {
    let app = spawn_keeping_history().await;
    app.team("PAM").await;
    let hooks = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&hooks)
        .await;
    let mut ids = Vec::new();
    for name in ["kept", "deleted"] {
        let job = app
            .job(
                &app.admin_token,
                webhook_job(name, &format!("{}/h", hooks.uri())),
            )
            .await;
        let id = job["id"].as_str().unwrap().to_string();
        for _ in 0..3 {
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
        }
        ids.push(id);
    }
    let store = &app.as_fn("cronctl").store;
    let v = store.verify_counters(false).await.unwrap();
    assert_eq!(v.executions, 6);
    assert!(v.drift.is_empty(), "{:?}", v.drift);
    // Deleted with its history: once the purge is done, still no drift.
    let (s, _) = read(
        app.delete(&format!("/jobs/{}", ids[1]), &app.admin_token)
            .await,
    )
    .await;
    assert_eq!(s, 200);
    shared::services::maintenance::sweep(&app.maintenance)
        .await
        .unwrap();
    let v = store.verify_counters(false).await.unwrap();
    assert_eq!(v.executions, 3);
    assert!(v.notes.is_empty(), "{:?}", v.notes);
    assert!(v.drift.is_empty(), "{:?}", v.drift);
    // Drift written behind the store's back: a job total and the admin's unread count.
    let admin = store.find_user_by_login("admin").await.unwrap().unwrap();
    for (pk, field) in [
        (
            shared::store::job_counter_scope(&ids[0]),
            format!(
                "t_{}",
                shared::store::counter_field(
                    shared::domain::ExecutionStatus::Success,
                    shared::domain::Trigger::Manual,
                    Some(shared::domain::ExecutionType::Webhook)
                )
            ),
        ),
        (
            shared::store::notification_counter_scope(&admin.id),
            "t_u".to_string(),
        ),
    ] {
        store
            .client()
            .update_item()
            .table_name(store.table())
            .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(pk))
            .key(
                "SK",
                aws_sdk_dynamodb::types::AttributeValue::S("TOTAL".into()),
            )
            .update_expression("ADD #f :n")
            .expression_attribute_names("#f", &field)
            .expression_attribute_values(
                ":n",
                aws_sdk_dynamodb::types::AttributeValue::N("5".into()),
            )
            .send()
            .await
            .unwrap();
    }
    let v = store.verify_counters(false).await.unwrap();
    assert_eq!(v.drift.len(), 2, "{:?}", v.drift);
    assert!(v
        .drift
        .iter()
        .all(|d| d.sk == "TOTAL" && d.stored == d.counted + 5));
    let fixed = store.verify_counters(true).await.unwrap();
    assert_eq!(fixed.repaired_items, 2);
    let v = store.verify_counters(false).await.unwrap();
    assert!(v.drift.is_empty(), "{:?}", v.drift);
    let (_, unread) = read(
        app.get("/notifications/unread-count", &app.admin_token)
            .await,
    )
    .await;
    let (_, n) = read(
        app.get("/notifications?unread_only=true", &app.admin_token)
            .await,
    )
    .await;
    assert_eq!(unread["unread_count"], n["total"]);
}

/// `RETENTION_DAYS` changed on a live table is refused (the record stays in effect, with the
/// reason, also in `GET /scheduler/status`); `cronctl retention set` re-stamps the history and
/// records the new rule; raising it afterwards keeps hidden what the old window hid.
#[tokio::test]
async fn a_retention_change_is_refused_until_the_history_is_restamped() {
    let app = spawn_keeping_history().await;
    // As cronctl: its calls (the Scan) are held against its documented policy.
    let cronctl = app.as_fn("cronctl");
    let store = &cronctl.store;
    let admin = store.find_user_by_login("admin").await.unwrap().unwrap();
    let now = chrono::Utc::now();
    let mut ids = Vec::new();
    for (i, age) in [10i64, 1].into_iter().enumerate() {
        let n = notification(
            &admin.id,
            &format!("n{i}"),
            now - chrono::Duration::days(age),
            Some(now),
        );
        assert!(store.import_notification(&n).await.unwrap());
        ids.push(n);
    }
    let expiry = |n: &shared::store::Notification| {
        let key = format!("NOTIF#{}#{}", shared::domain::fmt_ts(&n.created_at), n.id);
        let pk = format!("USER#{}", n.user_id);
        async move {
            store
                .client()
                .get_item()
                .table_name(store.table())
                .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(pk))
                .key("SK", aws_sdk_dynamodb::types::AttributeValue::S(key))
                .send()
                .await
                .unwrap()
                .item
                .unwrap()
                .get("expires_at")
                .map(|v| v.as_n().unwrap().parse::<i64>().unwrap())
        }
    };
    assert_eq!(expiry(&ids[0]).await, None);

    // First start records what is configured; a changed value is then refused.
    let first = store.settle_retention(None, true).await.unwrap();
    assert_eq!((first.in_effect.days, first.refused), (None, None));
    let changed = store.settle_retention(Some(5), false).await.unwrap();
    assert_eq!(changed.in_effect.days, None);
    let reason = changed.refused.expect("refused");
    assert!(reason.contains("cronctl retention set 5"), "{reason}");
    // The status endpoint says what is in effect and why.
    let (s, v) = read(app.get("/scheduler/status", &app.admin_token).await).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["retention"]["days"], serde_json::Value::Null, "{v}");
    assert!(v["retention"].get("refused").is_some(), "{v}");

    // Lowering it: everything re-stamped, the 10-day-old one now hidden.
    let r = store.set_retention(Some(5)).await.unwrap();
    assert_eq!((r.notifications, r.left_hidden), (2, 0), "{r:?}");
    let day = |d: i64| {
        (now - chrono::Duration::days(d))
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp()
    };
    assert_eq!(expiry(&ids[1]).await, Some(day(1) + 7 * 86_400));
    assert_eq!(expiry(&ids[0]).await, Some(day(10) + 7 * 86_400));
    let ok = store.settle_retention(Some(5), false).await.unwrap();
    assert_eq!((ok.in_effect.days, ok.refused), (Some(5), None));
    let five = store.clone().with_retention_in_effect(ok.in_effect);
    let seen = five.recent_notifications(&admin.id, 10).await.unwrap();
    assert_eq!(seen.len(), 1);

    // Off again: what the 5-day window hid stays hidden (and keeps its expiry); the rest is
    // kept for good.
    let r = store.set_retention(None).await.unwrap();
    assert_eq!((r.notifications, r.left_hidden), (1, 1), "{r:?}");
    let since = (now - chrono::Duration::days(5)).date_naive();
    assert_eq!(r.retention.kept_since, Some(since));
    assert_eq!(expiry(&ids[1]).await, None);
    assert_eq!(expiry(&ids[0]).await, Some(day(10) + 7 * 86_400));
    let off = store.settle_retention(None, false).await.unwrap();
    assert_eq!(off.in_effect.kept_since, Some(since));
    let kept = store.clone().with_retention_in_effect(off.in_effect);
    assert_eq!(
        kept.recent_notifications(&admin.id, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}
