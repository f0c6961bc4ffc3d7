//! The login's stores on PostgreSQL, shared by every server process on the
//! database.
//!
//! Each write is one transaction of its own (no group commit: PostgreSQL
//! takes many writers at once, and `synchronous_commit` stays on, so a
//! login WeChat delivered is on disk before WeChat gets its answer):
//! - a push claims its stamp and dedup key with `INSERT … ON CONFLICT DO
//!   NOTHING`: the same push delivered to two processes at once makes the
//!   second wait for the first's commit, then find both taken and answer
//!   with the first's recorded reply — one login;
//! - the user is an upsert (`ON CONFLICT (openid) DO UPDATE`), which also
//!   locks his row until the commit, so two scans by one person wait for
//!   each other;
//! - the attempt is read `FOR UPDATE` and changed only from the status the
//!   change starts from, so two processes change it once;
//! - every change a browser waits for is announced on `notify::LOGIN` (the
//!   attempt id) once committed, by this process's [`Announcer`] (many in
//!   one statement: a notification inside each push's transaction made the
//!   pushes commit one at a time, see `notify`); every revocation sends
//!   `notify::SESSION` (the token hash in hex) inside its transaction:
//!   delivered to every process at the commit, so no cache keeps a revoked
//!   session.
//!
//! PostgreSQL's `TEXT` cannot hold U+0000, which SQLite's can; text that
//! comes from outside (a push's fields, a request's nonce) is stored with
//! it replaced ([`text`]), so such a push is handled, not failed.

use std::borrow::Cow;

use app::{auth::User, modules::wechat_login::status::LoginStatus};
use async_trait::async_trait;
use sqlx::{PgPool, Postgres, Transaction};
use wechat::Stamp;

use super::{
    Authorized, Completed, Completion, LoginStore, Push, Pushed, SessionStore, SessionUser,
    StoreResult, URL_CHECK_DIGEST,
};
use crate::{
    clock,
    notify::{self, Announcer},
    ops::events,
    wechat_login::{
        attempt::{Attempt, NewAttempt},
        cleanup::{Cutoffs, Removed},
        completion,
        login_tx::LoginTx,
        push::{self, Rules, Taken},
        push_sql::StampSeen,
    },
};

/// Every column of [`Attempt`].
const SELECT_ATTEMPT: &str = "SELECT id, binding_hash, status, openid, user_id, client_ip,
    user_agent, created_at, expires_at, confirmed_at, confirm_code FROM login_attempts";

pub struct PgStore {
    pool: PgPool,
    rules: Rules,
    announcer: Announcer,
}

impl PgStore {
    pub fn new(pool: PgPool, rules: Rules, announcer: Announcer) -> Self {
        Self {
            pool,
            rules,
            announcer,
        }
    }

    async fn begin(&self) -> sqlx::Result<PgTx> {
        Ok(PgTx(self.pool.begin().await?))
    }
}

/// `value` as PostgreSQL's `TEXT` can hold it: U+0000 replaced by U+FFFD.
fn text(value: &str) -> Cow<'_, str> {
    if value.contains('\0') {
        Cow::Owned(value.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(value)
    }
}

#[async_trait]
impl LoginStore for PgStore {
    async fn push(&self, push: Push) -> StoreResult<Pushed> {
        let now = clock::now_ms();
        let mut tx = self.begin().await?;
        let (pushed, changed) = match push::apply(&self.rules, &mut tx, &push, now).await? {
            Taken::Handled(outcome) => (Pushed::Reply(outcome.reply), outcome.changed),
            Taken::StampReused => (Pushed::StampReused, None),
        };
        tx.0.commit().await?;
        if let Some((attempt, status)) = &changed {
            self.announcer.announce(notify::LOGIN, attempt);
            tracing::info!(attempt = %push::short(attempt), status = status.as_str(), "login scanned");
        }
        Ok(pushed)
    }

    async fn url_check(&self, stamp: Stamp) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        tx.remember_stamp(
            stamp.timestamp,
            &stamp.nonce,
            &URL_CHECK_DIGEST,
            clock::now_ms(),
        )
        .await?;
        tx.0.commit().await?;
        Ok(())
    }

    async fn insert_attempt(&self, attempt: NewAttempt) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        tx.insert_attempt(&attempt).await?;
        tx.0.commit().await?;
        Ok(())
    }

    async fn delete_attempt(&self, id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_attempts WHERE id = $1")
            .bind(text(id))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn find_attempt(&self, id: &str) -> StoreResult<Option<Attempt>> {
        Ok(sqlx::query_as(&format!("{SELECT_ATTEMPT} WHERE id = $1"))
            .bind(text(id))
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn complete(&self, completion: Completion) -> StoreResult<Completed> {
        let mut tx = self.begin().await?;
        let completed = completion::complete(&mut tx, &completion, clock::now_ms()).await?;
        tx.0.commit().await?;
        if matches!(completed, Completed::LoggedIn(_)) {
            self.announcer.announce(notify::LOGIN, &completion.attempt);
        }
        Ok(completed)
    }

    async fn authorized(&self, authorized: Authorized) -> StoreResult<Completed> {
        let mut tx = self.begin().await?;
        let completed = completion::authorized(&mut tx, &authorized, clock::now_ms()).await?;
        tx.0.commit().await?;
        Ok(completed)
    }

    async fn clean(&self, limit: u64) -> StoreResult<(Removed, bool)> {
        let before = Cutoffs::at(clock::now_ms());
        let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
        // Each table's expired rows, at most `limit` of them: (table, its
        // key's columns, the column compared with the cutoff, the cutoff).
        let chunks = [
            ("login_attempts", "id", "expires_at", before.attempts),
            (
                "sessions",
                "token_hash",
                "expires_at",
                before.sessions_expired,
            ),
            (
                "sessions",
                "token_hash",
                "revoked_at",
                before.sessions_revoked,
            ),
            ("wechat_events", "dedup_key", "received_at", before.events),
            (
                "push_nonces",
                "timestamp, nonce",
                "timestamp",
                before.stamps,
            ),
        ];
        let mut removed = [0u64; 5];
        let mut tx = self.pool.begin().await?;
        for ((table, key, column, cutoff), removed) in chunks.into_iter().zip(&mut removed) {
            *removed = sqlx::query(&format!(
                "DELETE FROM {table} WHERE ({key}) IN
                 (SELECT {key} FROM {table} WHERE {column} < $1 LIMIT $2)"
            ))
            .bind(cutoff)
            .bind(limit_sql)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        let [attempts, expired, revoked, events, stamps] = removed;
        tx.commit().await?;
        Ok(Removed::of_chunk(
            limit, attempts, expired, revoked, events, stamps,
        ))
    }

    async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    async fn stop(&self) {}
}

#[async_trait]
impl SessionStore for PgStore {
    async fn session_user(&self, token_hash: &[u8], now: i64) -> StoreResult<Option<SessionUser>> {
        let row: Option<(i64, String, String, i64)> = sqlx::query_as(
            "SELECT users.id, users.display_name, users.openid, sessions.expires_at FROM sessions
             JOIN users ON users.id = sessions.user_id
             WHERE sessions.token_hash = $1 AND sessions.revoked_at IS NULL
               AND sessions.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(
            row.map(|(id, display_name, openid, expires_at)| SessionUser {
                user: User { id, display_name },
                openid,
                expires_at,
            }),
        )
    }

    async fn revoke(&self, token_hash: &[u8], now: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(token_hash)
        .execute(&mut *tx)
        .await?;
        // Every process's session cache forgets it at the commit.
        notify::send(&mut *tx, notify::SESSION, &hex::encode(token_hash)).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// One login transaction on PostgreSQL.
struct PgTx(Transaction<'static, Postgres>);

impl LoginTx for PgTx {
    type Error = sqlx::Error;

    async fn remember_stamp(
        &mut self,
        timestamp: i64,
        nonce: &str,
        body_hash: &[u8],
        now: i64,
    ) -> sqlx::Result<StampSeen> {
        let nonce = text(nonce);
        let inserted = sqlx::query(
            "INSERT INTO push_nonces (timestamp, nonce, body_hash, received_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(timestamp)
        .bind(&*nonce)
        .bind(body_hash)
        .bind(now)
        .execute(&mut *self.0)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(StampSeen::New);
        }
        // Committed by another transaction (which this INSERT waited for).
        let (known,): (Vec<u8>,) =
            sqlx::query_as("SELECT body_hash FROM push_nonces WHERE timestamp = $1 AND nonce = $2")
                .bind(timestamp)
                .bind(&*nonce)
                .fetch_one(&mut *self.0)
                .await?;
        Ok(if known == body_hash {
            StampSeen::SameBody
        } else {
            StampSeen::OtherBody
        })
    }

    async fn claim_event(&mut self, key: &str, now: i64) -> sqlx::Result<bool> {
        let claimed: Option<(String,)> = sqlx::query_as(
            "INSERT INTO wechat_events (dedup_key, received_at) VALUES ($1, $2)
             ON CONFLICT DO NOTHING RETURNING dedup_key",
        )
        .bind(text(key))
        .bind(now)
        .fetch_optional(&mut *self.0)
        .await?;
        Ok(claimed.is_some())
    }

    async fn handled_reply(&mut self, key: &str) -> sqlx::Result<Option<String>> {
        let reply: Option<(Option<String>,)> =
            sqlx::query_as("SELECT reply FROM wechat_events WHERE dedup_key = $1")
                .bind(text(key))
                .fetch_optional(&mut *self.0)
                .await?;
        Ok(reply.and_then(|(reply,)| reply))
    }

    async fn save_reply(&mut self, key: &str, reply: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE wechat_events SET reply = $1 WHERE dedup_key = $2")
            .bind(text(reply))
            .bind(text(key))
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn count(&mut self, kind: &str, now: i64) -> sqlx::Result<()> {
        events::count_in_postgres(&mut self.0, kind, 1, now).await
    }

    async fn upsert_follower(
        &mut self,
        openid: &str,
        new_name: &str,
        now: i64,
    ) -> sqlx::Result<User> {
        let (id, display_name): (i64, String) = sqlx::query_as(
            "INSERT INTO users (openid, display_name, following, created_at) VALUES ($1, $2, 1, $3)
             ON CONFLICT (openid) DO UPDATE SET following = 1, unsubscribed_at = NULL
             RETURNING id, display_name",
        )
        .bind(text(openid))
        .bind(text(new_name))
        .bind(now)
        .fetch_one(&mut *self.0)
        .await?;
        Ok(User { id, display_name })
    }

    async fn upsert_visitor(
        &mut self,
        openid: &str,
        new_name: &str,
        now: i64,
    ) -> sqlx::Result<User> {
        let (id, display_name): (i64, String) = sqlx::query_as(
            "INSERT INTO users (openid, display_name, following, created_at) VALUES ($1, $2, 0, $3)
             ON CONFLICT (openid) DO UPDATE SET openid = excluded.openid
             RETURNING id, display_name",
        )
        .bind(text(openid))
        .bind(text(new_name))
        .bind(now)
        .fetch_one(&mut *self.0)
        .await?;
        Ok(User { id, display_name })
    }

    async fn mark_unfollowed(&mut self, openid: &str, now: i64) -> sqlx::Result<()> {
        sqlx::query("UPDATE users SET following = 0, unsubscribed_at = $1 WHERE openid = $2")
            .bind(now)
            .bind(text(openid))
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn find_user(&mut self, id: i64) -> sqlx::Result<Option<User>> {
        let user: Option<(i64, String)> =
            sqlx::query_as("SELECT id, display_name FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *self.0)
                .await?;
        Ok(user.map(|(id, display_name)| User { id, display_name }))
    }

    async fn find_attempt(&mut self, id: &str) -> sqlx::Result<Option<Attempt>> {
        sqlx::query_as(&format!("{SELECT_ATTEMPT} WHERE id = $1 FOR UPDATE"))
            .bind(text(id))
            .fetch_optional(&mut *self.0)
            .await
    }

    async fn awaiting_confirmation(
        &mut self,
        openid: &str,
        now: i64,
    ) -> sqlx::Result<Vec<Attempt>> {
        sqlx::query_as(&format!(
            "{SELECT_ATTEMPT} WHERE openid = $1 AND status = $2 AND expires_at > $3
             ORDER BY created_at DESC"
        ))
        .bind(text(openid))
        .bind(LoginStatus::AwaitingConfirmation)
        .bind(now)
        .fetch_all(&mut *self.0)
        .await
    }

    async fn insert_attempt(&mut self, attempt: &NewAttempt) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO login_attempts
                 (id, binding_hash, status, client_ip, user_agent, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(text(&attempt.id))
        .bind(&attempt.binding_hash)
        .bind(LoginStatus::Pending)
        .bind(text(&attempt.client_ip))
        .bind(text(&attempt.user_agent))
        .bind(attempt.created_at)
        .bind(attempt.expires_at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn record_scan(
        &mut self,
        id: &str,
        user_id: i64,
        openid: &str,
        confirm_code: Option<&str>,
        now: i64,
    ) -> sqlx::Result<Option<LoginStatus>> {
        let change = app::modules::wechat_login::status::Change::scan(confirm_code.is_some());
        let confirmed_at = (change.to() == LoginStatus::Confirmed).then_some(now);
        let changed = sqlx::query(
            "UPDATE login_attempts
             SET status = $1, openid = $2, user_id = $3, scanned_at = $4,
                 confirmed_at = $5, confirm_code = $6
             WHERE id = $7 AND status = $8",
        )
        .bind(change.to())
        .bind(text(openid))
        .bind(user_id)
        .bind(now)
        .bind(confirmed_at)
        .bind(confirm_code)
        .bind(text(id))
        .bind(change.from())
        .execute(&mut *self.0)
        .await?
        .rows_affected();
        Ok((changed == 1).then_some(change.to()))
    }

    async fn record_confirmation(&mut self, id: &str, now: i64) -> sqlx::Result<bool> {
        let change = app::modules::wechat_login::status::Change::Confirmed;
        let changed = sqlx::query(
            "UPDATE login_attempts SET status = $1, confirmed_at = $2 WHERE id = $3 AND status = $4",
        )
        .bind(change.to())
        .bind(now)
        .bind(text(id))
        .bind(change.from())
        .execute(&mut *self.0)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    async fn record_completion(&mut self, id: &str, now: i64) -> sqlx::Result<bool> {
        let change = app::modules::wechat_login::status::Change::Completed;
        let changed = sqlx::query(
            "UPDATE login_attempts SET status = $1, consumed_at = $2 WHERE id = $3 AND status = $4",
        )
        .bind(change.to())
        .bind(now)
        .bind(text(id))
        .bind(change.from())
        .execute(&mut *self.0)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    async fn create_session(
        &mut self,
        token_hash: &[u8],
        user_id: i64,
        now: i64,
        expires_at: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }
}
