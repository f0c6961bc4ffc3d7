//! The phone API's one error type: a status and `{"error","message"}`, the
//! message in Chinese first for the phone page to show as is.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::de::DeserializeOwned;
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("{0}")]
    BadRequest(String),
    #[error("没有这个二维码（ticket 未知或已被清理）")]
    UnknownTicket,
    #[error("没有这个用户（openid 未知）")]
    UnknownUser,
    #[error("该用户没有关注公众号，不能发消息")]
    NotFollowing,
    #[error("没有配置 EncodingAESKey，只能明文推送（push: plain）")]
    NoEncryptionKey,
}

impl PhoneError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::UnknownTicket => (StatusCode::NOT_FOUND, "unknown_ticket"),
            Self::UnknownUser => (StatusCode::NOT_FOUND, "unknown_user"),
            Self::NotFollowing => (StatusCode::CONFLICT, "not_following"),
            Self::NoEncryptionKey => (StatusCode::BAD_REQUEST, "no_encryption_key"),
        }
    }
}

impl IntoResponse for PhoneError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        (
            status,
            Json(json!({ "error": code, "message": self.to_string() })),
        )
            .into_response()
    }
}

/// Reads a JSON request body; any content type is accepted, so a quick
/// `curl -d` works too.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, PhoneError> {
    serde_json::from_slice(body)
        .map_err(|err| PhoneError::BadRequest(format!("请求不是有效的 JSON：{err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Example {
        openid: String,
    }

    #[test]
    fn bad_json_is_a_400_that_says_why() {
        let err = parse_json::<Example>(b"{\"openid\":").unwrap_err();
        assert!(matches!(&err, PhoneError::BadRequest(m) if m.contains("JSON")));
        assert_eq!(err.into_response().status(), StatusCode::BAD_REQUEST);
        assert!(parse_json::<Example>(b"{\"open_id\":\"x\"}").is_err());
        let parsed: Example = parse_json(b"{\"openid\":\"x\"}").unwrap();
        assert_eq!(parsed.openid, "x");
    }

    #[test]
    fn each_error_has_its_status() {
        assert_eq!(
            PhoneError::UnknownTicket.into_response().status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            PhoneError::NotFollowing.into_response().status(),
            StatusCode::CONFLICT
        );
    }
}
