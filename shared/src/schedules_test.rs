use super::*;

#[test]
fn end_date_is_end_of_day_in_zone() {
    let d = NaiveDate::from_ymd_opt(2031, 2, 10).unwrap();
    let end = schedule_end(d, chrono_tz::Asia::Tokyo).unwrap();
    assert_eq!(end.to_rfc3339(), "2031-02-10T15:00:00+00:00");
}

#[test]
fn input_carries_job_and_placeholder() {
    let v: serde_json::Value = serde_json::from_str(&schedule_input("j1")).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"job_id": "j1", "scheduled_time": "<aws.scheduler.scheduled-time>"})
    );
}
