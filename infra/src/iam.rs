//! IAM as AWS would apply it, checked offline: what each AWS call needs, and whether a
//! function's `Policies` in `template.yaml` grant it.
//!
//! - [`classify`] turns one SDK request (as the emulator front sees it) into the IAM
//!   actions and resource ARNs AWS authorizes for it: a DynamoDB transaction needs the item
//!   action of each of its parts on each table (`TransactWriteItems` is no IAM action), a
//!   `Query` on an index needs the index ARN, `CreateSchedule` with a target role also needs
//!   `iam:PassRole` on that role, `SendEmail` needs the sender identity (and configuration set).
//! - [`Policies::from_template`] reads every `AWS::Serverless::Function`'s inline policy
//!   statements, resolving the intrinsics they use (`!Ref`, `!GetAtt`, `!Sub`, pseudo
//!   parameters) to the local stack's names ([`LOCAL_ACCOUNT`], [`LOCAL_TABLE`], …).
//! - [`check`] holds recorded calls against them: each call not allowed is a violation
//!   (function, action, resource); each allowed (action, resource pattern) never used is a
//!   warning (least privilege). Wildcards are IAM's: `*` any run of characters, `?` one;
//!   actions compare without case. A wildcard *action* in a policy is itself a violation.
//!
//! Local names: every test has its own table and schedule group, so recorded table and
//! schedule-group names are mapped to [`LOCAL_TABLE`] / [`LOCAL_GROUP`] (a stack has one of
//! each) before matching, and the template's `Table` / `ScheduleGroup` resolve to them.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use serde_yaml::Value as Yaml;
use std::collections::{BTreeMap, BTreeSet};

/// The account id in every local ARN (the one `shared::config`'s local defaults use).
pub const LOCAL_ACCOUNT: &str = "000000000000";
/// The canonical local table name every recorded table is mapped to.
pub const LOCAL_TABLE: &str = "cron-jobs";
/// The canonical local schedule group every recorded group is mapped to.
pub const LOCAL_GROUP: &str = "cron-jobs";
/// Region used when a request carries none (unsigned).
pub const DEFAULT_REGION: &str = "ap-northeast-1";

/// One permission one call needed: `dynamodb:Query` on `arn:aws:dynamodb:…:table/T/index/I`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Need {
    /// `service:Action`, as IAM names it.
    pub action: String,
    /// The resource ARN (`*` for actions without resource-level permissions).
    pub resource: String,
}

/// One recorded line: which function (the SDK app name) needed what.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Recorded {
    /// The caller's logical id (`AuthFunction`, …) or `cronctl`.
    pub function: String,
    /// `service:Action`.
    pub action: String,
    /// Resource ARN (or pattern, in a [`Report`]'s unused grants).
    pub resource: String,
}

/// The parts of an HTTP request to an AWS endpoint that decide its IAM needs (the schedule
/// group of a Scheduler call is the stack's one group, [`LOCAL_GROUP`], whatever it names).
pub struct Request<'a> {
    /// HTTP method (`GET`, `POST`, …).
    pub method: &'a str,
    /// URI path (`/schedules/<name>` for Scheduler, `/` for DynamoDB).
    pub path: &'a str,
    /// Raw query string, without `?`.
    pub query: &'a str,
    /// `X-Amz-Target` (JSON-protocol services: DynamoDB).
    pub target: Option<&'a str>,
    /// The request body (JSON for every API here).
    pub body: &'a [u8],
    /// The region the request was signed for.
    pub region: &'a str,
}

/// The app name in an SDK user agent (`… app/AuthFunction …`), if any.
pub fn app_name(user_agent: &str) -> Option<&str> {
    user_agent
        .split_whitespace()
        .find_map(|t| t.strip_prefix("app/"))
        .filter(|s| !s.is_empty())
}

/// The region of a SigV4 `Authorization` header (`Credential=AKID/DATE/REGION/SVC/aws4_request`).
pub fn region_of(authorization: &str) -> Option<&str> {
    let cred = authorization.split("Credential=").nth(1)?;
    cred.split('/').nth(2)
}

fn arn(service: &str, region: &str, rest: &str) -> String {
    format!("arn:aws:{service}:{region}:{LOCAL_ACCOUNT}:{rest}")
}

fn table_arn(region: &str, _table: &str, index: Option<&str>) -> String {
    match index {
        Some(i) => arn(
            "dynamodb",
            region,
            &format!("table/{LOCAL_TABLE}/index/{i}"),
        ),
        None => arn("dynamodb", region, &format!("table/{LOCAL_TABLE}")),
    }
}

fn need(action: &str, resource: String) -> Need {
    Need {
        action: action.to_string(),
        resource,
    }
}

/// The IAM needs of one request, or `None` for a request that is not an AWS API call the
/// classifier knows (it is then reported, not silently allowed).
pub fn classify(r: &Request) -> Option<Vec<Need>> {
    if let Some(t) = r.target.and_then(|t| t.strip_prefix("DynamoDB_20120810.")) {
        return Some(dynamodb(t, r.body, r.region));
    }
    if let Some(rest) = r.path.strip_prefix("/schedules") {
        return scheduler(r, rest);
    }
    if r.path.starts_with("/schedule-groups/") {
        let res = arn(
            "scheduler",
            r.region,
            &format!("schedule-group/{LOCAL_GROUP}"),
        );
        let action = match r.method {
            "POST" => "scheduler:CreateScheduleGroup",
            "GET" => "scheduler:GetScheduleGroup",
            "DELETE" => "scheduler:DeleteScheduleGroup",
            _ => return None,
        };
        return Some(vec![need(action, res)]);
    }
    if r.path == "/v2/email/outbound-emails" && r.method == "POST" {
        let v: Json = serde_json::from_slice(r.body).unwrap_or(Json::Null);
        let mut out = Vec::new();
        if let Some(from) = v.get("FromEmailAddress").and_then(Json::as_str) {
            let addr = from
                .rsplit_once('<')
                .map(|(_, a)| a.trim_end_matches('>'))
                .unwrap_or(from);
            out.push(need(
                "ses:SendEmail",
                arn("ses", r.region, &format!("identity/{addr}")),
            ));
        }
        if let Some(set) = v.get("ConfigurationSetName").and_then(Json::as_str) {
            out.push(need(
                "ses:SendEmail",
                arn("ses", r.region, &format!("configuration-set/{set}")),
            ));
        }
        return Some(out);
    }
    if let Some(id) = r.path.strip_prefix("/v2/email/identities") {
        let id = id.trim_start_matches('/');
        let action = match (r.method, id.is_empty()) {
            ("POST", true) => "ses:CreateEmailIdentity",
            ("GET", false) => "ses:GetEmailIdentity",
            ("GET", true) => "ses:ListEmailIdentities",
            ("DELETE", false) => "ses:DeleteEmailIdentity",
            _ => return None,
        };
        let res = if id.is_empty() {
            "*".into()
        } else {
            arn("ses", r.region, &format!("identity/{id}"))
        };
        return Some(vec![need(action, res)]);
    }
    None
}

fn dynamodb(op: &str, body: &[u8], region: &str) -> Vec<Need> {
    let v: Json = serde_json::from_slice(body).unwrap_or(Json::Null);
    let table = |v: &Json| {
        v.get("TableName")
            .and_then(Json::as_str)
            .map(str::to_string)
    };
    let act = |a: &str| format!("dynamodb:{a}");
    match op {
        "TransactWriteItems" | "TransactGetItems" => v
            .get("TransactItems")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let (kind, inner) = item.as_object()?.iter().next()?;
                let action = match kind.as_str() {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    "Get" => "GetItem",
                    _ => return None,
                };
                Some(need(&act(action), table_arn(region, &table(inner)?, None)))
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        "BatchGetItem" | "BatchWriteItem" => v
            .get("RequestItems")
            .and_then(Json::as_object)
            .into_iter()
            .flat_map(|m| m.keys())
            .map(|t| need(&act(op), table_arn(region, t, None)))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        _ => {
            let index = v.get("IndexName").and_then(Json::as_str);
            match table(&v) {
                Some(t) => vec![need(&act(op), table_arn(region, &t, index))],
                None => vec![need(&act(op), "*".into())],
            }
        }
    }
}

fn scheduler(r: &Request, rest: &str) -> Option<Vec<Need>> {
    let name = rest.trim_start_matches('/');
    if name.is_empty() {
        return match r.method {
            "GET" => Some(vec![need("scheduler:ListSchedules", "*".into())]),
            _ => None,
        };
    }
    let schedule = arn(
        "scheduler",
        r.region,
        &format!("schedule/{LOCAL_GROUP}/{name}"),
    );
    let body: Json = serde_json::from_slice(r.body).unwrap_or(Json::Null);
    let pass_role = || {
        body.pointer("/Target/RoleArn")
            .and_then(Json::as_str)
            .map(|role| need("iam:PassRole", role.to_string()))
    };
    Some(match r.method {
        "POST" => std::iter::once(need("scheduler:CreateSchedule", schedule))
            .chain(pass_role())
            .collect(),
        "PUT" => std::iter::once(need("scheduler:UpdateSchedule", schedule))
            .chain(pass_role())
            .collect(),
        "GET" => vec![need("scheduler:GetSchedule", schedule)],
        "DELETE" => vec![need("scheduler:DeleteSchedule", schedule)],
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------
// Policies

/// One resolved `Allow`/`Deny` statement.
#[derive(Clone, Debug)]
pub struct Statement {
    /// `Effect: Allow` (else `Deny`).
    pub allow: bool,
    /// Actions as written (`dynamodb:GetItem`; wildcards allowed by IAM, refused by [`check`]).
    pub actions: Vec<String>,
    /// Resource ARNs (patterns), intrinsics resolved.
    pub resources: Vec<String>,
}

/// Every function's resolved statements, by logical id (`AuthFunction`, …; `cronctl`).
#[derive(Clone, Debug, Default)]
pub struct Policies {
    pub functions: BTreeMap<String, Vec<Statement>>,
}

/// Why a template could not be read as policies.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The template or policy document cannot be read as checkable policies.
    #[error("template: {0}")]
    Template(String),
}

fn perr(m: impl Into<String>) -> PolicyError {
    PolicyError::Template(m.into())
}

/// What a logical id or pseudo parameter resolves to locally.
pub fn resolve_name(name: &str, region: &str) -> Option<String> {
    Some(match name {
        "AWS::Partition" => "aws".into(),
        "AWS::Region" => region.into(),
        "AWS::AccountId" => LOCAL_ACCOUNT.into(),
        "AWS::StackName" => "cron".into(),
        "AWS::URLSuffix" => "amazonaws.com".into(),
        "Table" => LOCAL_TABLE.into(),
        "ScheduleGroup" => LOCAL_GROUP.into(),
        "Table.Arn" => arn("dynamodb", region, &format!("table/{LOCAL_TABLE}")),
        "Table.StreamArn" => arn("dynamodb", region, &format!("table/{LOCAL_TABLE}/stream/*")),
        "ScheduleGroup.Arn" => arn(
            "scheduler",
            region,
            &format!("schedule-group/{LOCAL_GROUP}"),
        ),
        "SchedulerInvokeRole.Arn" => {
            format!("arn:aws:iam::{LOCAL_ACCOUNT}:role/cron-scheduler-invoke")
        }
        "ExecutorFunction.Arn" => arn("lambda", region, "function:executor"),
        "ScheduleDeadLetterQueue.Arn" => arn("sqs", region, "cron-dlq"),
        "JwtSecret" => arn("secretsmanager", region, "secret:jwt"),
        "GitHubTokenSecret" => arn("secretsmanager", region, "secret:github"),
        _ => return None,
    })
}

/// `${Name}` substitution of a `!Sub` string (or a JSON policy file's resource).
pub fn substitute(s: &str, region: &str) -> Result<String, PolicyError> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| perr(format!("unclosed ${{ in {s}")))?;
        let name = &after[..end];
        out.push_str(
            &resolve_name(name, region)
                .ok_or_else(|| perr(format!("cannot resolve ${{{name}}} locally")))?,
        );
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn resolve(v: &Yaml, region: &str) -> Result<Vec<String>, PolicyError> {
    match v {
        Yaml::String(s) => Ok(vec![s.clone()]),
        Yaml::Sequence(items) => {
            let mut out = Vec::new();
            for i in items {
                out.extend(resolve(i, region)?);
            }
            Ok(out)
        }
        Yaml::Tagged(t) => {
            let tag = t.tag.to_string();
            let tag = tag.trim_start_matches('!');
            match (tag, &t.value) {
                ("Ref", Yaml::String(n)) => Ok(vec![resolve_name(n, region)
                    .ok_or_else(|| perr(format!("cannot resolve !Ref {n}")))?]),
                ("GetAtt", Yaml::String(n)) => Ok(vec![resolve_name(n, region)
                    .ok_or_else(|| perr(format!("cannot resolve !GetAtt {n}")))?]),
                ("Sub", Yaml::String(s)) => Ok(vec![substitute(s, region)?]),
                _ => Err(perr(format!("unsupported intrinsic !{tag} in a policy"))),
            }
        }
        Yaml::Mapping(m) if m.len() == 1 => {
            let (k, v) = m.iter().next().expect("one entry");
            match (k.as_str(), v) {
                (Some("Ref"), Yaml::String(n)) => Ok(vec![resolve_name(n, region)
                    .ok_or_else(|| perr(format!("cannot resolve Ref {n}")))?]),
                (Some("Fn::GetAtt"), Yaml::Sequence(p)) if p.len() == 2 => {
                    let n = format!(
                        "{}.{}",
                        p[0].as_str().unwrap_or_default(),
                        p[1].as_str().unwrap_or_default()
                    );
                    Ok(vec![resolve_name(&n, region).ok_or_else(|| {
                        perr(format!("cannot resolve GetAtt {n}"))
                    })?])
                }
                (Some("Fn::Sub"), Yaml::String(s)) => Ok(vec![substitute(s, region)?]),
                _ => Err(perr(format!("unsupported value in a policy: {v:?}"))),
            }
        }
        other => Err(perr(format!("unsupported value in a policy: {other:?}"))),
    }
}

fn statements(list: &Yaml, region: &str, who: &str) -> Result<Vec<Statement>, PolicyError> {
    let mut out = Vec::new();
    for st in list.as_sequence().into_iter().flatten() {
        let effect = st.get("Effect").and_then(Yaml::as_str).unwrap_or("Allow");
        let actions = st
            .get("Action")
            .map(|a| resolve(a, region))
            .transpose()?
            .unwrap_or_default();
        let resources = st
            .get("Resource")
            .map(|a| resolve(a, region))
            .transpose()?
            .ok_or_else(|| perr(format!("{who}: a statement without Resource")))?;
        out.push(Statement {
            allow: effect == "Allow",
            actions,
            resources,
        });
    }
    Ok(out)
}

impl Policies {
    /// Every `AWS::Serverless::Function`'s `Policies` (inline `Statement` lists; a managed
    /// policy name or SAM policy template is refused: it could not be checked).
    pub fn from_template(yaml: &str, region: &str) -> Result<Self, PolicyError> {
        let doc: Yaml = serde_yaml::from_str(yaml).map_err(|e| perr(e.to_string()))?;
        let resources = doc
            .get("Resources")
            .and_then(Yaml::as_mapping)
            .ok_or_else(|| perr("no Resources"))?;
        let mut functions = BTreeMap::new();
        for (id, res) in resources {
            let Some(id) = id.as_str() else { continue };
            if res.get("Type").and_then(Yaml::as_str) != Some("AWS::Serverless::Function") {
                continue;
            }
            let mut all = Vec::new();
            let policies = res.get("Properties").and_then(|p| p.get("Policies"));
            for p in policies.and_then(Yaml::as_sequence).into_iter().flatten() {
                let list = p.get("Statement").ok_or_else(|| {
                    perr(format!(
                        "{id}: only inline Statement policies can be checked, found {p:?}"
                    ))
                })?;
                all.extend(statements(list, region, id)?);
            }
            functions.insert(id.to_string(), all);
        }
        Ok(Self { functions })
    }

    /// Adds a JSON IAM policy document (`{"Statement": [...]}`; `${…}` placeholders as in
    /// `!Sub`) as the policy of `who` (cronctl's documented policy).
    pub fn add_json(&mut self, who: &str, json: &str, region: &str) -> Result<(), PolicyError> {
        let resolved = substitute(json, region)?;
        let v: Json = serde_json::from_str(&resolved).map_err(|e| perr(format!("{who}: {e}")))?;
        let y: Yaml = serde_yaml::to_value(v.get("Statement").cloned().unwrap_or(Json::Null))
            .map_err(|e| perr(e.to_string()))?;
        let list = statements(&y, region, who)?;
        self.functions.insert(who.to_string(), list);
        Ok(())
    }
}

/// IAM's wildcard match: `*` any run of characters (also `/` and `:`), `?` exactly one.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn matches(st: &Statement, n: &Need) -> bool {
    st.actions
        .iter()
        .any(|a| wildcard(&a.to_ascii_lowercase(), &n.action.to_ascii_lowercase()))
        && st.resources.iter().any(|r| wildcard(r, &n.resource))
}

/// The outcome of [`check`].
#[derive(Debug, Default)]
pub struct Report {
    /// Calls no statement allows (or one denies): `(function, action, resource)`.
    pub missing: Vec<Recorded>,
    /// Granted `(function, action, resource pattern)` no recorded call used.
    pub unused: Vec<Recorded>,
    /// Functions that made calls but have no policy in the template.
    pub unknown_functions: Vec<String>,
    /// Statements granting a wildcard action (refused outright).
    pub wildcard_actions: Vec<Recorded>,
}

impl Report {
    /// No violation (warnings aside).
    pub fn ok(&self) -> bool {
        self.missing.is_empty()
            && self.unknown_functions.is_empty()
            && self.wildcard_actions.is_empty()
    }
}

/// Holds each recorded call against its function's policy.
pub fn check(policies: &Policies, calls: &[Recorded]) -> Report {
    let mut report = Report::default();
    let mut used: BTreeSet<(String, usize, String, String)> = BTreeSet::new();
    let mut unknown = BTreeSet::new();
    for c in calls {
        let Some(statements) = policies.functions.get(&c.function) else {
            unknown.insert(c.function.clone());
            continue;
        };
        let n = Need {
            action: c.action.clone(),
            resource: c.resource.clone(),
        };
        let denied = statements.iter().any(|s| !s.allow && matches(s, &n));
        let mut allowed = false;
        for (i, s) in statements.iter().enumerate().filter(|(_, s)| s.allow) {
            for a in &s.actions {
                if !wildcard(&a.to_ascii_lowercase(), &n.action.to_ascii_lowercase()) {
                    continue;
                }
                for r in &s.resources {
                    if wildcard(r, &n.resource) {
                        allowed = true;
                        used.insert((c.function.clone(), i, a.clone(), r.clone()));
                    }
                }
            }
        }
        if denied || !allowed {
            report.missing.push(c.clone());
        }
    }
    for (function, statements) in &policies.functions {
        for (i, s) in statements.iter().enumerate().filter(|(_, s)| s.allow) {
            for a in &s.actions {
                if a.contains('*') {
                    report.wildcard_actions.push(Recorded {
                        function: function.clone(),
                        action: a.clone(),
                        resource: s.resources.join(", "),
                    });
                }
                for r in &s.resources {
                    if !used.contains(&(function.clone(), i, a.clone(), r.clone())) {
                        report.unused.push(Recorded {
                            function: function.clone(),
                            action: a.clone(),
                            resource: r.clone(),
                        });
                    }
                }
            }
        }
    }
    report.missing.sort();
    report.missing.dedup();
    report.unknown_functions = unknown.into_iter().collect();
    report
}

#[cfg(test)]
#[path = "iam_test.rs"]
mod tests;
