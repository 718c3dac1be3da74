//! Applies a [`Bundle`] to a deployment through the shared store and schedule code.
//!
//! Every write is a conditional create, so re-running an import (after it finished, or after
//! it was killed half-way) writes only what is missing and says so; counters move only with
//! the items they count, in the same transactions.
//!
//! What exists already is handled visibly: a user whose username or e-mail is taken by another
//! user, and a category or team whose slug is taken, are **merged** into the target's (which is
//! kept as it is; references in the file are re-pointed to it); Slack settings and preferences
//! already in the target are **kept**; a job whose name is taken by another job is not carried.

use crate::bundle::CronMode;
use crate::bundle::{Bundle, Conversion};
use futures::StreamExt;
use serde::Serialize;
use shared::{
    domain::today_in,
    state::AppState,
    store::{Store, StoreError, TaxonKind},
};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The sync token every imported job carries while its schedule is brought up (the same on
/// every run, so a re-run clears the marks an interrupted run left).
const SYNC_TOKEN: &str = "cronctl-import";

/// Per entity: rows in the file and what happened to them.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub in_file: usize,
    /// Written now (or, with `--dry-run`, would be).
    pub created: usize,
    /// Already in the target with the same id (an earlier import).
    pub unchanged: usize,
    /// Matched to another item of the target (by username, e-mail or slug), which is kept.
    pub merged: usize,
    /// Not carried (see `problems`).
    pub skipped: usize,
}

/// What an import did or, with `dry_run`, would do.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub source: String,
    pub dry_run: bool,
    /// `converted` (APScheduler Monday = 0 → standard Sunday = 0) or `kept as written`.
    pub cron_mode: String,
    pub counts: BTreeMap<String, Counts>,
    pub conversions: Vec<Conversion>,
    pub merged: Vec<String>,
    pub kept: Vec<String>,
    pub problems: Vec<String>,
    /// Jobs the API would refuse (the one set of job rules, `draft::check_job`), with the
    /// reason: not carried (nor their executions) unless `--keep-invalid`.
    pub refused: Vec<String>,
    /// History older than the target's retention window (`RETENTION_DAYS`): executions and
    /// notifications that would be hidden at once and deleted by TTL; not carried unless
    /// `--keep-expired`.
    pub outside_retention: usize,
    pub notes: Vec<String>,
    /// Active, unexpired jobs that need a schedule / schedules created (or re-made) now.
    pub schedules_expected: usize,
    pub schedules_created: usize,
}

impl Report {
    /// Whether this run wrote (or would write) anything.
    pub fn changed_anything(&self) -> bool {
        self.schedules_created > 0 || self.counts.values().any(|c| c.created > 0)
    }

    fn count(&mut self, entity: &str) -> &mut Counts {
        self.counts.entry(entity.to_string()).or_default()
    }

    /// The report as text for a terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let verb = if self.dry_run {
            "would create"
        } else {
            "created"
        };
        out.push_str(&format!(
            "import from {}{}\ncron expressions: {}\n\n",
            self.source,
            if self.dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            },
            self.cron_mode
        ));
        out.push_str(&format!(
            "{:<26}{:>8}{:>14}{:>11}{:>8}{:>9}\n",
            "entity", "in file", verb, "unchanged", "merged", "skipped"
        ));
        for (k, c) in &self.counts {
            out.push_str(&format!(
                "{:<26}{:>8}{:>14}{:>11}{:>8}{:>9}\n",
                k, c.in_file, c.created, c.unchanged, c.merged, c.skipped
            ));
        }
        out.push_str(&format!(
            "\nschedules: {} active unexpired jobs; {} {}\n",
            self.schedules_expected,
            self.schedules_created,
            if self.dry_run { "to create" } else { "created" }
        ));
        let section = |out: &mut String, title: &str, lines: &[String]| {
            if !lines.is_empty() {
                out.push_str(&format!("\n{title} ({}):\n", lines.len()));
                for l in lines {
                    out.push_str(&format!("  - {l}\n"));
                }
            }
        };
        let conv: Vec<String> = self
            .conversions
            .iter()
            .map(|c| format!("{}: `{}` → `{}`", c.job, c.from, c.to))
            .collect();
        section(&mut out, "cron conversions", &conv);
        section(&mut out, "merged into the target's", &self.merged);
        section(&mut out, "kept from the target", &self.kept);
        section(&mut out, "not carried as they are", &self.problems);
        section(
            &mut out,
            "refused: the API would refuse these jobs",
            &self.refused,
        );
        section(&mut out, "notes", &self.notes);
        out.push_str(if self.changed_anything() {
            "\n"
        } else {
            "\nnothing to change: the target already holds everything in the file\n"
        });
        out
    }
}

/// Options of one import.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub dry_run: bool,
    /// Carry jobs the API would refuse as they are (listed in `refused` all the same).
    pub keep_invalid: bool,
    /// Carry history older than the retention window (hidden at once, deleted by TTL).
    pub keep_expired: bool,
    /// Show progress bars (a terminal).
    pub progress: bool,
}

fn bar(len: usize, what: &str, show: bool) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let b = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len}") {
        b.set_style(style.progress_chars("=> "));
    }
    b.set_message(what.to_string());
    b
}

/// Runs `write_once` over `items`, 8 in flight, ticking `pb`; each call answers whether it
/// wrote (`true`) or found the item already there (`false`).
async fn each_once<T, F, Fut>(
    items: Vec<T>,
    pb: &indicatif::ProgressBar,
    write_once: F,
) -> Result<Vec<bool>, StoreError>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<bool, StoreError>>,
{
    let results: Vec<Result<bool, StoreError>> = futures::stream::iter(items)
        .map(|item| {
            let fut = write_once(item);
            async move {
                let out = fut.await;
                pb.inc(1);
                out
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    pb.finish_and_clear();
    results.into_iter().collect()
}

fn tally(c: &mut Counts, outcome: &[bool]) {
    let created = outcome.iter().filter(|w| **w).count();
    c.created += created;
    c.unchanged += outcome.len() - created;
}

/// Holds every job of `bundle` to the API's rules (`draft::check_job`, plus what the reader
/// found): a job that breaks one is listed in `refused` with the reason and removed (its
/// executions follow it), unless `keep` carries it as it is.
fn refuse_invalid_jobs(bundle: &mut Bundle, keep: bool, r: &mut Report) {
    let mut reasons: HashMap<String, String> = std::mem::take(&mut bundle.invalid_jobs)
        .into_iter()
        .collect();
    for j in &bundle.jobs {
        if let Err(e) = shared::domain::draft::check_job(j) {
            reasons
                .entry(j.id.clone())
                .or_insert(format!("{}: {}", e.error, e.message));
        }
    }
    if reasons.is_empty() {
        return;
    }
    let name_of = |j: &shared::domain::Job| {
        let n: String = j.name.chars().take(60).collect();
        if n.len() < j.name.len() {
            format!("{n}…")
        } else {
            n
        }
    };
    for j in &bundle.jobs {
        if let Some(why) = reasons.get(&j.id) {
            let what = if keep {
                "carried (--keep-invalid)"
            } else {
                "not carried (nor its executions)"
            };
            r.refused
                .push(format!("job {} \"{}\": {why}; {what}", j.id, name_of(j)));
        }
    }
    if !keep {
        let before = bundle.jobs.len();
        bundle.jobs.retain(|j| !reasons.contains_key(&j.id));
        let refused = before - bundle.jobs.len();
        r.count("jobs").in_file += refused;
        r.count("jobs").skipped += refused;
    }
}

/// With a retention window on the target, takes the executions and notifications older than
/// it out of `bundle` (they would be hidden at once and deleted by TTL) and says how many,
/// unless `keep` carries them.
fn drop_outside_retention(state: &AppState, bundle: &mut Bundle, keep: bool, r: &mut Report) {
    let Some(floor) = state.store.history_floor() else {
        return;
    };
    let old_runs = bundle
        .executions
        .iter()
        .filter(|e| e.started_at < floor)
        .count();
    let old_notes = bundle
        .notifications
        .iter()
        .filter(|n| n.created_at < floor)
        .count();
    r.outside_retention = old_runs + old_notes;
    if r.outside_retention == 0 {
        return;
    }
    let days = state.store.retention().days.unwrap_or_default();
    if keep {
        r.notes.push(format!(
            "{old_runs} execution(s) and {old_notes} notification(s) are older than the target's retention window (RETENTION_DAYS={days}, before {}): carried (--keep-expired), hidden at once and deleted by TTL",
            floor.date_naive()
        ));
        return;
    }
    bundle.executions.retain(|e| e.started_at >= floor);
    bundle.notifications.retain(|n| n.created_at >= floor);
    r.count("executions").skipped += old_runs;
    r.count("notifications").skipped += old_notes;
    r.notes.push(format!(
        "{old_runs} execution(s) and {old_notes} notification(s) are older than the target's retention window (RETENTION_DAYS={days}, before {}): not carried — they would be hidden at once and deleted by TTL. Import into a stack with RETENTION_DAYS=off to keep the whole history, or pass --keep-expired",
        floor.date_naive()
    ));
}

/// Applies `bundle` (or, with `dry_run`, only reads the target and reports).
pub async fn apply(
    state: &AppState,
    mut bundle: Bundle,
    opts: Options,
) -> Result<Report, StoreError> {
    let store = &state.store;
    let write = !opts.dry_run;
    let mut r = Report {
        source: bundle.source.clone(),
        dry_run: opts.dry_run,
        cron_mode: match bundle.cron_mode {
            CronMode::Convert => {
                "converted from APScheduler (Monday = 0) to standard cron (Sunday = 0)".into()
            }
            CronMode::KeepText => {
                "kept as written (--keep-cron-text or a JSON-lines export)".into()
            }
        },
        conversions: std::mem::take(&mut bundle.conversions),
        problems: std::mem::take(&mut bundle.problems),
        ..Default::default()
    };

    refuse_invalid_jobs(&mut bundle, opts.keep_invalid, &mut r);
    drop_outside_retention(state, &mut bundle, opts.keep_expired, &mut r);

    import_taxa(store, &bundle, write, &mut r).await?;
    let ids = import_users(store, &bundle, write, &mut r).await?;
    import_prefs(store, &bundle, &ids, write, &mut r).await?;
    import_slack(store, &bundle, write, &mut r).await?;
    let carried = import_jobs(state, &bundle, &ids, write, &mut r).await?;
    let exec_ids = import_executions(store, &bundle, &carried, &opts, &mut r).await?;
    import_notifications(store, &bundle, &ids, (&carried, &exec_ids), &opts, &mut r).await?;
    if write && r.changed_anything() {
        record_import(store, &r).await?;
    }
    Ok(r)
}

/// Categories and teams, merged by slug.
async fn import_taxa(
    store: &Store,
    bundle: &Bundle,
    write: bool,
    r: &mut Report,
) -> Result<(), StoreError> {
    // Categories and teams, merged by slug.
    for (kind, entity, list) in [
        (TaxonKind::Category, "categories", &bundle.categories),
        (TaxonKind::Team, "pic_teams", &bundle.teams),
    ] {
        r.count(entity).in_file = list.len();
        for t in list {
            if store.get_taxon(kind, &t.id).await?.is_some() {
                r.count(entity).unchanged += 1;
            } else if let Some(existing) = store.taxon_by_slug(kind, &t.slug).await? {
                r.count(entity).merged += 1;
                r.merged.push(format!(
                    "{entity} \"{}\" (slug {}): the target's {} is kept",
                    t.name, t.slug, existing.id
                ));
            } else {
                if write {
                    match store.create_taxon(kind, t, None).await {
                        Ok(()) | Err(StoreError::Conflict) => {}
                        Err(e) => return Err(e),
                    }
                }
                r.count(entity).created += 1;
            }
        }
    }

    Ok(())
}

/// Users, merged by username, then e-mail. Returns file ids → target ids.
async fn import_users(
    store: &Store,
    bundle: &Bundle,
    write: bool,
    r: &mut Report,
) -> Result<HashMap<String, String>, StoreError> {
    let mut ids: HashMap<String, String> = HashMap::new();
    r.count("users").in_file = bundle.users.len();
    for u in &bundle.users {
        if store.get_user(&u.id).await?.is_some() {
            r.count("users").unchanged += 1;
            ids.insert(u.id.clone(), u.id.clone());
            continue;
        }
        let by_name = store
            .find_user_by_login(&u.username)
            .await?
            .filter(|x| x.username == u.username);
        let by_mail = match &by_name {
            Some(_) => None,
            None => store
                .find_user_by_login(&u.email)
                .await?
                .filter(|x| x.email == u.email),
        };
        if let Some((existing, how)) = by_name
            .map(|x| (x, "username"))
            .or(by_mail.map(|x| (x, "e-mail")))
        {
            r.count("users").merged += 1;
            r.merged.push(format!(
                "user \"{}\" <{}>: same {how} as the target's user {} ({}), which is kept with its password and role; the file's references point to it",
                u.username, u.email, existing.id, existing.username
            ));
            ids.insert(u.id.clone(), existing.id);
            continue;
        }
        if write {
            match store.create_user(u, None).await {
                Ok(()) | Err(StoreError::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        r.count("users").created += 1;
        ids.insert(u.id.clone(), u.id.clone());
    }

    Ok(ids)
}

/// Notification and UI preferences: only for users without their own in the target.
async fn import_prefs(
    store: &Store,
    bundle: &Bundle,
    ids: &HashMap<String, String>,
    write: bool,
    r: &mut Report,
) -> Result<(), StoreError> {
    r.count("notification_preferences").in_file = bundle.prefs.len();
    for p in &bundle.prefs {
        let Some(uid) = ids.get(&p.user_id) else {
            r.count("notification_preferences").skipped += 1;
            r.problems.push(format!(
                "notification preferences {}: user {} is not in the file",
                p.id, p.user_id
            ));
            continue;
        };
        match store.get_prefs(uid).await? {
            Some(existing) if existing.id == p.id => {
                r.count("notification_preferences").unchanged += 1
            }
            Some(_) => {
                r.count("notification_preferences").merged += 1;
                r.kept.push(format!(
                    "notification preferences of user {uid}: the target's are kept"
                ));
            }
            None => {
                if write {
                    let mut p = p.clone();
                    p.user_id = uid.clone();
                    store.put_prefs(&p).await?;
                }
                r.count("notification_preferences").created += 1;
            }
        }
    }
    r.count("ui_preferences").in_file = bundle.ui_prefs.len();
    for p in &bundle.ui_prefs {
        let Some(uid) = ids.get(&p.user_id) else {
            r.count("ui_preferences").skipped += 1;
            r.problems.push(format!(
                "UI preferences {}: user {} is not in the file",
                p.id, p.user_id
            ));
            continue;
        };
        match store.get_ui_prefs(uid).await? {
            Some(existing) if existing.id == p.id => r.count("ui_preferences").unchanged += 1,
            Some(_) => {
                r.count("ui_preferences").merged += 1;
                r.kept.push(format!(
                    "UI preferences of user {uid}: the target's are kept"
                ));
            }
            None => {
                if write {
                    let mut p = p.clone();
                    p.user_id = uid.clone();
                    store.put_ui_prefs(&p).await?;
                }
                r.count("ui_preferences").created += 1;
            }
        }
    }

    Ok(())
}

/// Slack settings: the file's unless the target has configured its own.
async fn import_slack(
    store: &Store,
    bundle: &Bundle,
    write: bool,
    r: &mut Report,
) -> Result<(), StoreError> {
    if let Some(s) = &bundle.slack {
        r.count("slack_settings").in_file = 1;
        match store.get_slack_settings().await? {
            Some(existing) if existing == *s => r.count("slack_settings").unchanged += 1,
            Some(existing) if existing.webhook_url.is_some() => {
                r.count("slack_settings").merged += 1;
                r.kept
                    .push("Slack settings: the target's (with a webhook URL) are kept".into());
            }
            _ => {
                if write {
                    store.put_slack_settings(s).await?;
                }
                r.count("slack_settings").created += 1;
            }
        }
    }

    Ok(())
}

/// Jobs, with their creators re-pointed and `last_execution_at` from their history, and
/// their schedules. Returns the ids of the jobs carried (new or already there).
async fn import_jobs(
    state: &AppState,
    bundle: &Bundle,
    ids: &HashMap<String, String>,
    write: bool,
    r: &mut Report,
) -> Result<HashSet<String>, StoreError> {
    let store = &state.store;
    let mut last_run: HashMap<&str, chrono::DateTime<chrono::Utc>> = HashMap::new();
    for e in &bundle.executions {
        let t = last_run.entry(e.job_id.as_str()).or_insert(e.started_at);
        *t = (*t).max(e.started_at);
    }
    let today = today_in(state.config.timezone);
    let mut carried: HashSet<String> = HashSet::new();
    r.count("jobs").in_file += bundle.jobs.len();
    let mut expired_active = 0;
    for j in &bundle.jobs {
        let mut job = j.clone();
        if job.last_execution_at.is_none() {
            job.last_execution_at = last_run.get(job.id.as_str()).copied();
        }
        if let Some(c) = &job.created_by {
            match ids.get(c) {
                Some(mapped) => job.created_by = Some(mapped.clone()),
                None => {
                    r.problems.push(format!(
                        "job \"{}\": creator {c} is not in the file; carried as null",
                        job.name
                    ));
                    job.created_by = None;
                }
            }
        }
        if j.created_by.is_none() {
            r.problems.push(format!(
                "job \"{}\": no creator in the source (the user was deleted); carried as null",
                job.name
            ));
        }
        let existing = store.get_job(&job.id).await?;
        if existing.is_some() {
            r.count("jobs").unchanged += 1;
        } else if store.job_name_taken(&job.name).await? {
            r.count("jobs").skipped += 1;
            r.problems.push(format!(
                "job {} \"{}\": another job of the target has this name; not carried (nor its executions)",
                job.id, job.name
            ));
            continue;
        } else {
            if write {
                match store.create_job(&job, SYNC_TOKEN, &[], None).await {
                    Ok(()) | Err(StoreError::Conflict) => {}
                    Err(e) => return Err(e),
                }
            }
            r.count("jobs").created += 1;
        }
        carried.insert(job.id.clone());
        let current = existing.unwrap_or(job);
        if current.is_active && current.is_expired(today) {
            expired_active += 1;
        }
        if current.should_be_scheduled(today) {
            r.schedules_expected += 1;
            let ok = match state.schedules.get(&current.id).await {
                Ok(Some(s)) => state.schedules.matches(&current, &s),
                Ok(None) => false,
                Err(e) => {
                    r.problems.push(format!(
                        "job \"{}\": schedule unreadable ({e}); run `cronctl resync` later",
                        current.name
                    ));
                    continue;
                }
            };
            if !ok {
                if write {
                    if let Err(e) = state.schedules.sync(&current, today).await {
                        r.problems.push(format!("job \"{}\": schedule not created ({e}); left SYNC_PENDING for the next sweep", current.name));
                        continue;
                    }
                }
                r.schedules_created += 1;
            }
        }
        if write {
            store.clear_sync_pending(&current.id, SYNC_TOKEN).await?;
        }
    }
    if expired_active > 0 {
        r.notes.push(format!(
            "{expired_active} active job(s) are past their end date: imported active without a schedule; the next reconciliation or weekly maintenance pauses them (with notices)"
        ));
    }

    Ok(carried)
}

/// Executions, each with its counts, exactly once. Returns the ids carried.
async fn import_executions(
    store: &Store,
    bundle: &Bundle,
    carried: &HashSet<String>,
    opts: &Options,
    r: &mut Report,
) -> Result<HashSet<String>, StoreError> {
    let write = !opts.dry_run;
    let executions: Vec<_> = bundle.executions.iter().collect();
    r.count("executions").in_file += executions.len();
    let pb = bar(executions.len(), "executions", opts.progress);
    let mut running = 0;
    let mut exec_ids: HashSet<&str> = HashSet::new();
    let mut todo = Vec::new();
    for e in executions {
        if !carried.contains(&e.job_id) {
            r.count("executions").skipped += 1;
            r.problems.push(format!(
                "execution {}: its job {} is not carried",
                e.id, e.job_id
            ));
            pb.inc(1);
            continue;
        }
        running += usize::from(e.status == shared::domain::ExecutionStatus::Running);
        exec_ids.insert(e.id.as_str());
        todo.push(e);
    }
    let outcome = each_once(todo, &pb, |e| async move {
        if write {
            store.import_execution(e).await
        } else {
            store.get_execution(&e.id).await.map(|x| x.is_none())
        }
    })
    .await?;
    tally(r.count("executions"), &outcome);
    if running > 0 {
        r.notes.push(format!(
            "{running} execution(s) were still `running` in the source: carried as `running`; the next sweep (within 2 minutes) settles them as failed (\"Run abandoned: …\"), without alerts"
        ));
    }

    Ok(exec_ids.into_iter().map(str::to_string).collect())
}

/// Notifications, re-pointed to merged users; dangling links become null.
async fn import_notifications(
    store: &Store,
    bundle: &Bundle,
    ids: &HashMap<String, String>,
    (carried, exec_ids): (&HashSet<String>, &HashSet<String>),
    opts: &Options,
    r: &mut Report,
) -> Result<(), StoreError> {
    let write = !opts.dry_run;
    r.count("notifications").in_file += bundle.notifications.len();
    let pb = bar(bundle.notifications.len(), "notifications", opts.progress);
    let mut todo = Vec::new();
    for n in &bundle.notifications {
        let Some(uid) = ids.get(&n.user_id) else {
            r.count("notifications").skipped += 1;
            r.problems.push(format!(
                "notification {}: its user {} is not in the file",
                n.id, n.user_id
            ));
            pb.inc(1);
            continue;
        };
        let mut n = n.clone();
        n.user_id = uid.clone();
        if n.related_job_id
            .as_ref()
            .is_some_and(|j| !carried.contains(j))
        {
            r.problems.push(format!(
                "notification {}: related job {} is not carried; link set to null",
                n.id,
                n.related_job_id.take().unwrap_or_default()
            ));
        }
        if n.related_execution_id
            .as_ref()
            .is_some_and(|x| !exec_ids.contains(x.as_str()))
        {
            r.problems.push(format!(
                "notification {}: related execution {} is not carried; link set to null",
                n.id,
                n.related_execution_id.take().unwrap_or_default()
            ));
        }
        todo.push(n);
    }
    let outcome = each_once(todo, &pb, |n| async move {
        if write {
            store.import_notification(&n).await
        } else {
            store.get_notification(&n.id).await.map(|x| x.is_none())
        }
    })
    .await?;
    tally(r.count("notifications"), &outcome);
    Ok(())
}

/// One audit entry per import that wrote: what came from where (the rows themselves are not
/// copied into the log).
async fn record_import(store: &Store, r: &Report) -> Result<(), StoreError> {
    let entry = shared::store::audit::AuditEntry::new(
        None,
        "cronctl",
        "import",
        "import",
        &r.source,
        None,
        Some(serde_json::json!({
            "counts": r.counts,
            "refused": r.refused.len(),
            "outside_retention": r.outside_retention,
            "schedules_created": r.schedules_created,
        })),
    );
    store.put_audit(&entry).await?;
    Ok(())
}
