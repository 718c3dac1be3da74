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
fn emails_validated() {
    assert_eq!(
        parse_emails(Some(&json!(["a@b.co", " ", "A@b.co"]))).unwrap(),
        vec!["a@b.co"]
    );
    assert!(parse_emails(Some(&json!("a@b.co"))).is_err());
    assert!(parse_emails(Some(&json!(["nope"]))).is_err());
    assert!(parse_emails(Some(&json!([1]))).is_err());
}
