//! Removes expired attempts, sessions, old push records and stamps now and
//! then, in small chunks through the login's store (on SQLite its
//! group-commit thread; on PostgreSQL one short transaction per chunk, in
//! whichever processes run it: a row two of them pick is deleted once).
//!
//! One unbounded `DELETE` on the pool would hold SQLite's write lock for as
//! long as the backlog takes (seconds for a few hundred thousand rows), and
//! the writer's pushes would wait for it beyond WeChat's 5 s. Sent to the
//! writer as chunks, the clean-up is one job among the pushes: each chunk is
//! a few milliseconds (bench/README.md), and the pushes that queue meanwhile
//! are committed with it or right after.

use std::{sync::Arc, time::Duration};

use app::modules::wechat_login::status::COMPLETE_WINDOW;
use rusqlite::{params, Connection};
use wechat::callback::MAX_CLOCK_SKEW_SECS;

use super::store::{LoginStore, StoreResult};
use crate::state::Shutdown;

const EVERY: Duration = Duration::from_secs(600);

/// Rows of each kind per chunk.
pub const CHUNK: u64 = 500;

/// A breath between chunks, so a long clean-up leaves the writer mostly
/// idle for the jobs that matter.
const PAUSE: Duration = Duration::from_millis(5);

/// Runs the clean-up at start and then every ten minutes, until shutdown.
pub fn spawn(store: Arc<dyn LoginStore>, shutdown: Shutdown) {
    tokio::spawn(async move {
        let stopped = shutdown.stopped();
        tokio::pin!(stopped);
        let mut ticks = tokio::time::interval(EVERY);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = &mut stopped => return,
            }
            tokio::select! {
                result = clean(store.as_ref()) => match result {
                    Ok(removed) if removed.total() > 0 => {
                        tracing::info!(?removed, "removed stale login data");
                    }
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, "clean-up of login data failed; trying again later"),
                },
                _ = &mut stopped => return,
            }
        }
    });
}

/// Cleans chunk after chunk until nothing stale is left.
pub async fn clean(store: &dyn LoginStore) -> StoreResult<Removed> {
    let mut total = Removed::default();
    loop {
        let (removed, more) = store.clean(CHUNK).await?;
        total.add(removed);
        if !more {
            return Ok(total);
        }
        tokio::time::sleep(PAUSE).await;
    }
}

/// What one clean-up chunk removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    pub attempts: u64,
    pub sessions: u64,
    pub events: u64,
    pub stamps: u64,
}

impl Removed {
    pub fn total(&self) -> u64 {
        self.attempts + self.sessions + self.events + self.stamps
    }

    pub fn add(&mut self, other: Removed) {
        self.attempts += other.attempts;
        self.sessions += other.sessions;
        self.events += other.events;
        self.stamps += other.stamps;
    }
}

/// Deletes (SQLite) at most `limit` rows of each kind nobody can use any more:
/// attempts a day past their end, sessions past expiry or revoked a day ago,
/// pushes handled over a day ago (WeChat retries within seconds), stamps
/// older than the freshness window (a request with such a stamp is refused
/// as stale anyway). Small chunks keep each transaction of the writer short,
/// so the pushes queued behind it are answered in time. Also says whether
/// more may be left (some kind filled its chunk).
pub fn delete_stale(db: &Connection, now: i64, limit: u64) -> rusqlite::Result<(Removed, bool)> {
    let before = Cutoffs::at(now);
    let delete = |sql: &str, before: i64| -> rusqlite::Result<u64> {
        Ok(db.prepare_cached(sql)?.execute(params![before, limit])? as u64)
    };
    let attempts = delete(
        "DELETE FROM login_attempts WHERE rowid IN
         (SELECT rowid FROM login_attempts WHERE expires_at < ? LIMIT ?)",
        before.attempts,
    )?;
    let expired = delete(
        "DELETE FROM sessions WHERE rowid IN
         (SELECT rowid FROM sessions WHERE expires_at < ? LIMIT ?)",
        before.sessions_expired,
    )?;
    let revoked = delete(
        "DELETE FROM sessions WHERE rowid IN
         (SELECT rowid FROM sessions WHERE revoked_at < ? LIMIT ?)",
        before.sessions_revoked,
    )?;
    let events = delete(
        "DELETE FROM wechat_events WHERE rowid IN
         (SELECT rowid FROM wechat_events WHERE received_at < ? LIMIT ?)",
        before.events,
    )?;
    let stamps = delete(
        "DELETE FROM push_nonces WHERE (timestamp, nonce) IN
         (SELECT timestamp, nonce FROM push_nonces WHERE timestamp < ? LIMIT ?)",
        before.stamps,
    )?;
    Ok(Removed::of_chunk(
        limit, attempts, expired, revoked, events, stamps,
    ))
}

/// What is stale at `now`, per kind (the rows before these times): the
/// same on both engines.
pub struct Cutoffs {
    /// `expires_at` (ms): a day past the time to complete.
    pub attempts: i64,
    /// `expires_at` (ms).
    pub sessions_expired: i64,
    /// `revoked_at` (ms): a day ago.
    pub sessions_revoked: i64,
    /// `received_at` (ms): a day ago.
    pub events: i64,
    /// `timestamp` (s): a minute beyond the freshness window, for a clock
    /// that steps back.
    pub stamps: i64,
}

impl Cutoffs {
    pub fn at(now: i64) -> Self {
        const DAY: i64 = 86_400_000;
        let complete_window = COMPLETE_WINDOW.as_millis() as i64;
        Self {
            attempts: now - complete_window - DAY,
            sessions_expired: now,
            sessions_revoked: now - DAY,
            events: now - DAY,
            stamps: now / 1000 - MAX_CLOCK_SKEW_SECS - 60,
        }
    }
}

impl Removed {
    /// One chunk's counts, and whether more may be left (some kind filled
    /// the chunk).
    pub fn of_chunk(
        limit: u64,
        attempts: u64,
        expired: u64,
        revoked: u64,
        events: u64,
        stamps: u64,
    ) -> (Self, bool) {
        let more = [attempts, expired, revoked, events, stamps]
            .iter()
            .any(|&n| n >= limit);
        let removed = Self {
            attempts,
            sessions: expired + revoked,
            events,
            stamps,
        };
        (removed, more)
    }
}
