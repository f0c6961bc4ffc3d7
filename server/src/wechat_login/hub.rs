//! Tells waiting browsers the moment their login changes: "attempt X
//! changed", never what it changed to — the browser's stream reads the
//! attempt again (the database is the truth).
//!
//! In one process an in-memory map of watch channels does it. On SQLite the
//! writer publishes after each commit. On PostgreSQL the change may be made
//! by another server process: the transaction that made it sends
//! `notify::LOGIN` with the attempt id, and this process's listener
//! publishes what it hears ([`listen`]); when the listener was cut off it
//! wakes every watched attempt, since notifications may have been lost.
//! Attempts are announced after their commit (`notify::Announcer`), so a
//! process that dies in between loses an announcement: every watched
//! attempt is also read again every [`RECHECK_EVERY`].

use std::{sync::Arc, time::Duration};

use tokio::sync::watch;

use crate::{
    notify::{self, Heard, Listener},
    state::Shutdown,
};

use crate::watch_map::WatchMap;

pub trait LoginHub: Send + Sync + 'static {
    /// Starts listening for changes of one attempt. Subscribe *before*
    /// reading the attempt's current status, so no change falls in between.
    fn subscribe(&self, attempt: &str) -> Subscription;
    /// Tells an attempt's listeners, if any, that it changed.
    fn publish(&self, attempt: &str);
    /// Tells every listener to read its attempt again.
    fn publish_all(&self);
}

/// How often, on PostgreSQL, every waiting stream reads its attempt again
/// whatever it heard: the longest a browser waits when the process that
/// took its scan died before announcing it. One read of one row per
/// waiting browser each time (1 000 waiting: 100 reads a second).
pub const RECHECK_EVERY: Duration = Duration::from_secs(10);

/// Publishes what `listener` hears of attempts (PostgreSQL): the changes
/// any server process made, after a lost connection everything, and
/// everything every [`RECHECK_EVERY`], until `shutdown`.
pub fn listen(hub: Arc<dyn LoginHub>, listener: &Listener, shutdown: Shutdown) {
    let publisher = hub.clone();
    listener.on(
        notify::LOGIN,
        Arc::new(move |heard| match heard {
            Heard::Changed(attempt) => publisher.publish(attempt),
            Heard::Reconnected => publisher.publish_all(),
        }),
    );
    tokio::spawn(async move {
        let mut every = tokio::time::interval(RECHECK_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await;
        let mut stopped = std::pin::pin!(shutdown.stopped());
        loop {
            tokio::select! {
                _ = every.tick() => hub.publish_all(),
                () = &mut stopped => return,
            }
        }
    });
}

/// Changes of one attempt, as long as it is held.
pub struct Subscription {
    // Fields drop in declaration order: the receiver goes first, so the
    // guard after it sees only the listeners that remain.
    receiver: watch::Receiver<u64>,
    _unsubscribe: Box<dyn Send + Sync>,
}

impl Subscription {
    /// Resolves at the next change published after the last one seen;
    /// `None` when the hub went away.
    pub async fn changed(&mut self) -> Option<()> {
        self.receiver.changed().await.ok()
    }
}

/// The hub of a single server process.
#[derive(Default)]
pub struct MemoryHub {
    /// Per attempt, how many changes were published.
    channels: WatchMap<u64>,
}

impl MemoryHub {
    pub fn new() -> Self {
        Self::default()
    }

    /// Attempts with at least one listener (for tests and metrics).
    pub fn watched(&self) -> usize {
        self.channels.watched()
    }
}

impl LoginHub for MemoryHub {
    fn subscribe(&self, attempt: &str) -> Subscription {
        let (receiver, _unsubscribe) = self.channels.subscribe(attempt, || 0);
        Subscription {
            receiver,
            _unsubscribe,
        }
    }

    fn publish(&self, attempt: &str) {
        self.channels.publish(attempt, |changes| *changes += 1);
    }

    fn publish_all(&self) {
        self.channels.publish_all(|changes| *changes += 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_listener_hears_what_is_published_after_it_subscribed() {
        let hub = MemoryHub::new();
        let mut a = hub.subscribe("a");
        let mut b = hub.subscribe("a");
        hub.publish("a");
        assert_eq!(a.changed().await, Some(()));
        assert_eq!(b.changed().await, Some(()));
    }

    #[tokio::test]
    async fn attempts_are_separate() {
        let hub = MemoryHub::new();
        let mut a = hub.subscribe("a");
        hub.publish("b");
        let heard = tokio::time::timeout(Duration::from_millis(50), a.changed()).await;
        assert!(heard.is_err(), "a heard b's news");
    }

    #[tokio::test]
    async fn everyone_hears_a_publish_to_all() {
        let hub = MemoryHub::new();
        let mut a = hub.subscribe("a");
        let mut b = hub.subscribe("b");
        hub.publish_all();
        assert_eq!(a.changed().await, Some(()));
        assert_eq!(b.changed().await, Some(()));
    }

    #[test]
    fn channels_go_when_the_last_listener_leaves() {
        let hub = MemoryHub::new();
        let a = hub.subscribe("a");
        let b = hub.subscribe("a");
        assert_eq!(hub.watched(), 1);
        drop(a);
        assert_eq!(hub.watched(), 1);
        drop(b);
        assert_eq!(hub.watched(), 0);
        hub.publish("a"); // nobody listens: nothing kept
        assert_eq!(hub.watched(), 0);
    }
}
