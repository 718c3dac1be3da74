//! Reads a legacy `cron_jobs.db` (the Python backend's SQLite database, api-contract §2) into
//! a [`Bundle`] of the platform's own types. Nothing here knows DynamoDB keys.

use crate::bundle::{Bundle, Conversion};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rusqlite::{Connection, OpenFlags, Row};
use shared::{
    domain::{
        cron::from_apscheduler,
        draft::{JobDraft, JobOrigin},
        CronExpr, ExecutionStatus, ExecutionType, Level, Role, Trigger,
    },
    store::{Execution, Notification, NotificationPrefs, SlackSettings, Taxon, UiPrefs, User},
};
use std::path::Path;

pub use crate::bundle::CronMode;

/// Naive UTC `YYYY-MM-DD HH:MM:SS[.ffffff]` (how the legacy backend stores times).
fn ts(v: Option<String>) -> Option<DateTime<Utc>> {
    let v = v?;
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v.trim(), f) {
            return Some(t.and_utc());
        }
    }
    None
}

fn text(r: &Row, i: usize) -> rusqlite::Result<Option<String>> {
    r.get::<_, Option<String>>(i)
}

/// Reads every table. Rows that cannot be carried are listed in `Bundle::problems` with the
/// reason; nothing is refused silently.
pub fn read(path: &Path, mode: CronMode) -> Result<Bundle, String> {
    let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut b = Bundle {
        source: format!("sqlite:{}", path.display()),
        cron_mode: mode,
        ..Default::default()
    };
    let now = chrono::Utc::now();
    read_users(&db, &mut b, now)?;
    read_taxa(&db, &mut b, now)?;
    read_jobs(&db, &mut b, mode, now)?;
    read_executions(&db, &mut b)?;
    read_notifications(&db, &mut b, now)?;
    read_slack(&db, &mut b, now)?;
    read_prefs(&db, &mut b, now)?;
    read_ui_prefs(&db, &mut b, now)?;
    Ok(b)
}

/// The `users` table (an unknown role is a problem, not a user).
fn read_users(db: &Connection, b: &mut Bundle, now: DateTime<Utc>) -> Result<(), String> {
    let err = |e: rusqlite::Error| e.to_string();
    let mut q = db
        .prepare("SELECT id, username, email, password_hash, role, is_active, created_at, updated_at FROM users ORDER BY created_at, id")
        .map_err(err)?;
    let rows = q
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, bool>(5)?,
                text(r, 6)?,
                text(r, 7)?,
            ))
        })
        .map_err(err)?;
    for row in rows {
        let (id, username, email, hash, role, active, c, u) = row.map_err(err)?;
        let Some(role) = Role::parse(&role) else {
            b.problem("user", &id, format!("unknown role \"{role}\""));
            continue;
        };
        let created = ts(c).unwrap_or(now);
        b.users.push(User {
            id,
            username,
            email,
            password_hash: hash,
            role,
            is_active: active,
            created_at: created,
            updated_at: ts(u).unwrap_or(created),
            session_version: 0,
            kept_session: None,
            revoked_sessions: Default::default(),
        });
    }
    Ok(())
}

/// The `job_categories` and `pic_teams` tables.
fn read_taxa(db: &Connection, b: &mut Bundle, now: DateTime<Utc>) -> Result<(), String> {
    let err = |e: rusqlite::Error| e.to_string();
    for (table, into_teams) in [("job_categories", false), ("pic_teams", true)] {
        let cols = if into_teams { "slack_handle" } else { "NULL" };
        let mut q = db
            .prepare(&format!("SELECT id, slug, name, {cols}, is_active, created_at, updated_at FROM {table} ORDER BY created_at, id"))
            .map_err(err)?;
        let rows = q
            .query_map([], |r| {
                Ok(Taxon {
                    id: r.get(0)?,
                    slug: r.get(1)?,
                    name: r.get(2)?,
                    slack_handle: text(r, 3)?,
                    is_active: r.get(4)?,
                    created_at: ts(text(r, 5)?).unwrap_or(now),
                    updated_at: ts(text(r, 6)?).unwrap_or(now),
                })
            })
            .map_err(err)?;
        for t in rows {
            let t = t.map_err(err)?;
            if into_teams {
                b.teams.push(t);
            } else {
                b.categories.push(t);
            }
        }
    }
    Ok(())
}

/// The `jobs` table: cron text converted per `mode` (or kept), metadata and e-mail lists parsed; an unreadable end date makes the job invalid (refused unless kept).
fn read_jobs(
    db: &Connection,
    b: &mut Bundle,
    mode: CronMode,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let err = |e: rusqlite::Error| e.to_string();
    let mut q = db
        .prepare("SELECT id, name, cron_expression, target_url, github_owner, github_repo, github_workflow_name, job_metadata, category, end_date, pic_team, enable_email_notifications, notification_emails, notify_on_success, created_by, is_active, created_at, updated_at FROM jobs ORDER BY created_at, id")
        .map_err(err)?;
    let mut rows = q.query([]).map_err(err)?;
    while let Some(r) = rows.next().map_err(err)? {
        let id: String = r.get(0).map_err(err)?;
        let name: String = r.get(1).map_err(err)?;
        let cron_text: String = r.get(2).map_err(err)?;
        let cron = match mode {
            CronMode::Convert => from_apscheduler(&cron_text),
            CronMode::KeepText => CronExpr::parse(&cron_text),
        };
        let cron = match cron {
            Ok(c) => c,
            Err(e) => {
                b.problem(
                    "job",
                    &id,
                    format!("\"{name}\": cron \"{cron_text}\" cannot be carried: {e}"),
                );
                continue;
            }
        };
        if cron.as_str() != cron_text.split_whitespace().collect::<Vec<_>>().join(" ") {
            b.conversions.push(Conversion {
                job: name.clone(),
                from: cron_text.clone(),
                to: cron.as_str().to_string(),
            });
        }
        let metadata = match text(r, 7).map_err(err)? {
            None => Default::default(),
            Some(m) if m.trim().is_empty() => Default::default(),
            Some(m) => match serde_json::from_str::<serde_json::Value>(&m) {
                Ok(serde_json::Value::Object(o)) => o,
                Ok(_) | Err(_) => {
                    b.problem(
                        "job",
                        &id,
                        format!("\"{name}\": metadata is not a JSON object; carried as {{}}"),
                    );
                    Default::default()
                }
            },
        };
        let emails: Vec<String> = text(r, 12)
            .map_err(err)?
            .map(|t| {
                serde_json::from_str::<Vec<String>>(&t).unwrap_or_else(|_| {
                    t.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
            })
            .unwrap_or_default();
        let end_text = text(r, 9).map_err(err)?.filter(|d| !d.trim().is_empty());
        let end_date = end_text
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d.get(..10).unwrap_or(d), "%Y-%m-%d").ok());
        if let (Some(t), None) = (&end_text, end_date) {
            // Carried without an end date, the job would never end: refused unless kept.
            b.invalid_jobs.push((
                id.clone(),
                format!("end_date \"{t}\" is not a date (YYYY-MM-DD)"),
            ));
        }
        let created = ts(text(r, 16).map_err(err)?).unwrap_or(now);
        // Checked with every other imported job (`import::refuse_invalid_jobs`, the one set of rules).
        let draft = JobDraft {
            name,
            cron,
            target_url: text(r, 3).map_err(err)?,
            github_owner: text(r, 4).map_err(err)?,
            github_repo: text(r, 5).map_err(err)?,
            github_workflow_name: text(r, 6).map_err(err)?,
            metadata,
            category: r.get::<_, String>(8).map_err(err)?,
            end_date,
            pic_team: text(r, 10).map_err(err)?,
            enable_email_notifications: r.get(11).map_err(err)?,
            notification_emails: emails,
            notify_on_success: r.get(13).map_err(err)?,
            // The system replaced had none of these: its jobs keep their behaviour.
            policy: shared::domain::RunPolicy::default(),
        };
        let job = draft.into_job(JobOrigin {
            id,
            created_by: text(r, 14).map_err(err)?,
            is_active: r.get(15).map_err(err)?,
            created_at: created,
            updated_at: ts(text(r, 17).map_err(err)?).unwrap_or(created),
            last_execution_at: None,
            pause: None,
        });
        b.jobs.push(job);
    }
    drop(rows);
    Ok(())
}

/// The `job_executions` table (an unreadable start or an unknown status is a problem).
fn read_executions(db: &Connection, b: &mut Bundle) -> Result<(), String> {
    let err = |e: rusqlite::Error| e.to_string();
    let mut q = db
        .prepare("SELECT id, job_id, status, trigger_type, started_at, completed_at, duration_seconds, execution_type, target, response_status, error_message, output FROM job_executions ORDER BY started_at, id")
        .map_err(err)?;
    let rows = q
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                text(r, 4)?,
                text(r, 5)?,
                r.get::<_, Option<f64>>(6)?,
                text(r, 7)?,
                text(r, 8)?,
                r.get::<_, Option<i64>>(9)?,
                text(r, 10)?,
                text(r, 11)?,
            ))
        })
        .map_err(err)?;
    for row in rows {
        let (
            id,
            job_id,
            status,
            trigger,
            started,
            completed,
            dur,
            etype,
            target,
            code,
            error,
            output,
        ) = row.map_err(err)?;
        let Some(started_at) = ts(started) else {
            b.problem("execution", &id, "no readable started_at".into());
            continue;
        };
        let Some(status) = ExecutionStatus::parse(&status) else {
            b.problem("execution", &id, format!("unknown status \"{status}\""));
            continue;
        };
        let Some(trigger) = Trigger::parse(&trigger) else {
            b.problem(
                "execution",
                &id,
                format!("unknown trigger_type \"{trigger}\""),
            );
            continue;
        };
        let etype = match etype.as_deref().map(ExecutionType::parse) {
            None => None,
            Some(Some(t)) => Some(t),
            Some(None) => {
                let t = etype.unwrap_or_default();
                b.problem("execution", &id, format!("unknown execution_type \"{t}\""));
                continue;
            }
        };
        b.executions.push(Execution {
            id,
            job_id,
            status,
            trigger_type: trigger,
            started_at,
            completed_at: ts(completed),
            duration_seconds: dur,
            execution_type: etype,
            target,
            response_status: code.and_then(|c| u16::try_from(c).ok()),
            error_message: error,
            output,
            scheduled_time: None,
            start_delay_ms: None,
            alerts: Default::default(),
            attempts: Vec::new(),
        });
    }
    Ok(())
}

/// The `notifications` table.
fn read_notifications(db: &Connection, b: &mut Bundle, now: DateTime<Utc>) -> Result<(), String> {
    let err = |e: rusqlite::Error| e.to_string();
    let mut q = db
        .prepare("SELECT id, user_id, title, message, type, related_job_id, related_execution_id, is_read, read_at, created_at FROM notifications ORDER BY created_at, id")
        .map_err(err)?;
    let rows = q
        .query_map([], |r| {
            let level: String = r.get(4)?;
            let note = Notification {
                id: r.get(0)?,
                user_id: r.get(1)?,
                title: r.get(2)?,
                message: r.get(3)?,
                kind: Level::parse(&level).unwrap_or(Level::Info),
                related_job_id: text(r, 5)?,
                related_execution_id: text(r, 6)?,
                is_read: r.get(7)?,
                read_at: ts(text(r, 8)?),
                created_at: ts(text(r, 9)?).unwrap_or(now),
            };
            Ok((note, level))
        })
        .map_err(err)?;
    for n in rows {
        let (note, level) = n.map_err(err)?;
        if Level::parse(&level).is_none() {
            b.problem(
                "notification",
                &note.id,
                format!("unknown type \"{level}\""),
            );
            continue;
        }
        b.notifications.push(note);
    }
    Ok(())
}

/// The `slack_settings` singleton (its first row).
fn read_slack(db: &Connection, b: &mut Bundle, now: DateTime<Utc>) -> Result<(), String> {
    let err = |e: rusqlite::Error| e.to_string();
    let mut q = db
        .prepare("SELECT id, is_enabled, webhook_url, channel, created_at, updated_at FROM slack_settings ORDER BY created_at LIMIT 1")
        .map_err(err)?;
    b.slack = q
        .query_map([], |r| {
            Ok(SlackSettings {
                id: r.get(0)?,
                is_enabled: r.get(1)?,
                webhook_url: text(r, 2)?,
                channel: text(r, 3)?,
                notify_run_failures: false,
                created_at: ts(text(r, 4)?).unwrap_or(now),
                updated_at: ts(text(r, 5)?).unwrap_or(now),
            })
        })
        .map_err(err)?
        .next()
        .transpose()
        .map_err(err)?;
    Ok(())
}

/// The `user_notification_preferences` table.
fn read_prefs(db: &Connection, b: &mut Bundle, now: DateTime<Utc>) -> Result<(), String> {
    let err = |e: rusqlite::Error| e.to_string();
    let mut q = db
        .prepare("SELECT id, user_id, email_on_job_success, email_on_job_failure, email_on_job_disabled, browser_notifications, daily_digest, weekly_report, created_at, updated_at FROM user_notification_preferences")
        .map_err(err)?;
    let rows = q
        .query_map([], |r| {
            let created = ts(text(r, 8)?).unwrap_or(now);
            Ok(NotificationPrefs {
                id: r.get(0)?,
                user_id: r.get(1)?,
                email_on_job_success: r.get(2)?,
                email_on_job_failure: r.get(3)?,
                email_on_job_disabled: r.get(4)?,
                browser_notifications: r.get(5)?,
                daily_digest: r.get(6)?,
                weekly_report: r.get(7)?,
                created_at: created,
                updated_at: ts(text(r, 9)?).unwrap_or(created),
            })
        })
        .map_err(err)?;
    for p in rows {
        b.prefs.push(p.map_err(err)?);
    }
    Ok(())
}

/// The `user_ui_preferences` table (unknown columns dropped, missing ones defaulted).
fn read_ui_prefs(db: &Connection, b: &mut Bundle, now: DateTime<Utc>) -> Result<(), String> {
    let err = |e: rusqlite::Error| e.to_string();
    let mut q = db
        .prepare("SELECT id, user_id, jobs_table_columns, created_at, updated_at FROM user_ui_preferences")
        .map_err(err)?;
    let rows = q
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                text(r, 2)?,
                text(r, 3)?,
                text(r, 4)?,
            ))
        })
        .map_err(err)?;
    for row in rows {
        let (id, user_id, cols, c, u) = row.map_err(err)?;
        let mut columns: std::collections::BTreeMap<String, bool> = UiPrefs::DEFAULT_COLUMNS
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        if let Some(stored) = cols.and_then(|c| {
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&c).ok()
        }) {
            for (k, v) in stored {
                if let (Some(slot), Some(v)) = (columns.get_mut(&k), v.as_bool()) {
                    *slot = v;
                }
            }
        }
        let created = ts(c).unwrap_or(now);
        b.ui_prefs.push(UiPrefs {
            id,
            user_id,
            jobs_table_columns: columns,
            created_at: created,
            updated_at: ts(u).unwrap_or(created),
        });
    }
    Ok(())
}
