//! Cookies: the session (who is logged in) and the login binding (which
//! browser started an attempt). Both hold secrets whose hash alone is stored.

use std::time::Duration;

use app::auth::{RequestUser, User};
use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue},
    middleware::Next,
    response::Response,
};

use super::{secrets, store};
use crate::{clock, state::AppState};

pub const SESSION_COOKIE: &str = "session";
pub const BINDING_COOKIE: &str = "login_binding";
/// The binding cookie is only sent to the login routes.
pub const BINDING_PATH: &str = "/api/login";

/// A cookie's value from the request, if it is there and has the shape of
/// one of our secrets.
pub fn secret_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| secrets::is_secret(value))
}

pub struct CookieSpec<'a> {
    pub name: &'a str,
    pub value: &'a str,
    pub path: &'a str,
    /// `None`: gone when the browser closes.
    pub max_age: Option<Duration>,
    pub same_site: &'a str,
    pub secure: bool,
}

pub fn set_cookie(spec: &CookieSpec) -> HeaderValue {
    let mut cookie = format!(
        "{}={}; Path={}; HttpOnly; SameSite={}",
        spec.name, spec.value, spec.path, spec.same_site
    );
    if let Some(age) = spec.max_age {
        cookie.push_str(&format!("; Max-Age={}", age.as_secs()));
    }
    if spec.secure {
        cookie.push_str("; Secure");
    }
    // Names, paths and secrets are ASCII without separators.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub fn clear_cookie(name: &str, path: &str, secure: bool) -> HeaderValue {
    set_cookie(&CookieSpec {
        name,
        value: "",
        path,
        max_age: Some(Duration::ZERO),
        same_site: "Lax",
        secure,
    })
}

/// The user the request's session cookie belongs to.
pub async fn user_of(state: &AppState, headers: &HeaderMap) -> Option<User> {
    let token = secret_cookie(headers, SESSION_COOKIE)?;
    match store::session_user(&state.db, &secrets::hash(token), clock::now_ms()).await {
        Ok(user) => user,
        Err(err) => {
            tracing::error!(error = %err, "cannot look up a session; treating the request as logged out");
            None
        }
    }
}

/// Puts the request's user into its extensions, where `app::auth` (the
/// `AuthUser` extractor, the pages' `CurrentUser`) finds it.
pub async fn attach_user(state: &AppState, request: &mut Request) {
    let user = user_of(state, request.headers()).await;
    request.extensions_mut().insert(RequestUser(user));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_well_formed_cookie_among_others() {
        let secret = secrets::new_secret();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            format!("theme=dark; session={secret}; x=1")
                .parse()
                .unwrap(),
        );
        assert_eq!(
            secret_cookie(&headers, SESSION_COOKIE),
            Some(secret.as_str())
        );
        assert_eq!(secret_cookie(&headers, BINDING_COOKIE), None);
    }

    #[test]
    fn ignores_malformed_values() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "session=not-a-secret".parse().unwrap());
        assert_eq!(secret_cookie(&headers, SESSION_COOKIE), None);
    }

    #[test]
    fn cookies_have_the_contracts_flags() {
        let value = set_cookie(&CookieSpec {
            name: SESSION_COOKIE,
            value: "abc",
            path: "/",
            max_age: Some(Duration::from_secs(60)),
            same_site: "Lax",
            secure: true,
        });
        assert_eq!(
            value,
            "session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
        let cleared = clear_cookie(SESSION_COOKIE, "/", false);
        assert_eq!(
            cleared,
            "session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        );
    }
}
