//! WeChat's HTTP API: access tokens and parametric QR codes.

mod client;
mod config;
mod error;
mod types;

pub use client::{Client, MAX_SCENE_CHARS};
pub use config::{ClientConfig, TokenEndpoint, DEFAULT_BASE_URL, DEFAULT_TIMEOUT};
pub use error::{describe_errcode, ApiError};
pub use types::{AccessToken, QrTicket};
