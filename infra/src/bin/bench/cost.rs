//! The cost model of docs/cost.md: the bench's measured calls, capacity and durations per
//! operation times AWS's published on-demand prices for ap-northeast-1 (Tokyo). Every input
//! is written to `results.json` beside the result, so the figures can be recomputed with other
//! prices or assumptions (docs/cost.md shows how).

use serde_json::{json, Value};

/// Prices in USD, ap-northeast-1, on-demand, without free tiers (docs/cost.md names each
/// source page; they were not re-read online when this was written — check them).
pub struct Prices {
    /// Lambda requests, per million (<https://aws.amazon.com/lambda/pricing/>).
    pub lambda_requests_m: f64,
    /// Lambda arm64 duration, per GB-second, first tier.
    pub lambda_arm_gb_s: f64,
    /// DynamoDB on-demand write request units, per million
    /// (<https://aws.amazon.com/dynamodb/pricing/on-demand/>).
    pub ddb_wru_m: f64,
    /// DynamoDB on-demand read request units, per million.
    pub ddb_rru_m: f64,
    /// DynamoDB standard storage, per GB-month; continuous backups (PITR), per GB-month.
    pub ddb_storage_gb: f64,
    pub ddb_pitr_gb: f64,
    /// EventBridge Scheduler invocations, per million
    /// (<https://aws.amazon.com/eventbridge/pricing/>).
    pub scheduler_m: f64,
    /// API Gateway HTTP API requests, per million, first 300 million
    /// (<https://aws.amazon.com/api-gateway/pricing/>).
    pub http_api_m: f64,
    /// SES outbound e-mail, per thousand (<https://aws.amazon.com/ses/pricing/>).
    pub ses_k: f64,
    /// CloudWatch Logs ingestion (standard), per GB; standard alarm, per alarm-month
    /// (<https://aws.amazon.com/cloudwatch/pricing/>).
    pub logs_gb: f64,
    pub alarm_month: f64,
    /// Secrets Manager, per secret-month (<https://aws.amazon.com/secrets-manager/pricing/>).
    pub secret_month: f64,
}

/// The prices used (docs/cost.md, "Prices").
pub const TOKYO: Prices = Prices {
    lambda_requests_m: 0.20,
    lambda_arm_gb_s: 0.000_013_333_4,
    ddb_wru_m: 0.715,
    ddb_rru_m: 0.143,
    ddb_storage_gb: 0.285,
    ddb_pitr_gb: 0.228,
    scheduler_m: 1.00,
    http_api_m: 1.29,
    ses_k: 0.10,
    logs_gb: 0.76,
    alarm_month: 0.10,
    secret_month: 0.40,
};

/// What one operation costs as measured: Lambda invocations, GB-seconds, DynamoDB units,
/// schedule invocations, API requests, log bytes.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Usage {
    pub lambda_invocations: f64,
    pub lambda_gb_s: f64,
    pub wru: f64,
    pub rru: f64,
    pub scheduler_invocations: f64,
    pub api_requests: f64,
    pub log_bytes: f64,
}

impl Usage {
    pub fn times(self, k: f64) -> Usage {
        Usage {
            lambda_invocations: self.lambda_invocations * k,
            lambda_gb_s: self.lambda_gb_s * k,
            wru: self.wru * k,
            rru: self.rru * k,
            scheduler_invocations: self.scheduler_invocations * k,
            api_requests: self.api_requests * k,
            log_bytes: self.log_bytes * k,
        }
    }
    pub fn plus(self, o: Usage) -> Usage {
        Usage {
            lambda_invocations: self.lambda_invocations + o.lambda_invocations,
            lambda_gb_s: self.lambda_gb_s + o.lambda_gb_s,
            wru: self.wru + o.wru,
            rru: self.rru + o.rru,
            scheduler_invocations: self.scheduler_invocations + o.scheduler_invocations,
            api_requests: self.api_requests + o.api_requests,
            log_bytes: self.log_bytes + o.log_bytes,
        }
    }
    /// USD by service.
    pub fn priced(&self, p: &Prices) -> Value {
        let lambda = self.lambda_invocations / 1e6 * p.lambda_requests_m
            + self.lambda_gb_s * p.lambda_arm_gb_s;
        let ddb = self.wru / 1e6 * p.ddb_wru_m + self.rru / 1e6 * p.ddb_rru_m;
        let sched = self.scheduler_invocations / 1e6 * p.scheduler_m;
        let api = self.api_requests / 1e6 * p.http_api_m;
        let logs = self.log_bytes / 1e9 * p.logs_gb;
        json!({"lambda": lambda, "dynamodb": ddb, "scheduler": sched, "api_gateway": api,
               "ses": 0.0, "cloudwatch": logs, "total": lambda + ddb + sched + api + logs})
    }
}

/// Inputs measured by the bench (per operation) and the assumptions named in docs/cost.md.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Inputs {
    /// One scheduled run: executor invocation (its measured duration plus the target's
    /// response time, assumed), its DynamoDB units, one schedule invocation, one maintenance
    /// invocation by the table stream (the run's outbox tasks), its log lines.
    pub run: Usage,
    /// One maintenance sweep (every 2 minutes) and one reconciliation (every 10 minutes) on
    /// an idle stack.
    pub sweep: Usage,
    pub reconcile: Usage,
    /// Fixed monthly: secrets, alarms.
    pub secrets: f64,
    pub alarms: f64,
    /// Table size assumed for storage (GB) in the busy scenarios is from runs kept.
    pub run_item_bytes: f64,
}

/// Monthly cost of `runs` runs a month on top of the idle stack, with `stored_gb` in the table.
fn month(i: &Inputs, p: &Prices, runs: f64, stored_gb: f64) -> Value {
    let per_month_min = 30.0 * 24.0 * 60.0;
    let idle = i
        .sweep
        .times(per_month_min / 2.0)
        .plus(i.reconcile.times(per_month_min / 10.0));
    let usage = idle.plus(i.run.times(runs));
    let mut v = usage.priced(p);
    let fixed = i.secrets * p.secret_month
        + i.alarms * p.alarm_month
        + stored_gb * (p.ddb_storage_gb + p.ddb_pitr_gb);
    v["fixed"] = json!(fixed);
    v["total"] = json!(v["total"].as_f64().unwrap_or(0.0) + fixed);
    v["runs"] = json!(runs);
    v["usage"] = serde_json::to_value(usage).unwrap_or(Value::Null);
    v
}

/// The `cost` object of results.json.
pub fn model(i: &Inputs) -> Value {
    let p = &TOKYO;
    let idle = month(i, p, 0.0, 0.001);
    let per_m = i.run.times(1e6).priced(p);
    // 100 jobs hourly: 72,000 runs a month; 10,000 jobs every minute: 432 million. Runs kept
    // 30 days (RETENTION_DAYS) decide the table size.
    let hourly = month(i, p, 72_000.0, 72_000.0 * i.run_item_bytes / 1e9);
    let minutely = month(i, p, 432e6, 432e6 * i.run_item_bytes / 1e9);
    json!({
        "idle_month_usd": idle["total"],
        "per_million_runs_usd": per_m["total"],
        "per_million_runs": per_m,
        "idle_month": idle,
        "jobs_100_hourly_month": hourly,
        "jobs_10000_every_minute_month": minutely,
        "inputs": serde_json::to_value(i).unwrap_or(Value::Null),
        "prices": {"region": "ap-northeast-1", "lambda_requests_per_m": p.lambda_requests_m,
                   "lambda_arm_per_gb_s": p.lambda_arm_gb_s, "ddb_wru_per_m": p.ddb_wru_m,
                   "ddb_rru_per_m": p.ddb_rru_m, "ddb_storage_per_gb_month": p.ddb_storage_gb,
                   "ddb_pitr_per_gb_month": p.ddb_pitr_gb, "scheduler_per_m": p.scheduler_m,
                   "http_api_per_m": p.http_api_m, "ses_per_k": p.ses_k,
                   "logs_ingest_per_gb": p.logs_gb, "alarm_per_month": p.alarm_month,
                   "secret_per_month": p.secret_month},
    })
}
