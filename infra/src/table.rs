//! Reads the `Table` resource of `template.yaml` and creates that table in DynamoDB Local,
//! so the local stack and the tests never carry a second copy of the key schema.

use aws_sdk_dynamodb::{
    types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    },
    Client,
};
use serde_yaml::Value;
use std::path::Path;

/// Why the table could not be read or created.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("reading {0}: {1}")]
    Read(String, std::io::Error),
    #[error("template: {0}")]
    Template(String),
    #[error("dynamodb: {0}")]
    Dynamo(String),
}

fn bad(msg: impl Into<String>) -> TableError {
    TableError::Template(msg.into())
}

/// The table's definition as written in the template.
#[derive(Debug, Clone)]
pub struct TableDefinition {
    attributes: Vec<(String, String)>,
    keys: Vec<(String, String)>,
    indexes: Vec<Index>,
    ttl_attribute: Option<String>,
}

#[derive(Debug, Clone)]
struct Index {
    name: String,
    keys: Vec<(String, String)>,
    projection: String,
    non_key: Vec<String>,
}

fn text(v: &Value, key: &str) -> Result<String, TableError> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| bad(format!("missing {key}")))
}

fn key_schema(v: &Value) -> Result<Vec<(String, String)>, TableError> {
    v.get("KeySchema")
        .and_then(Value::as_sequence)
        .ok_or_else(|| bad("missing KeySchema"))?
        .iter()
        .map(|k| Ok((text(k, "AttributeName")?, text(k, "KeyType")?)))
        .collect()
}

impl TableDefinition {
    /// Parses `Resources.Table.Properties` of a SAM/CloudFormation template.
    pub fn from_template(path: &Path) -> Result<Self, TableError> {
        let raw = std::fs::read_to_string(path)
            .map_err(|e| TableError::Read(path.display().to_string(), e))?;
        let doc: Value = serde_yaml::from_str(&raw).map_err(|e| bad(e.to_string()))?;
        let props = doc
            .get("Resources")
            .and_then(|r| r.get("Table"))
            .and_then(|t| t.get("Properties"))
            .ok_or_else(|| bad("no Resources.Table.Properties"))?;
        let attributes = props
            .get("AttributeDefinitions")
            .and_then(Value::as_sequence)
            .ok_or_else(|| bad("missing AttributeDefinitions"))?
            .iter()
            .map(|a| Ok((text(a, "AttributeName")?, text(a, "AttributeType")?)))
            .collect::<Result<_, TableError>>()?;
        let indexes = props
            .get("GlobalSecondaryIndexes")
            .and_then(Value::as_sequence)
            .map(|s| s.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|g| {
                let projection = g
                    .get("Projection")
                    .ok_or_else(|| bad("GSI without Projection"))?;
                Ok(Index {
                    name: text(g, "IndexName")?,
                    keys: key_schema(g)?,
                    projection: text(projection, "ProjectionType")?,
                    non_key: projection
                        .get("NonKeyAttributes")
                        .and_then(Value::as_sequence)
                        .map(|s| {
                            s.iter()
                                .filter_map(|v| v.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                })
            })
            .collect::<Result<_, TableError>>()?;
        let ttl_attribute = props
            .get("TimeToLiveSpecification")
            .filter(|t| t.get("Enabled").and_then(Value::as_bool).unwrap_or(false))
            .and_then(|t| t.get("AttributeName"))
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(Self {
            attributes,
            keys: key_schema(props)?,
            indexes,
            ttl_attribute,
        })
    }

    /// Names of the global secondary indexes.
    pub fn index_names(&self) -> Vec<&str> {
        self.indexes.iter().map(|i| i.name.as_str()).collect()
    }

    /// Creates the table (on-demand) unless it exists, waits until it is active, and turns on TTL.
    pub async fn create_if_missing(&self, client: &Client, table: &str) -> Result<(), TableError> {
        let err = |e: &dyn std::fmt::Display| TableError::Dynamo(e.to_string());
        if client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        let elements = |keys: &[(String, String)]| -> Result<Vec<KeySchemaElement>, TableError> {
            keys.iter()
                .map(|(n, t)| {
                    KeySchemaElement::builder()
                        .attribute_name(n)
                        .key_type(KeyType::from(t.as_str()))
                        .build()
                        .map_err(|e| err(&e))
                })
                .collect()
        };
        let mut req = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(elements(&self.keys)?));
        for (n, t) in &self.attributes {
            req = req.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(n)
                    .attribute_type(ScalarAttributeType::from(t.as_str()))
                    .build()
                    .map_err(|e| err(&e))?,
            );
        }
        for i in &self.indexes {
            let mut p =
                Projection::builder().projection_type(ProjectionType::from(i.projection.as_str()));
            for a in &i.non_key {
                p = p.non_key_attributes(a);
            }
            req = req.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(&i.name)
                    .set_key_schema(Some(elements(&i.keys)?))
                    .projection(p.build())
                    .build()
                    .map_err(|e| err(&e))?,
            );
        }
        if let Err(e) = req.send().await {
            let e = aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string();
            if !e.contains("ResourceInUseException") {
                return Err(TableError::Dynamo(e));
            }
        }
        for _ in 0..100 {
            let d = client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .map_err(|e| err(&aws_sdk_dynamodb::error::DisplayErrorContext(&e)))?;
            if d.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        if let Some(attr) = &self.ttl_attribute {
            let spec = TimeToLiveSpecification::builder()
                .attribute_name(attr)
                .enabled(true)
                .build()
                .map_err(|e| err(&e))?;
            client
                .update_time_to_live()
                .table_name(table)
                .time_to_live_specification(spec)
                .send()
                .await
                .map_err(|e| err(&aws_sdk_dynamodb::error::DisplayErrorContext(&e)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "table_test.rs"]
mod tests;
