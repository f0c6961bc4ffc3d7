//! Following an attempt from its browser: `GET /api/login/{id}/events`
//! (the current status, then each change, as server-sent events) and
//! `GET /api/login/{id}` (the status once, where event streams cannot
//! pass). Both only for the browser that started the attempt.

use std::{convert::Infallible, time::Duration};

use app::modules::wechat_login::{protocol::StatusUpdate, status::LoginStatus};
use axum::{
    extract::{Path, State},
    http::HeaderMap,
    response::{sse::Event, Response},
    Json,
};
use futures_util::stream;

use super::{
    api::own_attempt, attempt::Attempt, client::ClientInfo, error::LoginError, hub::Subscription,
    streams::StreamPermit,
};
use crate::{clock, state::AppState};

/// `GET /api/login/{id}`: the status once (for when event streams cannot pass).
pub async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    client: ClientInfo,
    headers: HeaderMap,
) -> Result<Json<StatusUpdate>, LoginError> {
    let attempt = own_attempt(&state, &id, &client, &headers).await?;
    Ok(Json(attempt.update_at(clock::now_ms())))
}

/// `GET /api/login/{id}/events`: the current status, then every change, until
/// a terminal status. A browser that reconnects (network, server restart)
/// simply gets the current status again. Only a few streams may be open per
/// attempt, per client network and on the server (`streams`); a refused
/// browser falls back to asking for the status now and then.
pub async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    client: ClientInfo,
    headers: HeaderMap,
) -> Result<Response, LoginError> {
    // Listen before reading, so a change in between is not missed.
    let subscription = state.hub.subscribe(&id);
    let attempt = own_attempt(&state, &id, &client, &headers).await?;
    // Counted only once the attempt is known to be this browser's: whoever
    // read the id off the QR code cannot take its places.
    let permit = state
        .stream_limits
        .open(&id, client.network())
        .map_err(LoginError::TooManyStreams)?;
    let follow = Follow {
        _permit: permit,
        shutdown: Box::pin(state.shutdown.clone().stopped()),
        state,
        id,
        subscription,
        // What was just read is the current status: no second read.
        snapshot: Some(attempt),
        last: None,
        done: false,
    };
    let events = stream::unfold(follow, |mut follow| async move {
        let event = follow.next_event().await?;
        Some((Ok::<_, Infallible>(event), follow))
    });
    Ok(crate::sse::response(events, Duration::from_secs(15)))
}

/// One browser following one attempt.
struct Follow {
    /// Its place among the open streams, given back when the stream ends.
    _permit: StreamPermit,
    state: AppState,
    id: String,
    subscription: Subscription,
    /// The attempt as read when the stream opened, used for the first event.
    snapshot: Option<Attempt>,
    last: Option<LoginStatus>,
    done: bool,
    shutdown: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
}

/// How long EventSource waits before reconnecting.
const RECONNECT_AFTER: Duration = Duration::from_millis(500);

impl Follow {
    async fn next_event(&mut self) -> Option<Event> {
        loop {
            if self.done {
                return None;
            }
            let now = clock::now_ms();
            let attempt = match self.snapshot.take() {
                Some(attempt) => Some(attempt),
                // Woken by a change (or the expiry): read what is committed.
                None => match self.state.login.find_attempt(&self.id).await {
                    Ok(attempt) => attempt,
                    Err(err) => {
                        // End the stream: the browser reconnects and tries again.
                        tracing::error!(error = %err, "cannot read a login attempt for its event stream");
                        return None;
                    }
                },
            };
            // Cleaned up meanwhile: it is long over.
            let update = attempt.as_ref().map_or_else(
                || StatusUpdate::of(LoginStatus::Expired),
                |a| a.update_at(now),
            );
            let status = update.status;
            if self.last != Some(status) {
                self.done = status.is_terminal();
                let first = self.last.is_none();
                self.last = Some(status);
                let data = serde_json::to_string(&update).ok()?;
                let event = Event::default().data(data);
                return Some(if first {
                    event.retry(RECONNECT_AFTER)
                } else {
                    event
                });
            }
            let deadline = attempt.and_then(|a| a.next_deadline(now));
            let until_deadline = async {
                match deadline {
                    Some(at) => {
                        tokio::time::sleep(Duration::from_millis((at - now).max(0) as u64)).await
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                // The hub went away: end, the browser reconnects.
                news = self.subscription.changed() => { news?; }
                _ = until_deadline => {}
                _ = &mut self.shutdown => return None,
            }
        }
    }
}
