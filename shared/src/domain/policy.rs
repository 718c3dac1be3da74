//! How a job runs beyond its target (issue 23): retries, the outbound timeout, what happens
//! when a fire time comes while a run is still going (overlap), how late a delivery may be
//! and still run (catch-up window), the job's own time zone, EventBridge's flexible window,
//! and pausing after consecutive failures. Every field is optional on every door (JSON body,
//! CSV row, legacy row, export line); its default keeps the behaviour jobs had before these
//! fields existed (except the outbound timeout, 30 s per attempt instead of 10 s per call).
//!
//! Names follow Temporal Schedules (`retry_policy.*`, `overlap_policy`, catch-up window) and
//! EventBridge Scheduler (`flexible_window_minutes`, the time zone).

use super::draft::FieldError;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::Duration;

/// Default `timeout_seconds`: one attempt's outbound call, body included.
pub const DEFAULT_TIMEOUT_SECONDS: u32 = 30;
/// Bounds of `timeout_seconds`.
pub const TIMEOUT_SECONDS: (u32, u32) = (1, 600);
/// Default `catchup_window_seconds`.
pub const DEFAULT_CATCHUP_SECONDS: u32 = 3600;
/// Bounds of `catchup_window_seconds` (EventBridge's `MaximumEventAgeInSeconds` is 60-86400).
pub const CATCHUP_SECONDS: (u32, u32) = (60, 86_400);
/// Bounds of a non-zero `flexible_window_minutes` (0 is off).
pub const FLEXIBLE_MINUTES: (u32, u32) = (1, 15);
/// Largest `pause_after_failures` (0 is never).
pub const MAX_PAUSE_AFTER_FAILURES: u32 = 100;
/// Longest `pause_note`, characters.
pub const MAX_PAUSE_NOTE_CHARS: usize = 500;
/// The zone of a job that names none (and of every job stored before jobs had one).
pub const DEFAULT_TIMEZONE: Tz = chrono_tz::Asia::Tokyo;

/// Temporal's retry policy. `maximum_attempts` counts the first attempt: 1 means no retry.
/// The wait before attempt `n + 1` is `initial_interval × coefficient^(n-1)`, capped at
/// `maximum_interval` (a `Retry-After` of a 429 or 503 answer replaces it, same cap).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// 1-10 (default 1).
    pub maximum_attempts: u32,
    /// Seconds, 1-3600 (default 10).
    pub initial_interval_seconds: u32,
    /// 1.0-10.0 (default 2.0).
    pub backoff_coefficient: f64,
    /// Seconds, 1-86400 (default 600).
    pub maximum_interval_seconds: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            maximum_attempts: 1,
            initial_interval_seconds: 10,
            backoff_coefficient: 2.0,
            maximum_interval_seconds: 600,
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based) before the next one, or the server's
    /// `retry_after`, either capped at `maximum_interval_seconds`.
    pub fn delay_after(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let cap = Duration::from_secs(self.maximum_interval_seconds.into());
        let computed = f64::from(self.initial_interval_seconds)
            * self
                .backoff_coefficient
                .powi(attempt.saturating_sub(1).min(64) as i32);
        let computed = Duration::from_secs_f64(computed.min(cap.as_secs_f64()));
        retry_after.unwrap_or(computed).min(cap)
    }

    /// Reads a `Retry-After` header value (RFC 9110 §10.2.3): whole seconds (`120`) or an
    /// HTTP-date in any of its three forms (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 850, asctime),
    /// the latter as the time from `now` until it (zero when it has passed). `None` for
    /// anything else: the policy's own backoff applies. The result is capped by
    /// [`RetryPolicy::delay_after`], not here.
    pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
        let value = value.trim();
        if let Ok(secs) = value.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        let at = httpdate::parse_http_date(value).ok()?;
        Some(at.duration_since(now).unwrap_or(Duration::ZERO))
    }

    /// Reads a `retry_policy` value: null is the default; an object whose absent keys take
    /// their defaults; each key within its bounds.
    pub fn parse(v: &Value) -> Result<Self, FieldError> {
        let invalid = |m: String| FieldError::new("Invalid retry_policy", m);
        let m = match v {
            Value::Null => return Ok(Self::default()),
            Value::Object(m) => m,
            Value::String(s) if s.trim().is_empty() => return Ok(Self::default()),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(m)) => return Self::parse(&Value::Object(m)),
                _ => return Err(invalid("retry_policy must be a JSON object.".into())),
            },
            _ => return Err(invalid("retry_policy must be a JSON object.".into())),
        };
        if let Some(k) = m.keys().find(|k| {
            ![
                "maximum_attempts",
                "initial_interval_seconds",
                "backoff_coefficient",
                "maximum_interval_seconds",
            ]
            .contains(&k.as_str())
        }) {
            return Err(invalid(format!("retry_policy has no key \"{k}\".")));
        }
        let d = Self::default();
        let int = |k: &str, lo: u32, hi: u32, def: u32| -> Result<u32, FieldError> {
            Ok(int_in(m.get(k), k, lo, hi)
                .map_err(|e| FieldError::new("Invalid retry_policy", e.message))?
                .unwrap_or(def))
        };
        let coefficient = match m.get("backoff_coefficient") {
            None | Some(Value::Null) => d.backoff_coefficient,
            Some(v) => number(v)
                .filter(|c| (1.0..=10.0).contains(c))
                .ok_or_else(|| {
                    invalid(
                        "retry_policy.backoff_coefficient must be a number from 1.0 to 10.0."
                            .into(),
                    )
                })?,
        };
        Ok(Self {
            maximum_attempts: int("maximum_attempts", 1, 10, d.maximum_attempts)?,
            initial_interval_seconds: int(
                "initial_interval_seconds",
                1,
                3600,
                d.initial_interval_seconds,
            )?,
            backoff_coefficient: coefficient,
            maximum_interval_seconds: int(
                "maximum_interval_seconds",
                1,
                86_400,
                d.maximum_interval_seconds,
            )?,
        })
    }
}

/// What a fire time does while the job's previous run is still going (Temporal's meanings).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverlapPolicy {
    /// Runs anyway (two runs may overlap): the behaviour before this field.
    #[default]
    Allow,
    /// Not run: recorded as a `skipped` execution with the reason.
    Skip,
    /// At most one fire time waits for the running one to finish, then runs; any further
    /// one while it waits is skipped.
    BufferOne,
}

impl OverlapPolicy {
    /// The stored and contract string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Skip => "skip",
            Self::BufferOne => "buffer_one",
        }
    }

    /// Reads `allow` | `skip` | `buffer_one` (case-insensitive); null or blank is `allow`.
    pub fn parse(v: &Value) -> Result<Self, FieldError> {
        let s = match v {
            Value::Null => return Ok(Self::Allow),
            Value::String(s) => s.trim().to_ascii_lowercase(),
            _ => String::from("?"),
        };
        match s.as_str() {
            "" | "allow" => Ok(Self::Allow),
            "skip" => Ok(Self::Skip),
            "buffer_one" => Ok(Self::BufferOne),
            _ => Err(FieldError::new(
                "Invalid overlap_policy",
                "overlap_policy must be one of: allow, skip, buffer_one.",
            )),
        }
    }
}

/// A job's run policy: the issue-23 fields, each with its default.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunPolicy {
    #[serde(default)]
    pub retry_policy: RetryPolicy,
    /// Seconds one attempt's outbound call may take, body included (1-600).
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u32,
    #[serde(default)]
    pub overlap_policy: OverlapPolicy,
    /// Seconds after its fire time a delivery may still run (60-86400); later ones are
    /// recorded `missed`.
    #[serde(default = "default_catchup")]
    pub catchup_window_seconds: u32,
    /// The IANA zone the cron is read in.
    #[serde(default = "default_tz", with = "tz_name")]
    pub timezone: Tz,
    /// EventBridge's flexible time window, minutes (0 off, 1-15).
    #[serde(default)]
    pub flexible_window_minutes: u32,
    /// Consecutive failed runs after which the job pauses itself (0 never).
    #[serde(default)]
    pub pause_after_failures: u32,
}

fn default_timeout() -> u32 {
    DEFAULT_TIMEOUT_SECONDS
}
fn default_catchup() -> u32 {
    DEFAULT_CATCHUP_SECONDS
}
fn default_tz() -> Tz {
    DEFAULT_TIMEZONE
}

impl Default for RunPolicy {
    fn default() -> Self {
        Self::in_zone(DEFAULT_TIMEZONE)
    }
}

/// The policy keys of a job body or CSV row, each `None` when absent (an update leaves it
/// as it is), else its raw value (read by [`RunPolicy::apply`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicyPatch {
    pub retry_policy: Option<Value>,
    pub timeout_seconds: Option<Value>,
    pub overlap_policy: Option<Value>,
    pub catchup_window_seconds: Option<Value>,
    pub timezone: Option<Value>,
    pub flexible_window_minutes: Option<Value>,
    pub pause_after_failures: Option<Value>,
}

impl PolicyPatch {
    /// The JSON keys this patch reads.
    pub const KEYS: [&'static str; 7] = [
        "retry_policy",
        "timeout_seconds",
        "overlap_policy",
        "catchup_window_seconds",
        "timezone",
        "flexible_window_minutes",
        "pause_after_failures",
    ];

    /// The policy keys present in a JSON object.
    pub fn from_json(m: &Map<String, Value>) -> Self {
        let get = |k: &str| m.get(k).cloned();
        Self {
            retry_policy: get("retry_policy"),
            timeout_seconds: get("timeout_seconds"),
            overlap_policy: get("overlap_policy"),
            catchup_window_seconds: get("catchup_window_seconds"),
            timezone: get("timezone"),
            flexible_window_minutes: get("flexible_window_minutes"),
            pause_after_failures: get("pause_after_failures"),
        }
    }

    /// Whether no policy key is present.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl RunPolicy {
    /// Every default, the cron read in `tz`.
    pub fn in_zone(tz: Tz) -> Self {
        Self {
            retry_policy: RetryPolicy::default(),
            timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
            overlap_policy: OverlapPolicy::Allow,
            catchup_window_seconds: DEFAULT_CATCHUP_SECONDS,
            timezone: tz,
            flexible_window_minutes: 0,
            pause_after_failures: 0,
        }
    }

    /// Applies the present keys of `p`, each checked; `default_tz` is what a null or blank
    /// `timezone` means. The first broken rule is the answer.
    pub fn apply(&mut self, p: &PolicyPatch, default_tz: Tz) -> Result<(), FieldError> {
        if let Some(v) = &p.retry_policy {
            self.retry_policy = RetryPolicy::parse(v)?;
        }
        if let Some(v) = &p.timeout_seconds {
            let (lo, hi) = TIMEOUT_SECONDS;
            self.timeout_seconds =
                int_in(Some(v), "timeout_seconds", lo, hi)?.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
        }
        if let Some(v) = &p.overlap_policy {
            self.overlap_policy = OverlapPolicy::parse(v)?;
        }
        if let Some(v) = &p.catchup_window_seconds {
            let (lo, hi) = CATCHUP_SECONDS;
            self.catchup_window_seconds = int_in(Some(v), "catchup_window_seconds", lo, hi)?
                .unwrap_or(DEFAULT_CATCHUP_SECONDS);
        }
        if let Some(v) = &p.timezone {
            self.timezone = parse_zone(v)?.unwrap_or(default_tz);
        }
        if let Some(v) = &p.flexible_window_minutes {
            let (_, hi) = FLEXIBLE_MINUTES;
            self.flexible_window_minutes =
                int_in(Some(v), "flexible_window_minutes", 0, hi)?.unwrap_or(0);
        }
        if let Some(v) = &p.pause_after_failures {
            self.pause_after_failures =
                int_in(Some(v), "pause_after_failures", 0, MAX_PAUSE_AFTER_FAILURES)?.unwrap_or(0);
        }
        Ok(())
    }

    /// The bounds of every field (what a stored or imported policy must hold to).
    pub fn checked(&self) -> Result<(), FieldError> {
        let r = &self.retry_policy;
        let within = |v: u32, (lo, hi): (u32, u32)| (lo..=hi).contains(&v);
        let ok = within(r.maximum_attempts, (1, 10))
            && within(r.initial_interval_seconds, (1, 3600))
            && (1.0..=10.0).contains(&r.backoff_coefficient)
            && within(r.maximum_interval_seconds, (1, 86_400));
        if !ok {
            return Err(FieldError::new(
                "Invalid retry_policy",
                "retry_policy is out of bounds.",
            ));
        }
        for (key, v, bounds) in [
            ("timeout_seconds", self.timeout_seconds, TIMEOUT_SECONDS),
            (
                "catchup_window_seconds",
                self.catchup_window_seconds,
                CATCHUP_SECONDS,
            ),
            (
                "flexible_window_minutes",
                self.flexible_window_minutes,
                (0, FLEXIBLE_MINUTES.1),
            ),
            (
                "pause_after_failures",
                self.pause_after_failures,
                (0, MAX_PAUSE_AFTER_FAILURES),
            ),
        ] {
            if !within(v, bounds) {
                return Err(out_of_bounds(key, bounds.0, bounds.1));
            }
        }
        Ok(())
    }

    /// One attempt's outbound bound.
    pub fn attempt_timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds.into())
    }
}

fn out_of_bounds(key: &str, lo: u32, hi: u32) -> FieldError {
    FieldError::new(
        match key {
            "timeout_seconds" => "Invalid timeout_seconds",
            "catchup_window_seconds" => "Invalid catchup_window_seconds",
            "flexible_window_minutes" => "Invalid flexible_window_minutes",
            "pause_after_failures" => "Invalid pause_after_failures",
            _ => "Invalid retry_policy",
        },
        format!("{key} must be an integer from {lo} to {hi}."),
    )
}

/// A JSON number, or a numeric string (CSV cells).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

/// An optional integer in `lo..=hi`: null, absent or blank text is `None`; a whole number
/// (JSON, or text) within the bounds; anything else is refused.
pub fn int_in(v: Option<&Value>, key: &str, lo: u32, hi: u32) -> Result<Option<u32>, FieldError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(v) => number(v)
            .filter(|f| f.fract() == 0.0 && *f >= f64::from(lo) && *f <= f64::from(hi))
            .map(|f| Some(f as u32))
            .ok_or_else(|| out_of_bounds(key, lo, hi)),
    }
}

/// An IANA zone name (`America/New_York`); null or blank is `None`.
pub fn parse_zone(v: &Value) -> Result<Option<Tz>, FieldError> {
    let invalid = || {
        FieldError::new(
            "Invalid timezone",
            "timezone must be an IANA time zone name, such as Asia/Tokyo or America/New_York.",
        )
    };
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) if s.len() <= 64 => {
            s.trim().parse::<Tz>().map(Some).map_err(|_| invalid())
        }
        _ => Err(invalid()),
    }
}

/// Serde adapter: a zone as its IANA name.
pub mod tz_name {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer};
    /// The zone's name.
    pub fn serialize<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }
    /// A known IANA name.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let s = String::deserialize(d)?;
        s.parse::<Tz>().map_err(serde::de::Error::custom)
    }
}

/// Why a job is paused, while it is: who paused it, when, and their note (`PUT /jobs/{id}`
/// with `is_active: false` and `pause_note`, or the engine after `pause_after_failures`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// At most [`MAX_PAUSE_NOTE_CHARS`].
    pub note: Option<String>,
    /// A user id, or `system` for the engine.
    pub by: Option<String>,
    #[serde(with = "super::ts")]
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A `pause_note`: null or blank is `None`; at most [`MAX_PAUSE_NOTE_CHARS`], no control
/// characters but line breaks.
pub fn pause_note(v: &Value) -> Result<Option<String>, FieldError> {
    let invalid = |m: &str| FieldError::new("Invalid pause_note", m);
    match v {
        Value::Null => Ok(None),
        Value::String(s) => {
            let s = s.trim();
            if s.chars().count() > MAX_PAUSE_NOTE_CHARS {
                return Err(invalid("pause_note must be at most 500 characters."));
            }
            if s.chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
            {
                return Err(invalid("pause_note may not contain control characters."));
            }
            Ok(Some(s.to_string()).filter(|s| !s.is_empty()))
        }
        _ => Err(invalid("pause_note must be a string.")),
    }
}

#[cfg(test)]
#[path = "policy_test.rs"]
mod tests;
