//! The writing module: a visitor describes an article, DeepSeek writes it
//! into the page, and the article is kept, edited and taken away.
//!
//! - `protocol`: the data of its calls and of its event stream;
//! - `api`: its calls (server functions at `/api/writing/*`);
//! - `service` (server only): what the server implements for them.
//!
//! Design notes: `docs/writing.md`.

pub mod api;
pub mod protocol;
#[cfg(feature = "ssr")]
pub mod service;
