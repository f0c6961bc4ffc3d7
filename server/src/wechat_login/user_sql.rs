//! The SQL of users and their sessions (`users`, `sessions`) on SQLite. A
//! push creates users and a completion creates sessions inside the
//! group-commit transaction (rusqlite); request handlers look sessions up
//! and revoke them through the pool (sqlx).

use app::auth::User;
use rusqlite::{params, Connection, OptionalExtension, Row};
use sqlx::SqlitePool;

use super::store::SessionUser;

fn from_row(row: &Row) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get("id")?,
        display_name: row.get("display_name")?,
    })
}

/// The user of `openid`, created (with `new_name`) on first sight; marked as
/// following, since they just scanned or followed.
pub fn upsert_follower(
    db: &Connection,
    openid: &str,
    new_name: &str,
    now: i64,
) -> rusqlite::Result<User> {
    db.prepare_cached(
        "INSERT INTO users (openid, display_name, following, created_at) VALUES (?, ?, 1, ?)
         ON CONFLICT (openid) DO UPDATE SET following = 1, unsubscribed_at = NULL
         RETURNING id, display_name",
    )?
    .query_row(params![openid, new_name, now], from_row)
}

/// The user of `openid`, created (with `new_name`, not following) on first
/// sight; whether he follows is left as recorded. For a one-tap login of a
/// visitor who does not follow (`LOGIN_OAUTH_FOLLOWERS_ONLY=0`).
pub fn upsert_visitor(
    db: &Connection,
    openid: &str,
    new_name: &str,
    now: i64,
) -> rusqlite::Result<User> {
    db.prepare_cached(
        "INSERT INTO users (openid, display_name, following, created_at) VALUES (?, ?, 0, ?)
         ON CONFLICT (openid) DO UPDATE SET openid = excluded.openid
         RETURNING id, display_name",
    )?
    .query_row(params![openid, new_name, now], from_row)
}

pub fn mark_unfollowed(db: &Connection, openid: &str, now: i64) -> rusqlite::Result<()> {
    db.prepare_cached("UPDATE users SET following = 0, unsubscribed_at = ? WHERE openid = ?")?
        .execute(params![now, openid])?;
    Ok(())
}

pub fn find_user(db: &Connection, id: i64) -> rusqlite::Result<Option<User>> {
    db.prepare_cached("SELECT id, display_name FROM users WHERE id = ?")?
        .query_row([id], from_row)
        .optional()
}

pub fn create_session(
    db: &Connection,
    token_hash: &[u8],
    user_id: i64,
    now: i64,
    expires_at: i64,
) -> rusqlite::Result<()> {
    db.prepare_cached(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
    )?
    .execute(params![token_hash, user_id, now, expires_at])?;
    Ok(())
}

/// The user of a live (unexpired, not revoked) session.
pub async fn session_user(
    db: &SqlitePool,
    token_hash: &[u8],
    now: i64,
) -> sqlx::Result<Option<SessionUser>> {
    let row: Option<(i64, String, String, i64)> = sqlx::query_as(
        "SELECT users.id, users.display_name, users.openid, sessions.expires_at FROM sessions
         JOIN users ON users.id = sessions.user_id
         WHERE sessions.token_hash = ? AND sessions.revoked_at IS NULL AND sessions.expires_at > ?",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(db)
    .await?;
    Ok(
        row.map(|(id, display_name, openid, expires_at)| SessionUser {
            user: User { id, display_name },
            openid,
            expires_at,
        }),
    )
}

pub async fn revoke_session(db: &SqlitePool, token_hash: &[u8], now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE sessions SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL")
        .bind(now)
        .bind(token_hash)
        .execute(db)
        .await?;
    Ok(())
}
