//! A one-second cache of the theme pages as anonymous visitors see them.
//!
//! A theme page is data loaded at start-up, so every visitor without a
//! session gets the same HTML; rendering it anyway costs ~170 µs of CPU per
//! request (bench/README.md), against ~15 µs for a file from memory. So a
//! rendered page is kept for [`TTL`] and served to the anonymous requests of
//! that second: a module that shows something changing is at most a second
//! behind, and nothing per-visitor is ever shared.
//!
//! Only plain requests are served from the cache: `GET` of `/` or of a theme
//! page's `/{slug}`, without a query string and without any cookie or
//! credentials (a logged-in visitor always gets a fresh render, so does
//! anyone whose request may be personal). Only a plain answer is kept: `200`,
//! no `Set-Cookie`, no `Cache-Control: no-store / private / no-cache` (how a
//! module that must never be shared opts out).
//!
//! A kept page is served with the headers it was rendered with, its
//! Content-Security-Policy included: the nonce in the header is the one on
//! the page's scripts (see `security_headers` for why sharing it for a
//! second is sound).

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{header, HeaderMap, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// How long a rendered page is served again.
pub const TTL: Duration = Duration::from_secs(1);

/// Pages bigger than this are passed through, not kept.
const MAX_PAGE: usize = 2 * 1024 * 1024;

pub struct PageCache {
    /// The paths that may be cached: `/` and `/{slug}` of the theme pages.
    paths: HashSet<String>,
    entries: Mutex<HashMap<String, Arc<Entry>>>,
}

struct Entry {
    made: Instant,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl PageCache {
    /// For the theme pages named by `slugs` (`index` is `/`).
    pub fn new<'a>(slugs: impl IntoIterator<Item = &'a str>) -> Self {
        let paths = slugs
            .into_iter()
            .map(|slug| {
                if slug == "index" {
                    "/".to_owned()
                } else {
                    format!("/{slug}")
                }
            })
            .collect();
        Self {
            paths,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The path under which `request` may be answered from the cache.
    fn key(&self, request: &Request) -> Option<String> {
        let uri = request.uri();
        let headers = request.headers();
        let plain = request.method() == Method::GET
            && uri.query().is_none()
            && !headers.contains_key(header::COOKIE)
            && !headers.contains_key(header::AUTHORIZATION);
        (plain && self.paths.contains(uri.path())).then(|| uri.path().to_owned())
    }

    fn fresh(&self, key: &str) -> Option<Arc<Entry>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(key)
            .filter(|entry| entry.made.elapsed() < TTL)
            .cloned()
    }

    fn keep(&self, key: String, entry: Arc<Entry>) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.insert(key, entry);
    }
}

impl Entry {
    fn response(&self) -> Response {
        let mut response = Response::new(Body::from(self.body.clone()));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers.clone();
        response
    }
}

/// Whether a rendered answer may be shared with other anonymous visitors.
fn shareable(response: &Response) -> bool {
    let headers = response.headers();
    let private = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            let v = v.to_ascii_lowercase();
            v.contains("no-store") || v.contains("private") || v.contains("no-cache")
        });
    response.status() == StatusCode::OK && !headers.contains_key(header::SET_COOKIE) && !private
}

/// Middleware for the page routes.
pub async fn serve(State(cache): State<Arc<PageCache>>, request: Request, next: Next) -> Response {
    let Some(key) = cache.key(&request) else {
        return next.run(request).await;
    };
    if let Some(entry) = cache.fresh(&key) {
        return entry.response();
    }
    let response = next.run(request).await;
    if !shareable(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, MAX_PAGE).await {
        Ok(body) => body,
        Err(err) => {
            tracing::error!(error = %err, "cannot render a page");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    // The whole page is here: its length is known.
    parts.headers.remove(header::TRANSFER_ENCODING);
    parts.headers.remove(header::CONTENT_LENGTH);
    let entry = Arc::new(Entry {
        made: Instant::now(),
        status: parts.status,
        headers: parts.headers,
        body,
    });
    cache.keep(key, entry.clone());
    entry.response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{routing::get, Router};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::ServiceExt;

    fn app(renders: Arc<AtomicUsize>) -> Router {
        let cache = Arc::new(PageCache::new(["index", "about"]));
        let page = move || {
            let renders = renders.clone();
            async move {
                let n = renders.fetch_add(1, Ordering::SeqCst);
                format!("render {n}")
            }
        };
        Router::new()
            .route("/", get(page.clone()))
            .route("/about", get(page.clone()))
            .route("/other", get(page.clone()))
            .route(
                "/private",
                get(|| async { ([(header::CACHE_CONTROL, "private")], "mine") }),
            )
            .layer(axum::middleware::from_fn_with_state(cache, serve))
    }

    async fn get_text(app: &Router, uri: &str, cookie: Option<&str>) -> String {
        let mut request = Request::get(uri);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn anonymous_theme_pages_are_rendered_once_a_second() {
        let renders = Arc::new(AtomicUsize::new(0));
        let app = app(renders.clone());
        assert_eq!(get_text(&app, "/", None).await, "render 0");
        assert_eq!(get_text(&app, "/", None).await, "render 0");
        assert_eq!(get_text(&app, "/about", None).await, "render 1");
        assert_eq!(renders.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn personal_or_unknown_requests_are_always_rendered() {
        let renders = Arc::new(AtomicUsize::new(0));
        let app = app(renders.clone());
        get_text(&app, "/", None).await;
        assert_eq!(get_text(&app, "/", Some("session=x")).await, "render 1");
        assert_eq!(get_text(&app, "/?q=1", None).await, "render 2");
        assert_eq!(get_text(&app, "/other", None).await, "render 3");
        assert_eq!(get_text(&app, "/other", None).await, "render 4");
    }

    #[tokio::test]
    async fn answers_that_opt_out_are_not_kept() {
        let cache = PageCache::new(["private"]);
        let request = Request::get("/private").body(Body::empty()).unwrap();
        assert_eq!(cache.key(&request).as_deref(), Some("/private"));
        let response = ([(header::CACHE_CONTROL, "private")], "mine").into_response();
        assert!(!shareable(&response));
        let cookie = ([(header::SET_COOKIE, "a=b")], "x").into_response();
        assert!(!shareable(&cookie));
        assert!(shareable(&"ok".into_response()));
    }

    #[tokio::test]
    async fn entries_expire() {
        let cache = PageCache::new(["index"]);
        cache.keep(
            "/".into(),
            Arc::new(Entry {
                made: Instant::now() - TTL,
                status: StatusCode::OK,
                headers: HeaderMap::new(),
                body: Bytes::from_static(b"old"),
            }),
        );
        assert!(cache.fresh("/").is_none());
    }
}
