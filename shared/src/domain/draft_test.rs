use super::*;
use serde_json::json;

#[test]
fn names_are_trimmed_and_bounded() {
    assert_eq!(job_name(Some("  a job ")).unwrap(), "a job");
    assert_eq!(
        job_name(Some("  ")).unwrap_err().error,
        "Job name cannot be empty"
    );
    assert_eq!(
        job_name(None).unwrap_err().error,
        "Job name cannot be empty"
    );
    assert_eq!(
        job_name(Some(&"x".repeat(256))).unwrap_err().error,
        "Invalid name"
    );
    assert!(job_name(Some(&"é".repeat(255))).is_ok());
}

#[test]
fn urls_and_github_parts_are_bounded() {
    assert_eq!(
        github_part("github_repo", Some(" api "))
            .unwrap()
            .as_deref(),
        Some("api")
    );
    assert_eq!(github_part("github_repo", Some("")).unwrap(), None);
    assert!(github_part("github_repo", Some(&"r".repeat(10_000))).is_err());
    assert!(bounded_url("dispatch_url", Some(&"u".repeat(2049))).is_err());
    let long = format!("https://example.com/{}", "a".repeat(100_000));
    assert_eq!(
        target_url(&long, "scheme").unwrap_err().error,
        "Invalid target_url"
    );
    assert!(matches!(
        target_url("o/r/w.yml", "scheme"),
        Ok(TargetField::GitHub(_))
    ));
    assert!(matches!(
        target_url("https://example.com/h", "scheme"),
        Ok(TargetField::Webhook(_))
    ));
    assert_eq!(
        target_url("example.com/h", "needs a scheme")
            .unwrap_err()
            .message,
        "needs a scheme"
    );
}

#[test]
fn metadata_is_an_object_of_bounded_size() {
    assert!(metadata(None).unwrap().is_empty());
    assert!(metadata(Some(&json!(null))).unwrap().is_empty());
    assert_eq!(
        metadata(Some(&json!([1]))).unwrap_err().error,
        "Invalid metadata"
    );
    let big = json!({"k": "v".repeat(70_000)});
    assert!(metadata(Some(&big)).is_err());
    assert_eq!(metadata_text("{\"a\":1}").unwrap()["a"], 1);
    assert_eq!(
        metadata_text("[1]").unwrap_err().error,
        "Invalid Request Body"
    );
    assert_eq!(
        metadata_text("{").unwrap_err().error,
        "Invalid JSON in Request Body"
    );
    let huge = format!("{{\"k\":\"{}\"}}", "v".repeat(450_000));
    assert_eq!(
        metadata_text(&huge).unwrap_err().error,
        "Invalid Request Body"
    );
}

#[test]
fn end_dates() {
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    assert_eq!(end_date(Some("2026-11-23"), today), Ok(today));
    assert_eq!(
        end_date(Some("20261124"), today).unwrap().to_string(),
        "2026-11-24"
    );
    assert_eq!(end_date(Some(" "), today), Err(EndDateError::Missing));
    assert_eq!(
        end_date(Some("23/11/2026"), today),
        Err(EndDateError::Format)
    );
    assert_eq!(end_date(Some("2026-11-22"), today), Err(EndDateError::Past));
}

#[test]
fn a_built_job_is_held_to_the_same_rules() {
    let job: crate::domain::Job = serde_json::from_value(json!({
        "id": "j1", "name": "ok", "cron_expression": "0 9 * * 1",
        "target_url": "https://example.com/h", "github_owner": null, "github_repo": null,
        "github_workflow_name": null, "metadata": "{}", "category": "general",
        "end_date": "2020-01-01", "pic_team": null, "enable_email_notifications": true,
        "notification_emails": ["a@example.com"], "notify_on_success": false,
        "created_by": null, "is_active": true,
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
    }))
    .unwrap();
    assert_eq!(check_job(&job), Ok(()));
    let mut long = job.clone();
    long.name = "x".repeat(300);
    assert_eq!(check_job(&long).unwrap_err().error, "Invalid name");
    let mut mail = job.clone();
    mail.notification_emails = vec!["not-an-email".into()];
    assert_eq!(
        check_job(&mail).unwrap_err().message,
        "Invalid e-mail address: not-an-email"
    );
    let mut none = job.clone();
    none.target_url = None;
    assert_eq!(check_job(&none).unwrap_err().error, "Invalid target");
    let mut trick = job;
    trick.github_owner = Some("..".into());
    assert_eq!(
        check_job(&trick).unwrap_err().error,
        "Invalid GitHub configuration"
    );
}
