//! Auth area over HTTP: login, refresh, me, register, token rules, RBAC, error bodies.

mod common;
use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn login_success_and_failures() {
    let app = spawn_app().await;
    let (s, v) = read(
        app.post_json(
            "/auth/login",
            None,
            json!({"username": "admin", "password": "admin123"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["success"], true);
    assert_eq!(v["token_type"], "bearer");
    assert_eq!(v["user"]["username"], "admin");
    assert_eq!(v["user"]["role"], "admin");
    assert!(v["user"].get("password_hash").is_none());
    assert!(v["user"]["created_at"].as_str().unwrap().ends_with('Z'));

    // by e-mail
    let (s, _) = read(
        app.post_json(
            "/auth/login",
            None,
            json!({"email": "admin@example.com", "password": "admin123"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 200);

    let r = app
        .post_json(
            "/auth/login",
            None,
            json!({"username": "admin", "password": "wrong-pass"}),
        )
        .await;
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let (s, v) = read(r).await;
    assert_eq!(
        (s, v["message"].as_str().unwrap()),
        (401, "Invalid email/username or password")
    );
    let (s, _) = read(
        app.post_json(
            "/auth/login",
            None,
            json!({"username": "nobody", "password": "admin123"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 401);

    // Validation problems are 400, never 422.
    for body in [
        json!({"username": "admin"}),
        json!({"username": "admin", "password": "123"}),
        json!({"password": "admin123"}),
        json!({"username": "ad", "password": "admin123"}),
        json!({"email": "not-an-email", "password": "admin123"}),
        json!({"username": "admin", "password": "      "}),
        json!([1]),
    ] {
        let (s, v) = read(app.post_json("/auth/login", None, body.clone()).await).await;
        assert_eq!(s, 400, "{body}");
        assert!(v["error"].is_string() && v["message"].is_string(), "{v}");
    }
    let r = app
        .http
        .post(app.url("/auth/login"))
        .header("content-type", "application/json")
        .body("{bad")
        .send()
        .await
        .unwrap();
    assert_eq!(read(r).await.0, 400);
}

#[tokio::test]
async fn inactive_user_cannot_log_in() {
    let app = spawn_app().await;
    let r = app.post_json("/auth/register", Some(&app.admin_token),
        json!({"username": "Dave", "email": "Dave@Example.com", "password": "dave-pass", "role": "user", "is_active": false})).await;
    let (s, v) = read(r).await;
    assert_eq!(s, 201);
    assert_eq!(v["user"]["username"], "dave");
    assert_eq!(v["user"]["email"], "dave@example.com");
    assert_eq!(v["user"]["is_active"], false);
    let (s, v) = read(
        app.post_json(
            "/auth/login",
            None,
            json!({"username": "dave", "password": "dave-pass"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, v["message"].as_str().unwrap()),
        (401, "Account is inactive. Contact administrator.")
    );
    // A wrong password answers exactly as for an active account (or no account at all).
    let wrong = |username: &'static str| {
        let app = &app;
        async move {
            read(
                app.post_json(
                    "/auth/login",
                    None,
                    json!({"username": username, "password": "wrong-pass"}),
                )
                .await,
            )
            .await
        }
    };
    let inactive = wrong("dave").await;
    assert_eq!(inactive.0, 401);
    assert_eq!(inactive, wrong("admin").await);
    assert_eq!(inactive, wrong("nobody-here").await);
}

/// Strangers cannot lock an account out: failures from many sources only slow its logins
/// down; the pair (account, source) and a source that failed are what block, and the
/// account's username and e-mail share one counter.
#[tokio::test]
async fn many_sources_slow_an_account_down_but_never_lock_its_owner_out() {
    let app = spawn_app().await;
    let login = |user: &'static str, password: &'static str, source: String| {
        let app = &app;
        async move {
            let mut body = serde_json::Map::new();
            let key = if user.contains('@') {
                "email"
            } else {
                "username"
            };
            body.insert(key.into(), json!(user));
            body.insert("password".into(), json!(password));
            web::services::auth::login(&app.as_fn("AuthFunction"), body, Some(&source)).await
        }
    };
    for i in 0..10 {
        let r = login("admin", "wrong-pass", format!("203.0.113.{i}")).await;
        assert_eq!(r.unwrap_err().status, 401);
    }
    // The owner, from a source that has not failed: in, after a bounded delay.
    let started = std::time::Instant::now();
    assert!(login("admin", "admin123", "198.51.100.7".into())
        .await
        .is_ok());
    assert!(started.elapsed() >= std::time::Duration::from_millis(250));
    // One source guessing by username and e-mail together: one counter, 429 within 12.
    let mut statuses = Vec::new();
    for i in 0..12 {
        let who = if i % 2 == 0 {
            "admin"
        } else {
            "admin@example.com"
        };
        let r = login(who, "wrong-pass", "192.0.2.9".into()).await;
        statuses.push(r.map(|_| 200).unwrap_or_else(|e| e.status.as_u16()));
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        10,
        "{statuses:?}"
    );
    // ...while the owner elsewhere still gets in.
    assert!(login("admin", "admin123", "198.51.100.8".into())
        .await
        .is_ok());
}

#[test]
fn the_account_delay_grows_then_stops_at_its_ceiling() {
    use web::services::auth::{account_delay, MAX_ACCOUNT_DELAY_MS};
    assert!(account_delay(9, 10).is_zero());
    assert_eq!(account_delay(10, 10).as_millis(), 250);
    assert_eq!(account_delay(11, 10).as_millis(), 500);
    assert_eq!(
        account_delay(1_000, 10).as_millis() as u64,
        MAX_ACCOUNT_DELAY_MS
    );
}

#[tokio::test]
async fn refresh_and_token_types() {
    let app = spawn_app().await;
    let v: Value = app
        .post_json(
            "/auth/login",
            None,
            json!({"username": "admin", "password": "admin123"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let refresh = v["refresh_token"].as_str().unwrap().to_string();
    let access = v["access_token"].as_str().unwrap().to_string();

    // The client sends a literal `null` body with the refresh token; reusable many times.
    for _ in 0..2 {
        let r = app
            .http
            .post(app.url("/auth/refresh"))
            .bearer_auth(&refresh)
            .header("content-type", "application/json")
            .body("null")
            .send()
            .await
            .unwrap();
        let (s, v) = read(r).await;
        assert_eq!(s, 200);
        assert_eq!(v["refresh_token"], Value::Null);
        assert_eq!(v["expires_in"], 3600);
        let new_access = v["access_token"].as_str().unwrap();
        assert_eq!(read(app.get("/auth/me", new_access).await).await.0, 200);
    }
    // Kinds are not interchangeable.
    let (s, v) = read(
        app.http
            .post(app.url("/auth/refresh"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, v["message"].as_str().unwrap()),
        (401, "Invalid token type")
    );
    let (s, v) = read(app.get("/auth/me", &refresh).await).await;
    assert_eq!(
        (s, v["message"].as_str().unwrap()),
        (401, "Invalid token type")
    );
}

#[tokio::test]
async fn me_and_missing_or_bad_tokens() {
    let app = spawn_app().await;
    let (s, v) = read(app.get("/auth/me", &app.admin_token).await).await;
    assert_eq!(s, 200);
    assert_eq!(v["username"], "admin");

    let r = app
        .http
        .get(app.url("/auth/me"))
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "*",
        "errors carry CORS headers"
    );
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["message"], "Not authenticated");
    assert!(v["error"].is_string());

    let (s, v) = read(app.get("/auth/me", "not.a.jwt").await).await;
    assert_eq!((s, v["message"].as_str().unwrap()), (401, "Invalid token"));

    // A well-signed token for a user that does not exist.
    let mut ghost = app
        .state
        .store
        .find_user_by_login("admin")
        .await
        .unwrap()
        .unwrap();
    ghost.id = "ghost".into();
    let t = shared::auth::Tokens::new(&app.state.config.jwt_secret, 60, 60)
        .issue(shared::auth::TokenKind::Access, &ghost, "s")
        .unwrap();
    let (s, v) = read(app.get("/auth/me", &t).await).await;
    assert_eq!((s, v["message"].as_str().unwrap()), (401, "User not found"));
}

#[tokio::test]
async fn preflight_is_answered_with_cors() {
    let app = spawn_app().await;
    let r = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/jobs"))
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert_eq!(r.headers()["access-control-max-age"], "600");
    // `*` would not cover Authorization: the requested headers are echoed.
    let allowed = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
}

#[tokio::test]
async fn register_rules_and_rbac() {
    let app = spawn_app().await;
    let (_, user_token) = app.user("alice", "user").await;
    let (_, viewer_token) = app.user("victor", "viewer").await;
    let body = json!({"username": "zed", "email": "zed@example.com", "password": "zed-pass"});
    for t in [&user_token, &viewer_token] {
        let (s, v) = read(app.post_json("/auth/register", Some(t), body.clone()).await).await;
        assert_eq!(
            (s, v["message"].as_str().unwrap()),
            (403, "Admin access required")
        );
    }
    // Gate before validation: a viewer with an invalid body still gets 403.
    assert_eq!(
        read(
            app.post_json("/auth/register", Some(&viewer_token), json!({}))
                .await
        )
        .await
        .0,
        403
    );
    assert_eq!(
        read(app.post_json("/auth/register", None, body.clone()).await)
            .await
            .0,
        401
    );

    let (s, v) = read(
        app.post_json("/auth/register", Some(&app.admin_token), body.clone())
            .await,
    )
    .await;
    assert_eq!(s, 201);
    assert_eq!(v["message"], "User created successfully");
    assert_eq!(v["user"]["role"], "viewer", "default role");
    let (s, v) = read(
        app.post_json(
            "/auth/register",
            Some(&app.admin_token),
            json!({"username": "ZED", "email": "z2@example.com", "password": "zed-pass"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, v["message"].as_str().unwrap()),
        (409, "Username already exists")
    );
    let (s, v) = read(
        app.post_json(
            "/auth/register",
            Some(&app.admin_token),
            json!({"username": "zed2", "email": "ZED@example.com", "password": "zed-pass"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, v["message"].as_str().unwrap()),
        (409, "Email already exists")
    );
    for bad in [
        json!({"username": "a b", "email": "q@example.com", "password": "secret1"}),
        json!({"username": "qq", "email": "q@example.com", "password": "secret1"}),
        json!({"username": "qqq", "email": "nope", "password": "secret1"}),
        json!({"username": "qqq", "email": "q@example.com", "password": "123"}),
        json!({"username": "qqq", "email": "q@example.com", "password": "secret1", "role": "root"}),
        json!({"username": "qqq", "email": "q@example.com", "password": "secret1", "is_active": "maybe"}),
    ] {
        assert_eq!(
            read(
                app.post_json("/auth/register", Some(&app.admin_token), bad.clone())
                    .await
            )
            .await
            .0,
            400,
            "{bad}"
        );
    }
    // The new user logs in with the hash we wrote.
    app.login("zed", "zed-pass").await;
}

#[tokio::test]
async fn unknown_route_and_method() {
    let app = spawn_app().await;
    let (s, v) = read(app.get("/nope", &app.admin_token).await).await;
    assert_eq!((s, v["message"].as_str().unwrap()), (404, "Not Found"));
    let (s, v) = read(app.delete("/auth/login", &app.admin_token).await).await;
    assert_eq!(
        (s, v["message"].as_str().unwrap()),
        (405, "Method Not Allowed")
    );
    let (s, v) = read(app.http.get(app.url("/health")).send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(v["status"], "healthy");
    // The contract's integer (0 before any reconciliation), and docs where this API serves them.
    assert_eq!(v["scheduled_jobs_count"], 0);
    let docs = v["docs_url"].as_str().unwrap().to_string();
    assert_eq!(docs, app.url("/docs"));
    assert_eq!(app.http.get(&docs).send().await.unwrap().status(), 200);
    app.team("PAM").await;
    app.webhook_jobs(&app.admin_token, &["h1", "h2"]).await;
    shared::services::maintenance::reconcile(&app.maintenance)
        .await
        .unwrap();
    let (_, v) = read(app.http.get(app.url("/health")).send().await.unwrap()).await;
    assert_eq!(v["scheduled_jobs_count"], 2);
}

#[tokio::test]
async fn cors_origin_list_echoes_allowed_origins_with_credentials() {
    let app = spawn_app_with(|c| {
        c.cors = shared::config::CorsOrigins::List(vec!["https://app.example.com".into()]);
    })
    .await;
    let r = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/jobs"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(r.headers()["access-control-allow-credentials"], "true");
    let r = app
        .http
        .get(app.url("/jobs"))
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn logout_revokes_the_refresh_token_it_is_given() {
    let app = spawn_app().await;
    let r = app
        .post_json(
            "/auth/login",
            None,
            json!({"username": "admin", "password": "admin123"}),
        )
        .await;
    let v: Value = r.json().await.unwrap();
    let (access, refresh) = (
        v["access_token"].as_str().unwrap().to_string(),
        v["refresh_token"].as_str().unwrap().to_string(),
    );
    let refresh_call = || {
        app.http
            .post(app.url("/auth/refresh"))
            .bearer_auth(&refresh)
            .header("content-type", "application/json")
            .body("null")
            .send()
    };
    assert_eq!(refresh_call().await.unwrap().status(), 200);
    // A second session's refresh token, given in the body of this session's logout, is
    // revoked by its own id; this session ends as well (the body is optional).
    let other: Value = app
        .post_json(
            "/auth/login",
            None,
            json!({"username": "admin", "password": "admin123"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let other_access = other["access_token"].as_str().unwrap().to_string();
    let other_refresh = other["refresh_token"].as_str().unwrap().to_string();
    let r = app
        .post_json(
            "/auth/logout",
            Some(&access),
            json!({"refresh_token": other_refresh}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let (s, v) = read(refresh_call().await.unwrap()).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (401, Some("Token has been revoked"))
    );
    assert_eq!(app.get("/auth/me", &access).await.status(), 401);
    let (s, _) = read(
        app.http
            .post(app.url("/auth/refresh"))
            .bearer_auth(&other_refresh)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 401);
    // The other session's access token lives on until it expires; a new login works.
    assert_eq!(app.get("/auth/me", &other_access).await.status(), 200);
    app.login("admin", "admin123").await;
}
