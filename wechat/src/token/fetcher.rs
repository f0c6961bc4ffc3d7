use std::future::Future;

use crate::api::{AccessToken, ApiError, Client, TokenEndpoint};

/// Something that obtains a fresh access token from WeChat. A trait so that
/// tests can count fetches.
pub trait TokenFetcher: Send + Sync + 'static {
    /// `force_refresh` asks for a new token even though WeChat's current one
    /// is unexpired: rationed by WeChat, used only when WeChat refused the
    /// token it handed out as current (see `TokenCache::call`).
    fn fetch(
        &self,
        force_refresh: bool,
    ) -> impl Future<Output = Result<AccessToken, ApiError>> + Send;
}

impl TokenFetcher for Client {
    async fn fetch(&self, force_refresh: bool) -> Result<AccessToken, ApiError> {
        match self.token_endpoint() {
            TokenEndpoint::Stable => self.fetch_stable_token(force_refresh).await,
            // cgi-bin/token always issues a new token.
            TokenEndpoint::Classic => self.fetch_token().await,
        }
    }
}
