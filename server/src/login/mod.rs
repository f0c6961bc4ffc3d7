//! The WeChat QR login, server side. The browser side is the
//! `wechat_login` module of the app; the JSON between them is
//! `app::modules::wechat_login::protocol`.

mod api;
mod callback;
pub mod cleanup;
mod client;
mod cookies;
mod error;
pub mod hub;
pub mod inbox;
mod names;
mod qr;
pub mod rate_limit;
mod refusals;
mod replies;
mod secrets;
mod session;
pub mod store;
pub mod streams;
pub mod writer;
pub mod writes;

use axum::Router;

pub use session::{attach_user, resolve_user};

use crate::state::AppState;

/// The browser routes (which need the session layer) and the WeChat callback.
pub fn browser_routes() -> Router<AppState> {
    api::routes()
}

/// The login event stream: a browser route that stays open.
pub fn stream_routes() -> Router<AppState> {
    api::stream_routes()
}

pub fn wechat_routes() -> Router<AppState> {
    callback::routes()
}
