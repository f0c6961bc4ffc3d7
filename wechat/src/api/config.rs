use std::time::Duration;

use secrecy::SecretString;

pub const DEFAULT_BASE_URL: &str = "https://api.weixin.qq.com";
/// WeChat answers in well under a second; 5 s bounds a hung connection
/// below the 5 s WeChat gives our callback, which may wait on a token.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach WeChat's API. `Debug` shows no secret (`SecretString`
/// redacts itself).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Without trailing slash, e.g. "https://api.weixin.qq.com"; the sandbox
    /// points this at itself.
    pub base_url: String,
    pub appid: String,
    pub secret: SecretString,
    /// Applied to connecting and to each whole call.
    pub timeout: Duration,
}

impl ClientConfig {
    /// The real API with the default timeout.
    pub fn new(appid: impl Into<String>, secret: SecretString) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            appid: appid.into(),
            secret,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Which endpoint hands out access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenEndpoint {
    /// `POST cgi-bin/stable_token`: does not invalidate tokens other
    /// holders still use. The default.
    #[default]
    Stable,
    /// `GET cgi-bin/token`: every fetch invalidates the previous token.
    Classic,
}
