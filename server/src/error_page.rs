//! A panic outside any module: the visitor gets the site's 500 page, inside
//! its header and footer, instead of a dropped connection.
//!
//! A module's own failures never get here (the module's frame shows a note in
//! its place, see `app::theme`). This catches the rest: a panic in a route
//! handler, a middleware or the page around the modules. It is
//! `tower-http`'s `CatchPanicLayer` in spirit, written as a middleware
//! because the page needs the request (who is logged in) and an async
//! render, which `CatchPanicLayer`'s handler has neither of.
//!
//! A panic after the response has started (in a streamed body) can only
//! end the connection; module frames keep page bodies from panicking.

use std::panic::AssertUnwindSafe;

use app::{shell, RequestPanicked};
use axum::{
    extract::{Request, State},
    http::{header, request::Parts, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use futures_util::FutureExt;
use leptos::prelude::provide_context;

use crate::{state::AppState, wechat_login};

/// Runs the request; if it panics, logs where and answers 500.
pub async fn catch_panics(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let saved = parts.clone();
    match AssertUnwindSafe(next.run(Request::from_parts(parts, body)))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(panic) => {
            tracing::error!(
                method = %saved.method,
                path = saved.uri.path(),
                panic = panic_text(&*panic),
                "request panicked"
            );
            answer(&state, saved).await
        }
    }
}

/// The 500 answer in the form the caller reads: the page for a browser,
/// the login API's JSON error for `/api/`, a bare status otherwise (WeChat's
/// pushes: it retries them).
async fn answer(state: &AppState, parts: Parts) -> Response {
    if parts.uri.path().starts_with("/api/") {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(app::modules::wechat_login::protocol::ErrorBody {
                error: "internal".into(),
                message: "服务器出错了，请稍后再试。".into(),
                reference: None,
                retry_after: None,
            }),
        )
            .into_response();
    }
    let wants_html = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if !wants_html {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    match AssertUnwindSafe(page(state, parts)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            // The page around the modules itself is broken: plain words.
            tracing::error!(panic = panic_text(&*panic), "the 500 page panicked");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                )],
                "服务器出错了，请稍后刷新页面再试。",
            )
                .into_response()
        }
    }
}

/// The site's 500 page, for the visitor who made `parts`.
async fn page(state: &AppState, parts: Parts) -> Response {
    let theme = state.theme.clone();
    let page_shell = state.shell.clone();
    let render = leptos_axum::render_app_to_stream_with_context(
        move || {
            provide_context(theme.clone());
            provide_context(RequestPanicked);
            crate::security_headers::page_policy();
        },
        move || shell(&page_shell),
    );
    let mut request = Request::from_parts(parts, axum::body::Body::empty());
    // The header shows who is logged in, as on every page.
    wechat_login::attach_user(state, &mut request).await;
    let mut response = render(request).await;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}
