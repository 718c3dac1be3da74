//! Reconciliation: the table wins over whatever the schedules say.

mod common;
use common::*;
use serde_json::json;

#[tokio::test]
async fn reconcile_repairs_missing_stale_orphaned_and_expired() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let t = app.admin_token.clone();
    let ids = app.webhook_jobs(&t, &["a", "b", "c", "d"]).await;
    let off = app
        .job(&t, webhook_job("off", "https://example.com/h"))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.put_json(&format!("/jobs/{off}"), &t, json!({"is_active": false}))
        .await;

    // Nothing to do when in step.
    let clean = shared::services::maintenance::reconcile(&app.maintenance)
        .await
        .unwrap();
    assert_eq!((clean.db_jobs_total, clean.db_jobs_active), (5, 4));
    assert_eq!(
        (
            clean.scheduled_added,
            clean.scheduled_updated,
            clean.scheduled_removed,
            clean.orphaned_removed
        ),
        (0, 0, 0, 0)
    );

    // Break it four ways: a lost schedule, a stale one, one for an inactive job, an orphan.
    app.state.schedules.remove(&ids[0]).await.unwrap();
    let mut stale = app.state.store.get_job(&ids[1]).await.unwrap().unwrap();
    stale.cron = shared::domain::CronExpr::parse("5 5 * * *").unwrap();
    app.state.schedules.upsert(&stale).await.unwrap();
    let inactive = app.state.store.get_job(&off).await.unwrap().unwrap();
    let mut forced = inactive.clone();
    forced.is_active = true;
    app.state.schedules.upsert(&forced).await.unwrap();
    let mut orphan = inactive.clone();
    orphan.id = "no-such-job".into();
    app.state.schedules.upsert(&orphan).await.unwrap();
    // And an active job past its end date.
    app.expire_job(
        &ids[2],
        chrono::NaiveDate::from_ymd_opt(2022, 1, 1).unwrap(),
    )
    .await;

    let r = shared::services::maintenance::reconcile(&app.maintenance)
        .await
        .unwrap();
    assert_eq!(r.scheduled_added, 1);
    assert_eq!(r.scheduled_updated, 1);
    assert_eq!(r.scheduled_removed, 2, "inactive + expired");
    assert_eq!(r.orphaned_removed, 1);
    assert_eq!(r.expired_auto_paused, 1);
    assert_eq!(r.failures, 0);

    let mut names = app.schedule_names().await;
    names.sort();
    let mut want = vec![ids[0].clone(), ids[1].clone(), ids[3].clone()];
    want.sort();
    assert_eq!(names, want);
    assert_eq!(
        app.schedule(&ids[1]).await.unwrap().expression,
        "cron(0 9 ? * 2 *)"
    );
    assert!(
        !app.state
            .store
            .get_job(&ids[2])
            .await
            .unwrap()
            .unwrap()
            .is_active
    );

    // Idempotent.
    let again = shared::services::maintenance::reconcile(&app.maintenance)
        .await
        .unwrap();
    assert_eq!(
        (
            again.scheduled_added,
            again.scheduled_updated,
            again.scheduled_removed,
            again.orphaned_removed
        ),
        (0, 0, 0, 0)
    );
}

#[tokio::test]
async fn a_run_killed_after_its_claim_is_failed_by_the_next_sweep() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let job = app
        .job(
            &app.admin_token,
            webhook_job("stuck", "https://example.com/h"),
        )
        .await;
    let id = job["id"].as_str().unwrap();
    // Started 3 minutes ago (past the 2-minute in-progress expiry) and 30 s ago.
    let running = |secs_ago: i64, eid: &str| shared::store::Execution {
        id: eid.into(),
        job_id: id.into(),
        status: shared::domain::ExecutionStatus::Running,
        trigger_type: shared::domain::Trigger::Scheduled,
        started_at: shared::domain::now() - chrono::Duration::seconds(secs_ago),
        completed_at: None,
        duration_seconds: None,
        execution_type: Some(shared::domain::ExecutionType::Webhook),
        target: Some("https://example.com/h".into()),
        response_status: None,
        error_message: None,
        output: None,
        scheduled_time: None,
        start_delay_ms: None,
        alerts: Default::default(),
        attempts: Vec::new(),
    };
    // The executor claimed the fire time and died right after.
    let claim = shared::store::RunClaim::parse(id, &fire(10)).unwrap();
    app.state
        .store
        .start_execution(&running(180, "old"), Some(&claim), None)
        .await
        .unwrap();
    app.state
        .store
        .start_execution(&running(30, "fresh"), None, None)
        .await
        .unwrap();
    // A run with a long timeout and retries (issue 23): its own budget ends in 10 minutes.
    app.state
        .store
        .start_execution(
            &running(180, "long"),
            None,
            Some(shared::domain::now() + chrono::Duration::minutes(10)),
        )
        .await
        .unwrap();
    let r = maintenance_fn::handle(&app.maintenance, json!({"task": "sweep"}))
        .await
        .unwrap();
    assert_eq!(r["report"]["abandoned_runs_failed"], 1, "{r}");
    let (_, v) = read(
        app.get(&format!("/jobs/{id}/executions"), &app.admin_token)
            .await,
    )
    .await;
    let by_id = |eid: &str| {
        v["executions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == eid)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("fresh")["status"], "running");
    assert_eq!(by_id("long")["status"], "running", "inside its own budget");
    let old = by_id("old");
    assert_eq!(old["status"], "failed");
    assert!(old["error_message"]
        .as_str()
        .unwrap()
        .starts_with("Run abandoned"));
    assert!(old["duration_seconds"].as_f64().unwrap() >= 180.0);
    // Its failure is told like any failed run's.
    let (_, n) = read(app.get("/notifications", &app.admin_token).await).await;
    assert!(
        n["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["title"] == "Job Failed" && x["related_execution_id"] == "old"),
        "{n}"
    );
    // Idempotent, and a late completion of an already-failed run is not recorded.
    let r = maintenance_fn::handle(&app.maintenance, json!({"task": "sweep"}))
        .await
        .unwrap();
    assert_eq!(r["report"]["abandoned_runs_failed"], 0, "{r}");
    let mut late = running(180, "old");
    late.status = shared::domain::ExecutionStatus::Success;
    assert!(!app
        .state
        .store
        .complete_execution(&late, &[])
        .await
        .unwrap());
}

#[tokio::test]
async fn a_resync_out_of_time_hands_the_rest_to_the_next_sweep() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let t = app.admin_token.clone();
    let ids = app.webhook_jobs(&t, &["r1", "r2", "r3"]).await;
    for id in &ids {
        app.state.schedules.remove(id).await.unwrap();
    }
    // No time at all: nothing is checked, and a whole reconciliation is requested.
    let partial = shared::services::maintenance::reconcile_within(
        &app.as_fn("SystemFunction"),
        std::time::Duration::ZERO,
    )
    .await
    .unwrap();
    assert_eq!(
        (partial.unchecked, partial.scheduled_added),
        (3, 0),
        "{partial:?}"
    );
    for id in &ids {
        assert!(app.schedule(id).await.is_none());
    }
    let sweep = shared::services::maintenance::sweep(&app.maintenance)
        .await
        .unwrap();
    assert!(sweep.reconciled, "{sweep:?}");
    for id in &ids {
        assert!(
            app.schedule(id).await.is_some(),
            "restored by the requested reconciliation"
        );
    }
    // Taken once: the next sweep does not reconcile again.
    let again = shared::services::maintenance::sweep(&app.maintenance)
        .await
        .unwrap();
    assert!(!again.reconciled);
    // Over HTTP a resync that fits says it is complete.
    let (s, v) = read(
        app.post_json("/scheduler/resync", Some(&t), json!({}))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["complete"].as_bool(), v["unchecked"].as_u64()),
        (Some(true), Some(0))
    );
}
