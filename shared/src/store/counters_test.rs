use super::*;

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

#[test]
fn tally_reads_only_the_selected_slots() {
    let item: Item = HashMap::from([
        ("PK".to_string(), s("XSTAT#JOB#1")),
        ("h00_sSg".to_string(), n(2)),
        ("h01_sSg".to_string(), n(3)),
        ("h01_fMw".to_string(), n(1)),
        ("h01_ds".to_string(), n(1_500_000)),
        ("m01_sSg".to_string(), n(100)),
        ("t_sSg".to_string(), n(7)),
    ]);
    assert_eq!(tally_of(Some(&item), 't', |_| true).get("sSg"), 7);
    let all = tally_of(Some(&item), 'h', |_| true);
    assert_eq!(all.get("sSg"), 5);
    assert_eq!(all.get("fMw"), 1);
    assert_eq!(all.get("ds"), 1_500_000);
    let one = tally_of(Some(&item), 'h', |h| h == 1);
    assert_eq!(one.get("sSg"), 3);
    assert_eq!(one.sum(|f| f.len() == 3), 4);
    assert_eq!(tally_of(None, 'h', |_| true), Tally::default());
}

#[test]
fn one_delta_updates_total_day_sum_hour_slot_and_minute_slot() {
    let at = DateTime::parse_from_rfc3339("2026-11-23T05:07:09Z")
        .unwrap()
        .with_timezone(&Utc);
    let d = Delta {
        at,
        adds: vec![("rSg".into(), 1)],
    };
    let items = updates("t", "XSTAT#ALL#0", &d, None).unwrap();
    let mut keys: Vec<(String, String)> = items
        .iter()
        .map(|i| {
            let u = i.update().unwrap();
            let sk = u.key().get("SK").unwrap().as_s().unwrap().clone();
            let mut names: Vec<String> = u
                .expression_attribute_names()
                .unwrap()
                .values()
                .cloned()
                .collect();
            names.sort();
            (sk, names.join(" "))
        })
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            ("D#2026-11-23".to_string(), "d_rSg".to_string()),
            ("DH#2026-11-23".to_string(), "h05_rSg".to_string()),
            ("H#2026-11-23T05".to_string(), "m07_rSg".to_string()),
            ("TOTAL".to_string(), "t_rSg".to_string()),
        ]
    );
}

fn day_list(scope_days: &[(u32, i64)]) -> Vec<(NaiveDate, Item)> {
    scope_days
        .iter()
        .map(|(d, v)| {
            let day = NaiveDate::from_ymd_opt(2026, 11, *d).unwrap();
            let item: Item = HashMap::from([("d_sSg".to_string(), n(*v))]);
            (day, item)
        })
        .collect()
}

#[test]
fn recent_days_sum_only_the_days_every_scope_answered_for() {
    let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    // Scope A filled its page (RECENT_DAYS items, newest first, oldest = day 10): it may have
    // more before day 10. Scope B answered everything it has (3 items, down to day 2).
    let full: Vec<(u32, i64)> = (0..RECENT_DAYS as u32).map(|i| (23 - i, 1)).collect();
    let days = RecentDays(vec![day_list(&full), day_list(&[(20, 5), (12, 7), (2, 9)])]);
    let (complete, cut) = days.complete_days();
    assert_eq!(cut, Some(day(10)));
    let got: Vec<(NaiveDate, i64)> = complete.iter().map(|(d, t)| (*d, t.get("sSg"))).collect();
    // Newest first; day 20 sums both scopes; day 2 (scope B) waits until A is read that far.
    assert_eq!(got.first(), Some(&(day(23), 1)));
    assert!(got.contains(&(day(20), 6)));
    assert!(got.contains(&(day(12), 8)));
    assert_eq!(got.last(), Some(&(day(10), 1)));
    assert_eq!(got.len(), RECENT_DAYS as usize);
    // No scope filled its page: everything is complete, nothing more to read.
    let days = RecentDays(vec![day_list(&[(20, 5)]), day_list(&[(12, 7), (2, 9)])]);
    let (complete, cut) = days.complete_days();
    assert_eq!(cut, None);
    assert_eq!(
        complete.iter().map(|(d, _)| *d).collect::<Vec<_>>(),
        vec![day(20), day(12), day(2)]
    );
}

/// The `TOTAL` update's expression and its `:fd` value, for a delta on 2026-11-23.
fn total_mark(floor: Option<NaiveDate>) -> (String, Option<String>) {
    let at = DateTime::parse_from_rfc3339("2026-11-23T05:07:09Z")
        .unwrap()
        .with_timezone(&Utc);
    let d = Delta {
        at,
        adds: vec![("sSg".into(), 1)],
    };
    let items = updates("t", "XSTAT#ALL#0", &d, floor).unwrap();
    let total = items
        .iter()
        .filter_map(|i| i.update())
        .find(|u| u.key().get("SK").unwrap().as_s().unwrap() == "TOTAL")
        .unwrap();
    (
        total.update_expression().to_string(),
        total
            .expression_attribute_values()
            .and_then(|v| v.get(":fd"))
            .map(|v| v.as_s().unwrap().clone()),
    )
}

#[test]
fn total_keeps_the_folded_mark() {
    let day = |d| NaiveDate::from_ymd_opt(2026, 11, d);
    // No retention: no mark.
    assert_eq!(total_mark(None), ("ADD #a0 :v0".to_string(), None));
    // A visible day: a new scope starts marked at the floor; an existing mark is kept.
    let (expr, v) = total_mark(day(1));
    assert!(
        expr.ends_with("SET #fd = if_not_exists(#fd, :fd)"),
        "{expr}"
    );
    assert_eq!(v.as_deref(), Some("2026-11-01"));
    // A day already past retention (an import of old history): the mark moves back to it,
    // so readers look for unfolded days until the maintenance function folds it.
    let (expr, v) = total_mark(day(24));
    assert!(expr.ends_with("SET #fd = :fd"), "{expr}");
    assert_eq!(v.as_deref(), Some("2026-11-23"));
}
