//! The one error type of the login routes: each becomes a status code and a
//! JSON body with a stable code and a plain Chinese sentence. Failures the
//! visitor cannot fix (WeChat refused, the server broke) carry a short
//! reference instead of details: the log line under the same reference has
//! WeChat's errcode and message for the operator.

use std::time::Duration;

use app::modules::wechat_login::protocol::{ErrorBody, LoginStatus};
use axum::{
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use wechat::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("too many QR codes requested from this address")]
    RateLimited { retry_after: Duration },
    #[error("WeChat: {0}")]
    Wechat(ApiError),
    #[error("no such login attempt")]
    NotFound,
    #[error("the login attempt belongs to another browser")]
    NotYours,
    #[error("the login attempt is {}", .0.as_str())]
    NotConfirmed(LoginStatus),
    #[error("cannot draw the QR code: {0}")]
    Qr(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database: {0}")]
    Write(#[from] super::writer::WriteError),
}

impl LoginError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            Self::RateLimited { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "请求太频繁了，请 {} 秒后再试。",
                    retry_after.as_secs().max(1)
                ),
            ),
            Self::Wechat(err) if err.code().is_some() => (
                StatusCode::BAD_GATEWAY,
                "wechat_refused",
                format!(
                    "暂时无法生成登录二维码：{}。请稍后重试；如果一直不行，请告诉网站管理员。",
                    visitor_words(err)
                ),
            ),
            Self::Wechat(err) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "wechat_unavailable",
                err.user_message_zh().to_owned(),
            ),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "这个登录请求不存在或已被清理，请刷新二维码。".into(),
            ),
            Self::NotYours => (
                StatusCode::FORBIDDEN,
                "not_your_login",
                "这个二维码不是在当前浏览器上生成的，请在本页重新获取二维码。".into(),
            ),
            Self::NotConfirmed(LoginStatus::Expired) => (
                StatusCode::GONE,
                "expired",
                "二维码已过期，请刷新后重新扫码。".into(),
            ),
            Self::NotConfirmed(LoginStatus::Consumed) => (
                StatusCode::CONFLICT,
                "already_used",
                "这次登录已经完成过了，不能重复使用。".into(),
            ),
            Self::NotConfirmed(_) => (
                StatusCode::CONFLICT,
                "not_confirmed",
                "还没有在微信中完成扫码确认。".into(),
            ),
            Self::Qr(_) | Self::Database(_) | Self::Write(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "服务器出了点问题，请稍后重试。".into(),
            ),
        }
    }
}

/// What a visitor is told of WeChat's refusal: plain words, never the
/// operator's side of it (which AppID, which IP is not whitelisted, the
/// quota): those go to the log.
fn visitor_words(err: &ApiError) -> &'static str {
    match err.code() {
        // Busy, or the day's quota spent: waiting helps, the visitor may know.
        Some(-1 | 45009) => err.user_message_zh(),
        _ => "微信暂时不接受本站的请求",
    }
}

/// A short reference to find a failure's log line: 6 hex digits.
fn new_reference() -> String {
    let bytes: [u8; 3] = rand::random();
    hex::encode_upper(bytes)
}

impl IntoResponse for LoginError {
    fn into_response(self) -> Response {
        let (status, code, mut message) = self.parts();
        let reference = matches!(
            self,
            Self::Wechat(_) | Self::Qr(_) | Self::Database(_) | Self::Write(_)
        )
        .then(new_reference);
        if let Some(reference) = &reference {
            match &self {
                Self::Wechat(err) => tracing::error!(
                    reference,
                    errcode = ?err.code(),
                    meaning = err.user_message_zh(),
                    error = %err,
                    "a login request failed at WeChat"
                ),
                _ => tracing::error!(reference, error = %self, "a login request failed"),
            }
            message.push_str(&format!("（参考编号 {reference}）"));
        }
        let retry_after = match &self {
            Self::RateLimited { retry_after } => Some(retry_after.as_secs().max(1)),
            _ => None,
        };
        let body = Json(ErrorBody {
            error: code.into(),
            message,
            reference,
            retry_after,
        });
        let mut response = (status, body).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(error: LoginError) -> (StatusCode, ErrorBody) {
        let response = error.into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn visitors_get_plain_words_and_a_reference_not_wechats_details() {
        let refused = ApiError::WeChat {
            code: 40164,
            message: "invalid ip 203.0.113.9, not in whitelist rid: 6543".into(),
        };
        let (status, body) = body_of(LoginError::Wechat(refused)).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert_eq!(body.error, "wechat_refused");
        let reference = body.reference.expect("a reference");
        assert_eq!(reference.len(), 6);
        assert!(body.message.contains(&reference), "{}", body.message);
        for detail in ["40164", "203.0.113.9", "whitelist", "白名单", "IP"] {
            assert!(!body.message.contains(detail), "{}", body.message);
        }
    }

    #[tokio::test]
    async fn ordinary_refusals_need_no_reference() {
        let (status, body) = body_of(LoginError::NotYours).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.reference.is_none());
    }
}
