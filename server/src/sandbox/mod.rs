//! The WeChat sandbox (filled in by the sandbox work): a mock of WeChat's API
//! and a simulated phone, mounted at `/sandbox/wechat` in sandbox mode only.

use std::sync::Arc;

use axum::Router;
use secrecy::SecretString;

/// What the sandbox must know to stand in for WeChat.
pub struct SandboxConfig {
    pub appid: String,
    pub secret: SecretString,
    pub token: SecretString,
    pub encoding_aes_key: Option<SecretString>,
    /// This server's own base URL, e.g. `http://127.0.0.1:3000`.
    pub site_url: String,
    /// Where the phone delivers pushes, normally `{site_url}/wechat/callback`.
    pub callback_url: String,
}

pub struct Sandbox {
    _config: SandboxConfig,
}

impl Sandbox {
    pub fn new(config: SandboxConfig) -> Self {
        Self { _config: config }
    }
}

/// Routes relative to `/sandbox/wechat`.
pub fn routes<S: Clone + Send + Sync + 'static>(_sandbox: Arc<Sandbox>) -> Router<S> {
    Router::new()
}
