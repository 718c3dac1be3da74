//! Job categories and PIC teams (api-contract §2.5): same shape, slug unique per kind.

use super::{claim_item, from_item, item_with_keys, s, tx, Store, StoreError, StoreResult};
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
    /// The job attribute holding this kind's slug.
    pub fn job_field(self) -> &'static str {
        match self {
            TaxonKind::Category => "category",
            TaxonKind::Team => "pic_team",
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

    /// A category or team by id (GetItem).
    pub async fn get_taxon(&self, kind: TaxonKind, id: &str) -> StoreResult<Option<Taxon>> {
        self.get_as(format!("{}#{id}", kind.entity()), kind.entity())
            .await
    }

    /// A category or team by slug (GetItem of the slug claim, then of the taxon).
    pub async fn taxon_by_slug(&self, kind: TaxonKind, slug: &str) -> StoreResult<Option<Taxon>> {
        let Some(claim) = self
            .get(format!("{}{slug}", kind.slug_prefix()), "UNIQUE")
            .await?
        else {
            return Ok(None);
        };
        match claim.get("owner_id").and_then(|v| v.as_s().ok()) {
            Some(id) => self.get_taxon(kind, id).await,
            None => Ok(None),
        }
    }

    /// Most jobs one rename can re-point: the rename, both slug claims and the jobs share one
    /// transaction (100 items), so no reader ever sees a half-renamed taxonomy.
    pub const MAX_REPOINTED_JOBS: usize = 97;

    /// Replaces a category or team if it still has `previous.updated_at`. When the slug
    /// changed, moves the slug claim and re-points every job in `job_ids` (which must carry
    /// the old slug) in the same transaction. `Conflict` when anything changed meanwhile or
    /// the new slug is taken; `TooManyItems` above [`Self::MAX_REPOINTED_JOBS`].
    pub async fn update_taxon(
        &self,
        kind: TaxonKind,
        previous: &Taxon,
        t: &Taxon,
        job_ids: &[String],
    ) -> StoreResult<()> {
        if job_ids.len() > Self::MAX_REPOINTED_JOBS {
            return Err(StoreError::TooManyItems(job_ids.len() + 3));
        }
        let mut items = vec![tx::put(
            &self.table,
            self.taxon_item(kind, t)?,
            Some("attribute_exists(PK) AND updated_at = :prev"),
            &[(":prev", s(crate::domain::fmt_ts(&previous.updated_at)))],
            &[],
        )?];
        if previous.slug != t.slug {
            items.push(tx::delete(
                &self.table,
                format!("{}{}", kind.slug_prefix(), previous.slug),
                "UNIQUE",
                Some("owner_id = :id"),
                &[(":id", s(t.id.clone()))],
            )?);
            items.push(tx::create(
                &self.table,
                claim_item(format!("{}{}", kind.slug_prefix(), t.slug), &t.id),
            )?);
            let now = s(crate::domain::fmt_ts(&t.updated_at));
            for id in job_ids {
                let u = aws_sdk_dynamodb::types::Update::builder()
                    .table_name(&self.table)
                    .key("PK", s(format!("JOB#{id}")))
                    .key("SK", s("JOB"))
                    .update_expression("SET #f = :new, updated_at = :now")
                    .condition_expression("#f = :old")
                    .expression_attribute_names("#f", kind.job_field())
                    .expression_attribute_values(":new", s(t.slug.clone()))
                    .expression_attribute_values(":old", s(previous.slug.clone()))
                    .expression_attribute_values(":now", now.clone())
                    .build()
                    .map_err(|e| StoreError::Dynamo(e.to_string()))?;
                items.push(
                    aws_sdk_dynamodb::types::TransactWriteItem::builder()
                        .update(u)
                        .build(),
                );
            }
        }
        let repointed = previous.slug != t.slug && !job_ids.is_empty();
        self.transact(items).await?;
        if repointed {
            self.note_list_changed().await;
        }
        Ok(())
    }

    fn taxon_item(&self, kind: TaxonKind, t: &Taxon) -> StoreResult<super::Item> {
        item_with_keys(
            t,
            &[
                ("PK", format!("{}#{}", kind.entity(), t.id)),
                ("SK", kind.entity().into()),
                ("GSI1PK", kind.list_pk().into()),
                ("GSI1SK", format!("{}#{}", t.name.to_lowercase(), t.id)),
            ],
        )
    }

    /// Creates a category or team with its slug claim; `Conflict` if the slug is taken.
    pub async fn create_taxon(&self, kind: TaxonKind, t: &Taxon) -> StoreResult<()> {
        let item = self.taxon_item(kind, t)?;
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
