//! Notifications over HTTP (api-contract §3.9): own notifications only, pages newest first
//! without overlap, counters that agree with the items (including under concurrent writes),
//! read / read-all / delete / delete-read, date ranges.

mod common;
use common::*;
use serde_json::{json, Value};

async fn ids(app: &TestApp, token: &str, q: &str) -> (Vec<String>, Value) {
    let (s, v) = read(app.get(&format!("/notifications{q}"), token).await).await;
    assert_eq!(s, 200, "{v}");
    let ids = v["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect();
    (ids, v)
}

/// `PUT /notifications/read-all` as `token`.
async fn read_all_request(app: &TestApp, token: &str) -> reqwest::Response {
    app.http
        .put(app.url("/notifications/read-all"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn unread(app: &TestApp, token: &str, q: &str) -> i64 {
    let (s, v) = read(
        app.get(&format!("/notifications/unread-count{q}"), token)
            .await,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v["unread_count"].as_i64().unwrap()
}

#[tokio::test]
async fn pages_counts_read_and_delete() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let (_, at) = app.user("alice", "viewer").await;
    // Five jobs → five "New Job Created" notifications for every active user.
    for i in 0..5 {
        app.job(
            &app.admin_token,
            webhook_job(&format!("job{i}"), "https://example.com/h"),
        )
        .await;
    }
    let (all, v) = ids(&app, &at, "?page=1&per_page=20&unread_only=false").await;
    assert_eq!((all.len(), v["total"].as_i64()), (5, Some(5)));
    assert_eq!(
        (
            v["page"].as_i64(),
            v["per_page"].as_i64(),
            v["total_pages"].as_i64()
        ),
        (Some(1), Some(20), Some(1))
    );
    assert_eq!(v["range"], json!({"from": null, "to": null}));
    let n0 = &v["notifications"][0];
    assert_eq!(n0["title"], "New Job Created");
    assert_eq!(
        n0["message"],
        "Job \"job4\" was created by admin@example.com."
    );
    assert!(n0["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(unread(&app, &at, "").await, 5);

    // Pages of two: newest first, no overlap, same order as the full list.
    let mut paged = Vec::new();
    for page in 1..=3 {
        let (p, v) = ids(&app, &at, &format!("?page={page}&per_page=2")).await;
        assert_eq!(
            (v["total"].as_i64(), v["total_pages"].as_i64()),
            (Some(5), Some(3))
        );
        paged.extend(p);
    }
    assert_eq!(paged, all);
    assert!(ids(&app, &at, "?page=4&per_page=2").await.0.is_empty());
    assert_eq!(ids(&app, &at, "?per_page=500").await.1["per_page"], 100);

    // A notice for everyone is one feed item: its id is the admin's too, and reading it is
    // theirs alone (alice still has five unread).
    let mine = &all[1];
    let (s, v) = read(
        app.put_json(
            &format!("/notifications/{mine}/read"),
            &app.admin_token,
            json!(null),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, v["notification"]["is_read"].as_bool()),
        (200, Some(true)),
        "{v}"
    );
    assert_eq!(unread(&app, &at, "").await, 5);
    assert_eq!(unread(&app, &app.admin_token, "").await, 4);
    let (s, v) = read(
        app.put_json("/notifications/nope/read", &at, json!(null))
            .await,
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (404, Some("Notification not found"))
    );

    // Read one: idempotent, keeps the first read_at.
    let r = app
        .http
        .put(app.url(&format!("/notifications/{mine}/read")))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    let (s, v) = read(r).await;
    assert_eq!(s, 200);
    assert_eq!(v["notification"]["is_read"], true);
    let first = v["notification"]["read_at"].clone();
    assert!(first.is_string());
    let r = app
        .http
        .put(app.url(&format!("/notifications/{mine}/read")))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(read(r).await.1["notification"]["read_at"], first);
    assert_eq!(unread(&app, &at, "").await, 4);
    let (u, v) = ids(&app, &at, "?unread_only=true&per_page=3").await;
    assert_eq!((u.len(), v["total"].as_i64()), (3, Some(4)));
    assert!(!u.contains(mine));
    let (u2, _) = ids(&app, &at, "?unread_only=true&per_page=3&page=2").await;
    assert_eq!(u2.len(), 1);
    assert!(!u.contains(&u2[0]));

    // Delete one unread; read-all; delete-read.
    let (s, _) = read(app.delete(&format!("/notifications/{}", all[0]), &at).await).await;
    assert_eq!(s, 200);
    assert_eq!(unread(&app, &at, "").await, 3);
    let r = read_all_request(&app, &at).await;
    let (s, v) = read(r).await;
    assert_eq!((s, v["updated_count"].as_i64()), (200, Some(3)));
    assert_eq!(unread(&app, &at, "").await, 0);
    let (s, v) = read(app.delete("/notifications/delete-read", &at).await).await;
    assert_eq!((s, v["deleted_count"].as_i64()), (200, Some(4)));
    let (left, v) = ids(&app, &at, "").await;
    assert_eq!((left.len(), v["total"].as_i64()), (0, Some(0)));
    // The admin's own are untouched (one read above).
    assert_eq!(unread(&app, &app.admin_token, "").await, 4);

    // Own only: a notice for alice alone is hers.
    let alice = app
        .state
        .store
        .find_user_by_login("alice")
        .await
        .unwrap()
        .unwrap();
    app.state
        .store
        .notify(
            "t-1",
            std::slice::from_ref(&alice.id),
            "Just you",
            "m",
            shared::domain::Level::Info,
            None,
            None,
        )
        .await
        .unwrap();
    let (theirs, _) = ids(&app, &at, "").await;
    assert_eq!(theirs.len(), 1);
    let (s, v) = read(
        app.put_json(
            &format!("/notifications/{}/read", theirs[0]),
            &app.admin_token,
            json!(null),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (
            403,
            Some("Forbidden: Cannot access other users notifications")
        )
    );
    let (s, v) = read(
        app.delete(&format!("/notifications/{}", theirs[0]), &app.admin_token)
            .await,
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (
            403,
            Some("Forbidden: Cannot delete other users notifications")
        )
    );
    assert_eq!(unread(&app, &at, "").await, 1);
}

#[tokio::test]
async fn date_ranges_and_bad_queries() {
    let app = spawn_app().await;
    app.team("PAM").await;
    app.job(
        &app.admin_token,
        webhook_job("one", "https://example.com/h"),
    )
    .await;
    let t = &app.admin_token;
    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    assert_eq!(
        unread(&app, t, &format!("?from={today}&to={today}")).await,
        1
    );
    assert_eq!(unread(&app, t, &format!("?from={tomorrow}")).await, 0);
    let (_, v) = ids(
        &app,
        t,
        &format!("?from={today}&to={today}&unread_only=false"),
    )
    .await;
    assert_eq!(v["total"], 1);
    assert_eq!(v["range"]["to"], format!("{tomorrow}T00:00:00.000000Z"));
    let hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert_eq!(unread(&app, t, &format!("?from={hour_ago}")).await, 1);
    for (q, error) in [
        (format!("?from={tomorrow}&to={today}"), "Invalid date range"),
        ("?from=garbage".to_string(), "Invalid date"),
        ("?from=2025-13-01".to_string(), "Invalid date"),
        ("?unread_only=maybe".to_string(), "Invalid query parameter"),
        ("?page=0".to_string(), "Invalid query parameter"),
    ] {
        let (s, v) = read(app.get(&format!("/notifications{q}"), t).await).await;
        assert_eq!((s, v["error"].as_str()), (400, Some(error)), "{q}");
        if error == "Invalid date" {
            // api-contract §3.9: the literal message, whatever the bound.
            assert_eq!(v["message"], "Invalid date", "{q}");
        }
    }
}

#[tokio::test]
async fn counters_stay_right_under_concurrent_writes() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let (_, at) = app.user("alice", "viewer").await;
    // Ten jobs created at once: ten broadcasts to the same users' counters.
    let creates = (0..10).map(|i| {
        let app = &app;
        async move {
            app.post_json(
                "/jobs",
                Some(&app.admin_token),
                webhook_job(&format!("c{i}"), "https://example.com/h"),
            )
            .await
            .status()
        }
    });
    for s in futures::future::join_all(creates).await {
        assert_eq!(s, 201);
    }
    assert_eq!(unread(&app, &at, "").await, 10);
    let (all, v) = ids(&app, &at, "?per_page=100").await;
    assert_eq!((all.len(), v["total"].as_i64()), (10, Some(10)));
    // Concurrent reads of different notifications all count.
    let reads = all.iter().take(6).map(|id| {
        let (app, at) = (&app, &at);
        async move {
            app.http
                .put(app.url(&format!("/notifications/{id}/read")))
                .bearer_auth(at)
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    for s in futures::future::join_all(reads).await {
        assert_eq!(s, 200);
    }
    assert_eq!(unread(&app, &at, "").await, 4);
    assert_eq!(ids(&app, &at, "?unread_only=true").await.1["total"], 4);
}

/// 500 unread notifications are all marked read by one request, which answers well inside
/// API Gateway's 30 s, and the counts agree with the items afterwards.
#[tokio::test]
async fn read_all_of_500_unread_answers_in_one_request() {
    let app = spawn_app().await;
    let admin = app
        .state
        .store
        .find_user_by_login("admin")
        .await
        .unwrap()
        .unwrap();
    let base = chrono::Utc::now() - chrono::Duration::hours(3);
    let store = &app.state.store;
    // One at a time: each carries its counter updates, which concurrent writes would contend on.
    for i in 0..500 {
        let n = notification(
            &admin.id,
            &format!("n{i}"),
            base + chrono::Duration::seconds(i),
            None,
        );
        assert!(store.import_notification(&n).await.unwrap());
    }
    assert_eq!(unread(&app, &app.admin_token, "").await, 500);
    let started = std::time::Instant::now();
    let r = read_all_request(&app, &app.admin_token).await;
    let took = started.elapsed();
    let (s, v) = read(r).await;
    assert_eq!((s, v["updated_count"].as_i64()), (200, Some(500)), "{v}");
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
    assert_eq!(unread(&app, &app.admin_token, "").await, 0);
    let (s, v) = read(
        app.get("/notifications?unread_only=true", &app.admin_token)
            .await,
    )
    .await;
    assert_eq!((s, v["total"].as_i64()), (200, Some(0)), "{v}");
}

/// Read-all is one write (a read mark), not one per unread item: stored items keep their
/// stored state, everything created up to the mark reads as read (with the mark's time), what
/// arrives after is unread, and counts, unread pages, ranges, single reads, deletes and
/// delete-read agree with that — with retention on as well.
#[tokio::test]
async fn read_all_sets_one_mark_that_everything_else_respects() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let (_, at) = app.user("alice", "viewer").await;
    let alice = app
        .state
        .store
        .find_user_by_login("alice")
        .await
        .unwrap()
        .unwrap();
    let store = &app.state.store;
    // 30 old unread (yesterday and earlier) and 3 live ones.
    let base = chrono::Utc::now() - chrono::Duration::hours(30);
    for i in 0..30 {
        let n = notification(
            &alice.id,
            &format!("old{i}"),
            base + chrono::Duration::minutes(i),
            None,
        );
        assert!(store.import_notification(&n).await.unwrap());
    }
    for i in 0..3 {
        app.job(
            &app.admin_token,
            webhook_job(&format!("before{i}"), "https://example.com/h"),
        )
        .await;
    }
    assert_eq!(unread(&app, &at, "").await, 33);
    let r = read_all_request(&app, &at).await;
    let (s, v) = read(r).await;
    assert_eq!((s, v["updated_count"].as_i64()), (200, Some(33)), "{v}");
    let first = store
        .read_mark(&alice.id)
        .await
        .unwrap()
        .expect("a read mark");
    // One write for what is older than the mark's cut: those items are still stored unread
    // (the 3 live feed items of the last minute were read one by one).
    let stored = store.recent_notifications(&alice.id, 100).await.unwrap();
    assert_eq!(stored.iter().filter(|n| !n.is_read).count(), 30);
    // Nothing changes on a second read-all with nothing unread.
    let r = read_all_request(&app, &at).await;
    assert_eq!(read(r).await.1["updated_count"], 0);
    assert_eq!(store.read_mark(&alice.id).await.unwrap().unwrap(), first);

    // Two more arrive after the mark (same minute as the mark, most likely).
    for i in 0..2 {
        app.job(
            &app.admin_token,
            webhook_job(&format!("after{i}"), "https://example.com/h"),
        )
        .await;
    }
    let today = chrono::Utc::now().date_naive();
    assert_eq!(unread(&app, &at, "").await, 2);
    assert_eq!(unread(&app, &at, &format!("?from={today}")).await, 2);
    let yesterday = today.pred_opt().unwrap();
    assert_eq!(unread(&app, &at, &format!("?to={yesterday}")).await, 0);
    let mark_q = first
        .at
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    assert_eq!(unread(&app, &at, &format!("?to={mark_q}")).await, 0);
    let (u, v) = ids(&app, &at, "?unread_only=true&per_page=1").await;
    assert_eq!((u.len(), v["total"].as_i64()), (1, Some(2)));
    let (u2, _) = ids(&app, &at, "?unread_only=true&per_page=1&page=2").await;
    let (u3, _) = ids(&app, &at, "?unread_only=true&per_page=1&page=3").await;
    assert_eq!((u2.len(), u3.len()), (1, 0));
    assert_ne!(u, u2);
    let (_, v) = ids(&app, &at, "?per_page=100").await;
    assert_eq!(v["total"], 35);
    let list = v["notifications"].as_array().unwrap();
    let mark_time = shared::domain::fmt_ts(&first.at);
    for n in list {
        let covered = !n["title"].as_str().unwrap().starts_with("New Job Created")
            || !n["message"].as_str().unwrap().contains("\"after");
        assert_eq!(n["is_read"], covered, "{n}");
        if covered {
            assert_eq!(n["read_at"], mark_time.as_str(), "{n}");
        } else {
            assert!(n["read_at"].is_null(), "{n}");
        }
    }
    // A covered one read again keeps the mark's time; an uncovered one is read for real.
    let old_id = list.last().unwrap()["id"].as_str().unwrap().to_string();
    let (s, v) = read(
        app.put_json(&format!("/notifications/{old_id}/read"), &at, json!(null))
            .await,
    )
    .await;
    assert_eq!(
        (s, v["notification"]["read_at"].as_str()),
        (200, Some(mark_time.as_str()))
    );
    let (s, _) = read(
        app.put_json(&format!("/notifications/{}/read", u[0]), &at, json!(null))
            .await,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(unread(&app, &at, "").await, 1);
    // Deleting a covered (stored unread) one leaves the unread count alone.
    let (s, _) = read(app.delete(&format!("/notifications/{old_id}"), &at).await).await;
    assert_eq!(s, 200);
    assert_eq!(unread(&app, &at, "").await, 1);
    assert_eq!(unread(&app, &at, &format!("?from={today}")).await, 1);
    // Retention on: the ranged path gives the same answer.
    let kept = store.clone().with_retention(Some(30));
    assert_eq!(kept.unread_count(&alice.id, None, None).await.unwrap(), 1);
    // delete-read: the 32 covered ones left and the one read for real; the unread one stays.
    let (s, v) = read(app.delete("/notifications/delete-read", &at).await).await;
    assert_eq!((s, v["deleted_count"].as_i64()), (200, Some(33)), "{v}");
    let (left, v) = ids(&app, &at, "").await;
    assert_eq!((left, v["total"].as_i64()), (u2.clone(), Some(1)));
    assert_eq!(unread(&app, &at, "").await, 1);
    // A second read-all: the first mark's items would keep their time; this one covers u2.
    let r = read_all_request(&app, &at).await;
    assert_eq!(read(r).await.1["updated_count"], 1);
    let second = store.read_mark(&alice.id).await.unwrap().unwrap();
    assert_eq!(second.earlier, vec![mark_time.clone()]);
    assert_eq!(
        second.read_at(first.at - chrono::Duration::seconds(1)),
        first.at
    );
    assert_eq!(unread(&app, &at, "").await, 0);
    // The counters still agree with the stored items.
    let report = store.verify_counters(false).await.unwrap();
    assert!(report.drift.is_empty(), "{:?}", report.drift);
}

/// A notice for everyone is one feed item whatever the number of users; each user's read,
/// delete and read-all are theirs alone; their own notices and the feed merge into one list
/// (pages, counts, unread pages); an account sees the feed from its join on.
#[tokio::test]
async fn the_feed_is_one_item_per_notice_with_state_per_user() {
    let app = spawn_app().await;
    app.team("PAM").await;
    let store = &app.state.store;
    let mut tokens = Vec::new();
    for name in ["alice", "bob", "carol", "dan", "erin", "fay"] {
        tokens.push(app.user(name, "viewer").await);
    }
    let (alice_id, at) = tokens[0].clone();
    let (_, bt) = tokens[1].clone();
    for i in 0..4 {
        app.job(
            &app.admin_token,
            webhook_job(&format!("feed{i}"), "https://example.com/h"),
        )
        .await;
    }
    // Four notices, seven users: four items, none in any user's partition.
    assert_eq!(store.feed_items(None, None).await.unwrap().len(), 4);
    for (id, t) in &tokens {
        assert_eq!(unread(&app, t, "").await, 4);
        assert!(store.recent_notifications(id, 10).await.unwrap().is_empty());
    }
    // One for alice alone, newest: merged first in her list, absent from bob's.
    store
        .notify(
            "feed-test-1",
            std::slice::from_ref(&alice_id),
            "Just alice",
            "m",
            shared::domain::Level::Warning,
            None,
            None,
        )
        .await
        .unwrap();
    let (all, v) = ids(&app, &at, "?per_page=100").await;
    assert_eq!((all.len(), v["total"].as_i64()), (5, Some(5)));
    assert_eq!(v["notifications"][0]["title"], "Just alice");
    assert!(v["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["user_id"] == alice_id.as_str()));
    let mut paged = Vec::new();
    for page in 1..=3 {
        let (p, v) = ids(&app, &at, &format!("?page={page}&per_page=2")).await;
        assert_eq!(v["total"], 5);
        paged.extend(p);
    }
    assert_eq!(paged, all);
    assert_eq!(unread(&app, &bt, "").await, 4);

    // alice reads a feed item, bob deletes the same one: neither touches the other.
    let shared_id = all[2].clone();
    let (s, v) = read(
        app.put_json(
            &format!("/notifications/{shared_id}/read"),
            &at,
            json!(null),
        )
        .await,
    )
    .await;
    assert_eq!(
        (s, v["notification"]["is_read"].as_bool()),
        (200, Some(true))
    );
    let (s, _) = read(
        app.delete(&format!("/notifications/{shared_id}"), &bt)
            .await,
    )
    .await;
    assert_eq!(s, 200);
    let (s, v) = read(
        app.delete(&format!("/notifications/{shared_id}"), &bt)
            .await,
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (404, Some("Notification not found"))
    );
    assert_eq!(unread(&app, &at, "").await, 4);
    assert_eq!(unread(&app, &bt, "").await, 3);
    let (b_all, v) = ids(&app, &bt, "").await;
    assert_eq!((b_all.len(), v["total"].as_i64()), (3, Some(3)));
    assert!(!b_all.contains(&shared_id));
    let (u, v) = ids(&app, &at, "?unread_only=true&per_page=3").await;
    assert_eq!((u.len(), v["total"].as_i64()), (3, Some(4)));
    let (u2, _) = ids(&app, &at, "?unread_only=true&per_page=3&page=2").await;
    assert_eq!(u2.len(), 1);
    assert!(!u.contains(&shared_id) && !u2.contains(&shared_id));
    let today = chrono::Utc::now().date_naive();
    assert_eq!(unread(&app, &at, &format!("?from={today}")).await, 4);

    // alice's read-all: one mark; bob keeps his three; delete-read empties alice's list.
    let (s, v) = read(read_all_request(&app, &at).await).await;
    assert_eq!((s, v["updated_count"].as_i64()), (200, Some(4)), "{v}");
    assert_eq!(unread(&app, &at, "").await, 0);
    assert_eq!(unread(&app, &at, &format!("?from={today}")).await, 0);
    assert_eq!(unread(&app, &bt, "").await, 3);
    let (s, v) = read(app.delete("/notifications/delete-read", &at).await).await;
    assert_eq!((s, v["deleted_count"].as_i64()), (200, Some(5)), "{v}");
    assert_eq!(ids(&app, &at, "").await.1["total"], 0);
    assert_eq!(ids(&app, &bt, "").await.1["total"], 3);

    // A later joiner sees nothing from before their join (its cut moved past the items).
    let (gus, gt) = app.user("gus", "viewer").await;
    let cut = chrono::Utc::now() + chrono::Duration::minutes(2);
    store
        .client()
        .put_item()
        .table_name(store.table())
        .item(
            "PK",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{gus}")),
        )
        .item(
            "SK",
            aws_sdk_dynamodb::types::AttributeValue::S("FEEDJOIN".into()),
        )
        .item(
            "cut",
            aws_sdk_dynamodb::types::AttributeValue::S(shared::domain::fmt_ts(&cut)),
        )
        .item(
            "base",
            aws_sdk_dynamodb::types::AttributeValue::N("4".into()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(unread(&app, &gt, "").await, 0);
    assert_eq!(ids(&app, &gt, "").await.1["total"], 0);
    let (s, _) = read(
        app.put_json(
            &format!("/notifications/{}/read", b_all[0]),
            &gt,
            json!(null),
        )
        .await,
    )
    .await;
    assert_eq!(s, 403);
    // The counters agree with the items, exceptions and feed.
    let report = store.verify_counters(false).await.unwrap();
    assert!(report.drift.is_empty(), "{:?}", report.drift);
}
