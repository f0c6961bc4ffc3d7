//! WeChat's HTTP API: access tokens, parametric QR codes, 网页授权
//! (`snsapi_base`) codes and whether a user follows the account.

mod client;
mod config;
mod error;
mod types;

pub use client::{Client, MAX_SCENE_CHARS};
pub use config::{ClientConfig, TokenEndpoint, DEFAULT_BASE_URL, DEFAULT_TIMEOUT};
pub use error::{describe_errcode, ApiError};
pub use types::{AccessToken, Follower, OauthIdentity, QrTicket};
