//! The JSON of the login routes, shared by the server and the browser
//! (`docs/login-contract.md` fixes the routes; the statuses are in
//! [`super::status`]).

use serde::{Deserialize, Serialize};

use super::status::LoginStatus;
use crate::auth::User;

/// `POST /api/login/start`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartedLogin {
    /// The attempt id, also the QR code's scene.
    pub id: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
    /// Seconds left when the answer was made (the countdown does not depend
    /// on the browser's clock).
    pub expires_in: u64,
    /// The QR code as an inline SVG document.
    pub qr_svg: String,
    /// What the QR code encodes (WeChat's ticket URL).
    pub qr_url: String,
}

/// `GET /api/login/{id}` and each message of `GET /api/login/{id}/events`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusUpdate {
    pub status: LoginStatus,
    /// Confirm mode, only with `awaiting_confirmation`: the short code the
    /// WeChat user must reply (确认 1234), so that a 确认 confirms this
    /// browser's login and no other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_code: Option<String>,
}

impl StatusUpdate {
    /// A status with nothing more to say.
    pub fn of(status: LoginStatus) -> Self {
        Self {
            status,
            confirm_code: None,
        }
    }
}

/// `POST /api/login/{id}/complete` and `GET /api/me`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserBody {
    pub user: User,
}

/// The body of every error answer of the login routes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable code for programs, e.g. `rate_limited`, `wechat_unavailable`.
    pub error: String,
    /// A plain sentence for people, Chinese first.
    pub message: String,
    /// A short reference for failures the visitor cannot fix: the server's
    /// log has the details (WeChat's errcode among them) under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Seconds to wait before trying again, when rate limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_the_contracts_words() {
        for (status, word) in [
            (LoginStatus::Pending, "pending"),
            (LoginStatus::AwaitingConfirmation, "awaiting_confirmation"),
            (LoginStatus::Confirmed, "confirmed"),
            (LoginStatus::Expired, "expired"),
            (LoginStatus::Consumed, "consumed"),
        ] {
            let json = serde_json::to_string(&StatusUpdate::of(status)).unwrap();
            assert_eq!(json, format!(r#"{{"status":"{word}"}}"#));
        }
    }

    #[test]
    fn a_confirm_code_is_sent_only_when_there_is_one() {
        let update = StatusUpdate {
            status: LoginStatus::AwaitingConfirmation,
            confirm_code: Some("0427".into()),
        };
        let json = serde_json::to_string(&update).unwrap();
        assert_eq!(
            json,
            r#"{"status":"awaiting_confirmation","confirm_code":"0427"}"#
        );
        assert_eq!(serde_json::from_str::<StatusUpdate>(&json).unwrap(), update);
    }
}
