//! The emulator front: one loopback endpoint in front of DynamoDB Local and moto that does
//! what the emulators do not and AWS does (`make test` points `AWS_ENDPOINT_URL` and
//! `AWS_ENDPOINT_URL_DYNAMODB` at it).
//!
//! - **Routing**: a request with `X-Amz-Target: DynamoDB_20120810.*` goes to DynamoDB
//!   Local, everything else (EventBridge Scheduler, SES v2) to moto; answers come back as is.
//! - **Recording** (`--record FILE`): each call made by a client that names itself (the SDK
//!   app name, [`shared::config::sdk_config_for`]) is classified into the IAM actions and
//!   resources AWS would authorize ([`crate::iam::classify`]) and appended once per distinct
//!   `(function, action, resource)` as a JSON line. A call the classifier does not know is
//!   recorded as action `unknown:<METHOD> <path>`, which no policy grants: the IAM check fails
//!   closed. `make check-iam` reads the file.
//! - **AWS's request limits**, which the emulators do not enforce: DynamoDB items over 400 KB
//!   (as DynamoDB sizes them: attribute names plus values), transactions of more than 100
//!   items or 4 MB, `BatchWriteItem` over 25 and `BatchGetItem` over 100 keys, a schedule's
//!   `Input` over 256 KB — each answered with the service's `ValidationException`.
//! - **Throttling mode**, for resources whose table or schedule group name starts with
//!   [`THROTTLED_PREFIX`] (a test opts in by its names; the others run unthrottled):
//!   Scheduler calls above the per-API default request rates ([`SCHEDULER_QUOTAS`], per
//!   second, scaled by `--quota-scale`) answer `ThrottlingException` (429) for the rest of the
//!   second, as Scheduler does; DynamoDB data calls answer
//!   `ProvisionedThroughputExceededException` at random (`--ddb-throttle`, a probability).

use crate::iam::{self, Recorded};
use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    Router,
};
use serde_json::Value;
use std::{
    collections::{HashMap, HashSet},
    io::Write,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Instant,
};

/// `GET` on this path answers the front's own counters (`{"throttled": {"scheduler": n,
/// "dynamodb": n}}`) instead of forwarding.
pub const STATS_PATH: &str = "/_front/stats";

/// Table and schedule-group names that opt in to the throttling mode.
pub const THROTTLED_PREFIX: &str = "thr-";

/// EventBridge Scheduler's default request rates per second in ap-northeast-1 (Service
/// Quotas, "Quotas for Amazon EventBridge Scheduler"): the per-API quotas the throttling
/// mode enforces, before `--quota-scale`.
pub const SCHEDULER_QUOTAS: &[(&str, f64)] = &[
    ("scheduler:CreateSchedule", 1000.0),
    ("scheduler:UpdateSchedule", 1000.0),
    ("scheduler:DeleteSchedule", 1000.0),
    ("scheduler:GetSchedule", 1000.0),
    ("scheduler:ListSchedules", 50.0),
    ("scheduler:CreateScheduleGroup", 10.0),
    ("scheduler:GetScheduleGroup", 10.0),
];

/// DynamoDB's item size limit, bytes.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// DynamoDB's limit on the items of one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;
/// DynamoDB's limit on the size of one transaction request, bytes.
pub const MAX_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;
/// EventBridge Scheduler's limit on a target's `Input`, bytes.
pub const MAX_SCHEDULE_INPUT_BYTES: usize = 256 * 1024;

/// How the front runs.
#[derive(Clone, Debug)]
pub struct FrontConfig {
    /// DynamoDB Local base URL.
    pub dynamodb: String,
    /// moto base URL.
    pub moto: String,
    /// Where to append recorded calls (truncated at start).
    pub record: Option<PathBuf>,
    /// Multiplies [`SCHEDULER_QUOTAS`] in the throttling mode.
    pub quota_scale: f64,
    /// Probability that a DynamoDB data call in the throttling mode is throttled.
    pub ddb_throttle: f64,
}

/// The distinct calls recorded so far and the file they are appended to.
type Recorder = Arc<Mutex<(HashSet<Recorded>, std::fs::File)>>;

#[derive(Clone)]
struct Front {
    cfg: Arc<FrontConfig>,
    http: reqwest::Client,
    recorder: Option<Recorder>,
    /// Scheduler calls per action in the current one-second window.
    windows: Arc<Mutex<HashMap<String, (Instant, f64)>>>,
    /// Calls answered with a throttling error so far: `(scheduler, dynamodb)`.
    throttled: Arc<Mutex<(u64, u64)>>,
}

/// The front's router (bind it on loopback).
pub fn router(cfg: FrontConfig) -> std::io::Result<Router> {
    let recorder = match &cfg.record {
        Some(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            Some(Arc::new(Mutex::new((
                HashSet::new(),
                std::fs::File::create(path)?,
            ))))
        }
        None => None,
    };
    let front = Front {
        cfg: Arc::new(cfg),
        http: reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(std::io::Error::other)?,
        recorder,
        windows: Arc::default(),
        throttled: Arc::default(),
    };
    Ok(Router::new()
        .fallback(handle)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(front))
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn error(status: StatusCode, kind: &str, message: &str, dynamodb: bool) -> Response {
    let body = if dynamodb {
        serde_json::json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"), "message": message})
    } else {
        serde_json::json!({"Message": message})
    };
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut().insert(
        "x-amzn-errortype",
        HeaderValue::from_str(kind).expect("ascii"),
    );
    r
}

async fn handle(
    State(f): State<Front>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if uri.path() == STATS_PATH {
        let (scheduler, dynamodb) = *f.throttled.lock().expect("stats");
        return axum::Json(
            serde_json::json!({"throttled": {"scheduler": scheduler, "dynamodb": dynamodb}}),
        )
        .into_response();
    }
    let target = header(&headers, "x-amz-target");
    let dynamodb = target.is_some_and(|t| t.starts_with("DynamoDB_"));
    let region = header(&headers, "authorization")
        .and_then(iam::region_of)
        .unwrap_or(iam::DEFAULT_REGION)
        .to_string();
    let req = iam::Request {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        target,
        body: &body,
        region: &region,
    };
    let needs = iam::classify(&req);
    let app = header(&headers, "x-amz-user-agent")
        .and_then(iam::app_name)
        .or_else(|| header(&headers, "user-agent").and_then(iam::app_name));
    if let (Some(app), Some(rec)) = (app, &f.recorder) {
        let lines: Vec<Recorded> = match &needs {
            Some(n) => n
                .iter()
                .map(|n| Recorded {
                    function: app.to_string(),
                    action: n.action.clone(),
                    resource: n.resource.clone(),
                })
                .collect(),
            None => vec![Recorded {
                function: app.to_string(),
                action: format!("unknown:{} {}", method, uri.path()),
                resource: "*".into(),
            }],
        };
        let mut guard = rec.lock().expect("recorder");
        let (seen, file) = &mut *guard;
        for l in lines {
            if seen.insert(l.clone()) {
                let _ = writeln!(file, "{}", serde_json::to_string(&l).unwrap_or_default());
            }
        }
    }
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(refusal) = over_limits(&req, &parsed, dynamodb) {
        return refusal;
    }
    if throttled_namespace(&req, &parsed, dynamodb) {
        let action = needs
            .as_ref()
            .and_then(|n| n.first())
            .map(|n| n.action.as_str());
        if let Some(r) = f.throttle(&req, action, dynamodb) {
            return r;
        }
    }
    f.forward(method, &uri, headers, body, dynamodb).await
}

impl Front {
    /// A throttling answer for this call, if the throttling mode refuses it; `action` is the
    /// call's first IAM action (the Scheduler API whose quota it counts against).
    fn throttle(
        &self,
        req: &iam::Request,
        action: Option<&str>,
        dynamodb: bool,
    ) -> Option<Response> {
        if dynamodb {
            let op = req.target.unwrap_or_default();
            let data = !op.ends_with("Table") && !op.ends_with("TimeToLive");
            if data && rand::random::<f64>() < self.cfg.ddb_throttle {
                self.throttled.lock().expect("stats").1 += 1;
                return Some(error(
                    StatusCode::BAD_REQUEST,
                    "ProvisionedThroughputExceededException",
                    "The level of configured provisioned throughput for the table was exceeded.",
                    true,
                ));
            }
            return None;
        }
        let action = action?.to_string();
        let quota = SCHEDULER_QUOTAS
            .iter()
            .find(|(a, _)| *a == action)
            .map(|(_, q)| q * self.cfg.quota_scale)?;
        let mut w = self.windows.lock().expect("windows");
        let (start, count) = w.entry(action).or_insert((Instant::now(), 0.0));
        if start.elapsed().as_secs_f64() >= 1.0 {
            *start = Instant::now();
            *count = 0.0;
        }
        // A refused call takes no capacity (Scheduler's rate counts what it serves).
        let over = *count + 1.0 > quota.max(1.0);
        if over {
            self.throttled.lock().expect("stats").0 += 1;
        } else {
            *count += 1.0;
        }
        over.then(|| {
            error(
                StatusCode::TOO_MANY_REQUESTS,
                "ThrottlingException",
                "Rate exceeded",
                false,
            )
        })
    }

    async fn forward(
        &self,
        method: Method,
        uri: &Uri,
        headers: HeaderMap,
        body: Bytes,
        dynamodb: bool,
    ) -> Response {
        let base = if dynamodb {
            &self.cfg.dynamodb
        } else {
            &self.cfg.moto
        };
        let url = format!(
            "{}{}",
            base.trim_end_matches('/'),
            uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
        );
        let mut fwd = self.http.request(method, url);
        for (k, v) in &headers {
            if !matches!(k.as_str(), "host" | "content-length" | "connection") {
                fwd = fwd.header(k, v);
            }
        }
        let resp = match fwd.body(body).send().await {
            Ok(r) => r,
            Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
        };
        let status = resp.status();
        let mut out = HeaderMap::new();
        for (k, v) in resp.headers() {
            if !matches!(
                k.as_str(),
                "content-length" | "transfer-encoding" | "connection"
            ) {
                out.append(k.clone(), v.clone());
            }
        }
        let bytes = resp.bytes().await.unwrap_or_default();
        (status, out, bytes).into_response()
    }
}

fn throttled_namespace(req: &iam::Request, v: &Value, dynamodb: bool) -> bool {
    let p = |s: &str| s.starts_with(THROTTLED_PREFIX);
    if dynamodb {
        if v.get("TableName").and_then(Value::as_str).is_some_and(p) {
            return true;
        }
        if let Some(m) = v.get("RequestItems").and_then(Value::as_object) {
            return m.keys().any(|k| p(k));
        }
        return v
            .get("TransactItems")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|i| i.as_object()?.values().next()?.get("TableName")?.as_str())
            .any(p);
    }
    let in_query = req.query.split('&').any(|kv| {
        kv.split_once('=')
            .is_some_and(|(k, val)| matches!(k, "groupName" | "ScheduleGroup") && p(val))
    });
    in_query || v.get("GroupName").and_then(Value::as_str).is_some_and(p)
}

/// Size of one attribute value as DynamoDB counts it (UTF-8 bytes of strings, about one
/// byte per two digits of numbers, raw bytes of binaries, 1 byte per boolean or null, 3
/// bytes plus one per element for lists and maps, names included).
pub fn attribute_size(v: &Value) -> usize {
    let Some((kind, inner)) = v.as_object().and_then(|m| m.iter().next()) else {
        return 0;
    };
    match (kind.as_str(), inner) {
        ("S", Value::String(s)) => s.len(),
        ("N", Value::String(n)) => n.trim_start_matches('-').len().div_ceil(2) + 1,
        ("B", Value::String(b)) => b.len() * 3 / 4,
        ("BOOL", _) | ("NULL", _) => 1,
        ("SS", Value::Array(a)) | ("BS", Value::Array(a)) => {
            a.iter().map(|s| s.as_str().map_or(0, str::len)).sum()
        }
        ("NS", Value::Array(a)) => a
            .iter()
            .map(|n| n.as_str().map_or(0, |n| n.len().div_ceil(2) + 1))
            .sum(),
        ("L", Value::Array(a)) => 3 + a.iter().map(|e| 1 + attribute_size(e)).sum::<usize>(),
        ("M", Value::Object(m)) => {
            3 + m
                .iter()
                .map(|(k, e)| 1 + k.len() + attribute_size(e))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// Size of an item (`{"name": {"S": …}, …}`) as DynamoDB counts it.
pub fn item_size(item: &Value) -> usize {
    item.as_object()
        .map(|m| m.iter().map(|(k, v)| k.len() + attribute_size(v)).sum())
        .unwrap_or(0)
}

fn validation(message: String, dynamodb: bool) -> Option<Response> {
    Some(error(
        StatusCode::BAD_REQUEST,
        "ValidationException",
        &message,
        dynamodb,
    ))
}

fn over_limits(req: &iam::Request, v: &Value, dynamodb: bool) -> Option<Response> {
    if !dynamodb {
        let input = v.pointer("/Target/Input").and_then(Value::as_str)?;
        return (input.len() > MAX_SCHEDULE_INPUT_BYTES).then(|| {
            validation(
                format!("Target.Input is {} bytes; the limit is 256 KB", input.len()),
                false,
            )
        })?;
    }
    let op = req.target?.strip_prefix("DynamoDB_20120810.")?;
    let mut items: Vec<&Value> = Vec::new();
    match op {
        "PutItem" => items.extend(v.get("Item")),
        "TransactWriteItems" | "TransactGetItems" => {
            let list = v.get("TransactItems").and_then(Value::as_array)?;
            if list.len() > MAX_TRANSACTION_ITEMS {
                return validation(
                    format!(
                        "Member must have length less than or equal to {MAX_TRANSACTION_ITEMS} ({} items)",
                        list.len()
                    ),
                    true,
                );
            }
            if req.body.len() > MAX_TRANSACTION_BYTES {
                return validation(
                    "Transaction request cannot be larger than 4 MB".into(),
                    true,
                );
            }
            items.extend(list.iter().filter_map(|i| i.pointer("/Put/Item")));
        }
        "BatchWriteItem" => {
            let all: Vec<&Value> = v
                .get("RequestItems")
                .and_then(Value::as_object)?
                .values()
                .filter_map(Value::as_array)
                .flatten()
                .collect();
            if all.len() > 25 {
                return validation(
                    format!(
                        "Too many items requested for the BatchWriteItem call ({})",
                        all.len()
                    ),
                    true,
                );
            }
            items.extend(all.iter().filter_map(|r| r.pointer("/PutRequest/Item")));
        }
        "BatchGetItem" => {
            let keys: usize = v
                .get("RequestItems")
                .and_then(Value::as_object)?
                .values()
                .filter_map(|t| t.get("Keys").and_then(Value::as_array))
                .map(Vec::len)
                .sum();
            if keys > 100 {
                return validation(
                    format!("Too many items requested for the BatchGetItem call ({keys})"),
                    true,
                );
            }
        }
        _ => {}
    }
    let biggest = items.iter().map(|i| item_size(i)).max().unwrap_or(0);
    (biggest > MAX_ITEM_BYTES).then(|| {
        validation(
            format!("Item size has exceeded the maximum allowed size ({biggest} bytes)"),
            true,
        )
    })?
}

#[cfg(test)]
#[path = "front_test.rs"]
mod tests;
