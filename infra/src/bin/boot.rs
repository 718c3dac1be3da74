//! `boot`: runs every packaged function of `template.yaml` as Lambda would, on this machine:
//! its `bootstrap` (as built by `sam build` into `.aws-sam/build/<LogicalId>/`, arm64, run
//! under `qemu-aarch64`) with the template's environment for that function (intrinsics
//! resolved to local values, secrets replaced by local stand-ins, conditions taken as
//! false), talking to a local Lambda Runtime API that hands it one event: a CORS preflight
//! for each HTTP function (`GET /api/v2/health` for the system function), a schedule
//! delivery it ignores for the executor, an empty stream batch for the maintenance function.
//! Prints `booted <LogicalId>` with what it answered, per function; exits 1 if any did not.
//!
//! ```text
//! boot [--build-dir .aws-sam/build] [--template template.yaml] [--runner "qemu-aarch64 -L /usr/aarch64-linux-gnu"]
//! ```

use axum::{
    body::Bytes,
    extract::State,
    http::HeaderMap,
    response::IntoResponse,
    routing::{get, post},
    Router,
};
use serde_json::{json, Value};
use serde_yaml::Value as Yaml;
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::sync::oneshot;

const REGION: &str = "ap-northeast-1";
/// Stands in for every `{{resolve:secretsmanager:…}}` (64 characters, like the generated key).
const LOCAL_SECRET: &str = "local-boot-check-secret-0123456789abcdef0123456789abcdef01234567";

/// Where the one invocation's outcome goes: the response, or the error the function posted.
type Outcome = oneshot::Sender<Result<Value, String>>;

#[derive(Clone)]
struct Runtime {
    event: Arc<Mutex<Option<Value>>>,
    done: Arc<Mutex<Option<Outcome>>>,
}

async fn next(State(rt): State<Runtime>) -> impl IntoResponse {
    let event = rt.event.lock().unwrap().take();
    let Some(event) = event else {
        // One invocation only: hold the next poll until the process is stopped.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return (HeaderMap::new(), axum::Json(Value::Null));
    };
    let mut h = HeaderMap::new();
    h.insert(
        "lambda-runtime-aws-request-id",
        "boot-0001".parse().unwrap(),
    );
    let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
    h.insert(
        "lambda-runtime-deadline-ms",
        deadline.to_string().parse().unwrap(),
    );
    h.insert(
        "lambda-runtime-invoked-function-arn",
        format!("arn:aws:lambda:{REGION}:000000000000:function:boot")
            .parse()
            .unwrap(),
    );
    h.insert(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000".parse().unwrap(),
    );
    (h, axum::Json(event))
}

fn finish(rt: &Runtime, r: Result<Value, String>) {
    if let Some(tx) = rt.done.lock().unwrap().take() {
        tx.send(r).ok();
    }
}

async fn response(State(rt): State<Runtime>, body: Bytes) -> &'static str {
    finish(
        &rt,
        Ok(serde_json::from_slice(&body).unwrap_or(Value::Null)),
    );
    "{}"
}

async fn error(State(rt): State<Runtime>, body: Bytes) -> &'static str {
    finish(&rt, Err(String::from_utf8_lossy(&body).into_owned()));
    "{}"
}

/// A template value of an environment variable, resolved locally.
fn resolve(v: &Yaml, params: &BTreeMap<String, String>) -> Result<String, String> {
    let name = |n: &str| {
        infra::iam::resolve_name(n, REGION)
            .or_else(|| params.get(n).cloned())
            .ok_or_else(|| format!("cannot resolve {n}"))
    };
    let secrets = |s: String| {
        if s.contains("{{resolve:secretsmanager:") {
            LOCAL_SECRET.to_string()
        } else {
            s
        }
    };
    match v {
        Yaml::String(s) => Ok(secrets(s.clone())),
        Yaml::Number(n) => Ok(n.to_string()),
        Yaml::Bool(b) => Ok(b.to_string()),
        Yaml::Tagged(t) => {
            let tag = t.tag.to_string();
            match (tag.trim_start_matches('!'), &t.value) {
                ("Ref", Yaml::String(n)) | ("GetAtt", Yaml::String(n)) => name(n),
                ("Sub", Yaml::String(s)) => {
                    let mut out = String::new();
                    let mut rest = s.as_str();
                    while let Some(i) = rest.find("${") {
                        out.push_str(&rest[..i]);
                        let end = rest[i..].find('}').ok_or("unclosed ${")? + i;
                        out.push_str(&name(&rest[i + 2..end])?);
                        rest = &rest[end + 1..];
                    }
                    out.push_str(rest);
                    Ok(secrets(out))
                }
                // Conditions are taken as false (the parameters' empty defaults).
                ("If", Yaml::Sequence(a)) if a.len() == 3 => resolve(&a[2], params),
                (other, _) => Err(format!("unsupported !{other} in an environment")),
            }
        }
        other => Err(format!("unsupported environment value {other:?}")),
    }
}

struct FunctionSpec {
    id: String,
    env: BTreeMap<String, String>,
    memory_mb: u64,
    http: bool,
}

fn specs(template: &str) -> Result<Vec<FunctionSpec>, String> {
    let doc: Yaml = serde_yaml::from_str(template).map_err(|e| e.to_string())?;
    let params: BTreeMap<String, String> = doc
        .get("Parameters")
        .and_then(Yaml::as_mapping)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let d = v.get("Default")?;
            let d = match d {
                Yaml::String(s) => s.clone(),
                Yaml::Number(n) => n.to_string(),
                _ => return None,
            };
            Some((k.as_str()?.to_string(), d))
        })
        .collect();
    let globals = doc.pointer_env("Globals");
    let limits = infra::limits::functions(template);
    let mut out = Vec::new();
    for (id, res) in doc
        .get("Resources")
        .and_then(Yaml::as_mapping)
        .into_iter()
        .flatten()
    {
        if res.get("Type").and_then(Yaml::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let id = id.as_str().unwrap_or_default().to_string();
        let mut env = BTreeMap::new();
        for vars in [globals, res.pointer_env("Resources")] {
            for (k, v) in vars.into_iter().flatten() {
                let k = k.as_str().unwrap_or_default().to_string();
                env.insert(
                    k.clone(),
                    resolve(v, &params).map_err(|e| format!("{id} {k}: {e}"))?,
                );
            }
        }
        let http = res
            .get("Properties")
            .and_then(|p| p.get("Events"))
            .and_then(Yaml::as_mapping)
            .is_some_and(|m| {
                m.values()
                    .any(|e| e.get("Type").and_then(Yaml::as_str) == Some("HttpApi"))
            });
        out.push(FunctionSpec {
            memory_mb: limits.get(&id).map_or(128, |l| l.memory_mb),
            id,
            env,
            http,
        });
    }
    Ok(out)
}

/// `Environment.Variables` of a `Globals.Function` or a resource's `Properties`.
trait EnvOf {
    fn pointer_env(&self, root: &str) -> Option<&serde_yaml::Mapping>;
}

impl EnvOf for Yaml {
    fn pointer_env(&self, root: &str) -> Option<&serde_yaml::Mapping> {
        let base = if root == "Globals" {
            self.get("Globals")?.get("Function")?
        } else {
            self.get("Properties")?
        };
        base.get("Environment")?.get("Variables")?.as_mapping()
    }
}

fn event_for(spec: &FunctionSpec) -> (Value, &'static str) {
    let http = |method: &str, headers: Value| {
        json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/api/v2/health",
            "rawQueryString": "", "headers": headers,
            "requestContext": {"accountId": "000000000000", "apiId": "boot", "domainName": "boot.local",
                "domainPrefix": "boot", "http": {"method": method, "path": "/api/v2/health",
                "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "boot"},
                "requestId": "boot", "routeKey": "$default", "stage": "$default",
                "time": "07/Dec/2026:00:00:00 +0000", "timeEpoch": 1796601600000u64},
            "isBase64Encoded": false
        })
    };
    match (spec.id.as_str(), spec.http) {
        ("SystemFunction", _) => (
            http("GET", json!({"host": "boot.local"})),
            "GET /api/v2/health",
        ),
        (_, true) => (
            http(
                "OPTIONS",
                json!({"host": "boot.local", "origin": "http://localhost:5173",
                       "access-control-request-method": "GET"}),
            ),
            "CORS preflight",
        ),
        ("MaintenanceFunction", _) => (json!({"Records": []}), "an empty stream batch"),
        _ => (json!({"boot": "no-op"}), "a no-op delivery"),
    }
}

async fn boot(spec: &FunctionSpec, build_dir: &str, runner: &[String]) -> Result<String, String> {
    let (event, what) = event_for(spec);
    let (tx, rx) = oneshot::channel();
    let rt = Runtime {
        event: Arc::new(Mutex::new(Some(event))),
        done: Arc::new(Mutex::new(Some(tx))),
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(rt);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let bootstrap = format!("{build_dir}/{}/bootstrap", spec.id);
    if !std::path::Path::new(&bootstrap).exists() {
        return Err(format!("{bootstrap} is missing (run sam build)"));
    }
    let mut cmd = tokio::process::Command::new(&runner[0]);
    cmd.args(&runner[1..])
        .arg(&bootstrap)
        .env_clear()
        .envs(&spec.env)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &spec.id)
        .env(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            spec.memory_mb.to_string(),
        )
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", spec.id),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "boot")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_REGION", REGION)
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "boot")
        .env("AWS_SECRET_ACCESS_KEY", "boot")
        // Nothing answers here: a function that calls AWS to boot shows it as a failure.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("_HANDLER", "bootstrap")
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("{}: {e}", runner[0]))?;
    let outcome = tokio::time::timeout(Duration::from_secs(90), rx).await;
    let _ = child.kill().await;
    server.abort();
    let ms = started.elapsed().as_millis();
    match outcome {
        Ok(Ok(Ok(v))) => {
            let detail = match v.get("statusCode") {
                Some(code) => format!("{what} → {code}"),
                None => format!(
                    "{what} → {}",
                    v.get("outcome").or(v.get("task")).unwrap_or(&v)
                ),
            };
            let ok = v
                .get("statusCode")
                .is_none_or(|c| c.as_u64().is_some_and(|c| c < 400));
            if ok {
                Ok(format!("{detail} in {ms} ms"))
            } else {
                Err(format!("{detail}: {v}"))
            }
        }
        Ok(Ok(Err(e))) => Err(format!("invocation failed: {e}")),
        _ => {
            let mut err = String::new();
            if let Some(mut s) = child.stderr.take() {
                use tokio::io::AsyncReadExt;
                let _ =
                    tokio::time::timeout(Duration::from_secs(1), s.read_to_string(&mut err)).await;
            }
            Err(format!(
                "no answer within 90 s; stderr: {}",
                err.chars().take(2000).collect::<String>()
            ))
        }
    }
}

fn main() {
    let mut build_dir = ".aws-sam/build".to_string();
    let mut template = "template.yaml".to_string();
    let mut runner = "qemu-aarch64 -L /usr/aarch64-linux-gnu".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let v = args.next().unwrap_or_default();
        match flag.as_str() {
            "--build-dir" => build_dir = v,
            "--template" => template = v,
            "--runner" => runner = v,
            other => {
                eprintln!("boot: unknown flag {other}");
                std::process::exit(2)
            }
        }
    }
    let runner: Vec<String> = runner.split_whitespace().map(str::to_string).collect();
    let text = std::fs::read_to_string(&template).unwrap_or_else(|e| {
        eprintln!("boot: {template}: {e}");
        std::process::exit(2)
    });
    let specs = specs(&text).unwrap_or_else(|e| {
        eprintln!("boot: {e}");
        std::process::exit(2)
    });
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut failed = 0;
    for spec in &specs {
        match rt.block_on(boot(spec, &build_dir, &runner)) {
            Ok(d) => println!("booted {} ({d})", spec.id),
            Err(e) => {
                failed += 1;
                println!("FAILED {}: {e}", spec.id)
            }
        }
    }
    println!(
        "boot: {} of {} functions booted",
        specs.len() - failed,
        specs.len()
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
