//! Who is logged in: the user of the request's session cookie, put where
//! pages and handlers find it.

use app::auth::{Admin, RequestUser, User};
use axum::{
    extract::{Request, State},
    http::HeaderMap,
    middleware::Next,
    response::Response,
};

use super::{client, cookies::LoginCookie, secrets, session_cache::CachedSession};
use crate::{clock, state::AppState};

/// The user the request's session cookie belongs to, with his openid:
/// from the session cache when it was seen within `SESSION_CACHE_SECONDS`,
/// else from the database. A session cookie sent twice counts as none (see
/// `cookies`).
pub async fn user_of(state: &AppState, headers: &HeaderMap) -> Option<(User, String)> {
    let https = client::is_https(headers, state.config.trust_proxy_headers);
    let token = match LoginCookie::Session.read(headers, https) {
        Ok(token) => token?,
        Err(_) => {
            tracing::info!("a request sent the session cookie twice; treating it as logged out");
            return None;
        }
    };
    let token_hash = secrets::hash(&token);
    let now = clock::now_ms();
    if let Some(user) = state.sessions.get(&token_hash, now) {
        return Some(user);
    }
    let before = state.sessions.revocations_so_far();
    match state.session_store.session_user(&token_hash, now).await {
        Ok(Some(found)) => {
            let session = CachedSession {
                user: found.user.clone(),
                openid: found.openid.clone(),
                expires_at: found.expires_at,
            };
            state.sessions.insert(token_hash, session, before);
            Some((found.user, found.openid))
        }
        Ok(None) => None,
        Err(err) => {
            tracing::error!(error = %err, "cannot look up a session; treating the request as logged out");
            None
        }
    }
}

/// Puts the request's user into its extensions, where `app::auth` (the
/// `AuthUser` extractor, the pages' `CurrentUser`) finds it, and marks the
/// request as an operator's when his openid is in `ADMIN_OPENIDS`.
pub async fn attach_user(state: &AppState, request: &mut Request) {
    let session = user_of(state, request.headers()).await;
    let extensions = request.extensions_mut();
    // Whatever came in, only this says who is an operator.
    extensions.remove::<Admin>();
    if let Some((_, openid)) = &session {
        if state.config.ops.is_admin(openid) {
            extensions.insert(Admin);
        }
    }
    extensions.insert(RequestUser(session.map(|(user, _)| user)));
}

/// Middleware form of [`attach_user`], for pages and API routes.
pub async fn resolve_user(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    attach_user(&state, &mut request).await;
    next.run(request).await
}
