//! Typed configuration, read once from the environment at cold start (api-contract §1.12).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `TABLE_NAME` | `cron-jobs` | the single DynamoDB table |
//! | `SCHEDULE_GROUP_NAME` | `cron-jobs` | EventBridge Scheduler group holding one schedule per active job |
//! | `EXECUTOR_FUNCTION_ARN` | local placeholder | schedule target (the executor Lambda) |
//! | `SCHEDULER_ROLE_ARN` | local placeholder | role EventBridge Scheduler assumes to invoke the target |
//! | `SCHEDULE_DLQ_ARN` | none | dead-letter queue of every schedule's target |
//! | `SCHEDULER_TIMEZONE` | `Asia/Tokyo` | cron zone and "today"; an unknown name falls back to UTC |
//! | `JWT_SECRET_KEY`, else `SECRET_KEY` | dev key in local mode only | HS256 signing key; outside local mode the HTTP functions refuse to start without one of at least 32 bytes |
//! | `LOCAL_MODE` | `false` | the local stack and tests: allows the dev JWT key and `ALLOW_PRIVATE_TARGETS` |
//! | `JWT_ACCESS_TOKEN_EXPIRES` / `JWT_REFRESH_TOKEN_EXPIRES` | 3600 / 2592000 | token lifetimes, seconds |
//! | `DEFAULT_GITHUB_OWNER` | `Pay-Baymax` | owner when only repo and workflow are given |
//! | `GITHUB_TOKEN` | none | token for `workflow_dispatch` |
//! | `GITHUB_API_BASE_URL` | `https://api.github.com` | GitHub REST base (tests point it at a fake) |
//! | `CORS_ORIGINS` | `*` | `*` or a comma-separated origin list |
//! | `ALLOW_PRIVATE_TARGETS` | `false` | let webhooks reach loopback/private addresses (local mode only) |
//! | `APP_VERSION` | `2.0.0` | health `version` |
//! | `DOCS_URL` | the request's own origin + `/api/v2/docs` | health `docs_url` |
//! | `LOGIN_THROTTLE_WINDOW_SECS` | `900` | login throttling window, seconds |
//! | `LOGIN_MAX_ACCOUNT_FAILURES` / `LOGIN_MAX_SOURCE_FAILURES` | `10` / `50` | failed logins per window before 429, per account / per source address |
//! | `MAIL_FROM` | none | SES v2 sender address (a verified identity); without it no e-mail is sent (recorded `skipped`) |
//! | `SES_CONFIGURATION_SET` | none | SES configuration set named on every e-mail |
//! | `RATE_LIMIT_SCALE` | `1` | multiplies the per-user limits on costly endpoints (execute, test-run, bulk upload, cron checks, register) |
//! | `FRONTEND_BASE_URL` | `http://localhost:5173` | web client base for links in Slack messages (trailing `/` dropped) |

use chrono_tz::Tz;
use std::{fmt, str::FromStr};

/// A secret string whose `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Which origins CORS admits (api-contract §1.11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorsOrigins {
    /// `*`: any origin, no credentials.
    Any,
    /// Only these origins, credentials allowed.
    List(Vec<String>),
}

/// All settings of every function, parsed once.
#[derive(Clone, Debug)]
pub struct Config {
    pub table_name: String,
    pub schedule_group: String,
    pub executor_arn: String,
    pub scheduler_role_arn: String,
    /// SQS queue for schedule deliveries that fail after their retries (`SCHEDULE_DLQ_ARN`).
    pub schedule_dlq_arn: Option<String>,
    pub timezone: Tz,
    pub jwt_secret: Secret,
    /// Whether `jwt_secret` came from the environment (not the local dev key).
    pub jwt_secret_configured: bool,
    /// `LOCAL_MODE=true`: the local stack and tests.
    pub local_mode: bool,
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
    pub default_github_owner: String,
    pub github_token: Option<Secret>,
    pub github_api_base: String,
    pub cors: CorsOrigins,
    pub allow_private_targets: bool,
    pub app_version: String,
    /// Where health says the documentation is (`DOCS_URL`); `None`: derived per request
    /// from its `Host` (`health`).
    pub docs_url: Option<String>,
    pub login_throttle: LoginThrottle,
    /// SES v2 sender (`MAIL_FROM`); `None`: e-mail is skipped.
    pub mail_from: Option<String>,
    /// SES configuration set (`SES_CONFIGURATION_SET`).
    pub ses_configuration_set: Option<String>,
    /// Web client base URL without trailing `/` (`FRONTEND_BASE_URL`).
    pub frontend_base_url: String,
    /// How many whole UTC days of executions and notifications are kept (`RETENTION_DAYS`;
    /// unset, `0` or `off`: everything is kept, as the system we replace did). See
    /// `Store::history_floor`.
    pub retention_days: Option<u32>,
    /// How long after the job list's change mark moved a list index read may still miss the
    /// change (`JOB_LIST_SETTLE_MS`, default [`crate::job_list::SETTLE`]; see
    /// [`crate::job_list`]). Zero only where the index is read-after-write consistent
    /// (DynamoDB Local).
    pub job_list_settle: chrono::Duration,
    /// Multiplies every per-user rate limit (`RATE_LIMIT_SCALE`, default 1;
    /// the web adapter's costly actions): a deployment with heavier legitimate use raises it.
    pub rate_limit_scale: u32,
}

/// `RETENTION_DAYS`: a positive number of days (at most 100 years); unset, `0`, `off` or
/// `none` keeps everything (the default: nothing is hidden or deleted unless asked for); an
/// unreadable value keeps everything too, with a warning.
fn retention_var() -> Option<u32> {
    match var("RETENTION_DAYS").map(|v| v.to_ascii_lowercase()) {
        None => None,
        Some(v) if matches!(v.as_str(), "0" | "off" | "none") => None,
        Some(v) => match v.parse::<u32>() {
            Ok(n) => Some(n.min(36_500)),
            Err(_) => {
                tracing::warn!(value = %v, "RETENTION_DAYS is not a number of days: everything is kept");
                None
            }
        },
    }
}

/// Login throttling limits (failed logins per window, per account and per source address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginThrottle {
    pub window_secs: i64,
    pub max_account_failures: i64,
    pub max_source_failures: i64,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn int_var(name: &str, default: i64) -> i64 {
    var(name)
        .and_then(|v| v.parse().ok())
        .filter(|v| *v > 0)
        .unwrap_or(default)
}

fn flag(name: &str) -> bool {
    matches!(
        var(name).map(|v| v.to_ascii_lowercase()).as_deref(),
        Some("true" | "1" | "yes")
    )
}

/// The AWS SDK configuration every function and tool uses: the standard environment
/// (`AWS_ENDPOINT_URL*`, region, credentials, `AWS_MAX_ATTEMPTS`) plus timeouts, so a stalled
/// dependency ends a request with our 503 long before API Gateway's 30 s: each attempt
/// [`SDK_ATTEMPT_TIMEOUT`], each operation (retries included) [`SDK_OPERATION_TIMEOUT`],
/// connecting [`SDK_CONNECT_TIMEOUT`], with the SDK's standard retry mode, over the one
/// rustls (ring) HTTPS client.
pub async fn sdk_config() -> aws_config::SdkConfig {
    sdk_loader().load().await
}

/// [`sdk_config`] for one deployed unit: `function` is its logical id in `template.yaml`
/// (`AuthFunction`, `ExecutorFunction`, …) or `cronctl`, sent as the SDK's app name
/// (`app/<function>` in the user agent). On AWS it names the caller in CloudTrail; locally
/// the emulator front records every call under it and `make check-iam` holds the calls
/// against that function's policy (`infra/src/iam.rs`). A name the SDK refuses (not a
/// token of at most 50 characters) is left out.
pub async fn sdk_config_for(function: &str) -> aws_config::SdkConfig {
    let loader = sdk_loader();
    match aws_config::AppName::new(function.to_owned()) {
        Ok(app) => loader.app_name(app),
        Err(_) => loader,
    }
    .load()
    .await
}

/// The loader behind [`sdk_config`], for callers that override more (tests).
pub fn sdk_loader() -> aws_config::ConfigLoader {
    use aws_smithy_http_client::{tls, Builder};
    let mut builder = Builder::new().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::Ring,
    ));
    if let Ok(ctx) = tls::TlsContext::builder()
        .with_trust_store(trust_store())
        .build()
    {
        builder = builder.tls_context(ctx);
    }
    let https = builder.build_https();
    aws_config::from_env().http_client(https).timeout_config(
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(SDK_CONNECT_TIMEOUT)
            .operation_attempt_timeout(SDK_ATTEMPT_TIMEOUT)
            .operation_timeout(SDK_OPERATION_TIMEOUT)
            .build(),
    )
}

/// The roots of trust of every AWS endpoint (Amazon Trust Services): Amazon Root CA 1-4
/// and Starfield Services Root Certificate Authority - G2, as PEM (public certificates, valid
/// until 2037-2040). Parsing a system bundle instead (~145 roots, ~200 KB of PEM, parsed once
/// here to drop what rustls refuses and again by the SDK) cost about 4 ms of every cold start.
const AWS_TRUST_ROOTS: &[u8] = include_bytes!("aws-trust-roots.pem");

/// The AWS endpoints' roots of trust: the CA bundle file `SSL_CERT_FILE` when set (an
/// endpoint behind another CA: a TLS-intercepting proxy, an emulator over HTTPS), else
/// [`AWS_TRUST_ROOTS`]. Never the SDK's default, which reads every file of the system
/// certificates directory at cold start.
fn trust_store() -> aws_smithy_http_client::tls::TrustStore {
    use aws_smithy_http_client::tls::TrustStore;
    if let Some(pem) = var("SSL_CERT_FILE").and_then(|path| std::fs::read(path).ok()) {
        let usable = usable_roots(&pem);
        if !usable.is_empty() {
            return TrustStore::empty().with_pem_certificate(usable);
        }
        tracing::warn!("SSL_CERT_FILE holds no usable root: the AWS roots are used");
    }
    TrustStore::empty().with_pem_certificate(AWS_TRUST_ROOTS)
}

/// The certificates of a PEM bundle that rustls accepts as roots, as PEM again: the SDK
/// panics on the first one it cannot parse, where its own native loader skips it.
fn usable_roots(pem: &[u8]) -> Vec<u8> {
    use base64::Engine;
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut out = Vec::with_capacity(pem.len());
    for der in CertificateDer::pem_slice_iter(pem).flatten() {
        if rustls::RootCertStore::empty().add(der.clone()).is_err() {
            continue;
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        out.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
        out.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    out
}

/// Longest single attempt of an AWS call.
pub const SDK_ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
/// Longest AWS call, retries included.
pub const SDK_OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(6);
/// Longest TCP/TLS connect to an AWS endpoint.
pub const SDK_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Smallest JWT key accepted outside local mode, bytes.
pub const MIN_JWT_KEY_BYTES: usize = 32;

/// Parses an IANA zone name; unknown names fall back to UTC (api-contract §5.3).
pub fn parse_timezone(name: &str) -> Tz {
    Tz::from_str(name.trim()).unwrap_or_else(|_| {
        tracing::warn!(zone = name, "unknown SCHEDULER_TIMEZONE, using UTC");
        Tz::UTC
    })
}

impl Config {
    /// What an HTTP function needs before it may serve: outside local mode, a configured JWT
    /// key of at least [`MIN_JWT_KEY_BYTES`]. Called once at cold start; an error stops the
    /// function from starting rather than signing with a public development key.
    pub fn check_http_secrets(&self) -> Result<(), String> {
        if self.local_mode {
            return Ok(());
        }
        if !self.jwt_secret_configured {
            return Err("JWT_SECRET_KEY is not set (LOCAL_MODE is off)".into());
        }
        if self.jwt_secret.expose().len() < MIN_JWT_KEY_BYTES {
            return Err(format!(
                "JWT_SECRET_KEY must be at least {MIN_JWT_KEY_BYTES} bytes"
            ));
        }
        Ok(())
    }

    /// Reads the environment (table in the module docs). Never fails: every value has a default.
    pub fn from_env() -> Self {
        let configured_jwt = var("JWT_SECRET_KEY").or_else(|| var("SECRET_KEY"));
        let jwt_secret_configured = configured_jwt.is_some();
        let jwt =
            configured_jwt.unwrap_or_else(|| "dev-secret-key-please-change-in-production".into());
        let local_mode = flag("LOCAL_MODE");
        let cors = match var("CORS_ORIGINS").as_deref() {
            None | Some("*") => CorsOrigins::Any,
            Some(list) => CorsOrigins::List(
                list.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
            ),
        };
        Self {
            table_name: var("TABLE_NAME").unwrap_or_else(|| "cron-jobs".into()),
            schedule_group: var("SCHEDULE_GROUP_NAME").unwrap_or_else(|| "cron-jobs".into()),
            executor_arn: var("EXECUTOR_FUNCTION_ARN").unwrap_or_else(|| {
                "arn:aws:lambda:ap-northeast-1:000000000000:function:executor".into()
            }),
            scheduler_role_arn: var("SCHEDULER_ROLE_ARN")
                .unwrap_or_else(|| "arn:aws:iam::000000000000:role/cron-scheduler-invoke".into()),
            schedule_dlq_arn: var("SCHEDULE_DLQ_ARN"),
            timezone: parse_timezone(
                &var("SCHEDULER_TIMEZONE").unwrap_or_else(|| "Asia/Tokyo".into()),
            ),
            jwt_secret: Secret::new(jwt),
            jwt_secret_configured,
            local_mode,
            access_ttl_secs: int_var("JWT_ACCESS_TOKEN_EXPIRES", 3600),
            refresh_ttl_secs: int_var("JWT_REFRESH_TOKEN_EXPIRES", 2_592_000),
            default_github_owner: var("DEFAULT_GITHUB_OWNER")
                .unwrap_or_else(|| "Pay-Baymax".into()),
            github_token: var("GITHUB_TOKEN").map(Secret::new),
            github_api_base: var("GITHUB_API_BASE_URL")
                .unwrap_or_else(|| "https://api.github.com".into())
                .trim_end_matches('/')
                .to_string(),
            cors,
            // Private targets are a local-stack convenience, never honoured in a deployment.
            allow_private_targets: local_mode && flag("ALLOW_PRIVATE_TARGETS"),
            app_version: var("APP_VERSION").unwrap_or_else(|| "2.0.0".into()),
            docs_url: var("DOCS_URL"),
            login_throttle: LoginThrottle {
                window_secs: int_var("LOGIN_THROTTLE_WINDOW_SECS", 900),
                max_account_failures: int_var("LOGIN_MAX_ACCOUNT_FAILURES", 10),
                max_source_failures: int_var("LOGIN_MAX_SOURCE_FAILURES", 50),
            },
            mail_from: var("MAIL_FROM"),
            ses_configuration_set: var("SES_CONFIGURATION_SET"),
            frontend_base_url: var("FRONTEND_BASE_URL")
                .unwrap_or_else(|| "http://localhost:5173".into())
                .trim_end_matches('/')
                .to_string(),
            retention_days: retention_var(),
            rate_limit_scale: int_var("RATE_LIMIT_SCALE", 1).clamp(1, 10_000) as u32,
            job_list_settle: var("JOB_LIST_SETTLE_MS")
                .and_then(|v| v.parse::<u32>().ok())
                .map_or(crate::job_list::SETTLE, |ms| {
                    chrono::Duration::milliseconds(ms.into())
                }),
        }
    }
}

#[cfg(test)]
mod trust_tests {
    /// System CA bundles: Amazon Linux 2023, Debian/Ubuntu, Alpine/macOS.
    const CA_BUNDLES: [&str; 3] = [
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/ssl/cert.pem",
    ];

    #[test]
    fn the_compiled_in_aws_roots_are_five_usable_roots() {
        let kept = super::usable_roots(super::AWS_TRUST_ROOTS);
        assert_eq!(kept, super::usable_roots(&kept));
        assert_eq!(
            String::from_utf8_lossy(&kept)
                .matches("BEGIN CERTIFICATE")
                .count(),
            5
        );
    }

    #[test]
    fn a_bundle_keeps_the_roots_rustls_accepts_and_drops_the_rest() {
        let bundle = CA_BUNDLES
            .iter()
            .find_map(|p| std::fs::read(p).ok())
            .expect("a system CA bundle");
        let kept = super::usable_roots(&bundle);
        let count = |pem: &[u8]| {
            String::from_utf8_lossy(pem)
                .matches("BEGIN CERTIFICATE")
                .count()
        };
        assert!(count(&kept) > 50, "{}", count(&kept));
        // A block that is PEM but no certificate is dropped, not a panic later in the SDK.
        let mut broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec();
        broken.extend_from_slice(&bundle);
        assert_eq!(count(&super::usable_roots(&broken)), count(&kept));
    }
}
