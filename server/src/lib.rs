//! The site's server: configuration, database, static files, pages, and the
//! routes of each area (the login, the writing module, the sandboxes),
//! assembled in `startup`.

pub mod backup;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cross_site;
pub mod db;
pub mod db_writer;
pub mod deepseek_sandbox;
pub mod doctor;
pub mod embedded;
pub mod error_page;
pub mod health;
pub mod move_to_postgres;
pub mod notify;
pub mod ops;
pub mod page_cache;
pub mod sandbox;
pub mod security_headers;
pub mod serve;
pub mod sqlite_reads;
pub mod sse;
pub mod startup;
pub mod state;
pub mod static_files;
pub mod telemetry;
pub mod watch_map;
pub mod wechat_login;
pub mod writing;
