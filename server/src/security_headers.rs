//! Security headers on every response, pages and API alike.
//!
//! Pages get a Content-Security-Policy whose scripts must carry the page's
//! nonce: Leptos makes one per render (leptos_axum provides it) and puts it
//! on the hydration script; [`page_policy`] writes the same nonce into the
//! page's header while it renders. WebAssembly needs `'wasm-unsafe-eval'`
//! (not `'unsafe-eval'`). Styles come from our stylesheet only.
//!
//! The page micro-cache (`page_cache`) keeps whole responses, header
//! included, so a cached page is served with the policy of its own nonce.
//! Anonymous visitors of the same second then share a nonce; that is sound
//! because what they share is the same bytes: a nonce is there to tell the
//! scripts the server wrote from markup someone injected, and nothing can
//! be injected into a finished response. Any other render gets a fresh one.
//!
//! Everything else (JSON, event streams, static files, errors) gets a policy
//! that allows nothing at all, and every response gets `nosniff`, a
//! referrer policy and the framing ban (`frame-ancestors 'none'`, plus
//! `X-Frame-Options: DENY` for browsers older than CSP 2), so the login
//! dialog can never be framed for clickjacking.

use axum::{
    extract::Request,
    http::{header, HeaderMap, HeaderValue},
    middleware::Next,
    response::Response,
};

/// For responses that are not pages.
const NOTHING_POLICY: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The policy of a page whose scripts carry `nonce`.
pub fn page_csp(nonce: &str, dev_reload: bool) -> String {
    // cargo-leptos' watch mode reloads the page through a web socket.
    let connect = if dev_reload {
        "'self' ws: wss:"
    } else {
        "'self'"
    };
    // `data:` images: the login QR for phones is a PNG in a `data:` URL
    // (wechat_login/qr.rs); an image cannot run script.
    format!(
        "default-src 'self'; \
         script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; \
         img-src 'self' data:; \
         connect-src {connect}; \
         object-src 'none'; \
         base-uri 'none'; \
         form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// Called while Leptos renders a page (in its context): puts the page's
/// policy, with this render's nonce, into the response.
pub fn page_policy() {
    use leptos::prelude::use_context;
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    // Read once: the environment is behind a lock, and this runs per page.
    static DEV_RELOAD: std::sync::LazyLock<bool> =
        std::sync::LazyLock::new(|| std::env::var_os("LEPTOS_WATCH").is_some());
    if let Ok(value) = HeaderValue::from_str(&page_csp(&nonce, *DEV_RELOAD)) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// Middleware (outermost): the headers every response gets, unless the
/// response set its own (a page's policy).
pub async fn apply(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    set_defaults(response.headers_mut());
    response
}

fn set_defaults(headers: &mut HeaderMap) {
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, NOTHING_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
    ] {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_policy_allows_only_its_own_scripts_and_no_framing() {
        let csp = page_csp("abc123", false);
        assert!(csp.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval';"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(csp.contains("object-src 'none'"));
        assert!(!csp.contains("unsafe-inline") && !csp.contains("'unsafe-eval'"));
        assert!(!csp.contains("ws:"));
        assert!(page_csp("abc123", true).contains("connect-src 'self' ws: wss:"));
    }

    #[test]
    fn defaults_fill_in_without_overriding() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'"),
        );
        set_defaults(&mut headers);
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            "default-src 'self'"
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        let mut empty = HeaderMap::new();
        set_defaults(&mut empty);
        assert_eq!(empty[header::CONTENT_SECURITY_POLICY], NOTHING_POLICY);
    }
}
