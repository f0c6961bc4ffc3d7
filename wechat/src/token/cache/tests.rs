use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize};

use super::*;
use crate::api::AccessToken;
use crate::token::{MemoryTokenStore, StoreError};

/// Hands out "token-1", "token-2", … and counts the calls.
#[derive(Default)]
struct CountingFetcher {
    calls: AtomicUsize,
    forced: AtomicUsize,
    fail_with: Mutex<Option<ApiError>>,
    expires_in: AtomicU64,
}

impl CountingFetcher {
    fn new() -> Self {
        let fetcher = Self::default();
        fetcher.expires_in.store(7200, Ordering::SeqCst);
        fetcher
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl TokenFetcher for CountingFetcher {
    async fn fetch(&self, force_refresh: bool) -> Result<AccessToken, ApiError> {
        // Long enough for every concurrent caller to pile up on the gate.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if force_refresh {
            self.forced.fetch_add(1, Ordering::SeqCst);
        }
        if let Some(error) = lock(&self.fail_with).clone() {
            return Err(error);
        }
        Ok(AccessToken {
            token: SecretString::from(format!("token-{n}")),
            expires_in: self.expires_in.load(Ordering::SeqCst),
        })
    }
}

/// A store whose every operation fails, like a database that is down.
#[derive(Default)]
struct BrokenStore {
    down: AtomicBool,
}

impl TokenStore for BrokenStore {
    async fn load(&self) -> Result<Option<StoredToken>, StoreError> {
        Err(StoreError("database is down".into()))
    }
    async fn save(&self, _: &StoredToken) -> Result<(), StoreError> {
        self.down.store(true, Ordering::SeqCst);
        Err(StoreError("database is down".into()))
    }
    async fn clear_if(&self, _: &str) -> Result<(), StoreError> {
        Err(StoreError("database is down".into()))
    }
}

const NOW: i64 = 1_700_000_000;

fn new_cache<S: TokenStore>(store: S) -> Arc<TokenCache<S, CountingFetcher>> {
    Arc::new(TokenCache::new(CountingFetcher::new(), store, DEFAULT_MARGIN).with_clock(|| NOW))
}

fn stored(token: &str, expires_at_unix: i64) -> StoredToken {
    StoredToken {
        token: SecretString::from(token),
        expires_at_unix,
    }
}

fn invalid_token() -> ApiError {
    ApiError::WeChat {
        code: 40001,
        message: "invalid credential".into(),
    }
}

async fn get_concurrently<S: TokenStore>(
    cache: &Arc<TokenCache<S, CountingFetcher>>,
    n: usize,
) -> Vec<Result<SecretString, TokenError>> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let cache = Arc::clone(cache);
        tasks.spawn(async move { cache.get().await });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        results.push(joined.expect("task panicked"));
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_callers_cause_one_fetch() {
    let cache = new_cache(MemoryTokenStore::new());
    for result in get_concurrently(&cache, 100).await {
        assert_eq!(result.unwrap().expose_secret(), "token-1");
    }
    assert_eq!(cache.fetcher().calls(), 1);
    let saved = cache.store().load().await.unwrap().unwrap();
    assert_eq!(saved.token.expose_secret(), "token-1");
    assert_eq!(saved.expires_at_unix, NOW + 7200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_fetch_is_shared_by_the_callers_queued_behind_it() {
    let cache = new_cache(MemoryTokenStore::new());
    *lock(&cache.fetcher().fail_with) = Some(ApiError::WeChat {
        code: 40164,
        message: "ip not in whitelist".into(),
    });
    for result in get_concurrently(&cache, 20).await {
        assert_eq!(result.unwrap_err().api().code(), Some(40164));
    }
    assert_eq!(cache.fetcher().calls(), 1);
    // A later caller tries again.
    *lock(&cache.fetcher().fail_with) = None;
    assert_eq!(cache.get().await.unwrap().expose_secret(), "token-2");
}

#[tokio::test]
async fn refreshes_within_the_margin_of_expiry() {
    let now = Arc::new(AtomicI64::new(NOW));
    let clock = Arc::clone(&now);
    let cache = TokenCache::new(
        CountingFetcher::new(),
        MemoryTokenStore::new(),
        DEFAULT_MARGIN,
    )
    .with_clock(move || clock.load(Ordering::SeqCst));
    assert_eq!(cache.get().await.unwrap().expose_secret(), "token-1");
    now.store(NOW + 7200 - 301, Ordering::SeqCst);
    assert_eq!(cache.get().await.unwrap().expose_secret(), "token-1");
    now.store(NOW + 7200 - 299, Ordering::SeqCst);
    assert_eq!(cache.get().await.unwrap().expose_secret(), "token-2");
    assert_eq!(cache.fetcher().calls(), 2);
}

#[tokio::test]
async fn a_margin_longer_than_the_lifetime_does_not_refetch_every_call() {
    let cache = new_cache(MemoryTokenStore::new());
    cache.fetcher().expires_in.store(60, Ordering::SeqCst);
    for _ in 0..5 {
        assert_eq!(cache.get().await.unwrap().expose_secret(), "token-1");
    }
    assert_eq!(cache.fetcher().calls(), 1);
}

#[tokio::test]
async fn uses_a_fresh_stored_token_and_skips_a_stale_one() {
    let store = MemoryTokenStore::new();
    store.save(&stored("from-db", NOW + 1000)).await.unwrap();
    let cache = new_cache(store);
    assert_eq!(cache.get().await.unwrap().expose_secret(), "from-db");
    assert_eq!(cache.fetcher().calls(), 0);

    let store = MemoryTokenStore::new();
    store
        .save(&stored("nearly-expired", NOW + 100))
        .await
        .unwrap();
    let cache = new_cache(store);
    assert_eq!(cache.get().await.unwrap().expose_secret(), "token-1");
    assert_eq!(cache.fetcher().calls(), 1);
}

#[tokio::test]
async fn invalid_token_is_invalidated_and_retried_once() {
    let cache = new_cache(MemoryTokenStore::new());
    let seen = Mutex::new(Vec::new());
    let result = cache
        .call(|token| {
            let first = lock(&seen).is_empty();
            lock(&seen).push(token.expose_secret().to_owned());
            async move {
                if first {
                    Err(invalid_token())
                } else {
                    Ok("qr")
                }
            }
        })
        .await;
    assert_eq!(result, Ok("qr"));
    assert_eq!(*lock(&seen), ["token-1", "token-2"]);
    assert_eq!(cache.fetcher().calls(), 2);
    assert_eq!(
        cache.fetcher().forced.load(Ordering::SeqCst),
        0,
        "an ordinary fetch handed out a new token: no forced refresh"
    );
    let saved = cache.store().load().await.unwrap().unwrap();
    assert_eq!(saved.token.expose_secret(), "token-2");
}

/// Like `stable_token`: an ordinary fetch hands out WeChat's current token
/// (the same one until it is replaced); a forced one replaces it.
#[derive(Default)]
struct StableFetcher {
    current: Mutex<u32>,
    ordinary: AtomicUsize,
    forced: AtomicUsize,
}

impl TokenFetcher for StableFetcher {
    async fn fetch(&self, force_refresh: bool) -> Result<AccessToken, ApiError> {
        let mut current = lock(&self.current);
        if force_refresh || *current == 0 {
            *current += 1;
        }
        if force_refresh {
            self.forced.fetch_add(1, Ordering::SeqCst);
        } else {
            self.ordinary.fetch_add(1, Ordering::SeqCst);
        }
        Ok(AccessToken {
            token: SecretString::from(format!("stable-{current}")),
            expires_in: 7200,
        })
    }
}

/// A call that WeChat refuses the first time; records the tokens it got.
fn refuse_first(
    seen: &Mutex<Vec<String>>,
) -> impl Fn(SecretString) -> std::future::Ready<Result<&'static str, ApiError>> + '_ {
    move |token| {
        let first = lock(seen).is_empty();
        lock(seen).push(token.expose_secret().to_owned());
        std::future::ready(if first {
            Err(invalid_token())
        } else {
            Ok("qr")
        })
    }
}

#[tokio::test]
async fn a_refused_token_is_refetched_without_force_first_and_forced_refreshes_are_rationed() {
    let now = Arc::new(AtomicI64::new(NOW));
    let clock = Arc::clone(&now);
    let cache = TokenCache::new(
        StableFetcher::default(),
        MemoryTokenStore::new(),
        DEFAULT_MARGIN,
    )
    .with_clock(move || clock.load(Ordering::SeqCst));
    // Another holder renewed the token meanwhile: the ordinary fetch gets
    // the new one, nothing is forced.
    let seen = Mutex::new(Vec::new());
    cache.get().await.unwrap();
    *lock(&cache.fetcher().current) = 2;
    let result = cache.call(refuse_first(&seen)).await;
    assert_eq!(result, Ok("qr"));
    assert_eq!(*lock(&seen), ["stable-1", "stable-2"]);
    assert_eq!(cache.fetcher().forced.load(Ordering::SeqCst), 0);

    // WeChat refuses the very token it hands out as current: one forced
    // refresh.
    let seen = Mutex::new(Vec::new());
    let result = cache.call(refuse_first(&seen)).await;
    assert_eq!(result, Ok("qr"));
    assert_eq!(*lock(&seen), ["stable-2", "stable-3"]);
    assert_eq!(cache.fetcher().forced.load(Ordering::SeqCst), 1);

    // Again within the minute: no second forced refresh, the refusal stands.
    let seen = Mutex::new(Vec::new());
    let result = cache.call(refuse_first(&seen)).await;
    assert_eq!(result, Err(TokenError::Api(invalid_token())));
    assert_eq!(*lock(&seen), ["stable-3"]);
    assert_eq!(cache.fetcher().forced.load(Ordering::SeqCst), 1);

    // A minute later a forced refresh is allowed again.
    now.store(
        NOW + FORCED_REFRESH_EVERY.as_secs() as i64,
        Ordering::SeqCst,
    );
    let seen = Mutex::new(Vec::new());
    let result = cache.call(refuse_first(&seen)).await;
    assert_eq!(result, Ok("qr"));
    assert_eq!(cache.fetcher().forced.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn second_invalid_token_failure_is_returned() {
    let cache = new_cache(MemoryTokenStore::new());
    let attempts = AtomicUsize::new(0);
    let result: Result<(), _> = cache
        .call(|_| {
            attempts.fetch_add(1, Ordering::SeqCst);
            async { Err(invalid_token()) }
        })
        .await;
    assert_eq!(result, Err(TokenError::Api(invalid_token())));
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(cache.fetcher().calls(), 2);
}

#[tokio::test]
async fn other_errors_are_not_retried() {
    let cache = new_cache(MemoryTokenStore::new());
    let attempts = AtomicUsize::new(0);
    let result: Result<(), _> = cache
        .call(|_| {
            attempts.fetch_add(1, Ordering::SeqCst);
            async { Err(ApiError::Timeout) }
        })
        .await;
    assert_eq!(result, Err(TokenError::Api(ApiError::Timeout)));
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn invalidate_keeps_a_newer_token_saved_by_another_process() {
    let cache = new_cache(MemoryTokenStore::new());
    let old = cache.get().await.unwrap();
    // Another process refreshed meanwhile and saved its token.
    cache
        .store()
        .save(&stored("other-process", NOW + 7000))
        .await
        .unwrap();
    cache.invalidate(&old).await;
    let kept = cache.store().load().await.unwrap().unwrap();
    assert_eq!(kept.token.expose_secret(), "other-process");
    assert_eq!(cache.get().await.unwrap().expose_secret(), "other-process");
    assert_eq!(cache.fetcher().calls(), 1);
}

#[tokio::test]
async fn a_refused_token_is_not_taken_back_from_a_store_that_kept_it() {
    struct StickyStore(MemoryTokenStore);
    impl TokenStore for StickyStore {
        async fn load(&self) -> Result<Option<StoredToken>, StoreError> {
            self.0.load().await
        }
        async fn save(&self, t: &StoredToken) -> Result<(), StoreError> {
            self.0.save(t).await
        }
        async fn clear_if(&self, _: &str) -> Result<(), StoreError> {
            Err(StoreError("read-only replica".into()))
        }
    }
    let store = StickyStore(MemoryTokenStore::new());
    store.save(&stored("refused", NOW + 7000)).await.unwrap();
    let cache = new_cache(store);
    let first = cache.get().await.unwrap();
    assert_eq!(first.expose_secret(), "refused");
    cache.invalidate(&first).await;
    assert_eq!(cache.get().await.unwrap().expose_secret(), "token-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broken_store_still_costs_one_fetch() {
    let cache = new_cache(BrokenStore::default());
    for result in get_concurrently(&cache, 50).await {
        assert_eq!(result.unwrap().expose_secret(), "token-1");
    }
    for _ in 0..20 {
        assert_eq!(cache.get().await.unwrap().expose_secret(), "token-1");
    }
    assert!(cache.store().down.load(Ordering::SeqCst));
    assert_eq!(cache.fetcher().calls(), 1);
}
