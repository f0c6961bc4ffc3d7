//! What to ask DeepSeek: the chat completion request, checked against
//! DeepSeek's documented limits before it is sent.

use serde::{Deserialize, Serialize};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }

    /// An earlier answer, for a conversation of several turns. Only the
    /// answer goes back: DeepSeek ignores earlier reasoning.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// DeepSeek's thinking switch. DeepSeek thinks by default, so the client
/// always sends it: a request never thinks (and bills reasoning tokens)
/// by surprise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Thinking {
    #[default]
    Disabled,
    Enabled,
}

/// How hard to think (`reasoning_effort`), thinking mode only. DeepSeek maps
/// other values onto these three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReasoningEffort {
    Low,
    High,
    Max,
}

/// DeepSeek's limits (API reference and Rate Limit & Isolation pages).
pub const MAX_STOP_SEQUENCES: usize = 16;
pub const MAX_OUTPUT_TOKENS: u32 = 384_000;
pub const MAX_USER_ID_BYTES: usize = 512;

/// One chat completion request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    /// `None`: the client's configured model.
    pub model: Option<String>,
    pub max_tokens: Option<u32>,
    /// 0 to 2. Ignored by DeepSeek in thinking mode.
    pub temperature: Option<f32>,
    pub thinking: Thinking,
    pub reasoning_effort: Option<ReasoningEffort>,
    /// Up to 16 sequences that end the answer.
    pub stop: Vec<String>,
    /// Tells DeepSeek which of the site's users this is for (`user_id`):
    /// it isolates their content-safety handling, cache and scheduling.
    /// Letters, digits, `_` and `-` only; no personal data.
    pub user_id: Option<String>,
    /// JSON output (`response_format: json_object`); the prompt must ask
    /// for JSON too, as DeepSeek requires.
    pub json_output: bool,
}

impl ChatRequest {
    pub fn new(messages: Vec<Message>) -> Self {
        Self {
            messages,
            ..Self::default()
        }
    }

    pub fn thinking(mut self, thinking: Thinking) -> Self {
        self.thinking = thinking;
        self
    }

    pub fn max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    pub fn temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
        self
    }

    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Refuses what DeepSeek would refuse, before spending a request on it.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.messages.is_empty() {
            return Err("a request needs at least one message");
        }
        if let Some(model) = &self.model {
            if model.is_empty() || model.len() > 64 {
                return Err("the model name must be 1 to 64 characters");
            }
        }
        if self.max_tokens == Some(0) || self.max_tokens > Some(MAX_OUTPUT_TOKENS) {
            return Err("max_tokens must be 1 to 384000");
        }
        if let Some(t) = self.temperature {
            if !(0.0..=2.0).contains(&t) {
                return Err("temperature must be between 0 and 2");
            }
        }
        if self.stop.len() > MAX_STOP_SEQUENCES {
            return Err("at most 16 stop sequences");
        }
        if self.stop.iter().any(String::is_empty) {
            return Err("a stop sequence cannot be empty");
        }
        if let Some(id) = &self.user_id {
            let ok = !id.is_empty()
                && id.len() <= MAX_USER_ID_BYTES
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok {
                return Err("user_id must be 1 to 512 letters, digits, '_' or '-'");
            }
        }
        Ok(())
    }

    /// The JSON body DeepSeek receives.
    pub(crate) fn to_wire<'a>(&'a self, default_model: &'a str, stream: bool) -> WireRequest<'a> {
        WireRequest {
            model: self.model.as_deref().unwrap_or(default_model),
            messages: &self.messages,
            thinking: WireThinking {
                kind: match self.thinking {
                    Thinking::Enabled => "enabled",
                    Thinking::Disabled => "disabled",
                },
            },
            reasoning_effort: self.reasoning_effort,
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            stop: (!self.stop.is_empty()).then_some(&self.stop),
            user_id: self.user_id.as_deref(),
            response_format: self.json_output.then_some(WireFormat {
                kind: "json_object",
            }),
            stream,
            stream_options: stream.then_some(WireStreamOptions {
                include_usage: true,
            }),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct WireRequest<'a> {
    model: &'a str,
    messages: &'a [Message],
    thinking: WireThinking,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_effort: Option<ReasoningEffort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<&'a Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<WireFormat>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<WireStreamOptions>,
}

#[derive(Serialize)]
struct WireThinking {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct WireFormat {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct WireStreamOptions {
    include_usage: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_streamed_request_asks_for_usage_and_says_whether_to_think() {
        let request = ChatRequest::new(vec![Message::system("写作助手"), Message::user("写一篇")])
            .thinking(Thinking::Enabled)
            .max_tokens(2000)
            .user_id("user_42");
        let body = serde_json::to_value(request.to_wire("deepseek-flash", true)).unwrap();
        assert_eq!(
            body,
            json!({
                "model": "deepseek-flash",
                "messages": [
                    {"role": "system", "content": "写作助手"},
                    {"role": "user", "content": "写一篇"}
                ],
                "thinking": {"type": "enabled"},
                "max_tokens": 2000,
                "user_id": "user_42",
                "stream": true,
                "stream_options": {"include_usage": true}
            })
        );
    }

    #[test]
    fn a_plain_request_still_turns_thinking_off_explicitly() {
        let mut request = ChatRequest::new(vec![Message::user("hi")]).model("deepseek-v4-pro");
        request.json_output = true;
        request.stop = vec!["END".into()];
        request.temperature = Some(1.3);
        request.reasoning_effort = Some(ReasoningEffort::Max);
        let body = serde_json::to_value(request.to_wire("deepseek-flash", false)).unwrap();
        assert_eq!(body["model"], "deepseek-v4-pro");
        assert_eq!(body["thinking"], json!({"type": "disabled"}));
        assert_eq!(body["response_format"], json!({"type": "json_object"}));
        assert_eq!(body["stop"], json!(["END"]));
        assert_eq!(body["reasoning_effort"], "max");
        assert_eq!(body["stream"], false);
        assert!(body.get("stream_options").is_none());
        assert!(body.get("user_id").is_none());
    }

    #[test]
    fn limits_are_checked_before_sending() {
        let ok = ChatRequest::new(vec![Message::user("hi")]);
        assert!(ok.validate().is_ok());
        let bad = [
            ChatRequest::default(),
            ok.clone().max_tokens(0),
            ok.clone().max_tokens(MAX_OUTPUT_TOKENS + 1),
            ok.clone().temperature(2.5),
            ok.clone().temperature(f32::NAN),
            ok.clone().user_id(""),
            ok.clone().user_id("has space"),
            ok.clone().user_id("名字"),
            ok.clone().user_id("x".repeat(513)),
            ok.clone().model(""),
            ChatRequest {
                stop: vec!["s".into(); 17],
                ..ok.clone()
            },
            ChatRequest {
                stop: vec![String::new()],
                ..ok.clone()
            },
        ];
        for request in bad {
            assert!(request.validate().is_err(), "{request:?}");
        }
        assert!(ok.clone().user_id("x".repeat(512)).validate().is_ok());
        assert!(ok.user_id("a-Z_9").validate().is_ok());
    }
}
