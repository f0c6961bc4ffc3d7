//! Fault injection: the next `times` chat requests fail the way DeepSeek
//! can fail, for tests of "DeepSeek is down / out of balance / cut off →
//! a clear message → the text so far is kept".

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// HTTP 401: wrong API key.
    Unauthorized,
    /// HTTP 402: the account has no balance left.
    InsufficientBalance,
    /// HTTP 429: too many concurrent requests.
    RateLimited,
    /// HTTP 500.
    ServerError,
    /// HTTP 503: overloaded.
    Overloaded,
    /// Accepted, then only `: keep-alive` comments (streamed) or blank lines
    /// for `delay_ms` before the first token, as DeepSeek does when busy.
    SlowFirstToken,
    /// Keep-alive comments before the first chunk and between all chunks;
    /// the answer itself is complete.
    KeepAlive,
    /// The stream ends halfway through the answer, without `[DONE]`.
    CutMidway,
    /// Halfway through, a chunk that is not valid JSON.
    MalformedChunk,
    /// Halfway through, only keep-alives for `delay_ms`, then the rest.
    StallMidway,
    /// A complete answer whose text is an attack on the page that shows it
    /// ([`HOSTILE_ANSWER`]): a model can be talked into writing anything.
    HostileAnswer,
}

/// What [`FaultKind::HostileAnswer`] writes: script, raw HTML, event
/// handlers and `javascript:`/`data:` links, in the places Markdown lets
/// them through (inline, block, link, image, heading).
pub const HOSTILE_ANSWER: &str = "# 标题<script>alert('title')</script>\n\n\
正文<script>alert(1)</script>，<img src=x onerror=\"alert(2)\">，\
<a href=\"javascript:alert(3)\">点我</a>。\n\n\
<div onmouseover=\"alert(4)\"><iframe src=\"https://evil.example/\"></iframe></div>\n\n\
[链接](javascript:alert(5)) 和 [数据](data:text/html;base64,PHNjcmlwdD5hbGVydCg2KTwvc2NyaXB0Pg==)\n\n\
![图](javascript:alert(7))\n\n\
<style>body{display:none}</style><form action=\"https://evil.example/\"><input name=x></form>\n\n\
最后一句是正常的文字。\n";

impl FaultKind {
    pub const ALL: [FaultKind; 11] = [
        Self::Unauthorized,
        Self::InsufficientBalance,
        Self::RateLimited,
        Self::ServerError,
        Self::Overloaded,
        Self::SlowFirstToken,
        Self::KeepAlive,
        Self::CutMidway,
        Self::MalformedChunk,
        Self::StallMidway,
        Self::HostileAnswer,
    ];

    /// The HTTP status answered instead of the article, if any.
    pub fn status(self) -> Option<u16> {
        Some(match self {
            Self::Unauthorized => 401,
            Self::InsufficientBalance => 402,
            Self::RateLimited => 429,
            Self::ServerError => 500,
            Self::Overloaded => 503,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::InsufficientBalance => "insufficient_balance",
            Self::RateLimited => "rate_limited",
            Self::ServerError => "server_error",
            Self::Overloaded => "overloaded",
            Self::SlowFirstToken => "slow_first_token",
            Self::KeepAlive => "keep_alive",
            Self::CutMidway => "cut_midway",
            Self::MalformedChunk => "malformed_chunk",
            Self::StallMidway => "stall_midway",
            Self::HostileAnswer => "hostile_answer",
        }
    }

    /// For the sandbox page.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Unauthorized => "401 密钥无效",
            Self::InsufficientBalance => "402 余额不足",
            Self::RateLimited => "429 请求过多",
            Self::ServerError => "500 服务器故障",
            Self::Overloaded => "503 服务器繁忙",
            Self::SlowFirstToken => "迟迟不出第一个字（只发 keep-alive）",
            Self::KeepAlive => "夹杂 keep-alive 注释（内容完整）",
            Self::CutMidway => "写到一半连接断开（没有 [DONE]）",
            Self::MalformedChunk => "写到一半发来无法解析的数据块",
            Self::StallMidway => "写到一半停顿（只发 keep-alive）",
            Self::HostileAnswer => "写出带脚本和恶意链接的文章（检查网页不受影响）",
        }
    }

    fn uses_delay(self) -> bool {
        matches!(self, Self::SlowFirstToken | Self::StallMidway)
    }
}

/// A delay longer than DeepSeek's own limit (it closes a request that has
/// not started after 10 minutes) tests nothing more.
pub const MAX_DELAY_MS: u64 = 600_000;
pub const DEFAULT_DELAY_MS: u64 = 5_000;
const MAX_TIMES: u32 = 10_000;

/// `POST /sandbox/deepseek/faults`: `{"fault", "times"?, "delay_ms"?}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRequest {
    pub fault: FaultKind,
    /// How many chat requests it hits; 1 when absent.
    #[serde(default)]
    pub times: Option<u32>,
    /// For `slow_first_token` and `stall_midway`; 5000 when absent.
    #[serde(default)]
    pub delay_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ArmedFault {
    pub fault: FaultKind,
    pub delay_ms: u64,
    pub remaining: u32,
}

/// At most one armed fault: "the next N requests suffer X".
#[derive(Debug, Default)]
pub struct Faults(Option<ArmedFault>);

impl Faults {
    pub fn arm(&mut self, request: FaultRequest) -> Result<ArmedFault, &'static str> {
        let times = request.times.unwrap_or(1);
        if !(1..=MAX_TIMES).contains(&times) {
            return Err("times 必须是 1–10000");
        }
        let delay_ms = match (request.fault.uses_delay(), request.delay_ms) {
            (true, Some(ms)) if ms > MAX_DELAY_MS => {
                return Err("delay_ms 最多 600000（10 分钟，DeepSeek 自己也只等这么久）")
            }
            (true, ms) => ms.unwrap_or(DEFAULT_DELAY_MS),
            (false, Some(_)) => return Err("只有 slow_first_token 和 stall_midway 使用 delay_ms"),
            (false, None) => 0,
        };
        let armed = ArmedFault {
            fault: request.fault,
            delay_ms,
            remaining: times,
        };
        self.0 = Some(armed);
        Ok(armed)
    }

    /// The fault this request suffers, counting it down.
    pub fn take(&mut self) -> Option<ArmedFault> {
        let armed = self.0.as_mut()?;
        let taken = *armed;
        armed.remaining -= 1;
        if armed.remaining == 0 {
            self.0 = None;
        }
        Some(taken)
    }

    pub fn armed(&self) -> Option<ArmedFault> {
        self.0
    }

    pub fn clear(&mut self) {
        self.0 = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(fault: FaultKind, times: Option<u32>, delay_ms: Option<u64>) -> FaultRequest {
        FaultRequest {
            fault,
            times,
            delay_ms,
        }
    }

    #[test]
    fn a_fault_counts_down_then_disappears() {
        let mut faults = Faults::default();
        faults
            .arm(request(FaultKind::RateLimited, Some(2), None))
            .unwrap();
        assert_eq!(faults.take().unwrap().fault, FaultKind::RateLimited);
        assert_eq!(faults.armed().unwrap().remaining, 1);
        assert_eq!(faults.take().unwrap().remaining, 1);
        assert_eq!(faults.take(), None);
    }

    #[test]
    fn delays_default_and_belong_to_the_slow_faults_only() {
        let mut faults = Faults::default();
        let armed = faults
            .arm(request(FaultKind::SlowFirstToken, None, None))
            .unwrap();
        assert_eq!((armed.delay_ms, armed.remaining), (DEFAULT_DELAY_MS, 1));
        assert!(faults
            .arm(request(FaultKind::Overloaded, None, Some(10)))
            .is_err());
        assert!(faults
            .arm(request(
                FaultKind::StallMidway,
                None,
                Some(MAX_DELAY_MS + 1)
            ))
            .is_err());
        assert!(faults
            .arm(request(FaultKind::CutMidway, Some(0), None))
            .is_err());
        // The refused requests left the earlier fault armed.
        assert_eq!(faults.armed().unwrap().fault, FaultKind::SlowFirstToken);
        faults.clear();
        assert_eq!(faults.take(), None);
    }

    #[test]
    fn requests_use_snake_case_names_and_refuse_unknown_fields() {
        for kind in FaultKind::ALL {
            let parsed: FaultRequest =
                serde_json::from_str(&format!(r#"{{"fault":"{}"}}"#, kind.name())).unwrap();
            assert_eq!(parsed.fault, kind);
            assert!(!kind.label_zh().is_empty());
        }
        assert!(serde_json::from_str::<FaultRequest>(r#"{"fault":"explode"}"#).is_err());
        assert!(
            serde_json::from_str::<FaultRequest>(r#"{"fault":"cut_midway","time":1}"#).is_err()
        );
    }
}
