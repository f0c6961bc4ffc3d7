//! How much may be generated: per user, generations running at once and
//! per Beijing day (in the database, see `ArticleStore::reserve_generation`);
//! for the whole site, DeepSeek requests at once (DeepSeek limits
//! concurrency per account), the others waiting in line.
//!
//! On SQLite one process runs every generation: the places are kept here,
//! in memory. On PostgreSQL several processes share the limits: the places
//! are leases in the database ([`super::leases`]); the line of generations
//! waiting for DeepSeek stays per process.
//!
//! Each check takes its place in the same step (under one lock, or in one
//! transaction), so parallel requests cannot all pass a check that only
//! one of them should.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc, Mutex, PoisonError,
    },
};

use app::modules::writing::protocol::WritingError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::leases::{Lease, Leases, Place};
use crate::config::WritingConfig;

/// Generations waiting for a DeepSeek slot, per slot, before new ones are
/// refused as "the site is busy": with 50 slots, 200 may wait (a few
/// minutes at most for the last, at DeepSeek's pace).
const WAITING_PER_SLOT: u32 = 4;

pub struct Limits {
    config: WritingConfig,
    /// Per user: generations and outlines in progress.
    running: Arc<Mutex<HashMap<i64, u32>>>,
    deepseek: Arc<Semaphore>,
    waiting: Arc<AtomicU32>,
    /// The cluster's places (PostgreSQL), instead of `running` and
    /// `deepseek`.
    cluster: Option<Arc<Leases>>,
}

/// One of a user's places, held while a generation (or an outline) is in
/// progress; given back when dropped, whatever ends it.
pub enum UserSlot {
    Memory(MemorySlot),
    Lease(Lease),
}

/// A user's place in memory (one process).
pub struct MemorySlot {
    running: Arc<Mutex<HashMap<i64, u32>>>,
    user: i64,
}

impl UserSlot {
    /// Gives the place back now (a lease: once the database has it).
    pub async fn release(self) {
        match self {
            Self::Lease(lease) => lease.release().await,
            memory => drop(memory),
        }
    }
}

/// A DeepSeek place, held while the request runs.
pub enum DeepseekSlot {
    Memory(OwnedSemaphorePermit),
    Lease(Lease),
}

/// A place in the line for a DeepSeek slot, held from the start of a
/// generation until it gets its slot (or ends).
pub struct InLine {
    waiting: Arc<AtomicU32>,
}

impl Limits {
    /// Places in memory (one process: SQLite).
    pub fn new(config: WritingConfig) -> Self {
        Self {
            deepseek: Arc::new(Semaphore::new(config.site_concurrent as usize)),
            config,
            running: Arc::default(),
            waiting: Arc::default(),
            cluster: None,
        }
    }

    /// Places in the database, shared by every process (PostgreSQL).
    pub fn clustered(config: WritingConfig, leases: Arc<Leases>) -> Self {
        Self {
            cluster: Some(leases),
            ..Self::new(config)
        }
    }

    pub fn config(&self) -> &WritingConfig {
        &self.config
    }

    /// Takes one of `user`'s places, if one is free.
    pub async fn reserve_user(&self, user: i64) -> Result<UserSlot, WritingError> {
        let refused = WritingError::TooManyRunning {
            limit: self.config.user_concurrent,
        };
        if let Some(cluster) = &self.cluster {
            return match cluster
                .take(Place::User(user), self.config.user_concurrent)
                .await
            {
                Ok(Some(lease)) => Ok(UserSlot::Lease(lease)),
                Ok(None) => Err(refused),
                Err(error) => Err(super::server_error(error)),
            };
        }
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let count = running.entry(user).or_default();
        if *count >= self.config.user_concurrent {
            if *count == 0 {
                running.remove(&user);
            }
            return Err(refused);
        }
        *count += 1;
        Ok(UserSlot::Memory(MemorySlot {
            running: Arc::clone(&self.running),
            user,
        }))
    }

    /// Generations and outlines of `user` in progress (in the cluster).
    pub async fn running(&self, user: i64) -> Result<u32, WritingError> {
        if let Some(cluster) = &self.cluster {
            return cluster
                .count(Place::User(user))
                .await
                .map_err(super::server_error);
        }
        Ok(self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&user)
            .copied()
            .unwrap_or(0))
    }

    /// Joins the line for a DeepSeek slot, unless it is too long already.
    pub fn join_line(&self) -> Result<InLine, WritingError> {
        let most = self
            .config
            .site_concurrent
            .saturating_mul(WAITING_PER_SLOT)
            .max(WAITING_PER_SLOT);
        let waiting = self.waiting.fetch_add(1, Ordering::AcqRel);
        let line = InLine {
            waiting: Arc::clone(&self.waiting),
        };
        // Everyone in line beyond the free slots waits.
        let free = self.config.site_concurrent.saturating_sub(self.in_flight());
        if waiting >= most + free {
            tracing::warn!(
                waiting,
                "writing: the line for DeepSeek is full (WRITING_SITE_CONCURRENT); refusing new generations"
            );
            return Err(WritingError::SiteBusy);
        }
        Ok(line)
    }

    /// Waits for a DeepSeek slot; the line place is given back once it
    /// is taken.
    pub async fn deepseek_slot(&self, line: InLine) -> DeepseekSlot {
        let slot = match &self.cluster {
            Some(cluster) => {
                DeepseekSlot::Lease(cluster.deepseek(self.config.site_concurrent).await)
            }
            None => DeepseekSlot::Memory(
                Arc::clone(&self.deepseek)
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed"),
            ),
        };
        drop(line);
        slot
    }

    /// Generations waiting for a DeepSeek slot now.
    pub fn waiting(&self) -> u32 {
        self.waiting.load(Ordering::Acquire)
    }

    /// DeepSeek requests under way now (in this process).
    pub fn in_flight(&self) -> u32 {
        match &self.cluster {
            Some(cluster) => cluster.deepseek_held(),
            None => self
                .config
                .site_concurrent
                .saturating_sub(self.deepseek.available_permits() as u32),
        }
    }
}

impl Drop for MemorySlot {
    fn drop(&mut self) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = running.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                running.remove(&self.user);
            }
        }
    }
}

impl Drop for InLine {
    fn drop(&mut self) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

const DAY_MS: i64 = 86_400_000;
/// Beijing is UTC+8 all year.
const BEIJING_MS: i64 = 8 * 3_600_000;

/// When the Beijing day of `now` began (Unix ms).
pub fn beijing_day_start(now: i64) -> i64 {
    (now + BEIJING_MS).div_euclid(DAY_MS) * DAY_MS - BEIJING_MS
}

/// The daily limit's refusal, saying when the visitor can write again.
pub fn daily_limit_reached(limit: u32) -> WritingError {
    WritingError::DailyLimit {
        limit,
        when: "明天零点（北京时间）以后".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(user: u32, site: u32) -> Limits {
        Limits::new(WritingConfig {
            daily_limit: 10,
            user_concurrent: user,
            site_concurrent: site,
            streams_per_user: 4,
        })
    }

    #[tokio::test]
    async fn a_user_has_his_places_and_gets_them_back() {
        let limits = limits(2, 10);
        let a = limits.reserve_user(1).await.unwrap();
        let _b = limits.reserve_user(1).await.unwrap();
        assert_eq!(
            limits.reserve_user(1).await.err(),
            Some(WritingError::TooManyRunning { limit: 2 })
        );
        let _other = limits.reserve_user(2).await.unwrap();
        assert_eq!(limits.running(1).await, Ok(2));
        drop(a);
        assert_eq!(limits.running(1).await, Ok(1));
        assert!(limits.reserve_user(1).await.is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn places_hold_under_parallel_requests() {
        let limits = Arc::new(limits(3, 10));
        let tries: Vec<_> = (0..16)
            .map(|_| {
                let limits = limits.clone();
                tokio::spawn(async move { limits.reserve_user(7).await.ok() })
            })
            .collect();
        let mut taken = Vec::new();
        for t in tries {
            taken.extend(t.await.unwrap());
        }
        assert_eq!(taken.len(), 3);
        taken.clear();
        assert_eq!(limits.running(7).await, Ok(0));
        assert!(limits.running.lock().unwrap().is_empty(), "no entry left");
    }

    #[tokio::test]
    async fn the_site_cap_holds_and_the_line_is_bounded() {
        let limits = limits(100, 2);
        let a = limits.deepseek_slot(limits.join_line().unwrap()).await;
        let _b = limits.deepseek_slot(limits.join_line().unwrap()).await;
        assert_eq!(limits.in_flight(), 2);
        // 2 slots × 4 may wait.
        let line: Vec<_> = (0..8).map(|_| limits.join_line().unwrap()).collect();
        assert_eq!(limits.join_line().err(), Some(WritingError::SiteBusy));
        assert_eq!(limits.waiting(), 8);
        let mut third = Box::pin(limits.deepseek_slot(limits_line(&line)));
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(20), &mut third)
                .await
                .is_err(),
            "no third DeepSeek request while two run"
        );
        drop(a);
        let _c = third.await;
        assert_eq!(limits.in_flight(), 2);
    }

    /// A place of its own for the test's third request.
    fn limits_line(line: &[InLine]) -> InLine {
        line[0].waiting.fetch_add(1, Ordering::AcqRel);
        InLine {
            waiting: Arc::clone(&line[0].waiting),
        }
    }

    #[test]
    fn the_beijing_day_starts_at_16_utc() {
        // 2026-11-21 15:59:59.999 UTC is 23:59:59.999 in Beijing.
        let before_midnight = 1_795_276_799_999;
        let midnight = 1_795_276_800_000;
        assert_eq!(beijing_day_start(midnight), midnight);
        assert_eq!(beijing_day_start(midnight + 1), midnight);
        assert_eq!(beijing_day_start(before_midnight), midnight - DAY_MS);
        assert_eq!(crate::clock::beijing(midnight), "2026-11-22 00:00:00");
    }
}
