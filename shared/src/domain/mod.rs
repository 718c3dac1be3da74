//! Domain types parsed once at the edge: roles, e-mail addresses, slugs, end dates, job
//! targets, timestamps. Each `parse` returns a value that cannot be invalid afterwards.

pub mod body;
pub mod cron;
pub mod draft;
pub mod job;
pub mod kinds;
pub mod name;
pub mod policy;
pub mod range;
pub mod target;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

pub use cron::{CronError, CronExpr};
pub use job::Job;
pub use kinds::{ExecutionStatus, ExecutionType, Level, TaskState, Trigger};
pub use policy::{OverlapPolicy, Pause, RetryPolicy, RunPolicy};
pub use range::{DateRange, RangeError};
pub use target::{parse_dispatch_url, Dispatch, JobTarget};

/// A user's role (api-contract §2.1). Authorization always reads the stored role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    User,
    Viewer,
}

impl Role {
    /// `admin` | `user` | `viewer`, exactly (the contract's role strings).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "user" => Some(Role::User),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
            Role::Viewer => "viewer",
        }
    }
    /// Passes the user-or-admin gate (api-contract §1.3).
    pub fn can_write(self) -> bool {
        matches!(self, Role::Admin | Role::User)
    }
}

/// A syntactically valid e-mail address, as given (case kept; callers lowercase where the
/// contract says so).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Accepts `local@domain.tld` with no whitespace, one `@`, a dotted domain and at most
    /// 254 characters; returns `None` otherwise.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (local, domain) = s.split_once('@')?;
        let ok = s.len() <= 254
            && !local.is_empty()
            && local.len() <= 64
            && !domain.contains('@')
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && domain.split('.').count() >= 2
            && domain
                .split('.')
                .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
        ok.then(|| Self(s.to_string()))
    }
    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// slugify (api-contract §3.5): lowercase, runs of characters outside `[a-z0-9]` become one
/// `-`, leading and trailing `-` stripped. May return an empty string.
pub fn slugify(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut dash = false;
    for c in s.trim().to_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c);
        } else {
            dash = true;
        }
    }
    out
}

/// Parses an end date: `YYYY-MM-DD` or `YYYYMMDD` (api-contract §3.5 recommendation).
pub fn parse_end_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|_| s.len() == 10)
        .or_else(|| {
            (s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| NaiveDate::parse_from_str(s, "%Y%m%d").ok())
                .flatten()
        })
}

/// "Today" in the scheduler time zone.
pub fn today_in(tz: chrono_tz::Tz) -> NaiveDate {
    Utc::now().with_timezone(&tz).date_naive()
}

/// The current instant, truncated to microseconds (the stored precision).
pub fn now() -> DateTime<Utc> {
    let t = Utc::now();
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// RFC 3339 UTC with microseconds and `Z`: `2026-11-22T00:20:35.558381Z` (policy §6).
/// Fixed width, so these strings sort in time order inside sort keys.
pub fn fmt_ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Serde adapter storing `DateTime<Utc>` as [`fmt_ts`] strings.
pub mod ts {
    use super::*;
    /// Serialize as a fixed-width RFC 3339 string.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&fmt_ts(t))
    }
    /// Deserialize any RFC 3339 string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
    /// The same for `Option<DateTime<Utc>>`.
    pub mod option {
        use super::*;
        /// Serialize `Some` as a string, `None` as null.
        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&fmt_ts(t)),
                None => s.serialize_none(),
            }
        }
        /// Deserialize null or a string.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            match Option::<String>::deserialize(d)? {
                None => Ok(None),
                Some(s) => DateTime::parse_from_rfc3339(&s)
                    .map(|t| Some(t.with_timezone(&Utc)))
                    .map_err(serde::de::Error::custom),
            }
        }
    }
}

#[cfg(test)]
#[path = "domain_test.rs"]
mod tests;
