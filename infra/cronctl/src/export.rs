//! Reads a whole deployment back into a [`Bundle`] (for `cronctl export`).

use crate::bundle::Bundle;
use shared::{
    state::AppState,
    store::{StoreError, TaxonKind},
};

/// Everything in the table: taxonomy, users (their hashes are dropped when written),
/// preferences, Slack settings, jobs, and with `history` every execution and notification.
/// Each list is in a fixed order (time, then id), so two exports of the same data are equal.
pub async fn collect(state: &AppState, history: bool) -> Result<Bundle, StoreError> {
    let store = &state.store;
    let mut b = Bundle {
        source: format!("table:{}", store.table()),
        ..Default::default()
    };
    b.categories = store.list_taxa(TaxonKind::Category).await?;
    b.categories
        .sort_by(|x, y| (x.created_at, &x.id).cmp(&(y.created_at, &y.id)));
    b.teams = store.list_taxa(TaxonKind::Team).await?;
    b.teams
        .sort_by(|x, y| (x.created_at, &x.id).cmp(&(y.created_at, &y.id)));
    b.users = store.list_users().await?;
    b.users
        .sort_by(|x, y| (x.created_at, &x.id).cmp(&(y.created_at, &y.id)));
    for u in &b.users {
        if let Some(p) = store.get_prefs(&u.id).await? {
            b.prefs.push(p);
        }
        if let Some(p) = store.get_ui_prefs(&u.id).await? {
            b.ui_prefs.push(p);
        }
    }
    b.slack = store.get_slack_settings().await?;
    b.jobs = store.list_jobs().await?;
    b.jobs
        .sort_by(|x, y| (x.created_at, &x.id).cmp(&(y.created_at, &y.id)));
    if history {
        for j in &b.jobs {
            b.executions.extend(store.all_job_executions(&j.id).await?);
        }
        b.executions
            .sort_by(|x, y| (x.started_at, &x.id).cmp(&(y.started_at, &y.id)));
        for u in &b.users {
            // As the user sees them: what their read mark covers is exported read, and the
            // feed's items they see are exported as their own (ids derived per user).
            b.notifications.extend(store.user_view(&u.id).await?);
        }
        b.notifications
            .sort_by(|x, y| (x.created_at, &x.id).cmp(&(y.created_at, &y.id)));
    }
    Ok(b)
}
