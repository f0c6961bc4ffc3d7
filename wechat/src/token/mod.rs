//! The access-token cache: one token for every process, refreshed before
//! expiry, fetched once however many callers ask at the same time.

mod cache;
mod error;
mod fetcher;
mod store;

pub use cache::{TokenCache, DEFAULT_MARGIN};
pub use error::TokenError;
pub use fetcher::TokenFetcher;
pub use store::{Exclusive, MemoryTokenStore, StoreError, StoredToken, TokenStore};
