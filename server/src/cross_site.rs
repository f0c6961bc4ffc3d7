//! Refuses state-changing requests that another site's page makes a
//! visitor's browser send (cross-site request forgery: a foreign page that
//! resets a visitor's login or logs him out).
//!
//! The rule is the one of Go's `http.CrossOriginProtection`:
//! - GET, HEAD and OPTIONS change nothing here and always pass;
//! - a browser says where a request comes from in `Sec-Fetch-Site`: only
//!   `same-origin` and `none` (typed or bookmarked by the visitor) pass;
//! - browsers too old for `Sec-Fetch-Site` still send `Origin` with a
//!   cross-origin POST: it must name this host (the `Host` header);
//! - a request with neither header is not from a browser page (curl, the
//!   site's own WeChat client, a test) and passes: forging it needs no
//!   victim's browser, so there is nothing to protect.
//!
//! The WeChat callback is not behind this layer: WeChat's servers are
//! another site by definition.

use app::modules::wechat_login::protocol::ErrorBody;
use axum::{
    extract::Request,
    http::{header, HeaderMap, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};

/// Middleware: refuses a cross-site state-changing request with 403.
pub async fn refuse_cross_site(request: Request, next: Next) -> Response {
    if is_cross_site(request.method(), request.headers()) {
        tracing::info!(
            method = %request.method(),
            path = request.uri().path(),
            "refused a cross-site request"
        );
        return (
            StatusCode::FORBIDDEN,
            Json(ErrorBody {
                error: "cross_site".into(),
                message: "这个请求来自其他网站，已被拒绝。请直接在本站操作。".into(),
                reference: None,
                retry_after: None,
            }),
        )
            .into_response();
    }
    next.run(request).await
}

/// Whether the request is a state-changing one that another site made.
pub fn is_cross_site(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, host)| host);
    match (origin_host, host) {
        (Some(origin_host), Some(host)) => !origin_host.eq_ignore_ascii_case(host),
        // "Origin: null" (sandboxed frames, some redirects), or no Host.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn browsers_say_where_a_request_comes_from() {
        let post = Method::POST;
        for site in ["cross-site", "same-site", "anything-else"] {
            let h = headers(&[("sec-fetch-site", site), ("host", "wensi.example")]);
            assert!(is_cross_site(&post, &h), "{site}");
        }
        for site in ["same-origin", "none"] {
            // Sec-Fetch-Site wins over an Origin a proxy may have mangled.
            let h = headers(&[
                ("sec-fetch-site", site),
                ("origin", "https://wensi.example"),
                ("host", "127.0.0.1:3000"),
            ]);
            assert!(!is_cross_site(&post, &h), "{site}");
        }
    }

    #[test]
    fn older_browsers_are_judged_by_origin() {
        let post = Method::POST;
        let ours = headers(&[
            ("origin", "https://wensi.example"),
            ("host", "wensi.example"),
        ]);
        assert!(!is_cross_site(&post, &ours));
        let with_port = headers(&[
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000"),
        ]);
        assert!(!is_cross_site(&post, &with_port));
        for origin in [
            "https://evil.example",
            "https://wensi.example.evil.example",
            "null",
        ] {
            let h = headers(&[("origin", origin), ("host", "wensi.example")]);
            assert!(is_cross_site(&post, &h), "{origin}");
        }
    }

    #[test]
    fn safe_methods_and_non_browsers_pass() {
        let cross = headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ]);
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(!is_cross_site(&method, &cross), "{method}");
        }
        assert!(!is_cross_site(
            &Method::POST,
            &headers(&[("host", "wensi.example")])
        ));
        assert!(is_cross_site(&Method::DELETE, &cross));
        assert!(is_cross_site(&Method::PUT, &cross));
    }
}
