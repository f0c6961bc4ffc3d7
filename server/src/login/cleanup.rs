//! Removes expired attempts, sessions, old push records and stamps now and
//! then, in small chunks through the login writer.
//!
//! One unbounded `DELETE` on the pool would hold SQLite's write lock for as
//! long as the backlog takes (seconds for a few hundred thousand rows), and
//! the writer's pushes would wait for it beyond WeChat's 5 s. Sent to the
//! writer as chunks, the clean-up is one job among the pushes: each chunk is
//! a few milliseconds (bench/README.md), and the pushes that queue meanwhile
//! are committed with it or right after.

use std::{sync::Arc, time::Duration};

use super::{
    writer::{WriteResult, Writer},
    writes::Removed,
};
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
