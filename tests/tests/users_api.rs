//! Users and preferences over HTTP (api-contract §3.3): admin listing, self-or-admin rules,
//! admin-only fields, e-mail uniqueness, no partial writes, deletion side effects, OAuth2
//! form login.

mod common;
use common::*;
use serde_json::{json, Value};

async fn user_json(app: &TestApp, id: &str) -> Value {
    let (s, v) = read(
        app.get(&format!("/auth/users/{id}"), &app.admin_token)
            .await,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v["user"].clone()
}

#[tokio::test]
async fn list_read_update_with_self_and_admin_rules() {
    let app = spawn_app().await;
    let (alice, at) = app.user("alice", "user").await;
    let (bob, bt) = app.user("bob", "viewer").await;

    let (s, v) = read(app.get("/auth/users", &app.admin_token).await).await;
    assert_eq!(s, 200);
    assert_eq!(v["count"], 3);
    assert_eq!(v["users"].as_array().unwrap().len(), 3);
    assert_eq!(read(app.get("/auth/users", &at).await).await.0, 403);

    let (s, v) = read(app.get(&format!("/auth/users/{bob}"), &at).await).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (403, Some("Forbidden. You can only view your own profile."))
    );
    let (s, v) = read(app.get(&format!("/auth/users/{alice}"), &at).await).await;
    assert_eq!((s, v["user"]["username"].as_str()), (200, Some("alice")));
    assert_eq!(
        read(app.get("/auth/users/nope", &app.admin_token).await)
            .await
            .0,
        404
    );

    // Self: e-mail (lower-cased) and password.
    let (s, v) = read(
        app.put_json(
            &format!("/auth/users/{alice}"),
            &at,
            json!({"email": " Alice2@Example.com "}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["updated_fields"], json!(["email"]));
    assert_eq!(v["user"]["email"], "alice2@example.com");
    assert!(v["user"]["updated_at"].as_str().unwrap().ends_with('Z'));
    // One's own password: the current one is required, and must be right.
    for (body, error) in [
        (json!({"password": "newpass1"}), "Current password required"),
        (
            json!({"password": "newpass1", "current_password": "wrong-one"}),
            "Invalid current password",
        ),
    ] {
        let (s, v) = read(
            app.put_json(&format!("/auth/users/{alice}"), &at, body)
                .await,
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (400, Some(error)), "{v}");
    }
    let (s, _) = read(
        app.put_json(
            &format!("/auth/users/{alice}"),
            &at,
            json!({"password": "newpass1", "current_password": "password1"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    app.login("alice2@example.com", "newpass1").await;
    // The session it was changed from goes on.
    assert_eq!(read(app.get("/auth/me", &at).await).await.0, 200);

    // Admin-only fields: 403 and nothing written, even the e-mail sent with them.
    let before = user_json(&app, &alice).await;
    for body in [
        json!({"role": "admin"}),
        json!({"email": "other@example.com", "role": "admin"}),
        json!({"email": "other@example.com", "is_active": false}),
    ] {
        let (s, _) = read(
            app.put_json(&format!("/auth/users/{alice}"), &at, body)
                .await,
        )
        .await;
        assert_eq!(s, 403);
    }
    assert_eq!(user_json(&app, &alice).await, before);

    // Other errors, in the contract's order.
    let cases = [
        (
            json!({"email": "bob@example.com"}),
            409,
            "Email already exists",
        ),
        (
            json!({"password": "12345"}),
            400,
            "Password must be at least 6 characters long",
        ),
        (
            json!({"username": "renamed"}),
            400,
            "No valid fields to update",
        ),
        (json!({"email": "not-an-email"}), 400, "Invalid email"),
        (
            json!({"role": "root"}),
            403,
            "Only admins can change user roles",
        ),
    ];
    for (body, status, error) in cases {
        let (s, v) = read(
            app.put_json(&format!("/auth/users/{alice}"), &at, body.clone())
                .await,
        )
        .await;
        assert_eq!((s, v["error"].as_str()), (status, Some(error)), "{body}");
    }
    let (s, v) = read(
        app.put_json(
            &format!("/auth/users/{bob}"),
            &at,
            json!({"email": "x@example.com"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (
            403,
            Some("Forbidden. You can only update your own profile.")
        )
    );
    let r = app
        .http
        .put(app.url(&format!("/auth/users/{alice}")))
        .bearer_auth(&at)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        read(r).await.1["error"],
        "Content-Type must be application/json"
    );
    // An unchanged e-mail is not a conflict with oneself.
    let (s, _) = read(
        app.put_json(
            &format!("/auth/users/{alice}"),
            &at,
            json!({"email": "alice2@example.com"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(user_json(&app, &alice).await["email"], before["email"]);

    // Admin: role and active status; a deactivated user's token stops working.
    let (s, v) = read(
        app.put_json(
            &format!("/auth/users/{bob}"),
            &app.admin_token,
            json!({"role": "user", "is_active": false}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["updated_fields"], json!(["role", "is_active"]));
    assert_eq!(
        (v["user"]["role"].as_str(), v["user"]["is_active"].as_bool()),
        (Some("user"), Some(false))
    );
    // Lists that look the user up beside their read answer the same, a bad query included
    // (the 401 comes before the 400, as everywhere).
    for path in [
        "/auth/me",
        "/jobs",
        "/executions",
        "/executions?page=2",
        "/executions?page=0",
    ] {
        let (s, v) = read(app.get(path, &bt).await).await;
        assert_eq!(
            (s, v["detail"].as_str()),
            (401, Some("User account is deactivated")),
            "{path}"
        );
    }
    let (s, _) = read(
        app.put_json(
            &format!("/auth/users/{bob}"),
            &app.admin_token,
            json!({"role": "root"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn delete_user_removes_their_notifications_and_preferences() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let (carol, ct) = app.user("carol", "user").await;
    let job = app
        .job(&ct, webhook_job("carols", "https://example.com/h"))
        .await;
    assert_eq!(
        read(
            app.get(&format!("/auth/users/{carol}/preferences"), &ct)
                .await
        )
        .await
        .0,
        200
    );
    let (_, v) = read(app.get("/notifications/unread-count", &ct).await).await;
    assert_eq!(v["unread_count"], 1);

    let admin = app
        .state
        .store
        .find_user_by_login("admin")
        .await
        .unwrap()
        .unwrap();
    let (s, v) = read(
        app.delete(&format!("/auth/users/{}", admin.id), &app.admin_token)
            .await,
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("Cannot delete your own account"))
    );
    assert_eq!(
        read(app.delete(&format!("/auth/users/{carol}"), &ct).await)
            .await
            .0,
        403
    );
    let (s, v) = read(
        app.delete(&format!("/auth/users/{carol}"), &app.admin_token)
            .await,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["deleted_user"], json!({"id": carol, "username": "carol"}));
    assert_eq!(
        read(
            app.delete(&format!("/auth/users/{carol}"), &app.admin_token)
                .await
        )
        .await
        .0,
        404
    );
    assert!(app
        .state
        .store
        .recent_notifications(&carol, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(app.state.store.get_prefs(&carol).await.unwrap().is_none());
    // Their share of the feed (join, exceptions) went with them.
    assert!(app.state.store.feed_join(&carol).await.unwrap().is_none());
    // The job stays, without a creator; the name and e-mail are free again.
    let (_, v) = read(
        app.get(
            &format!("/jobs/{}", job["id"].as_str().unwrap()),
            &app.admin_token,
        )
        .await,
    )
    .await;
    assert_eq!(v["job"]["created_by"], Value::Null);
    app.user("carol", "viewer").await;
}

#[tokio::test]
async fn notification_and_ui_preferences() {
    let app = spawn_app().await;
    let (alice, at) = app.user("alice", "viewer").await;
    let (bob, _) = app.user("bob", "viewer").await;
    let url = format!("/auth/users/{alice}/preferences");
    let (s, v) = read(app.get(&url, &at).await).await;
    assert_eq!(s, 200);
    assert_eq!(
        v["message"],
        "Notification preferences retrieved successfully"
    );
    let p = &v["preferences"];
    assert_eq!(
        [
            p["email_on_job_success"].clone(),
            p["email_on_job_failure"].clone(),
            p["email_on_job_disabled"].clone(),
            p["browser_notifications"].clone(),
            p["daily_digest"].clone(),
            p["weekly_report"].clone()
        ],
        [
            json!(true),
            json!(true),
            json!(false),
            json!(false),
            json!(false),
            json!(false)
        ]
    );
    let (s, v) = read(
        app.put_json(
            &url,
            &at,
            json!({"weekly_report": true, "email_on_job_success": "false", "unknown": 1}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["preferences"]["weekly_report"], true);
    assert_eq!(v["preferences"]["email_on_job_success"], false);
    assert_eq!(
        read(
            app.put_json(&url, &at, json!({"daily_digest": "maybe"}))
                .await
        )
        .await
        .0,
        400
    );
    assert_eq!(
        read(app.get(&url, &at).await).await.1["preferences"]["weekly_report"],
        true
    );
    let other = format!("/auth/users/{bob}/preferences");
    let (s, v) = read(app.get(&other, &at).await).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (
            403,
            Some("Forbidden: Cannot access other users preferences")
        )
    );
    let (s, v) = read(app.put_json(&other, &at, json!({})).await).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (
            403,
            Some("Forbidden: Cannot update other users preferences")
        )
    );
    assert_eq!(read(app.get(&other, &app.admin_token).await).await.0, 200);

    let ui = format!("/auth/users/{alice}/ui-preferences");
    let (s, v) = read(app.get(&ui, &at).await).await;
    assert_eq!(s, 200);
    assert_eq!(
        v["preferences"]["jobs_table_columns"],
        json!({"pic_team": true, "end_date": true, "cron_expression": false, "target_url": false, "last_execution_at": false})
    );
    let (s, v) = read(
        app.put_json(
            &ui,
            &at,
            json!({"jobs_table_columns": {"target_url": true, "pic_team": false, "bogus": true}}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        v["preferences"]["jobs_table_columns"],
        json!({"pic_team": false, "end_date": true, "cron_expression": false, "target_url": true, "last_execution_at": false})
    );
    let (s, v) = read(app.put_json(&ui, &at, json!({})).await).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (400, Some("\"jobs_table_columns\" is required."))
    );
    let (s, v) = read(
        app.put_json(&ui, &at, json!({"jobs_table_columns": []}))
            .await,
    )
    .await;
    assert_eq!(
        (s, v["message"].as_str()),
        (400, Some("\"jobs_table_columns\" must be an object."))
    );
    assert_eq!(
        read(app.get(&ui, &at).await).await.1["preferences"]["jobs_table_columns"]["target_url"],
        true
    );
    assert_eq!(
        read(
            app.get("/auth/users/nope/ui-preferences", &app.admin_token)
                .await
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn oauth2_form_login() {
    let app = spawn_app().await;
    let form = |body: &'static str| {
        app.http
            .post(app.url("/auth/login/form"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let (s, v) = read(
        form("username=admin&password=admin123&grant_type=password")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["token_type"], "bearer");
    assert!(v["access_token"].is_string());
    let (s, v) = read(
        form("username=admin%40example.com&password=admin123")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, v["user"]["username"].as_str()), (200, Some("admin")));
    assert_eq!(
        read(form("username=admin&password=wrong-pass").await.unwrap())
            .await
            .0,
        401
    );
    for bad in [
        "username=admin",
        "password=admin123",
        "username=admin&password=admin123&grant_type=client_credentials",
        "username=admin&password=abc",
    ] {
        let (s, v) = read(form(bad).await.unwrap()).await;
        assert_eq!(s, 400, "{bad}: {v}");
    }
}

async fn login_pair(app: &TestApp, username: &str, password: &str) -> (String, String) {
    let (s, v) = read(
        app.post_json(
            "/auth/login",
            None,
            json!({"username": username, "password": password}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    (
        v["access_token"].as_str().unwrap().to_string(),
        v["refresh_token"].as_str().unwrap().to_string(),
    )
}

async fn refresh_status(app: &TestApp, refresh: &str) -> u16 {
    read(
        app.post_json("/auth/refresh", Some(refresh), json!({}))
            .await,
    )
    .await
    .0
}

/// Sessions end when they should: an admin's reset ends every session of the account (access
/// and refresh tokens, and access tokens minted from them), a logout without a body ends the
/// presented session only, a role change and a deactivation end them all, and a reactivation
/// does not bring them back.
#[tokio::test]
async fn sessions_end_on_reset_logout_role_change_and_deactivation() {
    let app = spawn_app().await;
    let (bob, _) = app.user("bob", "user").await;
    let (a1, r1) = login_pair(&app, "bob", "password1").await;
    let (a2, r2) = login_pair(&app, "bob", "password1").await;
    assert_eq!(refresh_status(&app, &r1).await, 200);
    // Logout with no body (what the web client sends): that session only.
    let r = app
        .http
        .post(app.url("/auth/logout"))
        .bearer_auth(&a1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (s, v) = read(app.get("/auth/me", &a1).await).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (401, Some("Token has been revoked"))
    );
    assert_eq!(refresh_status(&app, &r1).await, 401);
    assert_eq!(
        read(app.get("/jobs", &a1).await).await.0,
        401,
        "the cached list path too"
    );
    assert_eq!(read(app.get("/auth/me", &a2).await).await.0, 200);
    assert_eq!(refresh_status(&app, &r2).await, 200);
    // An admin resets bob's password: every earlier token is dead.
    let (s, _) = read(
        app.put_json(
            &format!("/auth/users/{bob}"),
            &app.admin_token,
            json!({"password": "reset-by-admin"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(read(app.get("/auth/me", &a2).await).await.0, 401);
    assert_eq!(read(app.get("/jobs", &a2).await).await.0, 401);
    assert_eq!(refresh_status(&app, &r2).await, 401);
    // A role change ends the sessions begun since; so does a deactivation, for good.
    let (a3, r3) = login_pair(&app, "bob", "reset-by-admin").await;
    let (s, _) = read(
        app.put_json(
            &format!("/auth/users/{bob}"),
            &app.admin_token,
            json!({"role": "viewer"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(read(app.get("/auth/me", &a3).await).await.0, 401);
    assert_eq!(refresh_status(&app, &r3).await, 401);
    let (a4, r4) = login_pair(&app, "bob", "reset-by-admin").await;
    for active in [false, true] {
        let (s, _) = read(
            app.put_json(
                &format!("/auth/users/{bob}"),
                &app.admin_token,
                json!({"is_active": active}),
            )
            .await,
        )
        .await;
        assert_eq!(s, 200);
    }
    let (s, v) = read(app.get("/auth/me", &a4).await).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (401, Some("Token has been revoked"))
    );
    assert_eq!(refresh_status(&app, &r4).await, 401);
    // A fresh login works.
    let (a5, _) = login_pair(&app, "bob", "reset-by-admin").await;
    assert_eq!(read(app.get("/auth/me", &a5).await).await.0, 200);
}
