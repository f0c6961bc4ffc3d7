//! Where the one shared access token lives, so every process uses it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};

use secrecy::{ExposeSecret, SecretString};
use thiserror::Error;

/// An access token with its absolute expiry.
#[derive(Debug, Clone)]
pub struct StoredToken {
    pub token: SecretString,
    pub expires_at_unix: i64,
}

/// A storage failure. Implementations must keep secrets out of the text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("token store: {0}")]
pub struct StoreError(pub String);

/// The work [`TokenStore::exclusive`] runs, and what it returns (boxed: a
/// plain `impl Future` there made every caller's future lose `Send` for
/// higher-ranked lifetimes, rust-lang/rust#100013).
pub type Exclusive<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Shared storage for the access token (the site keeps it in its database).
pub trait TokenStore: Send + Sync + 'static {
    fn load(&self) -> impl Future<Output = Result<Option<StoredToken>, StoreError>> + Send;
    fn save(&self, token: &StoredToken) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes the stored token only if it is still `token`: another process
    /// may already have saved a newer one, which must survive.
    fn clear_if(&self, token: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Runs `work` — read the stored token and, if it is not usable, fetch
    /// a new one from WeChat and save it — while no other holder of this
    /// store runs its own (another server process on the same database):
    /// the token is fetched by one process at a time, and the others, let
    /// through after it, find it saved. WeChat's token quota is small, and
    /// each fetch ends the token the others hold.
    ///
    /// The default holds no lock, which is right for a store only one
    /// process uses: [`super::TokenCache`] already lets one caller at a time
    /// through within a process.
    fn exclusive<'a, T: Send + 'a>(&'a self, work: Exclusive<'a, T>) -> Exclusive<'a, T> {
        work
    }
}

/// A process-local store, for tests and single-process setups.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    slot: Mutex<Option<StoredToken>>,
}

impl MemoryTokenStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with_slot<T>(&self, f: impl FnOnce(&mut Option<StoredToken>) -> T) -> T {
        // A panic elsewhere while holding the lock leaves a valid Option.
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut slot)
    }
}

impl TokenStore for MemoryTokenStore {
    async fn load(&self) -> Result<Option<StoredToken>, StoreError> {
        Ok(self.with_slot(|slot| slot.clone()))
    }

    async fn save(&self, token: &StoredToken) -> Result<(), StoreError> {
        self.with_slot(|slot| *slot = Some(token.clone()));
        Ok(())
    }

    async fn clear_if(&self, token: &str) -> Result<(), StoreError> {
        self.with_slot(|slot| {
            if slot
                .as_ref()
                .is_some_and(|stored| stored.token.expose_secret() == token)
            {
                *slot = None;
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(token: &str) -> StoredToken {
        StoredToken {
            token: SecretString::from(token),
            expires_at_unix: 1,
        }
    }

    #[tokio::test]
    async fn clear_if_only_removes_the_named_token() {
        let store = MemoryTokenStore::new();
        store.save(&stored("newer")).await.unwrap();
        store.clear_if("older").await.unwrap();
        let kept = store.load().await.unwrap().unwrap();
        assert_eq!(kept.token.expose_secret(), "newer");
        store.clear_if("newer").await.unwrap();
        assert!(store.load().await.unwrap().is_none());
    }
}
