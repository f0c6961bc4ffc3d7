//! `GET /api/articles/{id}/events`: an article's newest version as it is
//! written, for its owner only.
//!
//! Every message is a `GenerationEvent` (JSON) with an SSE `id`: the
//! position after it (see `position`). A browser resumes with
//! `Last-Event-ID` (EventSource sends it by itself after a dropped
//! connection; it wins) or `?from=<position>` (a reload: the page rendered
//! the text up to `ArticleDetail::stream_from`). The stream subscribes to
//! the article's hub first, then reads — the running generation in this
//! process, else the database — and sends one `Snapshot` of everything
//! after the position, then each `Text`/`Reasoning` delta in order, then
//! `Finished`, and ends. A comment every 15 s keeps proxies from closing
//! it; it ends when the server stops (the browser reconnects).
//!
//! Answers: 503 `not_configured` without DeepSeek; 401 `not_logged_in`
//! without a session; 404 `not_found` for an id that is not an article of
//! this user (malformed, someone else's, deleted — all alike, so nothing
//! tells another user's ids apart); 429 `too_many_streams` beyond
//! `WRITING_STREAMS_PER_USER` open streams (503 `site_busy` when the server
//! has no room at all).

use std::{collections::VecDeque, convert::Infallible, pin::Pin, sync::Arc, time::Duration};

use app::{
    auth::RequestUser,
    modules::writing::protocol::{GenerationEvent, GenerationStatus, WritingError},
};
use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{sse::Event, IntoResponse, Response},
    routing::get,
    Extension, Json, Router,
};
use futures_util::stream;
use serde::Deserialize;
use tower_http::set_header::SetResponseHeaderLayer;

use super::{
    generation::{Generation, Read},
    hub::Subscription,
    is_article_id,
    position::Position,
    server_error, store,
    streams::{StreamPermit, StreamRefusal},
    Core,
};
use crate::state::AppState;

/// The route; it stays open, so it goes where no request timeout applies.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/articles/{id}/events", get(events))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

/// How long EventSource waits before reconnecting.
const RECONNECT_AFTER: Duration = Duration::from_millis(1000);
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Following a generation this process does not run (another process, or
/// none: a row the restart sweep has not reached), the database is read
/// this often besides the hub's news.
const POLL_EVERY: Duration = Duration::from_secs(1);

#[derive(Deserialize)]
struct From {
    from: Option<String>,
}

/// A refusal, as JSON with its status.
struct Refusal(WritingError);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.0)).into_response()
    }
}

async fn events(
    State(state): State<AppState>,
    Extension(RequestUser(user)): Extension<RequestUser>,
    Path(id): Path<String>,
    Query(query): Query<From>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let Some(writing) = state.writing.as_ref() else {
        return Err(Refusal(WritingError::NotConfigured));
    };
    let user = user.ok_or(Refusal(WritingError::NotLoggedIn))?;
    if !is_article_id(&id) {
        return Err(Refusal(WritingError::NotFound));
    }
    let core = writing.core().clone();
    // Listen before reading, so a change in between is not missed.
    let subscription = core.hub.subscribe(&id);
    let first = core
        .store
        .latest_version(&id, user.id)
        .await
        .map_err(|error| Refusal(server_error(error)))?
        .ok_or(Refusal(WritingError::NotFound))?;
    let permit = core.streams.open(user.id).map_err(|refusal| {
        Refusal(match refusal {
            StreamRefusal::User => WritingError::TooManyStreams,
            StreamRefusal::Server => WritingError::SiteBusy,
        })
    })?;
    let position = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .or(query.from.as_deref())
        .and_then(Position::parse);
    let follow = Follow {
        _permit: permit,
        shutdown: Box::pin(state.shutdown.clone().stopped()),
        generation: core.generations.get(&id),
        core,
        user: user.id,
        id,
        subscription,
        stored: Some(first),
        position,
        started: false,
        queue: VecDeque::new(),
        done: false,
    };
    let events = stream::unfold(follow, |mut follow| async move {
        let event = follow.next_event().await?;
        Some((Ok::<_, Infallible>(event), follow))
    });
    Ok(crate::sse::response(events, KEEP_ALIVE))
}

/// One browser following one article.
struct Follow {
    /// Its place among the open streams, given back when the stream ends.
    _permit: StreamPermit,
    core: Arc<Core>,
    user: i64,
    id: String,
    subscription: Subscription,
    /// The generation running in this process, once seen.
    generation: Option<Arc<Generation>>,
    /// The version as read when the stream opened (used once).
    stored: Option<store::VersionRow>,
    /// What the browser has.
    position: Option<Position>,
    started: bool,
    queue: VecDeque<Event>,
    done: bool,
    shutdown: Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
}

impl Follow {
    async fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(event);
            }
            if self.done {
                return None;
            }
            let (read, live) = self.read().await?;
            self.queue_read(read);
            if !self.queue.is_empty() {
                continue;
            }
            let poll = async {
                if live {
                    std::future::pending::<()>().await
                } else {
                    tokio::time::sleep(POLL_EVERY).await
                }
            };
            tokio::select! {
                // The hub went away: end, the browser reconnects.
                news = self.subscription.changed() => { news?; }
                _ = poll => {}
                _ = &mut self.shutdown => return None,
            }
        }
    }

    /// What follows the browser's position, and whether it came from a
    /// generation running here (whose changes the hub announces).
    async fn read(&mut self) -> Option<(Read, bool)> {
        if self.generation.is_none() {
            self.generation = self.core.generations.get(&self.id);
        }
        if let Some(generation) = &self.generation {
            let read = generation.read(self.position);
            // Ended: the database has it all, and a newer version may
            // follow; read from there from now on.
            if !generation.is_ended() || read.status.is_finished() {
                if generation.is_ended() {
                    self.generation = None;
                }
                return Some((read, true));
            }
        }
        let row = match self.stored.take() {
            Some(row) => row,
            None => match self.core.store.latest_version(&self.id, self.user).await {
                Ok(Some(row)) => row,
                // Deleted meanwhile: nothing more to follow.
                Ok(None) => return None,
                Err(error) => {
                    tracing::error!(%error, "writing: cannot read an article for its event stream");
                    return None;
                }
            },
        };
        Some((read_stored(&row, self.position), false))
    }

    /// Turns a read into events: the snapshot first, then deltas, then the
    /// end.
    fn queue_read(&mut self, read: Read) {
        let id = read.position.to_string();
        if !self.started {
            self.started = true;
            self.queue.push_back(
                event(
                    &GenerationEvent::Snapshot {
                        version: read.position.version,
                        status: read.status,
                        text: read.text,
                        reasoning: read.reasoning,
                        whole: read.whole,
                    },
                    &id,
                )
                .retry(RECONNECT_AFTER),
            );
        } else {
            if read.whole {
                // A new version (or an edit) since: start over.
                self.queue.push_back(event(
                    &GenerationEvent::Snapshot {
                        version: read.position.version,
                        status: read.status,
                        text: read.text,
                        reasoning: read.reasoning,
                        whole: true,
                    },
                    &id,
                ));
            } else {
                if !read.reasoning.is_empty() {
                    self.queue.push_back(event(
                        &GenerationEvent::Reasoning {
                            text: read.reasoning,
                        },
                        &id,
                    ));
                }
                if !read.text.is_empty() {
                    self.queue
                        .push_back(event(&GenerationEvent::Text { text: read.text }, &id));
                }
            }
        }
        self.position = Some(read.position);
        if read.status.is_finished() {
            self.done = true;
            self.queue.push_back(event(
                &GenerationEvent::Finished {
                    status: read.status,
                    problem: read.problem,
                    usage: read.usage,
                    elapsed_ms: read.elapsed_ms,
                },
                &id,
            ));
        }
    }
}

/// What follows `from` in a stored version.
fn read_stored(row: &store::VersionRow, from: Option<Position>) -> Read {
    let version = row.number as u32;
    let revision = row.revision as u32;
    let from = from.filter(|p| p.fits(version, revision, &row.body, &row.reasoning));
    let (text_at, reasoning_at) = from.map_or((0, 0), |p| (p.text, p.reasoning));
    let status = row.status();
    Read {
        status,
        whole: from.is_none(),
        text: row.body[text_at..].to_owned(),
        reasoning: row.reasoning[reasoning_at..].to_owned(),
        position: Position {
            version,
            revision,
            text: row.body.len(),
            reasoning: row.reasoning.len(),
        },
        problem: row.problem.clone(),
        usage: row.usage(),
        elapsed_ms: if status == GenerationStatus::Queued {
            0
        } else {
            row.elapsed_ms as u64
        },
    }
}

fn event(message: &GenerationEvent, id: &str) -> Event {
    // Serializing these plain types cannot fail.
    let data = serde_json::to_string(message).unwrap_or_default();
    Event::default().id(id).data(data)
}
