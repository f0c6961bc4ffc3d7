//! Logs and request ids.
//!
//! Log lines go to stderr, filtered by `RUST_LOG` (default `info`), as
//! readable text or, with `LOG_FORMAT=json`, as one JSON object per line for
//! a log collector. Every routed request gets an id and one line when it is
//! answered: method, route (the pattern, e.g. `/api/login/{id}`, so no
//! visitor's data lands in the log), status, latency and the id. Static files
//! are answered before routing and are not logged.
//!
//! The id is always made here and sent back as `x-request-id`; error
//! answers quote it as their reference, so a visitor's "参考编号" finds the
//! log lines of that request. An `X-Request-Id` a client sends is not taken
//! as ours: anyone could send the id of someone else's request, or a line
//! break. Behind the site's own proxy (`TRUST_PROXY_HEADERS=1`) the proxy's
//! id, when well-formed, is logged beside ours as `proxy_id`, to join the
//! two logs.

use std::{fmt, io::IsTerminal, sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::{FromRequestParts, MatchedPath, Request, State},
    http::{request::Parts, HeaderName, HeaderValue, Response},
    middleware::Next,
};
use rand::Rng;
use tower_http::{
    classify::{ServerErrorsAsFailures, SharedClassifier},
    trace::{MakeSpan, OnResponse, TraceLayer},
};
use tracing::{field::Empty, Span};
use tracing_subscriber::{fmt as log_fmt, EnvFilter};

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = log_fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours for a terminal only, not for journald or a file.
        .with_ansi(std::io::stderr().is_terminal());
    // A second init (tests start several servers in one process) is harmless.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of one request: in its extensions, its log lines, the
/// `x-request-id` response header, and the reference of error answers.
///
/// Ten characters from a 31-letter alphabet without look-alikes (no 0/o,
/// 1/l/i), so a visitor can read it out; ~49 bits, unique enough to find
/// one request in the logs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(Arc<str>);

tokio::task_local! {
    static CURRENT: RequestId;
}

const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
const ID_LEN: usize = 10;

impl RequestId {
    pub fn new() -> Self {
        let mut rng = rand::rng();
        let id: String = (0..ID_LEN)
            .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
            .collect();
        Self(id.into())
    }

    /// The id of the request this task is answering, for code that has no
    /// request at hand (an error's `IntoResponse`). `None` outside a request
    /// and in tasks the handler spawned.
    pub fn current() -> Option<Self> {
        CURRENT.try_with(Clone::clone).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The reference an error answer shows the visitor, to quote to the site's
/// owner: the request id, which every log line of the request carries (the
/// access line, the error's details). Outside a request (unit tests,
/// background tasks), a fresh id.
pub fn error_reference() -> String {
    RequestId::current().unwrap_or_default().as_str().to_owned()
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Handlers may take the id as an argument: `RequestId` extracts the id the
/// middleware gave the request (a new one if it did not run).
impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_default())
    }
}

/// The id a trusted proxy gave the request, logged beside ours.
#[derive(Clone, Debug)]
struct ProxyRequestId(String);

/// Middleware: gives the request its id (extensions, task-local for
/// [`RequestId::current`]) and sends it back as `x-request-id`.
/// The state says whether proxy headers are trusted.
pub async fn request_id(
    State(trust_proxy): State<bool>,
    mut request: Request,
    next: Next,
) -> Response<Body> {
    let id = RequestId::new();
    let proxy_id = trust_proxy
        .then(|| request.headers().get(&REQUEST_ID_HEADER))
        .flatten()
        .and_then(|value| value.to_str().ok())
        .filter(|value| well_formed(value))
        .map(|value| ProxyRequestId(value.to_owned()));
    request.extensions_mut().insert(id.clone());
    if let Some(proxy_id) = proxy_id {
        request.extensions_mut().insert(proxy_id);
    }
    let header = HeaderValue::from_str(id.as_str()).ok();
    let mut response = CURRENT.scope(id, next.run(request)).await;
    if let Some(header) = header {
        response.headers_mut().insert(REQUEST_ID_HEADER, header);
    }
    response
}

/// Ids proxies make (nginx `$request_id`, UUIDs, Cloudflare ray ids): up to
/// 64 letters, digits, `-`, `_`, `.`, `:`.
fn well_formed(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// One line per answered request (inside [`request_id`], so the id is known).
pub fn request_log(
) -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpan, (), RequestLine, (), (), ()>
{
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(())
        .on_response(RequestLine)
        .on_body_chunk(())
        .on_eos(())
        // The answer's own line carries the status; a second line for a
        // 5xx would say nothing more.
        .on_failure(())
}

/// The span every log line of a request carries: `request{method route id}`.
#[derive(Clone, Copy, Debug)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("(no route)", MatchedPath::as_str);
        let id = request.extensions().get::<RequestId>();
        let span = tracing::info_span!(
            "request",
            method = %request.method(),
            route,
            id = id.map_or("-", RequestId::as_str),
            proxy_id = Empty,
        );
        if let Some(ProxyRequestId(proxy_id)) = request.extensions().get::<ProxyRequestId>() {
            span.record("proxy_id", proxy_id.as_str());
        }
        span
    }
}

/// The request's line: status and latency (to the response head; an event
/// stream goes on after it).
#[derive(Clone, Copy, Debug)]
pub struct RequestLine;

impl<B> OnResponse<B> for RequestLine {
    fn on_response(self, response: &Response<B>, latency: Duration, _span: &Span) {
        let status = response.status().as_u16();
        // Hundredths of a millisecond are plenty, and short in the line.
        let latency_ms = (latency.as_secs_f64() * 100_000.0).round() / 100.0;
        if response.status().is_server_error() {
            tracing::warn!(status, latency_ms, "answered");
        } else {
            tracing::info!(status, latency_ms, "answered");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_readable_and_distinct() {
        let ids: std::collections::HashSet<String> =
            (0..1000).map(|_| RequestId::new().to_string()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            assert_eq!(id.len(), ID_LEN);
            assert!(id.bytes().all(|b| ALPHABET.contains(&b)), "{id}");
        }
    }

    #[test]
    fn only_plain_proxy_ids_are_kept() {
        assert!(well_formed("5f0e3c9a7b2d4e1f8a6b3c2d1e0f9a8b"));
        assert!(well_formed("8c1f2a3b4c5d6e7f-SJC"));
        for hostile in ["", "a b", "id\nINFO forged line", &"x".repeat(65), "名字"] {
            assert!(!well_formed(hostile), "{hostile:?}");
        }
    }

    #[tokio::test]
    async fn the_current_id_is_known_inside_the_request_only() {
        assert_eq!(RequestId::current(), None);
        let id = RequestId::new();
        let seen = CURRENT
            .scope(id.clone(), async { RequestId::current() })
            .await;
        assert_eq!(seen, Some(id));
    }
}
