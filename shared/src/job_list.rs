//! The per-process cache behind `GET /jobs` (api-contract §3.4, the unpaginated list).
//!
//! A warm Lambda answering `GET /jobs` again would otherwise re-read, re-parse and
//! re-serialize every job although jobs change rarely. The cache keeps, per job, its read
//! shape already serialized ([`Job::to_json`] as JSON text) under the [`JobVersion`] it was
//! built from, and revalidates every entry on every request against the list index, read
//! projected to the version attributes only ([`crate::store::Store::list_job_versions`]).
//! Nothing is ever served stale: an entry whose version differs from the index is re-read
//! (BatchGetItem) before it is served, and jobs no longer listed are dropped. What changes
//! without a job write — `last_execution_at` (the job's counter item, read on every request)
//! and `next_execution_at` (computed from the clock, cached only until the instant it names)
//! — is spliced in per request.

use crate::domain::{cron::CronExpr, fmt_ts, Job};
use crate::store::JobVersion;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// More stale entries than this and the whole list is re-read with one Query instead of a
/// BatchGetItem of the stale ones (also the cold path: an empty cache).
pub const FULL_RELOAD_AT: usize = 25;

/// Jobs' read shapes by id, one process's worth. Cheap to share behind an `Arc`.
#[derive(Default)]
pub struct JobListCache {
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    version: JobVersion,
    /// `Job::to_json` as JSON text, without its closing brace.
    head: String,
    cron: CronExpr,
    is_active: bool,
    /// The last `next_execution_at` computed, if any.
    next: Option<NextFire>,
}

/// `next_execution_at` computed at `from`: the same answer for any instant in
/// `[from, until)` (no firing lies between); `until = None` never fires again.
struct NextFire {
    from: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
    text: Option<String>,
}

impl JobListCache {
    /// Whether nothing is cached (a cold process).
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The ids among `listed` whose entry is missing or of another version.
    pub fn stale(&self, listed: &[JobVersion]) -> Vec<String> {
        let entries = self.lock();
        listed
            .iter()
            .filter(|v| entries.get(&v.id).is_none_or(|e| e.version != **v))
            .map(|v| v.id.clone())
            .collect()
    }

    /// Stores the read shape of each job (replacing older entries).
    pub fn put(&self, jobs: &[Job]) {
        let mut entries = self.lock();
        for job in jobs {
            let mut head = job.to_json().to_string();
            head.pop(); // the closing brace
            entries.insert(
                job.id.clone(),
                Entry {
                    version: JobVersion::of(job),
                    head,
                    cron: job.cron.clone(),
                    is_active: job.is_active,
                    next: None,
                },
            );
        }
    }

    /// Drops the entries of jobs not in `listed` (deleted jobs).
    pub fn retain(&self, listed: &[JobVersion]) {
        let mut entries = self.lock();
        // Every listed job has an entry (the caller re-read the stale ones): equal sizes mean
        // nothing else is cached.
        if entries.len() == listed.len() && listed.iter().all(|v| entries.contains_key(&v.id)) {
            return;
        }
        let keep: HashSet<&str> = listed.iter().map(|v| v.id.as_str()).collect();
        entries.retain(|id, _| keep.contains(id.as_str()));
    }

    /// `{"count": n, "jobs": [...]}` as JSON text, in the order of `listed`, each job in
    /// [`Job::to_read_json`]'s shape with `last_execution_at` from `last_runs` (by job id)
    /// and `next_execution_at` at `now` in `tz`. A listed job without an entry (deleted
    /// between the index read and its re-read) is left out.
    pub fn render(
        &self,
        listed: &[JobVersion],
        last_runs: &HashMap<String, DateTime<Utc>>,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> String {
        let mut entries = self.lock();
        let (count, bytes) = listed
            .iter()
            .filter_map(|v| entries.get(&v.id))
            .fold((0usize, 32usize), |(n, b), e| {
                (n + 1, b + e.head.len() + 160)
            });
        let mut out = String::with_capacity(bytes);
        out.push_str("{\"count\":");
        out.push_str(&count.to_string());
        out.push_str(",\"jobs\":[");
        let mut first = true;
        for v in listed {
            let Some(e) = entries.get_mut(&v.id) else {
                continue;
            };
            if !std::mem::take(&mut first) {
                out.push(',');
            }
            out.push_str(&e.head);
            out.push_str(",\"last_execution_at\":");
            push_opt_str(&mut out, last_runs.get(&v.id).map(fmt_ts).as_deref());
            out.push_str(",\"next_execution_at\":");
            push_opt_str(&mut out, e.next_at(tz, now));
            out.push('}');
        }
        out.push_str("]}");
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock leaves only a cache behind: keep using it.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Entry {
    /// `next_execution_at` text at `now` (null when inactive or never firing), recomputed
    /// only once `now` reaches the instant last computed.
    fn next_at(&mut self, tz: Tz, now: DateTime<Utc>) -> Option<&str> {
        if !self.is_active {
            return None;
        }
        let fresh = self
            .next
            .as_ref()
            .is_some_and(|n| n.from <= now && n.until.is_none_or(|u| now < u));
        if !fresh {
            let at = self.cron.next_fire_from(now, tz);
            self.next = Some(NextFire {
                from: now,
                until: at.map(|t| t.with_timezone(&Utc)),
                text: at.map(|t| t.to_rfc3339()),
            });
        }
        self.next.as_ref().and_then(|n| n.text.as_deref())
    }
}

/// Appends a JSON string (timestamps only: nothing to escape) or `null`.
fn push_opt_str(out: &mut String, v: Option<&str>) {
    match v {
        Some(s) => {
            out.push('"');
            out.push_str(s);
            out.push('"');
        }
        None => out.push_str("null"),
    }
}

#[cfg(test)]
#[path = "job_list_test.rs"]
mod tests;
