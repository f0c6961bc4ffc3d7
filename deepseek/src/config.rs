use std::time::Duration;

use secrecy::SecretString;

use crate::retry::RetryPolicy;

/// DeepSeek's OpenAI-format base URL (no `/v1`: DeepSeek serves both).
pub const DEFAULT_BASE_URL: &str = "https://api.deepseek.com";

/// The model DeepSeek's pricing page says to use (November 2026):
/// `deepseek-flash` (DeepSeek-V4.1-Flash). The older names
/// `deepseek-v4-flash`, `deepseek-chat` and `deepseek-reasoner` are legacy
/// aliases. See README.md, "Models".
pub const DEFAULT_MODEL: &str = "deepseek-flash";

/// A hung TCP or TLS handshake; DeepSeek's edge answers in well under a second.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// While busy, DeepSeek holds a request open with keep-alives and closes it
/// itself if inference has not started after 10 minutes (its Rate Limit
/// page). Five minutes is as long as a visitor watching a page should wait.
pub const DEFAULT_FIRST_TOKEN_TIMEOUT: Duration = Duration::from_secs(300);

/// Once text flows, DeepSeek sends tokens many times a second; a minute of
/// silence means the answer is stuck.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Balance and model list: small answers.
pub const DEFAULT_SHORT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach DeepSeek. `Debug` shows no key (`SecretString` redacts
/// itself).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Without trailing slash, e.g. `https://api.deepseek.com`; the sandbox
    /// is `{site}/sandbox/deepseek`.
    pub base_url: String,
    pub api_key: SecretString,
    /// Used when a request names no model.
    pub model: String,
    pub connect_timeout: Duration,
    /// From sending a request to its first token (reasoning or answer),
    /// retries included. Keep-alives do not reset it.
    pub first_token_timeout: Duration,
    /// Between two chunks once text has started.
    pub idle_timeout: Duration,
    /// Whole calls to `/user/balance` and `/models`.
    pub short_call_timeout: Duration,
    pub retry: RetryPolicy,
}

impl ClientConfig {
    /// The real API, default model and timeouts.
    pub fn new(api_key: SecretString) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key,
            model: DEFAULT_MODEL.to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            first_token_timeout: DEFAULT_FIRST_TOKEN_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            short_call_timeout: DEFAULT_SHORT_CALL_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }

    /// The same, at another address (a proxy, the sandbox, a test mock).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }
}
