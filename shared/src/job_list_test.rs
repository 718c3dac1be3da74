use super::*;
use chrono::TimeZone;
use serde_json::{json, Map, Value};

fn job(id: &str, cron: &str, active: bool, minute: u32) -> Job {
    let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, minute, 5).unwrap();
    let mut metadata = Map::new();
    metadata.insert("quote\"d".into(), json!({"a": [1, "x\ny"]}));
    Job {
        id: id.into(),
        name: format!("job \"{id}\" ✓"),
        cron: CronExpr::parse(cron).unwrap(),
        target_url: Some("https://example.com/hook".into()),
        github_owner: None,
        github_repo: None,
        github_workflow_name: None,
        metadata,
        category: "general".into(),
        end_date: None,
        pic_team: Some("pam".into()),
        enable_email_notifications: true,
        notification_emails: vec!["a@example.com".into()],
        notify_on_success: false,
        created_by: Some("u1".into()),
        is_active: active,
        created_at: t,
        updated_at: t,
        last_execution_at: None,
        policy: Default::default(),
        pause: None,
    }
}

fn parsed(text: &str) -> Value {
    serde_json::from_str(text).expect("valid JSON")
}

#[test]
fn renders_exactly_the_read_shape_in_index_order() {
    let tz: Tz = "Asia/Tokyo".parse().unwrap();
    let now = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap();
    let (a, b) = (
        job("a", "*/5 * * * *", true, 1),
        job("b", "0 9 * * 1", false, 2),
    );
    let cache = JobListCache::default();
    assert!(cache.is_empty());
    cache.put(&[a.clone(), b.clone()]);
    let ran = Utc.with_ymd_and_hms(2026, 3, 4, 5, 0, 0).unwrap();
    let last = HashMap::from([("b".to_string(), ran)]);
    let listed = [JobVersion::of(&b), JobVersion::of(&a)];
    let mut b_ran = b.clone();
    b_ran.last_execution_at = Some(ran);
    assert_eq!(
        parsed(&cache.render(&listed, &last, tz, now)),
        json!({"count": 2, "jobs": [b_ran.to_read_json(tz, now), a.to_read_json(tz, now)]})
    );
}

#[test]
fn next_execution_follows_the_clock() {
    let tz: Tz = "Asia/Tokyo".parse().unwrap();
    let a = job("a", "*/5 * * * *", true, 1);
    let cache = JobListCache::default();
    cache.put(std::slice::from_ref(&a));
    let listed = [JobVersion::of(&a)];
    // Before, at and after a firing instant, and back in time (a clock step): each answer
    // equals a fresh computation.
    for (h, m, s) in [
        (5, 6, 7),
        (5, 9, 59),
        (5, 10, 0),
        (5, 10, 1),
        (7, 0, 0),
        (5, 1, 0),
    ] {
        let now = Utc.with_ymd_and_hms(2026, 3, 4, h, m, s).unwrap();
        let v = parsed(&cache.render(&listed, &HashMap::new(), tz, now));
        assert_eq!(v["jobs"][0], a.to_read_json(tz, now), "at {now}");
    }
}

#[test]
fn versions_decide_what_is_stale_and_deleted_jobs_go() {
    let (a, b) = (
        job("a", "* * * * *", true, 1),
        job("b", "* * * * *", true, 2),
    );
    let cache = JobListCache::default();
    cache.put(&[a.clone(), b.clone()]);
    let mut a2 = a.clone();
    a2.updated_at += chrono::Duration::microseconds(1);
    let mut b2 = b.clone();
    b2.created_by = None;
    let c = job("c", "* * * * *", true, 3);
    let listed = [JobVersion::of(&a2), JobVersion::of(&b2), JobVersion::of(&c)];
    assert_eq!(cache.stale(&listed), ["a", "b", "c"]);
    assert!(cache
        .stale(&[JobVersion::of(&a), JobVersion::of(&b)])
        .is_empty());
    cache.put(&[a2.clone()]);
    cache.retain(&[JobVersion::of(&a2)]);
    assert_eq!(
        cache.stale(&[JobVersion::of(&a2), JobVersion::of(&b)]),
        ["b"]
    );
    // A listed job without an entry is left out of the document and its count.
    let tz: Tz = "Asia/Tokyo".parse().unwrap();
    let v = parsed(&cache.render(&listed, &HashMap::new(), tz, Utc::now()));
    assert_eq!(v["count"], 1);
    assert_eq!(v["jobs"][0]["updated_at"], json!(fmt_ts(&a2.updated_at)));
}

fn mark(version: u64, changed_at: DateTime<Utc>) -> ListMark {
    ListMark {
        version,
        changed_at,
    }
}

#[test]
fn served_from_the_cache_only_while_trusted_for_the_mark() {
    let tz: Tz = "Asia/Tokyo".parse().unwrap();
    let now = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap();
    let a = job("a", "*/5 * * * *", true, 1);
    let listed = [JobVersion::of(&a)];
    let none = HashMap::new();
    let cache = JobListCache::default();
    cache.put(std::slice::from_ref(&a));

    // An index read that began long after the mark moved: trusted for that mark only.
    let check = cache.begin_check();
    cache.applied(
        check,
        &listed,
        mark(7, now - chrono::Duration::hours(1)),
        now,
    );
    assert!(cache.trusted_now());
    assert_eq!(cache.listed_ids(), vec!["a".to_string()]);
    let body = cache.render_trusted(mark(7, now - chrono::Duration::hours(1)), &none, tz, now);
    assert_eq!(body, Some(cache.render(&listed, &none, tz, now)));
    assert_eq!(cache.served_on_mark(), 1);
    assert_eq!(cache.render_trusted(mark(8, now), &none, tz, now), None);

    // Began less than SETTLE after the mark moved: the index may not hold the change yet.
    let check = cache.begin_check();
    cache.applied(
        check,
        &listed,
        mark(8, now - SETTLE + chrono::Duration::milliseconds(1)),
        now,
    );
    assert!(!cache.trusted_now());
    assert_eq!(cache.render_trusted(mark(8, now), &none, tz, now), None);

    // Only the latest of two concurrent index reads may set trust.
    let first = cache.begin_check();
    let second = cache.begin_check();
    cache.applied(second, &listed, mark(8, now - SETTLE), now);
    cache.applied(first, &listed, mark(8, now - SETTLE), now);
    assert!(!cache.trusted_now());
    cache.applied(second, &listed, mark(8, now - SETTLE), now);
    assert!(cache
        .render_trusted(mark(8, now - SETTLE), &none, tz, now)
        .is_some());

    // An entry of another version than listed (replaced meanwhile) is never served as listed.
    let mut newer = a.clone();
    newer.updated_at = a.updated_at + chrono::Duration::seconds(1);
    cache.put(&[newer]);
    assert_eq!(
        cache.render_trusted(mark(8, now - SETTLE), &none, tz, now),
        None
    );
    // …and an older read does not replace a newer entry.
    cache.put(std::slice::from_ref(&a));
    assert_eq!(cache.stale(&listed), vec!["a".to_string()]);
}
