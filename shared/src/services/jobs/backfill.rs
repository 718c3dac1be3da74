//! `POST /jobs/{id}/backfill` and `cronctl backfill` (issue 23): replay a job's past fire
//! times. The answer is given at once; the runs happen in the executor, oldest first, from a
//! one-time schedule ([`crate::schedules::Schedules::queue_backfill`]), each claiming its
//! fire time as a schedule delivery would — so a fire time runs at most once however often
//! it is asked for, and one that the schedule already ran is not run again.

use super::{Caller, JobError, Result};
use crate::{
    domain::{draft::FieldError, Job},
    state::AppState,
    store::RunClaim,
};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Most fire times one backfill covers.
pub const MAX_FIRE_TIMES: usize = 100;

/// `{"message","job_id","fire_times","new","already"}`.
#[derive(Debug, Serialize)]
pub struct Backfilled {
    pub message: String,
    pub job_id: String,
    /// Every fire time in the range, oldest first, RFC 3339 UTC.
    pub fire_times: Vec<String>,
    /// How many were neither run nor queued before this request.
    pub new: usize,
    /// How many were already run (or recorded skipped/missed) or queued.
    pub already: usize,
}

/// What a backfill's audit entry records.
#[derive(Serialize)]
struct AuditDetail<'a> {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    fire_times: &'a [String],
    new: usize,
}

fn invalid(message: impl Into<String>) -> JobError {
    JobError::Invalid(FieldError::new("Invalid backfill range", message))
}

/// An ISO 8601 instant with its offset (`2026-12-01T09:00:00+09:00`, `…Z`).
fn instant(key: &str, raw: Option<&str>) -> Result<DateTime<Utc>> {
    let raw = raw
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            invalid(format!(
                "\"{key}\" is required: an ISO 8601 time with its offset."
            ))
        })?;
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            invalid(format!(
                "\"{key}\" must be an ISO 8601 time with its offset, such as 2026-12-01T09:00:00+09:00."
            ))
        })
}

/// The fire times of `job`'s cron (in its zone) in `[from, to)`, oldest first; refused when
/// the range is empty, reaches past now, or holds more than [`MAX_FIRE_TIMES`].
pub fn fire_times(job: &Job, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>> {
    if from >= to {
        return Err(invalid("\"from\" must be before \"to\"."));
    }
    if to > Utc::now() {
        return Err(invalid(
            "\"to\" must not be in the future: the schedule runs the fire times to come.",
        ));
    }
    let mut out = Vec::new();
    // `next_fire_from` answers the first fire time at or after its instant.
    let mut after = from;
    while let Some(t) = job.cron.next_fire_from(after, job.policy.timezone) {
        let t = t.with_timezone(&Utc);
        if t >= to {
            break;
        }
        if out.len() == MAX_FIRE_TIMES {
            return Err(invalid(format!(
                "The range holds more than {MAX_FIRE_TIMES} fire times; backfill it in parts."
            )));
        }
        out.push(t);
        after = t + chrono::Duration::nanoseconds(1);
    }
    Ok(out)
}

/// Queues the backfill of `job` over `[from, to)` (ISO 8601 texts as sent): the fire times
/// not claimed yet go to one one-time schedule; answers every fire time and how many were
/// new. `caller` (absent for `cronctl`) gets an audit entry. Refused (400) for a paused job.
pub async fn backfill(
    state: &AppState,
    caller: Option<Caller<'_>>,
    job: &Job,
    (from, to): (Option<&str>, Option<&str>),
) -> Result<Backfilled> {
    let (from, to) = (instant("from", from)?, instant("to", to)?);
    if !job.is_active {
        return Err(JobError::Invalid(FieldError::new(
            "Job inactive",
            "Resume the job before backfilling it.",
        )));
    }
    let times = fire_times(job, from, to)?;
    let claims: Vec<RunClaim> = times
        .iter()
        .map(|t| RunClaim {
            job_id: job.id.clone(),
            scheduled_time: *t,
        })
        .collect();
    let claimed = state.store.claimed(&claims).await?;
    let fresh: Vec<DateTime<Utc>> = times
        .iter()
        .filter(|t| !claimed.contains(t))
        .copied()
        .collect();
    let queued = !fresh.is_empty()
        && state
            .schedules
            .queue_backfill(job, &fresh)
            .await
            .map_err(|e| {
                tracing::error!(job_id = %job.id, error = %e, "backfill not queued");
                JobError::BackfillUnavailable
            })?;
    let new = if queued { fresh.len() } else { 0 };
    let fire_times: Vec<String> = times.iter().map(crate::schedules::fmt_fire).collect();
    if let Some(c) = caller {
        let detail = AuditDetail {
            from,
            to,
            fire_times: &fire_times,
            new,
        };
        let detail = serde_json::to_value(detail).unwrap_or_default();
        state
            .store
            .put_audit(&c.audit("backfill", "job", &job.id, None, Some(detail)))
            .await?;
    }
    Ok(Backfilled {
        message: format!(
            "{new} of {} fire times queued for backfill",
            fire_times.len()
        ),
        job_id: job.id.clone(),
        already: fire_times.len() - new,
        fire_times,
        new,
    })
}
