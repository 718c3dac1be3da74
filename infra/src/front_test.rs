use super::*;
use serde_json::json;

#[test]
fn items_are_sized_as_dynamodb_sizes_them() {
    let item = json!({"PK": {"S": "JOB#1"}, "n": {"N": "12345"}, "ok": {"BOOL": true},
        "l": {"L": [{"S": "ab"}]}, "m": {"M": {"k": {"S": "v"}}}});
    // PK 2+5, n 1+4, ok 2+1, l 1+(3+1+2), m 1+(3+1+1+1)
    assert_eq!(item_size(&item), 7 + 5 + 3 + 7 + 7);
    let big = json!({"PK": {"S": "x".repeat(MAX_ITEM_BYTES)}});
    assert!(item_size(&big) > MAX_ITEM_BYTES);
}

fn req<'a>(target: Option<&'a str>, query: &'a str, body: &'a [u8]) -> iam::Request<'a> {
    iam::Request {
        method: "POST",
        path: "/",
        query,
        target,
        body,
        region: "ap-northeast-1",
    }
}

#[test]
fn aws_limits_are_refused_before_the_emulator() {
    let put = json!({"TableName": "t", "Item": {"PK": {"S": "x".repeat(MAX_ITEM_BYTES)}}});
    let body = put.to_string();
    let r = req(Some("DynamoDB_20120810.PutItem"), "", body.as_bytes());
    assert!(over_limits(&r, &put, true).is_some());
    let tx = json!({"TransactItems": (0..101).map(|_| json!({"ConditionCheck": {"TableName": "t"}})).collect::<Vec<_>>()});
    let body = tx.to_string();
    let r = req(
        Some("DynamoDB_20120810.TransactWriteItems"),
        "",
        body.as_bytes(),
    );
    assert!(over_limits(&r, &tx, true).is_some());
    let ok = json!({"TransactItems": (0..100).map(|_| json!({"ConditionCheck": {"TableName": "t"}})).collect::<Vec<_>>()});
    let body = ok.to_string();
    let r = req(
        Some("DynamoDB_20120810.TransactWriteItems"),
        "",
        body.as_bytes(),
    );
    assert!(over_limits(&r, &ok, true).is_none());
    let input = json!({"Target": {"Input": "x".repeat(MAX_SCHEDULE_INPUT_BYTES + 1)}});
    assert!(over_limits(&req(None, "", b""), &input, false).is_some());
}

#[test]
fn only_named_resources_are_throttled() {
    let v = json!({"TableName": "thr-1"});
    assert!(throttled_namespace(&req(Some("x"), "", b""), &v, true));
    assert!(!throttled_namespace(
        &req(Some("x"), "", b""),
        &json!({"TableName": "t-1"}),
        true
    ));
    assert!(throttled_namespace(
        &req(None, "groupName=thr-g", b""),
        &Value::Null,
        false
    ));
    assert!(!throttled_namespace(
        &req(None, "groupName=g-1", b""),
        &Value::Null,
        false
    ));
}
