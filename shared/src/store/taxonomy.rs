//! Job categories and PIC teams (api-contract §2.5): same shape, slug unique per kind.

use super::{claim_item, from_item, item_with_keys, tx, Store, StoreResult};
use crate::domain::{fmt_ts, ts};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Which taxonomy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaxonKind {
    Category,
    Team,
}

impl TaxonKind {
    fn entity(self) -> &'static str {
        match self {
            TaxonKind::Category => "CATEGORY",
            TaxonKind::Team => "TEAM",
        }
    }
    fn list_pk(self) -> &'static str {
        match self {
            TaxonKind::Category => "CATEGORIES",
            TaxonKind::Team => "TEAMS",
        }
    }
    fn slug_prefix(self) -> &'static str {
        match self {
            TaxonKind::Category => "CATSLUG#",
            TaxonKind::Team => "TEAMSLUG#",
        }
    }
}

/// A category or PIC team. `slack_handle` is only used by teams.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Taxon {
    pub id: String,
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub slack_handle: Option<String>,
    pub is_active: bool,
    #[serde(with = "ts")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "ts")]
    pub updated_at: DateTime<Utc>,
}

impl Taxon {
    /// Category JSON `{"id","slug","name","is_active","created_at","updated_at"}`; a team adds
    /// `slack_handle`.
    pub fn to_json(&self, kind: TaxonKind) -> Value {
        let mut v = json!({
            "id": self.id,
            "slug": self.slug,
            "name": self.name,
            "is_active": self.is_active,
            "created_at": fmt_ts(&self.created_at),
            "updated_at": fmt_ts(&self.updated_at),
        });
        if kind == TaxonKind::Team {
            v["slack_handle"] = json!(self.slack_handle);
        }
        v
    }
}

impl Store {
    /// Every category or team ordered by lower-cased name (Query GSI1 `CATEGORIES`/`TEAMS`).
    /// These sets are small (tens of rows), so slug and name resolution filter this list.
    pub async fn list_taxa(&self, kind: TaxonKind) -> StoreResult<Vec<Taxon>> {
        self.query_gsi1(kind.list_pk(), true)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    /// Creates a category or team with its slug claim; `Conflict` if the slug is taken.
    pub async fn create_taxon(&self, kind: TaxonKind, t: &Taxon) -> StoreResult<()> {
        let item = item_with_keys(
            t,
            &[
                ("PK", format!("{}#{}", kind.entity(), t.id)),
                ("SK", kind.entity().into()),
                ("GSI1PK", kind.list_pk().into()),
                ("GSI1SK", format!("{}#{}", t.name.to_lowercase(), t.id)),
            ],
        )?;
        self.transact(vec![
            tx::create(&self.table, item)?,
            tx::create(
                &self.table,
                claim_item(format!("{}{}", kind.slug_prefix(), t.slug), &t.id),
            )?,
        ])
        .await
    }
}
