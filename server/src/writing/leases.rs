//! The writing module's places across server processes, on PostgreSQL: a
//! user's running generations (`WRITING_USER_CONCURRENT`) and the site's
//! DeepSeek requests (`WRITING_SITE_CONCURRENT`) hold for the whole
//! cluster, not per process.
//!
//! Each process has a row in `writing_processes`, its lease, renewed every
//! [`HEARTBEAT`] to [`LEASE`] ahead. A place is a row in `writing_leases`
//! owned by the process; only places of live processes (lease not expired)
//! count. A place is taken in one transaction that counts the live ones
//! under an advisory lock (per user, or one for DeepSeek), so two processes
//! cannot both take the last one. A place is given back when its
//! [`Lease`] is dropped; a crashed process gives back nothing, but its
//! places stop counting once its lease expires.
//!
//! SQLite needs none of this: one process owns the file, and
//! [`super::limits`] keeps the places in memory.

use std::{
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::Duration,
};

use sqlx::PgPool;
use tokio::sync::Notify;

use crate::clock;

/// How long a process's places and generations stay its own without a
/// heartbeat. A crashed process's places come back (and its generations
/// are marked interrupted) this long after its last heartbeat at most.
pub const LEASE: Duration = Duration::from_secs(15);
/// How often a process renews its lease: three chances before it expires.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// How often a generation waiting for a DeepSeek place looks again (a
/// place freed in this process wakes it at once). One waiter per process
/// looks, the others wait their turn behind it.
const LOOK_AGAIN: Duration = Duration::from_millis(200);

/// Advisory lock classes (PostgreSQL's two-key form, a key space of its own).
const LOCK_USER: i32 = 13_001;
const LOCK_DEEPSEEK: i32 = 13_002;

/// What a place is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// One of this user's generations in progress.
    User(i64),
    /// One DeepSeek request of the site.
    Deepseek,
}

impl Place {
    fn kind(self) -> &'static str {
        match self {
            Self::User(_) => "user",
            Self::Deepseek => "deepseek",
        }
    }

    fn user(self) -> Option<i64> {
        match self {
            Self::User(user) => Some(user),
            Self::Deepseek => None,
        }
    }

    fn lock(self) -> (i32, i32) {
        match self {
            // Users whose ids agree in the low 32 bits share a lock: they
            // only take turns.
            Self::User(user) => (LOCK_USER, user as i32),
            Self::Deepseek => (LOCK_DEEPSEEK, 0),
        }
    }
}

pub struct Leases {
    db: PgPool,
    process: String,
    /// Places given back whose row is not deleted yet (retried at each
    /// heartbeat if the database was away).
    releasing: Mutex<Vec<i64>>,
    /// DeepSeek places this process holds (the operator page).
    deepseek_held: AtomicU32,
    /// A DeepSeek place was given back in this process.
    freed: Notify,
    /// The one waiter of this process that looks for a DeepSeek place.
    turn: tokio::sync::Mutex<()>,
}

/// A place held until dropped (or [`Lease::release`]d).
pub struct Lease {
    id: i64,
    place: Place,
    leases: Arc<Leases>,
    released: bool,
}

impl Leases {
    /// Registers this process (a fresh random id) with its lease.
    pub async fn join(db: PgPool) -> sqlx::Result<Arc<Self>> {
        let leases = Arc::new(Self {
            db,
            process: hex::encode(rand::random::<[u8; 12]>()),
            releasing: Mutex::default(),
            deepseek_held: AtomicU32::new(0),
            freed: Notify::new(),
            turn: tokio::sync::Mutex::new(()),
        });
        leases.renew().await?;
        Ok(leases)
    }

    /// This process's id (the owner of the versions it runs).
    pub fn process(&self) -> &str {
        &self.process
    }

    /// Renews this process's lease (making its row again if another
    /// process removed it as expired), deletes the places given back, and
    /// forgets processes long gone.
    pub async fn renew(&self) -> sqlx::Result<()> {
        let now = clock::now_ms();
        sqlx::query(
            "INSERT INTO writing_processes (id, expires_at) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at",
        )
        .bind(&self.process)
        .bind(now + LEASE.as_millis() as i64)
        .execute(&self.db)
        .await?;
        self.release_given_back().await?;
        // Their places no longer count anyway; the rows go with them.
        sqlx::query("DELETE FROM writing_processes WHERE expires_at < $1")
            .bind(now - LEASE.as_millis() as i64)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Leaves the cluster (a graceful stop): every place of this process
    /// comes back at once.
    pub async fn leave(&self) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM writing_processes WHERE id = $1")
            .bind(&self.process)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Takes a place if fewer than `limit` are held by live processes.
    pub async fn take(self: &Arc<Self>, place: Place, limit: u32) -> sqlx::Result<Option<Lease>> {
        match self.take_once(place, limit).await {
            // This process's row is gone: another process forgot it after
            // its lease ran out (the database was away longer than the
            // lease). Back in the cluster, then try again.
            Err(error) if is_foreign_key_violation(&error) => {
                tracing::warn!("writing: this process's lease had expired; joining again");
                self.renew().await?;
                self.take_once(place, limit).await
            }
            taken => taken,
        }
    }

    async fn take_once(self: &Arc<Self>, place: Place, limit: u32) -> sqlx::Result<Option<Lease>> {
        let now = clock::now_ms();
        let mut tx = self.db.begin().await?;
        let (class, key) = place.lock();
        sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind(class)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        let held: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM writing_leases l JOIN writing_processes p ON p.id = l.process
             WHERE l.kind = $1 AND l.user_id IS NOT DISTINCT FROM $2 AND p.expires_at > $3",
        )
        .bind(place.kind())
        .bind(place.user())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        if held >= i64::from(limit) {
            return Ok(None);
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO writing_leases (process, kind, user_id) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(&self.process)
        .bind(place.kind())
        .bind(place.user())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        if place == Place::Deepseek {
            self.deepseek_held.fetch_add(1, Ordering::AcqRel);
        }
        Ok(Some(Lease {
            id,
            place,
            leases: self.clone(),
            released: false,
        }))
    }

    /// Waits for one of the site's `cap` DeepSeek places.
    pub async fn deepseek(self: &Arc<Self>, cap: u32) -> Lease {
        let _turn = self.turn.lock().await;
        let mut failing = false;
        loop {
            match self.take(Place::Deepseek, cap).await {
                Ok(Some(lease)) => return lease,
                Ok(None) => failing = false,
                Err(error) if !failing => {
                    failing = true;
                    tracing::error!(%error, "writing: cannot take a DeepSeek place in the database; trying again");
                }
                Err(_) => {}
            }
            tokio::select! {
                _ = self.freed.notified() => {}
                _ = tokio::time::sleep(LOOK_AGAIN) => {}
            }
        }
    }

    /// Places of `place`'s kind (and user) held by live processes.
    pub async fn count(&self, place: Place) -> sqlx::Result<u32> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM writing_leases l JOIN writing_processes p ON p.id = l.process
             WHERE l.kind = $1 AND l.user_id IS NOT DISTINCT FROM $2 AND p.expires_at > $3",
        )
        .bind(place.kind())
        .bind(place.user())
        .bind(clock::now_ms())
        .fetch_one(&self.db)
        .await?;
        Ok(n as u32)
    }

    /// DeepSeek places this process holds.
    pub fn deepseek_held(&self) -> u32 {
        self.deepseek_held.load(Ordering::Acquire)
    }

    async fn release_given_back(&self) -> sqlx::Result<()> {
        let ids = std::mem::take(
            &mut *self
                .releasing
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if ids.is_empty() {
            return Ok(());
        }
        let deleted = sqlx::query("DELETE FROM writing_leases WHERE id = ANY($1)")
            .bind(&ids)
            .execute(&self.db)
            .await;
        if let Err(error) = deleted {
            // Tried again at the next heartbeat (or the next give-back).
            self.releasing
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(ids);
            return Err(error);
        }
        Ok(())
    }
}

fn is_foreign_key_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "23503")
}

impl Lease {
    /// Gives the place back and waits until the database has it (or has
    /// failed: then the next heartbeat tries again).
    pub async fn release(mut self) {
        self.released = true;
        self.give_back();
        let leases = self.leases.clone();
        if let Err(error) = leases.release_given_back().await {
            tracing::warn!(%error, "writing: cannot give a place back in the database; trying again at the next heartbeat");
        }
        if self.place == Place::Deepseek {
            leases.freed.notify_one();
        }
    }

    /// No longer held: counted off here and listed for deletion.
    fn give_back(&self) {
        let leases = &self.leases;
        leases
            .releasing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(self.id);
        if self.place == Place::Deepseek {
            leases.deepseek_held.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        self.give_back();
        let leases = self.leases.clone();
        let deepseek = self.place == Place::Deepseek;
        // Deleted now; a failure leaves it to the next heartbeat.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = leases.release_given_back().await {
                    tracing::warn!(%error, "writing: cannot give a place back in the database; trying again at the next heartbeat");
                }
                if deepseek {
                    leases.freed.notify_one();
                }
            });
        }
    }
}
