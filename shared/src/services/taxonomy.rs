//! Job categories and PIC teams (api-contract §3.8) and the slug-or-name resolution used by
//! job writes (§3.5).

use crate::{
    domain::{now, slugify},
    error::{ApiError, ApiResult},
    store::{StoreError, Taxon, TaxonKind},
    web::{body_str, AppState},
};
use axum::http::StatusCode;
use serde_json::{json, Map, Value};

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

/// Loads the list and validates; 400 `Invalid category` / `Invalid PIC team`.
pub async fn resolve_and_validate(
    state: &AppState,
    kind: TaxonKind,
    raw: Option<&str>,
) -> ApiResult<String> {
    let list = state.store.list_taxa(kind).await?;
    validate(kind, &list, raw).map_err(|m| {
        let error = match kind {
            TaxonKind::Category => "Invalid category",
            TaxonKind::Team => "Invalid PIC team",
        };
        ApiError::bad_request(error, m)
    })
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
    kind: TaxonKind,
    body: &Map<String, Value>,
) -> ApiResult<(StatusCode, Value)> {
    let name = body_str(body, "name")?
        .ok_or_else(|| ApiError::bad_request("Missing required fields", "\"name\" is required."))?;
    let slack_handle = if kind == TaxonKind::Team {
        Some(body_str(body, "slack_handle")?.ok_or_else(|| {
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
    match state.store.create_taxon(kind, &taxon).await {
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

/// Creates the seeded categories that are missing (idempotent; start-up of the local stack
/// and the deployment's seed step).
pub async fn seed_categories(state: &AppState) -> Result<(), StoreError> {
    let existing = state.store.list_taxa(TaxonKind::Category).await?;
    for (slug, name) in SEEDED_CATEGORIES {
        if existing.iter().any(|t| t.slug == slug) {
            continue;
        }
        let t = now();
        let taxon = Taxon {
            id: uuid::Uuid::new_v4().to_string(),
            slug: slug.into(),
            name: name.into(),
            slack_handle: None,
            is_active: true,
            created_at: t,
            updated_at: t,
        };
        match state.store.create_taxon(TaxonKind::Category, &taxon).await {
            Ok(()) | Err(StoreError::Conflict) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "taxonomy_test.rs"]
mod tests;
