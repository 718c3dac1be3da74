//! What AWS enforces around each function, as the template declares it, for the local
//! stack to enforce the same: each function's `Timeout` and `MemorySize` (the function's own
//! value, else `Globals.Function`), API Gateway's 30 s integration timeout and 10 MB
//! payload, and Lambda's 6 MB synchronous request and response.

use serde_yaml::Value;
use std::{collections::BTreeMap, time::Duration};

/// The template compiled in: the local stack always enforces the limits it was built with.
pub const TEMPLATE: &str = include_str!("../../template.yaml");

/// API Gateway HTTP API's integration timeout (hard limit).
pub const API_GATEWAY_TIMEOUT: Duration = Duration::from_secs(30);
/// API Gateway HTTP API's largest request payload, bytes.
pub const API_GATEWAY_MAX_BODY: usize = 10 * 1024 * 1024;
/// Lambda's largest synchronous invocation request or response payload, bytes.
pub const LAMBDA_MAX_PAYLOAD: usize = 6 * 1024 * 1024;

/// One function's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FunctionLimits {
    /// The function's `Timeout`.
    pub timeout: Duration,
    /// The function's `MemorySize`, MB.
    pub memory_mb: u64,
}

/// Every `AWS::Serverless::Function`'s limits by logical id.
pub fn functions(template: &str) -> BTreeMap<String, FunctionLimits> {
    let doc: Value = serde_yaml::from_str(template).unwrap_or(Value::Null);
    let globals = doc.get("Globals").and_then(|g| g.get("Function"));
    let num = |v: Option<&Value>, key: &str| v.and_then(|p| p.get(key)).and_then(Value::as_u64);
    let mut out = BTreeMap::new();
    for (id, res) in doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
    {
        if res.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let props = res.get("Properties");
        let timeout = num(props, "Timeout")
            .or(num(globals, "Timeout"))
            .unwrap_or(3);
        let memory_mb = num(props, "MemorySize")
            .or(num(globals, "MemorySize"))
            .unwrap_or(128);
        if let Some(id) = id.as_str() {
            out.insert(
                id.to_string(),
                FunctionLimits {
                    timeout: Duration::from_secs(timeout),
                    memory_mb,
                },
            );
        }
    }
    out
}

/// The limits of `function` in the compiled-in template (Lambda's defaults, 3 s and 128 MB,
/// for a name the template does not have).
pub fn of(function: &str) -> FunctionLimits {
    functions(TEMPLATE)
        .get(function)
        .copied()
        .unwrap_or(FunctionLimits {
            timeout: Duration::from_secs(3),
            memory_mb: 128,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_has_its_template_limits() {
        let all = functions(TEMPLATE);
        assert_eq!(all.len(), 9, "{all:?}");
        assert_eq!(all["MaintenanceFunction"].timeout, Duration::from_secs(300));
        assert!(all["AuthFunction"].timeout <= API_GATEWAY_TIMEOUT);
        assert_eq!(of("nope").timeout, Duration::from_secs(3));
    }
}
