//! The browser's login routes: start an attempt (QR code), complete it
//! (session cookie), who am I, log out. Following an attempt (its status
//! once, or its event stream) is in `events`.
//!
//! Hand-written axum routes, not Leptos server functions: see the code map
//! in `mod.rs` for why.

use app::{
    auth::AuthUser,
    modules::wechat_login::{
        protocol::{StartedLogin, UserBody},
        status::LoginStatus,
    },
};
use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use subtle::ConstantTimeEq;
use tower_http::set_header::SetResponseHeaderLayer;

use super::{
    attempt::{Attempt, NewAttempt},
    client::ClientInfo,
    cookies::LoginCookie,
    error::LoginError,
    events,
    push::short,
    qr,
    rate_limit::Refused,
    secrets,
    store::{Completed, Completion},
};
use crate::{clock, state::AppState};

/// Every route but the event stream: they answer at once, so the server's
/// request timeout applies to them.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/login/start", post(start))
        .route("/api/login/{id}", get(events::status))
        .route("/api/login/{id}/complete", post(complete))
        .route("/api/me", get(me))
        .route("/api/logout", post(logout))
        .layer(no_store())
}

/// The event stream, which lives until its attempt ends.
pub fn stream_routes() -> Router<AppState> {
    Router::new()
        .route("/api/login/{id}/events", get(events::events))
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
        .login
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
            state.login.delete_attempt(&id).await?;
            return Err(LoginError::Wechat(err));
        }
    };
    let qr_svg = qr::svg(&ticket.url).map_err(|err| LoginError::Qr(err.to_string()))?;
    let qr_png = qr::png_data_url(&ticket.url).map_err(|err| LoginError::Qr(err.to_string()))?;
    tracing::info!(attempt = %short(&id), "login started");

    let cookie = LoginCookie::Binding.set(&binding, client.https, None);
    let body = StartedLogin {
        id,
        expires_at: clock::rfc3339(expires_at),
        expires_in: expiry.as_secs(),
        qr_svg,
        qr_png,
        qr_url: ticket.url,
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// The attempt `id`, if it exists and this browser started it.
pub(super) async fn own_attempt(
    state: &AppState,
    id: &str,
    client: &ClientInfo,
    headers: &HeaderMap,
) -> Result<Attempt, LoginError> {
    if !secrets::is_attempt_id(id) {
        return Err(LoginError::NotFound);
    }
    let binding = LoginCookie::Binding
        .read(headers, client.https)
        .map_err(|_| LoginError::DuplicateCookie)?;
    let attempt = state
        .login
        .find_attempt(id)
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
        .login
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
        let old = secrets::hash(&old);
        state.session_store.revoke(&old, now).await?;
        state.sessions.revoked(&old);
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
        let token = secrets::hash(&token);
        state.session_store.revoke(&token, clock::now_ms()).await?;
        state.sessions.revoked(&token);
    }
    let cookie = LoginCookie::Session.clear(client.https);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}
