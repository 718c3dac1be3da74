//! Job categories and PIC teams (api-contract §3.8): bodies read once into the core's typed
//! inputs (`shared::services::taxonomy`), whose results are the bodies.

use crate::{
    error::{to_body, ApiResult},
    plumbing::{body_bool, body_str, AppState, CurrentUser},
};
use http::StatusCode;
use serde_json::{Map, Value};
use shared::{
    services::taxonomy::{self as core, NewTaxon, TaxonPatch},
    store::TaxonKind,
};

pub use core::{resolve, seed_categories, seed_local_team, validate, SEEDED_CATEGORIES};

/// Loads the list and validates; 400 `Invalid category` / `Invalid PIC team`.
pub async fn resolve_and_validate(
    state: &AppState,
    kind: TaxonKind,
    raw: Option<&str>,
) -> ApiResult<String> {
    Ok(core::resolve_and_validate(state, kind, raw).await?)
}

/// GET /job-categories and /pic-teams: active ones, or all for an admin asking
/// `include_inactive`; ordered by lower-cased name.
pub async fn list(
    state: &AppState,
    kind: TaxonKind,
    include_inactive: bool,
) -> ApiResult<Vec<Value>> {
    Ok(core::list(state, kind, include_inactive).await?)
}

/// POST /job-categories and /pic-teams (admin, after the JSON checks): 201.
pub async fn create(
    state: &AppState,
    caller: &CurrentUser,
    kind: TaxonKind,
    b: &Map<String, Value>,
) -> ApiResult<(StatusCode, Value)> {
    let input = NewTaxon {
        name: body_str(b, "name")?,
        slug: body_str(b, "slug")?,
        slack_handle: if kind == TaxonKind::Team {
            body_str(b, "slack_handle")?
        } else {
            None
        },
    };
    let out = core::create(state, caller.caller(), kind, input).await?;
    Ok((StatusCode::CREATED, to_body(out)?))
}

/// PUT /job-categories/{id} and /pic-teams/{id} (admin, after the JSON checks).
pub async fn update(
    state: &AppState,
    caller: &CurrentUser,
    kind: TaxonKind,
    id: &str,
    b: &Map<String, Value>,
) -> ApiResult<Value> {
    let text = |k: &str| b.contains_key(k).then(|| body_str(b, k)).transpose();
    let patch = TaxonPatch {
        name: text("name")?,
        slug_sent: b.contains_key("slug"),
        is_active: b
            .get("is_active")
            .map(|v| body_bool(v, "is_active"))
            .transpose()?,
        slack_handle: if kind == TaxonKind::Team {
            text("slack_handle")?
        } else {
            None
        },
    };
    to_body(core::update(state, caller.caller(), kind, id, patch).await?)
}

/// DELETE /job-categories/{id} and /pic-teams/{id} (admin): soft delete (`is_active=false`).
pub async fn disable(
    state: &AppState,
    caller: &CurrentUser,
    kind: TaxonKind,
    id: &str,
) -> ApiResult<Value> {
    to_body(core::disable(state, caller.caller(), kind, id).await?)
}
