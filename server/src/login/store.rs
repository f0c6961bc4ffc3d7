//! The login's SQL run from request handlers (sqlx): reading attempts and
//! sessions, logging out. The frequent writes — pushes, new attempts,
//! completions — and the clean-up are in `writes`, run by the writer thread.

use std::time::Duration;

use app::{
    auth::User,
    modules::wechat_login::protocol::{LoginStatus, StatusUpdate},
};
use sqlx::{FromRow, SqlitePool};

/// How long a browser has to complete a login WeChat confirmed, measured
/// from the confirmation (a server restart or a flaky network in between
/// must not lose it).
pub const COMPLETE_WINDOW: Duration = Duration::from_secs(300);

#[derive(Clone, Debug, FromRow)]
pub struct Attempt {
    pub id: String,
    pub binding_hash: Vec<u8>,
    pub status: String,
    pub openid: Option<String>,
    pub user_id: Option<i64>,
    pub client_ip: String,
    pub user_agent: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub confirmed_at: Option<i64>,
    /// Confirm mode: what the WeChat user must reply, set by the scan.
    pub confirm_code: Option<String>,
}

impl Attempt {
    /// The status at `now`: `expired` is derived from the times, not stored.
    pub fn status_at(&self, now: i64) -> LoginStatus {
        match self.status.as_str() {
            "consumed" => LoginStatus::Consumed,
            "confirmed" => {
                let deadline = self.confirmed_at.unwrap_or(self.expires_at)
                    + COMPLETE_WINDOW.as_millis() as i64;
                if now < deadline {
                    LoginStatus::Confirmed
                } else {
                    LoginStatus::Expired
                }
            }
            _ if now >= self.expires_at => LoginStatus::Expired,
            "awaiting_confirmation" => LoginStatus::AwaitingConfirmation,
            _ => LoginStatus::Pending,
        }
    }

    /// What its browser is told at `now`: the status, and while the WeChat
    /// user's 确认 is awaited, the code to reply.
    pub fn update_at(&self, now: i64) -> StatusUpdate {
        let status = self.status_at(now);
        StatusUpdate {
            status,
            confirm_code: self
                .confirm_code
                .clone()
                .filter(|_| status == LoginStatus::AwaitingConfirmation),
        }
    }

    /// When the status will change by itself (expiry), if it will.
    pub fn next_deadline(&self, now: i64) -> Option<i64> {
        match self.status_at(now) {
            LoginStatus::Pending | LoginStatus::AwaitingConfirmation => Some(self.expires_at),
            _ => None,
        }
    }
}

/// The columns of [`Attempt`], in its order.
pub const ATTEMPT_COLUMNS: &str =
    "id, binding_hash, status, openid, user_id, client_ip, user_agent, created_at, expires_at, confirmed_at, confirm_code";

pub async fn delete_attempt(db: &SqlitePool, id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM login_attempts WHERE id = ?")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn find_attempt(
    db: impl sqlx::SqliteExecutor<'_>,
    id: &str,
) -> sqlx::Result<Option<Attempt>> {
    sqlx::query_as(&format!(
        "SELECT {ATTEMPT_COLUMNS} FROM login_attempts WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// The user of a live (unexpired, not revoked) session, with his openid
/// (which only the server sees: it decides who is an operator).
pub async fn session_user(
    db: &SqlitePool,
    token_hash: &[u8],
    now: i64,
) -> sqlx::Result<Option<(User, String)>> {
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "SELECT users.id, users.display_name, users.openid FROM sessions JOIN users ON users.id = sessions.user_id
         WHERE sessions.token_hash = ? AND sessions.revoked_at IS NULL AND sessions.expires_at > ?",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(id, display_name, openid)| (User { id, display_name }, openid)))
}

pub async fn revoke_session(db: &SqlitePool, token_hash: &[u8], now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE sessions SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL")
        .bind(now)
        .bind(token_hash)
        .execute(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(status: &str, expires_at: i64, confirmed_at: Option<i64>) -> Attempt {
        Attempt {
            id: "a".into(),
            binding_hash: vec![],
            status: status.into(),
            openid: None,
            user_id: None,
            client_ip: String::new(),
            user_agent: String::new(),
            created_at: 0,
            expires_at,
            confirmed_at,
            confirm_code: Some("1234".into()),
        }
    }

    #[test]
    fn expiry_follows_from_the_times() {
        assert_eq!(
            attempt("pending", 1000, None).status_at(999),
            LoginStatus::Pending
        );
        assert_eq!(
            attempt("pending", 1000, None).status_at(1000),
            LoginStatus::Expired
        );
        assert_eq!(
            attempt("awaiting_confirmation", 1000, None).status_at(10),
            LoginStatus::AwaitingConfirmation
        );
        assert_eq!(
            attempt("awaiting_confirmation", 1000, None).status_at(1000),
            LoginStatus::Expired
        );
        assert_eq!(
            attempt("consumed", 1000, Some(5)).status_at(i64::MAX),
            LoginStatus::Consumed
        );
    }

    #[test]
    fn a_confirmed_login_may_be_completed_for_a_while_after_the_code_expired() {
        let window = COMPLETE_WINDOW.as_millis() as i64;
        let confirmed = attempt("confirmed", 1000, Some(990));
        assert_eq!(confirmed.status_at(1500), LoginStatus::Confirmed);
        assert_eq!(
            confirmed.status_at(990 + window - 1),
            LoginStatus::Confirmed
        );
        assert_eq!(confirmed.status_at(990 + window), LoginStatus::Expired);
    }

    #[test]
    fn the_confirm_code_is_told_only_while_awaited() {
        let waiting = attempt("awaiting_confirmation", 1000, None);
        assert_eq!(waiting.update_at(10).confirm_code.as_deref(), Some("1234"));
        assert_eq!(waiting.update_at(1000).confirm_code, None, "expired");
        let confirmed = attempt("confirmed", 1000, Some(5));
        assert_eq!(confirmed.update_at(10).confirm_code, None);
    }

    #[test]
    fn only_waiting_attempts_have_a_deadline() {
        assert_eq!(attempt("pending", 1000, None).next_deadline(0), Some(1000));
        assert_eq!(attempt("confirmed", 1000, Some(1)).next_deadline(0), None);
    }
}
