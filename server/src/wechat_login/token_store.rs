//! The access token shared by every server process, kept in the database
//! (`wechat_access_token`), one row per AppID, on either engine.
//!
//! On PostgreSQL several processes share it: the one that finds it stale
//! fetches a new one while holding a transaction-scoped advisory lock
//! (`pg_advisory_xact_lock`, keyed by the AppID), so the others wait and
//! then use the token it saved instead of each asking WeChat (whose quota
//! is small, and whose every new token ends the one the others hold). The
//! lock goes with its transaction: a process that dies while fetching
//! releases it.

use std::future::Future;

use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use wechat::{token::Exclusive, StoreError, StoredToken, TokenStore};

use crate::{db::Database, on_engine};

pub struct DbTokenStore {
    db: Database,
    appid: String,
}

impl DbTokenStore {
    pub fn new(db: Database, appid: String) -> Self {
        Self { db, appid }
    }
}

/// Database errors never carry the token (it is only ever a bound parameter).
fn store_error(err: sqlx::Error) -> StoreError {
    StoreError(err.to_string())
}

/// The class of the token's advisory lock (its first key; the second is
/// the AppID's hash), so no other lock of the site can collide with it.
const TOKEN_LOCK: i32 = 0x7765_6e73; // "wens"

impl TokenStore for DbTokenStore {
    async fn load(&self) -> Result<Option<StoredToken>, StoreError> {
        let row: Option<(String, i64)> = on_engine!(&self.db, pool => {
            sqlx::query_as("SELECT token, expires_at FROM wechat_access_token WHERE appid = $1")
                .bind(&self.appid)
                .fetch_optional(pool)
                .await
        })
        .map_err(store_error)?;
        Ok(row.map(|(token, expires_at)| StoredToken {
            token: SecretString::from(token),
            expires_at_unix: expires_at,
        }))
    }

    async fn save(&self, token: &StoredToken) -> Result<(), StoreError> {
        // When it was fetched, for the operator page's "token age".
        let fetched_at = crate::clock::now_ms().div_euclid(1000);
        on_engine!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO wechat_access_token (appid, token, expires_at, fetched_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (appid) DO UPDATE SET token = excluded.token,
                     expires_at = excluded.expires_at, fetched_at = excluded.fetched_at",
            )
            .bind(&self.appid)
            .bind(token.token.expose_secret())
            .bind(token.expires_at_unix)
            .bind(fetched_at)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(store_error)?;
        Ok(())
    }

    async fn clear_if(&self, token: &str) -> Result<(), StoreError> {
        on_engine!(&self.db, pool => {
            sqlx::query("DELETE FROM wechat_access_token WHERE appid = $1 AND token = $2")
                .bind(&self.appid)
                .bind(token)
                .execute(pool)
                .await
                .map(|_| ())
        })
        .map_err(store_error)?;
        Ok(())
    }

    fn exclusive<'a, T: Send + 'a>(&'a self, work: Exclusive<'a, T>) -> Exclusive<'a, T> {
        match &self.db {
            // One process owns a SQLite file; its cache lets one caller
            // through at a time.
            Database::Sqlite(_) => work,
            Database::Postgres(pool) => Box::pin(locked(pool, &self.appid, work)),
        }
    }
}

/// Runs `work` holding the token's advisory lock. If the lock cannot be
/// taken (the database is unreachable), `work` runs anyway: the token is
/// needed, and the worst case is one extra fetch.
async fn locked<T>(pool: &PgPool, appid: &str, work: impl Future<Output = T>) -> T {
    let lock = async {
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(TOKEN_LOCK)
            .bind(appid)
            .execute(&mut *tx)
            .await?;
        Ok::<_, sqlx::Error>(tx)
    };
    match lock.await {
        Ok(tx) => {
            let done = work.await;
            // Ending the transaction releases the lock; if the connection
            // is gone, so is the lock.
            let _ = tx.commit().await;
            done
        }
        Err(error) => {
            tracing::warn!(%error, "could not take the WeChat token's lock; fetching without it");
            work.await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> DbTokenStore {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let db = crate::db::connect(&url).await.unwrap();
        std::mem::forget(dir);
        DbTokenStore::new(Database::Sqlite(db), "wx0000000000000000".into())
    }

    fn token(text: &str, expires: i64) -> StoredToken {
        StoredToken {
            token: SecretString::from(text.to_owned()),
            expires_at_unix: expires,
        }
    }

    #[tokio::test]
    async fn saves_loads_and_replaces() {
        let store = store().await;
        assert!(store.load().await.unwrap().is_none());
        store.save(&token("fake-token-1", 100)).await.unwrap();
        store.save(&token("fake-token-2", 200)).await.unwrap();
        let loaded = store.load().await.unwrap().unwrap();
        assert_eq!(loaded.token.expose_secret(), "fake-token-2");
        assert_eq!(loaded.expires_at_unix, 200);
    }

    #[tokio::test]
    async fn clear_if_spares_a_newer_token() {
        let store = store().await;
        store.save(&token("fake-newer", 100)).await.unwrap();
        store.clear_if("fake-older").await.unwrap();
        assert!(store.load().await.unwrap().is_some());
        store.clear_if("fake-newer").await.unwrap();
        assert!(store.load().await.unwrap().is_none());
    }
}
