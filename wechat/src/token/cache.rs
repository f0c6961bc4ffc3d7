//! In-process cache in front of the shared [`TokenStore`].
//!
//! Order of lookup: memory, then the store, then WeChat. Fetches are
//! single-flight: callers queue on one async gate and re-check memory after
//! getting through, so a hundred concurrent callers cause one fetch, and a
//! failed fetch is reported to everyone who queued behind it instead of
//! being retried by each of them (WeChat's token quota is small).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretString};

use super::{StoredToken, TokenError, TokenFetcher, TokenStore};
use crate::api::{ApiError, Client};

/// Refresh this long before WeChat's expiry.
pub const DEFAULT_MARGIN: Duration = Duration::from_secs(300);

/// At most one forced refresh (`force_refresh=true`) per this interval per
/// process. WeChat allows them 30 s apart and about 20 a day.
pub const FORCED_REFRESH_EVERY: Duration = Duration::from_secs(60);

type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

struct Cached {
    token: SecretString,
    /// When to stop using it (expiry minus margin).
    refresh_at: i64,
}

/// State guarded by the fetch gate.
#[derive(Default)]
struct Gate {
    /// The last fetch failure and the round it happened in.
    last_failure: Option<(u64, ApiError)>,
}

/// Where [`TokenCache::stored_or_fetched`] found its token.
enum Obtained {
    /// Saved by any process, still usable.
    Stored(SecretString),
    /// Asked of WeChat (and saved), or WeChat's refusal.
    Fetched(Result<SecretString, ApiError>),
}

/// The access-token cache. `F` defaults to the real API [`Client`].
pub struct TokenCache<S: TokenStore, F: TokenFetcher = Client> {
    fetcher: F,
    store: S,
    margin_secs: i64,
    memory: Mutex<Option<Cached>>,
    /// The last token WeChat refused: never taken back from the store, even
    /// if clearing it there failed.
    refused: Mutex<Option<SecretString>>,
    /// When the last forced refresh was asked for (unix seconds).
    last_forced: Mutex<Option<i64>>,
    gate: tokio::sync::Mutex<Gate>,
    /// Completed fetch attempts, to tell a failure that happened while a
    /// caller was queued from an older one.
    rounds: AtomicU64,
    clock: Clock,
}

impl<S: TokenStore, F: TokenFetcher> TokenCache<S, F> {
    pub fn new(fetcher: F, store: S, margin: Duration) -> Self {
        Self {
            fetcher,
            store,
            margin_secs: i64::try_from(margin.as_secs()).unwrap_or(i64::MAX),
            memory: Mutex::new(None),
            refused: Mutex::new(None),
            last_forced: Mutex::new(None),
            gate: tokio::sync::Mutex::new(Gate::default()),
            rounds: AtomicU64::new(0),
            clock: Arc::new(unix_now),
        }
    }

    /// Replaces the wall clock (unix seconds), for tests.
    pub fn with_clock(mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn fetcher(&self) -> &F {
        &self.fetcher
    }

    /// A token valid for at least the margin.
    pub async fn get(&self) -> Result<SecretString, TokenError> {
        self.obtain(false).await
    }

    /// Forgets `failed` (a token WeChat refused): drops it from memory and
    /// from the store, but only where it is still the current token, so a
    /// newer token saved meanwhile survives.
    pub async fn invalidate(&self, failed: &SecretString) {
        {
            let mut memory = lock(&self.memory);
            if memory
                .as_ref()
                .is_some_and(|c| c.token.expose_secret() == failed.expose_secret())
            {
                *memory = None;
            }
        }
        *lock(&self.refused) = Some(failed.clone());
        if let Err(error) = self.store.clear_if(failed.expose_secret()).await {
            tracing::warn!(%error, "could not clear a refused WeChat access token from the store");
        }
    }

    /// Runs `f` with a token; if WeChat says the token is invalid or
    /// expired, invalidates it and retries once with a fresh one (see
    /// [`Self::replace_refused`]). The second failure, if any, is returned.
    pub async fn call<T, Op, Fut>(&self, f: Op) -> Result<T, TokenError>
    where
        Op: Fn(SecretString) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let token = self.get().await?;
        match f(token.clone()).await {
            Err(error) if error.is_invalid_token() => {
                tracing::info!(code = ?error.code(), "WeChat refused the access token; refreshing once");
                let fresh = self.replace_refused(&token, error).await?;
                Ok(f(fresh).await?)
            }
            other => Ok(other?),
        }
    }

    /// A token to use instead of `refused`. First an ordinary fetch
    /// (`force_refresh=false`): when another holder renewed the token, that
    /// hands out the current one at no cost. Only when WeChat hands back the
    /// very token it refused is a forced refresh asked for, and at most one
    /// per [`FORCED_REFRESH_EVERY`]: WeChat rations them (some 20 a day, 30 s
    /// apart) and each one invalidates the token every other holder uses.
    /// When the ration is spent, `refusal` is returned.
    async fn replace_refused(
        &self,
        refused: &SecretString,
        refusal: ApiError,
    ) -> Result<SecretString, TokenError> {
        self.invalidate(refused).await;
        let fresh = self.obtain(false).await?;
        if fresh.expose_secret() != refused.expose_secret() {
            return Ok(fresh);
        }
        let now = (self.clock)();
        {
            let mut last = lock(&self.last_forced);
            if last.is_some_and(|at| now - at < FORCED_REFRESH_EVERY.as_secs() as i64) {
                tracing::warn!(code = ?refusal.code(), "WeChat refused its own current access token; a forced refresh was made less than a minute ago, so none now");
                return Err(refusal.into());
            }
            *last = Some(now);
        }
        self.invalidate(&fresh).await;
        self.obtain(true).await
    }

    async fn obtain(&self, force_refresh: bool) -> Result<SecretString, TokenError> {
        if let Some(token) = self.fresh_in_memory() {
            return Ok(token);
        }
        let rounds_seen = self.rounds.load(Ordering::SeqCst);
        let mut gate = self.gate.lock().await;
        // Whoever held the gate before us may have done the work.
        if let Some(token) = self.fresh_in_memory() {
            return Ok(token);
        }
        if let Some((round, error)) = &gate.last_failure {
            if *round > rounds_seen {
                return Err(error.clone().into());
            }
        }
        // Across processes too, one at a time: the store's lock (the
        // database's) is held from reading the stored token to saving the
        // fetched one.
        let obtained = self
            .store
            .exclusive(Box::pin(self.stored_or_fetched(force_refresh)))
            .await;
        let result = match obtained {
            Obtained::Stored(token) => return Ok(token),
            Obtained::Fetched(result) => result,
        };
        let round = self.rounds.fetch_add(1, Ordering::SeqCst) + 1;
        match result {
            Ok(token) => {
                gate.last_failure = None;
                Ok(token)
            }
            Err(error) => {
                tracing::warn!(%error, "could not fetch a WeChat access token");
                gate.last_failure = Some((round, error.clone()));
                Err(error.into())
            }
        }
    }

    /// The stored token if usable, else one fetched from WeChat (and saved).
    async fn stored_or_fetched(&self, force_refresh: bool) -> Obtained {
        if let Some(token) = self.usable_stored_token().await {
            return Obtained::Stored(token);
        }
        match self.fetcher.fetch(force_refresh).await {
            Ok(fetched) => Obtained::Fetched(Ok(self
                .remember_fetched(fetched.token, fetched.expires_in)
                .await)),
            Err(error) => Obtained::Fetched(Err(error)),
        }
    }

    fn fresh_in_memory(&self) -> Option<SecretString> {
        let now = (self.clock)();
        lock(&self.memory)
            .as_ref()
            .filter(|c| now < c.refresh_at)
            .map(|c| c.token.clone())
    }

    /// A usable token saved by any process, unless it is the refused one.
    /// A storage failure is logged and treated as "nothing stored".
    async fn usable_stored_token(&self) -> Option<SecretString> {
        let stored = match self.store.load().await {
            Ok(stored) => stored?,
            Err(error) => {
                tracing::warn!(%error, "WeChat access-token store unavailable; using memory only");
                return None;
            }
        };
        let refused = lock(&self.refused)
            .as_ref()
            .is_some_and(|r| r.expose_secret() == stored.token.expose_secret());
        let refresh_at = stored.expires_at_unix.saturating_sub(self.margin_secs);
        if refused || refresh_at <= (self.clock)() {
            return None;
        }
        *lock(&self.memory) = Some(Cached {
            token: stored.token.clone(),
            refresh_at,
        });
        Some(stored.token)
    }

    async fn remember_fetched(&self, token: SecretString, expires_in: u64) -> SecretString {
        let now = (self.clock)();
        let lifetime = i64::try_from(expires_in).unwrap_or(i64::MAX);
        // A margin as long as the lifetime would make every token stale on
        // arrival and every call a fetch; never use more than half of it.
        let margin = self.margin_secs.min(lifetime / 2);
        let expires_at_unix = now.saturating_add(lifetime);
        *lock(&self.memory) = Some(Cached {
            token: token.clone(),
            refresh_at: expires_at_unix.saturating_sub(margin),
        });
        let stored = StoredToken {
            token: token.clone(),
            expires_at_unix,
        };
        if let Err(error) = self.store.save(&stored).await {
            tracing::warn!(%error, "could not save the WeChat access token; keeping it in memory");
        }
        token
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded values stay consistent even if a holder panicked.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
