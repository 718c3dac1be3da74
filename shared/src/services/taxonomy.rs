//! The slug-or-name resolution of categories and PIC teams used by every job write
//! (api-contract §3.5 "resolve/validate category/team"). The taxonomy's own CRUD is in the
//! HTTP adapter for now.

use crate::{
    domain::{draft::FieldError, slugify},
    state::AppState,
    store::{StoreError, Taxon, TaxonKind},
};

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
