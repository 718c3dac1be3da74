//! A whole deployment as the platform's own types — what an import applies and an export
//! writes — and its JSON-lines form (`{"kind": "...", "data": {...}}`, one entity per line,
//! in a fixed order so that export → import → export gives the same lines).

use serde_json::{json, Value};
use shared::{
    domain::Job,
    store::{Execution, Notification, NotificationPrefs, SlackSettings, Taxon, UiPrefs, User},
};

/// How legacy cron text is carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CronMode {
    /// Convert APScheduler's Monday = 0 day-of-week to standard cron, so each job keeps firing
    /// at the times it did (the default).
    Convert,
    /// Keep the text as it is (for jobs that were written for standard cron and ran wrongly).
    KeepText,
}

/// One cron expression the import rewrote.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Conversion {
    pub job: String,
    pub from: String,
    pub to: String,
}

/// Everything to import, in dependency order.
#[derive(Clone, Debug)]
pub struct Bundle {
    /// Where it came from (`sqlite:<path>` / `jsonl:<path>`).
    pub source: String,
    pub cron_mode: CronMode,
    pub users: Vec<User>,
    pub categories: Vec<Taxon>,
    pub teams: Vec<Taxon>,
    pub prefs: Vec<NotificationPrefs>,
    pub ui_prefs: Vec<UiPrefs>,
    pub slack: Option<SlackSettings>,
    pub jobs: Vec<Job>,
    pub executions: Vec<Execution>,
    pub notifications: Vec<Notification>,
    /// Rows that cannot be carried (or are carried changed), with the reason.
    pub problems: Vec<String>,
    /// Jobs the source holds in a form the API would refuse, found while reading (an end date
    /// that is not a date), by job id with the reason; the import adds what
    /// [`shared::domain::draft::check_job`] refuses.
    pub invalid_jobs: Vec<(String, String)>,
    pub conversions: Vec<Conversion>,
}

impl Default for Bundle {
    fn default() -> Self {
        Self {
            source: String::new(),
            cron_mode: CronMode::Convert,
            users: Vec::new(),
            categories: Vec::new(),
            teams: Vec::new(),
            prefs: Vec::new(),
            ui_prefs: Vec::new(),
            slack: None,
            jobs: Vec::new(),
            executions: Vec::new(),
            notifications: Vec::new(),
            problems: Vec::new(),
            invalid_jobs: Vec::new(),
            conversions: Vec::new(),
        }
    }
}

impl Bundle {
    /// Records a row that cannot be carried as it is.
    pub fn problem(&mut self, entity: &str, id: &str, why: String) {
        self.problems.push(format!("{entity} {id}: {why}"));
    }

    /// The JSON lines of this bundle. Users are written without their password hash (an
    /// export carries no secret; imported users need a new password, e.g. `cronctl admin
    /// create` or an admin's reset).
    pub fn to_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut line =
            |kind: &str, data: Value| out.push(json!({"kind": kind, "data": data}).to_string());
        let val = |v: &dyn erased::Ser| v.value();
        for t in &self.categories {
            line("category", val(t));
        }
        for t in &self.teams {
            line("team", val(t));
        }
        for u in &self.users {
            let mut v = val(u);
            if let Some(o) = v.as_object_mut() {
                o.remove("password_hash");
            }
            line("user", v);
        }
        for p in &self.prefs {
            line("notification_preferences", val(p));
        }
        for p in &self.ui_prefs {
            line("ui_preferences", val(p));
        }
        if let Some(s) = &self.slack {
            line("slack_settings", val(s));
        }
        for j in &self.jobs {
            line("job", val(j));
        }
        for e in &self.executions {
            line("execution", val(e));
        }
        for n in &self.notifications {
            line("notification", val(n));
        }
        out
    }

    /// Reads JSON lines written by [`Bundle::to_lines`]. Unknown kinds and unreadable lines
    /// are listed as problems, never dropped silently.
    pub fn from_lines(source: &str, text: &str) -> Bundle {
        let mut b = Bundle {
            source: source.to_string(),
            cron_mode: CronMode::KeepText,
            ..Default::default()
        };
        for (i, raw) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let n = i + 1;
            let v: Value = match serde_json::from_str(raw) {
                Ok(v) => v,
                Err(e) => {
                    b.problems.push(format!("line {n}: not JSON: {e}"));
                    continue;
                }
            };
            let kind = v["kind"].as_str().unwrap_or_default().to_string();
            let mut data = v["data"].clone();
            macro_rules! push {
                ($vec:expr) => {
                    match serde_json::from_value(data) {
                        Ok(x) => $vec.push(x),
                        Err(e) => b.problems.push(format!("line {n} ({kind}): {e}")),
                    }
                };
            }
            match kind.as_str() {
                "category" => push!(b.categories),
                "team" => push!(b.teams),
                "user" => {
                    // No secret in an export: the user gets an unusable password.
                    if let Some(o) = data.as_object_mut() {
                        o.entry("password_hash").or_insert(json!("!"));
                    }
                    push!(b.users)
                }
                "notification_preferences" => push!(b.prefs),
                "ui_preferences" => push!(b.ui_prefs),
                "slack_settings" => match serde_json::from_value(data) {
                    Ok(s) => b.slack = Some(s),
                    Err(e) => b.problems.push(format!("line {n} ({kind}): {e}")),
                },
                "job" => push!(b.jobs),
                "execution" => push!(b.executions),
                "notification" => push!(b.notifications),
                other => b
                    .problems
                    .push(format!("line {n}: unknown kind \"{other}\"")),
            }
        }
        b
    }
}

/// Serialising heterogeneous entities to `Value` through one helper.
mod erased {
    pub trait Ser {
        fn value(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn value(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
        }
    }
}
