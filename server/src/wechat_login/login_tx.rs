//! The steps one login transaction is made of — record a push's stamp and
//! dedup key, find or create its user, read and change an attempt, create a
//! session — whichever engine runs them. What a push or a completion means
//! (`push`, `completion`) is written once against these steps; each engine
//! gives them its SQL: SQLite inside the group-commit writer's transaction
//! (`writer`, through `attempt_sql`, `push_sql`, `user_sql`), PostgreSQL
//! inside a transaction of its own (`store::postgres`).
//!
//! The steps are `async` for PostgreSQL; SQLite's never wait (its writer
//! thread already holds the connection), so the writer runs them to the
//! end in one poll.

use app::{auth::User, modules::wechat_login::status::LoginStatus};

use super::{
    attempt::{Attempt, NewAttempt},
    push_sql::StampSeen,
};

/// One open write transaction of the login.
// Only this crate implements and calls it, with concrete types: the
// futures of PostgreSQL's steps are `Send`, SQLite's never leave the
// writer thread.
#[allow(async_fn_in_trait)]
pub trait LoginTx {
    type Error;

    /// Checks and records a signed `(timestamp, nonce)` with the digest of
    /// its body.
    async fn remember_stamp(
        &mut self,
        timestamp: i64,
        nonce: &str,
        body_hash: &[u8],
        now: i64,
    ) -> Result<StampSeen, Self::Error>;

    /// Claims a WeChat push for handling; false when it was handled before.
    async fn claim_event(&mut self, key: &str, now: i64) -> Result<bool, Self::Error>;

    /// The reply recorded for a push handled before.
    async fn handled_reply(&mut self, key: &str) -> Result<Option<String>, Self::Error>;

    async fn save_reply(&mut self, key: &str, reply: &str) -> Result<(), Self::Error>;

    /// Counts one `kind` for the operator page, in this transaction.
    async fn count(&mut self, kind: &str, now: i64) -> Result<(), Self::Error>;

    /// The user of `openid`, created on first sight, marked as following.
    async fn upsert_follower(
        &mut self,
        openid: &str,
        new_name: &str,
        now: i64,
    ) -> Result<User, Self::Error>;

    /// The user of `openid`, created (not following) on first sight.
    async fn upsert_visitor(
        &mut self,
        openid: &str,
        new_name: &str,
        now: i64,
    ) -> Result<User, Self::Error>;

    async fn mark_unfollowed(&mut self, openid: &str, now: i64) -> Result<(), Self::Error>;

    async fn find_user(&mut self, id: i64) -> Result<Option<User>, Self::Error>;

    /// The attempt `id` as this transaction sees it; PostgreSQL also locks
    /// its row until the commit, so two processes handle it one after the
    /// other.
    async fn find_attempt(&mut self, id: &str) -> Result<Option<Attempt>, Self::Error>;

    /// The attempts `openid` scanned that still wait for a 确认, newest
    /// first.
    async fn awaiting_confirmation(
        &mut self,
        openid: &str,
        now: i64,
    ) -> Result<Vec<Attempt>, Self::Error>;

    async fn insert_attempt(&mut self, attempt: &NewAttempt) -> Result<(), Self::Error>;

    /// Records a scan of the pending attempt `id`: its new status, or
    /// `None` if it was no longer pending.
    async fn record_scan(
        &mut self,
        id: &str,
        user_id: i64,
        openid: &str,
        confirm_code: Option<&str>,
        now: i64,
    ) -> Result<Option<LoginStatus>, Self::Error>;

    /// The 确认 of attempt `id`; whether it changed.
    async fn record_confirmation(&mut self, id: &str, now: i64) -> Result<bool, Self::Error>;

    /// Redeems the confirmed attempt `id`; true only for the one caller
    /// that did it.
    async fn record_completion(&mut self, id: &str, now: i64) -> Result<bool, Self::Error>;

    async fn create_session(
        &mut self,
        token_hash: &[u8],
        user_id: i64,
        now: i64,
        expires_at: i64,
    ) -> Result<(), Self::Error>;
}
