//! The one error type of the login routes: each becomes a status code and a
//! JSON body with a stable code and a plain Chinese sentence.
//!
//! What went wrong inside (WeChat's errcode and wording, a database error)
//! is for the operator: it goes to the log under a short reference, and the
//! visitor gets plain words and the same reference to quote.

use std::time::Duration;

use app::modules::wechat_login::{protocol::ErrorBody, status::LoginStatus};
use axum::{
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use wechat::ApiError;

use super::streams::StreamRefusal;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("too many QR codes requested from this address")]
    RateLimited { retry_after: Duration },
    #[error("too many QR codes requested on the whole site")]
    SiteBusy { retry_after: Duration },
    #[error("too many event streams open ({0:?})")]
    TooManyStreams(StreamRefusal),
    #[error("a login cookie was sent twice")]
    DuplicateCookie,
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
    Database(#[from] crate::db::StoreError),
}

/// How long a browser is told to wait when too many streams are open.
const STREAMS_RETRY_AFTER: Duration = Duration::from_secs(5);

impl LoginError {
    /// Status, stable code, and the words for the visitor. `reference` is
    /// quoted where the visitor may need to tell the operator.
    fn parts(&self, reference: &str) -> (StatusCode, &'static str, String) {
        match self {
            Self::RateLimited { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "请求太频繁了，请 {} 秒后再试。",
                    retry_after.as_secs().max(1)
                ),
            ),
            Self::SiteBusy { retry_after } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "site_busy",
                format!(
                    "现在登录的人太多了，请 {} 秒后再试。",
                    retry_after.as_secs().max(1)
                ),
            ),
            Self::TooManyStreams(StreamRefusal::Server) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_streams",
                "服务器现在太忙，请稍后再试。".into(),
            ),
            Self::TooManyStreams(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_streams",
                "打开的登录窗口太多了，请关闭多余的页面后再试。".into(),
            ),
            Self::DuplicateCookie => (
                StatusCode::BAD_REQUEST,
                "duplicate_cookie",
                "浏览器里有两个同名的登录 Cookie，请清除本站的 Cookie 后重新登录。".into(),
            ),
            Self::Wechat(err) => (
                if err.code().is_some() {
                    StatusCode::BAD_GATEWAY
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                },
                if err.code().is_some() {
                    "wechat_refused"
                } else {
                    "wechat_unavailable"
                },
                format!(
                    "暂时无法生成登录二维码：{}。请稍后重试；如果一直不行，请把编号 {reference} 告诉网站管理员。",
                    wechat_words(err)
                ),
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
            Self::Qr(_) | Self::Database(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                format!("服务器出了点问题，请稍后重试；如果一直不行，请把编号 {reference} 告诉网站管理员。"),
            ),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after } | Self::SiteBusy { retry_after } => {
                Some(retry_after.as_secs().max(1))
            }
            Self::TooManyStreams(_) => Some(STREAMS_RETRY_AFTER.as_secs()),
            _ => None,
        }
    }
}

/// What a visitor is told about a WeChat failure: only what means something
/// to him. Settings problems (wrong AppSecret, IP whitelist…) are the
/// operator's, who finds them in the log.
fn wechat_words(err: &ApiError) -> &'static str {
    match err.code() {
        Some(45009) => "微信接口今日调用次数已达上限",
        Some(-1) => "微信系统繁忙",
        Some(_) => "网站的微信登录设置有问题，需要网站管理员处理",
        None => err.user_message_zh(),
    }
}

impl IntoResponse for LoginError {
    fn into_response(self) -> Response {
        let reference = crate::telemetry::error_reference();
        let (status, code, message) = self.parts(&reference);
        let logged = status.is_server_error();
        if logged {
            match &self {
                Self::Wechat(err) => tracing::error!(
                    reference = %reference,
                    errcode = ?err.code(),
                    meaning = err.user_message_en(),
                    error = %err,
                    "login request failed: WeChat"
                ),
                _ => tracing::error!(reference = %reference, error = %self, "login request failed"),
            }
        }
        let retry_after = self.retry_after();
        let body = Json(ErrorBody {
            error: code.into(),
            message,
            reference: logged.then_some(reference),
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

    async fn body(error: LoginError) -> (StatusCode, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn wechat_failures_show_plain_words_and_a_reference_not_the_details() {
        let (status, body) = body(LoginError::Wechat(ApiError::WeChat {
            code: 40164,
            message: "invalid ip 203.0.113.9, not in whitelist rid: 65f0".into(),
        }))
        .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        let message = body["message"].as_str().unwrap();
        let reference = body["reference"].as_str().unwrap();
        assert_eq!(reference.len(), 10);
        assert!(message.contains(reference), "{message}");
        assert!(message.contains("网站管理员"), "{message}");
        let text = body.to_string();
        for detail in ["40164", "203.0.113.9", "whitelist", "白名单", "errcode"] {
            assert!(
                !text.contains(detail),
                "{detail} shown to a visitor: {text}"
            );
        }
    }

    #[tokio::test]
    async fn a_quota_or_an_outage_is_said_plainly() {
        let (_, quota) = body(LoginError::Wechat(ApiError::WeChat {
            code: 45009,
            message: "reach max api daily quota limit".into(),
        }))
        .await;
        assert!(quota["message"]
            .as_str()
            .unwrap()
            .contains("调用次数已达上限"));
        let (status, outage) = body(LoginError::Wechat(ApiError::Timeout)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(outage["message"]
            .as_str()
            .unwrap()
            .contains("暂时无法连接微信服务器"));
    }

    #[tokio::test]
    async fn visitor_mistakes_have_no_reference_and_limits_say_when() {
        let (status, body) = body(LoginError::NotYours).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.get("reference").is_none());
        let response = LoginError::SiteBusy {
            retry_after: Duration::from_millis(1500),
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn references_are_short_and_differ() {
        let (a, b) = (
            crate::telemetry::error_reference(),
            crate::telemetry::error_reference(),
        );
        assert_eq!(a.len(), 10);
        assert_ne!(a, b);
    }
}
