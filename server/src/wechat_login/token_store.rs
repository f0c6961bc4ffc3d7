//! The access token shared by every server process, kept in the database
//! (`wechat_access_token`), one row per AppID.

use secrecy::{ExposeSecret, SecretString};
use sqlx::SqlitePool;
use wechat::{StoreError, StoredToken, TokenStore};

pub struct DbTokenStore {
    db: SqlitePool,
    appid: String,
}

impl DbTokenStore {
    pub fn new(db: SqlitePool, appid: String) -> Self {
        Self { db, appid }
    }
}

/// Database errors never carry the token (it is only ever a bound parameter).
fn store_error(err: sqlx::Error) -> StoreError {
    StoreError(err.to_string())
}

impl TokenStore for DbTokenStore {
    async fn load(&self) -> Result<Option<StoredToken>, StoreError> {
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT token, expires_at FROM wechat_access_token WHERE appid = ?")
                .bind(&self.appid)
                .fetch_optional(&self.db)
                .await
                .map_err(store_error)?;
        Ok(row.map(|(token, expires_at)| StoredToken {
            token: SecretString::from(token),
            expires_at_unix: expires_at,
        }))
    }

    async fn save(&self, token: &StoredToken) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO wechat_access_token (appid, token, expires_at) VALUES (?, ?, ?)
             ON CONFLICT (appid) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at",
        )
        .bind(&self.appid)
        .bind(token.token.expose_secret())
        .bind(token.expires_at_unix)
        .execute(&self.db)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn clear_if(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM wechat_access_token WHERE appid = ? AND token = ?")
            .bind(&self.appid)
            .bind(token)
            .execute(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
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
        DbTokenStore::new(db, "wx0000000000000000".into())
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
