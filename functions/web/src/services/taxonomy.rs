//! Job categories and PIC teams (api-contract §3.8) and the slug-or-name resolution used by
//! job writes (§3.5).

use crate::{
    error::{ApiError, ApiResult},
    plumbing::{body_bool, body_str, AppState, CurrentUser},
};
use http::StatusCode;
use serde_json::{json, Map, Value};
use shared::{
    domain::{now, slugify},
    store::{StoreError, Taxon, TaxonKind},
};

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

pub use shared::services::taxonomy::{resolve, validate};

/// A team's `slack_handle`: required (`missing` when blank), at most 255 characters.
fn slack_handle(body: &Map<String, Value>, missing: impl Fn() -> ApiError) -> ApiResult<String> {
    let h = body_str(body, "slack_handle")?.ok_or_else(missing)?;
    if h.chars().count() > 255 {
        return Err(ApiError::bad_request(
            "Invalid slack_handle",
            "slack_handle must be at most 255 characters.",
        ));
    }
    // It is put into Slack messages as is: one line, no display tricks.
    if let Some(c) = shared::domain::name::first_forbidden(&h) {
        return Err(ApiError::bad_request(
            "Invalid slack_handle",
            format!(
                "slack_handle cannot contain control, line-break or bidirectional characters (U+{:04X}).",
                c as u32
            ),
        ));
    }
    Ok(h)
}

/// Loads the list and validates; 400 `Invalid category` / `Invalid PIC team`.
pub async fn resolve_and_validate(
    state: &AppState,
    kind: TaxonKind,
    raw: Option<&str>,
) -> ApiResult<String> {
    Ok(shared::services::taxonomy::resolve_and_validate(state, kind, raw).await?)
}

/// GET /job-categories and /pic-teams: active ones, or all for an admin asking
/// `include_inactive`; ordered by lower-cased name.
pub async fn list(
    state: &AppState,
    kind: TaxonKind,
    include_inactive: bool,
) -> ApiResult<Vec<Value>> {
    let list = state.store.list_taxa(kind).await?;
    Ok(list
        .iter()
        .filter(|t| include_inactive || t.is_active)
        .map(|t| t.to_json(kind))
        .collect())
}

/// POST /job-categories and /pic-teams (admin, after the JSON checks): 201.
pub async fn create(
    state: &AppState,
    caller: &CurrentUser,
    kind: TaxonKind,
    body: &Map<String, Value>,
) -> ApiResult<(StatusCode, Value)> {
    let name = body_str(body, "name")?
        .ok_or_else(|| ApiError::bad_request("Missing required fields", "\"name\" is required."))?;
    let slack_handle = if kind == TaxonKind::Team {
        Some(slack_handle(body, || {
            ApiError::bad_request("Missing required fields", "\"slack_handle\" is required.")
        })?)
    } else {
        None
    };
    if name.chars().count() > 255 {
        return Err(ApiError::bad_request(
            "Invalid name",
            "Name must be at most 255 characters.",
        ));
    }
    refuse_forbidden(&name)?;
    let slug = slugify(&body_str(body, "slug")?.unwrap_or_else(|| name.clone()));
    if slug.is_empty() {
        return Err(ApiError::bad_request(
            "Invalid slug",
            "Unable to generate a valid slug from name.",
        ));
    }
    if slug.len() > 100 {
        return Err(ApiError::bad_request(
            "Invalid slug",
            "Slug must be at most 100 characters.",
        ));
    }
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
    let (label, key, message) = match kind {
        TaxonKind::Category => ("Category", "category", "Category created"),
        TaxonKind::Team => ("PIC team", "pic_team", "PIC team created"),
    };
    let audit = caller.audit(
        "create",
        kind.audit_entity(),
        &taxon.id,
        None,
        Some(taxon.to_json(kind)),
    );
    match state.store.create_taxon(kind, &taxon, Some(&audit)).await {
        Ok(()) => Ok((
            StatusCode::CREATED,
            json!({"message": message, key: taxon.to_json(kind)}),
        )),
        Err(StoreError::Conflict) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "Duplicate slug",
            format!("{label} slug \"{}\" already exists.", taxon.slug),
        )),
        Err(e) => Err(e.into()),
    }
}

fn labels(kind: TaxonKind) -> (&'static str, &'static str, &'static str) {
    match kind {
        TaxonKind::Category => ("Category", "category", "category"),
        TaxonKind::Team => ("PIC team", "pic_team", "PIC team"),
    }
}

async fn load(state: &AppState, kind: TaxonKind, id: &str) -> ApiResult<Taxon> {
    let found = if id.len() > 200 {
        None
    } else {
        state.store.get_taxon(kind, id).await?
    };
    found.ok_or_else(|| {
        ApiError::not_found(
            "Not found",
            format!("No {} found with ID: {id}", labels(kind).2),
        )
    })
}

fn duplicate_slug(kind: TaxonKind, slug: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "Duplicate slug",
        format!("{} slug \"{slug}\" already exists.", labels(kind).0),
    )
}

/// 400 `Invalid name` for a name holding a control, line-break or bidi-override character.
fn refuse_forbidden(name: &str) -> ApiResult<()> {
    match shared::domain::name::first_forbidden(name) {
        None => Ok(()),
        Some(c) => Err(ApiError::bad_request(
            "Invalid name",
            format!(
                "Name may not contain control, line-break or bidirectional-override characters (found U+{:04X}).",
                c as u32
            ),
        )),
    }
}

/// A rename's checks (api-contract §3.8): the new name (≤ 255, no control or bidi
/// characters; "General" keeps its name) and the slug derived from it (non-empty, ≤ 100, not
/// another's). `(name, slug)`.
async fn new_name(
    state: &AppState,
    kind: TaxonKind,
    previous: &Taxon,
    body: &Map<String, Value>,
) -> ApiResult<(String, String)> {
    let name = body_str(body, "name")?
        .ok_or_else(|| ApiError::bad_request("Invalid name", "Name cannot be empty."))?;
    if name.chars().count() > 255 {
        return Err(ApiError::bad_request(
            "Invalid name",
            "Name must be at most 255 characters.",
        ));
    }
    refuse_forbidden(&name)?;
    if kind == TaxonKind::Category && previous.slug == "general" && name != previous.name {
        return Err(ApiError::bad_request(
            "Invalid category",
            "The \"General\" category cannot be renamed.",
        ));
    }
    let slug = slugify(&name);
    if slug.is_empty() {
        return Err(ApiError::bad_request(
            "Invalid slug",
            "Unable to generate a valid slug from name.",
        ));
    }
    if slug.len() > 100 {
        return Err(ApiError::bad_request(
            "Invalid slug",
            "Slug must be at most 100 characters.",
        ));
    }
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

/// PUT /job-categories/{id} and /pic-teams/{id} (admin, after the JSON checks): rename
/// (slug re-derived; the rename, the new slug's claim and a pending-rename record in one
/// transaction, then every job on the old slug re-pointed in batches — any number of jobs —
/// counted in `jobs_updated`), `is_active`, and for teams `slack_handle`. All checks run
/// first; a 4xx writes nothing.
pub async fn update(
    state: &AppState,
    caller: &CurrentUser,
    kind: TaxonKind,
    id: &str,
    body: &Map<String, Value>,
) -> ApiResult<Value> {
    let previous = load(state, kind, id).await?;
    let mut t = previous.clone();
    if body.contains_key("name") {
        (t.name, t.slug) = new_name(state, kind, &previous, body).await?;
    }
    if body.contains_key("slug") {
        return Err(ApiError::bad_request(
            "Invalid payload",
            "Slug cannot be edited directly; it is derived from name.",
        ));
    }
    if let Some(v) = body.get("is_active") {
        t.is_active = body_bool(v, "is_active")?;
    }
    if kind == TaxonKind::Team && body.contains_key("slack_handle") {
        t.slack_handle = Some(slack_handle(body, || {
            ApiError::bad_request("Invalid slack_handle", "slack_handle cannot be empty.")
        })?);
    }
    t.updated_at = now().max(previous.updated_at + chrono::Duration::microseconds(1));
    let renamed = t.slug != previous.slug;
    let audit = caller.audit(
        "update",
        kind.audit_entity(),
        &t.id,
        Some(previous.to_json(kind)),
        Some(t.to_json(kind)),
    );
    match state
        .store
        .update_taxon(kind, &previous, &t, Some(&audit))
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict) => {
            if renamed
                && state
                    .store
                    .list_taxa(kind)
                    .await?
                    .iter()
                    .any(|x| x.slug == t.slug && x.id != t.id)
            {
                return Err(duplicate_slug(kind, &t.slug));
            }
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "Conflict",
                "It was changed by another request, or its previous rename is still being applied. Reload and try again.",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    // Every job on the old slug, re-pointed in batches; a run cut short is finished by the
    // next maintenance sweep (within 2 minutes).
    let jobs_updated = if renamed {
        let pending = shared::store::PendingRename {
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
    let (_, key, _) = labels(kind);
    let message = match kind {
        TaxonKind::Category => "Category updated",
        TaxonKind::Team => "PIC team updated",
    };
    Ok(json!({"message": message, key: t.to_json(kind), "jobs_updated": jobs_updated}))
}

/// DELETE /job-categories/{id} and /pic-teams/{id} (admin): soft delete (`is_active=false`).
pub async fn disable(
    state: &AppState,
    caller: &CurrentUser,
    kind: TaxonKind,
    id: &str,
) -> ApiResult<Value> {
    let previous = load(state, kind, id).await?;
    let mut t = previous.clone();
    t.is_active = false;
    t.updated_at = now().max(previous.updated_at + chrono::Duration::microseconds(1));
    let audit = caller.audit(
        "disable",
        kind.audit_entity(),
        &t.id,
        Some(previous.to_json(kind)),
        Some(t.to_json(kind)),
    );
    match state
        .store
        .update_taxon(kind, &previous, &t, Some(&audit))
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "Conflict",
                "It was changed by another request. Reload and try again.",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    let (_, key, _) = labels(kind);
    let message = match kind {
        TaxonKind::Category => "Category disabled",
        TaxonKind::Team => "PIC team disabled",
    };
    Ok(json!({"message": message, key: t.to_json(kind)}))
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
