//! The audit log: who changed what, when, from where (`AUDIT#<entity type>#<entity id>` /
//! `<at>#<id>`; GSI1 `AUDITLOG` / `<at>#<id>` for everything newest first; GSI2
//! `AUDITBY#<actor id>` / `<at>#<id>` per actor). A change writes its entry **in its own
//! transaction** (the store method of the change takes the entry, [`Store::audit_tx`] makes
//! its transaction item), so there is no change without its record and a refused request
//! writes none. Entries carry no TTL: kept apart from run history's retention.

use super::{from_item, item_with_keys, s, tx, Item, Store, StoreError, StoreResult};
use crate::domain::{fmt_ts, ts};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Keys whose values never reach the log (replaced by `"[redacted]"`).
const SECRET_KEYS: &[&str] = &[
    "password",
    "password_hash",
    "current_password",
    "github_token",
    "token",
    "access_token",
    "refresh_token",
    "webhook_url",
    "revoked_sessions",
    "kept_session",
];

/// `v` with every secret value replaced, at any depth.
pub fn redact(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    if SECRET_KEYS.contains(&k.as_str()) && !v.is_null() {
                        (k, Value::String("[redacted]".into()))
                    } else {
                        (k, redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(redact).collect()),
        other => other,
    }
}

/// One audited change or privileged action.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AuditEntry {
    pub id: String,
    #[serde(with = "ts")]
    pub at: DateTime<Utc>,
    /// The acting user's id (`None`: the system or `cronctl`).
    pub actor_id: Option<String>,
    /// How the actor is shown: a username, or `cronctl`.
    pub actor: String,
    /// `create`, `update`, `delete`, `execute`, `test_run`, `bulk_upload`, `password_reset`, …
    pub action: String,
    /// `job`, `user`, `category`, `pic_team`, `slack_settings`, `github_owners`, `import`.
    pub entity_type: String,
    pub entity_id: String,
    /// The entity before and after, secrets redacted ([`redact`]), as JSON text.
    pub before: Option<String>,
    pub after: Option<String>,
    pub request_id: Option<String>,
    /// The caller's source address.
    pub source: Option<String>,
}

impl AuditEntry {
    /// An entry stamped now with a fresh id; `before`/`after` are redacted here.
    pub fn new(
        actor_id: Option<&str>,
        actor: &str,
        action: &str,
        entity_type: &str,
        entity_id: &str,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Self {
        Self {
            id: uuid::Uuid::new_v4().simple().to_string(),
            at: chrono::Utc::now(),
            actor_id: actor_id.map(str::to_string),
            actor: actor.to_string(),
            action: action.to_string(),
            entity_type: entity_type.to_string(),
            entity_id: entity_id.chars().take(512).collect(),
            before: before.map(|v| redact(v).to_string()),
            after: after.map(|v| redact(v).to_string()),
            request_id: None,
            source: None,
        }
    }

    /// The same entry with the request's id and source address.
    pub fn from_request(mut self, request_id: Option<String>, source: Option<String>) -> Self {
        self.request_id = request_id;
        self.source = source;
        self
    }

    /// The entry as the API answers it (`before`/`after` as JSON values).
    pub fn to_json(&self) -> Value {
        let parse = |t: &Option<String>| {
            t.as_deref()
                .and_then(|t| serde_json::from_str::<Value>(t).ok())
                .unwrap_or(Value::Null)
        };
        #[derive(Serialize)]
        struct View<'a> {
            id: &'a str,
            at: String,
            actor_id: Option<&'a str>,
            actor: &'a str,
            action: &'a str,
            entity_type: &'a str,
            entity_id: &'a str,
            before: Value,
            after: Value,
            request_id: Option<&'a str>,
            source: Option<&'a str>,
        }
        serde_json::to_value(View {
            id: &self.id,
            at: fmt_ts(&self.at),
            actor_id: self.actor_id.as_deref(),
            actor: &self.actor,
            action: &self.action,
            entity_type: &self.entity_type,
            entity_id: &self.entity_id,
            before: parse(&self.before),
            after: parse(&self.after),
            request_id: self.request_id.as_deref(),
            source: self.source.as_deref(),
        })
        .unwrap_or(Value::Null)
    }

    fn sort_key(&self) -> String {
        format!("{}#{}", fmt_ts(&self.at), self.id)
    }
}

/// Which entries to list.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub actor_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Entries per page.
pub const AUDIT_PAGE: usize = 50;

impl Store {
    /// The item of an entry (never overwritten: its id is fresh).
    pub(crate) fn audit_item(&self, e: &AuditEntry) -> StoreResult<Item> {
        let sk = e.sort_key();
        let mut keys = vec![
            ("PK", format!("AUDIT#{}#{}", e.entity_type, e.entity_id)),
            ("SK", sk.clone()),
            ("GSI1PK", "AUDITLOG".to_string()),
            ("GSI1SK", sk.clone()),
        ];
        if let Some(actor) = &e.actor_id {
            keys.push(("GSI2PK", format!("AUDITBY#{actor}")));
            keys.push(("GSI2SK", sk));
        }
        item_with_keys(e, &keys)
    }

    /// The transaction item that writes `e` beside a change.
    pub(crate) fn audit_tx(&self, e: &AuditEntry) -> StoreResult<TransactWriteItem> {
        tx::create(&self.table, self.audit_item(e)?)
    }

    /// Writes an entry on its own: an action that changes nothing stored (a test-run, a
    /// manual run before it starts).
    pub async fn put_audit(&self, e: &AuditEntry) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.audit_item(e)?))
            .send()
            .await
            .map_err(StoreError::from)?;
        Ok(())
    }

    /// One page of entries, newest first, at most [`AUDIT_PAGE`], and the cursor of the next
    /// page. Reads one partition: the entity's (`entity_type` + `entity_id`), the actor's
    /// (GSI2) or the whole log (GSI1), the time range in the key condition; the other filters
    /// as a filter expression (pages keep reading until full or the partition ends).
    pub async fn audit_page(
        &self,
        f: &AuditFilter,
        cursor: Option<&str>,
    ) -> StoreResult<(Vec<AuditEntry>, Option<String>)> {
        let (index, pk_name, sk_name, pk) = match (&f.entity_type, &f.entity_id, &f.actor_id) {
            (Some(t), Some(id), _) => (None, "PK", "SK", format!("AUDIT#{t}#{id}")),
            (_, _, Some(actor)) => (Some("GSI2"), "GSI2PK", "GSI2SK", format!("AUDITBY#{actor}")),
            _ => (Some("GSI1"), "GSI1PK", "GSI1SK", "AUDITLOG".to_string()),
        };
        let lo = f.from.as_ref().map(fmt_ts).unwrap_or_else(|| "0".into());
        let hi =
            f.to.as_ref()
                .map(|t| format!("{}#", fmt_ts(t)))
                .unwrap_or_else(|| "~".into());
        let mut filters = Vec::new();
        let mut values = vec![
            (":pk".to_string(), s(pk)),
            (":lo".to_string(), s(lo)),
            (":hi".to_string(), s(hi)),
        ];
        let mut names = Vec::new();
        for (attr, v) in [
            ("entity_type", &f.entity_type),
            ("entity_id", &f.entity_id),
            ("actor_id", &f.actor_id),
        ] {
            if let (Some(v), true) = (v, pk_name != "PK" || attr == "actor_id") {
                filters.push(format!("#{attr} = :{attr}"));
                names.push((format!("#{attr}"), attr.to_string()));
                values.push((format!(":{attr}"), s(v.clone())));
            }
        }
        let mut start = cursor
            .and_then(decode_cursor)
            .filter(|k| k.get(pk_name).and_then(|v| v.as_s().ok()) == values[0].1.as_s().ok());
        let mut out = Vec::new();
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_string))
                .key_condition_expression(format!(
                    "{pk_name} = :pk AND {sk_name} BETWEEN :lo AND :hi"
                ))
                .scan_index_forward(false)
                .limit((AUDIT_PAGE - out.len()) as i32)
                .set_exclusive_start_key(start.take());
            if !filters.is_empty() {
                q = q.filter_expression(filters.join(" AND "));
            }
            for (k, v) in &values {
                q = q.expression_attribute_values(k, v.clone());
            }
            for (k, v) in &names {
                q = q.expression_attribute_names(k, v);
            }
            let page = q.send().await.map_err(StoreError::from)?;
            for item in page.items.unwrap_or_default() {
                out.push(from_item::<AuditEntry>(item)?);
            }
            match page.last_evaluated_key {
                Some(k) if out.len() < AUDIT_PAGE => start = Some(k),
                Some(k) => return Ok((out, Some(encode_cursor(&k)))),
                None => return Ok((out, None)),
            }
        }
    }
}

/// A page cursor: the last evaluated key's string attributes as URL-safe base64 JSON.
fn encode_cursor(key: &Item) -> String {
    use base64::Engine;
    let m: std::collections::BTreeMap<&String, &String> = key
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|s| (k, s)))
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&m).unwrap_or_default())
}

/// The key a cursor stands for; `None` for anything else (a cursor the caller made up only
/// starts from the top, it cannot reach outside the partition asked for).
fn decode_cursor(c: &str) -> Option<Item> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c.as_bytes())
        .ok()?;
    let m: std::collections::BTreeMap<String, String> = serde_json::from_slice(&bytes).ok()?;
    let ok = m.len() <= 4
        && m.keys().all(|k| {
            matches!(
                k.as_str(),
                "PK" | "SK" | "GSI1PK" | "GSI1SK" | "GSI2PK" | "GSI2SK"
            )
        })
        && m.values().all(|v| !v.is_empty() && v.len() <= 1024);
    ok.then(|| {
        m.into_iter()
            .map(|(k, v)| (k, AttributeValue::S(v)))
            .collect()
    })
}
