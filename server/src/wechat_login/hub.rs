//! Tells waiting browsers the moment their login changes.
//!
//! In one process an in-memory map of watch channels does it. Several server
//! processes will need the database to carry the news (Postgres
//! LISTEN/NOTIFY); that is another `LoginHub`, and nothing else changes.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use app::modules::wechat_login::status::LoginStatus;
use tokio::sync::watch;

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

type Channels = Mutex<HashMap<String, watch::Sender<Option<LoginStatus>>>>;

/// The hub of a single server process.
#[derive(Default)]
pub struct MemoryHub {
    channels: Arc<Channels>,
}

impl MemoryHub {
    pub fn new() -> Self {
        Self::default()
    }

    /// Attempts with at least one listener (for tests and metrics).
    pub fn watched(&self) -> usize {
        self.channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl LoginHub for MemoryHub {
    fn subscribe(&self, attempt: &str) -> Subscription {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        let receiver = channels
            .entry(attempt.to_owned())
            .or_insert_with(|| watch::channel(None).0)
            .subscribe();
        Subscription {
            receiver,
            _unsubscribe: Box::new(Unsubscribe {
                channels: Arc::clone(&self.channels),
                attempt: attempt.to_owned(),
            }),
        }
    }

    fn publish(&self, attempt: &str, status: LoginStatus) {
        let channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = channels.get(attempt) {
            sender.send_replace(Some(status));
        }
    }
}

/// Removes an attempt's channel when its last listener leaves.
struct Unsubscribe {
    channels: Arc<Channels>,
    attempt: String,
}

impl Drop for Unsubscribe {
    fn drop(&mut self) {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        // This subscription's receiver is already gone (see `Subscription`).
        if channels
            .get(&self.attempt)
            .is_some_and(|s| s.receiver_count() == 0)
        {
            channels.remove(&self.attempt);
        }
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
