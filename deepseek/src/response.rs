//! What DeepSeek answers, as typed values, and the wire shapes they are
//! read from.

use serde::Deserialize;

/// One thing that happened in a streamed answer, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEvent {
    /// A piece of the reasoning (thinking mode only), before the answer.
    Reasoning(String),
    /// A piece of the answer.
    Text(String),
    /// Why the answer ended.
    Finished(FinishReason),
    /// What the request used; the last event before `Done` when DeepSeek
    /// sends it (the client always asks for it).
    Usage(Usage),
    /// DeepSeek's `[DONE]`: the answer is complete. Nothing follows.
    Done,
}

/// Why DeepSeek stopped writing (`finish_reason`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    /// The answer is complete, or a stop sequence was met.
    Stop,
    /// `max_tokens` (or the context length) was reached: the answer is cut.
    Length,
    /// DeepSeek's content safety removed part of the answer.
    ContentFilter,
    ToolCalls,
    /// DeepSeek ran short of capacity and ended the answer early.
    InsufficientSystemResource,
    /// A reason this client does not know yet, as DeepSeek spelled it.
    Other(String),
}

impl FinishReason {
    pub fn parse(text: &str) -> Self {
        match text {
            "stop" => Self::Stop,
            "length" => Self::Length,
            "content_filter" => Self::ContentFilter,
            "tool_calls" => Self::ToolCalls,
            "insufficient_system_resource" => Self::InsufficientSystemResource,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::ContentFilter => "content_filter",
            Self::ToolCalls => "tool_calls",
            Self::InsufficientSystemResource => "insufficient_system_resource",
            Self::Other(other) => other,
        }
    }

    /// Whether the answer ended as the model meant it to.
    pub fn is_complete(&self) -> bool {
        matches!(self, Self::Stop)
    }
}

/// Tokens one request used. `prompt_tokens` = cache hit + cache miss;
/// `completion_tokens` includes `reasoning_tokens`. DeepSeek bills cache
/// hits at a fraction of misses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub prompt_cache_hit_tokens: u64,
    pub prompt_cache_miss_tokens: u64,
    pub reasoning_tokens: u64,
}

/// A whole answer (non-streamed call, or a stream collected).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completion {
    pub content: String,
    /// Thinking mode's reasoning, empty otherwise.
    pub reasoning: String,
    pub finish_reason: Option<FinishReason>,
    pub usage: Option<Usage>,
}

/// `GET /user/balance`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Balance {
    /// Whether the balance allows API calls.
    pub is_available: bool,
    #[serde(default)]
    pub balance_infos: Vec<BalanceInfo>,
}

/// One currency's balance. Amounts are DeepSeek's decimal strings
/// (e.g. "110.00"), kept as text so no rounding creeps in.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BalanceInfo {
    /// "CNY" or "USD".
    pub currency: String,
    pub total_balance: String,
    pub granted_balance: String,
    pub topped_up_balance: String,
}

/// One entry of `GET /models`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ModelInfo {
    pub id: String,
    #[serde(default)]
    pub owned_by: String,
}

#[derive(Deserialize)]
pub(crate) struct ModelList {
    pub data: Vec<ModelInfo>,
}

// ---- wire shapes (OpenAI format with DeepSeek's additions) ----

#[derive(Deserialize)]
pub(crate) struct WireChunk {
    #[serde(default)]
    pub choices: Vec<WireChoice>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
    #[serde(default)]
    pub error: Option<WireErrorBody>,
}

#[derive(Deserialize)]
pub(crate) struct WireChoice {
    /// Streamed chunks carry `delta`, whole answers `message`.
    #[serde(default, alias = "message")]
    pub delta: WireDelta,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
pub(crate) struct WireDelta {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub reasoning_content: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    total_tokens: u64,
    #[serde(default)]
    prompt_cache_hit_tokens: u64,
    #[serde(default)]
    prompt_cache_miss_tokens: u64,
    #[serde(default)]
    completion_tokens_details: Option<WireCompletionDetails>,
}

#[derive(Deserialize)]
struct WireCompletionDetails {
    #[serde(default)]
    reasoning_tokens: u64,
}

impl From<WireUsage> for Usage {
    fn from(wire: WireUsage) -> Self {
        Self {
            prompt_tokens: wire.prompt_tokens,
            completion_tokens: wire.completion_tokens,
            total_tokens: wire.total_tokens,
            prompt_cache_hit_tokens: wire.prompt_cache_hit_tokens,
            prompt_cache_miss_tokens: wire.prompt_cache_miss_tokens,
            reasoning_tokens: wire
                .completion_tokens_details
                .map_or(0, |details| details.reasoning_tokens),
        }
    }
}

/// `{"error": {"message": …, "type": …, "code": …}}`.
#[derive(Deserialize)]
pub(crate) struct WireError {
    pub error: WireErrorBody,
}

#[derive(Deserialize)]
pub(crate) struct WireErrorBody {
    #[serde(default)]
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_reads_deepseeks_cache_and_reasoning_fields() {
        let wire: WireUsage = serde_json::from_str(
            r#"{"prompt_tokens":120,"completion_tokens":900,"total_tokens":1020,
                "prompt_tokens_details":{"cached_tokens":64},
                "prompt_cache_hit_tokens":64,"prompt_cache_miss_tokens":56,
                "completion_tokens_details":{"reasoning_tokens":300}}"#,
        )
        .unwrap();
        assert_eq!(
            Usage::from(wire),
            Usage {
                prompt_tokens: 120,
                completion_tokens: 900,
                total_tokens: 1020,
                prompt_cache_hit_tokens: 64,
                prompt_cache_miss_tokens: 56,
                reasoning_tokens: 300,
            }
        );
        let bare: WireUsage = serde_json::from_str(r#"{"prompt_tokens":3}"#).unwrap();
        assert_eq!(Usage::from(bare).reasoning_tokens, 0);
    }

    #[test]
    fn finish_reasons_round_trip() {
        for text in [
            "stop",
            "length",
            "content_filter",
            "tool_calls",
            "insufficient_system_resource",
            "something_new",
        ] {
            assert_eq!(FinishReason::parse(text).as_str(), text);
        }
        assert!(FinishReason::Stop.is_complete());
        assert!(!FinishReason::Length.is_complete());
    }

    #[test]
    fn balance_reads_the_documented_example() {
        let balance: Balance = serde_json::from_str(
            r#"{"is_available":true,"balance_infos":[{"currency":"CNY","total_balance":"110.00",
                "granted_balance":"10.00","topped_up_balance":"100.00"}]}"#,
        )
        .unwrap();
        assert!(balance.is_available);
        assert_eq!(balance.balance_infos[0].total_balance, "110.00");
    }
}
