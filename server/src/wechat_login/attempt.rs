//! A login attempt as the server keeps it: one QR code, the browser that
//! asked for it (by the hash of its binding secret), and, once scanned, who
//! scanned it. Its status and the changes it may go through are
//! [`app::modules::wechat_login::status`], shared with the browser; its SQL
//! is `attempt_sql`.

use app::modules::wechat_login::{protocol::StatusUpdate, status::LoginStatus};
use sqlx::FromRow;

/// A stored attempt (a row of `login_attempts`).
#[derive(Clone, Debug, FromRow)]
pub struct Attempt {
    /// 128 random bits as hex; also the QR code's scene.
    pub id: String,
    /// SHA-256 of the binding secret of the browser that started it.
    pub binding_hash: Vec<u8>,
    /// As stored: never `expired` (see [`Attempt::status_at`]).
    pub status: LoginStatus,
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

/// An attempt about to be stored, `pending`.
pub struct NewAttempt {
    pub id: String,
    pub binding_hash: Vec<u8>,
    pub client_ip: String,
    pub user_agent: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Attempt {
    /// The status at `now`, expiry included.
    pub fn status_at(&self, now: i64) -> LoginStatus {
        self.status.at(now, self.expires_at, self.confirmed_at)
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

    /// When the status its browser waits on will change by itself (the
    /// code's expiry), if it will.
    pub fn next_deadline(&self, now: i64) -> Option<i64> {
        let status = self.status_at(now);
        if status.is_terminal() {
            return None;
        }
        status.expires_at(self.expires_at, self.confirmed_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(status: LoginStatus, expires_at: i64, confirmed_at: Option<i64>) -> Attempt {
        Attempt {
            id: "a".into(),
            binding_hash: vec![],
            status,
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
    fn the_status_expires_with_the_times() {
        let waiting = attempt(LoginStatus::Pending, 1000, None);
        assert_eq!(waiting.status_at(999), LoginStatus::Pending);
        assert_eq!(waiting.status_at(1000), LoginStatus::Expired);
    }

    #[test]
    fn the_confirm_code_is_told_only_while_awaited() {
        let waiting = attempt(LoginStatus::AwaitingConfirmation, 1000, None);
        assert_eq!(waiting.update_at(10).confirm_code.as_deref(), Some("1234"));
        assert_eq!(waiting.update_at(1000).confirm_code, None, "expired");
        let confirmed = attempt(LoginStatus::Confirmed, 1000, Some(5));
        assert_eq!(confirmed.update_at(10).confirm_code, None);
    }

    #[test]
    fn only_waiting_attempts_have_a_deadline() {
        let pending = attempt(LoginStatus::Pending, 1000, None);
        assert_eq!(pending.next_deadline(0), Some(1000));
        assert_eq!(pending.next_deadline(1000), None, "already expired");
        let confirmed = attempt(LoginStatus::Confirmed, 1000, Some(1));
        assert_eq!(confirmed.next_deadline(0), None);
    }
}
