//! Bulk CSV upload over HTTP with the real 108-row file from the deployment we replace.

mod common;
use common::*;
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};
use std::collections::HashMap;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("tests/fixtures").join(name)).unwrap()
}

async fn upload(app: &TestApp, token: &str, csv: Vec<u8>, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut form = Form::new().part(
        "file",
        Part::bytes(csv)
            .file_name("jobs.csv")
            .mime_str("text/csv")
            .unwrap(),
    );
    for (k, v) in extra {
        form = form.text(k.to_string(), v.to_string());
    }
    read(
        app.http
            .post(app.url("/jobs/bulk-upload"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn teams(app: &TestApp) {
    for t in ["PAM", "CAG", "QA Tech", "O2O", "FSBP"] {
        app.team(t).await;
    }
}

#[tokio::test]
async fn past_end_dates_are_rejected_row_by_row_and_nothing_is_written() {
    let app = spawn_app().await;
    teams(&app).await;
    let (s, v) = upload(
        &app,
        &app.admin_token,
        fixture("job-master-github-actions.csv"),
        &[],
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(v["error"], "Bulk upload failed");
    assert_eq!(
        v["message"],
        "No jobs were created. Fix CSV errors and try again."
    );
    assert_eq!(v["created_count"], 0);
    assert_eq!(v["error_count"], 108);
    let errors = v["errors"].as_array().unwrap();
    assert!(errors.iter().all(|e| e["error"] == "Invalid end_date"
        && e["message"] == "end_date must be today or in the future (JST)."));
    let rows: Vec<u64> = errors.iter().map(|e| e["row"].as_u64().unwrap()).collect();
    assert_eq!(rows, (2..110).collect::<Vec<u64>>());
    assert_eq!(
        read(app.get("/jobs", &app.admin_token).await).await.1["count"],
        0
    );
    assert!(app.schedule_names().await.is_empty());
}

#[tokio::test]
async fn refreshed_file_creates_46_jobs_and_25_schedules() {
    let app = spawn_app().await;
    teams(&app).await;
    let (s, v) = upload(
        &app,
        &app.admin_token,
        fixture("job-master-github-actions.refreshed.csv"),
        &[],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["message"], "Bulk upload processed");
    assert_eq!(v["dry_run"], false);
    assert_eq!(v["created_count"], 46);
    assert_eq!(v["error_count"], 62);
    assert!(v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["error"] == "Duplicate job name in CSV"));
    assert_eq!(v["stats"]["original_row_count"], 108);
    let jobs = v["jobs"].as_array().unwrap();
    assert_eq!(jobs.iter().filter(|j| j["is_active"] == true).count(), 25);
    assert_eq!(jobs.iter().filter(|j| j["is_active"] == false).count(), 21);

    // Each job against its first CSV row: metadata = Request Body, schedule per status.
    let raw = fixture("job-master-github-actions.refreshed.csv");
    let mut rdr = csv::Reader::from_reader(&raw[..]);
    let mut first: HashMap<String, csv::StringRecord> = HashMap::new();
    for r in rdr.records() {
        let r = r.unwrap();
        first.entry(r[0].trim().to_string()).or_insert(r);
    }
    // The schedules follow through the outbox (the table's stream delivers it at once).
    deliver_schedules(&app, 25).await;
    let (_, listed) = read(app.get("/jobs", &app.admin_token).await).await;
    let listed = listed["jobs"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 46);
    let mut schedules = 0;
    for job in &listed {
        let row = &first[job["name"].as_str().unwrap()];
        let body: Value = serde_json::from_str(&row[8]).unwrap();
        assert_eq!(job["metadata"], body, "{}", job["name"]);
        assert_eq!(job["github_owner"], "Pay-Baymax");
        assert_eq!(job["github_repo"], row[1].trim());
        assert_eq!(job["end_date"], row[6].trim());
        let expected = shared::domain::CronExpr::parse(&row[4]).unwrap();
        assert_eq!(job["cron_expression"], expected.as_str());
        let sched = app.schedule(job["id"].as_str().unwrap()).await;
        if row[5].trim() == "Enable" {
            let s = sched.expect("enabled job has a schedule");
            assert_eq!(s.expression, expected.to_eventbridge());
            assert_eq!(s.timezone, "Asia/Tokyo");
            schedules += 1;
        } else {
            assert!(sched.is_none(), "disabled job has no schedule");
        }
    }
    assert_eq!(schedules, 25);
    assert_eq!(app.schedule_names().await.len(), 25);

    // A second upload: every name now exists in the table.
    let (s, v) = upload(
        &app,
        &app.admin_token,
        fixture("job-master-github-actions.refreshed.csv"),
        &[],
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(v["created_count"], 0);
    let dup_db = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["error"] == "Duplicate job name")
        .count();
    assert_eq!(dup_db, 46);
}

#[tokio::test]
async fn request_errors_and_row_errors() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let t = app.admin_token.clone();
    // No file part (a JSON body).
    let (s, v) = read(
        app.post_json("/jobs/bulk-upload", Some(&t), json!({}))
            .await,
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str(), v["message"].as_str()),
        (
            400,
            Some("Missing file"),
            Some("Upload a CSV file using form field \"file\".")
        )
    );
    let (s, v) = upload(&app, &t, Vec::new(), &[]).await;
    assert_eq!((s, v["message"].as_str()), (400, Some("CSV is empty.")));
    let (s, v) = upload(&app, &t, b" , \n1,2\n".to_vec(), &[]).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (400, Some("CSV header row has no usable column names."))
    );

    let csv =
        "Job Name,Repo,Workflow Name,Cron schedule (JST),End Date,PIC Team,Request Body\\r\\n\n\
        ok,api,wf,0 9 * * 1,2099-01-01,pam,\"{\"\"a\"\": 1}\"\n\
        team,api,wf,0 9 * * 1,2099-01-01,Nobody,\n\
        ,api,wf,0 9 * * 1,2099-01-01,PAM,\n\
        cron,api,wf,0 9 * *,2099-01-01,PAM,\n\
        body,api,wf,0 9 * * 1,2099-01-01,PAM,[1]\n\
        json,api,wf,0 9 * * 1,2099-01-01,PAM,{oops\n\
        target,,,0 9 * * 1,2099-01-01,PAM,\n\
        enddate,api,wf,0 9 * * 1,,PAM,\n\
        owner,acme/web,wf,0 9 * * 1,2099-01-01,PAM,\n";
    // Dry run writes nothing.
    let (s, v) = upload(&app, &t, csv.as_bytes().to_vec(), &[("dry_run", "true")]).await;
    assert_eq!(s, 200);
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["created_count"], 2);
    assert_eq!(read(app.get("/jobs", &t).await).await.1["count"], 0);

    let (s, v) = upload(
        &app,
        &t,
        csv.as_bytes().to_vec(),
        &[("default_github_owner", "Octo")],
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["created_count"], 2);
    let by_row: HashMap<u64, &Value> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e))
        .collect();
    assert_eq!(by_row[&3]["error"], "Invalid PIC team");
    assert_eq!(by_row[&3]["pic_team"], "Nobody");
    assert!(by_row[&3]["message"]
        .as_str()
        .unwrap()
        .to_lowercase()
        .contains("unknown pic team"));
    assert_eq!(by_row[&4]["error"], "Missing required fields");
    assert!(by_row[&4].get("job_name").is_none());
    assert_eq!(by_row[&5]["error"], "Invalid cron expression");
    assert_eq!(by_row[&6]["error"], "Invalid Request Body");
    assert_eq!(by_row[&7]["error"], "Invalid JSON in Request Body");
    assert_eq!(by_row[&8]["error"], "Missing target configuration");
    assert_eq!(by_row[&9]["error"], "Missing required fields");
    let (_, jobs) = read(app.get("/jobs", &t).await).await;
    let by_name: HashMap<&str, &Value> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["name"].as_str().unwrap(), j))
        .collect();
    assert_eq!(by_name["ok"]["github_owner"], "Octo");
    assert_eq!(by_name["ok"]["metadata"], json!({"a": 1}));
    assert_eq!(by_name["owner"]["github_owner"], "acme");
    assert_eq!(by_name["owner"]["github_repo"], "web");

    let (_, viewer) = app.user("victor", "viewer").await;
    let (s, _) = upload(&app, &viewer, csv.as_bytes().to_vec(), &[]).await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn oversized_cells_are_row_errors_with_the_same_bounds_as_post_jobs() {
    let app = spawn_app().await;
    teams(&app).await;
    let big_body = format!("\"{{\"\"k\"\":\"\"{}\"\"}}\"", "v".repeat(450_000));
    let long_url = format!("https://example.com/{}", "a".repeat(100_000));
    let long_repo = "r".repeat(10_000);
    let csv = format!(
        "Job Name,Repo,Workflow Name,Cron schedule (JST),End Date,PIC Team,Request Body,Target URL\n\
         ok,api,w.yml,0 9 * * 1,2099-01-01,PAM,,\n\
         big-body,api,w.yml,0 9 * * 1,2099-01-01,PAM,{big_body},\n\
         long-url,,,0 9 * * 1,2099-01-01,PAM,,{long_url}\n\
         long-repo,{long_repo},w.yml,0 9 * * 1,2099-01-01,PAM,,\n"
    );
    let (s, v) = upload(&app, &app.admin_token, csv.into_bytes(), &[]).await;
    assert_eq!(s, 200, "{}", &v.to_string()[..500.min(v.to_string().len())]);
    assert_eq!(v["created_count"], 1);
    let errors: Vec<(i64, &str)> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_i64().unwrap(), e["error"].as_str().unwrap()))
        .collect();
    assert_eq!(
        errors,
        vec![
            (3, "Invalid Request Body"),
            (4, "Invalid target_url"),
            (5, "Invalid payload")
        ]
    );
    let (_, jobs) = read(app.get("/jobs", &app.admin_token).await).await;
    assert_eq!(jobs["count"], 1);

    // A 1 MB default owner is a request error, and nothing is written.
    let owner = "o".repeat(1_000_000);
    let (s, v) = upload(
        &app,
        &app.admin_token,
        b"Job Name,Repo,Workflow Name,Cron schedule (JST),End Date,PIC Team\nx,api,w.yml,0 9 * * 1,2099-01-01,PAM\n".to_vec(),
        &[("default_github_owner", owner.as_str())],
    )
    .await;
    assert_eq!((s, v["error"].as_str()), (400, Some("Invalid payload")));
    assert_eq!(
        read(app.get("/jobs", &app.admin_token).await).await.1["count"],
        1
    );
}

/// The answer comes once the jobs are written: the jobs that should run are marked
/// `SYNC_PENDING` and have no schedule yet; delivering the upload's outbox tasks (as the
/// table's stream does) creates exactly those schedules and clears the marks.
async fn deliver_schedules(app: &TestApp, expected: usize) {
    let pending = app.state.store.sync_pending_jobs().await.unwrap();
    assert_eq!(pending.len(), expected, "marked until scheduled");
    assert!(
        app.schedule_names().await.is_empty(),
        "no schedule call in the request"
    );
    let r = app.maintenance.alerts.drain(50).await.unwrap();
    assert_eq!(r.failed, 0, "{r:?}");
    assert_eq!(
        r.delivered,
        expected.div_ceil(web::services::bulk::JOBS_PER_SCHEDULE_TASK)
    );
    assert!(app
        .state
        .store
        .sync_pending_jobs()
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_thousand_rows_create_a_thousand_jobs_with_exactly_their_schedules() {
    let app = spawn_app().await;
    teams(&app).await;
    let mut csv = String::from(
        "Job Name,Repo,Workflow Name,Branch,Cron schedule (JST),Status,End Date,PIC Team,Request Body\n",
    );
    for i in 0..1000 {
        let status = if i % 4 == 0 { "Disable" } else { "Enable" };
        csv.push_str(&format!(
            "bulk-{i:04},repo-{i},wf.yml,main,{} 9 * * 1,{status},2031-01-01,PAM,\"{{\"\"n\"\": {i}}}\"\n",
            i % 60
        ));
    }
    let started = std::time::Instant::now();
    let (s, v) = upload(&app, &app.admin_token, csv.into_bytes(), &[]).await;
    // A figure for the reader (`--nocapture`), not an assertion: speed is measured by benches.
    println!("bulk upload of 1,000 rows: {:?}", started.elapsed());
    assert_eq!(s, 200, "{}", v["errors"]);
    assert_eq!(v["created_count"], 1000);
    assert_eq!(v["error_count"], 0);
    // 750 enabled rows → 750 schedules; no schedule call for the 250 disabled ones, and no job
    // left awaiting repair.
    deliver_schedules(&app, 750).await;
    assert_eq!(app.schedule_names().await.len(), 750);
    assert!(app
        .state
        .store
        .sync_pending_jobs()
        .await
        .unwrap()
        .is_empty());
    let (_, listed) = read(app.get("/jobs", &app.admin_token).await).await;
    assert_eq!(listed["jobs"].as_array().unwrap().len(), 1000);
}

/// Cells a spreadsheet would run as formulas, and headers that appear twice, are refused
/// before anything is written.
#[tokio::test]
async fn formula_cells_and_duplicate_headers_are_refused() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let header = "Job Name,Repo,Workflow Name,Cron schedule (JST),End Date,PIC Team\n";
    for (body, needle) in [
        (
            format!("{header}ok,api,w.yml,0 9 * * 1,2099-01-01,PAM\n=HYPERLINK(\"x\"),api,w.yml,0 9 * * 1,2099-01-01,PAM\n"),
            "Row 3, column \"job name\"",
        ),
        (
            format!("{header}x,api,@SUM(A1),0 9 * * 1,2099-01-01,PAM\n"),
            "Row 2, column \"workflow name\"",
        ),
        (
            format!("{header}\"\tcmd\",api,w.yml,0 9 * * 1,2099-01-01,PAM\n"),
            "formula injection",
        ),
        (
            "Job Name,Repo,Job Name,Workflow Name,Cron schedule (JST),End Date,PIC Team\na,api,b,w.yml,0 9 * * 1,2099-01-01,PAM\n".to_string(),
            "CSV header \"job name\" appears more than once",
        ),
    ] {
        let (s, v) = read(app.upload_csv(&app.admin_token, body.into_bytes()).await).await;
        assert_eq!((s, v["error"].as_str()), (400, Some("Invalid CSV")), "{v}");
        assert!(v["message"].as_str().unwrap().contains(needle), "{v}");
    }
    let (_, jobs) = read(app.get("/jobs", &app.admin_token).await).await;
    assert_eq!(jobs["count"], 0);
}
