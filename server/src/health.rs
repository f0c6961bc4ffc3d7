//! `GET /healthz`: 200 when the database answers and the database writer
//! (which stores every login WeChat delivers and the text DeepSeek writes)
//! is alive; 503 otherwise.

use std::time::Duration;

use axum::{extract::State, http::StatusCode, routing::get, Router};

use crate::state::AppState;

/// The writer answers a ping as soon as it gets to it; longer than this and
/// it is stuck (or gone), and pushes would not be answered in time either.
const WRITER_PING_TIMEOUT: Duration = Duration::from_secs(2);

pub fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if !state.database.ping().await {
        return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable");
    }
    match tokio::time::timeout(WRITER_PING_TIMEOUT, state.login.ping()).await {
        Ok(true) => (StatusCode::OK, "ok"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "login writer unavailable"),
    }
}
