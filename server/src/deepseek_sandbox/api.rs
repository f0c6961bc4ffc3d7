//! DeepSeek's API as the sandbox answers it: `POST /chat/completions`,
//! `GET /models`, `GET /user/balance` (also under `/v1/`, as DeepSeek
//! serves both). Requests are checked as DeepSeek checks them: a missing
//! key is 401, a body that is not JSON 400, an unknown model 400, a
//! parameter out of range 422.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap},
    response::Response,
    routing::{get, post},
    Json, Router,
};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{
    article,
    brief::Brief,
    error::ApiError,
    faults::{FaultKind, HOSTILE_ANSWER},
    stream::{self, Answer},
    tokens, DeepseekSandbox,
};

/// The model names DeepSeek accepts (pricing page, November 2026): the
/// current two, and the legacy aliases that still answer.
pub const MODELS: [&str; 5] = [
    "deepseek-flash",
    "deepseek-v4-pro",
    "deepseek-v4-flash",
    "deepseek-chat",
    "deepseek-reasoner",
];
const MAX_TOKENS: i64 = 384_000;
const MAX_STOP: usize = 16;
const MAX_MESSAGES: usize = 1_000;

pub fn routes() -> Router<Arc<DeepseekSandbox>> {
    let mut router = Router::new();
    for prefix in ["", "/v1"] {
        router = router
            .route(&format!("{prefix}/chat/completions"), post(chat))
            .route(&format!("{prefix}/models"), get(models))
            .route(&format!("{prefix}/user/balance"), get(balance));
    }
    router
}

/// DeepSeek rejects a request without a bearer key; any key will do here
/// (the sandbox runs only when no real key is configured).
fn check_key(headers: &HeaderMap) -> Result<(), ApiError> {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    if key.is_empty() {
        return Err(ApiError::unauthorized());
    }
    Ok(())
}

async fn models(headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    check_key(&headers)?;
    let data: Vec<Value> = MODELS[..2]
        .iter()
        .map(|id| json!({"id": id, "object": "model", "owned_by": "deepseek"}))
        .collect();
    Ok(Json(json!({"object": "list", "data": data})))
}

/// The account as an armed fault describes it, without using the fault up
/// (it is for the next chat request): a wrong key is wrong here too, an
/// empty account says so (DeepSeek answers the balance query with 200 and
/// `is_available: false`, not 402), a failing DeepSeek fails here too. This
/// is what `server doctor` reads.
async fn balance(
    State(sandbox): State<Arc<DeepseekSandbox>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    check_key(&headers)?;
    let status = sandbox.armed().and_then(|armed| armed.fault.status());
    let available = match status {
        Some(402) => false,
        Some(status) => return Err(ApiError::for_status(status)),
        None => true,
    };
    let total = if available { "100.00" } else { "0.00" };
    Ok(Json(json!({
        "is_available": available,
        "balance_infos": [{
            "currency": "CNY",
            "total_balance": total,
            "granted_balance": "0.00",
            "topped_up_balance": total
        }]
    })))
}

#[derive(Deserialize)]
struct ChatBody {
    model: String,
    messages: Vec<InMessage>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    thinking: Option<ThinkingSwitch>,
    #[serde(default)]
    max_tokens: Option<i64>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    stop: Option<Stop>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    response_format: Option<ResponseFormat>,
}

#[derive(Deserialize)]
struct InMessage {
    role: String,
    #[serde(default)]
    content: Option<Content>,
}

/// A string, or OpenAI's list of parts (only text parts are read).
#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Value>),
}

impl Content {
    fn text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Parts(parts) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Deserialize)]
struct ThinkingSwitch {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct ResponseFormat {
    #[serde(rename = "type")]
    kind: String,
}

/// A checked request: what to write and how to send it.
struct Order {
    model: String,
    system: String,
    user: String,
    prompt_tokens: u64,
    system_prefix: Option<([u8; 32], u64)>,
    seed: u64,
    stream: bool,
    include_usage: bool,
    thinking: bool,
    max_tokens: Option<u64>,
    stop: Vec<String>,
    json_output: bool,
    /// A continuation: the text so far, which the answer goes on from.
    continues: Option<String>,
}

/// What a user turn says when it asks the model to go on from its own
/// answer before (the writing module's "continue").
const CONTINUE_WORDS: &str = "接着写";

impl Order {
    fn read(body: &[u8]) -> Result<Self, ApiError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("Failed to parse the request body as JSON: {e}"))
        })?;
        let body: ChatBody = serde_json::from_value(value).map_err(|e| {
            ApiError::invalid_parameter(format!(
                "Failed to deserialize the JSON body into the target type: {e}"
            ))
        })?;
        if !MODELS.contains(&body.model.as_str()) {
            return Err(ApiError::bad_request("Model Not Exist"));
        }
        if body.messages.is_empty() || body.messages.len() > MAX_MESSAGES {
            return Err(ApiError::invalid_parameter(
                "messages must contain 1 to 1000 messages",
            ));
        }
        let text_of = |message: &InMessage| {
            message
                .content
                .as_ref()
                .map(Content::text)
                .unwrap_or_default()
        };
        // `[…, assistant: text so far, user: 接着写…]`: DeepSeek goes on from
        // its own text. The sandbox writes the answer to the conversation
        // before that turn (the same article, the same seed) and sends what
        // follows the text so far.
        let (asked, continues) = match body.messages.as_slice() {
            [asked @ .., so_far, last]
                if so_far.role == "assistant"
                    && last.role == "user"
                    && text_of(last).contains(CONTINUE_WORDS)
                    && !asked.is_empty() =>
            {
                (asked, Some(text_of(so_far)))
            }
            all => (all, None),
        };
        let mut system = String::new();
        let mut user = String::new();
        let mut prompt_tokens = 0;
        for message in &body.messages {
            prompt_tokens += tokens::count(&text_of(message)) + 4;
        }
        for message in asked {
            let text = text_of(message);
            match message.role.as_str() {
                "system" => push_line(&mut system, &text),
                "user" => push_line(&mut user, &text),
                "assistant" | "tool" => {}
                other => {
                    return Err(ApiError::invalid_parameter(format!(
                    "unknown variant `{}`, expected one of `system`, `user`, `assistant`, `tool`",
                    other.chars().take(40).collect::<String>()
                )))
                }
            }
        }
        if let Some(max) = body.max_tokens {
            if !(1..=MAX_TOKENS).contains(&max) {
                return Err(ApiError::invalid_parameter(
                    "Invalid max_tokens value, the valid range of max_tokens is [1, 384000]",
                ));
            }
        }
        if let Some(t) = body.temperature {
            if !(0.0..=2.0).contains(&t) {
                return Err(ApiError::invalid_parameter(
                    "Invalid temperature value, the valid range of temperature is [0, 2]",
                ));
            }
        }
        let stop = match body.stop {
            None => Vec::new(),
            Some(Stop::One(s)) => vec![s],
            Some(Stop::Many(list)) => list,
        };
        if stop.len() > MAX_STOP || stop.iter().any(String::is_empty) {
            return Err(ApiError::invalid_parameter(
                "stop must be 1 to 16 non-empty strings",
            ));
        }
        if let Some(id) = &body.user_id {
            let ok = !id.is_empty()
                && id.len() <= 512
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(ApiError::invalid_parameter(
                    "Invalid user_id, it must match [a-zA-Z0-9-_]+ and be at most 512 bytes",
                ));
            }
        }
        let json_output = match body.response_format.map(|f| f.kind) {
            None => false,
            Some(kind) if kind == "text" => false,
            Some(kind) if kind == "json_object" => true,
            Some(_) => {
                return Err(ApiError::invalid_parameter(
                    "response_format.type must be text or json_object",
                ))
            }
        };
        let thinking = match body.thinking.map(|t| t.kind) {
            Some(kind) if kind == "enabled" => true,
            Some(kind) if kind == "disabled" => false,
            Some(_) => {
                return Err(ApiError::invalid_parameter(
                    "thinking.type must be enabled or disabled",
                ))
            }
            // DeepSeek thinks by default; the legacy chat alias does not.
            None => body.model != "deepseek-chat",
        };
        let mut digest = Sha256::new();
        for message in asked {
            digest.update(message.role.as_bytes());
            digest.update([0]);
            if let Some(content) = &message.content {
                digest.update(content.text().as_bytes());
            }
            digest.update([0]);
        }
        let hash: [u8; 32] = digest.finalize().into();
        let seed = u64::from_le_bytes(hash[..8].try_into().unwrap_or_default());
        let system_prefix = (!system.is_empty()).then(|| {
            (
                Sha256::digest(system.as_bytes()).into(),
                tokens::count(&system),
            )
        });
        Ok(Self {
            model: body.model,
            system,
            user,
            prompt_tokens,
            system_prefix,
            seed,
            stream: body.stream,
            include_usage: body.stream_options.is_some_and(|o| o.include_usage),
            thinking,
            max_tokens: body.max_tokens.map(|m| m as u64),
            stop,
            json_output,
            continues,
        })
    }
}

fn push_line(into: &mut String, text: &str) {
    if !into.is_empty() {
        into.push('\n');
    }
    into.push_str(text);
}

async fn chat(
    axum::extract::State(sandbox): axum::extract::State<Arc<DeepseekSandbox>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_key(&headers)?;
    let order = Order::read(&body)?;
    let fault = sandbox.admit();
    if let Some(status) = fault.and_then(|f| f.fault.status()) {
        return Err(ApiError::for_status(status));
    }

    let brief = Brief::read(&order.system, &order.user);
    let mut written = article::write(&brief, order.seed, order.json_output);
    if let Some(so_far) = &order.continues {
        written.content = article::rest_after(&written.content, so_far).to_owned();
    }
    if fault.is_some_and(|f| f.fault == FaultKind::HostileAnswer) {
        written.content = HOSTILE_ANSWER.to_owned();
    }
    // DeepSeek caches prompt prefixes in 64-token units.
    let cache_hit = order
        .system_prefix
        .filter(|(hash, _)| sandbox.cache_hit(*hash))
        .map_or(0, |(_, tokens)| tokens / 64 * 64)
        .min(order.prompt_tokens);
    let answer = Answer::new(
        order.model,
        if order.thinking {
            written.reasoning
        } else {
            String::new()
        },
        written.content,
        &order.stop,
        order.max_tokens,
        order.prompt_tokens,
        cache_hit,
        order.seed,
    );
    let pace = sandbox.tokens_per_second();
    let open = sandbox.open_answer();
    let response = if order.stream {
        stream::streamed(answer, order.include_usage, fault, pace, sandbox.stamps())
    } else {
        stream::whole(answer, fault, pace)
    };
    // Counted as open until its body is sent or dropped.
    let (parts, body) = response.into_parts();
    let body = body.into_data_stream().map(move |chunk| {
        let _open = &open;
        chunk
    });
    Ok(Response::from_parts(
        parts,
        axum::body::Body::from_stream(body),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: Value) -> Result<Order, ApiError> {
        Order::read(body.to_string().as_bytes())
    }

    fn base() -> Value {
        json!({"model": "deepseek-flash", "messages": [{"role": "user", "content": "标题：猫"}]})
    }

    #[test]
    fn a_plain_request_is_read_with_deepseeks_defaults() {
        let order = read(base()).unwrap();
        assert!(order.thinking, "DeepSeek thinks unless told not to");
        assert!(!order.stream && !order.include_usage && !order.json_output);
        assert_eq!(order.user, "标题：猫");
        let chat =
            read(json!({"model": "deepseek-chat", "messages": [{"role": "user", "content": "x"}]}))
                .unwrap();
        assert!(!chat.thinking);
    }

    #[test]
    fn the_same_messages_give_the_same_seed() {
        assert_eq!(read(base()).unwrap().seed, read(base()).unwrap().seed);
        let mut other = base();
        other["messages"][0]["content"] = json!("标题：狗");
        assert_ne!(read(base()).unwrap().seed, read(other).unwrap().seed);
    }

    #[test]
    fn bad_requests_get_deepseeks_status() {
        assert_eq!(
            Order::read(b"{not json").err().unwrap().status.as_u16(),
            400
        );
        let cases: Vec<(Value, u16)> = vec![
            (json!({"messages": []}), 422),
            (
                json!({"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]}),
                400,
            ),
            (json!({"model": "deepseek-flash", "messages": []}), 422),
            (json!({"model": "deepseek-flash", "messages": "hi"}), 422),
            (
                json!({"model": "deepseek-flash", "messages": [{"role": "wizard", "content": "x"}]}),
                422,
            ),
        ];
        for (body, status) in cases {
            assert_eq!(
                read(body.clone()).err().unwrap().status.as_u16(),
                status,
                "{body}"
            );
        }
        for (field, value) in [
            ("max_tokens", json!(0)),
            ("max_tokens", json!(384_001)),
            ("max_tokens", json!("many")),
            ("temperature", json!(3)),
            ("stop", json!(vec!["x"; 17])),
            ("stop", json!([""])),
            ("user_id", json!("has space")),
            ("user_id", json!("")),
            ("response_format", json!({"type": "xml"})),
            ("thinking", json!({"type": "sometimes"})),
            ("stream", json!("yes")),
        ] {
            let mut body = base();
            body[field] = value.clone();
            let error = read(body)
                .err()
                .unwrap_or_else(|| panic!("{field}={value}"));
            assert_eq!(error.status.as_u16(), 422, "{field}={value}");
        }
    }

    #[test]
    fn a_continuation_is_the_same_article_from_where_the_text_stopped() {
        let asked = base();
        let first = read(asked.clone()).unwrap();
        assert!(first.continues.is_none());
        let mut more = asked.clone();
        more["messages"].as_array_mut().unwrap().extend([
            json!({"role": "assistant", "content": "# 猫\n\n猫"}),
            json!({"role": "user", "content": "请从打断的地方接着写下去。"}),
        ]);
        let again = read(more).unwrap();
        assert_eq!(again.seed, first.seed, "the same article");
        assert_eq!(again.user, first.user, "the instruction is not the brief");
        assert_eq!(again.continues.as_deref(), Some("# 猫\n\n猫"));
        assert!(again.prompt_tokens > first.prompt_tokens);
        let full = "# 猫\n\n猫是一种动物。";
        assert_eq!(article::rest_after(full, "# 猫\n\n猫"), "是一种动物。");
        assert_eq!(
            article::rest_after(full, "# 狗\n\n狗"),
            "是一种动物。",
            "by length"
        );
        assert_eq!(article::rest_after(full, &"长".repeat(100)), "");
    }

    #[test]
    fn openai_content_parts_are_read() {
        let order = read(json!({"model": "deepseek-flash", "messages": [
            {"role": "system", "content": [{"type": "text", "text": "你是编辑"}]},
            {"role": "user", "content": [{"type": "text", "text": "标题：猫"}, {"type": "image_url"}]},
            {"role": "assistant", "content": null}
        ]}))
        .unwrap();
        assert_eq!(order.system, "你是编辑");
        assert_eq!(order.user, "标题：猫");
        assert!(order.system_prefix.is_some());
    }
}
