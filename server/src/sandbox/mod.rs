//! The WeChat sandbox: a stand-in for WeChat, mounted at `/sandbox/wechat`
//! in sandbox mode only, so the whole site (and every test) runs the real QR
//! login flow with no WeChat account and no internet.
//!
//! - [`api`]: WeChat's HTTP API as the site's `wechat::Client` calls it
//!   (`cgi-bin/token`, `cgi-bin/stable_token`, `cgi-bin/qrcode/create`), plus
//!   `/q/{ticket}`, the URL inside every QR code.
//! - [`phone`]: a simulated phone, JSON under `/phone/api/`: scan a code,
//!   send a message, unfollow. Each action is pushed to the site's callback
//!   exactly as WeChat pushes it ([`event`], [`push`]).
//! - [`oauth`]: 网页授权 (`snsapi_base`): an authorize page where a
//!   simulated user allows, `sns/oauth2/access_token` and `cgi-bin/user/info`.
//! - [`faults`]: make the next calls of an API fail or stall, for tests of
//!   "WeChat is down".
//!
//! Everything lives in memory and is pruned as it ages.

mod api;
mod codes;
mod event;
mod faults;
mod oauth;
mod phone;
mod phone_error;
mod push;
mod random;
mod recognise;
mod tokens;
mod users;
mod wechat_error;

use std::{
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{SystemTime, UNIX_EPOCH},
};

use axum::Router;
use secrecy::{ExposeSecret, SecretString};
use wechat::MessageCrypto;

use self::{
    codes::CodeRegistry, faults::Faults, oauth::OauthCodes, push::Pusher, tokens::TokenRegistry,
    users::UserRegistry,
};

/// The sandbox account's id (`ToUserName` of every push), shaped like a real
/// 服务号's original id.
pub const ACCOUNT_ID: &str = "gh_sandbox00001";

/// Where the sandbox is mounted; the URLs it hands out point below it.
pub const MOUNT_PATH: &str = "/sandbox/wechat";

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

/// The sandbox's whole state. Each registry has its own lock, held only for
/// a few map operations and never across an `.await`.
pub struct Sandbox {
    appid: String,
    secret: SecretString,
    site_url: String,
    pusher: Pusher,
    tokens: Mutex<TokenRegistry>,
    codes: Mutex<CodeRegistry>,
    users: Mutex<UserRegistry>,
    oauth_codes: Mutex<OauthCodes>,
    faults: Mutex<Faults>,
}

impl Sandbox {
    pub fn new(config: SandboxConfig) -> Self {
        let crypto = config.encoding_aes_key.as_ref().and_then(|key| {
            MessageCrypto::new(key.expose_secret(), &config.appid)
                .inspect_err(|_| {
                    tracing::warn!("sandbox: the EncodingAESKey is unusable; pushes will be plain")
                })
                .ok()
        });
        Self {
            pusher: Pusher::new(config.callback_url, config.token, crypto),
            appid: config.appid,
            secret: config.secret,
            site_url: config.site_url.trim_end_matches('/').to_owned(),
            tokens: Mutex::default(),
            codes: Mutex::default(),
            users: Mutex::default(),
            oauth_codes: Mutex::default(),
            faults: Mutex::default(),
        }
    }

    /// Whether pushes can be encrypted (an EncodingAESKey is configured).
    pub fn encrypts(&self) -> bool {
        self.pusher.can_encrypt()
    }

    /// Forgets every injected fault (tests call this between cases).
    pub fn clear_faults(&self) {
        lock(&self.faults).clear();
    }
}

/// Routes relative to `/sandbox/wechat`.
pub fn routes<S: Clone + Send + Sync + 'static>(sandbox: Arc<Sandbox>) -> Router<S> {
    Router::new()
        .merge(api::routes())
        .merge(oauth::routes())
        .nest("/phone/api", phone::routes())
        .with_state(sandbox)
}

/// A poisoned lock only means a handler panicked mid-update; the maps inside
/// stay usable, and a sandbox should keep answering.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Milliseconds since the Unix epoch: the sandbox's one clock.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}
