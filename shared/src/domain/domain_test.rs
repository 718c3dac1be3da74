use super::*;

#[test]
fn slugify_matches_contract() {
    assert_eq!(slugify("  QA Tech "), "qa-tech");
    assert_eq!(slugify("Prod/Canary"), "prod-canary");
    assert_eq!(slugify("--A__b--"), "a-b");
    assert_eq!(slugify("日本"), "");
    assert_eq!(slugify("PAM"), "pam");
}

#[test]
fn end_dates() {
    assert_eq!(
        parse_end_date("2031-02-10"),
        NaiveDate::from_ymd_opt(2031, 2, 10)
    );
    assert_eq!(
        parse_end_date("20261125"),
        NaiveDate::from_ymd_opt(2026, 11, 25)
    );
    for bad in [
        "2026-13-01",
        "2026-2-1",
        "tomorrow",
        "",
        "2026-02-30",
        "2026-11-22T00:00:00",
    ] {
        assert_eq!(parse_end_date(bad), None, "{bad}");
    }
}

#[test]
fn emails_and_roles() {
    assert!(EmailAddress::parse("a@b.co").is_some());
    for bad in ["a@b", "@b.co", "a b@c.d", "a@@b.co", "a@.b.co", "plain"] {
        assert!(EmailAddress::parse(bad).is_none(), "{bad}");
    }
    assert_eq!(Role::parse("admin"), Some(Role::Admin));
    assert_eq!(Role::parse("Admin"), None);
    assert!(!Role::Viewer.can_write());
}

#[test]
fn timestamps_are_fixed_width_z() {
    let t = DateTime::parse_from_rfc3339("2026-11-22T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(fmt_ts(&t), "2026-11-22T00:00:00.000000Z");
}

#[test]
fn the_next_fire_time_stops_at_the_end_date() {
    use chrono::TimeZone;
    let tz: chrono_tz::Tz = "Asia/Tokyo".parse().unwrap();
    let cron = CronExpr::parse("0 9 * * *").unwrap();
    // 2026-12-07 10:00 in Tokyo: today's 09:00 has passed, the next is tomorrow's.
    let now = tz
        .with_ymd_and_hms(2026, 12, 7, 10, 0, 0)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let today = NaiveDate::from_ymd_opt(2026, 12, 7);
    let tomorrow = NaiveDate::from_ymd_opt(2026, 12, 8);
    assert_eq!(job::next_fire_before_end(&cron, today, (tz, tz), now), None);
    assert_eq!(
        job::next_fire_before_end(&cron, tomorrow, (tz, tz), now).map(|t| t.to_rfc3339()),
        Some("2026-12-08T09:00:00+09:00".into())
    );
    assert!(job::next_fire_before_end(&cron, None, (tz, tz), now).is_some());
}
