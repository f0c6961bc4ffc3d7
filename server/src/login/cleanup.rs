//! Removes expired attempts, sessions and old push records now and then.

use std::time::Duration;

use sqlx::SqlitePool;

use super::store;
use crate::{clock, state::Shutdown};

const EVERY: Duration = Duration::from_secs(600);

pub fn spawn(db: SqlitePool, shutdown: Shutdown) {
    tokio::spawn(async move {
        let stopped = shutdown.stopped();
        tokio::pin!(stopped);
        let mut ticks = tokio::time::interval(EVERY);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = &mut stopped => return,
            }
            match store::delete_stale(&db, clock::now_ms()).await {
                Ok(removed) if removed != store::Removed::default() => {
                    tracing::info!(?removed, "removed stale login data");
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "clean-up of login data failed"),
            }
        }
    });
}
