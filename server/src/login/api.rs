//! The browser's login routes: start an attempt (QR code), follow it (event
//! stream, or one status), complete it (session cookie), who am I, log out.

use std::{convert::Infallible, time::Duration};

use app::{
    auth::AuthUser,
    modules::wechat_login::protocol::{LoginStatus, StartedLogin, StatusUpdate, UserBody},
};
use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    routing::{get, post},
    Json, Router,
};
use futures_util::stream;
use subtle::ConstantTimeEq;
use tower_http::set_header::SetResponseHeaderLayer;

use super::{
    client::ClientInfo,
    cookies::LoginCookie,
    error::LoginError,
    hub::Subscription,
    inbox::short,
    qr,
    rate_limit::Refused,
    secrets, store,
    streams::StreamPermit,
    writer::{Completed, Completion, NewAttempt},
};
use crate::{clock, state::AppState};

/// Every route but the event stream: they answer at once, so the server's
/// request timeout applies to them.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/login/start", post(start))
        .route("/api/login/{id}", get(status))
        .route("/api/login/{id}/complete", post(complete))
        .route("/api/me", get(me))
        .route("/api/logout", post(logout))
        .layer(no_store())
}

/// The event stream, which lives until its attempt ends.
pub fn stream_routes() -> Router<AppState> {
    Router::new()
        .route("/api/login/{id}/events", get(events))
        .layer(no_store())
}

fn no_store() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
}

/// `POST /api/login/start`: a new attempt and its QR code.
async fn start(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
) -> Result<Response, LoginError> {
    state
        .start_limits
        .check(client.network())
        .map_err(|refused| match refused {
            Refused::Address(retry_after) => LoginError::RateLimited { retry_after },
            Refused::Site(retry_after) => {
                tracing::warn!("the site-wide limit of QR codes per minute is reached (LOGIN_START_SITE_PER_MINUTE)");
                LoginError::SiteBusy { retry_after }
            }
        })?;

    // One binding secret per browser, reused by its later attempts.
    let binding = LoginCookie::Binding
        .read(&headers, client.https)
        .map_err(|_| LoginError::DuplicateCookie)?
        .unwrap_or_else(secrets::new_secret);
    let expiry = state.config.login.expiry;
    let now = clock::now_ms();
    let id = secrets::new_attempt_id();
    let expires_at = now + expiry.as_millis() as i64;
    // Stored (durably) before WeChat knows the code, so even an instant scan
    // finds it.
    state
        .writer
        .insert_attempt(NewAttempt {
            id: id.clone(),
            binding_hash: secrets::hash(&binding),
            client_ip: client.address.to_string(),
            user_agent: client.user_agent.clone(),
            created_at: now,
            expires_at,
        })
        .await?;

    let ticket = match state.wechat.create_qr(&id, expiry.as_secs() as u32).await {
        Ok(ticket) => ticket,
        Err(err) => {
            // Logged with the reference the visitor sees.
            state.ops.wechat_error(&err);
            store::delete_attempt(&state.db, &id).await?;
            return Err(LoginError::Wechat(err));
        }
    };
    let qr_svg = qr::svg(&ticket.url).map_err(|err| LoginError::Qr(err.to_string()))?;
    tracing::info!(attempt = %short(&id), "login started");

    let cookie = LoginCookie::Binding.set(&binding, client.https, None);
    let body = StartedLogin {
        id,
        expires_at: clock::rfc3339(expires_at),
        expires_in: expiry.as_secs(),
        qr_svg,
        qr_url: ticket.url,
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// The attempt `id`, if it exists and this browser started it.
async fn own_attempt(
    state: &AppState,
    id: &str,
    client: &ClientInfo,
    headers: &HeaderMap,
) -> Result<store::Attempt, LoginError> {
    if !secrets::is_attempt_id(id) {
        return Err(LoginError::NotFound);
    }
    let binding = LoginCookie::Binding
        .read(headers, client.https)
        .map_err(|_| LoginError::DuplicateCookie)?;
    let attempt = store::find_attempt(&state.db, id)
        .await?
        .ok_or(LoginError::NotFound)?;
    let binding = binding.ok_or(LoginError::NotYours)?;
    let matches: bool = secrets::hash(&binding).ct_eq(&attempt.binding_hash).into();
    if matches {
        Ok(attempt)
    } else {
        Err(LoginError::NotYours)
    }
}

/// `GET /api/login/{id}`: the status once (for when event streams cannot pass).
async fn status(
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
async fn events(
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
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    // Tell buffering proxies (nginx) to pass events through at once.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// One browser following one attempt.
struct Follow {
    /// Its place among the open streams, given back when the stream ends.
    _permit: StreamPermit,
    state: AppState,
    id: String,
    subscription: Subscription,
    /// The attempt as read when the stream opened, used for the first event.
    snapshot: Option<store::Attempt>,
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
                None => match store::find_attempt(&self.state.db, &self.id).await {
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

/// `POST /api/login/{id}/complete`: once, by the browser that started it,
/// after WeChat confirmed: the session begins.
async fn complete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    client: ClientInfo,
    headers: HeaderMap,
) -> Result<Response, LoginError> {
    let attempt = own_attempt(&state, &id, &client, &headers).await?;
    let now = clock::now_ms();
    let status = attempt.status_at(now);
    if status != LoginStatus::Confirmed {
        return Err(LoginError::NotConfirmed(status));
    }
    let user_id = attempt.user_id.ok_or(LoginError::NotConfirmed(status))?;

    let token = secrets::new_secret();
    let ttl = state.config.login.session_ttl;
    let completed = state
        .writer
        .complete(Completion {
            attempt: id.clone(),
            user_id,
            token_hash: secrets::hash(&token),
            expires_at: now + ttl.as_millis() as i64,
        })
        .await?;
    let user = match completed {
        Completed::LoggedIn(user) => user,
        // Another request redeemed it first.
        Completed::AlreadyConsumed => return Err(LoginError::NotConfirmed(LoginStatus::Consumed)),
        Completed::NoUser => return Err(LoginError::NotFound),
    };
    tracing::info!(attempt = %short(&id), user = user.id, "logged in");

    // A new login ends whatever session this browser held: its old token
    // logs nobody in any more, even if it was copied.
    for old in LoginCookie::Session.read_all(&headers, client.https) {
        store::revoke_session(&state.db, &secrets::hash(&old), now).await?;
    }

    let cookie = LoginCookie::Session.set(&token, client.https, Some(ttl));
    Ok(([(header::SET_COOKIE, cookie)], Json(UserBody { user })).into_response())
}

/// `GET /api/me`: the logged-in user, or 401.
async fn me(AuthUser(user): AuthUser) -> Json<UserBody> {
    Json(UserBody { user })
}

/// `POST /api/logout`: ends the session, here and in the database.
async fn logout(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
) -> Result<Response, LoginError> {
    let token = LoginCookie::Session
        .read(&headers, client.https)
        .map_err(|_| LoginError::DuplicateCookie)?;
    if let Some(token) = token {
        store::revoke_session(&state.db, &secrets::hash(&token), clock::now_ms()).await?;
    }
    let cookie = LoginCookie::Session.clear(client.https);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}
