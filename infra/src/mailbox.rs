//! Local Slack receiver for `make dev`: point the Slack settings' webhook URL at
//! `http://127.0.0.1:3001/slack` and every post the platform sends is logged and listed at
//! `GET http://127.0.0.1:3001/slack` (newest last). E-mail goes to the SES emulator (moto),
//! which keeps every message: `GET <moto>/moto-api/data.json`, key `ses` → `Message`.

use axum::{extract::State, routing::get, Json, Router};
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// Posts received so far.
#[derive(Clone, Default)]
pub struct Mailbox(Arc<Mutex<Vec<Value>>>);

impl Mailbox {
    /// A copy of the posts received so far.
    pub fn posts(&self) -> Vec<Value> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

async fn receive(State(mb): State<Mailbox>, Json(body): Json<Value>) -> &'static str {
    tracing::info!(post = %body, "local Slack receiver: post received");
    if let Ok(mut v) = mb.0.lock() {
        v.push(body);
    }
    "ok"
}

async fn list(State(mb): State<Mailbox>) -> Json<Value> {
    Json(Value::Array(mb.posts()))
}

/// The receiver's routes: `POST /slack` records a post, `GET /slack` lists them.
pub fn router(mailbox: Mailbox) -> Router {
    Router::new()
        .route("/slack", get(list).post(receive))
        .with_state(mailbox)
}
