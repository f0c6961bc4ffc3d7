//! The writing module: a visitor describes an article, DeepSeek writes it
//! into the page, and the article is kept, edited and taken away. Its two
//! views are the `writer` module (`/write`) and the `article_list` module
//! (`/articles`); what they share is here:
//!
//! - `protocol`: the data of its calls and of its event stream;
//! - `api`: its calls (server functions at `/api/writing/*`);
//! - `service` (server only): what the server implements for them;
//! - `markdown`: the article as safe HTML, for the page and for the 公众号;
//! - `confirm`: the keyboard-friendly "are you sure" dialog;
//! - `status`: a generation's status in words;
//! - `page` (server only): who is asking and what the service says, for
//!   the views' server render.
//!
//! Design notes: `docs/writing.md`.

pub mod api;
pub mod confirm;
#[cfg(all(test, feature = "ssr"))]
pub mod fake;
pub mod markdown;
#[cfg(feature = "ssr")]
pub mod page;
pub mod protocol;
#[cfg(feature = "ssr")]
pub mod service;
pub mod status;
