use super::*;

const REGION: &str = "ap-northeast-1";

fn template() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap()
}

fn call(function: &str, action: &str, resource: &str) -> Recorded {
    Recorded {
        function: function.into(),
        action: action.into(),
        resource: resource.into(),
    }
}

fn table() -> String {
    format!("arn:aws:dynamodb:{REGION}:{LOCAL_ACCOUNT}:table/{LOCAL_TABLE}")
}

fn schedule(name: &str) -> String {
    format!("arn:aws:scheduler:{REGION}:{LOCAL_ACCOUNT}:schedule/{LOCAL_GROUP}/{name}")
}

#[test]
fn wildcards_are_iams() {
    assert!(wildcard(
        "arn:aws:dynamodb:*:table/t/index/*",
        "arn:aws:dynamodb:x:table/t/index/GSI1"
    ));
    assert!(!wildcard(
        "arn:aws:dynamodb:r:a:table/t/index/*",
        "arn:aws:dynamodb:r:a:table/t"
    ));
    assert!(!wildcard(
        "arn:aws:dynamodb:r:a:table/t",
        "arn:aws:dynamodb:r:a:table/t/index/G"
    ));
    assert!(wildcard("*", "anything"));
    assert!(wildcard("a?c", "abc"));
    assert!(!wildcard("a?c", "ac"));
}

#[test]
fn a_transaction_needs_each_item_action_and_an_index_query_the_index() {
    let body = br#"{"TransactItems":[
        {"Put":{"TableName":"t-1","Item":{}}},
        {"ConditionCheck":{"TableName":"t-1","Key":{}}},
        {"Update":{"TableName":"t-1","Key":{}}}]}"#;
    let needs = classify(&Request {
        method: "POST",
        path: "/",
        query: "",
        target: Some("DynamoDB_20120810.TransactWriteItems"),
        body,
        region: REGION,
    })
    .unwrap();
    let actions: Vec<_> = needs.iter().map(|n| n.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "dynamodb:ConditionCheckItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem"
        ]
    );
    assert!(needs.iter().all(|n| n.resource == table()));
    let q = classify(&Request {
        method: "POST",
        path: "/",
        query: "",
        target: Some("DynamoDB_20120810.Query"),
        body: br#"{"TableName":"t-9","IndexName":"GSI1"}"#,
        region: REGION,
    })
    .unwrap();
    assert_eq!(q[0].resource, format!("{}/index/GSI1", table()));
}

#[test]
fn creating_a_schedule_passes_its_role() {
    let needs = classify(&Request {
        method: "POST",
        path: "/schedules/job-1",
        query: "",
        target: None,
        body: br#"{"GroupName":"g-1","Target":{"Arn":"x","RoleArn":"arn:aws:iam::000000000000:role/r"}}"#,
        region: REGION,
    })
    .unwrap();
    assert_eq!(
        needs[0],
        need("scheduler:CreateSchedule", schedule("job-1"))
    );
    assert_eq!(needs[1].action, "iam:PassRole");
    assert_eq!(
        app_name("aws-sdk-rust/1.3 os/linux app/JobsFunction md/x"),
        Some("JobsFunction")
    );
    assert_eq!(
        region_of(
            "AWS4-HMAC-SHA256 Credential=local/20261207/us-east-1/dynamodb/aws4_request, Sig"
        ),
        Some("us-east-1")
    );
}

#[test]
fn the_template_grants_what_each_function_is_known_to_call() {
    let p = Policies::from_template(&template(), REGION).unwrap();
    let calls = [
        call("AuthFunction", "dynamodb:GetItem", &table()),
        call("AuthFunction", "dynamodb:BatchGetItem", &table()),
        call("JobsFunction", "scheduler:CreateSchedule", &schedule("j")),
        call(
            "JobsFunction",
            "dynamodb:Query",
            &format!("{}/index/GSI1", table()),
        ),
        call(
            "JobsFunction",
            "iam:PassRole",
            &format!("arn:aws:iam::{LOCAL_ACCOUNT}:role/cron-scheduler-invoke"),
        ),
    ];
    let r = check(&p, &calls);
    assert!(r.ok(), "{r:?}");
    assert!(
        !r.unused.is_empty(),
        "the sample uses a fraction of the grants"
    );
}

#[test]
fn a_removed_permission_is_named_with_its_function_action_and_resource() {
    // The done-when of the deployed-shape issue: GetItem gone from AuthFunction and
    // CreateSchedule gone from the jobs function.
    let mut p = Policies::from_template(&template(), REGION).unwrap();
    for s in p.functions.get_mut("AuthFunction").unwrap() {
        s.actions.retain(|a| a != "dynamodb:GetItem");
    }
    let r = check(
        &p,
        &[
            call("AuthFunction", "dynamodb:GetItem", &table()),
            call("AuthFunction", "dynamodb:Query", &table()),
        ],
    );
    assert_eq!(
        r.missing,
        [call("AuthFunction", "dynamodb:GetItem", &table())]
    );
    let mut p = Policies::from_template(&template(), REGION).unwrap();
    for s in p.functions.get_mut("JobsFunction").unwrap() {
        s.actions.retain(|a| a != "scheduler:CreateSchedule");
    }
    let r = check(
        &p,
        &[call(
            "JobsFunction",
            "scheduler:CreateSchedule",
            &schedule("j"),
        )],
    );
    assert_eq!(r.missing.len(), 1);
    assert!(!r.ok());
}

#[test]
fn wildcard_actions_and_unknown_callers_are_violations() {
    let mut p = Policies::default();
    p.functions.insert(
        "F".into(),
        vec![Statement {
            allow: true,
            actions: vec!["dynamodb:*".into()],
            resources: vec!["*".into()],
        }],
    );
    let r = check(&p, &[call("G", "dynamodb:GetItem", &table())]);
    assert_eq!(r.wildcard_actions.len(), 1);
    assert_eq!(r.unknown_functions, ["G"]);
    assert!(!r.ok());
}

#[test]
fn cronctl_policy_document_resolves() {
    let mut p = Policies::default();
    p.add_json(
        "cronctl",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:GetItem"],
            "Resource":["arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${Table}"]}]}"#,
        REGION,
    )
    .unwrap();
    assert!(check(&p, &[call("cronctl", "dynamodb:GetItem", &table())]).ok());
}
