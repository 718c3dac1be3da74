//! Bulk CSV upload (api-contract §4): the multipart request (read by the jobs function) handed
//! to the core (`shared::services::bulk`); 400 when nothing was accepted and something failed.

use crate::{
    error::{to_body, ApiResult},
    plumbing::{AppState, CurrentUser},
};
use http::StatusCode;
use serde_json::Value;
use shared::services::bulk as core;

pub use core::{Upload, JOBS_PER_SCHEDULE_TASK, MAX_ROWS};

/// POST /jobs/bulk-upload for a user-or-admin caller: `(status, body)` per api-contract §4.5.
pub async fn upload(
    state: &AppState,
    user: &CurrentUser,
    req: Upload,
) -> ApiResult<(StatusCode, Value)> {
    let out = core::upload(state, user.caller(), req).await?;
    let status = if out.failed() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((status, to_body(out)?))
}
