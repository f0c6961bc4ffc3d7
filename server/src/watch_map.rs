//! A watch channel per key, made by the first listener and removed with
//! the last: what the login hub (per attempt) and the article hub (per
//! article) keep in one process. Only keys someone listens to take memory,
//! and publishing to a key nobody watches does nothing.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use tokio::sync::watch;

type Channels<T> = Mutex<HashMap<String, watch::Sender<T>>>;

pub struct WatchMap<T> {
    channels: Arc<Channels<T>>,
}

impl<T> Default for WatchMap<T> {
    fn default() -> Self {
        Self {
            channels: Arc::default(),
        }
    }
}

impl<T: Send + Sync + 'static> WatchMap<T> {
    /// A receiver for `key` (its channel starts at `initial()` if it is
    /// new) and a guard that removes the channel when it is the last one
    /// dropped. Drop the receiver before the guard (declare it first).
    pub fn subscribe(
        &self,
        key: &str,
        initial: impl FnOnce() -> T,
    ) -> (watch::Receiver<T>, Box<dyn Send + Sync>) {
        let mut channels = self.lock();
        let receiver = channels
            .entry(key.to_owned())
            .or_insert_with(|| watch::channel(initial()).0)
            .subscribe();
        let guard = Unsubscribe {
            channels: Arc::clone(&self.channels),
            key: key.to_owned(),
        };
        (receiver, Box::new(guard))
    }

    /// Changes `key`'s value and wakes its listeners, if it has any.
    pub fn publish(&self, key: &str, change: impl FnOnce(&mut T)) {
        if let Some(sender) = self.lock().get(key) {
            sender.send_modify(change);
        }
    }

    /// Changes every key's value and wakes all listeners (after another
    /// process's news may have been missed).
    pub fn publish_all(&self, change: impl Fn(&mut T)) {
        for sender in self.lock().values() {
            sender.send_modify(&change);
        }
    }

    /// Keys with at least one listener (for tests and the operator page).
    pub fn watched(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<T>>> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Removes a key's channel when its last listener leaves.
struct Unsubscribe<T> {
    channels: Arc<Channels<T>>,
    key: String,
}

impl<T> Drop for Unsubscribe<T> {
    fn drop(&mut self) {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        // The subscription's receiver is already gone (it is dropped first).
        if channels
            .get(&self.key)
            .is_some_and(|s| s.receiver_count() == 0)
        {
            channels.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_come_with_the_first_listener_and_go_with_the_last() {
        let map = WatchMap::<u32>::default();
        let (a, a_guard) = map.subscribe("k", || 0);
        let (b, b_guard) = map.subscribe("k", || 0);
        assert_eq!(map.watched(), 1);
        map.publish("k", |n| *n = 5);
        assert_eq!(*a.borrow(), 5);
        drop(a);
        drop(a_guard);
        assert_eq!(map.watched(), 1);
        drop(b);
        drop(b_guard);
        assert_eq!(map.watched(), 0);
        map.publish("k", |n| *n = 6); // nobody listens: nothing kept
        assert_eq!(map.watched(), 0);
    }
}
