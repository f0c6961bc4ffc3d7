//! What the login keeps, behind one interface per concern, whichever
//! database engine runs the site:
//! - [`LoginStore`]: attempts, WeChat pushes (dedup keys and signed stamps),
//!   the users they create, completions, the clean-up;
//! - [`SessionStore`]: who a session cookie belongs to, and its revocation;
//! - the WeChat access token: `token_store` (the `wechat` crate's
//!   `TokenStore`).
//!
//! SQLite ([`sqlite`]) writes through the group-commit writer (`writer`),
//! one process owning the file. PostgreSQL ([`postgres`]) gives each write
//! its own transaction, with row locks and `ON CONFLICT`, so several server
//! processes share one database: the same push delivered to two of them is
//! one login, and every change a browser waits for is announced to all of
//! them (`crate::notify`).
//!
//! Handlers see only these traits and the engine-free types they return.

pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

use app::auth::User;
use async_trait::async_trait;
use wechat::Stamp;

use super::{
    attempt::{Attempt, NewAttempt},
    cleanup::Removed,
    hub::LoginHub,
    push::Rules,
    session_cache::SessionCache,
};
pub use super::{
    completion::{Authorized, Completed, Completion},
    push::{Push, Pushed},
};
use crate::{
    db::StoreError,
    db_writer::DbWriter,
    notify::{Announcer, Listener},
    state::Shutdown,
};

pub type StoreResult<T> = Result<T, StoreError>;

/// The digest recorded with the stamp of a URL check (GET): no body hashes
/// to it, so the check's signed triple cannot be replayed as a push.
pub const URL_CHECK_DIGEST: [u8; 32] = [0; 32];

/// Attempts and what changes them. Every method is one transaction; the
/// waiting browsers hear of each committed change of an attempt (`hub`).
#[async_trait]
pub trait LoginStore: Send + Sync {
    /// Handles a verified WeChat push: the passive reply, or the refusal
    /// of a reused signature. Stamp, dedup key, user and attempt in one
    /// transaction.
    async fn push(&self, push: Push) -> StoreResult<Pushed>;

    /// Remembers the stamp of a URL check, so it cannot be replayed as a
    /// push.
    async fn url_check(&self, stamp: Stamp) -> StoreResult<()>;

    /// Stores a new attempt, `pending`, durably.
    async fn insert_attempt(&self, attempt: NewAttempt) -> StoreResult<()>;

    /// Removes an attempt whose QR code WeChat refused to make.
    async fn delete_attempt(&self, id: &str) -> StoreResult<()>;

    /// The attempt `id` as committed.
    async fn find_attempt(&self, id: &str) -> StoreResult<Option<Attempt>>;

    /// Marks a confirmed attempt consumed and creates its session, once.
    async fn complete(&self, completion: Completion) -> StoreResult<Completed>;

    /// Logs in the visitor of a one-tap login, once per attempt.
    async fn authorized(&self, authorized: Authorized) -> StoreResult<Completed>;

    /// Deletes one chunk of stale rows (at most `limit` of each kind); what
    /// it removed and whether more may be left.
    async fn clean(&self, limit: u64) -> StoreResult<(Removed, bool)>;

    /// Whether the store takes writes (`/healthz`).
    async fn ping(&self) -> bool;

    /// Stops taking writes once those already sent are written (SQLite's
    /// writer; nothing to do on PostgreSQL).
    async fn stop(&self);
}

/// A live session's user, his openid (which only the server sees: it
/// decides who is an operator), and when the session ends (Unix ms).
pub struct SessionUser {
    pub user: User,
    pub openid: String,
    pub expires_at: i64,
}

/// Sessions, by the SHA-256 of their cookie's token.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// The user of a live (unexpired, not revoked) session.
    async fn session_user(&self, token_hash: &[u8], now: i64) -> StoreResult<Option<SessionUser>>;

    /// Ends a session: from now on it logs nobody in, in any process
    /// (PostgreSQL tells the others' session caches, `notify::SESSION`).
    async fn revoke(&self, token_hash: &[u8], now: i64) -> StoreResult<()>;
}

/// The login's stores on one database.
pub struct Stores {
    pub login: Arc<dyn LoginStore>,
    pub sessions: Arc<dyn SessionStore>,
}

impl Stores {
    /// SQLite: the login's writes go through `db_writer` (group commit),
    /// which publishes each committed change on `hub`.
    pub fn sqlite(
        pool: sqlx::SqlitePool,
        db_writer: Arc<DbWriter>,
        hub: Arc<dyn LoginHub>,
        rules: Rules,
    ) -> Self {
        let store = Arc::new(sqlite::SqliteStore::new(pool, db_writer, hub, rules));
        Self {
            login: store.clone(),
            sessions: store,
        }
    }

    /// PostgreSQL: changes reach `hub` and `sessions` (this process's
    /// session cache) through `listener`, from whichever process made them.
    pub fn postgres(
        pool: sqlx::PgPool,
        listener: &Listener,
        hub: Arc<dyn LoginHub>,
        sessions: Arc<SessionCache>,
        rules: Rules,
        shutdown: Shutdown,
    ) -> Self {
        super::hub::listen(hub, listener, shutdown.clone());
        SessionCache::listen(sessions, listener);
        let announcer = Announcer::start(&pool, shutdown);
        let store = Arc::new(postgres::PgStore::new(pool, rules, announcer));
        Self {
            login: store.clone(),
            sessions: store,
        }
    }
}
