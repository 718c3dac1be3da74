//! The audit log end to end: a job's create, update and delete with actor and before/after, a
//! test-run and a password reset listed, secrets redacted, admins only, cursor pages, and no
//! entry for a refused write.

mod common;
use common::*;
use serde_json::{json, Value};

async fn audit(app: &TestApp, query: &str) -> Value {
    let (s, v) = read(app.get(&format!("/audit{query}"), &app.admin_token).await).await;
    assert_eq!(s, 200, "{v}");
    v
}

#[tokio::test]
async fn changes_and_privileged_actions_are_recorded_with_their_write() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let (bob, bob_token) = app.user("bob", "user").await;
    let job = app
        .job(&bob_token, webhook_job("audited", "https://example.com/h"))
        .await;
    let id = job["id"].as_str().unwrap().to_string();
    let (s, _) = read(
        app.put_json(
            &format!("/jobs/{id}"),
            &bob_token,
            json!({"name": "audited-2"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    // Refused (a duplicate name): no entry.
    let other = app
        .job(&bob_token, webhook_job("other", "https://example.com/h"))
        .await;
    let (s, _) = read(
        app.put_json(
            &format!("/jobs/{}", other["id"].as_str().unwrap()),
            &bob_token,
            json!({"name": "AUDITED-2"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(
        read(app.delete(&format!("/jobs/{id}"), &bob_token).await)
            .await
            .0,
        200
    );

    let v = audit(&app, &format!("?entity_type=job&entity_id={id}")).await;
    let entries = v["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["delete", "update", "create"], "newest first: {v}");
    for e in entries {
        assert_eq!(e["actor_id"], bob.as_str());
        assert_eq!(e["actor"], "bob");
        assert!(e["source"].is_string(), "{e}");
    }
    assert_eq!(entries[1]["before"]["name"], "audited");
    assert_eq!(entries[1]["after"]["name"], "audited-2");
    assert_eq!(entries[2]["before"], Value::Null);
    assert_eq!(entries[0]["after"], Value::Null);
    // The refused update of the other job left nothing.
    let v = audit(
        &app,
        &format!(
            "?entity_type=job&entity_id={}",
            other["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(v["count"], 1, "only its create: {v}");

    // A test-run and a password reset are listed; the password never is.
    let (s, _) = read(
        app.post_json(
            "/jobs/test-run",
            Some(&bob_token),
            json!({"target_url": "http://127.0.0.1:9/nowhere"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = read(
        app.put_json(
            &format!("/auth/users/{bob}"),
            &app.admin_token,
            json!({"password": "reset-1234"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    let v = audit(&app, "?entity_type=test_run").await;
    assert_eq!(v["entries"][0]["action"], "test_run", "{v}");
    assert_eq!(v["entries"][0]["actor"], "bob");
    let v = audit(&app, &format!("?entity_type=user&entity_id={bob}")).await;
    let reset = &v["entries"][0];
    assert_eq!(reset["action"], "password_reset", "{v}");
    assert_eq!(reset["after"]["password"], "[redacted]");
    assert!(!v.to_string().contains("reset-1234"));
    assert!(!v.to_string().contains("pbkdf2"));

    // By actor, and everything; admins only.
    let v = audit(&app, &format!("?actor_id={bob}")).await;
    assert_eq!(
        v["count"], 5,
        "create, update, create, delete, test-run: {v}"
    );
    assert!(audit(&app, "").await["count"].as_i64().unwrap() >= 6);
    // bob's session ended with the reset (401); another user is refused (403).
    assert_eq!(read(app.get("/audit", &bob_token).await).await.0, 401);
    let (_, carol) = app.user("carol", "user").await;
    assert_eq!(read(app.get("/audit", &carol).await).await.0, 403);
    assert_eq!(
        read(app.get("/audit?from=nope", &app.admin_token).await)
            .await
            .0,
        400
    );
    // A made-up cursor starts at the top instead of failing.
    let v = audit(&app, &format!("?actor_id={bob}&cursor=bm9uc2Vuc2U")).await;
    assert_eq!(v["count"], 5);
}

#[tokio::test]
async fn pages_follow_the_cursor_newest_first() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let names: Vec<String> = (0..55).map(|i| format!("p{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    app.webhook_jobs(&app.admin_token, &refs).await;
    let first = audit(&app, "?entity_type=job").await;
    assert_eq!(first["count"], 50);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = audit(&app, &format!("?entity_type=job&cursor={cursor}")).await;
    assert_eq!(second["count"], 5, "{second}");
    assert_eq!(second["next_cursor"], Value::Null);
    // The same log through cronctl's store calls.
    let (entries, next) = app
        .as_fn("cronctl")
        .store
        .audit_page(
            &shared::store::audit::AuditFilter {
                entity_type: Some("job".into()),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!((entries.len(), next.is_some()), (50, true));
    let mut seen: Vec<String> = first["entries"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["entries"].as_array().unwrap())
        .map(|e| e["at"].as_str().unwrap().to_string())
        .collect();
    let sorted = {
        let mut s = seen.clone();
        s.sort();
        s.reverse();
        s
    };
    assert_eq!(seen, sorted);
    seen.dedup();
    assert_eq!(seen.len(), 55);
}

/// Category and team changes, registration, bulk uploads, the Slack settings and cronctl
/// imports are recorded too, each with its write; a refused one (a taken slug) writes none.
#[tokio::test]
async fn taxonomy_registration_bulk_slack_and_imports_are_recorded() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let (s, v) = read(
        app.post_json(
            "/job-categories",
            Some(&app.admin_token),
            json!({"name": "Nightly"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let cat = v["category"]["id"].as_str().unwrap().to_string();
    let (s, _) = read(
        app.put_json(
            &format!("/job-categories/{cat}"),
            &app.admin_token,
            json!({"name": "Nightly runs"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        read(
            app.delete(&format!("/job-categories/{cat}"), &app.admin_token)
                .await
        )
        .await
        .0,
        200
    );
    // Refused: the slug is taken (by the category just made).
    for expected in [201, 409] {
        let (s, v) = read(
            app.post_json(
                "/job-categories",
                Some(&app.admin_token),
                json!({"name": "Weekly"}),
            )
            .await,
        )
        .await;
        assert_eq!(s, expected, "{v}");
    }
    let v = audit(&app, &format!("?entity_type=category&entity_id={cat}")).await;
    let actions: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["disable", "update", "create"], "{v}");
    assert_eq!(v["entries"][1]["before"]["name"], "Nightly");
    assert_eq!(v["entries"][1]["after"]["name"], "Nightly runs");
    assert_eq!(v["entries"][0]["after"]["is_active"], false);
    assert_eq!(audit(&app, "?entity_type=category").await["count"], 4);
    let v = audit(&app, "?entity_type=pic_team").await;
    assert_eq!(v["entries"][0]["action"], "create", "{v}");

    // Registration, by the admin who did it; the password never.
    let (carol, _) = app.user("carol", "viewer").await;
    let v = audit(&app, &format!("?entity_type=user&entity_id={carol}")).await;
    assert_eq!(v["entries"][0]["action"], "create", "{v}");
    assert_eq!(v["entries"][0]["actor"], "admin");
    assert_eq!(v["entries"][0]["after"]["username"], "carol");
    assert!(!v.to_string().contains("password1"));

    // A bulk upload: one entry per job created, in its transaction.
    let csv = "Job Name,Repo,Workflow Name,Cron schedule (JST),End Date,PIC Team\nb1,api,w.yml,0 9 * * 1,2099-01-01,PAM\nb2,api,w.yml,0 9 * * 1,2099-01-01,PAM\n";
    let (s, v) = read(
        app.upload_csv(&app.admin_token, csv.as_bytes().to_vec())
            .await,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let v = audit(&app, "?entity_type=job").await;
    let bulk: Vec<&Value> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "bulk_upload")
        .collect();
    assert_eq!(bulk.len(), 2, "{v}");
    assert!(bulk.iter().any(|e| e["after"]["name"] == "b1"));

    // Slack settings: before/after, the webhook URL redacted.
    let (s, v) = read(
        app.put_json(
            "/settings/slack",
            &app.admin_token,
            json!({"is_enabled": true, "webhook_url": "https://hooks.slack.com/services/T/B/secret"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let v = audit(&app, "?entity_type=slack_settings").await;
    assert_eq!(v["entries"][0]["after"]["webhook_url"], "[redacted]", "{v}");
    assert!(!v.to_string().contains("secret"));

    // A cronctl import that wrote something: one entry naming its source and counts.
    let line = json!({"kind": "category", "data": {"id": uuid::Uuid::new_v4().to_string(), "slug": "imported", "name": "Imported", "is_active": true, "created_at": "2026-01-01T00:00:00.000000Z", "updated_at": "2026-01-01T00:00:00.000000Z"}});
    let bundle = cronctl::bundle::Bundle::from_lines("jsonl:test", &line.to_string());
    let opts = cronctl::import::Options {
        dry_run: false,
        progress: false,
        keep_invalid: false,
        keep_expired: false,
    };
    let r = cronctl::import::apply(&app.as_fn("cronctl"), bundle, opts)
        .await
        .unwrap();
    assert!(r.changed_anything(), "{r:?}");
    let v = audit(&app, "?entity_type=import").await;
    assert_eq!(v["count"], 1, "{v}");
    assert_eq!(v["entries"][0]["actor"], "cronctl");
    assert_eq!(v["entries"][0]["entity_id"], "jsonl:test");
}
