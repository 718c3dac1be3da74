//! Five-field crontab expressions (spec/README.md policy §7, api-contract §5).
//!
//! A [`CronExpr`] can only be built by parsing, so every value in the program is a valid
//! expression. It knows three things:
//! - when it fires, as the set of matching minutes, hours, days, months and weekdays
//!   ([`CronExpr::next_fire_from`], [`CronExpr::upcoming`]), evaluated in an IANA time zone;
//! - its EventBridge Scheduler form ([`CronExpr::to_eventbridge`]), six fields with `?` and
//!   1-based weekdays, rendered from the same sets so that it fires at exactly the same minutes;
//! - how to read that form back ([`CronExpr::parse_eventbridge`]), which the local trigger uses
//!   to fire schedules stored in the emulator.
//!
//! Semantics are standard crontab (Vixie): day-of-week `0-7` with Sunday as `0` and `7`,
//! names `JAN`-`DEC` and `SUN`-`SAT` (any case), `*`, `a`, `a-b`, lists and steps (`*/n`,
//! `a/n` = `a-max/n`, `a-b/n`). When both day fields are restricted standard cron fires when
//! *either* matches; a single EventBridge schedule cannot express that, so such expressions are
//! rejected with a clear message instead of silently changing their meaning.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use std::fmt;

/// Message for an empty expression (api-contract §5.2, contract text).
pub const MSG_REQUIRED: &str = "Cron expression is required.";
/// Message for a field count other than five (api-contract §5.2, contract text).
pub const MSG_FIELD_COUNT: &str =
    "Cron expression must have exactly 5 fields (minute hour day month day-of-week).";
/// Message when both day-of-month and day-of-week are restricted (policy §7).
pub const MSG_BOTH_DAYS: &str = "Cron expression restricts both day-of-month and day-of-week. \
Standard cron runs when either matches, which one schedule cannot express: restrict only one of them \
and use * for the other.";

/// Longest accepted expression, characters (the stored text stays small).
pub const MAX_CHARS: usize = 200;

/// How far ahead [`CronExpr::next_fire_from`] looks before deciding an expression never fires
/// (covers `0 0 29 2 *`, which can wait eight years across a skipped leap year such as 2100).
const SEARCH_DAYS: i64 = 366 * 9;

/// Why a cron expression was rejected; `Display` is the human message returned as `message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronError(pub String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Minute,
    Hour,
    Day,
    Month,
    Weekday,
}

impl Field {
    /// Inclusive bounds as written in a standard crontab.
    fn bounds(self) -> (u32, u32) {
        match self {
            Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::Day => (1, 31),
            Field::Month => (1, 12),
            Field::Weekday => (0, 7),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::Day => "day",
            Field::Month => "month",
            Field::Weekday => "day_of_week",
        }
    }
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// A parsed five-field cron expression. Bit `n` of each set means value `n` matches
/// (weekday 0 = Sunday … 6 = Saturday).
#[derive(Clone, PartialEq, Eq)]
pub struct CronExpr {
    source: String,
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    days_restricted: bool,
    weekdays_restricted: bool,
}

impl fmt::Debug for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CronExpr({:?})", self.source)
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

fn full(field: Field) -> u64 {
    let (lo, hi) = match field {
        Field::Weekday => (0, 6),
        f => f.bounds(),
    };
    (lo..=hi).fold(0u64, |acc, v| acc | (1 << v))
}

fn parse_value(token: &str, field: Field, expr: &str) -> Result<u32, CronError> {
    let lower = token.to_ascii_lowercase();
    let named = match field {
        Field::Month => MONTHS
            .iter()
            .position(|m| *m == lower)
            .map(|i| i as u32 + 1),
        Field::Weekday => WEEKDAYS.iter().position(|d| *d == lower).map(|i| i as u32),
        _ => None,
    };
    if let Some(v) = named {
        return Ok(v);
    }
    if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
        let v: u32 = token.parse().map_err(|_| {
            CronError(format!(
                "Error validating expression '{expr}': value too large"
            ))
        })?;
        let (lo, hi) = field.bounds();
        if v < lo {
            return Err(CronError(format!(
                "Error validating expression '{expr}': the first value ({v}) is lower than the minimum value ({lo})"
            )));
        }
        if v > hi {
            return Err(CronError(format!(
                "Error validating expression '{expr}': the last value ({v}) is higher than the maximum value ({hi})"
            )));
        }
        return Ok(v);
    }
    match field {
        Field::Month if token.chars().all(|c| c.is_ascii_alphabetic()) => {
            Err(CronError(format!("Invalid month name \"{token}\"")))
        }
        Field::Weekday if token.chars().all(|c| c.is_ascii_alphabetic()) => {
            Err(CronError(format!("Invalid weekday name \"{token}\"")))
        }
        _ => Err(CronError(format!(
            "Unrecognized expression \"{expr}\" for field \"{}\"",
            field.name()
        ))),
    }
}

/// Parses one standard field into a bit set. Weekday 7 folds onto 0 (Sunday).
fn parse_field(text: &str, field: Field) -> Result<u64, CronError> {
    let (lo, hi) = field.bounds();
    let mut set = 0u64;
    for part in text.split(',') {
        let (base, step) = match part.split_once('/') {
            Some((b, s)) => {
                if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(CronError(format!(
                        "Unrecognized expression \"{part}\" for field \"{}\"",
                        field.name()
                    )));
                }
                let step: u32 = s.parse().unwrap_or(u32::MAX);
                if step == 0 {
                    return Err(CronError("Increment must be higher than 0".into()));
                }
                (b, Some(step))
            }
            None => (part, None),
        };
        let (start, end) = if base == "*" {
            (lo, if field == Field::Weekday { 6 } else { hi })
        } else if let Some((a, b)) = base.split_once('-') {
            let a = parse_value(a, field, part)?;
            let b = parse_value(b, field, part)?;
            if a > b {
                return Err(CronError(
                    "The minimum value in a range must not be higher than the maximum".into(),
                ));
            }
            (a, b)
        } else {
            let v = parse_value(base, field, part)?;
            match step {
                Some(_) => (v, if field == Field::Weekday { 6 } else { hi }),
                None => (v, v),
            }
        };
        let step = step.unwrap_or(1);
        let mut v = start;
        while v <= end {
            let bit = if field == Field::Weekday && v == 7 {
                0
            } else {
                v
            };
            set |= 1 << bit;
            v = match v.checked_add(step) {
                Some(n) => n,
                None => break,
            };
        }
    }
    Ok(set)
}

impl CronExpr {
    /// Parses a standard five-field crontab line (surrounding whitespace ignored).
    ///
    /// Errors carry the contract's messages: [`MSG_REQUIRED`], [`MSG_FIELD_COUNT`],
    /// APScheduler-style texts for bad values, and [`MSG_BOTH_DAYS`].
    pub fn parse(text: &str) -> Result<Self, CronError> {
        let source = text.trim();
        if source.is_empty() {
            return Err(CronError(MSG_REQUIRED.into()));
        }
        if source.len() > MAX_CHARS {
            return Err(CronError(format!(
                "Cron expression must be at most {MAX_CHARS} characters."
            )));
        }
        let fields: Vec<&str> = source.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(CronError(MSG_FIELD_COUNT.into()));
        }
        let minutes = parse_field(fields[0], Field::Minute)?;
        let hours = parse_field(fields[1], Field::Hour)? as u32;
        let days = parse_field(fields[2], Field::Day)? as u32;
        let months = parse_field(fields[3], Field::Month)? as u16;
        let weekdays = parse_field(fields[4], Field::Weekday)? as u8;
        // Standard cron treats a day field as restricted unless its text starts with `*`
        // (`1-31` is restricted): both so restricted means "either matches" — every day when
        // one set is full — which differs from the other field alone unless both are full.
        let full_days = u64::from(days) == full(Field::Day);
        let full_weekdays = u64::from(weekdays) == full(Field::Weekday);
        if !fields[2].starts_with('*')
            && !fields[4].starts_with('*')
            && (full_days != full_weekdays)
        {
            return Err(CronError(MSG_BOTH_DAYS.into()));
        }
        Self::from_sets(fields.join(" "), minutes, hours, days, months, weekdays)
    }

    fn from_sets(
        source: String,
        minutes: u64,
        hours: u32,
        days: u32,
        months: u16,
        weekdays: u8,
    ) -> Result<Self, CronError> {
        let days_restricted = u64::from(days) != full(Field::Day);
        let weekdays_restricted = u64::from(weekdays) != full(Field::Weekday);
        if days_restricted && weekdays_restricted {
            return Err(CronError(MSG_BOTH_DAYS.into()));
        }
        Ok(Self {
            source,
            minutes,
            hours,
            days,
            months,
            weekdays,
            days_restricted,
            weekdays_restricted,
        })
    }

    /// The expression as given, trimmed and with single spaces between fields.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    fn date_matches(&self, date: NaiveDate) -> bool {
        self.months & (1 << date.month()) != 0
            && self.days & (1 << date.day()) != 0
            && self.weekdays & (1 << date.weekday().num_days_from_sunday()) != 0
    }

    /// The first firing instant at or after `from`, evaluated in `tz`; `None` if the
    /// expression never fires (e.g. `0 9 31 2 *`). Local times that do not exist (a DST gap)
    /// are skipped; an ambiguous local time fires once, at its earlier instant.
    pub fn next_fire_from(&self, from: DateTime<Utc>, tz: Tz) -> Option<DateTime<Tz>> {
        let local = from.with_timezone(&tz);
        let mut date = local.date_naive();
        let first = date;
        let (now_h, now_m) = (local.hour(), local.minute());
        let last = date + Duration::days(SEARCH_DAYS);
        while date <= last {
            if self.date_matches(date) {
                // On the first day, wall times before `from` cannot fire at or after it (with
                // `earliest()` mapping): skip them instead of converting each one.
                let today = date == first;
                for h in (0..24).filter(|h| self.hours & (1 << h) != 0 && !(today && *h < now_h)) {
                    let skip_minutes = today && h == now_h;
                    for m in (0..60).filter(|m| {
                        self.minutes & (1u64 << m) != 0 && !(skip_minutes && *m < now_m)
                    }) {
                        let Some(naive) = date.and_hms_opt(h, m, 0) else {
                            continue;
                        };
                        let Some(at) = tz.from_local_datetime(&naive).earliest() else {
                            continue;
                        };
                        if at >= local {
                            return Some(at);
                        }
                    }
                }
            }
            date = date.succ_opt()?;
        }
        None
    }

    /// Up to `count` firing instants, strictly increasing, the first at or after `from`
    /// rounded up to the whole second (api-contract §3.6 cron-preview).
    pub fn upcoming(&self, from: DateTime<Utc>, tz: Tz, count: usize) -> Vec<DateTime<Tz>> {
        let mut out = Vec::with_capacity(count.min(64));
        let mut cursor = ceil_to_second(from);
        while out.len() < count {
            match self.next_fire_from(cursor, tz) {
                Some(at) => {
                    cursor = at.with_timezone(&Utc) + Duration::seconds(1);
                    out.push(at);
                }
                None => break,
            }
        }
        out
    }

    /// The EventBridge Scheduler expression, e.g. `0 9 * * 1` → `cron(0 9 ? * 2 *)`.
    ///
    /// Rendered from the parsed sets: `*` for a full field, `start/step` for a progression
    /// that runs to the field's end, else ranges and lists; weekdays become 1 (Sunday)…7
    /// (Saturday) and the unrestricted day field becomes `?`.
    pub fn to_eventbridge(&self) -> String {
        let minutes = render(self.minutes, 0, 59, true);
        let hours = render(u64::from(self.hours), 0, 23, true);
        let months = render(u64::from(self.months), 1, 12, true);
        let (days, weekdays) = if self.weekdays_restricted {
            let eb = u64::from(self.weekdays) << 1; // Sunday 0 → 1 … Saturday 6 → 7
            ("?".to_string(), render(eb, 1, 7, false))
        } else {
            (render(u64::from(self.days), 1, 31, true), "?".to_string())
        };
        format!("cron({minutes} {hours} {days} {months} {weekdays} *)")
    }

    /// Reads an EventBridge `cron(m h dom mon dow year)` expression (weekday 1 = Sunday),
    /// as stored on a schedule. Accepts `*`, `?`, numbers, names, ranges, lists and steps;
    /// rejects the `L`, `W` and `#` forms, which this system never writes.
    pub fn parse_eventbridge(text: &str) -> Result<Self, CronError> {
        let inner = text
            .trim()
            .strip_prefix("cron(")
            .and_then(|t| t.strip_suffix(')'))
            .ok_or_else(|| CronError(format!("Not an EventBridge cron expression: {text}")))?;
        let f: Vec<&str> = inner.split_whitespace().collect();
        if f.len() != 6 {
            return Err(CronError(format!(
                "EventBridge cron needs 6 fields: {text}"
            )));
        }
        if f[5] != "*" {
            return Err(CronError(format!("Only year * is supported: {text}")));
        }
        let q = |s: &str, field| {
            if s == "?" {
                parse_field("*", field)
            } else {
                parse_field(s, field)
            }
        };
        let minutes = parse_field(f[0], Field::Minute)?;
        let hours = parse_field(f[1], Field::Hour)? as u32;
        let days = q(f[2], Field::Day)? as u32;
        let months = parse_field(f[3], Field::Month)? as u16;
        let weekdays = if f[4] == "?" || f[4] == "*" {
            full(Field::Weekday) as u8
        } else {
            // EventBridge numbers weekdays 1 (Sunday) … 7 (Saturday); names match ours.
            let mut set = 0u8;
            for part in f[4].split(',') {
                let shifted = shift_weekday_part(part)?;
                set |= parse_field(&shifted, Field::Weekday)? as u8;
            }
            set
        };
        Self::from_sets(f.join(" "), minutes, hours, days, months, weekdays)
    }
}

/// Converts an expression written for APScheduler's `CronTrigger.from_crontab` (the legacy
/// backend), whose day-of-week counts from **Monday = 0** (`mon`-`sun` names), into standard
/// crontab meaning (Sunday = 0) so the job keeps firing on the same days: `0 10 * * 2` (was
/// Wednesday) becomes `0 10 * * 3`. Only the day-of-week field changes; the result is parsed
/// like any expression (so one restricting both day fields is still refused).
pub fn from_apscheduler(text: &str) -> Result<CronExpr, CronError> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    if fields.len() != 5 {
        return CronExpr::parse(text);
    }
    let dow = fields[4];
    if dow == "*" || dow == "?" {
        return CronExpr::parse(text);
    }
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let bad = || CronError(format!("Invalid APScheduler day-of-week \"{dow}\""));
    let value = |v: &str| -> Result<u32, CronError> {
        let v = v.to_ascii_lowercase();
        if let Some(i) = NAMES.iter().position(|n| *n == v) {
            return Ok(i as u32);
        }
        v.parse::<u32>().ok().filter(|n| *n <= 6).ok_or_else(bad)
    };
    let mut standard: u64 = 0;
    for part in dow.split(',') {
        let (base, step) = match part.split_once('/') {
            Some((b, s)) => (b, s.parse::<u32>().ok().filter(|s| *s > 0).ok_or_else(bad)?),
            None => (part, 1),
        };
        let (lo, hi) = match base.split_once('-') {
            _ if base == "*" => (0, 6),
            Some((a, b)) => (value(a)?, value(b)?),
            None if part.contains('/') => (value(base)?, 6),
            None => {
                let v = value(base)?;
                (v, v)
            }
        };
        if lo > hi {
            return Err(bad());
        }
        for d in (lo..=hi).step_by(step as usize) {
            standard |= 1u64 << ((d + 1) % 7);
        }
    }
    let converted = format!(
        "{} {} {} {} {}",
        fields[0],
        fields[1],
        fields[2],
        fields[3],
        render(standard, 0, 6, false)
    );
    CronExpr::parse(&converted)
}

/// Moves EventBridge weekday numbers (1-7) onto crontab numbers (0-6), keeping names.
fn shift_weekday_part(part: &str) -> Result<String, CronError> {
    let (base, step) = match part.split_once('/') {
        Some((b, s)) => (b, Some(s)),
        None => (part, None),
    };
    let shift = |v: &str| -> Result<String, CronError> {
        if v == "*" || v.chars().all(|c| c.is_ascii_alphabetic()) {
            return Ok(v.to_string());
        }
        match v.parse::<u32>() {
            Ok(n) if (1..=7).contains(&n) => Ok((n - 1).to_string()),
            _ => Err(CronError(format!("Invalid EventBridge weekday \"{v}\""))),
        }
    };
    let base = match base.split_once('-') {
        Some((a, b)) => format!("{}-{}", shift(a)?, shift(b)?),
        None => shift(base)?,
    };
    Ok(match step {
        Some(s) => format!("{base}/{s}"),
        None => base,
    })
}

/// Renders a value set compactly; `allow_step` permits the `start/step` form.
fn render(set: u64, lo: u32, hi: u32, allow_step: bool) -> String {
    let values: Vec<u32> = (lo..=hi).filter(|v| set & (1u64 << v) != 0).collect();
    if values.len() == (hi - lo + 1) as usize {
        return "*".into();
    }
    if allow_step && values.len() >= 3 {
        let step = values[1] - values[0];
        if step > 1
            && values.windows(2).all(|w| w[1] - w[0] == step)
            && values[values.len() - 1] + step > hi
        {
            return format!("{}/{}", values[0], step);
        }
    }
    let mut parts = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let mut j = i;
        while j + 1 < values.len() && values[j + 1] == values[j] + 1 {
            j += 1;
        }
        match j - i {
            0 => parts.push(values[i].to_string()),
            1 => {
                parts.push(values[i].to_string());
                parts.push(values[j].to_string());
            }
            _ => parts.push(format!("{}-{}", values[i], values[j])),
        }
        i = j + 1;
    }
    parts.join(",")
}

fn ceil_to_second(t: DateTime<Utc>) -> DateTime<Utc> {
    if t.nanosecond() == 0 {
        t
    } else {
        t.with_nanosecond(0).unwrap_or(t) + Duration::seconds(1)
    }
}

#[cfg(test)]
#[path = "cron_test.rs"]
mod tests;
