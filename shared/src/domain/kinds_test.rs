use super::*;

#[test]
fn names_round_trip_and_match_serde() {
    for s in ExecutionStatus::ALL {
        assert_eq!(ExecutionStatus::parse(s.as_str()), Some(s));
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
    for t in Trigger::ALL {
        assert_eq!(Trigger::parse(t.as_str()), Some(t));
        assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
    }
    for t in ExecutionType::ALL {
        assert_eq!(ExecutionType::parse(t.as_str()), Some(t));
        assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
    }
    for l in Level::ALL {
        assert_eq!(Level::parse(l.as_str()), Some(l));
        assert_eq!(serde_json::to_value(l).unwrap(), l.as_str());
    }
    assert_eq!(ExecutionStatus::parse("Success"), None);
    assert!(serde_json::from_value::<ExecutionStatus>("queued".into()).is_err());
    // Counter letters are distinct (store/executions.rs sums fields by them).
    let codes: std::collections::HashSet<char> =
        ExecutionStatus::ALL.iter().map(|s| s.code()).collect();
    assert_eq!(codes.len(), ExecutionStatus::ALL.len());
    let codes: std::collections::HashSet<char> = Trigger::ALL.iter().map(|t| t.code()).collect();
    assert_eq!(codes.len(), Trigger::ALL.len());
}
