//! What the writing views need while the server renders them: the
//! visitor, the service, and pages that are private to the visitor.

use std::sync::Arc;

use super::service::{use_writing_service, WritingService};
use crate::auth::{use_current_user, User};

/// The logged-in visitor of this page and the writing service, if there
/// are both. A page with a visitor's articles must not be kept by any cache
/// (the page cache already skips requests with a cookie; this tells the
/// browser and proxies too).
pub fn visitor() -> Option<User> {
    let user = use_current_user().get_untracked()?;
    private();
    Some(user)
}

/// The service, or why not (`NotConfigured`).
pub fn service() -> Result<Arc<dyn WritingService>, super::protocol::WritingError> {
    use_writing_service()
}

/// `Cache-Control: no-store` on this page.
pub fn private() {
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        response.insert_header(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
    }
}

/// The page's HTTP status (e.g. 404 for an article that is not the
/// visitor's).
pub fn set_status(status: u16) {
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(status) = axum::http::StatusCode::from_u16(status) {
            response.set_status(status);
        }
    }
}
