//! Query-string parameters shared by the list endpoints (api-contract §3.7, §3.9): date
//! ranges, pages and limits, comma lists. Every malformed value is a 400, never a 500.

use crate::error::{ApiError, ApiResult};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use std::collections::HashMap;

/// A query as received: parameter → raw value.
pub type Query = HashMap<String, String>;

/// Parses a `from`/`to` value: a `YYYY-MM-DD` date is that UTC day (a `to` date covers the
/// whole day, so it means the next midnight), otherwise an ISO datetime (trailing `Z` or an
/// offset; naive means UTC). Years outside 0001-9999 are refused.
pub fn parse_range_bound(raw: &str, is_to: bool) -> Option<DateTime<Utc>> {
    let s = raw.trim();
    let t = if s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-' {
        let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        let d = if is_to { d.succ_opt()? } else { d };
        d.and_hms_opt(0, 0, 0)?.and_utc()
    } else if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        t.with_timezone(&Utc)
    } else {
        [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M:%S%.f",
        ]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())?
        .and_utc()
    };
    (1..=9999).contains(&t.year()).then_some(t)
}

pub use shared::domain::DateRange;

/// A [`DateRange`] read from the `from` and `to` query parameters.
pub trait RangeQuery: Sized {
    /// 400 `Invalid date` for an unparsable bound (naming the bound and the accepted
    /// forms: the executions flavour, api-contract §3.7, where the reference answered 500),
    /// 400 `Invalid date range` when `from >= to`.
    fn from_query(q: &Query) -> ApiResult<Self>;
    /// [`RangeQuery::from_query`] with the notifications flavour's literal answer to an
    /// unparsable bound: `{"error":"Invalid date","message":"Invalid date"}` (api-contract §3.9).
    fn from_notifications_query(q: &Query) -> ApiResult<Self>;
}

impl RangeQuery for DateRange {
    fn from_query(q: &Query) -> ApiResult<Self> {
        parse_range(q, invalid_date)
    }

    fn from_notifications_query(q: &Query) -> ApiResult<Self> {
        parse_range(q, |_| ApiError::bad_request("Invalid date", "Invalid date"))
    }
}

fn parse_range(q: &Query, invalid: impl Fn(&str) -> ApiError) -> ApiResult<DateRange> {
    let bound = |key: &str, is_to: bool| -> ApiResult<Option<DateTime<Utc>>> {
        match q.get(key).map(|s| s.trim()).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) if s.len() > 64 => Err(invalid(key)),
            Some(s) => parse_range_bound(s, is_to)
                .map(Some)
                .ok_or_else(|| invalid(key)),
        }
    };
    DateRange::new(bound("from", false)?, bound("to", true)?)
        .map_err(|e| ApiError::bad_request("Invalid date range", e.to_string()))
}

fn invalid_date(key: &str) -> ApiError {
    ApiError::bad_request(
        "Invalid date",
        format!("Invalid \"{key}\": use YYYY-MM-DD or an ISO 8601 date-time."),
    )
}

/// A positive integer parameter with a default and an optional maximum (400 outside).
pub fn positive(q: &Query, key: &str, default: usize, max: Option<usize>) -> ApiResult<usize> {
    let bad = || {
        let range = match max {
            Some(m) => format!("from 1 to {m}"),
            None => "of at least 1".into(),
        };
        ApiError::bad_request(
            "Invalid query parameter",
            format!("\"{key}\" must be an integer {range}."),
        )
    };
    match q.get(key).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n >= 1 && max.is_none_or(|m| n <= m) && n <= 1_000_000 => Ok(n),
            _ => Err(bad()),
        },
    }
}

/// Most values a comma list may carry.
pub const MAX_LIST_VALUES: usize = 10;

/// A comma-separated list (trimmed, empties dropped); 400 beyond [`MAX_LIST_VALUES`].
pub fn comma_list(q: &Query, key: &str) -> ApiResult<Vec<String>> {
    let list: Vec<String> = q
        .get(key)
        .map(|s| {
            s.split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if list.len() > MAX_LIST_VALUES || list.iter().any(|v| v.len() > 64) {
        return Err(ApiError::bad_request(
            "Invalid query parameter",
            format!("\"{key}\" takes at most {MAX_LIST_VALUES} values."),
        ));
    }
    Ok(list)
}

/// An optional exact-match parameter (trimmed, blank = absent, at most 200 characters).
pub fn exact(q: &Query, key: &str) -> ApiResult<Option<String>> {
    match q.get(key).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) if s.len() > 200 => Err(ApiError::bad_request(
            "Invalid query parameter",
            format!("\"{key}\" is too long."),
        )),
        Some(s) => Ok(Some(s.to_string())),
    }
}

/// `ceil(total / per_page)`, 0 when there is nothing.
pub use shared::domain::range::total_pages;

#[cfg(test)]
#[path = "query_test.rs"]
mod tests;
