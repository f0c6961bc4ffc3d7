//! The WeChat QR login, server side. The browser side is the app's
//! `wechat_login` module (`app/src/modules/wechat_login/`): the same name on
//! both sides, the theme's module type too. The JSON between them is
//! `app::modules::wechat_login::protocol`; an attempt's status, with the
//! changes it may go through, is `app::modules::wechat_login::status`.
//!
//! The files one login passes through, in order (the README has the same
//! map in Chinese):
//!
//! 1. `api` `POST /api/login/start`: `rate_limit` (per address and site
//!    wide), `cookies` (the binding cookie), `secrets` (the attempt id), the
//!    attempt stored through `writer` (`attempt`, `attempt_sql`), the
//!    QR code asked of WeChat through `wechat_link` (its access token kept
//!    by `token_store`) and drawn by `qr`.
//! 2. `events` `GET /api/login/{id}/events`: the browser follows its attempt;
//!    `streams` limits the open streams, `hub` wakes it when the attempt
//!    changes.
//! 3. `callback` `POST /wechat/callback`: WeChat pushes the scan, verified by
//!    the `wechat` crate; `writer` hands it as a job to the site's database
//!    writer (`crate::db_writer`, shared with the writing module), which
//!    commits it with the writes that came with it (group commit); `push`
//!    decides what it means (`push_sql` records it once, `user_sql` finds or
//!    creates the user, `attempt_sql` records the scan, `replies` words the
//!    answer in WeChat); after the commit `hub` tells the waiting browser.
//! 4. `api` `POST /api/login/{id}/complete`: the browser that started the
//!    attempt redeems it once (`writer`: `attempt_sql`, `user_sql`
//!    create the session) and gets the session cookie (`cookies`).
//! 5. Every later request: `session` finds the user of the session cookie
//!    for pages and handlers (`app::auth`).
//!
//! Inside WeChat, with `LOGIN_WECHAT_OAUTH`, `oauth` offers 微信一键登录
//! (网页授权 `snsapi_base`): WeChat's authorize page vouches for the
//! visitor, and the attempt goes from pending to consumed in one write.
//!
//! Beside the flow: `error` (the one error type of the routes), `client`
//! (who is asking), `cleanup` (stale rows, in chunks through the same
//! writer), `refusals` (rationed logging of refused callbacks), `names`
//! (display names of new users).
//!
//! Why the browser's calls are hand-written routes and not Leptos server
//! functions (which new modules use, e.g. the writing module): the login's
//! paths are stable (`docs/login-contract.md`) and one of them,
//! `/api/login/{id}/complete`, carries the attempt id in the path, which a
//! server function's fixed path cannot; `/api/login/{id}` and the event
//! stream must stay hand-written for the same reason; `logout` answers 204
//! without a body and `start` a `Retry-After` header, which a server
//! function only gets through extra code; and the browser would keep its
//! `fetch` code for the other calls, so nothing would get smaller.

mod api;
mod attempt;
mod attempt_sql;
mod callback;
pub mod cleanup;
mod client;
mod completion;
mod cookies;
mod error;
mod events;
pub mod hub;
mod login_tx;
mod names;
mod oauth;
pub mod push;
mod push_sql;
pub mod qr;
pub mod rate_limit;
mod refusals;
mod replies;
mod secrets;
mod session;
pub mod session_cache;
pub mod store;
pub mod streams;
pub mod token_store;
mod user_sql;
pub mod wechat_link;
pub mod writer;

use axum::Router;

pub use session::{attach_user, resolve_user};

use crate::state::AppState;

/// The browser routes (which need the session layer).
pub fn browser_routes() -> Router<AppState> {
    api::routes().merge(oauth::routes())
}

/// The login event stream: a browser route that stays open.
pub fn stream_routes() -> Router<AppState> {
    api::stream_routes()
}

/// The WeChat callback.
pub fn wechat_routes() -> Router<AppState> {
    callback::routes()
}
