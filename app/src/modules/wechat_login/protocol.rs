//! The JSON of the login routes, shared by the server and the browser
//! (`../shared/design/login-contract.md` fixes the routes and statuses).

use serde::{Deserialize, Serialize};

use crate::auth::User;

/// Where a login attempt stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginStatus {
    /// The QR code is waiting to be scanned.
    Pending,
    /// Scanned in confirm mode: waiting for the WeChat user to reply 确认.
    AwaitingConfirmation,
    /// WeChat confirmed the scan: the browser may complete the login.
    Confirmed,
    /// Too late: the code (or the unfinished login) timed out.
    Expired,
    /// The login was completed (in the browser that started it).
    Consumed,
}

impl LoginStatus {
    /// After this status nothing more will happen to the attempt.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Confirmed | Self::Expired | Self::Consumed)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::AwaitingConfirmation => "awaiting_confirmation",
            Self::Confirmed => "confirmed",
            Self::Expired => "expired",
            Self::Consumed => "consumed",
        }
    }
}

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
    /// A short id of a server-side failure, also in the message: the
    /// operator finds the details (WeChat's errcode…) in the log under it.
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
            let json = serde_json::to_string(&StatusUpdate { status }).unwrap();
            assert_eq!(json, format!(r#"{{"status":"{word}"}}"#));
            assert_eq!(status.as_str(), word);
        }
    }

    #[test]
    fn only_the_ends_are_terminal() {
        assert!(!LoginStatus::Pending.is_terminal());
        assert!(!LoginStatus::AwaitingConfirmation.is_terminal());
        assert!(LoginStatus::Confirmed.is_terminal());
        assert!(LoginStatus::Expired.is_terminal());
        assert!(LoginStatus::Consumed.is_terminal());
    }
}
