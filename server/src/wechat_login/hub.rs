//! Tells waiting browsers the moment their login changes.
//!
//! In one process an in-memory map of watch channels does it. Several server
//! processes will need the database to carry the news (Postgres
//! LISTEN/NOTIFY); that is another `LoginHub`, and nothing else changes.

use app::modules::wechat_login::status::LoginStatus;
use tokio::sync::watch;

use crate::watch_map::WatchMap;

pub trait LoginHub: Send + Sync + 'static {
    /// Starts listening for changes of one attempt. Subscribe *before*
    /// reading the attempt's current status, so no change falls in between.
    fn subscribe(&self, attempt: &str) -> Subscription;
    /// Announces an attempt's new status to its listeners, if any.
    fn publish(&self, attempt: &str, status: LoginStatus);
}

/// Changes of one attempt, as long as it is held.
pub struct Subscription {
    // Fields drop in declaration order: the receiver goes first, so the
    // guard after it sees only the listeners that remain.
    receiver: watch::Receiver<Option<LoginStatus>>,
    _unsubscribe: Box<dyn Send + Sync>,
}

impl Subscription {
    /// The next status published after the last one seen; `None` when the
    /// hub went away.
    pub async fn changed(&mut self) -> Option<LoginStatus> {
        loop {
            self.receiver.changed().await.ok()?;
            if let Some(status) = *self.receiver.borrow_and_update() {
                return Some(status);
            }
        }
    }
}

/// The hub of a single server process.
#[derive(Default)]
pub struct MemoryHub {
    channels: WatchMap<Option<LoginStatus>>,
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
        let (receiver, _unsubscribe) = self.channels.subscribe(attempt, || None);
        Subscription {
            receiver,
            _unsubscribe,
        }
    }

    fn publish(&self, attempt: &str, status: LoginStatus) {
        self.channels
            .publish(attempt, |current| *current = Some(status));
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
        hub.publish("a", LoginStatus::Confirmed);
        assert_eq!(a.changed().await, Some(LoginStatus::Confirmed));
        assert_eq!(b.changed().await, Some(LoginStatus::Confirmed));
    }

    #[tokio::test]
    async fn attempts_are_separate() {
        let hub = MemoryHub::new();
        let mut a = hub.subscribe("a");
        hub.publish("b", LoginStatus::Confirmed);
        let heard = tokio::time::timeout(Duration::from_millis(50), a.changed()).await;
        assert!(heard.is_err(), "a heard b's news");
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
        hub.publish("a", LoginStatus::Expired); // nobody listens: nothing kept
        assert_eq!(hub.watched(), 0);
    }
}
