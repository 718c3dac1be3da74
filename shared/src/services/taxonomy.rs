//! Job categories and PIC teams (api-contract §3.8) and the slug-or-name resolution used by
//! every job write (§3.5 "resolve/validate category/team"). Typed inputs in, bodies out;
//! [`TaxonError`] is mapped by the HTTP adapter.

use super::Caller;
use crate::{
    domain::{draft::FieldError, name::first_forbidden, now, slugify},
    state::AppState,
    store::{PendingRename, StoreError, Taxon, TaxonKind},
};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// Slugs seeded at start-up: `general` must always exist (client-needs §5.5).
pub const SEEDED_CATEGORIES: [(&str, &str); 7] = [
    ("general", "General"),
    ("regression", "Regression"),
    ("dr-testing", "DR Testing"),
    ("feature-testing", "Feature Testing"),
    ("prod-canary", "Prod/Canary"),
    ("refund", "Refund"),
    ("backward-compatibility", "Backward Compatibility"),
];
/// Longest name, characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Longest slug, bytes (ASCII).
pub const MAX_SLUG_CHARS: usize = 100;

/// Resolves a raw value by slug, then by case-insensitive name (api-contract §3.5
/// "resolve category/team"); returns the slug, which may be unknown.
pub fn resolve(list: &[Taxon], raw: &str) -> String {
    let slug = slugify(raw);
    if list.iter().any(|t| t.slug == slug) {
        return slug;
    }
    let lower = raw.trim().to_lowercase();
    list.iter()
        .find(|t| t.name.to_lowercase() == lower)
        .map(|t| t.slug.clone())
        .unwrap_or(slug)
}

/// Validates a resolved slug against a list: `Ok(slug)` or the contract's message.
pub fn validate(kind: TaxonKind, list: &[Taxon], raw: Option<&str>) -> Result<String, String> {
    match kind {
        TaxonKind::Category => {
            let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
                return Ok("general".into());
            };
            let slug = resolve(list, raw);
            if slug == "general" || list.iter().any(|t| t.slug == slug) {
                Ok(slug)
            } else {
                Err("Unknown category. Create it in Settings → Categories first, or choose General.".into())
            }
        }
        TaxonKind::Team => {
            let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
                return Err("PIC team is required. Create one in Settings → PIC Teams.".into());
            };
            let slug = resolve(list, raw);
            match list.iter().find(|t| t.slug == slug) {
                None => Err("Unknown PIC team. Create it in Settings → PIC Teams first.".into()),
                Some(t) if !t.is_active => Err(
                    "PIC team is disabled. Enable it in Settings → PIC Teams or choose another."
                        .into(),
                ),
                Some(_) => Ok(slug),
            }
        }
    }
}

/// Why a category or team value was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The contract's refusal (`Invalid category` / `Invalid PIC team` with its sentence).
    #[error("{}", .0.message)]
    Refused(FieldError),
    /// The list could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Loads the list of `kind` and validates `raw` ([`validate`]): the slug, or the refusal.
pub async fn resolve_and_validate(
    state: &AppState,
    kind: TaxonKind,
    raw: Option<&str>,
) -> Result<String, ResolveError> {
    let list = state.store.list_taxa(kind).await?;
    validate(kind, &list, raw).map_err(|m| {
        let error = match kind {
            TaxonKind::Category => "Invalid category",
            TaxonKind::Team => "Invalid PIC team",
        };
        ResolveError::Refused(FieldError::new(error, m))
    })
}

/// Why a taxonomy use case refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum TaxonError {
    /// A field breaks a rule: 400 with the contract's `error` and `message`.
    #[error("{}", .0.message)]
    Invalid(FieldError),
    /// No category/team with this id (404 `Not found`, this sentence).
    #[error("{0}")]
    NotFound(String),
    /// The slug belongs to another one (409 `Duplicate slug`, this sentence).
    #[error("{0}")]
    DuplicateSlug(String),
    /// Changed by another request meanwhile (409 `Conflict`, this sentence).
    #[error("{0}")]
    Conflict(&'static str),
    /// The table could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<FieldError> for TaxonError {
    fn from(e: FieldError) -> Self {
        TaxonError::Invalid(e)
    }
}

type TaxonResult<T> = std::result::Result<T, TaxonError>;

/// `(label, body key, noun)` of a kind: `("Category", "category", "category")` or
/// `("PIC team", "pic_team", "PIC team")`.
fn labels(kind: TaxonKind) -> (&'static str, &'static str, &'static str) {
    match kind {
        TaxonKind::Category => ("Category", "category", "category"),
        TaxonKind::Team => ("PIC team", "pic_team", "PIC team"),
    }
}

/// `{"message", "category"|"pic_team": {…}, "jobs_updated"?}` after a write.
#[derive(Debug)]
pub struct TaxonWritten {
    pub message: &'static str,
    pub kind: TaxonKind,
    pub taxon: Taxon,
    /// Jobs re-pointed by a rename (updates only).
    pub jobs_updated: Option<usize>,
}

impl Serialize for TaxonWritten {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("message", self.message)?;
        m.serialize_entry(labels(self.kind).1, &self.taxon.to_json(self.kind))?;
        if let Some(n) = self.jobs_updated {
            m.serialize_entry("jobs_updated", &n)?;
        }
        m.end()
    }
}

/// GET /job-categories and /pic-teams: active ones, or all when `include_inactive` (the
/// adapter allows that to admins); ordered as stored (by lower-cased name).
pub async fn list(
    state: &AppState,
    kind: TaxonKind,
    include_inactive: bool,
) -> TaxonResult<Vec<serde_json::Value>> {
    let list = state.store.list_taxa(kind).await?;
    Ok(list
        .iter()
        .filter(|t| include_inactive || t.is_active)
        .map(|t| t.to_json(kind))
        .collect())
}

/// A team's `slack_handle`: at most 255 characters, one line, no display tricks (it is put
/// into Slack messages as is).
fn checked_handle(h: String) -> TaxonResult<String> {
    let invalid = |m: String| TaxonError::Invalid(FieldError::new("Invalid slack_handle", m));
    if h.chars().count() > 255 {
        return Err(invalid(
            "slack_handle must be at most 255 characters.".into(),
        ));
    }
    if let Some(c) = first_forbidden(&h) {
        return Err(invalid(format!(
            "slack_handle cannot contain control, line-break or bidirectional characters (U+{:04X}).",
            c as u32
        )));
    }
    Ok(h)
}

/// The name rules of create and rename: at most [`MAX_NAME_CHARS`], no control, line-break
/// or bidi-override character.
fn checked_name(name: &str) -> TaxonResult<()> {
    let invalid = |m: String| TaxonError::Invalid(FieldError::new("Invalid name", m));
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(format!(
            "Name must be at most {MAX_NAME_CHARS} characters."
        )));
    }
    match first_forbidden(name) {
        None => Ok(()),
        Some(c) => Err(invalid(format!(
            "Name may not contain control, line-break or bidirectional-override characters (found U+{:04X}).",
            c as u32
        ))),
    }
}

/// A slug derived from `source`: non-empty, at most [`MAX_SLUG_CHARS`].
fn checked_slug(source: &str) -> TaxonResult<String> {
    let invalid = |m: &str| TaxonError::Invalid(FieldError::new("Invalid slug", m));
    let slug = slugify(source);
    if slug.is_empty() {
        return Err(invalid("Unable to generate a valid slug from name."));
    }
    if slug.len() > MAX_SLUG_CHARS {
        return Err(invalid("Slug must be at most 100 characters."));
    }
    Ok(slug)
}

fn duplicate_slug(kind: TaxonKind, slug: &str) -> TaxonError {
    TaxonError::DuplicateSlug(format!(
        "{} slug \"{slug}\" already exists.",
        labels(kind).0
    ))
}

/// A `POST /job-categories` or `/pic-teams` body, read once (texts trimmed, blank = `None`).
#[derive(Clone, Debug, Default)]
pub struct NewTaxon {
    pub name: Option<String>,
    pub slug: Option<String>,
    /// Teams only (required there).
    pub slack_handle: Option<String>,
}

/// POST /job-categories and /pic-teams (admin): the slug from `slug` or the name; audited.
pub async fn create(
    state: &AppState,
    caller: Caller<'_>,
    kind: TaxonKind,
    input: NewTaxon,
) -> TaxonResult<TaxonWritten> {
    let missing = |m: &str| TaxonError::Invalid(FieldError::new("Missing required fields", m));
    let name = input.name.ok_or_else(|| missing("\"name\" is required."))?;
    let slack_handle = if kind == TaxonKind::Team {
        Some(checked_handle(
            input
                .slack_handle
                .ok_or_else(|| missing("\"slack_handle\" is required."))?,
        )?)
    } else {
        None
    };
    checked_name(&name)?;
    let slug = checked_slug(input.slug.as_deref().unwrap_or(&name))?;
    let t = now();
    let taxon = Taxon {
        id: uuid::Uuid::new_v4().to_string(),
        slug,
        name,
        slack_handle,
        is_active: true,
        created_at: t,
        updated_at: t,
    };
    let audit = caller.audit(
        "create",
        kind.audit_entity(),
        &taxon.id,
        None,
        Some(taxon.to_json(kind)),
    );
    match state.store.create_taxon(kind, &taxon, Some(&audit)).await {
        Ok(()) => Ok(TaxonWritten {
            message: match kind {
                TaxonKind::Category => "Category created",
                TaxonKind::Team => "PIC team created",
            },
            kind,
            taxon,
            jobs_updated: None,
        }),
        Err(StoreError::Conflict) => Err(duplicate_slug(kind, &taxon.slug)),
        Err(e) => Err(e.into()),
    }
}

async fn load(state: &AppState, kind: TaxonKind, id: &str) -> TaxonResult<Taxon> {
    let found = if id.len() > 200 {
        None
    } else {
        state.store.get_taxon(kind, id).await?
    };
    found.ok_or_else(|| TaxonError::NotFound(format!("No {} found with ID: {id}", labels(kind).2)))
}

/// A `PUT /job-categories/{id}` or `/pic-teams/{id}` body, read once: each field `None`
/// when its key is absent; a present text `Some(None)` when null or blank.
#[derive(Clone, Debug, Default)]
pub struct TaxonPatch {
    pub name: Option<Option<String>>,
    /// Whether a `slug` key was sent (refused: it is derived from the name).
    pub slug_sent: bool,
    pub is_active: Option<bool>,
    pub slack_handle: Option<Option<String>>,
}

/// A rename's checks (api-contract §3.8): the new name ("General" keeps its name) and the
/// slug derived from it (not another's). `(name, slug)`.
async fn new_name(
    state: &AppState,
    kind: TaxonKind,
    previous: &Taxon,
    raw: Option<String>,
) -> TaxonResult<(String, String)> {
    let name = raw.ok_or_else(|| {
        TaxonError::Invalid(FieldError::new("Invalid name", "Name cannot be empty."))
    })?;
    checked_name(&name)?;
    if kind == TaxonKind::Category && previous.slug == "general" && name != previous.name {
        return Err(TaxonError::Invalid(FieldError::new(
            "Invalid category",
            "The \"General\" category cannot be renamed.",
        )));
    }
    let slug = checked_slug(&name)?;
    if slug != previous.slug
        && state
            .store
            .list_taxa(kind)
            .await?
            .iter()
            .any(|x| x.slug == slug)
    {
        return Err(duplicate_slug(kind, &slug));
    }
    Ok((name, slug))
}

/// PUT /job-categories/{id} and /pic-teams/{id} (admin): rename (slug re-derived; the
/// rename, the new slug's claim and a pending-rename record in one transaction, then every
/// job on the old slug re-pointed in batches — any number of jobs — counted in
/// `jobs_updated`), `is_active`, and for teams `slack_handle`. All checks run first; a
/// refusal writes nothing.
pub async fn update(
    state: &AppState,
    caller: Caller<'_>,
    kind: TaxonKind,
    id: &str,
    patch: TaxonPatch,
) -> TaxonResult<TaxonWritten> {
    let previous = load(state, kind, id).await?;
    let mut t = previous.clone();
    if let Some(raw) = patch.name {
        (t.name, t.slug) = new_name(state, kind, &previous, raw).await?;
    }
    if patch.slug_sent {
        return Err(TaxonError::Invalid(FieldError::new(
            "Invalid payload",
            "Slug cannot be edited directly; it is derived from name.",
        )));
    }
    if let Some(v) = patch.is_active {
        t.is_active = v;
    }
    if let (TaxonKind::Team, Some(raw)) = (kind, patch.slack_handle) {
        let h = raw.ok_or_else(|| {
            TaxonError::Invalid(FieldError::new(
                "Invalid slack_handle",
                "slack_handle cannot be empty.",
            ))
        })?;
        t.slack_handle = Some(checked_handle(h)?);
    }
    let renamed = t.slug != previous.slug;
    let slug = t.slug.clone();
    let t = match save(state, caller, kind, &previous, t, "update").await {
        Ok(t) => t,
        Err(StoreError::Conflict) => {
            let taken = renamed
                && state
                    .store
                    .list_taxa(kind)
                    .await?
                    .iter()
                    .any(|x| x.slug == slug && x.id != previous.id);
            return Err(if taken {
                duplicate_slug(kind, &slug)
            } else {
                TaxonError::Conflict(
                    "It was changed by another request, or its previous rename is still being applied. Reload and try again.",
                )
            });
        }
        Err(e) => return Err(e.into()),
    };
    // Every job on the old slug, re-pointed in batches; a run cut short is finished by the
    // next maintenance sweep (within 2 minutes).
    let jobs_updated = if renamed {
        let pending = PendingRename {
            kind: match kind {
                TaxonKind::Category => "CATEGORY",
                TaxonKind::Team => "TEAM",
            }
            .into(),
            taxon_id: t.id.clone(),
            old_slug: previous.slug.clone(),
            new_slug: t.slug.clone(),
            updated_at: t.updated_at,
        };
        state.store.finish_rename(&pending).await?
    } else {
        0
    };
    Ok(TaxonWritten {
        message: match kind {
            TaxonKind::Category => "Category updated",
            TaxonKind::Team => "PIC team updated",
        },
        kind,
        taxon: t,
        jobs_updated: Some(jobs_updated),
    })
}
/// Stamps `t` (strictly after `previous`) and writes it with its audit entry (`action`),
/// conditional on `previous` being what is stored.
async fn save(
    state: &AppState,
    caller: Caller<'_>,
    kind: TaxonKind,
    previous: &Taxon,
    mut t: Taxon,
    action: &str,
) -> Result<Taxon, StoreError> {
    t.updated_at = now().max(previous.updated_at + chrono::Duration::microseconds(1));
    let audit = caller.audit(
        action,
        kind.audit_entity(),
        &t.id,
        Some(previous.to_json(kind)),
        Some(t.to_json(kind)),
    );
    state
        .store
        .update_taxon(kind, previous, &t, Some(&audit))
        .await?;
    Ok(t)
}

/// DELETE /job-categories/{id} and /pic-teams/{id} (admin): soft delete (`is_active=false`).
pub async fn disable(
    state: &AppState,
    caller: Caller<'_>,
    kind: TaxonKind,
    id: &str,
) -> TaxonResult<TaxonWritten> {
    let previous = load(state, kind, id).await?;
    let mut t = previous.clone();
    t.is_active = false;
    let t = match save(state, caller, kind, &previous, t, "disable").await {
        Ok(t) => t,
        Err(StoreError::Conflict) => {
            return Err(TaxonError::Conflict(
                "It was changed by another request. Reload and try again.",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    Ok(TaxonWritten {
        message: match kind {
            TaxonKind::Category => "Category disabled",
            TaxonKind::Team => "PIC team disabled",
        },
        kind,
        taxon: t,
        jobs_updated: None,
    })
}

/// Creates the seeded categories that are missing (idempotent; start-up of the local stack
/// and the deployment's seed step).
pub async fn seed_categories(state: &AppState) -> Result<(), StoreError> {
    ensure_taxa(state, TaxonKind::Category, &SEEDED_CATEGORIES).await
}

/// The local stack's PIC team (`make dev` only): `platform` / "Platform", created when no team
/// exists, so a new user can create a job in the web client at once (a job needs a team).
/// `true` when it was created now.
pub async fn seed_local_team(state: &AppState) -> Result<bool, StoreError> {
    if !state.store.list_taxa(TaxonKind::Team).await?.is_empty() {
        return Ok(false);
    }
    ensure_taxa(state, TaxonKind::Team, &[("platform", "Platform")]).await?;
    Ok(true)
}

/// Creates each `(slug, name)` of `kind` that does not exist yet (idempotent).
async fn ensure_taxa(
    state: &AppState,
    kind: TaxonKind,
    seeds: &[(&str, &str)],
) -> Result<(), StoreError> {
    let existing = state.store.list_taxa(kind).await?;
    for (slug, name) in seeds {
        if existing.iter().any(|t| t.slug == *slug) {
            continue;
        }
        let t = now();
        let taxon = Taxon {
            id: uuid::Uuid::new_v4().to_string(),
            slug: (*slug).into(),
            name: (*name).into(),
            slack_handle: None,
            is_active: true,
            created_at: t,
            updated_at: t,
        };
        match state.store.create_taxon(kind, &taxon, None).await {
            Ok(()) | Err(StoreError::Conflict) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "taxonomy_test.rs"]
mod tests;
