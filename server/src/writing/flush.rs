//! Stores the text of every running generation in batches: every
//! [`EVERY`], what each has written since the last batch, all of them in
//! one job of the database writer (one transaction). A thousand
//! generations at DeepSeek's pace are then four commits a second, not
//! fifty thousand single-token writes. What a crash can lose is the last
//! quarter of a second; a graceful stop loses nothing (each job stores its
//! whole text as it ends).

use std::{sync::Arc, time::Duration};

use tokio::time::MissedTickBehavior;

use super::{generation::Generation, store, Core};
use crate::state::Shutdown;

pub const EVERY: Duration = Duration::from_millis(250);

/// Runs until the server stops.
pub fn spawn(core: Arc<Core>, shutdown: Shutdown) {
    tokio::spawn(async move {
        let stopped = shutdown.stopped();
        tokio::pin!(stopped);
        let mut ticks = tokio::time::interval(EVERY);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = &mut stopped => return,
            }
            match flush(&core).await {
                Ok(_) if failing => {
                    failing = false;
                    tracing::info!("writing: the text of running generations is stored again");
                }
                Ok(_) => {}
                // Logged once per outage, not four times a second; the
                // text stays in memory and goes with the next batch.
                Err(error) if !failing => {
                    failing = true;
                    tracing::error!(%error, "writing: cannot store the text of running generations; keeping it in memory and trying again");
                }
                Err(_) => {}
            }
        }
    });
}

/// One batch: how many generations it stored text of.
pub async fn flush(core: &Core) -> Result<usize, store::StoreError> {
    let pending: Vec<(Arc<Generation>, store::Append)> = core
        .generations
        .all()
        .into_iter()
        .filter_map(|g| g.pending().map(|append| (g, append)))
        .collect();
    if pending.is_empty() {
        return Ok(0);
    }
    let appends: Arc<Vec<store::Append>> =
        Arc::new(pending.iter().map(|(_, a)| a.clone()).collect());
    let batch = appends.clone();
    let bytes: usize = appends
        .iter()
        .map(|a| a.text.len() + a.reasoning.len())
        .sum();
    let appended = core.store.append(batch).await?;
    // Benchmarks count these (RUST_LOG=server::writing::flush=debug).
    tracing::debug!(generations = pending.len(), bytes, "writing: batch stored");
    for (generation, append) in &pending {
        generation.stored(append);
    }
    // Stops pressed on another process (whose notification may have been
    // lost).
    for article in &appended.stop {
        if let Some(generation) = core.generations.get(article) {
            generation.stop();
        }
    }
    Ok(pending.len())
}
