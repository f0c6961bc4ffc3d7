//! The site's Leptos application, shared by the server (`ssr`) and the
//! browser (`hydrate`).

mod app;
pub mod assets;
pub mod auth;
pub mod modules;
mod render_once;
mod sandbox;
pub mod theme;

pub use app::{shell, App, RequestPanicked, Shell};
