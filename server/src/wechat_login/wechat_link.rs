//! The site's connection to WeChat: the API client, the access token shared
//! through the database, and the verifier of pushed callbacks.

use std::{net::SocketAddr, time::Duration};

use secrecy::ExposeSecret;
use wechat::{
    api::ClientConfig, ApiError, CallbackVerifier, Client, Follower, MessageCrypto, OauthIdentity,
    QrTicket, TokenCache,
};

use super::token_store::DbTokenStore;
use crate::{config::WechatConfig, db::Database};

/// Refresh the access token this long before WeChat expires it.
const TOKEN_MARGIN: Duration = Duration::from_secs(300);

pub struct WechatLink {
    tokens: TokenCache<DbTokenStore, Client>,
    /// Checks (and in safe mode decrypts) pushes; holds the EncodingAESKey.
    pub verifier: CallbackVerifier,
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("WECHAT_ENCODING_AES_KEY is not a valid EncodingAESKey")]
    AesKey,
    #[error("cannot build the WeChat API client: {0}")]
    Client(ApiError),
}

impl WechatLink {
    /// `address` is where this server listens: in sandbox mode the API is
    /// the site's own `/sandbox/wechat`.
    pub fn new(
        config: &WechatConfig,
        address: SocketAddr,
        db: Database,
    ) -> Result<Self, LinkError> {
        let base_url = match &config.api_base {
            Some(base) => base.clone(),
            None => format!("{}/sandbox/wechat", local_url(address)),
        };
        let crypto = config
            .encoding_aes_key
            .as_ref()
            .map(|key| MessageCrypto::new(key.expose_secret(), &config.appid))
            .transpose()
            .map_err(|_| LinkError::AesKey)?;
        let client = Client::new(ClientConfig {
            base_url,
            ..ClientConfig::new(config.appid.clone(), config.secret.clone())
        })
        .map_err(LinkError::Client)?;
        Ok(Self {
            tokens: TokenCache::new(
                client,
                DbTokenStore::new(db, config.appid.clone()),
                TOKEN_MARGIN,
            ),
            verifier: CallbackVerifier::new(config.token.clone(), crypto),
        })
    }

    /// A temporary QR code whose scene is `scene` (QR_STR_SCENE).
    pub async fn create_qr(&self, scene: &str, expire_seconds: u32) -> Result<QrTicket, ApiError> {
        let client = self.tokens.fetcher();
        self.tokens
            .call(|token| async move {
                client
                    .create_qr(token.expose_secret(), scene, expire_seconds)
                    .await
            })
            .await
            .map_err(|err| err.api().clone())
    }

    /// The openid behind a 网页授权 `code` (used once by WeChat).
    pub async fn oauth_identity(&self, code: &str) -> Result<OauthIdentity, ApiError> {
        self.tokens.fetcher().oauth_identity(code).await
    }

    /// Whether `openid` follows the account.
    pub async fn follower(&self, openid: &str) -> Result<Follower, ApiError> {
        let client = self.tokens.fetcher();
        self.tokens
            .call(|token| async move { client.follower(token.expose_secret(), openid).await })
            .await
            .map_err(|err| err.api().clone())
    }

    /// The account's appid (WeChat's authorize URL names it).
    pub fn appid(&self) -> &str {
        self.tokens.fetcher().appid()
    }
}

/// The http:// URL this server answers on from the same machine.
pub fn local_url(address: SocketAddr) -> String {
    let host = match address {
        SocketAddr::V4(v4) if v4.ip().is_unspecified() => format!("127.0.0.1:{}", v4.port()),
        SocketAddr::V6(v6) if v6.ip().is_unspecified() => format!("[::1]:{}", v6.port()),
        other => other.to_string(),
    };
    format!("http://{host}")
}
