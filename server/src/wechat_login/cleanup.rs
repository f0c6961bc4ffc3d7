//! Removes expired attempts, sessions, old push records and stamps now and
//! then, in small chunks through the login's group-commit thread.
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

use super::writer::{WriteResult, Writer};
use crate::state::Shutdown;

const EVERY: Duration = Duration::from_secs(600);

/// Rows of each kind per chunk.
pub const CHUNK: u64 = 500;

/// A breath between chunks, so a long clean-up leaves the writer mostly
/// idle for the jobs that matter.
const PAUSE: Duration = Duration::from_millis(5);

/// Runs the clean-up at start and then every ten minutes, until shutdown.
pub fn spawn(writer: Arc<Writer>, shutdown: Shutdown) {
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
                result = clean(&writer) => match result {
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
pub async fn clean(writer: &Writer) -> WriteResult<Removed> {
    let mut total = Removed::default();
    loop {
        let (removed, more) = writer.clean(CHUNK).await?;
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

/// Deletes at most `limit` rows of each kind nobody can use any more:
/// attempts a day past their end, sessions past expiry or revoked a day ago,
/// pushes handled over a day ago (WeChat retries within seconds), stamps
/// older than the freshness window (a request with such a stamp is refused
/// as stale anyway). Small chunks keep each transaction of the writer short,
/// so the pushes queued behind it are answered in time. Also says whether
/// more may be left (some kind filled its chunk).
pub fn delete_stale(db: &Connection, now: i64, limit: u64) -> rusqlite::Result<(Removed, bool)> {
    const DAY: i64 = 86_400_000;
    let complete_window = COMPLETE_WINDOW.as_millis() as i64;
    let delete = |sql: &str, before: i64| -> rusqlite::Result<u64> {
        Ok(db.prepare_cached(sql)?.execute(params![before, limit])? as u64)
    };
    let attempts = delete(
        "DELETE FROM login_attempts WHERE rowid IN
         (SELECT rowid FROM login_attempts WHERE expires_at < ? LIMIT ?)",
        now - complete_window - DAY,
    )?;
    let expired = delete(
        "DELETE FROM sessions WHERE rowid IN
         (SELECT rowid FROM sessions WHERE expires_at < ? LIMIT ?)",
        now,
    )?;
    let revoked = delete(
        "DELETE FROM sessions WHERE rowid IN
         (SELECT rowid FROM sessions WHERE revoked_at < ? LIMIT ?)",
        now - DAY,
    )?;
    let events = delete(
        "DELETE FROM wechat_events WHERE rowid IN
         (SELECT rowid FROM wechat_events WHERE received_at < ? LIMIT ?)",
        now - DAY,
    )?;
    // A minute beyond the window, for a clock that steps back.
    let stamps = delete(
        "DELETE FROM push_nonces WHERE (timestamp, nonce) IN
         (SELECT timestamp, nonce FROM push_nonces WHERE timestamp < ? LIMIT ?)",
        now / 1000 - MAX_CLOCK_SKEW_SECS - 60,
    )?;
    let more = [attempts, expired, revoked, events, stamps]
        .iter()
        .any(|&n| n >= limit);
    let removed = Removed {
        attempts,
        sessions: expired + revoked,
        events,
        stamps,
    };
    Ok((removed, more))
}
