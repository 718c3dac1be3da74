//! The scenarios of issue 24: what a busy deployment pays, measured through the counting
//! proxy with AWS's billing rules ([`super::billing`]): writes per failed run as the number of
//! users grows, read-all, GET /jobs with every job carrying runs (unchanged list and under a
//! write mix), the runs-per-second ceiling of the key design, cold start and CPU under the CPU
//! share Lambda gives each function's `MemorySize`.

use super::{http_event, median, status_and_body, Bench, Ddb, DdbCounts, Function};
use chrono::{DurationRound, Utc};
use serde_json::{json, Value};
use shared::store::User;
use std::collections::HashMap;

/// Counts of what the proxy saw during `f`.
async fn counted<F, T>(b: &Bench, f: F) -> (T, DdbCounts)
where
    F: std::future::Future<Output = T>,
{
    *b.counts.lock().unwrap() = DdbCounts::default();
    let out = f.await;
    let c = b.counts.lock().unwrap().clone();
    (out, c)
}

/// Whether a partition key names one entity (a job, a user, a run, a task: it carries a UUID)
/// rather than a partition every run shares.
fn per_entity(pk: &str) -> bool {
    pk.split(['#', '-', ':', '|'])
        .any(|p| p.len() == 8 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Partitions written by notifications (the feed, its counters, id claims, user partitions
/// and user counters, the notify outbox task).
fn notification_partition(pk: &str) -> bool {
    pk.starts_with("FEED#")
        || pk.starts_with("NSTAT#")
        || pk.starts_with("NOTIFID#")
        || pk.starts_with("USER#")
        || (pk.starts_with("OUTBOX#") && pk.ends_with("-notify"))
}

/// Creates active users until `n` exist besides the admin (through the store, each with its
/// feed join).
async fn ensure_users(b: &Bench, n: usize) {
    let have = b
        .state
        .store
        .list_users()
        .await
        .unwrap()
        .len()
        .saturating_sub(1);
    for i in have..n {
        let u = User::new(
            (
                format!("bench-user-{i}"),
                format!("bench-user-{i}@example.com"),
            ),
            "x".into(),
            shared::domain::Role::User,
            Utc::now(),
        );
        b.state.store.create_user(&u, None).await.unwrap();
    }
}

/// The jobs a scheduled delivery runs (active, not past their end date).
async fn runnable_jobs(b: &Bench) -> Vec<shared::domain::Job> {
    let today = Utc::now().date_naive();
    b.state
        .store
        .list_jobs()
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.should_be_scheduled(today))
        .collect()
}

/// One scheduled delivery of `job_id` at `at` through the executor binary (counted).
async fn run_once(exec: &Function, job_id: &str, at: chrono::DateTime<Utc>) -> Value {
    let (r, _) = exec
        .invoke(json!({"job_id": job_id, "scheduled_time": at.to_rfc3339()}))
        .await;
    r
}

/// Writes of one failed run (a GitHub job without a token fails at once) at 10, 100 and
/// 1,000 active users: items written and billed write units, all and on notification
/// partitions only.
pub async fn notification_writes(b: &Bench) -> Value {
    let jobs = runnable_jobs(b).await;
    let job_id = &jobs.first().expect("an active job").id;
    let exec = Function::spawn(&b.env, "executor").await;
    let mut out = serde_json::Map::new();
    let minute = Utc::now()
        .duration_trunc(chrono::Duration::minutes(1))
        .unwrap();
    for (i, n) in [10usize, 100, 1000].into_iter().enumerate() {
        ensure_users(b, n).await;
        let at = minute - chrono::Duration::minutes(3 + i as i64);
        let (r, c) = counted(b, run_once(&exec, job_id, at)).await;
        let notif_items = c
            .writes
            .iter()
            .filter(|w| w.3 && notification_partition(&w.0))
            .count();
        let notif_wcu: f64 = c
            .writes
            .iter()
            .filter(|w| notification_partition(&w.0))
            .map(|w| w.2)
            .sum();
        eprintln!(
            "bench: failed run at {n} users: {} items written ({notif_items} for notifications), {:.0} WCU ({notif_wcu:.0} for notifications) — {}",
            c.items_written, c.wcu_billed, r
        );
        out.insert(
            n.to_string(),
            json!({"items_written": notif_items, "wcu": notif_wcu,
                   "run_items_written": c.items_written, "run_wcu": c.wcu_billed,
                   "ddb_calls": c.calls}),
        );
    }
    Value::Object(out)
}

/// Read-all of 1,000 unread: older than the cut (one write whatever their number), then 1,000
/// feed items of the last minute (read one by one: the tail a cut cannot cover).
pub async fn mark_all_read(b: &Bench) -> Value {
    let store = &b.state.store;
    // A fresh account (no mark yet), signed in through the auth function.
    let auth = Function::spawn(&b.env, "auth").await;
    let body = json!({"username": "reader", "email": "reader@example.com", "password": "password1", "role": "user"}).to_string();
    let (r, _) = auth
        .invoke(http_event(
            "POST",
            "/api/v2/auth/register",
            &b.token,
            Some((body, "application/json", false)),
        ))
        .await;
    let (s, v) = status_and_body(&r);
    assert_eq!(s, 201, "{v}");
    let user_id = v["user"]["id"].as_str().unwrap_or_default().to_string();
    let body = json!({"username": "reader", "password": "password1"}).to_string();
    let (r, _) = auth
        .invoke(http_event(
            "POST",
            "/api/v2/auth/login",
            "",
            Some((body, "application/json", false)),
        ))
        .await;
    let token = status_and_body(&r).1["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let f = Function::spawn(&b.env, "notifications").await;
    let read_all = || http_event("PUT", "/api/v2/notifications/read-all", &token, None);
    // 1,000 unread of their own from yesterday (older than any cut).
    let base = Utc::now() - chrono::Duration::hours(26);
    for i in 0..1000 {
        let n = shared::store::Notification {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: user_id.clone(),
            title: format!("old {i}"),
            message: "m".into(),
            kind: shared::domain::Level::Info,
            related_job_id: None,
            related_execution_id: None,
            is_read: false,
            read_at: None,
            created_at: base + chrono::Duration::seconds(i * 60),
        };
        store.import_notification(&n).await.unwrap();
    }
    // Nothing of the last minute or two: what a read-all writes then does not depend on
    // notices of the moment (measured apart below).
    tokio::time::sleep(std::time::Duration::from_secs(70)).await;
    let ((r, took), old) = counted(b, f.invoke(read_all())).await;
    let updated = status_and_body(&r).1["updated_count"].clone();
    // 1,000 feed items of the last minute.
    for i in 0..1000 {
        store
            .broadcast(
                &format!("bench-recent-{i}"),
                "recent",
                "m",
                shared::domain::Level::Info,
                None,
                None,
            )
            .await
            .unwrap();
    }
    let ((r2, took2), recent) = counted(b, f.invoke(read_all())).await;
    let updated2 = status_and_body(&r2).1["updated_count"].clone();
    eprintln!(
        "bench: read-all of {updated} older unread: {} items written, {:.0} WCU, {:.0} ms; of {updated2} from the last minute: {} items written, {:.0} WCU, {:.0} ms",
        old.items_written,
        old.wcu_billed,
        took.as_secs_f64() * 1e3,
        recent.items_written,
        recent.wcu_billed,
        took2.as_secs_f64() * 1e3
    );
    json!({
        "unread": updated, "items_written": old.items_written, "wcu": old.wcu_billed,
        "rcu": old.rcu_billed, "ms": took.as_secs_f64() * 1e3,
        "last_minute": {"unread": updated2, "items_written": recent.items_written,
                         "wcu": recent.wcu_billed, "ms": took2.as_secs_f64() * 1e3}
    })
}

/// GET /jobs with every job carrying runs, on one warm process: reads of an unchanged list
/// (the cache-hit path) and a write mix (one job change per 10 reads, made by another
/// process): warm CPU per read, billed RCU per read, items read.
pub async fn get_jobs_busy(b: &Bench, reads: usize) -> Value {
    let jobs = b.state.store.list_jobs().await.unwrap();
    for j in &jobs {
        b.state
            .store
            .seed_executions(&super::run_rows(&j.id, 20))
            .await
            .unwrap();
    }
    let reader = Function::spawn(&b.env, "jobs").await;
    let writer = Function::spawn_wrapped(&b.env, "jobs", None, Ddb::Direct).await;
    let list = || http_event("GET", "/api/v2/jobs", &b.token, None);
    for _ in 0..3 {
        reader.invoke(list()).await;
    }
    let mut phases = serde_json::Map::new();
    for (phase, every) in [("hit", 0usize), ("write_mix", 10)] {
        let (mut cpu, mut ms) = (Vec::new(), Vec::new());
        let mut totals = DdbCounts::default();
        for i in 0..reads {
            if every > 0 && i % every == 0 {
                let j = &jobs[(i / every) % jobs.len()];
                let body = json!({"metadata": {"bench": i}}).to_string();
                let (r, _) = writer
                    .invoke(http_event(
                        "PUT",
                        &format!("/api/v2/jobs/{}", j.id),
                        &b.token,
                        Some((body, "application/json", false)),
                    ))
                    .await;
                assert_eq!(r["statusCode"], 200, "{r}");
            }
            let c0 = reader.cpu_ns();
            let ((r, took), c) = counted(b, reader.invoke(list())).await;
            assert_eq!(r["statusCode"], 200);
            cpu.push((reader.cpu_ns() - c0) as f64 / 1e6);
            ms.push(took.as_secs_f64() * 1e3);
            totals.rcu_billed += c.rcu_billed;
            totals.items_read += c.items_read;
            totals.calls += c.calls;
        }
        let n = reads as f64;
        let row = json!({
            "jobs": jobs.len(),
            "warm_cpu_ms": cpu.iter().sum::<f64>() / n,
            "warm_cpu_ms_p50": median(cpu.clone()),
            "warm_ms_p50": median(ms),
            "rcu_billed": totals.rcu_billed / n,
            "items_read": totals.items_read as f64 / n,
            "ddb_calls": totals.calls as f64 / n,
        });
        eprintln!(
            "bench: GET /jobs ({} jobs with runs) {phase}: {row}",
            jobs.len()
        );
        phases.insert(phase.into(), row);
    }
    Value::Object(phases)
}

/// Runs per second the key design sustains: `rounds` scheduled runs of every job through the
/// executor binary, their billed writes grouped by partition (and by item); each partition
/// shared by all runs (no id in its key) takes `units / runs` per run, so it reaches
/// DynamoDB's 1,000 WCU/s per partition at `1,000 × runs / units` runs per second — the
/// smallest is the ceiling without split-for-heat; the same per item (a hot item cannot be
/// split) is the ceiling with it.
pub async fn runs_ceiling(b: &Bench, rounds: usize) -> Value {
    let jobs = runnable_jobs(b).await;
    let rounds = rounds.max(120usize.div_ceil(jobs.len().max(1)));
    let exec = Function::spawn(&b.env, "executor").await;
    let minute = Utc::now()
        .duration_trunc(chrono::Duration::minutes(1))
        .unwrap();
    let mut all = DdbCounts::default();
    let mut runs = 0usize;
    let mut exec_ms = Vec::new();
    for round in 0..rounds {
        let at = minute - chrono::Duration::minutes(10 + round as i64);
        for j in &jobs {
            let started = std::time::Instant::now();
            let (r, c) = counted(b, run_once(&exec, &j.id, at)).await;
            exec_ms.push(started.elapsed().as_secs_f64() * 1e3);
            assert_ne!(r["outcome"], "skipped", "{r}");
            all.writes.extend(c.writes);
            all.wcu_billed += c.wcu_billed;
            all.rcu_billed += c.rcu_billed;
            all.items_written += c.items_written;
            all.calls += c.calls;
            runs += 1;
        }
    }
    // Shared partitions by family (`XSTAT#ALL#<n>` → `XSTAT#ALL#*`): runs spread evenly over
    // a family's shards (the shard is a hash of the execution or notice id), so one of its
    // partitions takes `units / shards` per run; the sample of runs here is too small to
    // take the busiest shard it happened to hit as the figure. Items: per item as written.
    let family = |pk: &str| match pk.rsplit_once('#') {
        Some((head, n)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => {
            format!("{head}#*")
        }
        _ => pk.to_string(),
    };
    let mut fam_units: HashMap<String, f64> = HashMap::new();
    let mut fam_shards: HashMap<String, std::collections::HashSet<String>> = HashMap::new();
    let mut by_item: HashMap<String, f64> = HashMap::new();
    for (pk, sk, w, _) in &all.writes {
        if per_entity(pk) {
            continue;
        }
        let f = family(pk);
        *fam_units.entry(f.clone()).or_default() += w;
        fam_shards.entry(f).or_default().insert(pk.clone());
        *by_item.entry(format!("{}|{sk}", family(pk))).or_default() += w;
    }
    let by_pk: HashMap<String, f64> = fam_units
        .iter()
        .map(|(f, w)| (f.clone(), w / fam_shards[f].len().max(1) as f64))
        .collect();
    let by_item: HashMap<String, f64> = by_item
        .into_iter()
        .map(|(k, w)| {
            let f = k.split('|').next().unwrap_or_default().to_string();
            (
                k,
                w / fam_shards.get(&f).map_or(1, |s| s.len().max(1)) as f64,
            )
        })
        .collect();
    let ceiling = |m: &HashMap<String, f64>| {
        let mut v: Vec<(String, f64)> = m
            .iter()
            .map(|(k, w)| (k.clone(), 1000.0 * runs as f64 / w))
            .collect();
        v.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap());
        v.truncate(5);
        v
    };
    let (parts, items) = (ceiling(&by_pk), ceiling(&by_item));
    let per_run_wcu = all.wcu_billed / runs as f64;
    eprintln!(
        "bench: {runs} runs: {:.1} WCU, {:.1} RCU, {:.1} items written, {:.1} calls per run; ceiling {:.0} runs/s by partition ({}), {:.0} by item ({})",
        per_run_wcu,
        all.rcu_billed / runs as f64,
        all.items_written as f64 / runs as f64,
        all.calls as f64 / runs as f64,
        parts.first().map_or(0.0, |p| p.1),
        parts.first().map_or("", |p| p.0.as_str()),
        items.first().map_or(0.0, |p| p.1),
        items.first().map_or("", |p| p.0.as_str()),
    );
    json!({
        "runs": runs,
        "per_run": {"wcu": per_run_wcu, "rcu": all.rcu_billed / runs as f64,
                    "executor_ms": median(exec_ms),
                    "items_written": all.items_written as f64 / runs as f64,
                    "ddb_calls": all.calls as f64 / runs as f64},
        "by_partition": parts.first().map_or(0.0, |p| p.1),
        "by_item": items.first().map_or(0.0, |p| p.1),
        "limiting_partitions": parts.iter().map(|(k, v)| json!({"pk": k, "shards": fam_shards.get(k).map_or(1, |s| s.len()), "runs_per_s": v})).collect::<Vec<_>>(),
        "limiting_items": items.iter().map(|(k, v)| json!({"item": k, "runs_per_s": v})).collect::<Vec<_>>(),
    })
}

/// Each template function's `MemorySize` (the `Globals` default unless it sets one).
fn memory_sizes() -> HashMap<String, u64> {
    let t = std::fs::read_to_string("template.yaml").unwrap_or_default();
    let y: serde_yaml::Value = serde_yaml::from_str(&t).unwrap_or_default();
    let default = y["Globals"]["Function"]["MemorySize"]
        .as_u64()
        .unwrap_or(128);
    let mut out = HashMap::new();
    if let Some(res) = y["Resources"].as_mapping() {
        for (_, r) in res {
            if r["Type"].as_str() != Some("AWS::Serverless::Function") {
                continue;
            }
            if let Some(bin) = r["Metadata"]["BuildProperties"]["Binary"].as_str() {
                let mem = r["Properties"]["MemorySize"].as_u64().unwrap_or(default);
                out.insert(bin.to_string(), mem);
            }
        }
    }
    out
}

/// A cgroup (v1 `cpu`) limited to the CPU share Lambda gives `mem` MB (1,769 MB = one vCPU),
/// and a wrapper that starts a binary inside it; `None` where cgroups are not writable.
fn cpu_share_wrapper(mem: u64) -> Option<String> {
    let dir = format!("/sys/fs/cgroup/cpu/bench-{mem}mb");
    std::fs::create_dir_all(&dir).ok()?;
    let period = 100_000u64;
    let quota = (period * mem / 1769).max(1000);
    std::fs::write(format!("{dir}/cpu.cfs_period_us"), period.to_string()).ok()?;
    std::fs::write(format!("{dir}/cpu.cfs_quota_us"), quota.to_string()).ok()?;
    let script = format!("/tmp/bench-cpu-share-{mem}.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho $$ > {dir}/tasks\nexec \"$@\"\n"),
    )
    .ok()?;
    std::process::Command::new("chmod")
        .args(["+x", &script])
        .status()
        .ok()?;
    Some(script)
}

/// Cold start (spawn → first answer, median of `colds`) and warm latency and CPU (median of
/// `warm`) of one request per API function, with the process held to its `MemorySize`'s CPU
/// share. x86 here, not Graviton: the share is the point, not the chip.
pub async fn cold_cpu_share(b: &Bench, job_id: &str, colds: usize, warm: usize) -> Value {
    let mems = memory_sizes();
    let picks = [
        ("auth", "/api/v2/auth/me".to_string()),
        ("jobs", "/api/v2/jobs".to_string()),
        ("executions", format!("/api/v2/jobs/{job_id}/executions")),
        ("taxonomy", "/api/v2/job-categories".to_string()),
        (
            "notifications",
            "/api/v2/notifications/unread-count".to_string(),
        ),
        ("settings", "/api/v2/settings/slack".to_string()),
        ("system", "/api/v2/health".to_string()),
    ];
    let mut out = serde_json::Map::new();
    for (f, path) in picks {
        let mem = mems.get(f).copied().unwrap_or(256);
        let Some(wrap) = cpu_share_wrapper(mem) else {
            eprintln!("bench: cgroup cpu controller not writable: cpu-share figures skipped");
            return Value::Null;
        };
        let (mut coldv, mut warmv, mut cpuv) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..colds.max(1) {
            let g = Function::spawn_wrapped(&b.env, f, Some(&wrap), Ddb::Direct).await;
            let (r, _) = g.invoke(http_event("GET", &path, &b.token, None)).await;
            assert_eq!(r["statusCode"], 200, "{f} {path}: {r}");
            coldv.push(g.spawned.elapsed().as_secs_f64() * 1e3);
            if i + 1 == colds.max(1) {
                for _ in 0..warm {
                    let c0 = g.cpu_ns();
                    let (_, took) = g.invoke(http_event("GET", &path, &b.token, None)).await;
                    cpuv.push((g.cpu_ns() - c0) as f64 / 1e6);
                    warmv.push(took.as_secs_f64() * 1e3);
                }
            }
        }
        let row = json!({
            "memory_mb": mem,
            "cpu_share": mem as f64 / 1769.0,
            "cold_ms": median(coldv),
            "warm_ms": median(warmv),
            "warm_cpu_ms": median(cpuv),
            "request": path,
        });
        eprintln!("bench: {f} at {mem} MB's CPU share: {row}");
        out.insert(f.into(), row);
    }
    Value::Object(out)
}

/// One maintenance invocation of `task` (`sweep`, `reconcile`) through the proxy: its
/// DynamoDB units and duration, as a [`super::cost::Usage`] at the function's `MemorySize`.
pub async fn maintenance_usage(b: &Bench, task: &str) -> (super::cost::Usage, Value) {
    let mem = memory_sizes().get("maintenance").copied().unwrap_or(256) as f64;
    let f = Function::spawn(&b.env, "maintenance").await;
    f.invoke(json!({"task": task})).await;
    let ((r, took), c) = counted(b, f.invoke(json!({"task": task}))).await;
    let ms = took.as_secs_f64() * 1e3;
    let usage = super::cost::Usage {
        lambda_invocations: 1.0,
        lambda_gb_s: mem / 1024.0 * ms / 1e3,
        wru: c.wcu_billed,
        rru: c.rcu_billed,
        scheduler_invocations: 1.0,
        api_requests: 0.0,
        log_bytes: ASSUMED_LOG_BYTES,
    };
    eprintln!(
        "bench: maintenance {task}: {ms:.1} ms, {} calls, {:.1} RCU, {:.1} WCU",
        c.calls, c.rcu_billed, c.wcu_billed
    );
    (
        usage,
        json!({"ms": ms, "ddb_calls": c.calls, "rcu": c.rcu_billed, "wcu": c.wcu_billed, "answer": r}),
    )
}

/// Log bytes per invocation assumed by the cost model (a few JSON lines; docs/cost.md).
pub const ASSUMED_LOG_BYTES: f64 = 1500.0;
/// Response time of a job's target assumed by the cost model (the executor waits for it).
pub const ASSUMED_TARGET_MS: f64 = 300.0;

/// The usage of one scheduled run from the ceiling scenario's measures: executor invocation
/// (measured duration + the assumed target time) at its `MemorySize`, one maintenance
/// invocation by the stream, its DynamoDB units, one schedule invocation.
pub fn run_usage(ceiling: &Value, maintenance: &super::cost::Usage) -> super::cost::Usage {
    let mems = memory_sizes();
    let exec_mem = mems.get("executor").copied().unwrap_or(256) as f64;
    let exec_ms = ceiling["per_run"]["executor_ms"].as_f64().unwrap_or(0.0) + ASSUMED_TARGET_MS;
    super::cost::Usage {
        lambda_invocations: 2.0,
        lambda_gb_s: exec_mem / 1024.0 * exec_ms / 1e3 + maintenance.lambda_gb_s,
        wru: ceiling["per_run"]["wcu"].as_f64().unwrap_or(0.0),
        rru: ceiling["per_run"]["rcu"].as_f64().unwrap_or(0.0),
        scheduler_invocations: 1.0,
        api_requests: 0.0,
        log_bytes: 2.0 * ASSUMED_LOG_BYTES,
    }
}
