//! Job categories and PIC teams (api-contract §2.5): same shape, slug unique per kind.

use super::{claim_item, from_item, item_with_keys, s, tx, Store, StoreError, StoreResult};
use crate::domain::{fmt_ts, ts};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    /// The audit log's entity type: `category` or `pic_team`.
    pub fn audit_entity(self) -> &'static str {
        match self {
            TaxonKind::Category => "category",
            TaxonKind::Team => "pic_team",
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
        #[derive(Serialize)]
        struct View<'a> {
            id: &'a str,
            slug: &'a str,
            name: &'a str,
            is_active: bool,
            created_at: String,
            updated_at: String,
            /// Teams only (null when unset); categories have no such key.
            #[serde(skip_serializing_if = "Option::is_none")]
            slack_handle: Option<Option<&'a str>>,
        }
        serde_json::to_value(View {
            id: &self.id,
            slug: &self.slug,
            name: &self.name,
            is_active: self.is_active,
            created_at: fmt_ts(&self.created_at),
            updated_at: fmt_ts(&self.updated_at),
            slack_handle: (kind == TaxonKind::Team).then_some(self.slack_handle.as_deref()),
        })
        .unwrap_or(Value::Null)
    }
}

/// Partition of the pending renames.
const RENAMES_PK: &str = "RENAMES";

/// A rename whose jobs are still being re-pointed (`RENAMES` / `<CATEGORY|TEAM>#<taxon id>`),
/// written with the rename and dropped once every job carries the new slug.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingRename {
    /// `CATEGORY` or `TEAM`.
    pub kind: String,
    pub taxon_id: String,
    pub old_slug: String,
    pub new_slug: String,
    /// The rename's time, stamped on every re-pointed job's `updated_at`.
    #[serde(with = "ts")]
    pub updated_at: DateTime<Utc>,
}

impl PendingRename {
    fn taxon_kind(&self) -> StoreResult<TaxonKind> {
        match self.kind.as_str() {
            "CATEGORY" => Ok(TaxonKind::Category),
            "TEAM" => Ok(TaxonKind::Team),
            other => Err(StoreError::Dynamo(format!("unknown taxonomy kind {other}"))),
        }
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

    /// Replaces a category or team if it still has `previous.updated_at` (`Conflict` when
    /// anything changed meanwhile or the new slug is taken). When the slug changed, the same
    /// transaction claims the new slug and records a pending rename ([`PendingRename`],
    /// `RENAMES` / `<kind>#<id>`; `Conflict` while an earlier rename of it is still being
    /// applied); the old slug stays claimed by this taxon until every job is re-pointed
    /// ([`Store::finish_rename`]), so no other category or team can take it meanwhile.
    pub async fn update_taxon(
        &self,
        kind: TaxonKind,
        previous: &Taxon,
        t: &Taxon,
        audit: Option<&super::audit::AuditEntry>,
    ) -> StoreResult<()> {
        let mut items = vec![tx::put(
            &self.table,
            self.taxon_item(kind, t)?,
            Some("attribute_exists(PK) AND updated_at = :prev"),
            &[(":prev", s(crate::domain::fmt_ts(&previous.updated_at)))],
            &[],
        )?];
        if previous.slug != t.slug {
            items.push(tx::create(
                &self.table,
                claim_item(format!("{}{}", kind.slug_prefix(), t.slug), &t.id),
            )?);
            let pending = PendingRename {
                kind: kind.entity().into(),
                taxon_id: t.id.clone(),
                old_slug: previous.slug.clone(),
                new_slug: t.slug.clone(),
                updated_at: t.updated_at,
            };
            items.push(tx::create(
                &self.table,
                item_with_keys(
                    &pending,
                    &[
                        ("PK", RENAMES_PK.into()),
                        ("SK", format!("{}#{}", kind.entity(), t.id)),
                    ],
                )?,
            )?);
        }
        if let Some(a) = audit {
            items.push(self.audit_tx(a)?);
        }
        self.transact(items).await
    }

    /// Re-points every job on a pending rename's old slug to the new one — one conditional
    /// UpdateItem per job (`#field = :old`; a job changed meanwhile keeps its own value), 16 in
    /// flight, so a rename of any size fits — then releases the old slug and drops the pending
    /// record in one transaction. Resumable: what a killed run left is finished by the next
    /// call (the maintenance sweep calls it for every pending rename). Returns the jobs
    /// re-pointed now.
    pub async fn finish_rename(&self, r: &PendingRename) -> StoreResult<usize> {
        use futures::StreamExt;
        let kind = r.taxon_kind()?;
        let field = kind.job_field();
        let ids: Vec<String> = self
            .list_jobs()
            .await?
            .into_iter()
            .filter(|j| match kind {
                TaxonKind::Category => j.category == r.old_slug,
                TaxonKind::Team => j.pic_team.as_deref() == Some(r.old_slug.as_str()),
            })
            .map(|j| j.id)
            .collect();
        let now = s(crate::domain::fmt_ts(&r.updated_at));
        let results: Vec<StoreResult<bool>> = futures::stream::iter(ids)
            .map(|id| {
                let req = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .key("PK", s(format!("JOB#{id}")))
                    .key("SK", s("JOB"))
                    .update_expression("SET #f = :new, updated_at = :now")
                    .condition_expression("#f = :old")
                    .expression_attribute_names("#f", field)
                    .expression_attribute_values(":new", s(r.new_slug.clone()))
                    .expression_attribute_values(":old", s(r.old_slug.clone()))
                    .expression_attribute_values(":now", now.clone());
                async move {
                    match super::map_conditional(req.send().await) {
                        Ok(_) => Ok(true),
                        Err(StoreError::Conflict) => Ok(false),
                        Err(e) => Err(e),
                    }
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        let mut moved = 0;
        for r in results {
            moved += usize::from(r?);
        }
        if moved > 0 {
            self.note_list_changed().await;
        }
        let done = self
            .transact(vec![
                tx::delete(
                    &self.table,
                    format!("{}{}", kind.slug_prefix(), r.old_slug),
                    "UNIQUE",
                    Some("owner_id = :id"),
                    &[(":id", s(r.taxon_id.clone()))],
                )?,
                tx::delete(
                    &self.table,
                    RENAMES_PK.into(),
                    &format!("{}#{}", kind.entity(), r.taxon_id),
                    Some("old_slug = :old"),
                    &[(":old", s(r.old_slug.clone()))],
                )?,
            ])
            .await;
        match done {
            // Finished by a concurrent call.
            Ok(()) | Err(StoreError::Conflict) => Ok(moved),
            Err(e) => Err(e),
        }
    }

    /// Renames not finished yet (Query `PK = RENAMES`: one small item per rename in flight,
    /// usually none).
    pub async fn pending_renames(&self) -> StoreResult<Vec<PendingRename>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(RENAMES_PK))
            .limit(100)
            .send()
            .await?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect()
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

    /// Creates a category or team with its slug claim (and its audit entry, when given) in
    /// one transaction; `Conflict` if the slug is taken.
    pub async fn create_taxon(
        &self,
        kind: TaxonKind,
        t: &Taxon,
        audit: Option<&super::audit::AuditEntry>,
    ) -> StoreResult<()> {
        let item = self.taxon_item(kind, t)?;
        let mut items = vec![
            tx::create(&self.table, item)?,
            tx::create(
                &self.table,
                claim_item(format!("{}{}", kind.slug_prefix(), t.slug), &t.id),
            )?,
        ];
        if let Some(a) = audit {
            items.push(self.audit_tx(a)?);
        }
        self.transact(items).await
    }
}
