use super::*;

fn tokyo() -> Tz {
    chrono_tz::Asia::Tokyo
}

fn eb(s: &str) -> String {
    CronExpr::parse(s).unwrap().to_eventbridge()
}

#[test]
fn overlong_expressions_are_rejected() {
    let long = format!("{} * * * *", vec!["1"; 150].join(","));
    assert_eq!(
        CronExpr::parse(&long).unwrap_err().0,
        "Cron expression must be at most 200 characters."
    );
}

#[test]
fn messages_for_empty_and_field_count() {
    assert_eq!(CronExpr::parse("  ").unwrap_err().0, MSG_REQUIRED);
    assert_eq!(CronExpr::parse("* * * *").unwrap_err().0, MSG_FIELD_COUNT);
    assert_eq!(
        CronExpr::parse("0 0 * * * *").unwrap_err().0,
        MSG_FIELD_COUNT
    );
}

#[test]
fn rejects_bad_values() {
    for bad in [
        "61 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * 32 * *",
        "* * * 13 *",
        "* * * * 8",
        "*/0 * * * *",
        "5-1 * * * *",
        "* * * * fri-mon",
        "* * * * 6-0",
        "x * * * *",
        "* * * foo *",
        "* * last * *",
        "? * * * *",
        "* * * * 1#2",
        "@daily a b c d",
        "1- * * * *",
        "*/ * * * *",
        ",5 * * * *",
    ] {
        assert!(CronExpr::parse(bad).is_err(), "{bad} should be invalid");
    }
    assert_eq!(
        CronExpr::parse("61 * * * *").unwrap_err().0,
        "Error validating expression '61': the last value (61) is higher than the maximum value (59)"
    );
    assert_eq!(
        CronExpr::parse("* * 0 * *").unwrap_err().0,
        "Error validating expression '0': the first value (0) is lower than the minimum value (1)"
    );
    assert_eq!(
        CronExpr::parse("*/0 * * * *").unwrap_err().0,
        "Increment must be higher than 0"
    );
}

#[test]
fn both_day_fields_restricted_is_rejected() {
    assert_eq!(CronExpr::parse("0 9 1 * mon").unwrap_err().0, MSG_BOTH_DAYS);
    assert_eq!(CronExpr::parse("0 9 */2 * 1").unwrap_err().0, MSG_BOTH_DAYS);
    // Restricted by text even when the set is full: standard cron would run every day.
    assert_eq!(
        CronExpr::parse("0 9 1-31 * 1").unwrap_err().0,
        MSG_BOTH_DAYS
    );
    assert_eq!(CronExpr::parse("0 9 1 * 0-6").unwrap_err().0, MSG_BOTH_DAYS);
    // A `*` field leaves the other one in charge, as in standard cron.
    assert!(CronExpr::parse("0 9 1-31 * *").is_ok());
    assert!(CronExpr::parse("0 9 * * 0-6").is_ok());
    // Full-range forms are not restrictions.
    assert!(CronExpr::parse("0 9 1-31 * 0-7").is_ok());
    assert!(CronExpr::parse("0 9 */1 * 1").is_ok());
}

#[test]
fn eventbridge_conversion_hard_cases() {
    let cases = [
        ("* * * * *", "cron(* * * * ? *)"),
        ("0 9 * * *", "cron(0 9 * * ? *)"),
        ("0 9 * * 0", "cron(0 9 ? * 1 *)"),
        ("0 9 * * 7", "cron(0 9 ? * 1 *)"),
        ("0 9 * * 1", "cron(0 9 ? * 2 *)"),
        ("0 9 * * 6", "cron(0 9 ? * 7 *)"),
        ("0 9 * * sun", "cron(0 9 ? * 1 *)"),
        ("0 9 * * MON-FRI", "cron(0 9 ? * 2-6 *)"),
        ("0 9 * * 1-5", "cron(0 9 ? * 2-6 *)"),
        ("0 9 * * 5-7", "cron(0 9 ? * 1,6,7 *)"),
        ("0 9 * * 0,6", "cron(0 9 ? * 1,7 *)"),
        ("0 9 * * 1,5", "cron(0 9 ? * 2,6 *)"),
        ("0 9 * * */2", "cron(0 9 ? * 1,3,5,7 *)"),
        ("*/15 * * * *", "cron(0/15 * * * ? *)"),
        ("5/15 * * * *", "cron(5/15 * * * ? *)"),
        ("0-30/10 * * * *", "cron(0,10,20,30 * * * ? *)"),
        ("0 */6 * * *", "cron(0 0/6 * * ? *)"),
        ("0 9 1 * *", "cron(0 9 1 * ? *)"),
        ("0 9 1,15 * *", "cron(0 9 1,15 * ? *)"),
        ("0 9 1-7 * *", "cron(0 9 1-7 * ? *)"),
        ("0 9 * jan,JUL *", "cron(0 9 * 1,7 ? *)"),
        ("0 9 * jan-mar *", "cron(0 9 * 1-3 ? *)"),
        ("30 21 * * 0 ", "cron(30 21 ? * 1 *)"),
        ("10 10 * * 1-4", "cron(10 10 ? * 2-5 *)"),
        ("0 9 31 2 *", "cron(0 9 31 2 ? *)"),
    ];
    for (std, want) in cases {
        assert_eq!(eb(std), want, "{std}");
    }
}

/// Every expression in the real bulk-upload file converts, and its EventBridge form,
/// read back, fires at the same instants as the original over several weeks.
#[test]
fn real_csv_expressions_round_trip() {
    let data = include_str!("../../../tests/fixtures/job-master-github-actions.csv");
    let mut rows = csv::Reader::from_reader(data.as_bytes());
    let mut n = 0;
    for row in rows.records() {
        let row = row.unwrap();
        let line = &row[4];
        let std = CronExpr::parse(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        let back = CronExpr::parse_eventbridge(&std.to_eventbridge()).unwrap();
        let from = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
        assert_eq!(
            std.upcoming(from, tokyo(), 40),
            back.upcoming(from, tokyo(), 40),
            "{line}"
        );
        n += 1;
    }
    assert_eq!(n, 108);
}

#[test]
fn round_trip_hard_cases() {
    let from = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    for std in [
        "*/7 */5 * * *",
        "0 0 * * 5-7",
        "0 0 1-10/3 * *",
        "15 3 * feb-apr/2 *",
        "0 12 * * 7",
        "59 23 31 12 *",
        "0 0 29 2 *",
        "1,2,3,5,8,13 * * * 1-5",
    ] {
        let a = CronExpr::parse(std).unwrap();
        let b = CronExpr::parse_eventbridge(&a.to_eventbridge()).unwrap();
        assert_eq!(
            a.upcoming(from, tokyo(), 25),
            b.upcoming(from, tokyo(), 25),
            "{std}"
        );
    }
}

#[test]
fn weekday_numbering_is_standard() {
    // 2026-11-22 is a Sunday.
    let from = Utc.with_ymd_and_hms(2026, 11, 21, 15, 0, 0).unwrap(); // 00:00 JST Sunday
    let sunday = CronExpr::parse("0 9 * * 0")
        .unwrap()
        .next_fire_from(from, tokyo())
        .unwrap();
    assert_eq!(sunday.to_rfc3339(), "2026-11-22T09:00:00+09:00");
    let monday = CronExpr::parse("0 9 * * 1")
        .unwrap()
        .next_fire_from(from, tokyo())
        .unwrap();
    assert_eq!(monday.to_rfc3339(), "2026-11-23T09:00:00+09:00");
    let seven = CronExpr::parse("0 9 * * 7")
        .unwrap()
        .next_fire_from(from, tokyo())
        .unwrap();
    assert_eq!(seven, sunday);
}

#[test]
fn previews_are_in_zone_and_inclusive() {
    let from = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap(); // 09:00 JST
    let runs = CronExpr::parse("0 9 * * *")
        .unwrap()
        .upcoming(from, tokyo(), 3);
    let s: Vec<String> = runs.iter().map(|t| t.to_rfc3339()).collect();
    assert_eq!(
        s,
        [
            "2026-11-22T09:00:00+09:00",
            "2026-11-23T09:00:00+09:00",
            "2026-11-24T09:00:00+09:00"
        ]
    );
    let late = from + Duration::milliseconds(1);
    let runs = CronExpr::parse("0 9 * * *")
        .unwrap()
        .upcoming(late, tokyo(), 1);
    assert_eq!(runs[0].to_rfc3339(), "2026-11-23T09:00:00+09:00");
    assert!(CronExpr::parse("0 9 31 2 *")
        .unwrap()
        .upcoming(from, tokyo(), 5)
        .is_empty());
    let leap = CronExpr::parse("0 0 29 2 *")
        .unwrap()
        .upcoming(from, tokyo(), 1);
    assert_eq!(leap[0].to_rfc3339(), "2028-02-29T00:00:00+09:00");
}

#[test]
fn dst_gap_is_skipped() {
    let ny = chrono_tz::America::New_York;
    // 2026-03-08 02:30 does not exist in New York.
    let from = Utc.with_ymd_and_hms(2026, 3, 8, 0, 0, 0).unwrap();
    let next = CronExpr::parse("30 2 * * *")
        .unwrap()
        .next_fire_from(from, ny)
        .unwrap();
    assert_eq!(next.to_rfc3339(), "2026-03-09T02:30:00-04:00");
}

#[test]
fn dst_repeated_hour_fires_once() {
    // 2026-11-01 01:30 happens twice in New York (EDT, then EST): one fire time, the first,
    // as EventBridge Scheduler runs a repeated local time once.
    let ny = chrono_tz::America::New_York;
    let cron = CronExpr::parse("30 1 * * *").unwrap();
    let from = Utc.with_ymd_and_hms(2026, 11, 1, 4, 0, 0).unwrap();
    let runs: Vec<String> = cron
        .upcoming(from, ny, 2)
        .iter()
        .map(|t| t.to_rfc3339())
        .collect();
    assert_eq!(
        runs,
        ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]
    );
}

#[test]
fn eventbridge_parser_rejects_unsupported() {
    for bad in [
        "cron(0 9 L * ? *)",
        "0 9 * * ? *",
        "cron(0 9 * * ? 2027)",
        "cron(0 9 ? * 8 *)",
    ] {
        assert!(CronExpr::parse_eventbridge(bad).is_err(), "{bad}");
    }
    let a = CronExpr::parse_eventbridge("cron(0 9 ? * MON-FRI *)").unwrap();
    assert_eq!(a.to_eventbridge(), "cron(0 9 ? * 2-6 *)");
}

#[test]
fn apscheduler_weekdays_move_to_standard_meaning() {
    let conv = |t: &str| super::from_apscheduler(t).map(|c| c.as_str().to_string());
    assert_eq!(conv("0 10 * * 2").unwrap(), "0 10 * * 3"); // Wednesday
    assert_eq!(conv("0 20 * * 0").unwrap(), "0 20 * * 1"); // Monday
    assert_eq!(conv("0 3 * * 1,5").unwrap(), "0 3 * * 2,6");
    assert_eq!(conv("10 9 * * 1-4").unwrap(), "10 9 * * 2-5");
    assert_eq!(conv("0 9 * * 5-6").unwrap(), "0 9 * * 0,6"); // Sat-Sun
    assert_eq!(conv("0 9 * * sun").unwrap(), "0 9 * * 0");
    assert_eq!(conv("0 9 * * mon-fri").unwrap(), "0 9 * * 1-5");
    assert_eq!(conv("0 9 * * */2").unwrap(), "0 9 * * 0,1,3,5"); // Mon, Wed, Fri, Sun
    assert_eq!(conv("15 2 * * *").unwrap(), "15 2 * * *");
    assert!(conv("0 9 * * 7").is_err());
    assert!(conv("0 9 * * 9-3").is_err());
}
