//! Recently seen sessions, kept in memory for a short time, so that a
//! logged-in page does not ask the database who its visitor is.
//!
//! The lookup through the sqlx pool cost more than rendering the page:
//! 269 µs of CPU per logged-in home page against 134 µs for the same page
//! rendered for an anonymous visitor (a thread hand-off each way and a
//! wake-up, which instruction counts do not even show; bench/README.md).
//!
//! Correct by construction within this process: logging out and a new login
//! (which revokes the browser's old session) remove the entry as they
//! revoke the row, and an entry keeps its session's expiry, checked on every
//! read. A revocation made by *another* process (several servers on one
//! PostgreSQL database) arrives as a notification (`notify::SESSION`, the
//! token hash in hex, sent by the transaction that revoked it; [`listen`])
//! and removes the entry the moment it is heard. While the listening
//! connection is lost, the entry's lifetime, `SESSION_CACHE_SECONDS`, bounds
//! the delay; once it listens again, the whole cache is dropped, since a
//! revocation may have been missed.
//!
//! [`listen`]: SessionCache::listen
//! Only sessions that exist are kept: an unknown or revoked token is asked
//! of the database each time (it cannot become valid later; keeping it
//! would let random cookies fill the cache).

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use app::auth::User;
use moka::sync::Cache;

use crate::notify::{self, Heard, Listener};

/// A live session: its user, his openid (which decides who is an
/// operator; never sent to the browser) and when it ends (Unix ms).
#[derive(Clone, Debug)]
pub struct CachedSession {
    pub user: User,
    pub openid: String,
    pub expires_at: i64,
}

/// Sessions by the SHA-256 of their token (the database's key too: the
/// token itself is never kept).
pub struct SessionCache {
    /// `None`: `SESSION_CACHE_SECONDS=0`, every request asks the database.
    cache: Option<Cache<Vec<u8>, CachedSession>>,
    /// Raised by every revocation. A request that read a session from the
    /// database keeps it only if no revocation happened meanwhile: else a
    /// read made just before a logout could put the session back after the
    /// logout removed it. The lock makes "check and keep" one step.
    revocations: Mutex<u64>,
}

/// What [`SessionCache::revocations_so_far`] returns, for
/// [`SessionCache::insert`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Revocations(u64);

/// Enough for every writer of a busy site; past it, the least used go.
const CAPACITY: u64 = 100_000;

impl SessionCache {
    pub fn new(lifetime: Duration) -> Self {
        let cache = (!lifetime.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(lifetime)
                .build()
        });
        Self {
            cache,
            revocations: Mutex::new(0),
        }
    }

    /// Taken before the database is asked about a session.
    pub fn revocations_so_far(&self) -> Revocations {
        Revocations(*self.revocations.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The user (and openid) of a session seen within the lifetime, if it
    /// has not expired since (an expired one is dropped).
    pub fn get(&self, token_hash: &[u8], now: i64) -> Option<(User, String)> {
        let cache = self.cache.as_ref()?;
        let session = cache.get(token_hash)?;
        if session.expires_at > now {
            Some((session.user, session.openid))
        } else {
            cache.invalidate(token_hash);
            None
        }
    }

    /// Keeps a session the database vouched for in a read that began at
    /// `before`, unless a session was revoked since.
    pub fn insert(&self, token_hash: Vec<u8>, session: CachedSession, before: Revocations) {
        if let Some(cache) = &self.cache {
            let revocations = self.revocations.lock().unwrap_or_else(|e| e.into_inner());
            if *revocations == before.0 {
                cache.insert(token_hash, session);
            }
        }
    }

    /// Forgets a session, after the database has revoked it (logout, a new
    /// login): from now on this process asks the database about it.
    pub fn revoked(&self, token_hash: &[u8]) {
        let mut revocations = self.revocations.lock().unwrap_or_else(|e| e.into_inner());
        *revocations += 1;
        if let Some(cache) = &self.cache {
            cache.invalidate(token_hash);
        }
    }

    /// Forgets every session (a revocation may have been missed).
    pub fn revoked_all(&self) {
        let mut revocations = self.revocations.lock().unwrap_or_else(|e| e.into_inner());
        *revocations += 1;
        if let Some(cache) = &self.cache {
            cache.invalidate_all();
        }
    }

    /// Forgets what any server process revoked, as `listener` hears it
    /// (PostgreSQL): the notification's payload is the token hash in hex.
    pub fn listen(cache: Arc<Self>, listener: &Listener) {
        listener.on(
            notify::SESSION,
            Arc::new(move |heard| match heard {
                Heard::Changed(payload) => match hex::decode(payload) {
                    Ok(token_hash) => cache.revoked(&token_hash),
                    // Not ours to read: forget everything rather than
                    // keep a session that may be revoked.
                    Err(_) => cache.revoked_all(),
                },
                Heard::Reconnected => cache.revoked_all(),
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice(expires_at: i64) -> CachedSession {
        CachedSession {
            user: User {
                id: 7,
                display_name: "微信用户".into(),
            },
            openid: "oFakeOpenidForTests000000001".into(),
            expires_at,
        }
    }

    #[test]
    fn a_kept_session_is_found_until_removed() {
        let cache = SessionCache::new(Duration::from_secs(60));
        assert!(cache.get(b"hash", 1_000).is_none());
        cache.insert(b"hash".to_vec(), alice(2_000), cache.revocations_so_far());
        assert_eq!(cache.get(b"hash", 1_000).map(|(u, _)| u.id), Some(7));
        assert!(cache.get(b"other", 1_000).is_none());
        cache.revoked(b"hash");
        assert!(cache.get(b"hash", 1_000).is_none(), "revoked at once");
    }

    #[test]
    fn a_read_from_before_a_revocation_is_not_kept() {
        let cache = SessionCache::new(Duration::from_secs(60));
        // A request reads the session from the database…
        let before = cache.revocations_so_far();
        // …meanwhile the visitor logs out…
        cache.revoked(b"hash");
        // …and the request's read must not bring the session back.
        cache.insert(b"hash".to_vec(), alice(2_000), before);
        assert!(cache.get(b"hash", 1_000).is_none());
        // A read that began after the revocation is kept.
        cache.insert(b"other".to_vec(), alice(2_000), cache.revocations_so_far());
        assert!(cache.get(b"other", 1_000).is_some());
    }

    #[test]
    fn forgetting_everything_forgets_every_session_and_reads_in_flight() {
        let cache = SessionCache::new(Duration::from_secs(60));
        cache.insert(b"a".to_vec(), alice(2_000), cache.revocations_so_far());
        let before = cache.revocations_so_far();
        cache.revoked_all();
        cache.insert(b"b".to_vec(), alice(2_000), before);
        assert!(cache.get(b"a", 1_000).is_none());
        assert!(cache.get(b"b", 1_000).is_none(), "a read from before");
    }

    #[test]
    fn an_expired_session_is_not_found_even_within_the_lifetime() {
        let cache = SessionCache::new(Duration::from_secs(60));
        cache.insert(b"hash".to_vec(), alice(2_000), cache.revocations_so_far());
        assert!(cache.get(b"hash", 1_999).is_some());
        assert!(cache.get(b"hash", 2_000).is_none(), "expired at its end");
        assert!(cache.get(b"hash", 1_999).is_none(), "and dropped");
    }

    #[test]
    fn an_entry_lives_no_longer_than_the_lifetime() {
        let cache = SessionCache::new(Duration::from_millis(50));
        cache.insert(
            b"hash".to_vec(),
            alice(i64::MAX),
            cache.revocations_so_far(),
        );
        assert!(cache.get(b"hash", 0).is_some());
        std::thread::sleep(Duration::from_millis(120));
        assert!(
            cache.get(b"hash", 0).is_none(),
            "another process's revocation is seen after the lifetime"
        );
    }

    #[test]
    fn a_zero_lifetime_keeps_nothing() {
        let cache = SessionCache::new(Duration::ZERO);
        cache.insert(
            b"hash".to_vec(),
            alice(i64::MAX),
            cache.revocations_so_far(),
        );
        assert!(cache.get(b"hash", 0).is_none());
    }
}
