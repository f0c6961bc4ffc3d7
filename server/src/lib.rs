//! The site's server: configuration, database, static files, pages, and the
//! routes of each area, assembled in `startup`.

pub mod clock;
pub mod config;
pub mod db;
pub mod error_page;
pub mod health;
pub mod login;
pub mod page_cache;
pub mod sandbox;
pub mod startup;
pub mod state;
pub mod static_files;
pub mod telemetry;
pub mod token_store;
pub mod wechat_link;
