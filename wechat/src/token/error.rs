use thiserror::Error;

use crate::api::ApiError;

/// Why no access token (or no result of a call made with one) could be had.
/// Storage trouble is not here: it is logged and worked around, because a
/// storage outage must not stop logins nor burn WeChat's token quota.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TokenError {
    #[error("WeChat API: {0}")]
    Api(#[from] ApiError),
}

impl TokenError {
    /// The underlying API error.
    pub fn api(&self) -> &ApiError {
        match self {
            Self::Api(e) => e,
        }
    }
}
