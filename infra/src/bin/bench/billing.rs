//! Capacity as DynamoDB bills it, estimated from each call's request and answer (DynamoDB
//! Local reports consumed capacity, but not with AWS's minimums): reads round each item — or,
//! for a Query, the sum of the items read — up to 4 KB, bill 0.5 unit per 4 KB eventually
//! consistent and 1 strongly consistent, at least one such unit per GetItem, per requested key
//! of a BatchGetItem (found or not) and per Query; TransactGetItems bills 2 units per 4 KB per
//! item. Writes bill 1 unit per 1 KB of the item (at least 1), 2 in a transaction, where a
//! ConditionCheck is billed like a write; each index entry a Put creates is one more write.
//! An UpdateItem or Delete is counted as 1 KB (the items this product updates in place are
//! counters and markers, all under 1 KB). Item size: attribute names plus values, as
//! <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html>
//! describes it (numbers as about one byte per two digits).

use serde_json::{Map, Value};

/// What one call is billed, and where its writes land.
#[derive(Clone, Debug, Default)]
pub struct Billed {
    pub rcu: f64,
    pub wcu: f64,
    /// Items put, updated or deleted (ConditionChecks are not writes of an item).
    pub items_written: u64,
    /// `(partition, item, units, an item written)` of every write (index entries as
    /// `GSIn:<key>`, and ConditionChecks, are not items written).
    pub writes: Vec<(String, String, f64, bool)>,
}

fn value_size(v: &Value) -> usize {
    let Some(obj) = v.as_object() else { return 0 };
    let Some((t, inner)) = obj.iter().next() else {
        return 0;
    };
    match (t.as_str(), inner) {
        ("S", Value::String(s)) => s.len(),
        ("N", Value::String(n)) => n.trim_start_matches('-').len().div_ceil(2) + 1,
        ("B", Value::String(b)) => b.len() * 3 / 4,
        ("BOOL", _) | ("NULL", _) => 1,
        ("M", Value::Object(m)) => 3 + item_size(m),
        ("L", Value::Array(l)) => 3 + l.iter().map(|x| 1 + value_size(x)).sum::<usize>(),
        ("SS", Value::Array(l)) => l.iter().map(|x| x.as_str().map_or(0, str::len)).sum(),
        ("NS", Value::Array(l)) => l
            .iter()
            .map(|x| x.as_str().map_or(0, |n| n.len().div_ceil(2) + 1))
            .sum(),
        _ => 0,
    }
}

/// Size of an item in DynamoDB JSON, bytes.
pub fn item_size(item: &Map<String, Value>) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn units(size: usize, per: usize) -> f64 {
    size.div_ceil(per).max(1) as f64
}

fn key_of(item: &Value) -> (String, String) {
    let s = |k: &str| {
        item.get(k)
            .and_then(|v| v.get("S"))
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    (s("PK"), s("SK"))
}

impl Billed {
    fn put(&mut self, item: &Value, factor: f64) {
        let size = item.as_object().map_or(0, item_size);
        let w = units(size, 1024) * factor;
        let (pk, sk) = key_of(item);
        self.wcu += w;
        self.items_written += 1;
        self.writes.push((pk, sk.clone(), w, true));
        for (gsi, attr) in [("GSI1", "GSI1PK"), ("GSI2", "GSI2PK")] {
            if let Some(k) = item
                .get(attr)
                .and_then(|v| v.get("S"))
                .and_then(Value::as_str)
            {
                let w = units(size, 1024);
                self.wcu += w;
                self.writes
                    .push((format!("{gsi}:{k}"), sk.clone(), w, false));
            }
        }
    }

    fn keyed(&mut self, key: &Value, factor: f64, is_write: bool) {
        let (pk, sk) = key_of(key);
        self.wcu += factor;
        if is_write {
            self.items_written += 1;
        }
        self.writes.push((pk, sk, factor, is_write));
    }
}

/// The billed capacity of one call: `op` its `X-Amz-Target` operation, `req` and `resp` its
/// bodies.
pub fn bill(op: &str, req: &Value, resp: &Value) -> Billed {
    let mut b = Billed::default();
    let factor = |consistent: bool| if consistent { 1.0 } else { 0.5 };
    let size_of = |v: Option<&Value>| v.and_then(Value::as_object).map_or(0, item_size);
    match op {
        "GetItem" => {
            let f = factor(req["ConsistentRead"] == Value::Bool(true));
            b.rcu = units(size_of(resp.get("Item")), 4096) * f;
        }
        "BatchGetItem" => {
            if let Some(tables) = req["RequestItems"].as_object() {
                for (table, ka) in tables {
                    let f = factor(ka["ConsistentRead"] == Value::Bool(true));
                    let asked = ka["Keys"].as_array().map_or(0, Vec::len);
                    let found = resp["Responses"][table]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    b.rcu += found
                        .iter()
                        .map(|i| units(size_of(Some(i)), 4096) * f)
                        .sum::<f64>();
                    b.rcu += asked.saturating_sub(found.len()) as f64 * f;
                }
            }
        }
        "Query" | "Scan" => {
            let f = factor(req["ConsistentRead"] == Value::Bool(true));
            let total: usize = resp["Items"]
                .as_array()
                .map_or(0, |a| a.iter().map(|i| size_of(Some(i))).sum());
            b.rcu = units(total, 4096) * f;
        }
        "TransactGetItems" => {
            let asked = req["TransactItems"].as_array().map_or(0, Vec::len);
            let got = resp["Responses"].as_array().cloned().unwrap_or_default();
            b.rcu = got
                .iter()
                .map(|r| units(size_of(r.get("Item")), 4096) * 2.0)
                .sum::<f64>()
                + asked.saturating_sub(got.len()) as f64 * 2.0;
        }
        "PutItem" => b.put(&req["Item"], 1.0),
        "UpdateItem" | "DeleteItem" => b.keyed(&req["Key"], 1.0, true),
        "BatchWriteItem" => {
            if let Some(tables) = req["RequestItems"].as_object() {
                for reqs in tables.values() {
                    for r in reqs.as_array().into_iter().flatten() {
                        if let Some(p) = r.get("PutRequest") {
                            b.put(&p["Item"], 1.0);
                        } else if let Some(d) = r.get("DeleteRequest") {
                            b.keyed(&d["Key"], 1.0, true);
                        }
                    }
                }
            }
        }
        "TransactWriteItems" => {
            for t in req["TransactItems"].as_array().into_iter().flatten() {
                if let Some(p) = t.get("Put") {
                    b.put(&p["Item"], 2.0);
                } else if let Some(u) = t.get("Update") {
                    b.keyed(&u["Key"], 2.0, true);
                } else if let Some(d) = t.get("Delete") {
                    b.keyed(&d["Key"], 2.0, true);
                } else if let Some(c) = t.get("ConditionCheck") {
                    b.keyed(&c["Key"], 2.0, false);
                }
            }
        }
        _ => {}
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn batch_get_bills_every_requested_key_and_rounds_items_up() {
        let req = json!({"RequestItems": {"t": {"Keys": [{}, {}, {}, {}]}}});
        // One found item of ~5 KB (two 4 KB units), three keys not found.
        let big = "x".repeat(5000);
        let resp = json!({"Responses": {"t": [{"PK": {"S": "a"}, "d": {"S": big}}]}});
        let b = bill("BatchGetItem", &req, &resp);
        assert_eq!(b.rcu, 2.0 * 0.5 + 3.0 * 0.5);
        let consistent = json!({"RequestItems": {"t": {"Keys": [{}], "ConsistentRead": true}}});
        assert_eq!(bill("BatchGetItem", &consistent, &json!({})).rcu, 1.0);
    }

    #[test]
    fn a_query_is_billed_on_the_sum_of_its_items_with_a_minimum() {
        let item = json!({"PK": {"S": "p"}, "n": {"N": "12345"}});
        let resp = json!({"Items": [item.clone(), item]});
        assert_eq!(bill("Query", &json!({}), &resp).rcu, 0.5);
        assert_eq!(bill("Query", &json!({}), &json!({"Items": []})).rcu, 0.5);
        assert_eq!(
            bill("Query", &json!({"ConsistentRead": true}), &json!({})).rcu,
            1.0
        );
    }

    #[test]
    fn transactions_bill_double_and_count_index_entries_and_checks() {
        let req = json!({"TransactItems": [
            {"Put": {"Item": {"PK": {"S": "A"}, "SK": {"S": "1"}, "GSI1PK": {"S": "G"}}}},
            {"Update": {"Key": {"PK": {"S": "C"}, "SK": {"S": "TOTAL"}}}},
            {"ConditionCheck": {"Key": {"PK": {"S": "U"}, "SK": {"S": "M"}}}}
        ]});
        let b = bill("TransactWriteItems", &req, &json!({}));
        // Put 2 + its index entry 1 + update 2 + check 2.
        assert_eq!(b.wcu, 7.0);
        assert_eq!(b.items_written, 2);
        assert!(b.writes.iter().any(|w| w.0 == "GSI1:G" && !w.3));
        assert!(b.writes.iter().any(|w| w.0 == "U" && !w.3));
    }
}
