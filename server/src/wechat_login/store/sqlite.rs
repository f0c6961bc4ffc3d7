//! The login's stores on SQLite: writes as jobs of the group-commit writer
//! (`writer`), reads through the pool beside it (WAL).

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::SqlitePool;
use wechat::Stamp;

use super::{
    Authorized, Completed, Completion, LoginStore, Push, Pushed, SessionStore, SessionUser,
    StoreResult,
};
use crate::{
    db_writer::DbWriter,
    wechat_login::{
        attempt::{Attempt, NewAttempt},
        attempt_sql,
        cleanup::Removed,
        hub::LoginHub,
        push::Rules,
        user_sql,
        writer::Writer,
    },
};

pub struct SqliteStore {
    pool: SqlitePool,
    writer: Writer,
}

impl SqliteStore {
    pub fn new(
        pool: SqlitePool,
        db_writer: Arc<DbWriter>,
        hub: Arc<dyn LoginHub>,
        rules: Rules,
    ) -> Self {
        Self {
            pool,
            writer: Writer::new(db_writer, hub, rules),
        }
    }
}

#[async_trait]
impl LoginStore for SqliteStore {
    async fn push(&self, push: Push) -> StoreResult<Pushed> {
        Ok(self.writer.push(push).await?)
    }

    async fn url_check(&self, stamp: Stamp) -> StoreResult<()> {
        Ok(self.writer.url_check(stamp).await?)
    }

    async fn insert_attempt(&self, attempt: NewAttempt) -> StoreResult<()> {
        Ok(self.writer.insert_attempt(attempt).await?)
    }

    async fn delete_attempt(&self, id: &str) -> StoreResult<()> {
        Ok(attempt_sql::delete(&self.pool, id).await?)
    }

    async fn find_attempt(&self, id: &str) -> StoreResult<Option<Attempt>> {
        Ok(attempt_sql::find(&self.pool, id).await?)
    }

    async fn complete(&self, completion: Completion) -> StoreResult<Completed> {
        Ok(self.writer.complete(completion).await?)
    }

    async fn authorized(&self, authorized: Authorized) -> StoreResult<Completed> {
        Ok(self.writer.authorized(authorized).await?)
    }

    async fn clean(&self, limit: u64) -> StoreResult<(Removed, bool)> {
        Ok(self.writer.clean(limit).await?)
    }

    async fn ping(&self) -> bool {
        self.writer.ping().await
    }

    async fn stop(&self) {
        self.writer.stop().await
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn session_user(&self, token_hash: &[u8], now: i64) -> StoreResult<Option<SessionUser>> {
        Ok(user_sql::session_user(&self.pool, token_hash, now).await?)
    }

    async fn revoke(&self, token_hash: &[u8], now: i64) -> StoreResult<()> {
        Ok(user_sql::revoke_session(&self.pool, token_hash, now).await?)
    }
}
