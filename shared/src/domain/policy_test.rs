use super::*;
use serde_json::json;

#[test]
fn retry_delays_grow_by_the_coefficient_and_stop_at_the_cap() {
    let p = RetryPolicy {
        maximum_attempts: 5,
        initial_interval_seconds: 10,
        backoff_coefficient: 2.0,
        maximum_interval_seconds: 30,
    };
    let secs = |a, ra| p.delay_after(a, ra).as_secs();
    assert_eq!((secs(1, None), secs(2, None), secs(3, None)), (10, 20, 30));
    // A server's Retry-After replaces the computed wait, under the same cap.
    assert_eq!(secs(1, Some(Duration::from_secs(3))), 3);
    assert_eq!(secs(1, Some(Duration::from_secs(300))), 30);
}

#[test]
fn retry_after_reads_seconds_and_http_dates() {
    use std::time::UNIX_EPOCH;
    // Sun, 06 Nov 1994 08:49:37 GMT
    let now = UNIX_EPOCH + Duration::from_secs(784_111_777);
    let parse = |v| RetryPolicy::parse_retry_after(v, now);
    assert_eq!(parse(" 120 "), Some(Duration::from_secs(120)));
    // The three HTTP-date forms, 90 s after `now`.
    for v in [
        "Sun, 06 Nov 1994 08:51:07 GMT",
        "Sunday, 06-Nov-94 08:51:07 GMT",
        "Sun Nov  6 08:51:07 1994",
    ] {
        assert_eq!(parse(v), Some(Duration::from_secs(90)), "{v}");
    }
    // A date already passed: retry now.
    assert_eq!(parse("Sun, 06 Nov 1994 08:00:00 GMT"), Some(Duration::ZERO));
    for bad in ["", "-5", "1.5", "soon", "Sun, 06 Nov 1994 25:00:00 GMT"] {
        assert_eq!(parse(bad), None, "{bad:?}");
    }
}

#[test]
fn retry_policy_reads_partial_objects_and_refuses_out_of_bounds() {
    let p = RetryPolicy::parse(&json!({"maximum_attempts": 3})).unwrap();
    assert_eq!(p.maximum_attempts, 3);
    assert_eq!(p.initial_interval_seconds, 10);
    assert_eq!(
        RetryPolicy::parse(&Value::Null).unwrap(),
        RetryPolicy::default()
    );
    // CSV cells carry the object as JSON text.
    let p = RetryPolicy::parse(&json!("{\"maximum_attempts\": \"4\"}")).unwrap();
    assert_eq!(p.maximum_attempts, 4);
    for bad in [
        json!({"maximum_attempts": 0}),
        json!({"maximum_attempts": 11}),
        json!({"maximum_attempts": 2.5}),
        json!({"backoff_coefficient": 0.5}),
        json!({"initial_interval_seconds": 3601}),
        json!({"maximum_interval_seconds": 0}),
        json!({"maxattempts": 2}),
        json!([1]),
        json!(3),
    ] {
        let e = RetryPolicy::parse(&bad).unwrap_err();
        assert_eq!(e.error, "Invalid retry_policy", "{bad}");
    }
}

#[test]
fn apply_sets_present_keys_and_refuses_each_bound() {
    let mut p = RunPolicy::default();
    p.apply(
        &PolicyPatch {
            timeout_seconds: Some(json!(120)),
            overlap_policy: Some(json!("Buffer_One")),
            timezone: Some(json!("America/New_York")),
            flexible_window_minutes: Some(json!("5")),
            pause_after_failures: Some(json!(2)),
            catchup_window_seconds: Some(json!(60)),
            ..Default::default()
        },
        DEFAULT_TIMEZONE,
    )
    .unwrap();
    assert_eq!(p.timeout_seconds, 120);
    assert_eq!(p.overlap_policy, OverlapPolicy::BufferOne);
    assert_eq!(p.timezone, chrono_tz::America::New_York);
    assert_eq!((p.flexible_window_minutes, p.pause_after_failures), (5, 2));
    assert!(p.checked().is_ok());
    // null puts a key back to its default.
    p.apply(
        &PolicyPatch {
            timezone: Some(Value::Null),
            timeout_seconds: Some(Value::Null),
            ..Default::default()
        },
        chrono_tz::UTC,
    )
    .unwrap();
    assert_eq!((p.timezone, p.timeout_seconds), (chrono_tz::UTC, 30));
    for (patch, error) in [
        (
            PolicyPatch {
                timeout_seconds: Some(json!(0)),
                ..Default::default()
            },
            "Invalid timeout_seconds",
        ),
        (
            PolicyPatch {
                timeout_seconds: Some(json!(601)),
                ..Default::default()
            },
            "Invalid timeout_seconds",
        ),
        (
            PolicyPatch {
                catchup_window_seconds: Some(json!(59)),
                ..Default::default()
            },
            "Invalid catchup_window_seconds",
        ),
        (
            PolicyPatch {
                flexible_window_minutes: Some(json!(16)),
                ..Default::default()
            },
            "Invalid flexible_window_minutes",
        ),
        (
            PolicyPatch {
                pause_after_failures: Some(json!(-1)),
                ..Default::default()
            },
            "Invalid pause_after_failures",
        ),
        (
            PolicyPatch {
                overlap_policy: Some(json!("queue")),
                ..Default::default()
            },
            "Invalid overlap_policy",
        ),
        (
            PolicyPatch {
                timezone: Some(json!("Mars/Base")),
                ..Default::default()
            },
            "Invalid timezone",
        ),
        (
            PolicyPatch {
                timezone: Some(json!(9)),
                ..Default::default()
            },
            "Invalid timezone",
        ),
    ] {
        assert_eq!(
            RunPolicy::default()
                .apply(&patch, DEFAULT_TIMEZONE)
                .unwrap_err()
                .error,
            error
        );
    }
}

#[test]
fn stored_policies_without_keys_read_as_the_defaults() {
    let p: RunPolicy = serde_json::from_value(json!({})).unwrap();
    assert_eq!(p, RunPolicy::default());
    let round: RunPolicy = serde_json::from_value(serde_json::to_value(p).unwrap()).unwrap();
    assert_eq!(round, p);
    assert_eq!(serde_json::to_value(p).unwrap()["timezone"], "Asia/Tokyo");
}

#[test]
fn pause_notes_are_bounded() {
    assert_eq!(
        pause_note(&json!(" waiting for vendor "))
            .unwrap()
            .as_deref(),
        Some("waiting for vendor")
    );
    assert_eq!(pause_note(&json!("")).unwrap(), None);
    assert!(pause_note(&json!("x".repeat(501))).is_err());
    assert!(pause_note(&json!("bell\u{7}")).is_err());
    assert!(pause_note(&json!(5)).is_err());
}
