use super::*;
use serde_json::json;

#[test]
fn booleans_are_strict() {
    assert!(!body_bool(&json!("false"), "x").unwrap());
    assert!(body_bool(&json!(true), "x").unwrap());
    assert!(!body_bool(&json!(null), "x").unwrap());
    assert!(body_bool(&json!("maybe"), "x").is_err());
    assert!(body_bool(&json!([1]), "x").is_err());
}

#[test]
fn bearer_parsing() {
    let mut h = HeaderMap::new();
    assert_eq!(bearer_token(&h).unwrap_err().message, "Not authenticated");
    h.insert(
        header::AUTHORIZATION,
        HeaderValue::from_static("bearer abc"),
    );
    assert_eq!(bearer_token(&h).unwrap(), "abc");
    h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
    assert!(bearer_token(&h).is_err());
    h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
    assert!(bearer_token(&h).is_err());
}
