//! `make bench` (issue 8): runs the **release** function binaries as Lambda runs them — each
//! process talks to a local Lambda Runtime API served here — against the emulators, with a
//! counting proxy in front of DynamoDB Local, and prints per request: cold start (spawn → first
//! response), warm latency and CPU, resident memory, DynamoDB calls, items read and capacity
//! consumed, at 1,000 and at 100,000 executions of one job over the same days; then bulk
//! uploads of 108 and 1,000
//! rows, and the delete of the job with 100,000 runs (answer, then the asynchronous purge).
//! Writes the same figures to `target/bench/results.json`. How to read them: docs/benchmarks.md.
//!
//! Environment (set by `infra/scripts/bench.sh`): `BENCH_BIN_DIR` (release binaries),
//! `BENCH_DDB` (DynamoDB Local base URL), `AWS_ENDPOINT_URL` (moto), `BENCH_OUT`,
//! `BENCH_ZIP_DIR` (cargo-lambda output, optional), `BENCH_CSV` (the 108-row bulk file),
//! `BENCH_WARM` (warm invocations per request, default 100), `BENCH_COLD` (fresh processes per
//! request whose init and first answer are measured, median; default 5). For profiling: `BENCH_ONLY`
//! (measure only the requests whose name contains it, then stop: no bulk 1,000, delete or
//! packages; `BENCH_ONLY_1K=1`: at 1,000 runs only; `BENCH_TRACE=1`: each DynamoDB call) and `BENCH_WRAP` (a command put before the binary of each measured request,
//! e.g. `perf record -g -o /tmp/perf.data --`; its CPU column is then the wrapper's).

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::{any, get, post},
    Router,
};
use chrono::{Duration as CDuration, Utc};
use serde_json::{json, Value};
use shared::{config::Config, state::AppState, store::Execution};
use std::{
    collections::HashMap,
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::sync::{mpsc, oneshot};

// ---------------------------------------------------------------------------------------------
// DynamoDB counting proxy

mod billing;
mod cost;
mod scenarios;

/// What the proxy saw since the last reset.
#[derive(Clone, Debug, Default)]
struct DdbCounts {
    calls: u64,
    items_read: u64,
    /// Capacity as DynamoDB Local reports it.
    capacity: f64,
    /// Read and write capacity as AWS bills it ([`billing`]).
    rcu_billed: f64,
    wcu_billed: f64,
    items_written: u64,
    by_op: HashMap<String, u64>,
    /// Every write: `(partition, item, billed units, an item written)`, index partitions as
    /// `GSIn:<key>` ([`billing::Billed`]).
    writes: Vec<(String, String, f64, bool)>,
}

/// The parts of a DynamoDB answer the proxy counts.
#[derive(Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CountedResponse {
    scanned_count: Option<u64>,
    item: Option<serde::de::IgnoredAny>,
    responses: Option<HashMap<String, Vec<serde::de::IgnoredAny>>>,
    consumed_capacity: Option<Capacity>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Capacity {
    Many(Vec<CapacityUnits>),
    One(CapacityUnits),
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CapacityUnits {
    capacity_units: Option<f64>,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    counts: Arc<Mutex<DdbCounts>>,
}

/// Forwards one DynamoDB call, asking for `ReturnConsumedCapacity: TOTAL` (DynamoDB Local does
/// not check signatures), and counts it.
async fn proxy(State(p): State<Proxy>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let op = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.split('.').nth(1))
        .unwrap_or("?")
        .to_string();
    // Spliced in rather than parsed and re-serialized: the proxy's own cost shows in every
    // latency figure.
    let req = match body.strip_prefix(b"{") {
        Some(rest) if !body.windows(22).any(|w| w == b"ReturnConsumedCapacity") => {
            let mut b = br#"{"ReturnConsumedCapacity":"TOTAL""#.to_vec();
            if rest.iter().any(|c| !c.is_ascii_whitespace() && *c != b'}') {
                b.push(b',');
            }
            b.extend_from_slice(rest);
            Bytes::from(b)
        }
        _ => body.clone(),
    };
    let sent = Instant::now();
    let mut fwd = p.http.post(&p.upstream);
    let req_copy = req.clone();
    for (k, v) in &headers {
        if !matches!(k.as_str(), "host" | "content-length") {
            fwd = fwd.header(k, v);
        }
    }
    let resp = match fwd.body(req_copy).send().await {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::BAD_GATEWAY,
                HeaderMap::new(),
                Bytes::from(e.to_string()),
            )
        }
    };
    let status = resp.status();
    let mut out_headers = HeaderMap::new();
    for (k, v) in resp.headers() {
        if !matches!(
            k.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            out_headers.insert(k.clone(), v.clone());
        }
    }
    let bytes = resp.bytes().await.unwrap_or_default();
    // Only what is counted is decoded (items are skipped, not built).
    let v: CountedResponse = serde_json::from_slice(&bytes).unwrap_or_default();
    let items = match op.as_str() {
        "Query" | "Scan" => v.scanned_count.unwrap_or(0),
        "GetItem" => u64::from(v.item.is_some()),
        "BatchGetItem" => v
            .responses
            .map(|m| m.values().map(|a| a.len() as u64).sum())
            .unwrap_or(0),
        _ => 0,
    };
    let capacity = match v.consumed_capacity {
        Some(Capacity::Many(a)) => a.iter().filter_map(|c| c.capacity_units).sum(),
        Some(Capacity::One(c)) => c.capacity_units.unwrap_or(0.0),
        None => 0.0,
    };
    if tracing_on() {
        eprintln!(
            "ddb {op:<14} {items:>5} items {:>8} B {:>7.2} ms (t = {:.1} ms)",
            bytes.len(),
            sent.elapsed().as_secs_f64() * 1e3,
            trace_clock()
        );
    }
    let billed = billing::bill(
        &op,
        &serde_json::from_slice::<Value>(&req).unwrap_or(Value::Null),
        &serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
    );
    {
        let mut c = p.counts.lock().unwrap();
        c.calls += 1;
        c.items_read += items;
        c.capacity += capacity;
        c.rcu_billed += billed.rcu;
        c.wcu_billed += billed.wcu;
        c.items_written += billed.items_written;
        c.writes.extend(billed.writes);
        *c.by_op.entry(op).or_default() += 1;
    }
    (status, out_headers, bytes)
}

/// Milliseconds since the bench started (`BENCH_TRACE` timestamps).
fn trace_clock() -> f64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e3
}

fn tracing_on() -> bool {
    std::env::var("BENCH_TRACE").is_ok_and(|v| !v.is_empty())
}

// ---------------------------------------------------------------------------------------------
// Local Lambda Runtime API, one per function process

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Value>>>>;
/// An event and where its result goes.
type Invocation = (Value, oneshot::Sender<Value>);

#[derive(Clone)]
struct Runtime {
    events: Arc<tokio::sync::Mutex<mpsc::Receiver<Invocation>>>,
    pending: Pending,
    /// When the last event was handed to the function.
    handed: Arc<Mutex<Option<Instant>>>,
    /// When the function first asked for an event: the end of its init.
    ready: Arc<Mutex<Option<Instant>>>,
}

async fn next(State(rt): State<Runtime>) -> impl IntoResponse {
    if tracing_on() {
        eprintln!("runtime: next (t = {:.1} ms)", trace_clock());
    }
    rt.ready.lock().unwrap().get_or_insert_with(Instant::now);
    let Some((event, reply)) = rt.events.lock().await.recv().await else {
        return (StatusCode::GONE, HeaderMap::new(), axum::Json(Value::Null));
    };
    let id = uuid::Uuid::new_v4().to_string();
    rt.pending.lock().unwrap().insert(id.clone(), reply);
    *rt.handed.lock().unwrap() = Some(Instant::now());
    let mut h = HeaderMap::new();
    h.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
    let deadline = Utc::now().timestamp_millis() + 300_000;
    h.insert(
        "lambda-runtime-deadline-ms",
        deadline.to_string().parse().unwrap(),
    );
    h.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:ap-northeast-1:000000000000:function:bench"
            .parse()
            .unwrap(),
    );
    h.insert(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000".parse().unwrap(),
    );
    (StatusCode::OK, h, axum::Json(event))
}

async fn respond(State(rt): State<Runtime>, Path(id): Path<String>, body: Bytes) -> &'static str {
    let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(tx) = rt.pending.lock().unwrap().remove(&id) {
        tx.send(v).ok();
    }
    "{}"
}

async fn fail(State(rt): State<Runtime>, Path(id): Path<String>, body: Bytes) -> &'static str {
    let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(tx) = rt.pending.lock().unwrap().remove(&id) {
        tx.send(json!({"lambda_error": v})).ok();
    }
    "{}"
}

async fn init_error(body: Bytes) -> &'static str {
    eprintln!("bench: init error: {}", String::from_utf8_lossy(&body));
    "{}"
}

/// One function process behind its own Runtime API.
struct Function {
    child: tokio::process::Child,
    events: mpsc::Sender<Invocation>,
    handed: Arc<Mutex<Option<Instant>>>,
    ready: Arc<Mutex<Option<Instant>>>,
    spawned: Instant,
}

struct Env {
    bin_dir: PathBuf,
    /// The counting proxy: where counted processes send their DynamoDB calls.
    ddb_proxy: String,
    /// DynamoDB Local itself: where timed processes send theirs (the proxy's own latency is
    /// no part of a function's figures).
    ddb_direct: String,
    config: Config,
}

/// Where a spawned process sends its DynamoDB calls.
#[derive(Clone, Copy, PartialEq)]
enum Ddb {
    /// Through the counting proxy (calls, items, capacity; `BENCH_TRACE`).
    Counted,
    /// Straight to DynamoDB Local (latency, CPU, cold start).
    Direct,
}

impl Function {
    async fn spawn(env: &Env, name: &str) -> Self {
        Self::spawn_wrapped(env, name, None, Ddb::Counted).await
    }

    /// Spawns `name`, behind the command `wrap` when given (profiling), its DynamoDB calls
    /// sent as `ddb` says.
    async fn spawn_wrapped(env: &Env, name: &str, wrap: Option<&str>, ddb: Ddb) -> Self {
        Self::spawn_with(env, name, wrap, ddb, None).await
    }

    /// [`Function::spawn_wrapped`], its log (`RUST_LOG=info`) written to `log` when given.
    async fn spawn_with(
        env: &Env,
        name: &str,
        wrap: Option<&str>,
        ddb: Ddb,
        log: Option<&std::path::Path>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(4);
        let rt = Runtime {
            events: Arc::new(tokio::sync::Mutex::new(rx)),
            pending: Default::default(),
            handed: Default::default(),
            ready: Default::default(),
        };
        let handed = rt.handed.clone();
        let ready = rt.ready.clone();
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(rt);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.ok() });
        let c = &env.config;
        let spawned = Instant::now();
        let bin = env.bin_dir.join(name);
        let mut cmd = match wrap {
            Some(wrap) => {
                let mut words = wrap.split_whitespace();
                let mut c = tokio::process::Command::new(words.next().unwrap_or_default());
                c.args(words).arg(&bin);
                c
            }
            None => tokio::process::Command::new(&bin),
        };
        let child = cmd
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
            .env("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true")
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("AWS_REGION", "ap-northeast-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env(
                "AWS_ENDPOINT_URL",
                std::env::var("AWS_ENDPOINT_URL").unwrap_or_default(),
            )
            .env(
                "AWS_ENDPOINT_URL_DYNAMODB",
                match ddb {
                    Ddb::Counted => &env.ddb_proxy,
                    Ddb::Direct => &env.ddb_direct,
                },
            )
            .env("TABLE_NAME", &c.table_name)
            .env("SCHEDULE_GROUP_NAME", &c.schedule_group)
            .env("JWT_SECRET_KEY", c.jwt_secret.expose())
            .env("LOCAL_MODE", "true")
            .env("RUST_LOG", if log.is_some() { "info" } else { "warn" })
            .stdout(
                log.and_then(|p| std::fs::File::create(p).ok())
                    .map_or_else(Stdio::null, Stdio::from),
            )
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        Self {
            child,
            events: tx,
            handed,
            ready,
            spawned,
        }
    }

    /// Invokes once; returns the result and the time from hand-over to answer.
    async fn invoke(&self, event: Value) -> (Value, Duration) {
        let (tx, rx) = oneshot::channel();
        self.events.send((event, tx)).await.unwrap();
        let out = tokio::time::timeout(Duration::from_secs(300), rx)
            .await
            .expect("function answered")
            .unwrap_or(Value::Null);
        let took = self
            .handed
            .lock()
            .unwrap()
            .map(|t| t.elapsed())
            .unwrap_or_default();
        (out, took)
    }

    fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// CPU time of every thread of the process so far (`/proc/<pid>/task/*/schedstat`, ns).
    fn cpu_ns(&self) -> u64 {
        let dir = format!("/proc/{}/task", self.pid());
        std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
                    .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Resident set size now, MB (`VmRSS`).
    fn rss_mb(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            })
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    }
}

fn http_event(
    method: &str,
    path_and_query: &str,
    token: &str,
    body: Option<(String, &str, bool)>,
) -> Value {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut headers =
        json!({"accept": "application/json", "authorization": format!("Bearer {token}")});
    let (body, b64) = match body {
        Some((b, ct, b64)) => {
            headers["content-type"] = json!(ct);
            (Some(b), b64)
        }
        None => (None, false),
    };
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000", "apiId": "api", "domainName": "api.example.com", "domainPrefix": "api",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
            "requestId": uuid::Uuid::new_v4().to_string(), "routeKey": "$default", "stage": "$default",
            "time": "23/Nov/2026:00:00:00 +0000", "timeEpoch": Utc::now().timestamp_millis()
        },
        "body": body, "isBase64Encoded": b64
    })
}

fn status_and_body(r: &Value) -> (u64, Value) {
    let status = r["statusCode"].as_u64().unwrap_or(0);
    let body = r["body"]
        .as_str()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, body)
}

// ---------------------------------------------------------------------------------------------
// Measurements

/// One measured request.
struct Req {
    name: String,
    function: &'static str,
    path: String,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
struct Row {
    name: String,
    function: String,
    /// Spawn → the function's first request for an event (Lambda's "Init Duration").
    init_ms: f64,
    /// Spawn → first answer (init + the first invocation, connections opened on the way).
    cold_ms: f64,
    warm_ms: f64,
    warm_cpu_ms: f64,
    rss_mb: f64,
    ddb_calls: f64,
    items_read_1k: f64,
    items_read_100k: f64,
    rcu_1k: f64,
    rcu_100k: f64,
    /// Read capacity as AWS bills it ([`billing`]): per-key and per-Query minimums.
    rcu_billed_1k: f64,
    rcu_billed_100k: f64,
    ms_1k: f64,
    ms_100k: f64,
    /// Spread of the warm median over 5 batches of the warm invocations (max − min, ms).
    ms_spread_1k: f64,
    ms_spread_100k: f64,
}

struct Sample {
    init_ms: f64,
    cold_ms: f64,
    warm_ms: f64,
    cpu_ms: f64,
    rss_mb: f64,
    calls: f64,
    items: f64,
    capacity: f64,
    billed: f64,
    spread: f64,
}

/// Prints the request table (the columns of docs/benchmarks.md).
fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<38} {:>7} {:>8} {:>8} {:>8} {:>7} {:>6} {:>9} {:>9} {:>7} {:>7} {:>8} {:>8} {:>7} {:>7}",
        "request",
        "init ms",
        "cold ms",
        "warm ms",
        "cpu ms",
        "rss MB",
        "calls",
        "items 1k",
        "items100k",
        "bRCU 1k",
        "bRCU100k",
        "ms 1k",
        "ms 100k",
        "±ms 1k",
        "±ms100k"
    );
    for r in rows {
        println!(
            "{:<38} {:>7.1} {:>8.1} {:>8.2} {:>8.3} {:>7.1} {:>6.1} {:>9.1} {:>9.1} {:>7.1} {:>7.1} {:>8.2} {:>8.2} {:>7.2} {:>7.2}",
            r.name, r.init_ms, r.cold_ms, r.warm_ms, r.warm_cpu_ms, r.rss_mb, r.ddb_calls, r.items_read_1k, r.items_read_100k, r.rcu_billed_1k, r.rcu_billed_100k, r.ms_1k, r.ms_100k, r.ms_spread_1k, r.ms_spread_100k
        );
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Invocations of the counting pass (calls, items and capacity are the same on every one).
const COUNTED: usize = 20;

async fn measure(
    env: &Env,
    counts: &Arc<Mutex<DdbCounts>>,
    req: &Req,
    token: &str,
    warm: usize,
    colds: usize,
) -> Sample {
    let wrap = std::env::var("BENCH_WRAP").ok().filter(|w| !w.is_empty());
    let event = || http_event("GET", &req.path, token, None);
    // Timed processes talk to DynamoDB Local directly; `BENCH_TRACE` needs the proxy's log.
    let timed = if tracing_on() {
        Ddb::Counted
    } else {
        Ddb::Direct
    };
    // Cold starts: `colds` fresh processes (median); the last one goes on to the warm part.
    let (mut inits, mut coldv) = (Vec::new(), Vec::new());
    let mut f = None;
    for i in 0..colds.max(1) {
        if tracing_on() {
            eprintln!("spawn {} (t = {:.1} ms)", req.function, trace_clock());
        }
        let g = Function::spawn_wrapped(env, req.function, wrap.as_deref(), timed).await;
        let (first, _) = g.invoke(event()).await;
        if tracing_on() {
            eprintln!("first answer (t = {:.1} ms)", trace_clock());
        }
        coldv.push(g.spawned.elapsed().as_secs_f64() * 1e3);
        inits.push(
            g.ready
                .lock()
                .unwrap()
                .map(|r| (r - g.spawned).as_secs_f64() * 1e3)
                .unwrap_or(0.0),
        );
        let (status, body) = status_and_body(&first);
        assert_eq!(status, 200, "{}: {body} {first}", req.name);
        if i + 1 == colds.max(1) {
            f = Some(g);
        }
    }
    let f = f.expect("one process");
    let (init_ms, cold_ms) = (median(inits), median(coldv));
    // Two unmeasured warm-ups, then the measured invocations.
    for _ in 0..2 {
        f.invoke(event()).await;
    }
    let cpu0 = f.cpu_ns();
    let mut times = Vec::with_capacity(warm);
    let mut cpus = Vec::with_capacity(warm);
    for _ in 0..warm {
        let c0 = f.cpu_ns();
        let (r, took) = f.invoke(event()).await;
        cpus.push((f.cpu_ns() - c0) as f64 / 1e6);
        assert_eq!(r["statusCode"], 200, "{}", req.name);
        times.push(took.as_secs_f64() * 1e3);
    }
    let cpu_ms = (f.cpu_ns() - cpu0) as f64 / 1e6 / warm as f64;
    if std::env::var("BENCH_CPU_DIST").is_ok() {
        let mut c = cpus.clone();
        c.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let q = |p: f64| c[((c.len() - 1) as f64 * p) as usize];
        eprintln!(
            "cpu dist {}: mean {cpu_ms:.3} p10 {:.3} p50 {:.3} p90 {:.3} max {:.3}",
            req.name,
            q(0.1),
            q(0.5),
            q(0.9),
            q(1.0)
        );
    }
    let rss_mb = f.rss_mb();
    if wrap.is_some() {
        // A profiler writes its data on SIGINT, not on the SIGKILL of `kill_on_drop`.
        std::process::Command::new("kill")
            .args(["-INT", &f.pid().to_string()])
            .status()
            .ok();
        let mut f = f;
        tokio::time::timeout(Duration::from_secs(30), f.child.wait())
            .await
            .ok();
    } else {
        drop(f);
    }
    // The counting pass: another warm process, its calls through the proxy.
    let c = Function::spawn(env, req.function).await;
    for _ in 0..2 {
        c.invoke(event()).await;
    }
    *counts.lock().unwrap() = DdbCounts::default();
    for _ in 0..COUNTED {
        let (r, _) = c.invoke(event()).await;
        assert_eq!(r["statusCode"], 200, "{}", req.name);
    }
    let n = counts.lock().unwrap().clone();
    let batch = times.len().div_ceil(5).max(1);
    let medians: Vec<f64> = times.chunks(batch).map(|c| median(c.to_vec())).collect();
    let spread = medians.iter().cloned().fold(f64::MIN, f64::max)
        - medians.iter().cloned().fold(f64::MAX, f64::min);
    Sample {
        init_ms,
        cold_ms,
        billed: n.rcu_billed / COUNTED as f64,
        spread: spread.max(0.0),
        warm_ms: median(times),
        cpu_ms,
        rss_mb,
        calls: n.calls as f64 / COUNTED as f64,
        items: n.items_read as f64 / COUNTED as f64,
        capacity: n.capacity / COUNTED as f64,
    }
}

fn run_rows(job_id: &str, n: usize) -> Vec<Execution> {
    // `* * * * *`: one run a minute back from `n` minutes after the newest seeded so far.
    let now = Utc::now() - CDuration::minutes(1);
    (0..n)
        .map(|i| {
            let started = now - CDuration::minutes(i as i64);
            let ok = i % 10 != 3;
            Execution {
                id: uuid::Uuid::new_v4().to_string(),
                job_id: job_id.into(),
                status: if ok {
                    shared::domain::ExecutionStatus::Success
                } else {
                    shared::domain::ExecutionStatus::Failed
                },
                trigger_type: shared::domain::Trigger::Scheduled,
                started_at: started,
                completed_at: Some(started + CDuration::milliseconds(800)),
                duration_seconds: Some(0.8),
                execution_type: Some(shared::domain::ExecutionType::GithubActions),
                target: Some("Pay-Baymax/repo/wf.yml".into()),
                response_status: Some(if ok { 204 } else { 500 }),
                error_message: (!ok).then(|| "GitHub API error 500".to_string()),
                output: None,
                scheduled_time: Some(started),
                start_delay_ms: Some(40),
                alerts: Default::default(),
                attempts: Vec::new(),
            }
        })
        .collect()
}

fn multipart(csv: &[u8]) -> (String, String) {
    use base64::Engine;
    let boundary = "benchboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"jobs.csv\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(csv);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (
        base64::engine::general_purpose::STANDARD.encode(body),
        format!("multipart/form-data; boundary={boundary}"),
    )
}

async fn bulk(env: &Env, token: &str, csv: &[u8]) -> (f64, Value) {
    bulk_logged(env, token, csv, None).await
}

/// A bulk upload through the jobs function; with `log`, the function logs at `info` there
/// (the answer's `validate_ms`, `write_ms`, `enqueue_ms`).
async fn bulk_logged(
    env: &Env,
    token: &str,
    csv: &[u8],
    log: Option<&std::path::Path>,
) -> (f64, Value) {
    // Timed: straight to DynamoDB Local, as every timed process (the counting proxy parses
    // each body to bill it, which a 100-item transaction makes slow).
    let f = Function::spawn_with(env, "jobs", None, Ddb::Direct, log).await;
    let (b, ct) = multipart(csv);
    let started = Instant::now();
    let (r, _) = f
        .invoke(http_event(
            "POST",
            "/api/v2/jobs/bulk-upload",
            token,
            Some((b, &ct, true)),
        ))
        .await;
    let secs = started.elapsed().as_secs_f64();
    let (status, body) = status_and_body(&r);
    assert_eq!(status, 200, "bulk upload: {body}");
    (secs, body)
}

/// The split the bulk answer logged: `{"validate_ms","write_ms","enqueue_ms"}` from the first
/// log line that has them.
fn bulk_split(log: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    if let Some(line) = text.lines().find(|l| l.contains("validate_ms")) {
        let mut out = serde_json::Map::new();
        for key in ["validate_ms", "write_ms", "enqueue_ms"] {
            let v = line
                .split(key)
                .nth(1)
                .map(|rest| {
                    rest.trim_start_matches(|c: char| !c.is_ascii_digit())
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect::<String>()
                })
                .and_then(|d| d.parse::<u64>().ok());
            out.insert(key.into(), json!(v));
        }
        return Value::Object(out);
    }
    Value::Null
}

#[tokio::main]
async fn main() {
    let out_path = PathBuf::from(
        std::env::var("BENCH_OUT").unwrap_or_else(|_| "target/bench/results.json".into()),
    );
    let warm: usize = std::env::var("BENCH_WARM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let only = std::env::var("BENCH_ONLY").ok().filter(|o| !o.is_empty());
    let colds: usize = std::env::var("BENCH_COLD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let b = setup().await;
    let requests: Vec<Req> = requests(&b.job_id)
        .into_iter()
        .filter(|r| only.as_deref().is_none_or(|o| r.name.contains(o)))
        .collect();
    // `BENCH_SCENARIOS_ONLY=1`: the issue-24 scenarios, the cost model and the bulk upload,
    // without the 1k/100k request table or the delete of the 100k job.
    let scenarios_only = std::env::var("BENCH_SCENARIOS_ONLY").is_ok_and(|v| !v.is_empty());
    let rows = if scenarios_only {
        Vec::new()
    } else {
        let Some(rows) = measure_sizes(&b, &requests, (warm, colds), only.is_some()).await else {
            return;
        };
        rows
    };
    let (sweep, sweep_raw) = scenarios::maintenance_usage(&b, "sweep").await;
    let (reconcile, reconcile_raw) = scenarios::maintenance_usage(&b, "reconcile").await;
    let get_jobs_busy = scenarios::get_jobs_busy(&b, 100).await;
    let ceiling = scenarios::runs_ceiling(&b, 2).await;
    let notification_writes = scenarios::notification_writes(&b).await;
    let mark_all_read = scenarios::mark_all_read(&b).await;
    let cpu_share = scenarios::cold_cpu_share(&b, &b.job_id, colds.min(5), 20).await;
    let inputs = cost::Inputs {
        run: scenarios::run_usage(&ceiling, &sweep),
        sweep,
        reconcile,
        secrets: 1.0,
        alarms: 5.0,
        run_item_bytes: 1000.0,
    };
    let cost = cost::model(&inputs);
    let (rows_1000_s, schedules_1000_s, schedules, split) = bulk_1000(&b).await;
    let (delete_job_100k_s, purge_100k_s, purge_done, left) = if scenarios_only {
        (0.0, 0.0, false, 0)
    } else {
        delete_100k(&b).await
    };
    let packages = package_sizes();
    let rows_108_s = b.rows_108_s;
    print_table(&rows);
    println!();
    println!("bulk upload: 108 rows {rows_108_s:.2} s, 1,000 rows {rows_1000_s:.2} s (answer: parse, validate, write, enqueue: {split}); their {schedules} schedules {schedules_1000_s:.2} s later (the outbox task, maintenance function)");
    println!("delete of a job with 100,000 runs: answered in {delete_job_100k_s:.3} s; history purged in {purge_100k_s:.1} s ({left} left)");
    println!(
        "GET /jobs, every job with runs: {get_jobs_busy}\nnotification writes per failed run: {notification_writes}\nread-all: {mark_all_read}\nruns/s ceiling: {} by partition, {} by item\ncost: idle {:.2} USD/month, {:.2} USD per million runs, 100 jobs hourly {:.2} USD/month, 10,000 jobs every minute {:.0} USD/month",
        ceiling["by_partition"], ceiling["by_item"],
        cost["idle_month_usd"].as_f64().unwrap_or(0.0),
        cost["per_million_runs_usd"].as_f64().unwrap_or(0.0),
        cost["jobs_100_hourly_month"]["total"].as_f64().unwrap_or(0.0),
        cost["jobs_10000_every_minute_month"]["total"].as_f64().unwrap_or(0.0)
    );
    for (k, v) in &packages {
        println!(
            "package {k}: {:.2} MB zipped",
            v.as_u64().unwrap_or(0) as f64 / 1_048_576.0
        );
    }
    // The reconciliation at 10,000 jobs under Scheduler's quotas comes from
    // `make bench-reconcile` (written to target/bench/reconcile.json when it ran).
    let reconcile_10k = std::fs::read_to_string(
        out_path
            .parent()
            .map(|d| d.join("reconcile.json"))
            .unwrap_or_default(),
    )
    .ok()
    .and_then(|s| serde_json::from_str::<Value>(&s).ok());
    let results = json!({
        "requests": rows,
        "bulk": {"rows_108_s": rows_108_s, "rows_1000_s": rows_1000_s, "rows_1000_split": split, "schedules_after_1000": schedules, "schedules_1000_s": schedules_1000_s},
        "packages_zip_bytes": packages,
        "delete_job_100k_s": delete_job_100k_s,
        "purge_job_100k_s": purge_100k_s,
        "purge_finished": purge_done,
        "runs_left_after_purge": left,
        "warm_invocations_per_request": warm,
        "get_jobs_busy": get_jobs_busy,
        "cold_ms_cpu_share": cpu_share,
        "notification_writes_per_failed_run": notification_writes,
        "mark_all_read_writes": mark_all_read["items_written"],
        "mark_all_read": mark_all_read,
        "runs_per_second_ceiling": ceiling["by_partition"],
        "runs_per_second": ceiling,
        "maintenance": {"sweep": sweep_raw, "reconcile": reconcile_raw},
        "reconcile_s": reconcile_10k.as_ref().map(|r| r["reconcile_s"].clone()),
        "reconcile_10k": reconcile_10k,
        "cost": cost,
    });
    if let Some(dir) = out_path.parent() {
        std::fs::create_dir_all(dir).ok();
    }
    std::fs::write(&out_path, serde_json::to_string_pretty(&results).unwrap()).unwrap();
    println!("written: {}", out_path.display());
}

/// What every phase of the bench works with.
struct Bench {
    env: Env,
    state: AppState,
    counts: Arc<Mutex<DdbCounts>>,
    token: String,
    /// The job that gets 1,000 then 100,000 runs.
    job_id: String,
    rows_108_s: f64,
}

/// The counting proxy, a fresh table with the admin, five teams and the real 108-row bulk
/// file (its upload timed; 46 jobs kept).
async fn setup() -> Bench {
    let bin_dir = PathBuf::from(std::env::var("BENCH_BIN_DIR").expect("BENCH_BIN_DIR"));
    let ddb = std::env::var("BENCH_DDB").expect("BENCH_DDB");
    let csv_path = std::env::var("BENCH_CSV")
        .unwrap_or_else(|_| "tests/fixtures/job-master-github-actions.refreshed.csv".into());
    // Counting proxy in front of DynamoDB Local.
    let counts: Arc<Mutex<DdbCounts>> = Default::default();
    let p = Proxy {
        upstream: ddb.clone(),
        http: reqwest::Client::new(),
        counts: counts.clone(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ddb_proxy = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, Router::new().route("/", any(proxy)).with_state(p))
            .await
            .ok()
    });

    // Seeding goes straight to DynamoDB Local through the same store code.
    let mut config = Config::from_env();
    config.table_name = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    config.schedule_group = config.table_name.clone();
    config.mail_from = None;
    let sdk = shared::config::sdk_loader().endpoint_url(&ddb).load().await;
    let moto_sdk = shared::config::sdk_config().await;
    let state = AppState::new(
        config.clone(),
        aws_sdk_dynamodb::Client::new(&sdk),
        aws_sdk_scheduler::Client::new(&moto_sdk),
        aws_sdk_sesv2::Client::new(&moto_sdk),
    );
    infra::provision(&state, std::path::Path::new("template.yaml"))
        .await
        .expect("provision");
    web::services::auth::ensure_admin(&state, "admin", "admin@example.com", "admin123")
        .await
        .expect("admin");
    let env = Env {
        bin_dir,
        ddb_proxy,
        ddb_direct: ddb.clone(),
        config,
    };

    // Log in through the auth function (also its cold start).
    let auth = Function::spawn(&env, "auth").await;
    let (r, _) = auth
        .invoke(json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/api/v2/auth/login", "rawQueryString": "",
            "headers": {"content-type": "application/json"},
            "requestContext": {"accountId": "0", "apiId": "api", "domainName": "d", "domainPrefix": "d",
                "http": {"method": "POST", "path": "/api/v2/auth/login", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
                "requestId": "login", "routeKey": "$default", "stage": "$default", "time": "", "timeEpoch": 0},
            "body": json!({"username": "admin", "password": "admin123"}).to_string(), "isBase64Encoded": false
        }))
        .await;
    drop(auth);
    let token = status_and_body(&r).1["access_token"]
        .as_str()
        .expect("login")
        .to_string();

    // Teams, then the real 108-row file (the bulk figure for 108 rows); 46 jobs are kept.
    let tax = Function::spawn(&env, "taxonomy").await;
    for t in ["PAM", "CAG", "QA Tech", "O2O", "FSBP"] {
        let body = json!({"name": t, "slack_handle": format!("@{t}")}).to_string();
        let (r, _) = tax
            .invoke(http_event(
                "POST",
                "/api/v2/pic-teams",
                &token,
                Some((body, "application/json", false)),
            ))
            .await;
        assert_eq!(r["statusCode"], 201, "team {t}: {r}");
    }
    drop(tax);
    let csv = std::fs::read(&csv_path).expect("bulk CSV");
    let (rows_108_s, v) = bulk(&env, &token, &csv).await;
    eprintln!(
        "bench: bulk 108 rows: {rows_108_s:.2} s, {} created",
        v["created_count"]
    );
    let mut jobs = state.store.list_jobs().await.unwrap();
    jobs.sort_by(|a, b| a.name.cmp(&b.name));
    for j in jobs.iter().skip(46) {
        state.store.delete_job(j, &[], None).await.unwrap();
    }
    let job_id = jobs[0].id.clone();
    // Purge tasks of those deletes are nothing to measure: drain them now.
    state.alerts.drain(50).await.unwrap();
    Bench {
        env,
        state,
        counts,
        token,
        job_id,
        rows_108_s,
    }
}

/// The requests measured (`BENCH_ONLY` filters them).
fn requests(job_id: &str) -> Vec<Req> {
    vec![
        Req {
            name: "GET /jobs (46 jobs)".into(),
            function: "jobs",
            path: "/api/v2/jobs".into(),
        },
        Req {
            name: "GET /jobs/{id}".into(),
            function: "jobs",
            path: format!("/api/v2/jobs/{job_id}"),
        },
        Req {
            name: "GET /jobs/{id}/executions".into(),
            function: "executions",
            path: format!("/api/v2/jobs/{job_id}/executions"),
        },
        Req {
            name: "GET /jobs/{id}/executions/stats".into(),
            function: "executions",
            path: format!("/api/v2/jobs/{job_id}/executions/stats"),
        },
        Req {
            name: "GET /executions".into(),
            function: "executions",
            path: "/api/v2/executions".into(),
        },
        Req {
            name: "GET /executions?page=5".into(),
            function: "executions",
            path: "/api/v2/executions?page=5".into(),
        },
        Req {
            name: "GET /executions/statistics".into(),
            function: "executions",
            path: "/api/v2/executions/statistics".into(),
        },
        Req {
            name: "GET /executions/statistics (7 days)".into(),
            function: "executions",
            path: format!(
                "/api/v2/executions/statistics?from={}",
                (Utc::now() - CDuration::days(7)).format("%Y-%m-%d")
            ),
        },
        Req {
            name: "GET /notifications/unread-count".into(),
            function: "notifications",
            path: "/api/v2/notifications/unread-count".into(),
        },
        Req {
            name: "GET /notifications".into(),
            function: "notifications",
            path: "/api/v2/notifications".into(),
        },
        Req {
            name: "GET /auth/me".into(),
            function: "auth",
            path: "/api/v2/auth/me".into(),
        },
        Req {
            name: "GET /job-categories".into(),
            function: "taxonomy",
            path: "/api/v2/job-categories".into(),
        },
        Req {
            name: "GET /settings/slack".into(),
            function: "settings",
            path: "/api/v2/settings/slack".into(),
        },
        Req {
            name: "GET /health".into(),
            function: "system",
            path: "/api/v2/health".into(),
        },
    ]
}

/// Every request at 1,000 then at 100,000 runs of one job (`warm` invocations, `colds` cold
/// starts each). `None` when `only` (a `BENCH_ONLY` run) stops after printing them.
async fn measure_sizes(
    b: &Bench,
    requests: &[Req],
    (warm, colds): (usize, usize),
    only: bool,
) -> Option<Vec<Row>> {
    // 1,000 runs of one job over the same ~69 days as the 100,000 that follow (every 100th
    // minute), so both sizes cover the same days and only the density differs.
    let (sparse, dense): (Vec<_>, Vec<_>) = run_rows(&b.job_id, 100_000)
        .into_iter()
        .enumerate()
        .partition(|(i, _)| i % 100 == 0);
    let sparse: Vec<Execution> = sparse.into_iter().map(|(_, e)| e).collect();
    let dense: Vec<Execution> = dense.into_iter().map(|(_, e)| e).collect();
    b.state.store.seed_executions(&sparse).await.unwrap();
    // One unmeasured pass first: DynamoDB Local is a JVM, and whatever runs first pays its
    // warm-up (without this, every 1k figure is inflated and every ratio flattered).
    for req in requests {
        measure(&b.env, &b.counts, req, &b.token, 20, 1).await;
    }
    let mut rows: Vec<Row> = Vec::new();
    for req in requests {
        let s = measure(&b.env, &b.counts, req, &b.token, warm, colds).await;
        eprintln!(
            "bench: 1k   {:<40} {:>7.2} ms warm, {:>6.1} items",
            req.name, s.warm_ms, s.items
        );
        rows.push(Row {
            name: req.name.clone(),
            function: req.function.into(),
            init_ms: s.init_ms,
            cold_ms: s.cold_ms,
            warm_ms: s.warm_ms,
            warm_cpu_ms: s.cpu_ms,
            rss_mb: s.rss_mb,
            ddb_calls: s.calls,
            items_read_1k: s.items,
            rcu_1k: s.capacity,
            rcu_billed_1k: s.billed,
            ms_spread_1k: s.spread,
            ms_1k: s.warm_ms,
            ..Default::default()
        });
    }
    if only && std::env::var("BENCH_ONLY_1K").is_ok_and(|v| !v.is_empty()) {
        print_table(&rows);
        return None;
    }
    // 100,000 runs (99,000 more, older).
    let seeded = Instant::now();
    for chunk in dense.chunks(10_000) {
        b.state.store.seed_executions(chunk).await.unwrap();
    }
    eprintln!(
        "bench: seeded 99,000 more runs in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    // The same unmeasured pass as before the 1k figures: seeding leaves DynamoDB Local's JVM
    // with garbage to collect and cold pages, which would otherwise land on the first requests.
    for req in requests {
        measure(&b.env, &b.counts, req, &b.token, 20, 1).await;
    }
    for (req, row) in requests.iter().zip(rows.iter_mut()) {
        let s = measure(&b.env, &b.counts, req, &b.token, warm, colds).await;
        eprintln!(
            "bench: 100k {:<40} {:>7.2} ms warm, {:>6.1} items",
            req.name, s.warm_ms, s.items
        );
        row.items_read_100k = s.items;
        row.rcu_100k = s.capacity;
        row.ms_100k = s.warm_ms;
        // Warm figures of the larger table; calls are the same at both sizes.
        row.warm_ms = s.warm_ms;
        row.warm_cpu_ms = s.cpu_ms;
        row.ddb_calls = row.ddb_calls.max(s.calls);
        row.rcu_billed_100k = s.billed;
        row.ms_spread_100k = s.spread;
        // Cold start and memory: the worse of the two runs.
        row.cold_ms = row.cold_ms.max(s.cold_ms);
        row.init_ms = row.init_ms.max(s.init_ms);
        row.rss_mb = row.rss_mb.max(s.rss_mb);
    }
    if only {
        print_table(&rows);
        return None;
    }
    Some(rows)
}

/// A bulk upload of 1,000 enabled rows: the answer, then how long until their schedules exist.
/// `(answer s, schedules s, schedules in the group, the answer's split)`.
/// Hands every due outbox task to the maintenance function `maint` as the table's stream
/// would (records of 25), until none is due.
async fn deliver_outbox(b: &Bench, maint: &Function) {
    loop {
        let ids = b.state.store.due_outbox(25).await.unwrap();
        if ids.is_empty() {
            break;
        }
        let records: Vec<Value> = ids
            .iter()
            .map(|id| json!({"eventName": "INSERT", "dynamodb": {"Keys": {"PK": {"S": format!("OUTBOX#{id}")}, "SK": {"S": "OUTBOX"}}}}))
            .collect();
        maint.invoke(json!({"Records": records})).await;
    }
}

async fn bulk_1000(b: &Bench) -> (f64, f64, usize, Value) {
    // Three uploads of 1,000 enabled rows (different names): the median answer is the figure;
    // the schedules of the last one are timed.
    let mut answers = Vec::new();
    let mut splits = Vec::new();
    let mut v = Value::Null;
    for rep in ["a", "b", ""] {
        let mut big = String::from("Job Name,Repo,Workflow Name,Branch,Cron schedule (JST),Status,End Date,PIC Team,Request Body\n");
        for i in 0..1000 {
            big.push_str(&format!(
                "bench-{rep}{i:04},repo-{i},wf.yml,main,{} 9 * * 1,Enable,2031-01-01,PAM,\"{{\"\"n\"\": {i}}}\"\n",
                i % 60
            ));
        }
        let log = std::env::temp_dir().join(format!("bench-bulk-1000{rep}.log"));
        let (s, body) = bulk_logged(&b.env, &b.token, big.as_bytes(), Some(&log)).await;
        answers.push(s);
        splits.push(bulk_split(&log));
        eprintln!(
            "bench: bulk 1,000 rows ({rep}): {s:.2} s {}",
            splits.last().unwrap_or(&Value::Null)
        );
        v = body;
        if !rep.is_empty() {
            // Their schedules are not part of the figure: let the maintenance binary make them.
            let maint = Function::spawn(&b.env, "maintenance").await;
            deliver_outbox(b, &maint).await;
        }
    }
    let rows_1000_s = median(answers.clone());
    let split = json!({"answers_s": answers, "splits": splits});
    // The answer comes once the jobs are written; their schedules follow through the outbox,
    // delivered by the maintenance function as the table's stream invokes it.
    let started = Instant::now();
    let maint = Function::spawn(&b.env, "maintenance").await;
    deliver_outbox(b, &maint).await;
    let schedules_1000_s = started.elapsed().as_secs_f64();
    drop(maint);
    let schedules = b
        .state
        .schedules
        .list_names()
        .await
        .map(|s| s.len())
        .unwrap_or(0);
    eprintln!(
        "bench: bulk 1,000 rows: answered in {rows_1000_s:.2} s, {} created; {schedules} schedules in the group {schedules_1000_s:.2} s later",
        v["created_count"]
    );
    (rows_1000_s, schedules_1000_s, schedules, split)
}

/// The delete of the job with 100,000 runs: `(answer s, purge s, purge finished, runs left)`.
async fn delete_100k(b: &Bench) -> (f64, f64, bool, usize) {
    // Delete the job with 100,000 runs: the answer, then the purge the maintenance function
    // performs (invoked as the table's stream would).
    let jobs_fn = Function::spawn(&b.env, "jobs").await;
    let (r, took) = jobs_fn
        .invoke(http_event(
            "DELETE",
            &format!("/api/v2/jobs/{}", b.job_id),
            &b.token,
            None,
        ))
        .await;
    assert_eq!(r["statusCode"], 200, "{r}");
    let delete_job_100k_s = took.as_secs_f64();
    let (r, _) = Function::spawn(&b.env, "executions")
        .await
        .invoke(http_event(
            "GET",
            &format!("/api/v2/jobs/{}/executions", b.job_id),
            &b.token,
            None,
        ))
        .await;
    let hidden = r["statusCode"] == 404;
    let maint = Function::spawn(&b.env, "maintenance").await;
    let purge_started = Instant::now();
    let stream_event = json!({"Records": [{"eventName": "INSERT", "dynamodb": {"Keys": {"PK": {"S": format!("OUTBOX#purge-{}", b.job_id)}, "SK": {"S": "OUTBOX"}}}}]});
    let mut purge_done = false;
    for _ in 0..10 {
        maint.invoke(stream_event.clone()).await;
        if b.state
            .store
            .outbox_status(&format!("purge-{}", b.job_id))
            .await
            .unwrap()
            .is_some_and(|s| s.0 == "delivered")
        {
            purge_done = true;
            break;
        }
    }
    let purge_100k_s = purge_started.elapsed().as_secs_f64();
    let left = b
        .state
        .store
        .all_job_executions(&b.job_id)
        .await
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    eprintln!(
        "bench: delete of the job with 100,000 runs answered in {delete_job_100k_s:.3} s (its runs hidden: {hidden}); purge {} in {purge_100k_s:.1} s, {left} runs left",
        if purge_done { "finished" } else { "NOT finished" }
    );
    (delete_job_100k_s, purge_100k_s, purge_done, left)
}

/// Zipped package sizes (`BENCH_ZIP_DIR`, cargo lambda's output), by function.
fn package_sizes() -> serde_json::Map<String, Value> {
    // Package sizes (cargo lambda build --release --arm64 --output-format zip).
    let mut packages = serde_json::Map::new();
    if let Ok(dir) = std::env::var("BENCH_ZIP_DIR") {
        for f in [
            "auth",
            "jobs",
            "executions",
            "taxonomy",
            "notifications",
            "settings",
            "system",
            "executor",
            "maintenance",
        ] {
            if let Ok(m) = std::fs::metadata(PathBuf::from(&dir).join(f).join("bootstrap.zip")) {
                packages.insert(f.into(), json!(m.len()));
            }
        }
    }
    packages
}
