use thiserror::Error;

/// A failed WeChat API call. Texts never contain the AppSecret, an access
/// token or a request URL (URLs carry both).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApiError {
    /// WeChat answered with a non-zero `errcode`.
    #[error("WeChat error {code}: {message}")]
    WeChat { code: i64, message: String },
    #[error("WeChat did not answer in time")]
    Timeout,
    /// Transport failure (DNS, connect, TLS…), URL stripped.
    #[error("could not reach WeChat: {0}")]
    Http(String),
    #[error("WeChat answered with HTTP status {0}")]
    Status(u16),
    #[error("could not read WeChat's answer: {0}")]
    Decode(String),
    #[error("QR scene must be 1 to 64 characters")]
    InvalidScene,
}

/// Error codes that mean "this access token is no good; get another".
const INVALID_TOKEN_CODES: [i64; 3] = [40001, 40014, 42001];

impl ApiError {
    /// WeChat's `errcode`, when WeChat gave one.
    pub fn code(&self) -> Option<i64> {
        match self {
            Self::WeChat { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the access token used was invalid or expired.
    pub fn is_invalid_token(&self) -> bool {
        self.code()
            .is_some_and(|c| INVALID_TOKEN_CODES.contains(&c))
    }

    /// A plain-language explanation in Chinese, fit to show an operator.
    pub fn user_message_zh(&self) -> &'static str {
        self.user_message().0
    }

    /// A plain-language explanation in English, fit to show an operator.
    pub fn user_message_en(&self) -> &'static str {
        self.user_message().1
    }

    fn user_message(&self) -> (&'static str, &'static str) {
        match self {
            Self::WeChat { code, .. } => describe_errcode(*code).unwrap_or((
                "微信接口返回了错误，请稍后再试",
                "WeChat returned an error; please try again later",
            )),
            Self::Timeout | Self::Http(_) => (
                "暂时无法连接微信服务器，请稍后再试",
                "WeChat could not be reached; please try again later",
            ),
            Self::Status(_) => (
                "微信服务器返回了异常状态，请稍后再试",
                "WeChat answered with an unexpected HTTP status; please try again later",
            ),
            Self::Decode(_) => (
                "微信服务器返回了无法识别的内容",
                "WeChat answered with something that could not be read",
            ),
            Self::InvalidScene => (
                "二维码场景值无效（需为 1–64 个字符）",
                "Invalid QR code scene (it must be 1 to 64 characters)",
            ),
        }
    }
}

/// Plain-language (Chinese, English) meaning of the WeChat error codes an
/// operator of the login is likely to meet.
pub fn describe_errcode(code: i64) -> Option<(&'static str, &'static str)> {
    Some(match code {
        -1 => ("微信系统繁忙，请稍后再试", "WeChat is busy; please try again shortly"),
        40001 | 42001 | 40014 => (
            "微信接口凭证（access_token）无效或已过期",
            "The WeChat access token is invalid or has expired",
        ),
        40013 => (
            "AppID 无效，请检查 WECHAT_APPID",
            "Invalid AppID: check WECHAT_APPID",
        ),
        40125 => (
            "AppSecret 无效，请检查 WECHAT_APPSECRET",
            "Invalid AppSecret: check WECHAT_APPSECRET",
        ),
        40164 => (
            "本服务器的 IP 地址不在公众号的 IP 白名单中，请在微信公众平台添加",
            "This server's IP address is not on the account's WeChat IP whitelist; add it in the WeChat console",
        ),
        45009 => (
            "微信接口今日调用次数已达上限",
            "The WeChat API daily quota has been reached",
        ),
        48001 => (
            "公众号没有该接口的权限（带参数二维码需要已认证的服务号）",
            "The account is not authorised for this API (parametric QR codes need a verified service account)",
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wechat(code: i64) -> ApiError {
        ApiError::WeChat {
            code,
            message: "errmsg".into(),
        }
    }

    #[test]
    fn invalid_token_codes() {
        for code in [40001, 40014, 42001] {
            assert!(wechat(code).is_invalid_token());
        }
        for code in [-1, 40013, 40125, 45009] {
            assert!(!wechat(code).is_invalid_token());
        }
        assert!(!ApiError::Timeout.is_invalid_token());
        assert_eq!(ApiError::Timeout.code(), None);
        assert_eq!(wechat(48001).code(), Some(48001));
    }

    #[test]
    fn every_listed_code_has_both_languages() {
        for code in [-1, 40001, 40013, 40014, 40125, 40164, 42001, 45009, 48001] {
            let (zh, en) = describe_errcode(code).unwrap();
            assert!(!zh.is_empty() && !en.is_empty());
            assert_eq!(wechat(code).user_message_zh(), zh);
            assert_eq!(wechat(code).user_message_en(), en);
        }
        assert_eq!(describe_errcode(12345), None);
        assert!(wechat(12345).user_message_en().contains("WeChat"));
        assert!(wechat(40164).user_message_en().contains("whitelist"));
        assert!(wechat(48001).user_message_zh().contains("认证"));
        assert!(ApiError::Timeout.user_message_en().contains("reached"));
    }
}
