//! The SQL of login attempts (`login_attempts`).
//!
//! An attempt is read one way: [`SELECT`] mapped by column name to
//! [`Attempt`]. It is run from two places, hence two entry points side by
//! side here:
//! - request handlers read through the pool ([`find`], sqlx, async), beside
//!   the writer thanks to WAL;
//! - a push reads inside the group-commit transaction ([`find_in`],
//!   rusqlite), so it decides on what that transaction sees, the pushes
//!   before it in the same batch included. The pool, another connection,
//!   would see none of them.
//!
//! Every status change is one of [`Change`], bound as typed statuses and
//! applied only to an attempt still in the change's `from` status, so two
//! requests racing for one attempt change it once.

use app::modules::wechat_login::status::{Change, LoginStatus};
use rusqlite::{named_params, params, Connection, OptionalExtension, Row};

use super::attempt::{Attempt, NewAttempt};

/// Every column of [`Attempt`].
const SELECT: &str = "SELECT id, binding_hash, status, openid, user_id, client_ip, user_agent,
    created_at, expires_at, confirmed_at, confirm_code FROM login_attempts";

/// The attempt `id`, read through the pool.
pub async fn find(db: impl sqlx::SqliteExecutor<'_>, id: &str) -> sqlx::Result<Option<Attempt>> {
    sqlx::query_as(&format!("{SELECT} WHERE id = ?"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Removes an attempt whose QR code WeChat refused to make.
pub async fn delete(db: &sqlx::SqlitePool, id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM login_attempts WHERE id = ?")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

fn from_row(row: &Row) -> rusqlite::Result<Attempt> {
    Ok(Attempt {
        id: row.get("id")?,
        binding_hash: row.get("binding_hash")?,
        status: row.get("status")?,
        openid: row.get("openid")?,
        user_id: row.get("user_id")?,
        client_ip: row.get("client_ip")?,
        user_agent: row.get("user_agent")?,
        created_at: row.get("created_at")?,
        expires_at: row.get("expires_at")?,
        confirmed_at: row.get("confirmed_at")?,
        confirm_code: row.get("confirm_code")?,
    })
}

/// The attempt `id`, read inside the group-commit transaction.
pub fn find_in(db: &Connection, id: &str) -> rusqlite::Result<Option<Attempt>> {
    db.prepare_cached(&format!("{SELECT} WHERE id = ?"))?
        .query_row([id], from_row)
        .optional()
}

/// The attempts `openid` scanned that still wait for a 确认, newest first.
pub fn awaiting_confirmation(
    db: &Connection,
    openid: &str,
    now: i64,
) -> rusqlite::Result<Vec<Attempt>> {
    db.prepare_cached(&format!(
        "{SELECT} WHERE openid = ? AND status = ? AND expires_at > ? ORDER BY created_at DESC"
    ))?
    .query_map(
        params![openid, LoginStatus::AwaitingConfirmation, now],
        from_row,
    )?
    .collect()
}

/// Stores a new attempt, `pending`.
pub fn insert(db: &Connection, attempt: &NewAttempt) -> rusqlite::Result<()> {
    db.prepare_cached(
        "INSERT INTO login_attempts (id, binding_hash, status, client_ip, user_agent, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        attempt.id,
        attempt.binding_hash,
        LoginStatus::Pending,
        attempt.client_ip,
        attempt.user_agent,
        attempt.created_at,
        attempt.expires_at
    ])?;
    Ok(())
}

/// Records a scan of the pending attempt `id` by `openid` (user `user_id`):
/// [`Change::Scanned`], or with a `confirm_code` (confirm mode)
/// [`Change::ScannedAwaitingConfirmation`]. The attempt's new status, or
/// `None` if it was no longer pending.
pub fn record_scan(
    db: &Connection,
    id: &str,
    user_id: i64,
    openid: &str,
    confirm_code: Option<&str>,
    now: i64,
) -> rusqlite::Result<Option<LoginStatus>> {
    let change = Change::scan(confirm_code.is_some());
    let confirmed_at = (change.to() == LoginStatus::Confirmed).then_some(now);
    let changed = db
        .prepare_cached(
            "UPDATE login_attempts
             SET status = :to, openid = :openid, user_id = :user_id, scanned_at = :now,
                 confirmed_at = :confirmed_at, confirm_code = :confirm_code
             WHERE id = :id AND status = :from",
        )?
        .execute(named_params! {
            ":to": change.to(),
            ":openid": openid,
            ":user_id": user_id,
            ":now": now,
            ":confirmed_at": confirmed_at,
            ":confirm_code": confirm_code,
            ":id": id,
            ":from": change.from(),
        })?;
    Ok((changed == 1).then_some(change.to()))
}

/// The WeChat user replied 确认 with the code of attempt `id`
/// ([`Change::Confirmed`]). Whether it changed.
pub fn record_confirmation(db: &Connection, id: &str, now: i64) -> rusqlite::Result<bool> {
    let change = Change::Confirmed;
    let changed = db
        .prepare_cached(
            "UPDATE login_attempts SET status = ?, confirmed_at = ? WHERE id = ? AND status = ?",
        )?
        .execute(params![change.to(), now, id, change.from()])?;
    Ok(changed == 1)
}

/// Redeems the confirmed attempt `id` ([`Change::Completed`]). True only for
/// the one caller that did it.
pub fn record_completion(db: &Connection, id: &str, now: i64) -> rusqlite::Result<bool> {
    let change = Change::Completed;
    let changed = db
        .prepare_cached(
            "UPDATE login_attempts SET status = ?, consumed_at = ? WHERE id = ? AND status = ?",
        )?
        .execute(params![change.to(), now, id, change.from()])?;
    Ok(changed == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    async fn database() -> (tempfile::TempDir, sqlx::SqlitePool, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/a.db", dir.path().display());
        let pool = crate::db::connect(&url).await.unwrap();
        let file = crate::db::file_of(&pool).unwrap();
        let db = Connection::open(file).unwrap();
        insert(
            &db,
            &NewAttempt {
                id: ID.into(),
                binding_hash: vec![7; 32],
                client_ip: "192.0.2.1".into(),
                user_agent: "test".into(),
                created_at: 10,
                expires_at: 1_000,
            },
        )
        .unwrap();
        db.execute(
            "INSERT INTO users (id, openid, display_name, following, created_at) VALUES (1, 'oAlice', 'Alice', 1, 0)",
            [],
        )
        .unwrap();
        (dir, pool, db)
    }

    #[tokio::test]
    async fn both_drivers_read_the_same_attempt() {
        let (_dir, pool, db) = database().await;
        record_scan(&db, ID, 1, "oAlice", Some("0427"), 20).unwrap();
        let pooled = find(&pool, ID).await.unwrap().unwrap();
        let in_transaction = find_in(&db, ID).unwrap().unwrap();
        assert_eq!(format!("{pooled:?}"), format!("{in_transaction:?}"));
        assert_eq!(pooled.status, LoginStatus::AwaitingConfirmation);
        assert_eq!(pooled.confirm_code.as_deref(), Some("0427"));
        assert_eq!(pooled.binding_hash, vec![7; 32]);
        assert!(find(&pool, "ffffffffffffffffffffffffffffffff")
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn each_change_happens_once_and_only_from_its_status() {
        let (_dir, _pool, db) = database().await;
        assert!(!record_completion(&db, ID, 5).unwrap(), "not confirmed yet");
        assert!(!record_confirmation(&db, ID, 5).unwrap(), "not scanned yet");
        assert_eq!(
            record_scan(&db, ID, 1, "oAlice", None, 20).unwrap(),
            Some(LoginStatus::Confirmed)
        );
        assert_eq!(
            record_scan(&db, ID, 1, "oMallory", None, 21).unwrap(),
            None,
            "scanned before"
        );
        assert!(record_completion(&db, ID, 30).unwrap());
        assert!(!record_completion(&db, ID, 31).unwrap(), "redeemed once");
        let attempt = find_in(&db, ID).unwrap().unwrap();
        assert_eq!(attempt.status, LoginStatus::Consumed);
        assert_eq!(attempt.openid.as_deref(), Some("oAlice"));
        assert_eq!(attempt.confirmed_at, Some(20));
    }

    #[tokio::test]
    async fn a_status_the_database_does_not_know_is_an_error_not_a_guess() {
        let (_dir, pool, db) = database().await;
        // The CHECK constraint keeps such a word out; without it, reading
        // must still refuse rather than take it for `pending`.
        db.execute_batch(
            "PRAGMA ignore_check_constraints = ON;
             UPDATE login_attempts SET status = 'expired';",
        )
        .unwrap();
        assert!(find_in(&db, ID).is_err());
        assert!(find(&pool, ID).await.is_err());
    }
}
