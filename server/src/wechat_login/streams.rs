//! How many login event streams may be open at once: per attempt, per
//! client network and on the whole server.
//!
//! An event stream lives until its attempt ends (minutes), each holding a
//! connection and a file descriptor. Without limits one address could open
//! thousands and leave none for the WeChat callback. A stream holds a
//! [`StreamPermit`]; the counts go down when it is dropped, whatever ends
//! the stream. Only open streams are counted, so the memory is bounded by
//! them.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, PoisonError},
};

pub struct StreamLimits {
    per_attempt: u32,
    /// 0: no limit.
    per_network: u32,
    /// 0: no limit.
    max: u32,
    open: Arc<Mutex<Open>>,
}

#[derive(Default)]
struct Open {
    total: u32,
    attempts: HashMap<String, u32>,
    networks: HashMap<IpAddr, u32>,
}

/// Which limit a new stream would break.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamRefusal {
    Attempt,
    Network,
    Server,
}

/// One open stream, counted until dropped.
pub struct StreamPermit {
    open: Arc<Mutex<Open>>,
    attempt: String,
    network: IpAddr,
}

impl StreamLimits {
    pub fn new(per_attempt: u32, per_network: u32, max: u32) -> Self {
        Self {
            per_attempt,
            per_network,
            max,
            open: Arc::default(),
        }
    }

    /// Streams open now (the operator page, tests).
    pub fn open_count(&self) -> u32 {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }

    /// Counts a new stream of `attempt` from `network`, if every limit
    /// allows it.
    pub fn open(&self, attempt: &str, network: IpAddr) -> Result<StreamPermit, StreamRefusal> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if self.max != 0 && open.total >= self.max {
            return Err(StreamRefusal::Server);
        }
        if self.per_network != 0
            && open.networks.get(&network).copied().unwrap_or(0) >= self.per_network
        {
            return Err(StreamRefusal::Network);
        }
        if open.attempts.get(attempt).copied().unwrap_or(0) >= self.per_attempt {
            return Err(StreamRefusal::Attempt);
        }
        open.total += 1;
        *open.networks.entry(network).or_default() += 1;
        *open.attempts.entry(attempt.to_owned()).or_default() += 1;
        Ok(StreamPermit {
            open: Arc::clone(&self.open),
            attempt: attempt.to_owned(),
            network,
        })
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        release(&mut open.networks, &self.network);
        release(&mut open.attempts, &self.attempt);
    }
}

/// One fewer under `key`; the entry goes at zero.
fn release<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, u32>, key: &K) {
    if let Some(count) = counts.get_mut(key) {
        *count = count.saturating_sub(1);
        if *count == 0 {
            counts.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn each_limit_holds_and_dropping_frees_the_place() {
        let limits = StreamLimits::new(2, 3, 5);
        let a1 = limits.open("one", A).unwrap();
        let _a2 = limits.open("one", A).unwrap();
        assert_eq!(limits.open("one", B).err(), Some(StreamRefusal::Attempt));
        let _a3 = limits.open("two", A).unwrap();
        assert_eq!(limits.open("three", A).err(), Some(StreamRefusal::Network));
        let _b1 = limits.open("three", B).unwrap();
        let _b2 = limits.open("four", B).unwrap();
        assert_eq!(limits.open("five", B).err(), Some(StreamRefusal::Server));
        assert_eq!(limits.open_count(), 5);
        drop(a1);
        assert_eq!(limits.open_count(), 4);
        assert!(
            limits.open("one", B).is_ok(),
            "the attempt has a place again"
        );
    }

    #[test]
    fn zero_lifts_the_network_and_server_limits() {
        let limits = StreamLimits::new(1, 0, 0);
        let permits: Vec<_> = (0..1000)
            .map(|i| limits.open(&i.to_string(), A).unwrap())
            .collect();
        assert_eq!(limits.open_count(), 1000);
        drop(permits);
        assert_eq!(limits.open_count(), 0);
        let open = limits.open.lock().unwrap();
        assert!(open.attempts.is_empty() && open.networks.is_empty());
    }
}
