//! WeChat Official Account (服务号) protocol library.
//!
//! Framework-free building blocks for the login flow: callback signatures,
//! message encryption (WXBizMsgCrypt-compatible), pushed XML messages, the
//! HTTP API client and a shared access-token cache. The site's web server and
//! its WeChat sandbox are built on top of these; nothing here knows about
//! HTTP routing.

pub mod api;
pub mod callback;
pub mod crypto;
pub mod message;
pub mod signature;
pub mod token;

pub use api::{AccessToken, ApiError, Client, ClientConfig, Follower, OauthIdentity, QrTicket};
pub use callback::{
    CallbackError, CallbackQuery, CallbackVerifier, Echo, Inbound, PushMode, PushRequest, Stamp,
};
pub use crypto::{CryptoError, MessageCrypto};
pub use message::{Envelope, Message, MessageKind, ParseError};
pub use token::{
    MemoryTokenStore, StoreError, StoredToken, TokenCache, TokenError, TokenFetcher, TokenStore,
};
