use super::*;
use serde_json::json;

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
