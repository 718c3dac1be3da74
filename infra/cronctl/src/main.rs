//! `cronctl` — see `cronctl --help`.

use clap::{Args, Parser, Subcommand};
use cronctl::{bundle::Bundle, export, import, legacy};
use shared::{
    auth::hash_password,
    domain::{now, EmailAddress, Role},
    state::AppState,
    store::User,
};
use std::{io::IsTerminal, path::PathBuf, process::ExitCode};

/// Operate a cron-job platform deployment from a terminal.
///
/// Talks to the deployment's DynamoDB table and EventBridge Scheduler group with the standard
/// AWS configuration: credentials and region from the environment or `AWS_PROFILE`, and
/// `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_DYNAMODB` for emulators. Against `make dev`:
///
///   AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=ap-northeast-1 \
///   AWS_ENDPOINT_URL=http://127.0.0.1:5050 AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000 \
///   cronctl status
///
/// Against a deployed stack, give its table, schedule group, executor and scheduler role
/// (stack outputs / resources) with the flags below or their environment variables.
///
/// IAM: the caller needs the policy in infra/cronctl/iam-policy.json (DynamoDB item actions
/// on the table and its indexes, the schedule calls on the group, iam:PassRole on the
/// scheduler role); `make check-iam` holds every call the tests see cronctl make against it.
#[derive(Parser)]
#[command(name = "cronctl", version, about, long_about, verbatim_doc_comment)]
struct Cli {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Target {
    /// DynamoDB table of the deployment.
    #[arg(long, env = "TABLE_NAME", global = true)]
    table: Option<String>,
    /// EventBridge Scheduler group holding the job schedules.
    #[arg(long, env = "SCHEDULE_GROUP_NAME", global = true)]
    schedule_group: Option<String>,
    /// ARN of the executor function (schedule target), needed to create schedules.
    #[arg(long, env = "EXECUTOR_FUNCTION_ARN", global = true)]
    executor_arn: Option<String>,
    /// ARN of the role EventBridge Scheduler assumes to invoke the executor.
    #[arg(long, env = "SCHEDULER_ROLE_ARN", global = true)]
    scheduler_role_arn: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Users with the admin role.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Bring a deployment in: a legacy SQLite database or a `cronctl export` file.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Write the whole deployment as JSON lines (users without their password hashes).
    Export {
        /// Also write every execution and notification.
        #[arg(long)]
        history: bool,
        /// File to write (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Recount every counter (job and all-jobs statistics, totals, unread counts) from the
    /// items it counts and list what drifted; exits 1 when something did. Reads the whole
    /// table: run it when the deployment is quiet.
    Verify {
        /// Correct every drifting counter (`ADD` the difference), then say what was fixed.
        #[arg(long)]
        repair: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make every schedule agree with the table now (as `POST /scheduler/resync`).
    Resync,
    /// Replay a job's fire times in `[from, to)` (as `POST /jobs/{id}/backfill`): at most
    /// 100, queued as one one-time schedule, run by the executor oldest first, each fire time
    /// at most once however often asked.
    Backfill {
        job_id: String,
        /// ISO 8601 instant with its offset, inclusive.
        #[arg(long)]
        from: String,
        /// ISO 8601 instant with its offset, exclusive (not in the future).
        #[arg(long)]
        to: String,
    },
    /// Schedules, jobs awaiting repair and the last reconciliation (as `GET /scheduler/status`).
    Status,
    /// The audit log, newest first (as `GET /api/v2/audit`), one page of 50; `--cursor`
    /// continues with the `next_cursor` it printed.
    Audit {
        #[arg(long)]
        entity_type: Option<String>,
        #[arg(long)]
        entity_id: Option<String>,
        #[arg(long)]
        actor_id: Option<String>,
        /// RFC 3339 instant, inclusive.
        #[arg(long)]
        from: Option<String>,
        /// RFC 3339 instant, exclusive.
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// The history retention: `show` what is in effect (and whether `RETENTION_DAYS` is
    /// refused), or `set <days|off>` on a live table: re-stamps every execution and
    /// notification with the new expiry, then records the rule the functions apply.
    Retention {
        #[arg(value_parser = ["show", "set"])]
        action: String,
        /// For `set`: whole UTC days (1-36500), or `off` to keep everything.
        days: Option<String>,
    },
    /// Run one task of the maintenance function now.
    Maintenance {
        /// `sweep` (outbox, abandoned runs, pending schedule calls), `reconcile`, or `weekly`
        /// (end-date maintenance: auto-pause and "ending soon" reminders, once per ISO week).
        #[arg(value_parser = ["sweep", "reconcile", "weekly"])]
        task: String,
        /// For `weekly`: the fire time it stands for (RFC 3339; default now). Its ISO week is
        /// the deduplication key.
        #[arg(long)]
        scheduled_time: Option<String>,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin, or reset an existing user (by username) to an active admin with a new
    /// password. The password is read from a prompt, or from standard input with
    /// `--password-stdin` — never from the command line.
    Create {
        #[arg(long)]
        username: String,
        /// Required for a new user; for an existing one, replaces their e-mail.
        #[arg(long)]
        email: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import a legacy `cron_jobs.db`: users (they keep their passwords), categories, teams,
    /// jobs, executions, notifications, Slack settings, preferences; then schedules for the
    /// active, unexpired jobs. Safe to re-run: only what is missing is written.
    Sqlite {
        path: PathBuf,
        /// Keep cron text as written instead of converting APScheduler's Monday = 0
        /// day-of-week to standard cron (for jobs written for standard cron that ran wrongly).
        #[arg(long)]
        keep_cron_text: bool,
        #[command(flatten)]
        flags: ImportFlags,
    },
    /// Import a `cronctl export` file (into an empty stack, or to add what is missing).
    Jsonl {
        path: PathBuf,
        #[command(flatten)]
        flags: ImportFlags,
    },
}

/// What both imports take.
#[derive(Args)]
struct ImportFlags {
    /// Report what would be done; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Carry jobs the API would refuse (a name over 255 characters, a bad e-mail, an end
    /// date that is not a date, …) as they are; they are listed as refused all the same.
    #[arg(long)]
    keep_invalid: bool,
    /// Carry executions and notifications older than the target's retention window
    /// (`RETENTION_DAYS`): they are hidden at once and deleted by TTL.
    #[arg(long)]
    keep_expired: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Applies `bundle` with `flags` and prints the report.
async fn run_import(
    state: &AppState,
    bundle: Bundle,
    flags: ImportFlags,
    progress: bool,
) -> Result<(), String> {
    let r = import::apply(
        state,
        bundle,
        import::Options {
            dry_run: flags.dry_run,
            progress,
            keep_invalid: flags.keep_invalid,
            keep_expired: flags.keep_expired,
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    print_report(&r, flags.json);
    Ok(())
}

fn read_password(from_stdin: bool) -> Result<String, String> {
    let p = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        let a = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
        let b = rpassword::prompt_password("Repeat:   ").map_err(|e| e.to_string())?;
        if a != b {
            return Err("the passwords differ".into());
        }
        a
    };
    if p.chars().count() < 8 {
        return Err("the password must have at least 8 characters".into());
    }
    Ok(p)
}

async fn admin_create(
    state: &AppState,
    username: &str,
    email: Option<&str>,
    password_stdin: bool,
) -> Result<String, String> {
    let email = email
        .map(|e| EmailAddress::parse(e).ok_or_else(|| format!("not an e-mail address: {e}")))
        .transpose()?;
    let existing = state
        .store
        .find_user_by_login(username)
        .await
        .map_err(|e| e.to_string())?
        .filter(|u| u.username == username);
    let password = read_password(password_stdin)?;
    let t = now();
    match existing {
        Some(prev) => {
            let mut u = prev.clone();
            u.password_hash = hash_password(&password);
            u.role = Role::Admin;
            u.is_active = true;
            // A reset ends every session the account had.
            u.end_sessions(None);
            if let Some(e) = &email {
                u.email = e.as_str().to_string();
            }
            u.updated_at = t;
            state
                .store
                .update_user(&prev, &u)
                .await
                .map_err(|e| format!("could not reset {username}: {e}"))?;
            Ok(format!(
                "reset {username} ({}) to an active admin with a new password",
                u.id
            ))
        }
        None => {
            let email = email.ok_or("--email is required to create a user")?;
            let u = User::new(
                (username.to_string(), email.as_str().to_string()),
                hash_password(&password),
                Role::Admin,
                t,
            );
            let audit = shared::store::audit::AuditEntry::new(
                None,
                "cronctl",
                "create",
                "user",
                &u.id,
                None,
                Some(u.to_json()),
            );
            state
                .store
                .create_user(&u, Some(&audit))
                .await
                .map_err(|e| format!("could not create {username} (is the e-mail taken?): {e}"))?;
            Ok(format!("created admin {username} ({})", u.id))
        }
    }
}

fn print_report(r: &import::Report, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(r).unwrap_or_default());
    } else {
        print!("{}", r.to_text());
    }
}

fn verify_text(r: &shared::store::verify::VerifyReport, repair: bool) -> String {
    let mut out = format!(
        "counted {} executions of {} jobs and {} notifications of {} users; compared {} counter items\n",
        r.executions, r.jobs, r.notifications, r.users, r.counter_items
    );
    for n in &r.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    if r.drift.is_empty() {
        out.push_str("no drift: every counter agrees with its items\n");
        return out;
    }
    out.push_str(&format!("drift ({}):\n", r.drift.len()));
    for d in &r.drift {
        out.push_str(&format!(
            "  {} / {} {}: counted {}, stored {}\n",
            d.pk, d.sk, d.field, d.counted, d.stored
        ));
    }
    if repair {
        out.push_str(&format!("repaired {} counter item(s)\n", r.repaired_items));
    }
    out
}

/// `cronctl verify`: prints the report; an error (exit 1) when something drifted and was not
/// repaired.
async fn verify(state: &AppState, repair: bool, json: bool) -> Result<(), String> {
    let r = state
        .store
        .verify_counters(repair)
        .await
        .map_err(|e| e.to_string())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
    } else {
        print!("{}", verify_text(&r, repair));
    }
    if !r.drift.is_empty() && !repair {
        return Err(format!(
            "{} counter attribute(s) disagree with the items; `cronctl verify --repair` fixes them",
            r.drift.len()
        ));
    }
    Ok(())
}

/// An RFC 3339 argument as an instant.
fn instant(v: Option<String>) -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
    v.map(|t| {
        chrono::DateTime::parse_from_rfc3339(&t)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|e| format!("not an RFC 3339 instant: {t} ({e})"))
    })
    .transpose()
}

/// `cronctl audit`: one page as JSON text.
async fn audit_page(
    state: &AppState,
    filter: &shared::store::audit::AuditFilter,
    cursor: Option<&str>,
) -> Result<String, String> {
    let (entries, next) = state
        .store
        .audit_page(filter, cursor)
        .await
        .map_err(|e| e.to_string())?;
    let out = serde_json::json!({
        "entries": entries.iter().map(|e| e.to_json()).collect::<Vec<_>>(),
        "next_cursor": next,
    });
    Ok(serde_json::to_string_pretty(&out).unwrap_or_default())
}

/// `cronctl retention show|set <days|off>`: the answer as JSON text.
async fn retention_command(
    state: &AppState,
    action: &str,
    days: Option<&str>,
) -> Result<String, String> {
    let err = |e: shared::store::StoreError| e.to_string();
    if action != "set" {
        let out = serde_json::json!({
            "recorded": state.store.recorded_retention().await.map_err(err)?,
            "configured_days": state.retention.configured,
            "refused": state.retention.refused,
        });
        return Ok(serde_json::to_string_pretty(&out).unwrap_or_default());
    }
    let days = match days.map(str::to_ascii_lowercase).as_deref() {
        Some("off" | "0") => None,
        Some(d) => Some(
            d.parse::<u32>()
                .ok()
                .filter(|d| (1..=36_500).contains(d))
                .ok_or_else(|| format!("not a number of days (1-36500) or off: {d}"))?,
        ),
        None => return Err("cronctl retention set <days|off>".into()),
    };
    let r = state.store.set_retention(days).await.map_err(err)?;
    Ok(serde_json::to_string_pretty(&r).unwrap_or_default())
}

async fn run(cli: Cli) -> Result<(), String> {
    let mut config = shared::config::Config::from_env();
    let t = cli.target;
    if let Some(v) = t.table {
        config.table_name = v;
    }
    if let Some(v) = t.schedule_group {
        config.schedule_group = v;
    }
    if let Some(v) = t.executor_arn {
        config.executor_arn = v;
    }
    if let Some(v) = t.scheduler_role_arn {
        config.scheduler_role_arn = v;
    }
    // Named `cronctl` in the user agent: its calls are held against iam-policy.json.
    let sdk = shared::config::sdk_config_for("cronctl").await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    // Imports and history writes apply the table's recorded retention, as the functions do.
    let retention = AppState::settle_retention(&config, &dynamo, true).await;
    let state = AppState::with_retention(
        config,
        retention,
        dynamo,
        aws_sdk_scheduler::Client::new(&sdk),
        aws_sdk_sesv2::Client::new(&sdk),
    );
    let progress = std::io::stderr().is_terminal();
    let err = |e: shared::store::StoreError| e.to_string();
    match cli.command {
        Command::Admin(AdminCommand::Create {
            username,
            email,
            password_stdin,
        }) => println!(
            "{}",
            admin_create(&state, &username, email.as_deref(), password_stdin).await?
        ),
        Command::Import(ImportCommand::Sqlite {
            path,
            keep_cron_text,
            flags,
        }) => {
            let mode = if keep_cron_text {
                legacy::CronMode::KeepText
            } else {
                legacy::CronMode::Convert
            };
            run_import(&state, legacy::read(&path, mode)?, flags, progress).await?;
        }
        Command::Import(ImportCommand::Jsonl { path, flags }) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let bundle = Bundle::from_lines(&format!("jsonl:{}", path.display()), &text);
            run_import(&state, bundle, flags, progress).await?;
        }
        Command::Export { history, output } => {
            let b = export::collect(&state, history).await.map_err(err)?;
            let mut text = b.to_lines().join("\n");
            text.push('\n');
            match output {
                Some(p) => std::fs::write(&p, text)
                    .map_err(|e| format!("cannot write {}: {e}", p.display()))?,
                None => print!("{text}"),
            }
        }
        Command::Verify { repair, json } => verify(&state, repair, json).await?,
        Command::Resync => {
            let r = shared::services::maintenance::reconcile_all(&state)
                .await
                .map_err(err)?;
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
        }
        Command::Audit {
            entity_type,
            entity_id,
            actor_id,
            from,
            to,
            cursor,
        } => {
            let filter = shared::store::audit::AuditFilter {
                entity_type,
                entity_id,
                actor_id,
                from: instant(from)?,
                to: instant(to)?,
            };
            println!("{}", audit_page(&state, &filter, cursor.as_deref()).await?);
        }
        Command::Backfill { job_id, from, to } => {
            use shared::services::jobs;
            let job = jobs::load(&state, &job_id)
                .await
                .map_err(|e| e.to_string())?;
            let v = jobs::backfill(&state, None, &job, (Some(&from), Some(&to)))
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Command::Status => {
            let v = shared::services::scheduler::status(&state)
                .await
                .map_err(|e| format!("{e:?}"))?;
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Command::Retention { action, days } => {
            println!(
                "{}",
                retention_command(&state, &action, days.as_deref()).await?
            )
        }
        Command::Maintenance {
            task,
            scheduled_time,
        } => {
            let mut event = serde_json::json!({"task": if task == "weekly" { "end_date_maintenance" } else { task.as_str() }});
            if let Some(t) = scheduled_time {
                event["scheduled_time"] = serde_json::json!(t);
            }
            let v = maintenance_fn::handle(&state, event).await.map_err(err)?;
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cronctl: {e}");
            ExitCode::FAILURE
        }
    }
}
