//! Several server processes writing articles on one PostgreSQL database:
//! what each hears from the others, and its heartbeat.
//!
//! - The article hub: every write a follower waits for (a batch of text, a
//!   status, an end, a new version, an edit, a deletion) announces the
//!   article on `wensi_article` in its transaction; each process hands
//!   that to its in-memory hub, so a browser following through process B a
//!   generation that process A runs wakes at each of A's batches and reads
//!   the rest from the database, in order. When the listening connection
//!   comes back after a loss, every follower looks again.
//! - Stop: pressed on a process that does not run the generation, it is
//!   stored (`stop_requested`) and announced on `wensi_article_stop`; the
//!   owner stops it when it hears that, or at its next batch, or, after a
//!   lost connection, when it asks the database.
//! - The heartbeat renews this process's lease ([`Leases::renew`]) and
//!   marks interrupted the generations of processes whose lease expired
//!   (a crash), so their followers see an end and "continue" can pick up.

use std::sync::Arc;

use tokio::time::MissedTickBehavior;

use super::{
    hub::{ArticleHub, MemoryHub},
    job,
    leases::{Leases, HEARTBEAT},
    short, Core,
};
use crate::{
    notify::{self, Heard, Listener},
    state::Shutdown,
};

/// Registers this process's handlers on its listener.
pub fn listen(core: &Arc<Core>, hub: Arc<MemoryHub>, listener: &Listener) {
    let stops = core.clone();
    listener.on(
        notify::ARTICLE,
        Arc::new(move |heard: Heard<'_>| match heard {
            Heard::Changed(article) => hub.publish(article),
            Heard::Reconnected => {
                hub.publish_all();
                // Stops pressed meanwhile were not heard.
                let core = stops.clone();
                tokio::spawn(async move { obey_stops(&core).await });
            }
        }),
    );
    let core = core.clone();
    listener.on(
        notify::ARTICLE_STOP,
        Arc::new(move |heard: Heard<'_>| {
            if let Heard::Changed(article) = heard {
                if let Some(generation) = core.generations.get(article) {
                    tracing::info!(article = %short(article), "writing: stop pressed on another process");
                    generation.stop();
                }
            }
        }),
    );
}

/// Stops the generations running here that another process asked to stop.
async fn obey_stops(core: &Core) {
    let running: Vec<String> = core
        .generations
        .all()
        .iter()
        .map(|g| g.article.clone())
        .collect();
    if running.is_empty() {
        return;
    }
    match core.store.stop_requested(running).await {
        Ok(stop) => {
            for article in stop {
                if let Some(generation) = core.generations.get(&article) {
                    generation.stop();
                }
            }
        }
        Err(error) => {
            tracing::warn!(%error, "writing: cannot read the stops pressed on other processes; the next batch brings them")
        }
    }
}

/// Every [`HEARTBEAT`] until the server stops: renews the lease, then
/// marks interrupted what crashed processes left running.
pub fn heartbeat(core: Arc<Core>, leases: Arc<Leases>, shutdown: Shutdown) {
    tokio::spawn(async move {
        let stopped = shutdown.stopped();
        tokio::pin!(stopped);
        let mut ticks = tokio::time::interval(HEARTBEAT);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = &mut stopped => return,
            }
            let beat = async {
                leases.renew().await.map_err(crate::db::StoreError::from)?;
                core.store.interrupt_unfinished(job::INTERRUPTED).await
            };
            match beat.await {
                Ok(interrupted) => {
                    if failing {
                        failing = false;
                        tracing::info!("writing: the lease is renewed again");
                    }
                    if interrupted > 0 {
                        tracing::warn!(interrupted, "writing: generations of a process that stopped answering are marked interrupted (their text is kept)");
                    }
                }
                Err(error) if !failing => {
                    failing = true;
                    tracing::error!(%error, "writing: cannot renew this process's lease; if it expires, the other processes take its generations for interrupted");
                }
                Err(_) => {}
            }
        }
    });
}
