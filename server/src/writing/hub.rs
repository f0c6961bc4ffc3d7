//! Tells the browsers following an article that it changed: new text, a new
//! status, a new version. The news is only "look again": the text itself is
//! read from the running generation (in this process) or the database, so a
//! listener that falls behind misses nothing, and a burst of changes wakes
//! it once.
//!
//! In one process an in-memory map of watch channels does it. With several
//! server processes on PostgreSQL the database carries the news too: each
//! write announces its article (LISTEN/NOTIFY), and each process hands what
//! it hears to this same hub (`cluster`).

use tokio::sync::watch;

use crate::watch_map::WatchMap;

pub trait ArticleHub: Send + Sync + 'static {
    /// Starts listening for changes of one article. Subscribe *before*
    /// reading the article, so no change falls in between.
    fn subscribe(&self, article: &str) -> Subscription;
    /// Announces that an article changed, to its listeners if any.
    fn publish(&self, article: &str);
}

/// Changes of one article, as long as it is held.
pub struct Subscription {
    // Fields drop in declaration order: the receiver goes first, so the
    // guard after it sees only the listeners that remain.
    receiver: watch::Receiver<u64>,
    _unsubscribe: Box<dyn Send + Sync>,
}

impl Subscription {
    /// Resolves once something was published after the last call (at once
    /// if that already happened); `None` when the hub went away.
    pub async fn changed(&mut self) -> Option<()> {
        self.receiver.changed().await.ok()
    }
}

/// The hub of a single server process. Each article's value counts its
/// news; listeners only care that it moved.
#[derive(Default)]
pub struct MemoryHub {
    channels: WatchMap<u64>,
}

impl MemoryHub {
    pub fn new() -> Self {
        Self::default()
    }

    /// Wakes every listener (they read again what they follow).
    pub fn publish_all(&self) {
        self.channels.publish_all(|n| *n = n.wrapping_add(1));
    }

    /// Articles with at least one listener (for tests).
    pub fn watched(&self) -> usize {
        self.channels.watched()
    }
}

impl ArticleHub for MemoryHub {
    fn subscribe(&self, article: &str) -> Subscription {
        let (receiver, _unsubscribe) = self.channels.subscribe(article, || 0);
        Subscription {
            receiver,
            _unsubscribe,
        }
    }

    fn publish(&self, article: &str) {
        self.channels.publish(article, |n| *n = n.wrapping_add(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn listeners_hear_news_published_after_they_subscribed_once_per_burst() {
        let hub = MemoryHub::new();
        let mut a = hub.subscribe("a");
        let mut b = hub.subscribe("a");
        hub.publish("a");
        hub.publish("a");
        assert_eq!(a.changed().await, Some(()));
        assert_eq!(b.changed().await, Some(()));
        let again = tokio::time::timeout(Duration::from_millis(30), a.changed()).await;
        assert!(again.is_err(), "two publications before a look are one");
    }

    #[tokio::test]
    async fn articles_are_separate_and_channels_go_with_their_last_listener() {
        let hub = MemoryHub::new();
        let mut a = hub.subscribe("a");
        hub.publish("b");
        let heard = tokio::time::timeout(Duration::from_millis(30), a.changed()).await;
        assert!(heard.is_err(), "a heard b's news");
        let other = hub.subscribe("a");
        assert_eq!(hub.watched(), 1);
        drop(a);
        drop(other);
        assert_eq!(hub.watched(), 0);
        hub.publish("a");
        assert_eq!(hub.watched(), 0);
    }
}
