//! How many article event streams may be open at once: per user (each tab
//! following an article is one) and on the whole server (each holds a
//! connection and a file descriptor, which the WeChat callback needs too).
//! Mirrors `wechat_login::streams`: a stream holds a [`StreamPermit`] and the
//! counts go down when it is dropped, whatever ends the stream.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

pub struct StreamLimits {
    per_user: u32,
    /// 0: no limit.
    max: u32,
    open: Arc<Mutex<Open>>,
}

#[derive(Default)]
struct Open {
    total: u32,
    users: HashMap<i64, u32>,
}

/// Which limit a new stream would break.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamRefusal {
    User,
    Server,
}

/// One open stream, counted until dropped.
pub struct StreamPermit {
    open: Arc<Mutex<Open>>,
    user: i64,
}

impl StreamLimits {
    pub fn new(per_user: u32, max: u32) -> Self {
        Self {
            per_user,
            max,
            open: Arc::default(),
        }
    }

    /// Streams open now (the operator page).
    pub fn open_count(&self) -> u32 {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }

    /// Counts a new stream of `user`, if the limits allow it.
    pub fn open(&self, user: i64) -> Result<StreamPermit, StreamRefusal> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if self.max != 0 && open.total >= self.max {
            return Err(StreamRefusal::Server);
        }
        if open.users.get(&user).copied().unwrap_or(0) >= self.per_user {
            return Err(StreamRefusal::User);
        }
        open.total += 1;
        *open.users.entry(user).or_default() += 1;
        Ok(StreamPermit {
            open: Arc::clone(&self.open),
            user,
        })
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.users.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.users.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_limit_holds_and_dropping_frees_the_place() {
        let limits = StreamLimits::new(2, 3);
        let a = limits.open(1).unwrap();
        let _b = limits.open(1).unwrap();
        assert_eq!(limits.open(1).err(), Some(StreamRefusal::User));
        let _c = limits.open(2).unwrap();
        assert_eq!(limits.open(3).err(), Some(StreamRefusal::Server));
        drop(a);
        assert_eq!(limits.open_count(), 2);
        assert!(limits.open(1).is_ok());
        let unlimited = StreamLimits::new(1, 0);
        let permits: Vec<_> = (0..100).map(|u| unlimited.open(u).unwrap()).collect();
        drop(permits);
        assert!(unlimited.open.lock().unwrap().users.is_empty());
    }
}
