use super::*;

#[test]
fn range_bounds() {
    assert_eq!(
        parse_range_bound("2025-01-01", false).unwrap().to_rfc3339(),
        "2025-01-01T00:00:00+00:00"
    );
    assert_eq!(
        parse_range_bound("2025-01-01", true).unwrap().to_rfc3339(),
        "2025-01-02T00:00:00+00:00"
    );
    assert_eq!(
        parse_range_bound("2025-01-01T03:04:05.678Z", false)
            .unwrap()
            .timestamp_millis()
            % 1000,
        678
    );
    assert_eq!(
        parse_range_bound("2025-01-01T09:00:00+09:00", false)
            .unwrap()
            .to_rfc3339(),
        "2025-01-01T00:00:00+00:00"
    );
    assert!(parse_range_bound("garbage", false).is_none());
    assert!(parse_range_bound("2025-13-01", false).is_none());
}

#[test]
fn range_rejects_out_of_range_years_and_inverted_ranges() {
    assert!(parse_range_bound("+10000-01-01T00:00:00Z", false).is_none());
    let q = |f: &str, t: &str| {
        HashMap::from([
            ("from".to_string(), f.to_string()),
            ("to".to_string(), t.to_string()),
        ])
    };
    assert!(DateRange::from_query(&q("2025-01-02", "2025-01-01")).is_err());
    let r = DateRange::from_query(&q("2025-01-01", "2025-01-01")).unwrap();
    assert_eq!(r.to.unwrap() - r.from.unwrap(), chrono::Duration::days(1));
}

#[test]
fn pages_and_limits() {
    let q = |k: &str, v: &str| HashMap::from([(k.to_string(), v.to_string())]);
    assert_eq!(positive(&q("page", "3"), "page", 1, None).unwrap(), 3);
    assert_eq!(positive(&HashMap::new(), "page", 1, None).unwrap(), 1);
    assert!(positive(&q("page", "0"), "page", 1, None).is_err());
    assert!(positive(&q("limit", "201"), "limit", 20, Some(200)).is_err());
    assert!(positive(&q("limit", "x"), "limit", 20, Some(200)).is_err());
}
