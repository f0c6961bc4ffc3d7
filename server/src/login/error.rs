//! The one error type of the login routes: each becomes a status code and a
//! JSON body with a stable code and a plain Chinese sentence.

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
                // WeChat's wording is for operators; frame it for visitors.
                format!(
                    "暂时无法生成登录二维码：{}。请稍后重试，或告诉网站管理员。",
                    err.user_message_zh()
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

impl IntoResponse for LoginError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        if status.is_server_error() {
            tracing::error!(error = %self, "login request failed");
        }
        let retry_after = match &self {
            Self::RateLimited { retry_after } => Some(retry_after.as_secs().max(1)),
            _ => None,
        };
        let wechat_errcode = match &self {
            Self::Wechat(err) => err.code(),
            _ => None,
        };
        let body = Json(ErrorBody {
            error: code.into(),
            message,
            wechat_errcode,
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
