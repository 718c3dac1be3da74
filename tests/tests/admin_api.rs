//! Taxonomy writes, Slack settings, scheduler admin and test-run over HTTP (api-contract
//! §3.6, §3.8, §3.10, §3.11).

mod common;
use common::*;
use serde_json::{json, Value};
use wiremock::{
    matchers::{body_json, header, method, path},
    Mock, MockServer, ResponseTemplate,
};

async fn team_id(app: &TestApp, slug: &str) -> String {
    let (_, v) = read(
        app.get("/pic-teams?include_inactive=true", &app.admin_token)
            .await,
    )
    .await;
    v["pic_teams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["slug"] == slug)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn job_teams(app: &TestApp) -> Vec<Value> {
    let (_, v) = read(app.get("/jobs", &app.admin_token).await).await;
    v["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["pic_team"].clone())
        .collect()
}

#[tokio::test]
async fn rename_repoints_jobs_in_one_change_and_soft_delete() {
    let app = spawn_app().await;
    app.team("PAM").await;
    app.team("QA").await;
    for i in 0..3 {
        app.job(
            &app.admin_token,
            webhook_job(&format!("j{i}"), "https://example.com/h"),
        )
        .await;
    }
    let mut other = webhook_job("qa-job", "https://example.com/h");
    other["pic_team"] = json!("qa");
    app.job(&app.admin_token, other).await;
    let pam = team_id(&app, "pam").await;
    let url = format!("/pic-teams/{pam}");

    // Errors first, each writing nothing.
    let (_, user_t) = app.user("alice", "user").await;
    assert_eq!(
        read(app.put_json(&url, &user_t, json!({"name": "X"})).await)
            .await
            .0,
        403
    );
    let cases = [
        (json!({"name": "Platform"}), None, 0),
        (json!({"name": "  "}), Some("Invalid name"), 400),
        (json!({"name": "QA"}), Some("Duplicate slug"), 409),
        (
            json!({"name": "Platform", "slug": "x"}),
            Some("Invalid payload"),
            400,
        ),
        (
            json!({"slack_handle": ""}),
            Some("Invalid slack_handle"),
            400,
        ),
        (json!({"name": "!!!"}), Some("Invalid slug"), 400),
    ];
    for (body, error, status) in cases.into_iter().skip(1) {
        let (s, v) = read(app.put_json(&url, &app.admin_token, body.clone()).await).await;
        assert_eq!((s, v["error"].as_str()), (status, error), "{body}");
    }
    assert_eq!(
        job_teams(&app).await.iter().filter(|t| *t == "pam").count(),
        3
    );
    let (s, v) = read(
        app.put_json("/pic-teams/nope", &app.admin_token, json!({"name": "Y"}))
            .await,
    )
    .await;
    assert_eq!(
        (s, v["message"].as_str()),
        (404, Some("No PIC team found with ID: nope"))
    );

    // Rename: slug re-derived, every job on the old slug follows.
    let (s, v) = read(
        app.put_json(
            &url,
            &app.admin_token,
            json!({"name": "Platform Team", "slack_handle": "@platform"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (
            v["pic_team"]["slug"].as_str(),
            v["pic_team"]["slack_handle"].as_str(),
            v["jobs_updated"].as_i64()
        ),
        (Some("platform-team"), Some("@platform"), Some(3))
    );
    let teams = job_teams(&app).await;
    assert_eq!(teams.iter().filter(|t| *t == "platform-team").count(), 3);
    assert_eq!(teams.iter().filter(|t| *t == "qa").count(), 1);
    // The old slug is free again; a job can be created on the new one.
    app.team("PAM").await;
    let mut j = webhook_job("after", "https://example.com/h");
    j["pic_team"] = json!("Platform Team");
    assert_eq!(
        app.job(&app.admin_token, j).await["pic_team"],
        "platform-team"
    );

    // Toggle and soft delete.
    let (s, v) = read(
        app.put_json(&url, &app.admin_token, json!({"is_active": false}))
            .await,
    )
    .await;
    assert_eq!(
        (
            s,
            v["jobs_updated"].as_i64(),
            v["pic_team"]["is_active"].as_bool()
        ),
        (200, Some(0), Some(false))
    );
    let qa = team_id(&app, "qa").await;
    let (s, v) = read(
        app.delete(&format!("/pic-teams/{qa}"), &app.admin_token)
            .await,
    )
    .await;
    assert_eq!(
        (
            s,
            v["message"].as_str(),
            v["pic_team"]["is_active"].as_bool()
        ),
        (200, Some("PIC team disabled"), Some(false))
    );
    let (_, v) = read(app.get("/pic-teams", &app.admin_token).await).await;
    let active: Vec<&str> = v["pic_teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(active, vec!["pam"]);
}

#[tokio::test]
async fn categories_general_rule_and_rename() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let (_, v) = read(app.get("/job-categories", &app.admin_token).await).await;
    let cats = v["categories"].as_array().unwrap();
    let id_of = |slug: &str| {
        cats.iter().find(|c| c["slug"] == slug).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let general = id_of("general");
    let (s, v) = read(
        app.put_json(
            &format!("/job-categories/{general}"),
            &app.admin_token,
            json!({"name": "Misc"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, v["message"].as_str()),
        (400, Some("The \"General\" category cannot be renamed."))
    );
    let (s, v) = read(
        app.put_json(
            &format!("/job-categories/{general}"),
            &app.admin_token,
            json!({"name": "General", "is_active": false}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (
            s,
            v["category"]["is_active"].as_bool(),
            v["jobs_updated"].as_i64()
        ),
        (200, Some(false), Some(0))
    );
    let mut j = webhook_job("reg", "https://example.com/h");
    j["category"] = json!("regression");
    app.job(&app.admin_token, j).await;
    let reg = id_of("regression");
    let (s, v) = read(
        app.put_json(
            &format!("/job-categories/{reg}"),
            &app.admin_token,
            json!({"name": "Regression Suite"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (
            s,
            v["category"]["slug"].as_str(),
            v["jobs_updated"].as_i64()
        ),
        (200, Some("regression-suite"), Some(1))
    );
    let (_, v) = read(app.get("/jobs", &app.admin_token).await).await;
    assert_eq!(v["jobs"][0]["category"], "regression-suite");
    let (s, v) = read(
        app.delete(&format!("/job-categories/{reg}"), &app.admin_token)
            .await,
    )
    .await;
    assert_eq!((s, v["message"].as_str()), (200, Some("Category disabled")));
    let (s, v) = read(app.delete("/job-categories/nope", &app.admin_token).await).await;
    assert_eq!((s, v["error"].as_str()), (404, Some("Not found")));
}

#[tokio::test]
async fn slack_settings_singleton() {
    let app = spawn_app().await;
    let (_, ut) = app.user("alice", "user").await;
    assert_eq!(read(app.get("/settings/slack", &ut).await).await.0, 403);
    let (s, v) = read(app.get("/settings/slack", &app.admin_token).await).await;
    assert_eq!(s, 200);
    let first = v["slack_settings"].clone();
    assert_eq!(
        (first["is_enabled"].as_bool(), first["webhook_url"].clone()),
        (Some(false), Value::Null)
    );
    for body in [
        json!({"is_enabled": true}),
        json!({"is_enabled": true, "webhook_url": "http://hooks.example.com/x"}),
        json!({"webhook_url": "not a url"}),
        json!({"is_enabled": "maybe"}),
    ] {
        let (s, v) = read(
            app.put_json("/settings/slack", &app.admin_token, body.clone())
                .await,
        )
        .await;
        assert_eq!((s, v["error"].as_str().is_some()), (400, true), "{body}");
    }
    assert_eq!(
        read(app.get("/settings/slack", &app.admin_token).await)
            .await
            .1["slack_settings"],
        first
    );
    let url = "https://hooks.slack.com/services/T000/B000/XXXX";
    let (s, v) = read(
        app.put_json(
            "/settings/slack",
            &app.admin_token,
            json!({"is_enabled": true, "webhook_url": url, "channel": " #alerts "}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["message"], "Slack settings updated");
    let (_, v) = read(app.get("/settings/slack", &app.admin_token).await).await;
    let s2 = &v["slack_settings"];
    assert_eq!(
        (
            s2["webhook_url"].as_str(),
            s2["channel"].as_str(),
            s2["id"].clone()
        ),
        (Some(url), Some("#alerts"), first["id"].clone())
    );
    let (_, v) = read(
        app.put_json(
            "/settings/slack",
            &app.admin_token,
            json!({"is_enabled": false, "webhook_url": null, "channel": ""}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (
            v["slack_settings"]["webhook_url"].clone(),
            v["slack_settings"]["channel"].clone()
        ),
        (Value::Null, Value::Null)
    );
}

#[tokio::test]
async fn scheduler_status_and_resync() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let (_, ut) = app.user("alice", "user").await;
    assert_eq!(read(app.get("/scheduler/status", &ut).await).await.0, 403);
    assert_eq!(
        read(
            app.post_json("/scheduler/resync", Some(&ut), json!(null))
                .await
        )
        .await
        .0,
        403
    );
    let job = app
        .job(&app.admin_token, webhook_job("a", "https://example.com/h"))
        .await;
    let (s, v) = read(app.get("/scheduler/status", &app.admin_token).await).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (
            v["scheduled_jobs_count"].as_i64(),
            v["jobs_pending_repair"].as_i64(),
            v["last_resync_at"].clone()
        ),
        (Some(1), Some(0), Value::Null)
    );
    // An orphaned schedule (its job gone from the table) is removed by a resync.
    app.state
        .schedules
        .remove(job["id"].as_str().unwrap())
        .await
        .unwrap();
    let (s, v) = read(
        app.post_json("/scheduler/resync", Some(&app.admin_token), json!(null))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["message"], "Scheduler resync completed");
    assert_eq!(
        (
            v["db_jobs_total"].as_i64(),
            v["db_jobs_active"].as_i64(),
            v["scheduled_added"].as_i64(),
            v["scheduled_now"].as_i64()
        ),
        (Some(1), Some(1), Some(1), Some(1))
    );
    let (_, v) = read(app.get("/scheduler/status", &app.admin_token).await).await;
    assert!(v["last_resync_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["last_resync"]["scheduled_added"], 1);
}

#[tokio::test]
async fn test_run_calls_once_and_stores_nothing() {
    let app = spawn_app().await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/ok"))
        .and(body_json(json!({"a": "1"})))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&hooks)
        .await;
    Mock::given(method("POST"))
        .and(path("/bad"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&hooks)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/o/r/actions/workflows/w.yml/dispatches"))
        .and(header("authorization", "Bearer test-token"))
        .and(body_json(json!({"ref": "main"})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&app.github)
        .await;
    let t = &app.admin_token;
    let (s, v) = read(app.post_json("/jobs/test-run", Some(t), json!({"target_url": format!("{}/ok", hooks.uri()), "github_repo": "api", "metadata": {"a": "1"}})).await).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v,
        json!({"ok": true, "type": "webhook", "status_code": 200, "message": "Webhook test run succeeded."})
    );
    let (_, v) = read(
        app.post_json(
            "/jobs/test-run",
            Some(t),
            json!({"target_url": format!("{}/bad", hooks.uri())}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (v["ok"].as_bool(), v["status_code"].as_i64()),
        (Some(false), Some(502))
    );
    let (_, v) = read(
        app.post_json(
            "/jobs/test-run",
            Some(t),
            json!({"target_url": "http://127.0.0.1:9/"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (v["ok"].as_bool(), v["error"].as_str()),
        (Some(false), Some("Request failed"))
    );
    let (s, v) = read(app.post_json("/jobs/test-run", Some(t), json!({"github_owner": "o", "github_repo": "r", "github_workflow_name": "w.yml", "metadata": {}})).await).await;
    assert_eq!(
        (
            s,
            v["ok"].as_bool(),
            v["type"].as_str(),
            v["status_code"].as_i64()
        ),
        (200, Some(true), Some("github"), Some(204))
    );

    let (_, viewer) = app.user("vic", "viewer").await;
    for (token, body, status, error) in [
        (
            viewer.as_str(),
            json!({"target_url": "https://example.com"}),
            403,
            None,
        ),
        (
            t.as_str(),
            json!({"github_repo": "api", "metadata": {}}),
            400,
            Some("Missing target configuration"),
        ),
        (
            t.as_str(),
            json!({"target_url": "ftp://example.com/x"}),
            400,
            Some("Invalid target_url"),
        ),
        (
            t.as_str(),
            json!({"target_url": "https://example.com", "metadata": [1]}),
            400,
            Some("Invalid metadata"),
        ),
        (
            t.as_str(),
            json!({"target_url": "https://example.com", "timeout_seconds": "soon"}),
            400,
            Some("Invalid payload"),
        ),
        (t.as_str(), json!([1]), 400, Some("Invalid payload")),
    ] {
        let (s, v) = read(
            app.post_json("/jobs/test-run", Some(token), body.clone())
                .await,
        )
        .await;
        assert_eq!(s, status, "{body}: {v}");
        if let Some(e) = error {
            assert_eq!(v["error"], e, "{body}");
        }
    }
    // Nothing was stored; GET on the action path is read as a job id.
    assert_eq!(read(app.get("/jobs", t).await).await.1["count"], 0);
    assert_eq!(read(app.get("/executions", t).await).await.1["total"], 0);
    let (s, v) = read(app.get("/jobs/test-run", t).await).await;
    assert_eq!((s, v["error"].as_str()), (404, Some("Job not found")));
}

/// A rename re-points any number of jobs (150 here, past one transaction's 100 items); a
/// rename cut short after its first write is finished by the next sweep, and the old slug
/// stays taken until then.
#[tokio::test]
async fn a_rename_of_any_size_repoints_every_job_and_resumes_when_cut_short() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let mut csv =
        String::from("Job Name,Repo,Workflow Name,Cron schedule (JST),End Date,PIC Team\n");
    for i in 0..150 {
        csv.push_str(&format!("job-{i},api,w.yml,0 9 * * 1,2099-01-01,PAM\n"));
    }
    let (s, v) = read(app.upload_csv(&app.admin_token, csv.into_bytes()).await).await;
    assert_eq!(s, 200, "{v}");
    let pam = team_id(&app, "pam").await;
    let (s, v) = read(
        app.put_json(
            &format!("/pic-teams/{pam}"),
            &app.admin_token,
            json!({"name": "Platform"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["jobs_updated"], 150, "{v}");
    let teams = job_teams(&app).await;
    assert_eq!(teams.len(), 150);
    assert!(teams.iter().all(|t| t == "platform"), "{teams:?}");

    // Cut short: the rename committed, no job re-pointed yet (what a killed function leaves).
    let store = &app.state.store;
    let previous = store
        .get_taxon(shared::store::TaxonKind::Team, &pam)
        .await
        .unwrap()
        .unwrap();
    let mut renamed = previous.clone();
    renamed.name = "Core".into();
    renamed.slug = "core".into();
    renamed.updated_at = shared::domain::now();
    store
        .update_taxon(shared::store::TaxonKind::Team, &previous, &renamed, None)
        .await
        .unwrap();
    assert!(job_teams(&app).await.iter().all(|t| t == "platform"));
    // The old slug is still taken meanwhile, and a second rename waits for the first.
    let (s, v) = read(
        app.post_json(
            "/pic-teams",
            Some(&app.admin_token),
            json!({"name": "Platform", "slack_handle": "@p"}),
        )
        .await,
    )
    .await;
    assert!(s == 400 || s == 409, "{s} {v}");
    let (s, _) = read(
        app.put_json(
            &format!("/pic-teams/{pam}"),
            &app.admin_token,
            json!({"name": "Elsewhere"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 409);
    let r = shared::services::maintenance::sweep(&app.maintenance)
        .await
        .unwrap();
    assert_eq!(r.renames_finished, 1, "{r:?}");
    assert!(job_teams(&app).await.iter().all(|t| t == "core"));
    assert!(store.pending_renames().await.unwrap().is_empty());
    // Released now.
    let (s, v) = read(
        app.post_json(
            "/pic-teams",
            Some(&app.admin_token),
            json!({"name": "Platform", "slack_handle": "@p"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 201, "{v}");
}

/// The platform's GitHub token only reaches owners on the allowlist admins manage: jobs,
/// manual runs, test-runs, bulk rows and scheduled runs alike, refused before any call.
#[tokio::test]
async fn the_platform_github_token_only_reaches_allowlisted_owners() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let t = app.admin_token.clone();
    let (_, ut) = app.user("ursula", "user").await;
    // Admins only.
    assert_eq!(
        read(app.get("/settings/github-owners", &ut).await).await.0,
        403
    );
    let (s, v) = read(
        app.put_json(
            "/settings/github-owners",
            &t,
            json!({"owners": ["Pay-Baymax", "pay-baymax", "partner-org"]}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["owners"], json!(["Pay-Baymax", "partner-org"]));
    for bad in [json!({"owners": ["../x"]}), json!({"owners": "x"})] {
        let (s, v) = read(app.put_json("/settings/github-owners", &t, bad).await).await;
        assert_eq!((s, v["error"].as_str()), (400, Some("Invalid owners")));
    }
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&app.github)
        .await;
    // A user aims the token at another organisation: refused, nothing sent.
    let (s, v) = read(
        app.post_json(
            "/jobs/test-run",
            Some(&ut),
            json!({"github_owner": "victim-org", "github_repo": "prod-infra", "github_workflow_name": "destroy.yml"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("GitHub owner not allowed")),
        "{v}"
    );
    let (s, v) = read(
        app.post_json(
            "/jobs",
            Some(&ut),
            json!({"name": "x", "cron_expression": "0 9 * * 1", "end_date": "2099-01-01", "pic_team": "PAM",
                "github_owner": "victim-org", "github_repo": "r", "github_workflow_name": "w.yml"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("GitHub owner not allowed")),
        "{v}"
    );
    let csv = b"Job Name,Repo,Workflow Name,Cron schedule (JST),End Date,PIC Team\nx,victim-org/r,w.yml,0 9 * * 1,2099-01-01,PAM\n".to_vec();
    let (s, v) = read(app.upload_csv(&ut, csv).await).await;
    assert_eq!(
        (s, v["errors"][0]["error"].as_str()),
        (400, Some("GitHub owner not allowed")),
        "{v}"
    );
    assert!(app.github.received_requests().await.unwrap().is_empty());
    // An allowed owner is reached.
    let (s, v) = read(
        app.post_json(
            "/jobs/test-run",
            Some(&ut),
            json!({"github_owner": "partner-org", "github_repo": "r", "github_workflow_name": "w.yml"}),
        )
        .await,
    )
    .await;
    assert_eq!((s, v["ok"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(app.github.received_requests().await.unwrap().len(), 1);
    // A job whose owner is taken off the list later: its runs make no call and say why.
    let job = app
        .job(
            &ut,
            json!({"name": "partner", "cron_expression": "0 9 * * 1", "end_date": "2099-01-01", "pic_team": "PAM",
                "github_owner": "partner-org", "github_repo": "r", "github_workflow_name": "w.yml"}),
        )
        .await;
    let (s, _) = read(
        app.put_json(
            "/settings/github-owners",
            &t,
            json!({"owners": ["Pay-Baymax"]}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    let id = job["id"].as_str().unwrap();
    let (s, v) = read(
        app.post_json(&format!("/jobs/{id}/execute"), Some(&ut), json!({}))
            .await,
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("GitHub owner not allowed")),
        "{v}"
    );
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let out = executor_fn::handle(
        &app.executor.engine,
        json!({"job_id": id, "scheduled_time": at}),
    )
    .await
    .unwrap();
    assert_eq!(out["execution"]["status"], "failed", "{out}");
    assert!(out["execution"]["error_message"]
        .as_str()
        .unwrap()
        .contains("not on this platform's allowlist"));
    assert_eq!(app.github.received_requests().await.unwrap().len(), 1);
    // It can still be paused.
    let (s, _) = read(
        app.put_json(&format!("/jobs/{id}"), &ut, json!({"is_active": false}))
            .await,
    )
    .await;
    assert_eq!(s, 200);
}

/// A team's Slack handle and the Slack channel go into Slack messages as they are: a line
/// break or a bidi override in them is a 400, and nothing is saved.
#[tokio::test]
async fn slack_handle_and_channel_refuse_line_breaks_and_bidi_overrides() {
    let app = spawn_app().await;
    for handle in ["@team\r\n@everyone", "@te\u{202E}am"] {
        let (s, v) = read(
            app.post_json(
                "/pic-teams",
                Some(&app.admin_token),
                json!({"name": "Tricky", "slack_handle": handle}),
            )
            .await,
        )
        .await;
        assert_eq!(
            (s, v["error"].as_str()),
            (400, Some("Invalid slack_handle")),
            "{v}"
        );
    }
    let (s, v) = read(
        app.put_json(
            "/settings/slack",
            &app.admin_token,
            json!({"channel": "#ops\n#all"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("\"channel\""),
        "{v}"
    );
    let (_, v) = read(app.get("/pic-teams", &app.admin_token).await).await;
    assert!(!v.to_string().contains("Tricky"), "{v}");
}
