use super::*;
use chrono::TimeZone;

#[test]
fn payload_resolves_the_placeholder() {
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 1, 2, 0).unwrap();
    let p = payload(&shared::schedules::schedule_input("j"), at).unwrap();
    assert_eq!(p["scheduled_time"], "2026-11-22T01:02:00Z");
    assert_eq!(p["job_id"], "j");
}

#[test]
fn due_window_is_half_open() {
    let schedule = StoredSchedule {
        name: "j".into(),
        expression: "cron(* * * * ? *)".into(),
        timezone: "Asia/Tokyo".into(),
        input: "{}".into(),
        enabled: true,
        end_date: Some(Utc.with_ymd_and_hms(2026, 11, 22, 1, 3, 0).unwrap()),
        target_arn: String::new(),
        flexible_minutes: 0,
        max_event_age: None,
    };
    let entry = Entry {
        when: When::Cron(schedule.cron().unwrap(), chrono_tz::Asia::Tokyo),
        schedule,
    };
    let t = |h, m, s| Utc.with_ymd_and_hms(2026, 11, 22, h, m, s).unwrap();
    assert_eq!(due(&entry, t(1, 0, 59), t(1, 1, 0)), Some(t(1, 1, 0)));
    assert_eq!(due(&entry, t(1, 1, 0), t(1, 1, 1)), None);
    assert_eq!(
        due(&entry, t(1, 2, 59), t(1, 3, 0)),
        None,
        "EndDate is exclusive"
    );
}

#[test]
fn one_time_schedules_are_due_from_their_instant_on() {
    let t = |h, m, s| Utc.with_ymd_and_hms(2026, 11, 22, h, m, s).unwrap();
    let at = at_expression("at(2026-11-22T10:05:00)", chrono_tz::Asia::Tokyo).unwrap();
    assert_eq!(at, t(1, 5, 0));
    assert_eq!(at_expression("cron(* * * * ? *)", chrono_tz::UTC), None);
    let entry = Entry {
        when: When::At(at),
        schedule: StoredSchedule {
            name: "bf-x".into(),
            expression: "at(2026-11-22T10:05:00)".into(),
            timezone: "Asia/Tokyo".into(),
            input: "{}".into(),
            enabled: true,
            end_date: None,
            target_arn: String::new(),
            flexible_minutes: 0,
            max_event_age: None,
        },
    };
    assert_eq!(due(&entry, t(1, 4, 0), t(1, 4, 59)), None);
    assert_eq!(due(&entry, t(1, 4, 59), t(1, 5, 0)), Some(at));
    // Loaded late (the stack was down): still due.
    assert_eq!(due(&entry, t(2, 0, 0), t(2, 0, 1)), Some(at));
}
