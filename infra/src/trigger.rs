//! Local stand-in for EventBridge Scheduler firing: reads the schedules stored in the
//! emulator, and when one falls due invokes the executor's own handler with the schedule's
//! stored `Input`, `<aws.scheduler.scheduled-time>` replaced by the fire time, as
//! EventBridge would. It honours `State`, `EndDate`, the expression and its time zone, and
//! fires one-time `at(…)` schedules (backfills) once, deleting them afterwards as their
//! `ActionAfterCompletion: DELETE` asks.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use shared::{
    config::parse_timezone,
    domain::CronExpr,
    schedules::{StoredSchedule, SCHEDULED_TIME_PLACEHOLDER},
};
use std::sync::atomic::Ordering;
use std::time::Duration as StdDuration;
use web::AppState;

/// How often the schedule list is re-read from the emulator.
const REFRESH: StdDuration = StdDuration::from_secs(5);
/// How often the maintenance function's reconciliation runs (10 minutes on AWS).
const RECONCILE: StdDuration = StdDuration::from_secs(60);
/// How often the maintenance sweep runs (2 minutes on AWS, where the table's stream also
/// delivers each outbox task as it is written; locally the sweep stands in for the stream).
const SWEEP: StdDuration = StdDuration::from_secs(2);
/// The weekly end-date maintenance schedule (template `WeeklyEndDateMaintenance`).
pub const WEEKLY_CRON: &str = "0 9 * * 1";

/// A schedule ready to evaluate.
struct Entry {
    schedule: StoredSchedule,
    when: When,
}

/// When a schedule fires.
enum When {
    /// A recurring cron expression in its zone.
    Cron(CronExpr, chrono_tz::Tz),
    /// Once, at this instant (`at(…)`), then the schedule deletes itself.
    At(DateTime<Utc>),
}

/// The instant of an `at(YYYY-MM-DDTHH:MM:SS)` expression read in `tz`.
fn at_expression(expression: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    use chrono::TimeZone;
    let inner = expression.strip_prefix("at(")?.strip_suffix(')')?;
    let local = chrono::NaiveDateTime::parse_from_str(inner, "%Y-%m-%dT%H:%M:%S").ok()?;
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

async fn load(state: &AppState) -> Vec<Entry> {
    let names = match state.schedules.list_all_names().await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "trigger: cannot list schedules");
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        match state.schedules.get(&name).await {
            Ok(Some(s)) if s.enabled && s.expression.starts_with("at(") => {
                match at_expression(&s.expression, parse_timezone(&s.timezone)) {
                    Some(at) => out.push(Entry {
                        when: When::At(at),
                        schedule: s,
                    }),
                    None => tracing::warn!(schedule = %name, "trigger: unreadable at() expression"),
                }
            }
            Ok(Some(s)) if s.enabled => match s.cron() {
                Ok(cron) => out.push(Entry {
                    when: When::Cron(cron, parse_timezone(&s.timezone)),
                    schedule: s,
                }),
                Err(e) => {
                    tracing::warn!(schedule = %name, error = %e, "trigger: unreadable expression")
                }
            },
            Ok(_) => {}
            Err(e) => tracing::warn!(schedule = %name, error = %e, "trigger: cannot read schedule"),
        }
    }
    out
}

/// The fire time of `entry` in `(after, upto]`, if any (respecting `EndDate`).
/// A one-time schedule is due once its instant has come (however long ago: it has not
/// fired while it exists).
fn due(entry: &Entry, after: DateTime<Utc>, upto: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let t = match &entry.when {
        When::At(at) => return (*at <= upto).then_some(*at),
        When::Cron(cron, tz) => cron
            .next_fire_from(after + Duration::nanoseconds(1), *tz)?
            .with_timezone(&Utc),
    };
    let before_end = entry.schedule.end_date.is_none_or(|end| t < end);
    (t <= upto && before_end).then_some(t)
}

/// The payload EventBridge would deliver for `input` fired at `at`.
pub fn payload(input: &str, at: DateTime<Utc>) -> Option<serde_json::Value> {
    let resolved = input.replace(
        SCHEDULED_TIME_PLACEHOLDER,
        &at.to_rfc3339_opts(SecondsFormat::Secs, true),
    );
    serde_json::from_str(&resolved).ok()
}

/// Runs forever: every second, fires each schedule due since the previous second.
///
/// The executor and the maintenance function run as themselves (their own state, so their
/// AWS calls are attributed to them, [`AppState::for_function`]) and under their template
/// `Timeout` ([`crate::limits`]): an invocation still running then is dropped, as Lambda
/// stops it.
pub async fn run(state: AppState) {
    let maintenance = Function::new(&state, "MaintenanceFunction");
    let executor = Function::new(&state, "ExecutorFunction");
    let state = maintenance.state.clone();
    let mut entries = load(&state).await;
    let mut last_refresh = tokio::time::Instant::now();
    let mut last_reconcile = tokio::time::Instant::now();
    let mut last_sweep = tokio::time::Instant::now();
    let sweeping = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let weekly = CronExpr::parse(WEEKLY_CRON).ok();
    let mut prev = Utc::now();
    let mut tick = tokio::time::interval(StdDuration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tracing::info!(schedules = entries.len(), "local trigger started");
    loop {
        tick.tick().await;
        if last_refresh.elapsed() >= REFRESH {
            entries = load(&state).await;
            last_refresh = tokio::time::Instant::now();
        }
        if last_reconcile.elapsed() >= RECONCILE {
            if let Err(e) = maintenance
                .invoke(serde_json::json!({"task": "reconcile"}))
                .await
            {
                tracing::warn!(error = %e, "trigger: reconciliation failed");
            }
            // Daily on AWS; locally with each reconciliation (a no-op once a day is folded).
            if let Err(e) = maintenance
                .invoke(serde_json::json!({"task": "expire_history"}))
                .await
            {
                tracing::warn!(error = %e, "trigger: retention pass failed");
            }
            last_reconcile = tokio::time::Instant::now();
        }
        if last_sweep.elapsed() >= SWEEP && !sweeping.swap(true, Ordering::SeqCst) {
            // In the background: a slow delivery (SES, Slack) must not hold back firing.
            let m = maintenance.clone();
            let flag = sweeping.clone();
            tokio::spawn(async move {
                if let Err(e) = m.invoke(serde_json::json!({"task": "sweep"})).await {
                    tracing::warn!(error = %e, "trigger: sweep failed");
                }
                flag.store(false, Ordering::SeqCst);
            });
            last_sweep = tokio::time::Instant::now();
        }
        let now = Utc::now();
        if let Some(at) = weekly.as_ref().and_then(|c| {
            let t = c
                .next_fire_from(prev + Duration::nanoseconds(1), state.config.timezone)?
                .with_timezone(&Utc);
            (t <= now).then_some(t)
        }) {
            let m = maintenance.clone();
            let event = serde_json::json!({
                "task": "end_date_maintenance",
                "scheduled_time": at.to_rfc3339_opts(SecondsFormat::Secs, true),
            });
            tokio::spawn(async move {
                match m.invoke(event).await {
                    Ok(r) => tracing::info!(%r, "weekly end-date maintenance"),
                    Err(e) => tracing::warn!(error = %e, "weekly end-date maintenance failed"),
                }
            });
        }
        let mut fired_once = Vec::new();
        for entry in &entries {
            let Some(at) = due(entry, prev, now) else {
                continue;
            };
            if matches!(entry.when, When::At(_)) {
                fired_once.push(entry.schedule.name.clone());
            }
            let Some(event) = payload(&entry.schedule.input, at) else {
                tracing::warn!(schedule = %entry.schedule.name, "trigger: Input is not JSON");
                continue;
            };
            tracing::info!(schedule = %entry.schedule.name, at = %at, "trigger: firing");
            let x = executor.clone();
            tokio::spawn(async move {
                match x.invoke(event).await {
                    Ok(summary) => tracing::info!(%summary, "executor finished"),
                    Err(e) => tracing::error!(error = %e, "executor failed"),
                }
            });
        }
        for name in fired_once {
            entries.retain(|e| e.schedule.name != name);
            if let Err(e) = state.schedules.remove(&name).await {
                tracing::warn!(schedule = %name, error = %e, "trigger: one-time schedule not deleted");
            }
        }
        prev = now;
    }
}

/// A non-HTTP function as the local stack invokes it: its own state, its template timeout.
#[derive(Clone)]
struct Function {
    name: &'static str,
    state: AppState,
    timeout: StdDuration,
}

impl Function {
    fn new(state: &AppState, name: &'static str) -> Self {
        Self {
            name,
            state: state.for_function(name),
            timeout: crate::limits::of(name).timeout,
        }
    }

    /// One invocation, dropped at the function's timeout ("Task timed out", as Lambda).
    async fn invoke(&self, event: serde_json::Value) -> Result<serde_json::Value, String> {
        let run = async {
            match self.name {
                "ExecutorFunction" => executor_fn::handle_until(
                    &self.state.engine,
                    event,
                    Some(std::time::Instant::now() + self.timeout),
                )
                .await
                .map_err(|e| e.to_string()),
                _ => maintenance_fn::handle(&self.state, event)
                    .await
                    .map_err(|e| e.to_string()),
            }
        };
        tokio::time::timeout(self.timeout, run)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "Task timed out after {:.2} seconds",
                    self.timeout.as_secs_f64()
                ))
            })
    }
}

#[cfg(test)]
#[path = "trigger_test.rs"]
mod tests;
