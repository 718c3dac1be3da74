//! Shapes of the API for the OpenAPI 3.1 document (`GET /api/v2/openapi.json`). Each handler
//! in the function crates is annotated with `#[utoipa::path]` naming these; the document is
//! assembled from the same routers that serve requests, so a route cannot exist without its
//! description (`infra::openapi`). These types only describe the wire shapes; the domain
//! types build the bodies.

#![allow(dead_code)]

use serde_json::Value;
use utoipa::{
    openapi::{self, response::ResponseBuilder, ContentBuilder, RefOr, Response, ResponsesBuilder},
    IntoResponses, ToSchema,
};

/// The one error body (policy §3): `{"error","message"}` plus optional keys.
#[derive(ToSchema)]
pub struct ErrorBody {
    /// Short reason, e.g. `Invalid cron expression`.
    pub error: String,
    /// Human sentence.
    pub message: String,
    /// The reference's text for 401/403 gate errors and 404/405 fallbacks.
    pub detail: Option<String>,
    /// Missing keys of `POST /jobs`.
    pub missing_fields: Option<Vec<String>>,
}

/// The error answers every endpoint may give (400, 401, 403, 404, 409, 503).
pub struct Errors;

impl IntoResponses for Errors {
    fn responses() -> std::collections::BTreeMap<String, RefOr<Response>> {
        let body = || {
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(openapi::Ref::from_schema_name(
                    "ErrorBody",
                ))))
                .build()
        };
        let r = |d: &str| {
            ResponseBuilder::new()
                .description(d)
                .content("application/json", body())
                .build()
        };
        ResponsesBuilder::new()
            .response("400", r("Invalid input (never 422)"))
            .response("401", r("Missing, invalid or expired token"))
            .response("403", r("Role or ownership rule"))
            .response("404", r("Not found"))
            .response("409", r("Conflict (duplicate, concurrent change)"))
            .response("503", r("AWS dependency unavailable"))
            .build()
            .into()
    }
}

/// A user (never the password hash).
#[derive(ToSchema)]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: String,
    /// `admin` | `user` | `viewer`.
    pub role: String,
    pub is_active: bool,
    /// RFC 3339 UTC.
    pub created_at: String,
    pub updated_at: String,
}

/// `POST /auth/login`: `username` or `email`, and `password`.
#[derive(ToSchema)]
pub struct LoginRequest {
    pub username: Option<String>,
    pub email: Option<String>,
    pub password: String,
}

/// `POST /auth/login/form` (OAuth2 password form, url-encoded).
#[derive(ToSchema)]
pub struct LoginForm {
    /// A username or an e-mail.
    pub username: String,
    pub password: String,
    /// `password` when present.
    pub grant_type: Option<String>,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// Login answer.
#[derive(ToSchema)]
pub struct LoginResponse {
    pub success: bool,
    pub message: String,
    pub user: User,
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
}

/// Refresh answer (the refresh token stays reusable).
#[derive(ToSchema)]
pub struct RefreshResponse {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub token_type: String,
    pub expires_in: i64,
}

/// `GET /auth/verify`.
#[derive(ToSchema)]
pub struct VerifyResponse {
    pub valid: bool,
    pub user_id: String,
    pub username: String,
    pub role: String,
    pub message: String,
}

/// A message-only answer.
#[derive(ToSchema)]
pub struct MessageResponse {
    pub message: String,
}

/// `POST /auth/logout` body (optional).
#[derive(ToSchema)]
pub struct LogoutRequest {
    /// Revoked until it expires.
    pub refresh_token: Option<String>,
}

/// `POST /auth/logout`.
#[derive(ToSchema)]
pub struct LogoutResponse {
    pub success: bool,
    pub message: String,
    pub detail: String,
}

/// `POST /auth/register` (admin).
#[derive(ToSchema)]
pub struct RegisterRequest {
    /// 3-80 of `[A-Za-z0-9_-]`, stored lower-cased.
    pub username: String,
    pub email: String,
    /// At least 6 characters.
    pub password: String,
    /// `admin` | `user` | `viewer` (default `viewer`).
    pub role: Option<String>,
    pub is_active: Option<bool>,
}

/// `{"success","message","user"}`.
#[derive(ToSchema)]
pub struct UserCreated {
    pub success: bool,
    pub message: String,
    pub user: User,
}

/// `{"user"}`.
#[derive(ToSchema)]
pub struct UserEnvelope {
    pub user: User,
}

/// `{"count","users"}`.
#[derive(ToSchema)]
pub struct UserList {
    pub count: i64,
    pub users: Vec<User>,
}

/// `PUT /auth/users/{id}`: every key optional; role and `is_active` by admins only.
#[derive(ToSchema)]
pub struct UserUpdate {
    pub email: Option<String>,
    pub password: Option<String>,
    pub role: Option<String>,
    pub is_active: Option<bool>,
}

/// `PUT /auth/users/{id}` answer.
#[derive(ToSchema)]
pub struct UserUpdated {
    pub message: String,
    /// In order `email`, `password`, `role`, `is_active`.
    pub updated_fields: Vec<String>,
    pub user: User,
}

/// `{"id","username"}` of a deleted user.
#[derive(ToSchema)]
pub struct DeletedUser {
    pub id: String,
    pub username: String,
}

/// `DELETE /auth/users/{id}` answer.
#[derive(ToSchema)]
pub struct UserDeleted {
    pub message: String,
    pub deleted_user: DeletedUser,
}

/// Notification preferences.
#[derive(ToSchema)]
pub struct NotificationPrefs {
    pub id: String,
    pub user_id: String,
    pub email_on_job_success: bool,
    pub email_on_job_failure: bool,
    pub email_on_job_disabled: bool,
    pub browser_notifications: bool,
    pub daily_digest: bool,
    pub weekly_report: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// `PUT /auth/users/{id}/preferences`: any of the six flags.
#[derive(ToSchema)]
pub struct NotificationPrefsUpdate {
    pub email_on_job_success: Option<bool>,
    pub email_on_job_failure: Option<bool>,
    pub email_on_job_disabled: Option<bool>,
    pub browser_notifications: Option<bool>,
    pub daily_digest: Option<bool>,
    pub weekly_report: Option<bool>,
}

/// `{"message","preferences"}`.
#[derive(ToSchema)]
pub struct NotificationPrefsEnvelope {
    pub message: String,
    pub preferences: NotificationPrefs,
}

/// The jobs table's visible columns.
#[derive(ToSchema)]
pub struct JobsTableColumns {
    pub pic_team: bool,
    pub end_date: bool,
    pub cron_expression: bool,
    pub target_url: bool,
    pub last_execution_at: bool,
}

/// `{"jobs_table_columns"}`.
#[derive(ToSchema)]
pub struct UiPrefs {
    pub jobs_table_columns: JobsTableColumns,
}

/// `{"preferences": {"jobs_table_columns"}}`.
#[derive(ToSchema)]
pub struct UiPrefsEnvelope {
    pub preferences: UiPrefs,
}

/// A job (api-contract §2.2) with the read extras.
#[derive(ToSchema)]
pub struct Job {
    pub id: String,
    pub name: String,
    pub cron_expression: String,
    pub target_url: Option<String>,
    pub github_owner: Option<String>,
    pub github_repo: Option<String>,
    pub github_workflow_name: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// A category slug.
    pub category: String,
    /// `YYYY-MM-DD`.
    pub end_date: Option<String>,
    /// A PIC team slug.
    pub pic_team: Option<String>,
    pub enable_email_notifications: bool,
    pub notification_emails: Vec<String>,
    pub notify_on_success: bool,
    pub created_by: Option<String>,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
    /// Reads only: start of the latest run, RFC 3339 UTC.
    pub last_execution_at: Option<String>,
    /// Reads only: next fire time in the job's zone with its offset.
    pub next_execution_at: Option<String>,
    pub retry_policy: RetryPolicy,
    /// Seconds one attempt's outbound call may take, body included (1-600, default 30).
    pub timeout_seconds: i64,
    /// `allow` | `skip` | `buffer_one`.
    pub overlap_policy: String,
    /// Seconds after its fire time a delivery still runs (60-86400, default 3600).
    pub catchup_window_seconds: i64,
    /// IANA zone of the cron (default `Asia/Tokyo`).
    pub timezone: String,
    /// EventBridge flexible window, minutes (0 off, 1-15).
    pub flexible_window_minutes: i64,
    /// Consecutive failed runs before the job pauses itself (0 never).
    pub pause_after_failures: i64,
    /// While paused: the note given with the pause.
    pub pause_note: Option<String>,
    /// While paused: who paused it (a user id, or `system`).
    pub paused_by: Option<String>,
    /// While paused: when, RFC 3339 UTC.
    pub paused_at: Option<String>,
}

/// Temporal's retry policy (`maximum_attempts` counts the first attempt).
#[derive(ToSchema)]
pub struct RetryPolicy {
    /// 1-10 (default 1: no retry).
    pub maximum_attempts: i64,
    /// 1-3600 (default 10).
    pub initial_interval_seconds: i64,
    /// 1.0-10.0 (default 2.0).
    pub backoff_coefficient: f64,
    /// 1-86400 (default 600).
    pub maximum_interval_seconds: i64,
}

/// `POST /jobs` and `PUT /jobs/{id}` body (PUT: every key optional).
#[derive(ToSchema)]
pub struct JobWrite {
    pub name: Option<String>,
    /// Five-field crontab, Sunday = 0.
    pub cron_expression: Option<String>,
    /// `YYYY-MM-DD`, today or later in the scheduler zone.
    pub end_date: Option<String>,
    pub target_url: Option<String>,
    pub github_owner: Option<String>,
    pub github_repo: Option<String>,
    pub github_workflow_name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    pub category: Option<String>,
    pub pic_team: Option<String>,
    pub pic_team_slug: Option<String>,
    pub enable_email_notifications: Option<bool>,
    pub notification_emails: Option<Vec<String>>,
    pub notify_on_success: Option<bool>,
    /// PUT only.
    pub is_active: Option<bool>,
    /// Partial objects allowed; absent keys take their defaults.
    #[schema(value_type = Option<Object>)]
    pub retry_policy: Option<Value>,
    pub timeout_seconds: Option<i64>,
    pub overlap_policy: Option<String>,
    pub catchup_window_seconds: Option<i64>,
    pub timezone: Option<String>,
    pub flexible_window_minutes: Option<i64>,
    pub pause_after_failures: Option<i64>,
    /// PUT with `is_active: false` only (≤ 500 characters).
    pub pause_note: Option<String>,
}

/// `POST /jobs/{id}/backfill` body: ISO 8601 instants, `[from, to)`.
#[derive(ToSchema)]
pub struct BackfillRequest {
    pub from: String,
    pub to: String,
}

/// `POST /jobs/{id}/backfill` answer.
#[derive(ToSchema)]
pub struct BackfillResponse {
    pub message: String,
    pub job_id: String,
    /// Every fire time in the range, oldest first, RFC 3339 UTC.
    pub fire_times: Vec<String>,
    /// How many of them were not run or queued before.
    pub new: i64,
    /// How many were already run or queued.
    pub already: i64,
}

/// `{"count","jobs"}`, newest first.
#[derive(ToSchema)]
pub struct JobList {
    pub count: i64,
    pub jobs: Vec<Job>,
}

/// `{"job"}`.
#[derive(ToSchema)]
pub struct JobEnvelope {
    pub job: Job,
}

/// `{"message","job"}` plus `schedule_sync: "pending"` when the schedule call failed.
#[derive(ToSchema)]
pub struct JobWritten {
    pub message: String,
    pub job: Job,
    pub schedule_sync: Option<String>,
}

/// `{"id","name"}`.
#[derive(ToSchema)]
pub struct IdName {
    pub id: String,
    pub name: String,
}

/// `DELETE /jobs/{id}` answer.
#[derive(ToSchema)]
pub struct JobDeleted {
    pub message: String,
    pub deleted_job: IdName,
}

/// `POST /jobs/{id}/execute` overrides (never stored).
#[derive(ToSchema)]
pub struct ExecuteRequest {
    pub target_url: Option<String>,
    pub dispatch_url: Option<String>,
    pub github_owner: Option<String>,
    pub github_repo: Option<String>,
    pub github_workflow_name: Option<String>,
    pub github_token: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

/// `POST /jobs/{id}/execute` answer.
#[derive(ToSchema)]
pub struct ExecuteResponse {
    pub message: String,
    pub job_id: String,
    pub execution_id: String,
    /// `success` | `failed`.
    pub status: String,
}

/// `POST /jobs/validate-cron` and `/jobs/cron-preview` body.
#[derive(ToSchema)]
pub struct CronRequest {
    pub expression: Option<String>,
    pub cron_expression: Option<String>,
    /// Preview only: 1-20, default 5.
    pub count: Option<i64>,
    /// IANA zone (default: the scheduler zone).
    pub timezone: Option<String>,
}

/// `POST /jobs/validate-cron` answer (always 200).
#[derive(ToSchema)]
pub struct CronValidation {
    pub valid: bool,
    pub message: String,
    pub error: Option<String>,
    /// Valid only: the zone read in.
    pub timezone: Option<String>,
    /// Valid only: the next fire time there (null when it never fires).
    pub next_run: Option<String>,
}

/// `POST /jobs/cron-preview` answer.
#[derive(ToSchema)]
pub struct CronPreview {
    pub timezone: String,
    pub next_runs: Vec<String>,
    pub count: i64,
}

/// `POST /jobs/test-run` body.
#[derive(ToSchema)]
pub struct TestRunRequest {
    pub target_url: Option<String>,
    pub github_owner: Option<String>,
    pub github_repo: Option<String>,
    pub github_workflow_name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Seconds, clamped to 1-20.
    pub timeout_seconds: Option<f64>,
}

/// `POST /jobs/test-run` answer (a failed target is still 200).
#[derive(ToSchema)]
pub struct TestRunResponse {
    pub ok: bool,
    /// `webhook` | `github`.
    #[schema(rename = "type")]
    pub kind: String,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub message: String,
}

/// `POST /jobs/bulk-upload` multipart form.
#[derive(ToSchema)]
pub struct BulkUploadForm {
    /// The CSV file.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    pub default_github_owner: Option<String>,
    pub dry_run: Option<String>,
}

/// `POST /jobs/bulk-upload` answer (also the body of its 400).
#[derive(ToSchema)]
pub struct BulkUploadResponse {
    pub message: String,
    pub dry_run: bool,
    #[schema(value_type = Object)]
    pub stats: Value,
    pub created_count: i64,
    pub error_count: i64,
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub jobs: Vec<Value>,
}

/// One run (api-contract §2.3) plus its planned time and start delay.
#[derive(ToSchema)]
pub struct Execution {
    pub id: String,
    pub job_id: String,
    /// `running` | `success` | `failed` | `timed_out` | `skipped` | `missed`.
    pub status: String,
    /// `scheduled` | `manual` | `backfill`.
    pub trigger_type: String,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub duration_seconds: Option<f64>,
    /// `github_actions` | `webhook`.
    pub execution_type: Option<String>,
    pub target: Option<String>,
    pub response_status: Option<i64>,
    pub error_message: Option<String>,
    pub output: Option<String>,
    /// The schedule's fire time (null for manual runs).
    pub scheduled_time: Option<String>,
    /// Milliseconds from the fire time to the start.
    pub start_delay_ms: Option<i64>,
    /// Delivery of this run's alerts per channel (`email`, `slack`): `sent`, `skipped: …` or
    /// `failed (attempt n): …`; empty until delivered.
    #[schema(value_type = Object)]
    pub alerts: Value,
    /// Each outbound attempt (retries, issue 23), oldest first.
    pub attempts: Vec<Attempt>,
    /// Global lists only.
    pub job_name: Option<String>,
    /// Global lists only.
    pub github_repo: Option<String>,
}

/// One outbound attempt of a run.
#[derive(ToSchema)]
pub struct Attempt {
    pub started_at: String,
    /// `success` | `failed` | `timed_out`.
    pub status: String,
    pub response_status: Option<i64>,
    pub error: Option<String>,
}

/// `GET /jobs/{id}/executions` answer.
#[derive(ToSchema)]
pub struct JobExecutions {
    pub job_id: String,
    pub job_name: String,
    pub total_executions: i64,
    pub executions: Vec<Execution>,
}

/// Per-job statistics.
#[derive(ToSchema)]
pub struct JobStatistics {
    pub total_executions: i64,
    pub success_count: i64,
    pub failed_count: i64,
    pub running_count: i64,
    pub timed_out_count: i64,
    pub skipped_count: i64,
    pub missed_count: i64,
    pub success_rate: f64,
    pub average_duration_seconds: Option<f64>,
}

/// `GET /jobs/{id}/executions/stats` answer.
#[derive(ToSchema)]
pub struct JobStats {
    pub job_id: String,
    pub job_name: String,
    pub statistics: JobStatistics,
    pub latest_execution: Option<Execution>,
}

/// `GET /jobs/{id}/executions/{execution_id}` answer.
#[derive(ToSchema)]
pub struct JobExecution {
    pub job: IdName,
    pub execution: Execution,
}

/// `GET /executions` answer.
#[derive(ToSchema)]
pub struct ExecutionList {
    pub executions: Vec<Execution>,
    pub total: i64,
    pub page: i64,
    pub limit: i64,
    pub total_pages: i64,
}

/// A `{from, to}` range (RFC 3339 UTC or null).
#[derive(ToSchema)]
pub struct Range {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// `GET /executions/statistics` answer.
#[derive(ToSchema)]
pub struct ExecutionStatistics {
    pub total_executions: i64,
    pub successful_executions: i64,
    pub failed_executions: i64,
    pub running_executions: i64,
    pub timed_out_executions: i64,
    pub skipped_executions: i64,
    pub missed_executions: i64,
    /// Percent, 0-100.
    pub success_rate: f64,
    pub average_duration_seconds: f64,
    pub range: Option<Range>,
}

/// `{"execution"}`.
#[derive(ToSchema)]
pub struct ExecutionEnvelope {
    pub execution: Execution,
}

/// A job category or PIC team (`slack_handle` for teams).
#[derive(ToSchema)]
pub struct Taxon {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub slack_handle: Option<String>,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// Create/update body of a category or team.
#[derive(ToSchema)]
pub struct TaxonWrite {
    pub name: Option<String>,
    /// Create only; derived from the name otherwise.
    pub slug: Option<String>,
    pub slack_handle: Option<String>,
    pub is_active: Option<bool>,
}

/// `{"categories"}`.
#[derive(ToSchema)]
pub struct CategoryList {
    pub categories: Vec<Taxon>,
}

/// `{"pic_teams"}`.
#[derive(ToSchema)]
pub struct TeamList {
    pub pic_teams: Vec<Taxon>,
}

/// `{"message","category","jobs_updated"?}`.
#[derive(ToSchema)]
pub struct CategoryEnvelope {
    pub message: String,
    pub category: Taxon,
    pub jobs_updated: Option<i64>,
}

/// `{"message","pic_team","jobs_updated"?}`.
#[derive(ToSchema)]
pub struct TeamEnvelope {
    pub message: String,
    pub pic_team: Taxon,
    pub jobs_updated: Option<i64>,
}

/// A notification.
#[derive(ToSchema)]
pub struct Notification {
    pub id: String,
    pub user_id: String,
    pub title: String,
    pub message: String,
    /// `success` | `error` | `warning` | `info`.
    #[schema(rename = "type")]
    pub kind: String,
    pub related_job_id: Option<String>,
    pub related_execution_id: Option<String>,
    pub is_read: bool,
    pub read_at: Option<String>,
    pub created_at: String,
}

/// `GET /notifications` answer.
#[derive(ToSchema)]
pub struct NotificationList {
    pub notifications: Vec<Notification>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub total_pages: i64,
    pub range: Range,
}

/// `GET /notifications/unread-count` answer.
#[derive(ToSchema)]
pub struct UnreadCount {
    pub unread_count: i64,
    pub range: Range,
}

/// `{"message","notification"}`.
#[derive(ToSchema)]
pub struct NotificationEnvelope {
    pub message: String,
    pub notification: Notification,
}

/// `{"message","updated_count"}`.
#[derive(ToSchema)]
pub struct UpdatedCount {
    pub message: String,
    pub updated_count: i64,
}

/// `{"deleted_count"}`.
#[derive(ToSchema)]
pub struct DeletedCount {
    pub deleted_count: i64,
}

/// Slack settings (the webhook URL in clear).
#[derive(ToSchema)]
pub struct SlackSettings {
    pub id: String,
    pub is_enabled: bool,
    pub webhook_url: Option<String>,
    pub channel: Option<String>,
    /// Beyond the reference: also post failed runs (opt-in).
    pub notify_run_failures: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// `PUT /settings/slack` body.
#[derive(ToSchema)]
pub struct SlackSettingsUpdate {
    pub is_enabled: Option<bool>,
    /// An https URL.
    pub webhook_url: Option<String>,
    pub channel: Option<String>,
    /// Also post failed runs to Slack (default false).
    pub notify_run_failures: Option<bool>,
}

/// `{"slack_settings"}` (+ `message` on PUT).
#[derive(ToSchema)]
pub struct SlackSettingsEnvelope {
    pub message: Option<String>,
    pub slack_settings: SlackSettings,
}

/// `GET /scheduler/status` answer.
#[derive(ToSchema)]
pub struct SchedulerStatus {
    pub scheduler_running: bool,
    pub scheduler_is_leader: bool,
    pub scheduled_jobs_count: i64,
    pub last_resync_at: Option<String>,
    pub jobs_pending_repair: i64,
    pub history_purges_pending: i64,
    pub retention: RetentionStatus,
    #[schema(value_type = Option<Object>)]
    pub last_resync: Option<Value>,
    #[schema(value_type = Object)]
    pub meaning: Value,
}

/// The history retention in effect (`GET /scheduler/status`).
#[derive(ToSchema)]
pub struct RetentionStatus {
    /// Whole UTC days of executions and notifications kept; null keeps everything.
    pub days: Option<i64>,
    /// First UTC day (`YYYY-MM-DD`) still visible after a raise of the window, if any.
    pub kept_since: Option<String>,
    /// `RETENTION_DAYS` as configured (null: off).
    pub configured_days: Option<i64>,
    /// Why the configured value is not in effect (a change on a live table), if it is not.
    pub refused: Option<String>,
}

/// `POST /scheduler/resync` answer.
#[derive(ToSchema)]
pub struct ResyncResponse {
    pub message: String,
    pub ran_at: String,
    pub db_jobs_total: i64,
    pub db_jobs_active: i64,
    pub scheduled_now: i64,
    pub scheduled_added: i64,
    pub scheduled_updated: i64,
    pub scheduled_removed: i64,
    pub expired_auto_paused: i64,
    pub orphaned_removed: i64,
    pub invalid_cron: i64,
    pub failures: i64,
    pub repaired: i64,
    pub abandoned_runs_failed: i64,
    #[schema(value_type = Object)]
    pub meaning: Value,
}

/// `GET /health` answer.
#[derive(ToSchema)]
pub struct Health {
    pub status: String,
    pub service: String,
    pub version: String,
    pub timestamp: String,
    pub api: String,
    pub scheduler_running: bool,
    pub scheduled_jobs_count: i64,
    pub docs_url: String,
}

/// One audit log entry.
#[derive(ToSchema)]
pub struct AuditEntry {
    pub id: String,
    pub at: String,
    pub actor_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
    pub request_id: Option<String>,
    pub source: Option<String>,
}

/// `GET /audit` answer.
#[derive(ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub count: i64,
    pub page_size: i64,
    pub next_cursor: Option<String>,
}

/// The GitHub owner allowlist.
#[derive(ToSchema)]
pub struct GithubOwners {
    pub owners: Vec<String>,
    pub default_owner: String,
    pub updated_at: Option<String>,
    pub updated_by: Option<String>,
}

/// `PUT /settings/github-owners` body.
#[derive(ToSchema)]
pub struct GithubOwnersUpdate {
    pub owners: Vec<String>,
}

/// `GET /` answer.
#[derive(ToSchema)]
pub struct Welcome {
    pub message: String,
    pub docs: String,
    pub redoc: String,
    pub health: String,
}
