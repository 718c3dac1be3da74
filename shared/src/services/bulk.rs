//! Bulk CSV upload (api-contract §4, client-needs §5.3): parse, validate every row, then
//! create all accepted rows (create-only) and schedule them. Nothing is written on a dry run
//! or when no row is accepted. A CSV row is a door to [`JobDraft`] like a JSON body: the same
//! field rules and size bounds, then [`JobDraft::into_job`].

use super::{taxonomy, Caller};
use crate::{
    domain::{
        cron::CronExpr,
        draft::{self, FieldError, JobDraft, JobOrigin},
        now, parse_dispatch_url,
        target::looks_like_shorthand,
        today_in, Job, RunPolicy,
    },
    state::AppState,
    store::{
        outbox::{OutboxTask, Task},
        GithubOwners, StoreError, Taxon, TaxonKind,
    },
};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// Why an upload was refused as a whole (row errors are part of the answer instead).
#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    /// 400 with the contract's `error` and `message` (no file, bad CSV, too many rows…).
    #[error("{}", .0.message)]
    Invalid(FieldError),
    /// The table could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<FieldError> for BulkError {
    fn from(e: FieldError) -> Self {
        BulkError::Invalid(e)
    }
}

type Result<T> = std::result::Result<T, BulkError>;

/// One row's refusal: `{"row","job_name"?,"error","message","pic_team"?,"pic_team_slug"?}`
/// (`row`: the file's line, the header being 1; 0 for a name taken while writing).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RowError {
    pub row: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_name: Option<Option<String>>,
    pub error: String,
    pub message: String,
    /// Team refusals only: the raw value and the slug it resolved to.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub team: Option<Box<TeamRefusal>>,
}

/// The team columns of a team refusal: `{"pic_team","pic_team_slug"}` (either null).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TeamRefusal {
    pub pic_team: Option<String>,
    pub pic_team_slug: Option<String>,
}

/// What the sheet looked like: `{"original_column_count","original_row_count",
/// "removed_column_count","removed_empty_row_count"}`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SheetStats {
    pub original_column_count: usize,
    pub original_row_count: usize,
    pub removed_column_count: usize,
    pub removed_empty_row_count: usize,
}

/// A row a dry run would create: `{"name","is_active","cron_expression","end_date","pic_team"}`.
#[derive(Clone, Debug, Serialize)]
pub struct WouldCreate {
    pub name: String,
    pub is_active: bool,
    pub cron_expression: String,
    /// As written in the file.
    pub end_date: String,
    pub pic_team: Option<String>,
}

/// A created job: `{"id","name","is_active"}`.
#[derive(Clone, Debug, Serialize)]
pub struct Created {
    pub id: String,
    pub name: String,
    pub is_active: bool,
}

/// The answer (§4.5); `error` is set (and the status is 400) when nothing was accepted and
/// something failed.
#[derive(Debug, Serialize)]
pub struct BulkAnswer<T> {
    pub message: &'static str,
    pub dry_run: bool,
    pub stats: SheetStats,
    pub created_count: usize,
    pub error_count: usize,
    pub errors: Vec<RowError>,
    pub jobs: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
}

/// A dry run's answer or a real upload's.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum BulkOutcome {
    DryRun(BulkAnswer<WouldCreate>),
    Written(BulkAnswer<Created>),
}

impl BulkOutcome {
    /// Nothing accepted and something failed (the adapter answers 400).
    pub fn failed(&self) -> bool {
        match self {
            BulkOutcome::DryRun(a) => a.error.is_some(),
            BulkOutcome::Written(a) => a.error.is_some(),
        }
    }
}

/// The parsed multipart request.
#[derive(Debug, Default)]
pub struct Upload {
    /// `None` when no `file` part was sent.
    pub file: Option<Vec<u8>>,
    pub filename: Option<String>,
    pub default_github_owner: Option<String>,
    pub dry_run: bool,
}

/// Header aliases per field, in priority order (api-contract §4.2).
const ALIASES: [(&str, &[&str]); 20] = [
    ("name", &["job name", "name"]),
    (
        "cron",
        &[
            "cron schedule (jst)",
            "cron expression",
            "cron",
            "cron_expression",
        ],
    ),
    ("status", &["status", "is_active", "active"]),
    ("target_url", &["target url", "target_url", "url"]),
    ("github_owner", &["github owner", "owner", "github_owner"]),
    ("github_repo", &["repo", "github repo", "github_repo"]),
    (
        "workflow",
        &[
            "workflow name",
            "github workflow name",
            "github_workflow_name",
        ],
    ),
    (
        "dispatch_url",
        &[
            "dispatch url",
            "dispatch_url",
            "github dispatch url",
            "github_dispatch_url",
        ],
    ),
    ("category", &["category", "job category", "job_category"]),
    ("end_date", &["end date", "end_date"]),
    (
        "pic_team",
        &["pic team", "pic_team", "pic team slug", "pic_team_slug"],
    ),
    ("branch", &["branch", "ref"]),
    (
        "request_body",
        &["request body", "request_body", "metadata"],
    ),
    // The run policy (issue 23): JSON key or words; `retry_policy` holds JSON text.
    ("retry_policy", &["retry_policy", "retry policy"]),
    (
        "timeout_seconds",
        &["timeout_seconds", "timeout seconds", "timeout"],
    ),
    (
        "overlap_policy",
        &["overlap_policy", "overlap policy", "overlap"],
    ),
    (
        "catchup_window_seconds",
        &[
            "catchup_window_seconds",
            "catch-up window seconds",
            "catchup window seconds",
        ],
    ),
    ("timezone", &["timezone", "time zone", "time_zone"]),
    (
        "flexible_window_minutes",
        &["flexible_window_minutes", "flexible window minutes"],
    ),
    (
        "pause_after_failures",
        &["pause_after_failures", "pause after failures"],
    ),
];

/// The run-policy cells of a row (absent or blank cells keep the defaults).
fn policy_cells(row: &HashMap<String, String>) -> crate::domain::policy::PolicyPatch {
    let cell = |k: &str| field(row, k).map(|v| Value::String(v.to_string()));
    crate::domain::policy::PolicyPatch {
        retry_policy: cell("retry_policy"),
        timeout_seconds: cell("timeout_seconds"),
        overlap_policy: cell("overlap_policy"),
        catchup_window_seconds: cell("catchup_window_seconds"),
        timezone: cell("timezone"),
        flexible_window_minutes: cell("flexible_window_minutes"),
        pause_after_failures: cell("pause_after_failures"),
    }
}

/// Most job rows one upload accepts; a larger file is refused whole (400 `Too many rows`)
/// before anything is read or written. Why 1,000: the answer waits for parsing, validation
/// and 31 job transactions (4 in flight), well inside API Gateway's 30 s; the schedule calls
/// follow in outbox tasks (`enqueue_schedules`), 1,000 of them taking 20 s at the lowest
/// `CreateSchedule` rate EventBridge Scheduler has published as a default (50/s). Larger
/// sets: split the file.
pub const MAX_ROWS: usize = 1_000;

fn invalid_csv(message: &str) -> BulkError {
    BulkError::Invalid(FieldError::new("Invalid CSV", message))
}

/// Normalises a header cell: trimmed, lower-cased, and the literal `\r\n` text the client's
/// template writer leaves on the last header removed (client-needs §5.3).
fn header_key(cell: &str) -> String {
    let mut h = cell.trim().to_string();
    while let Some(stripped) = h.strip_suffix("\\r\\n").or_else(|| h.strip_suffix("\\n")) {
        h = stripped.trim_end().to_string();
    }
    h.to_lowercase()
}

/// The table of kept rows: one map per row from lower-cased header to trimmed value.
struct Sheet {
    rows: Vec<HashMap<String, String>>,
    stats: SheetStats,
}

fn parse_sheet(bytes: &[u8]) -> Result<Sheet> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = String::from_utf8_lossy(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = Vec::new();
    for r in reader.records() {
        records.push(r.map_err(|e| invalid_csv(&format!("CSV could not be parsed: {e}")))?);
    }
    let Some(header) = records.first() else {
        return Err(invalid_csv("CSV is empty."));
    };
    let keep: Vec<(usize, String)> = header
        .iter()
        .enumerate()
        .map(|(i, c)| (i, header_key(c)))
        .filter(|(_, h)| !h.is_empty())
        .collect();
    if keep.is_empty() {
        return Err(invalid_csv("CSV header row has no usable column names."));
    }
    // Two columns with one name: which one a row means is a guess, so none is made.
    let mut seen = std::collections::HashSet::new();
    if let Some((_, dup)) = keep.iter().find(|(_, h)| !seen.insert(h.as_str())) {
        return Err(invalid_csv(&format!(
            "CSV header \"{dup}\" appears more than once; keep one column per name."
        )));
    }
    let data = &records[1..];
    let mut rows = Vec::new();
    let mut removed = 0;
    let mut formula_rows: Vec<(usize, String)> = Vec::new();
    for rec in data {
        let mut row = HashMap::new();
        for (i, h) in &keep {
            let raw = rec.get(*i).unwrap_or("");
            if starts_formula(raw) {
                formula_rows.push((rows.len() + removed, h.clone()));
            }
            row.insert(h.clone(), raw.trim().to_string());
        }
        if row.values().all(|v| v.is_empty()) {
            removed += 1;
        } else {
            rows.push(row);
        }
    }
    let stats = SheetStats {
        original_column_count: header.len(),
        original_row_count: data.len(),
        removed_column_count: header.len() - keep.len(),
        removed_empty_row_count: removed,
    };
    if let Some((i, column)) = formula_rows.first() {
        // Rows numbered as the row errors number them: the file's line, the header being 1.
        return Err(invalid_csv(&format!(
            "Row {}, column \"{column}\": a cell may not start with =, +, -, @, a tab or a carriage return (spreadsheet formula injection). {} cell(s) in all.",
            i + 2,
            formula_rows.len()
        )));
    }
    Ok(Sheet { rows, stats })
}

/// A cell a spreadsheet would run as a formula (OWASP "CSV injection"): its first character,
/// or the first after leading spaces, is `=`, `+`, `-` or `@`; or it starts with a tab or a
/// carriage return.
fn starts_formula(cell: &str) -> bool {
    cell.starts_with(['\t', '\r'])
        || cell
            .trim_start_matches(' ')
            .starts_with(['=', '+', '-', '@'])
}

fn field<'a>(row: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    let aliases = ALIASES
        .iter()
        .find(|(f, _)| *f == name)
        .map(|(_, a)| *a)
        .unwrap_or(&[]);
    aliases
        .iter()
        .filter_map(|a| row.get(*a))
        .map(String::as_str)
        .find(|v| !v.is_empty())
}

fn row_error(row: usize, name: Option<&str>, error: &str, message: &str) -> RowError {
    RowError {
        row,
        job_name: Some(name.map(str::to_string)),
        error: error.to_string(),
        message: message.to_string(),
        team: None,
    }
}

/// What every row is checked against: read once per upload.
struct RowContext<'a> {
    categories: Vec<Taxon>,
    teams: Vec<Taxon>,
    /// Names already taken in the table (by identity).
    taken: HashSet<String>,
    allowlist: Option<GithubOwners>,
    /// The platform's default owner (`DEFAULT_GITHUB_OWNER`): always allowed.
    platform_owner: &'a str,
    /// The owner of rows that name none (the form's `default_github_owner`, else the platform's).
    default_owner: String,
    today: chrono::NaiveDate,
    /// The zone of rows that name none (the scheduler zone).
    zone: chrono_tz::Tz,
    created_at: chrono::DateTime<chrono::Utc>,
    created_by: &'a str,
}

/// `(owner, repo, target_url)` of a row once checked.
type OwnerRepoUrl = (Option<String>, Option<String>, Option<String>);

/// A row's GitHub or webhook target once parsed: `(owner, repo, workflow, target_url)`.
type RowTarget = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// POST /jobs/bulk-upload for a user-or-admin caller (api-contract §4.5).
pub async fn upload(state: &AppState, user: Caller<'_>, req: Upload) -> Result<BulkOutcome> {
    let started = std::time::Instant::now();
    let Some(bytes) = req.file else {
        return Err(BulkError::Invalid(FieldError::new(
            "Missing file",
            "Upload a CSV file using form field \"file\".",
        )));
    };
    if req
        .filename
        .as_deref()
        .map(str::trim)
        .unwrap_or("")
        .is_empty()
    {
        return Err(BulkError::Invalid(FieldError::new(
            "Missing file",
            "No file selected.",
        )));
    }
    let default_owner =
        draft::github_part("default_github_owner", req.default_github_owner.as_deref())?
            .unwrap_or_else(|| state.config.default_github_owner.clone());
    let sheet = parse_sheet(&bytes)?;
    if sheet.rows.len() > MAX_ROWS {
        return Err(BulkError::Invalid(FieldError::new(
            "Too many rows",
            format!(
                "The file has {} job rows; one upload takes at most {MAX_ROWS}. Split the file and upload each part.",
                sheet.rows.len()
            ),
        )));
    }
    let ctx = row_context(state, user, &sheet, default_owner).await?;
    let (accepted, mut errors) = check_rows(&ctx, &sheet);
    if req.dry_run {
        return Ok(dry_run_answer(&sheet, &accepted, errors));
    }
    let jobs: Vec<Job> = accepted.into_iter().map(|(j, _)| j).collect();
    let validated = started.elapsed();
    let sync_token = uuid::Uuid::new_v4().to_string();
    let written = state
        .store
        .create_jobs(
            &jobs,
            &sync_token,
            |j| j.should_be_scheduled(ctx.today),
            |j| user.audit("bulk_upload", "job", &j.id, None, Some(j.to_json())),
        )
        .await?;
    let mut created = Vec::new();
    for (job, ok) in jobs.into_iter().zip(written) {
        if ok {
            created.push(job);
        } else {
            errors.push(row_error(
                0,
                Some(&job.name),
                "Duplicate job name",
                &format!("A job with the name \"{}\" already exists.", job.name),
            ));
        }
    }
    let wrote = started.elapsed();
    enqueue_schedules(state, &created, &sync_token, ctx.today).await;
    tracing::info!(
        rows = sheet.rows.len(),
        created = created.len(),
        validate_ms = validated.as_millis() as u64,
        write_ms = (wrote - validated).as_millis() as u64,
        enqueue_ms = (started.elapsed() - wrote).as_millis() as u64,
        "bulk upload written; schedules follow through the outbox"
    );
    Ok(created_answer(&sheet, &created, errors))
}

/// Reads what the rows are checked against, together: categories, teams, the names already
/// taken, the GitHub allowlist.
async fn row_context<'a>(
    state: &'a AppState,
    user: Caller<'a>,
    sheet: &Sheet,
    default_owner: String,
) -> Result<RowContext<'a>> {
    let names: Vec<String> = sheet
        .rows
        .iter()
        .filter_map(|r| field(r, "name"))
        .filter(|n| draft::job_name(Some(n)).is_ok())
        .map(str::to_string)
        .collect();
    let (categories, teams, taken, allowlist) = tokio::try_join!(
        state.store.list_taxa(TaxonKind::Category),
        state.store.list_taxa(TaxonKind::Team),
        state.store.taken_job_names(&names),
        state.store.get_github_owners(),
    )?;
    Ok(RowContext {
        categories,
        teams,
        taken,
        allowlist,
        platform_owner: &state.config.default_github_owner,
        default_owner,
        today: today_in(state.config.timezone),
        zone: state.config.timezone,
        created_at: now(),
        created_by: &user.user.id,
    })
}

/// Every row checked in file order (api-contract §4.4): the accepted jobs with their raw end
/// date, and the row errors.
fn check_rows(ctx: &RowContext, sheet: &Sheet) -> (Vec<(Job, String)>, Vec<RowError>) {
    let mut errors: Vec<RowError> = Vec::new();
    let mut accepted: Vec<(Job, String)> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for (index, row) in sheet.rows.iter().enumerate() {
        match check_row(ctx, index + 2, row, &mut seen) {
            Ok(job) => accepted.push(job),
            Err(e) => errors.push(e),
        }
    }
    (accepted, errors)
}

/// One row (`n`: its line in the file) → the job and its raw end date, or the row's error.
fn check_row(
    ctx: &RowContext,
    n: usize,
    row: &HashMap<String, String>,
    seen: &mut HashSet<String>,
) -> std::result::Result<(Job, String), RowError> {
    let name = field(row, "name");
    let (owner, repo, workflow, target_url) = row_target(n, name, row)?;
    let category = taxonomy::validate(TaxonKind::Category, &ctx.categories, field(row, "category"))
        .map_err(|m| row_error(n, name, "Invalid category", &m))?;
    let end_raw = field(row, "end_date");
    let end_date = draft::end_date(end_raw, ctx.today).map_err(|e| {
        let e = e.field_error((
            "Missing required fields",
            "end_date (YYYY-MM-DD) is required.",
        ));
        row_error(n, name, e.error, &e.message)
    })?;
    let team_raw = field(row, "pic_team");
    let team = taxonomy::validate(TaxonKind::Team, &ctx.teams, team_raw).map_err(|m| RowError {
        team: Some(Box::new(TeamRefusal {
            pic_team: team_raw.map(str::to_string),
            pic_team_slug: team_raw
                .map(|r| taxonomy::resolve(&ctx.teams, r))
                .filter(|s| !s.is_empty()),
        })),
        ..row_error(n, name, "Invalid PIC team", &m)
    })?;
    let (Some(name), Some(cron_raw)) = (name, field(row, "cron")) else {
        return Err(RowError {
            job_name: None,
            ..row_error(
                n,
                None,
                "Missing required fields",
                "name and cron_expression are required.",
            )
        });
    };
    check_new_name(ctx, n, name, seen)?;
    let cron = CronExpr::parse(cron_raw)
        .map_err(|e| row_error(n, Some(name), "Invalid cron expression", &e.0))?;
    let metadata = row_metadata(n, name, row)?;
    let (owner, repo, target_url) = row_github_or_webhook(n, name, owner, repo, target_url)?;
    if target_url.is_none() && (repo.is_none() || workflow.is_none()) {
        return Err(row_error(
            n,
            Some(name),
            "Missing target configuration",
            "Provide target_url or GitHub config (github_owner, github_repo, github_workflow_name).",
        ));
    }
    let is_active = !matches!(
        field(row, "status").map(|s| s.to_lowercase()).as_deref(),
        Some("disable" | "disabled" | "inactive" | "false" | "0" | "no" | "n" | "off")
    );
    let github = target_url.is_none();
    let owner = github.then(|| owner.unwrap_or_else(|| ctx.default_owner.clone()));
    if let Some(o) = owner
        .as_deref()
        .filter(|o| !GithubOwners::allows(ctx.allowlist.as_ref(), ctx.platform_owner, o))
    {
        return Err(row_error(
            n,
            Some(name),
            "GitHub owner not allowed",
            &format!("GitHub owner \"{o}\" is not on this platform's allowlist; an admin can add it (PUT /api/v2/settings/github-owners)."),
        ));
    }
    let mut policy = RunPolicy::in_zone(ctx.zone);
    policy
        .apply(&policy_cells(row), ctx.zone)
        .map_err(|e| row_error(n, Some(name), e.error, &e.message))?;
    let draft = JobDraft {
        name: name.to_string(),
        cron,
        target_url,
        github_owner: owner,
        github_repo: if github { repo } else { None },
        github_workflow_name: if github { workflow } else { None },
        metadata,
        category,
        end_date: Some(end_date),
        pic_team: Some(team),
        enable_email_notifications: false,
        notification_emails: Vec::new(),
        notify_on_success: false,
        policy,
    }
    .checked()
    .map_err(|e| row_error(n, Some(name), e.error, &e.message))?;
    let job = draft.into_job(JobOrigin {
        is_active,
        ..JobOrigin::new(Some(ctx.created_by.to_string()), ctx.created_at)
    });
    Ok((job, end_raw.unwrap_or_default().to_string()))
}

/// The row's target columns: GitHub owner / repo / workflow (bounded), a `dispatch_url`, or a
/// `target_url` — an `owner/repo/workflow` shorthand there is taken as GitHub.
fn row_target(
    n: usize,
    name: Option<&str>,
    row: &HashMap<String, String>,
) -> std::result::Result<RowTarget, RowError> {
    let mut target_url = field(row, "target_url").map(str::to_string);
    let parts = (|| {
        Ok::<_, draft::FieldError>((
            draft::github_part("github_owner", field(row, "github_owner"))?,
            // `owner/repo` is split later (§4.4 step 10), then checked as segments.
            draft::bounded_url("github_repo", field(row, "github_repo"))?,
            draft::github_part("github_workflow_name", field(row, "workflow"))?,
            draft::bounded_url("dispatch_url", field(row, "dispatch_url"))?,
        ))
    })();
    let (mut owner, mut repo, mut workflow, dispatch) =
        parts.map_err(|e| row_error(n, name, e.error, &e.message))?;
    if let Some(url) = dispatch.as_deref() {
        let d =
            parse_dispatch_url(url).map_err(|m| row_error(n, name, "Invalid dispatch_url", &m))?;
        (owner, repo, workflow) = (Some(d.owner), Some(d.repo), Some(d.workflow));
        target_url = None;
    } else if let Some(t) = target_url.clone().filter(|t| looks_like_shorthand(t)) {
        if let Ok(d) = parse_dispatch_url(&t) {
            (owner, repo, workflow) = (Some(d.owner), Some(d.repo), Some(d.workflow));
            target_url = None;
        }
    }
    Ok((owner, repo, workflow, target_url))
}

/// A row's name must be new: not earlier in the file (by identity), not in the table.
fn check_new_name(
    ctx: &RowContext,
    n: usize,
    name: &str,
    seen: &mut HashSet<String>,
) -> std::result::Result<(), RowError> {
    if let Err(e) = draft::job_name(Some(name)) {
        return Err(row_error(n, Some(name), e.error, &e.message));
    }
    if !seen.insert(crate::domain::name::name_key(name)) {
        return Err(row_error(
            n,
            Some(name),
            "Duplicate job name in CSV",
            "An earlier row of this file has the same job name.",
        ));
    }
    if ctx.taken.contains(name) {
        return Err(row_error(
            n,
            Some(name),
            "Duplicate job name",
            &format!("A job with the name \"{name}\" already exists."),
        ));
    }
    Ok(())
}

/// The row's Request Body as metadata, with `branchDetails` from the branch column.
fn row_metadata(
    n: usize,
    name: &str,
    row: &HashMap<String, String>,
) -> std::result::Result<Map<String, Value>, RowError> {
    let mut metadata = match field(row, "request_body").map(draft::metadata_text) {
        None => Map::new(),
        Some(Ok(m)) => m,
        Some(Err(e)) => return Err(row_error(n, Some(name), e.error, &e.message)),
    };
    if let Some(branch) = field(row, "branch") {
        metadata
            .entry("branchDetails")
            .or_insert_with(|| Value::from(branch));
        draft::metadata_size(&metadata, "Invalid Request Body")
            .map_err(|e| row_error(n, Some(name), e.error, &e.message))?;
    }
    Ok(metadata)
}

/// An `owner/repo` repo column split (§4.4 step 10) and both checked as GitHub segments; a
/// `target_url` checked as a webhook URL. `(owner, repo, target_url)`.
fn row_github_or_webhook(
    n: usize,
    name: &str,
    mut owner: Option<String>,
    mut repo: Option<String>,
    target_url: Option<String>,
) -> std::result::Result<OwnerRepoUrl, RowError> {
    if let Some(r) = repo.clone() {
        let parts: Vec<&str> = r.split('/').filter(|p| !p.trim().is_empty()).collect();
        if r.contains('/') && parts.len() == 2 {
            owner = Some(parts[0].trim().to_string());
            repo = Some(parts[1].trim().to_string());
        }
    }
    let (owner, repo) = draft::github_part("github_owner", owner.as_deref())
        .and_then(|o| Ok((o, draft::github_part("github_repo", repo.as_deref())?)))
        .map_err(|e| row_error(n, Some(name), e.error, &e.message))?;
    let target_url = match &target_url {
        None => None,
        Some(t) => {
            match draft::target_url(t, "target_url must include scheme (http:// or https://).") {
                Ok(draft::TargetField::Webhook(u)) => Some(u.to_string()),
                // A shorthand that parsed was taken earlier; this one did not.
                Ok(draft::TargetField::GitHub(_)) => {
                    return Err(row_error(
                        n,
                        Some(name),
                        "Invalid target_url",
                        "target_url must include scheme (http:// or https://).",
                    ))
                }
                Err(e) => return Err(row_error(n, Some(name), e.error, &e.message)),
            }
        }
    };
    Ok((owner, repo, target_url))
}

/// The dry-run answer (§4.5): what would be created, and the errors.
fn dry_run_answer(sheet: &Sheet, accepted: &[(Job, String)], errors: Vec<RowError>) -> BulkOutcome {
    let total_failed = accepted.is_empty() && !errors.is_empty();
    let jobs: Vec<WouldCreate> = accepted
        .iter()
        .map(|(j, end)| WouldCreate {
            name: j.name.clone(),
            is_active: j.is_active,
            cron_expression: j.cron.as_str().to_string(),
            end_date: end.clone(),
            pic_team: j.pic_team.clone(),
        })
        .collect();
    BulkOutcome::DryRun(BulkAnswer {
        message: if total_failed {
            "CSV validation failed"
        } else {
            "CSV validated successfully"
        },
        dry_run: true,
        stats: sheet.stats.clone(),
        created_count: jobs.len(),
        error_count: errors.len(),
        errors,
        jobs,
        error: total_failed.then_some("CSV validation failed"),
    })
}

/// The answer of a real upload (§4.5): the jobs created, and the errors.
fn created_answer(sheet: &Sheet, created: &[Job], errors: Vec<RowError>) -> BulkOutcome {
    let total_failed = created.is_empty() && !errors.is_empty();
    let jobs: Vec<Created> = created
        .iter()
        .map(|j| Created {
            id: j.id.clone(),
            name: j.name.clone(),
            is_active: j.is_active,
        })
        .collect();
    BulkOutcome::Written(BulkAnswer {
        message: if total_failed {
            "No jobs were created. Fix CSV errors and try again."
        } else {
            "Bulk upload processed"
        },
        dry_run: false,
        stats: sheet.stats.clone(),
        created_count: jobs.len(),
        error_count: errors.len(),
        errors,
        jobs,
        error: total_failed.then_some("Bulk upload failed"),
    })
}

/// Jobs per schedule task: one task is one outbox item (ids of 36 bytes: ~4 KB) and one
/// delivery of up to 100 calls (seconds, well inside the maintenance function's timeout).
pub const JOBS_PER_SCHEDULE_TASK: usize = 100;

/// Hands the schedules of freshly written jobs to the outbox: one [`Task::SyncSchedules`] per
/// [`JOBS_PER_SCHEDULE_TASK`] jobs that should run (none for inactive or expired rows), which
/// the table's stream delivers at once (locally: the sweep, every 2 s). The jobs carry their
/// `SYNC_PENDING` mark until their schedule exists, so a lost task is repaired by the sweep.
async fn enqueue_schedules(state: &AppState, jobs: &[Job], token: &str, today: chrono::NaiveDate) {
    let ids: Vec<String> = jobs
        .iter()
        .filter(|j| j.should_be_scheduled(today))
        .map(|j| j.id.clone())
        .collect();
    let tasks: Vec<OutboxTask> = ids
        .chunks(JOBS_PER_SCHEDULE_TASK)
        .enumerate()
        .map(|(i, chunk)| {
            OutboxTask::new(
                format!("schedule-{token}-{i}"),
                Task::SyncSchedules {
                    job_ids: chunk.to_vec(),
                    sync_token: token.to_string(),
                },
            )
        })
        .collect();
    if let Err(e) = state.store.enqueue(&tasks).await {
        tracing::error!(error = %e, "bulk: schedule tasks not enqueued; the sweep repairs the jobs left SYNC_PENDING");
    }
}

#[cfg(test)]
#[path = "bulk_test.rs"]
mod tests;
