//! The per-process cache behind `GET /jobs` (api-contract §3.4, the unpaginated list).
//!
//! A warm Lambda answering `GET /jobs` again would otherwise re-read, re-parse and
//! re-serialize every job although jobs change rarely. The cache keeps, per job, its read
//! shape already serialized ([`Job::to_json`] as JSON text) under the [`JobVersion`] it was
//! built from, and the order of the last list index read.
//!
//! **When the index is read again.** Every write that changes the list moves the table's
//! list change mark ([`crate::store::ListMark`]) after it lands. Each request reads the mark
//! together with the caller's user and the listed jobs' last runs (one BatchGetItem,
//! [`crate::store::Store::job_list_snapshot`]); the cached list is served as is only while
//! it is **trusted** for that mark: built from an index read that started at least [`SETTLE`]
//! after the mark last moved (so the index, which is eventually consistent, already held
//! every change the mark counts), at most [`MAX_TRUST`] ago (which also bounds how long a
//! change whose mark write failed can go unseen). Otherwise the list index is read,
//! projected to the version attributes ([`crate::store::Store::list_job_versions`]), every
//! entry whose version differs is re-read (BatchGetItem) before it is served, and jobs no
//! longer listed are dropped. What changes without a job write — `last_execution_at` (the
//! job's counter item, read on every request) and `next_execution_at` (computed from the
//! clock, cached only until the instant it names) — is spliced in per request.

use crate::domain::{cron::CronExpr, fmt_ts, Job};
use crate::store::{JobVersion, ListMark};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long after the list change mark moved an index read may still miss the change
/// (DynamoDB propagates to a GSI "typically within a fraction of a second").
pub const SETTLE: chrono::Duration = chrono::Duration::seconds(2);

/// Longest a process serves the list on an unmoved mark alone before reading the index again.
pub const MAX_TRUST: Duration = Duration::from_secs(60);

/// More stale entries than this and the whole list is re-read with one Query instead of a
/// BatchGetItem of the stale ones (also the cold path: an empty cache).
pub const FULL_RELOAD_AT: usize = 25;

/// Jobs' read shapes by id, one process's worth. Cheap to share behind an `Arc`.
pub struct JobListCache {
    entries: Mutex<HashMap<String, Entry>>,
    state: Mutex<ListState>,
    served_on_mark: AtomicU64,
    settle: chrono::Duration,
}

impl Default for JobListCache {
    fn default() -> Self {
        Self::new(SETTLE)
    }
}

/// The last index read applied, and for which mark it may be served without another.
#[derive(Default)]
struct ListState {
    /// The order of the last index read applied.
    listed: Vec<JobVersion>,
    /// `(mark version, until)`: the list is trusted for that mark until then.
    trust: Option<(u64, Instant)>,
    /// Index reads begun ([`JobListCache::begin_check`]); only the latest may set trust.
    checks: u64,
}

struct Entry {
    version: JobVersion,
    /// `Job::to_json` as JSON text, without its closing brace.
    head: String,
    cron: CronExpr,
    /// The job's own zone (its cron is read there).
    zone: Tz,
    is_active: bool,
    end_date: Option<chrono::NaiveDate>,
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
    /// An empty cache whose index reads are trusted once begun `settle` after the mark moved.
    pub fn new(settle: chrono::Duration) -> Self {
        Self {
            entries: Mutex::default(),
            state: Mutex::default(),
            served_on_mark: AtomicU64::new(0),
            settle,
        }
    }

    /// Whether nothing is cached (a cold process).
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The ids of the last index read applied, in its order (whose last runs the next
    /// snapshot reads).
    pub fn listed_ids(&self) -> Vec<String> {
        self.state().listed.iter().map(|v| v.id.clone()).collect()
    }

    /// Whether the list is trusted for some mark now (else the index will be read anyway,
    /// and can be read beside the snapshot).
    pub fn trusted_now(&self) -> bool {
        self.state()
            .trust
            .is_some_and(|(_, until)| Instant::now() < until)
    }

    /// The response document ([`JobListCache::render`]) from the cache alone, when it is
    /// trusted for `mark`; `None` means: read the index.
    pub fn render_trusted(
        &self,
        mark: ListMark,
        last_runs: &HashMap<String, DateTime<Utc>>,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let state = self.state();
        match state.trust {
            Some((v, until)) if v == mark.version && Instant::now() < until => {
                let mut entries = self.lock();
                // Every listed job's entry of the listed version (a concurrent request in
                // the same process may have replaced or dropped one): else read the index.
                let whole = state.listed.iter().all(|v| is_current(&entries, v));
                if !whole {
                    return None;
                }
                self.served_on_mark.fetch_add(1, Ordering::Relaxed);
                Some(render_entries(
                    &mut entries,
                    &state.listed,
                    last_runs,
                    tz,
                    now,
                ))
            }
            _ => None,
        }
    }

    /// Requests answered from the cache without reading the index, since the start.
    pub fn served_on_mark(&self) -> u64 {
        self.served_on_mark.load(Ordering::Relaxed)
    }

    /// Starts an index read; pass the number returned to [`JobListCache::applied`].
    pub fn begin_check(&self) -> u64 {
        let mut state = self.state();
        state.checks += 1;
        state.checks
    }

    /// Records the index read `check` (begun at `started`, after or beside the read of
    /// `mark`) as applied: its order is kept, and it is trusted for `mark` for
    /// [`MAX_TRUST`] if it started the settle time ([`SETTLE`] by default) after the mark moved and no other read began
    /// since (concurrent requests in one process: the later one decides).
    pub fn applied(
        &self,
        check: u64,
        listed: &[JobVersion],
        mark: ListMark,
        started: DateTime<Utc>,
    ) {
        let mut state = self.state();
        let latest = state.checks == check;
        if latest {
            state.listed = listed.to_vec();
        }
        state.trust = (latest && mark.changed_at + self.settle <= started)
            .then(|| (mark.version, Instant::now() + MAX_TRUST));
    }

    /// The ids among `listed` whose entry is missing or of another version.
    pub fn stale(&self, listed: &[JobVersion]) -> Vec<String> {
        let entries = self.lock();
        listed
            .iter()
            .filter(|v| !is_current(&entries, v))
            .map(|v| v.id.clone())
            .collect()
    }

    /// Stores the read shape of each job (replacing entries of other versions, unless
    /// updated later: a concurrent request's older read does not win).
    pub fn put(&self, jobs: &[Job]) {
        let mut entries = self.lock();
        for job in jobs {
            if entries
                .get(&job.id)
                .is_some_and(|e| e.version.updated_at > job.updated_at)
            {
                continue;
            }
            let mut head = job.to_json().to_string();
            head.pop(); // the closing brace
            entries.insert(
                job.id.clone(),
                Entry {
                    version: JobVersion::of(job),
                    head,
                    cron: job.cron.clone(),
                    zone: job.policy.timezone,
                    is_active: job.is_active,
                    end_date: job.end_date,
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
        render_entries(&mut self.lock(), listed, last_runs, tz, now)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock leaves only a cache behind: keep using it.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ListState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether the entry of `v`'s job is cached and of version `v`.
fn is_current(entries: &HashMap<String, Entry>, v: &JobVersion) -> bool {
    entries.get(&v.id).is_some_and(|e| e.version == *v)
}

/// [`JobListCache::render`] over the locked entries.
fn render_entries(
    entries: &mut HashMap<String, Entry>,
    listed: &[JobVersion],
    last_runs: &HashMap<String, DateTime<Utc>>,
    tz: Tz,
    now: DateTime<Utc>,
) -> String {
    {
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
}

impl Entry {
    /// `next_execution_at` text at `now` (null when inactive, never firing or past the end
    /// date), recomputed
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
            let at = crate::domain::job::next_fire_before_end(
                &self.cron,
                self.end_date,
                (self.zone, tz),
                now,
            );
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
