//! A `[from, to)` time range of the list filters (api-contract §3.7, §3.9): either side open,
//! `from` before `to` when both are set.

use super::fmt_ts;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A `[from, to)` range, either side open; `from < to` when both are set
/// ([`DateRange::new`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DateRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// `from` is not earlier than `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("\"from\" must be earlier than \"to\".")]
pub struct RangeError;

impl DateRange {
    /// The range, or [`RangeError`] when both bounds are set and `from >= to`.
    pub fn new(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<Self, RangeError> {
        match (from, to) {
            (Some(f), Some(t)) if f >= t => Err(RangeError),
            _ => Ok(Self { from, to }),
        }
    }

    /// `{"from","to"}` as echoed by the lists: ISO 8601 UTC or null.
    pub fn view(&self) -> RangeView {
        RangeView {
            from: self.from.as_ref().map(fmt_ts),
            to: self.to.as_ref().map(fmt_ts),
        }
    }
}

/// The body form of a [`DateRange`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RangeView {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Pages needed for `total` items at `per_page` (0 when there are none).
pub fn total_pages(total: i64, per_page: usize) -> i64 {
    if total <= 0 || per_page == 0 {
        0
    } else {
        (total + per_page as i64 - 1) / per_page as i64
    }
}
