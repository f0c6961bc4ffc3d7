use std::fmt;

use thiserror::Error;

/// Which wait ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// No TCP/TLS connection to DeepSeek in time.
    Connect,
    /// DeepSeek accepted the request but wrote no text in time. While busy
    /// it holds requests open with `: keep-alive` comments (streaming) or
    /// blank lines (not streaming); those do not count as text.
    FirstToken,
    /// Text had started, then nothing arrived for too long.
    Idle,
    /// A short call (balance, models, an error body) took too long.
    Response,
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connecting",
            Self::FirstToken => "waiting for the first token",
            Self::Idle => "waiting for the next chunk",
            Self::Response => "waiting for the answer",
        })
    }
}

/// A failed DeepSeek call. Texts never contain the API key (it only ever
/// travels in the `Authorization` header, and anything DeepSeek or the
/// transport says is scrubbed of it anyway).
///
/// The HTTP codes are DeepSeek's documented ones
/// (<https://api-docs.deepseek.com/quick_start/error_codes>).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// 400: the request body is malformed (or names a model that does not exist).
    #[error("DeepSeek rejected the request format (400): {0}")]
    BadRequest(String),
    /// 401: the API key is wrong.
    #[error("DeepSeek refused the API key (401)")]
    Unauthorized,
    /// 402: the account has run out of balance.
    #[error("the DeepSeek account has insufficient balance (402)")]
    InsufficientBalance,
    /// 422: a parameter is invalid.
    #[error("DeepSeek rejected a parameter (422): {0}")]
    InvalidParameters(String),
    /// 429: too many requests (DeepSeek limits concurrency per account).
    #[error("DeepSeek rate limit reached (429)")]
    RateLimited,
    /// 500: DeepSeek failed.
    #[error("DeepSeek server error (500)")]
    ServerError,
    /// 503: DeepSeek is overloaded.
    #[error("DeepSeek is overloaded (503)")]
    Overloaded,
    /// Any other HTTP status.
    #[error("DeepSeek answered HTTP {status}: {message}")]
    Status { status: u16, message: String },
    /// DNS, TCP, TLS: DeepSeek could not be reached.
    #[error("could not reach DeepSeek: {0}")]
    Connect(String),
    #[error("DeepSeek did not answer in time ({0})")]
    Timeout(Timeout),
    /// The answer ended (connection closed or broken) before `[DONE]`.
    #[error("the answer from DeepSeek was cut off: {0}")]
    StreamCut(String),
    /// A chunk or body that is not what DeepSeek sends.
    #[error("DeepSeek sent something unreadable: {0}")]
    Malformed(String),
    /// DeepSeek put an error object into the stream instead of a chunk.
    #[error("DeepSeek reported an error in the stream: {0}")]
    InStream(String),
    /// Refused before sending: the request breaks a documented limit.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
}

impl Error {
    /// The HTTP status DeepSeek answered, when it answered one.
    pub fn status(&self) -> Option<u16> {
        Some(match self {
            Self::BadRequest(_) => 400,
            Self::Unauthorized => 401,
            Self::InsufficientBalance => 402,
            Self::InvalidParameters(_) => 422,
            Self::RateLimited => 429,
            Self::ServerError => 500,
            Self::Overloaded => 503,
            Self::Status { status, .. } => *status,
            _ => return None,
        })
    }

    /// Whether the same request may be sent again: only for the failures
    /// DeepSeek's docs say to retry after a wait (429, 500, 503) and for
    /// a connection that was never made. The client does so by itself,
    /// before the first token only; a caller that gets one of these has
    /// already seen the retries fail.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited
                | Self::ServerError
                | Self::Overloaded
                | Self::Connect(_)
                | Self::Timeout(Timeout::Connect)
        )
    }

    /// Whether the fault is in this site's settings (key, balance, request)
    /// rather than passing: the operator must act.
    pub fn needs_operator(&self) -> bool {
        matches!(
            self,
            Self::Unauthorized
                | Self::InsufficientBalance
                | Self::BadRequest(_)
                | Self::InvalidParameters(_)
                | Self::InvalidRequest(_)
        )
    }

    /// A plain explanation in Chinese, fit to show a visitor: what happened
    /// and what to do next. No details (they are in `Display`, for logs).
    pub fn user_message_zh(&self) -> &'static str {
        self.user_message().0
    }

    /// The same in English.
    pub fn user_message_en(&self) -> &'static str {
        self.user_message().1
    }

    fn user_message(&self) -> (&'static str, &'static str) {
        match self {
            Self::BadRequest(_) | Self::InvalidParameters(_) | Self::InvalidRequest(_) => (
                "生成请求有误，DeepSeek 没有接受。请调整内容后重试；如果一直这样，请联系网站管理员。",
                "DeepSeek did not accept the request. Adjust it and try again; if it keeps happening, contact the site's administrator.",
            ),
            Self::Unauthorized => (
                "写作服务的 DeepSeek 密钥无效，暂时不能生成文章。请联系网站管理员检查 DEEPSEEK_API_KEY。",
                "The site's DeepSeek API key is invalid, so articles cannot be generated. Ask the administrator to check DEEPSEEK_API_KEY.",
            ),
            Self::InsufficientBalance => (
                "写作服务的 DeepSeek 账户余额不足，暂时不能生成文章。请联系网站管理员充值。",
                "The site's DeepSeek account has run out of balance. Ask the administrator to top it up.",
            ),
            Self::RateLimited => (
                "DeepSeek 同时处理的请求太多了，请稍等一会儿再试。",
                "DeepSeek is handling too many requests at once; please wait a moment and try again.",
            ),
            Self::ServerError | Self::Status { .. } => (
                "DeepSeek 服务器出了故障，请稍后再试。",
                "DeepSeek's servers failed; please try again later.",
            ),
            Self::Overloaded => (
                "DeepSeek 服务器繁忙，请稍后再试。",
                "DeepSeek's servers are busy; please try again later.",
            ),
            Self::Connect(_) | Self::Timeout(Timeout::Connect) => (
                "暂时连不上 DeepSeek 服务器，请稍后再试。",
                "DeepSeek cannot be reached right now; please try again later.",
            ),
            Self::Timeout(Timeout::FirstToken) => (
                "DeepSeek 太忙，长时间没有开始回答，请稍后再试。",
                "DeepSeek was too busy to start answering in time; please try again later.",
            ),
            Self::Timeout(Timeout::Idle) => (
                "DeepSeek 回答到一半停了太久，连接已断开。已经写出的内容不受影响，可以稍后继续。",
                "DeepSeek stopped in the middle of its answer for too long. What was written is unaffected; you can continue later.",
            ),
            Self::Timeout(Timeout::Response) => (
                "DeepSeek 没有及时回应，请稍后再试。",
                "DeepSeek did not answer in time; please try again later.",
            ),
            Self::StreamCut(_) => (
                "与 DeepSeek 的连接中途断开，回答没有写完。已经写出的内容不受影响，可以稍后继续。",
                "The connection to DeepSeek broke before the answer was finished. What was written is unaffected; you can continue later.",
            ),
            Self::Malformed(_) | Self::InStream(_) => (
                "DeepSeek 返回了无法识别的内容，回答没有写完，请稍后再试。",
                "DeepSeek sent something that could not be read, so the answer is incomplete; please try again later.",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Error> {
        vec![
            Error::BadRequest("x".into()),
            Error::Unauthorized,
            Error::InsufficientBalance,
            Error::InvalidParameters("x".into()),
            Error::RateLimited,
            Error::ServerError,
            Error::Overloaded,
            Error::Status {
                status: 418,
                message: "x".into(),
            },
            Error::Connect("x".into()),
            Error::Timeout(Timeout::Connect),
            Error::Timeout(Timeout::FirstToken),
            Error::Timeout(Timeout::Idle),
            Error::Timeout(Timeout::Response),
            Error::StreamCut("x".into()),
            Error::Malformed("x".into()),
            Error::InStream("x".into()),
            Error::InvalidRequest("x"),
        ]
    }

    #[test]
    fn only_429_500_503_and_connect_failures_are_retried() {
        let retried: Vec<_> = all().into_iter().filter(Error::is_retryable).collect();
        assert_eq!(
            retried,
            vec![
                Error::RateLimited,
                Error::ServerError,
                Error::Overloaded,
                Error::Connect("x".into()),
                Error::Timeout(Timeout::Connect),
            ]
        );
    }

    #[test]
    fn every_error_explains_itself_in_both_languages() {
        for error in all() {
            assert!(!error.user_message_zh().is_empty(), "{error}");
            assert!(!error.user_message_en().is_empty(), "{error}");
            assert!(!error.to_string().is_empty());
        }
        assert!(Error::InsufficientBalance
            .user_message_zh()
            .contains("余额不足"));
        assert!(Error::Unauthorized
            .user_message_zh()
            .contains("DEEPSEEK_API_KEY"));
        assert!(Error::Overloaded.user_message_zh().contains("繁忙"));
        assert!(Error::StreamCut("eof".into())
            .user_message_zh()
            .contains("已经写出的内容不受影响"));
    }

    #[test]
    fn statuses_follow_deepseeks_codes() {
        let statuses: Vec<_> = all().iter().filter_map(Error::status).collect();
        assert_eq!(statuses, vec![400, 401, 402, 422, 429, 500, 503, 418]);
        assert!(Error::InsufficientBalance.needs_operator());
        assert!(!Error::Overloaded.needs_operator());
    }
}
