//! Sends an answer as DeepSeek does: server-sent events, one token per
//! chunk at the configured pace (reasoning first in thinking mode), then
//! the finishing chunk, the usage chunk and `[DONE]`; or, not streamed,
//! one JSON object. Faults change what is sent on the way.
//!
//! Chunks are made as they are sent: an answer in flight holds its text
//! and the token boundaries, nothing more.

use std::convert::Infallible;
use std::ops::Range;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::{
    body::{Body, Bytes},
    http::header,
    response::Response,
};
use futures_util::stream;
use rand::Rng;
use serde_json::{json, Value};
use tokio::time::{sleep, sleep_until, Instant};

use super::{
    faults::{ArmedFault, FaultKind},
    tokens,
};

/// DeepSeek sends a keep-alive about every few seconds while a request
/// waits; the sandbox sends one a second so tests need not wait long.
const KEEP_ALIVE_EVERY: Duration = Duration::from_secs(1);
const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// A finished answer, ready to send.
pub struct Answer {
    id: String,
    model: String,
    created: u64,
    reasoning: String,
    reasoning_tokens: Vec<Range<usize>>,
    content: String,
    content_tokens: Vec<Range<usize>>,
    finish_reason: &'static str,
    usage: Value,
}

impl Answer {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        model: String,
        reasoning: String,
        mut content: String,
        stop: &[String],
        max_tokens: Option<u64>,
        prompt_tokens: u64,
        cache_hit: u64,
        seed: u64,
    ) -> Self {
        // A stop sequence ends the answer before it (not included).
        if let Some(cut) = stop.iter().filter_map(|s| content.find(s.as_str())).min() {
            content.truncate(cut);
        }
        let mut reasoning_tokens = tokens::split(&reasoning, seed);
        let mut content_tokens = tokens::split(&content, seed.rotate_left(17));
        let mut finish_reason = "stop";
        // max_tokens counts the reasoning too.
        if let Some(max) = max_tokens.map(|m| m as usize) {
            if reasoning_tokens.len() + content_tokens.len() > max {
                reasoning_tokens.truncate(max);
                content_tokens.truncate(max - reasoning_tokens.len());
                finish_reason = "length";
            }
        }
        let reasoning_count = reasoning_tokens.len() as u64;
        let completion = reasoning_count + content_tokens.len() as u64;
        let usage = json!({
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
            "prompt_tokens_details": {"cached_tokens": cache_hit},
            "prompt_cache_hit_tokens": cache_hit,
            "prompt_cache_miss_tokens": prompt_tokens - cache_hit,
            "completion_tokens_details": {"reasoning_tokens": reasoning_count},
        });
        Self {
            id: new_id(),
            model,
            created: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            reasoning,
            reasoning_tokens,
            content,
            content_tokens,
            finish_reason,
            usage,
        }
    }

    fn reasoning_text(&self) -> &str {
        match self.reasoning_tokens.last() {
            Some(last) => &self.reasoning[..last.end],
            None => "",
        }
    }

    fn content_text(&self) -> &str {
        match self.content_tokens.last() {
            Some(last) => &self.content[..last.end],
            None => "",
        }
    }

    fn thinking(&self) -> bool {
        !self.reasoning.is_empty()
    }

    fn chunk(&self, delta: Value, finish_reason: Option<&str>, usage: Option<&Value>) -> Bytes {
        let chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_sandbox",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
            "usage": usage,
        });
        Bytes::from(format!("data: {chunk}\n\n"))
    }

    fn usage_chunk(&self) -> Bytes {
        let chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_sandbox",
            "choices": [],
            "usage": self.usage,
        });
        Bytes::from(format!("data: {chunk}\n\n"))
    }

    fn whole_json(&self) -> String {
        let mut message = json!({"role": "assistant", "content": self.content_text()});
        if self.thinking() {
            message["reasoning_content"] = json!(self.reasoning_text());
        }
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_sandbox",
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": self.finish_reason}],
            "usage": self.usage,
        })
        .to_string()
    }
}

/// A DeepSeek-like completion id.
fn new_id() -> String {
    let mut rng = rand::rng();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        rng.random::<u32>(),
        rng.random::<u16>(),
        rng.random::<u16>() & 0xfff,
        rng.random::<u16>(),
        rng.random::<u64>() & 0xffff_ffff_ffff
    )
}

fn respond(content_type: &'static str, body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    response
}

/// The streamed answer (`"stream": true`).
pub fn streamed(
    answer: Answer,
    include_usage: bool,
    fault: Option<ArmedFault>,
    tokens_per_second: u32,
    stamps: bool,
) -> Response {
    let emitter = Emitter {
        midpoint: answer.content_tokens.len() / 2,
        answer,
        include_usage,
        fault: fault.map(|f| f.fault),
        delay: Duration::from_millis(fault.map_or(0, |f| f.delay_ms)),
        interval: (tokens_per_second > 0)
            .then(|| Duration::from_secs_f64(1.0 / f64::from(tokens_per_second))),
        next_at: Instant::now(),
        stage: Stage::Opening(3),
        midway_done: false,
        stamps,
    };
    let body = stream::unfold(emitter, |mut emitter| async move {
        let bytes = emitter.next().await?;
        Some((Ok::<_, Infallible>(bytes), emitter))
    });
    respond("text/event-stream; charset=utf-8", Body::from_stream(body))
}

struct Emitter {
    answer: Answer,
    include_usage: bool,
    fault: Option<FaultKind>,
    delay: Duration,
    /// Between two tokens; `None` sends without pausing.
    interval: Option<Duration>,
    next_at: Instant,
    stage: Stage,
    midpoint: usize,
    midway_done: bool,
    /// Benchmarks: each answer token is `<index>:<send time>|` instead of
    /// the article's (see [`stamp`]).
    stamps: bool,
}

/// A benchmark's token: its index in the answer and when it is sent, in
/// microseconds since the Unix epoch modulo 10^9 (a reader on the same
/// machine subtracts from its own clock, minding the wrap every 1 000 s).
pub fn stamp(index: usize) -> String {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() % 1_000_000_000);
    format!("{index}:{micros}|")
}

#[derive(Clone, Copy)]
enum Stage {
    /// Keep-alives before anything (the `keep_alive` fault), then the rest.
    Opening(u8),
    /// Only keep-alives until then (`slow_first_token`).
    Busy(Instant),
    Role,
    Reasoning(usize),
    Content(usize),
    /// Only keep-alives until then, then content from the index.
    Stalled(Instant, usize),
    Finish,
    Usage,
    Done,
    End,
}

impl Emitter {
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            match self.stage {
                Stage::Opening(left) => {
                    if self.fault == Some(FaultKind::KeepAlive) && left > 0 {
                        self.stage = Stage::Opening(left - 1);
                        return Some(Bytes::from_static(KEEP_ALIVE));
                    }
                    self.stage = if self.fault == Some(FaultKind::SlowFirstToken) {
                        Stage::Busy(Instant::now() + self.delay)
                    } else {
                        Stage::Role
                    };
                }
                Stage::Busy(until) | Stage::Stalled(until, _) => {
                    let now = Instant::now();
                    if now >= until {
                        self.stage = match self.stage {
                            Stage::Stalled(_, at) => Stage::Content(at),
                            _ => Stage::Role,
                        };
                        self.next_at = now;
                        continue;
                    }
                    sleep(KEEP_ALIVE_EVERY.min(until - now)).await;
                    return Some(Bytes::from_static(KEEP_ALIVE));
                }
                Stage::Role => {
                    self.stage = Stage::Reasoning(0);
                    self.next_at = Instant::now();
                    let delta = if self.answer.thinking() {
                        json!({"role": "assistant", "content": null, "reasoning_content": ""})
                    } else {
                        json!({"role": "assistant", "content": ""})
                    };
                    return Some(self.answer.chunk(delta, None, None));
                }
                Stage::Reasoning(i) => {
                    let Some(range) = self.answer.reasoning_tokens.get(i).cloned() else {
                        self.stage = Stage::Content(0);
                        continue;
                    };
                    self.pace().await;
                    self.stage = Stage::Reasoning(i + 1);
                    let piece = &self.answer.reasoning[range];
                    let chunk = self.answer.chunk(
                        json!({"content": null, "reasoning_content": piece}),
                        None,
                        None,
                    );
                    return Some(self.with_keep_alive(chunk));
                }
                Stage::Content(i) => {
                    if i == self.midpoint && !self.midway_done {
                        self.midway_done = true;
                        match self.fault {
                            Some(FaultKind::CutMidway) => {
                                self.stage = Stage::End;
                                return None;
                            }
                            Some(FaultKind::MalformedChunk) => {
                                return Some(Bytes::from(format!(
                                    "data: {{\"id\":\"{}\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\n\n",
                                    self.answer.id
                                )));
                            }
                            Some(FaultKind::StallMidway) => {
                                self.stage = Stage::Stalled(Instant::now() + self.delay, i);
                                continue;
                            }
                            _ => {}
                        }
                    }
                    let Some(range) = self.answer.content_tokens.get(i).cloned() else {
                        self.stage = Stage::Finish;
                        continue;
                    };
                    self.pace().await;
                    self.stage = Stage::Content(i + 1);
                    let stamped;
                    let piece = if self.stamps {
                        stamped = stamp(i);
                        stamped.as_str()
                    } else {
                        &self.answer.content[range]
                    };
                    let delta = if self.answer.thinking() {
                        json!({"content": piece, "reasoning_content": null})
                    } else {
                        json!({"content": piece})
                    };
                    let chunk = self.answer.chunk(delta, None, None);
                    return Some(self.with_keep_alive(chunk));
                }
                Stage::Finish => {
                    self.stage = if self.include_usage {
                        Stage::Usage
                    } else {
                        Stage::Done
                    };
                    // Without include_usage, DeepSeek puts usage on the
                    // finishing chunk; with it, in a chunk of its own.
                    let usage = (!self.include_usage).then_some(&self.answer.usage);
                    return Some(self.answer.chunk(
                        json!({"content": ""}),
                        Some(self.answer.finish_reason),
                        usage,
                    ));
                }
                Stage::Usage => {
                    self.stage = Stage::Done;
                    return Some(self.answer.usage_chunk());
                }
                Stage::Done => {
                    self.stage = Stage::End;
                    return Some(Bytes::from_static(b"data: [DONE]\n\n"));
                }
                Stage::End => return None,
            }
        }
    }

    /// Waits for this token's turn on a fixed schedule (no drift).
    async fn pace(&mut self) {
        if let Some(interval) = self.interval {
            self.next_at += interval;
            sleep_until(self.next_at).await;
        }
    }

    fn with_keep_alive(&self, chunk: Bytes) -> Bytes {
        if self.fault == Some(FaultKind::KeepAlive) {
            let mut both = chunk.to_vec();
            both.extend_from_slice(KEEP_ALIVE);
            Bytes::from(both)
        } else {
            chunk
        }
    }
}

/// The whole answer (`"stream": false`): DeepSeek's blank lines while the
/// request waits, then one JSON object once it is written.
pub fn whole(answer: Answer, fault: Option<ArmedFault>, tokens_per_second: u32) -> Response {
    let mut steps: Vec<(Duration, Bytes)> = Vec::new();
    let blank = || Bytes::from_static(b"\n");
    match fault.map(|f| (f.fault, Duration::from_millis(f.delay_ms))) {
        Some((FaultKind::SlowFirstToken | FaultKind::StallMidway, delay)) => {
            let mut waited = Duration::ZERO;
            while waited < delay {
                let step = KEEP_ALIVE_EVERY.min(delay - waited);
                steps.push((step, blank()));
                waited += step;
            }
        }
        Some((FaultKind::KeepAlive, _)) => steps.extend((0..3).map(|_| (Duration::ZERO, blank()))),
        _ => {}
    }
    let tokens = answer.reasoning_tokens.len() + answer.content_tokens.len();
    let writing = if tokens_per_second > 0 {
        Duration::from_secs_f64(tokens as f64 / f64::from(tokens_per_second))
    } else {
        Duration::ZERO
    };
    let json = answer.whole_json();
    let body = match fault.map(|f| f.fault) {
        Some(FaultKind::CutMidway) => Bytes::from(json[..json.len() / 2].to_owned()),
        Some(FaultKind::MalformedChunk) => Bytes::from_static(b"{\"id\": oops"),
        _ => Bytes::from(json),
    };
    steps.push((writing, body));
    let body = stream::unfold(steps.into_iter(), |mut steps| async move {
        let (wait, bytes) = steps.next()?;
        if !wait.is_zero() {
            sleep(wait).await;
        }
        Some((Ok::<_, Infallible>(bytes), steps))
    });
    respond("application/json", Body::from_stream(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn answer(max_tokens: Option<u64>, stop: &[String]) -> Answer {
        Answer::new(
            "deepseek-flash".into(),
            "先想一想结构。".into(),
            "# 标题\n\n正文第一段。正文第二段。END 不要这个".into(),
            stop,
            max_tokens,
            20,
            0,
            7,
        )
    }

    async fn body_text(response: Response) -> String {
        let bytes: Vec<u8> = response
            .into_body()
            .into_data_stream()
            .map(|chunk| chunk.unwrap().to_vec())
            .concat()
            .await;
        String::from_utf8(bytes).unwrap()
    }

    /// (reasoning, content, finish reasons, usage chunks, done) from SSE text.
    fn read_sse(text: &str) -> (String, String, Vec<String>, Vec<Value>, bool) {
        let (mut reasoning, mut content, mut finish, mut usage, mut done) =
            (String::new(), String::new(), vec![], vec![], false);
        for event in text.split("\n\n") {
            let Some(data) = event.strip_prefix("data: ") else {
                continue;
            };
            if data == "[DONE]" {
                done = true;
                continue;
            }
            let value: Value = serde_json::from_str(data).unwrap();
            if let Some(choice) = value["choices"].get(0) {
                reasoning.push_str(choice["delta"]["reasoning_content"].as_str().unwrap_or(""));
                content.push_str(choice["delta"]["content"].as_str().unwrap_or(""));
                if let Some(f) = choice["finish_reason"].as_str() {
                    finish.push(f.to_owned());
                }
            }
            if !value["usage"].is_null() {
                usage.push(value["usage"].clone());
            }
        }
        (reasoning, content, finish, usage, done)
    }

    #[tokio::test]
    async fn a_stream_carries_reasoning_answer_finish_usage_and_done() {
        let text = body_text(streamed(answer(None, &[]), true, None, 0, false)).await;
        let (reasoning, content, finish, usage, done) = read_sse(&text);
        assert_eq!(reasoning, "先想一想结构。");
        assert!(content.starts_with("# 标题\n\n正文第一段。"));
        assert_eq!(finish, ["stop"]);
        assert_eq!(usage.len(), 1);
        let u = &usage[0];
        assert_eq!(
            u["completion_tokens"].as_u64().unwrap(),
            u["total_tokens"].as_u64().unwrap() - 20
        );
        assert!(
            u["completion_tokens_details"]["reasoning_tokens"]
                .as_u64()
                .unwrap()
                > 0
        );
        assert!(done);
        assert!(text.ends_with("data: [DONE]\n\n"));
        assert!(!text.contains("keep-alive"));
    }

    #[tokio::test]
    async fn stop_and_max_tokens_end_the_answer_as_deepseek_does() {
        let text = body_text(streamed(
            answer(None, &["END".into()]),
            false,
            None,
            0,
            false,
        ))
        .await;
        let (_, content, finish, usage, _) = read_sse(&text);
        assert!(content.ends_with("正文第二段。"), "{content:?}");
        assert_eq!(finish, ["stop"]);
        assert_eq!(usage.len(), 1, "usage rides on the finishing chunk");
        let text = body_text(streamed(answer(Some(5), &[]), true, None, 0, false)).await;
        let (reasoning, content, finish, usage, _) = read_sse(&text);
        assert_eq!(finish, ["length"]);
        assert_eq!(usage[0]["completion_tokens"], 5);
        assert!(reasoning.chars().count() + content.chars().count() <= 15);
    }

    fn fault(kind: FaultKind, delay_ms: u64) -> Option<ArmedFault> {
        Some(ArmedFault {
            fault: kind,
            delay_ms,
            remaining: 1,
        })
    }

    #[tokio::test]
    async fn faults_change_the_stream() {
        let keep = body_text(streamed(
            answer(None, &[]),
            true,
            fault(FaultKind::KeepAlive, 0),
            0,
            false,
        ))
        .await;
        assert!(keep.starts_with(": keep-alive\n\n: keep-alive\n\n: keep-alive\n\n"));
        assert_eq!(
            read_sse(&keep).1,
            read_sse(&body_text(streamed(answer(None, &[]), true, None, 0, false)).await).1
        );

        let cut = body_text(streamed(
            answer(None, &[]),
            true,
            fault(FaultKind::CutMidway, 0),
            0,
            false,
        ))
        .await;
        let (_, content, finish, _, done) = read_sse(&cut);
        assert!(!content.is_empty() && finish.is_empty() && !done);

        let bad = body_text(streamed(
            answer(None, &[]),
            true,
            fault(FaultKind::MalformedChunk, 0),
            0,
            false,
        ))
        .await;
        assert!(bad.contains("\"delta\":{\"content\":\n\n"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_first_token_sends_keep_alives_meanwhile() {
        let start = Instant::now();
        let text = body_text(streamed(
            answer(None, &[]),
            true,
            fault(FaultKind::SlowFirstToken, 3_500),
            0,
            false,
        ))
        .await;
        assert!(start.elapsed() >= Duration::from_millis(3_500));
        assert!(text.starts_with(&": keep-alive\n\n".repeat(4)));
        assert!(read_sse(&text).4);
    }

    #[tokio::test(start_paused = true)]
    async fn the_pace_is_kept() {
        let answer = answer(None, &[]);
        let tokens = answer.reasoning_tokens.len() + answer.content_tokens.len();
        let start = Instant::now();
        body_text(streamed(answer, true, None, 10, false)).await;
        let took = start.elapsed().as_secs_f64();
        let expected = tokens as f64 / 10.0;
        assert!(
            (took - expected).abs() < 0.2,
            "{took} s for {tokens} tokens"
        );
    }

    #[tokio::test]
    async fn stamps_replace_the_answer_tokens_in_order() {
        let answer = answer(None, &[]);
        let tokens = answer.content_tokens.len();
        let text = body_text(streamed(answer, true, None, 0, true)).await;
        let content = read_sse(&text).1;
        let stamps: Vec<&str> = content.split_terminator('|').collect();
        assert_eq!(stamps.len(), tokens);
        for (i, stamp) in stamps.iter().enumerate() {
            let (index, micros) = stamp.split_once(':').unwrap();
            assert_eq!(index.parse::<usize>().unwrap(), i);
            assert!(micros.parse::<u64>().unwrap() < 1_000_000_000);
        }
    }

    #[tokio::test]
    async fn a_whole_answer_is_one_json_object() {
        let text = body_text(whole(answer(None, &[]), fault(FaultKind::KeepAlive, 0), 0)).await;
        assert!(text.starts_with("\n\n\n{"));
        let value: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(value["object"], "chat.completion");
        assert_eq!(
            value["choices"][0]["message"]["reasoning_content"],
            "先想一想结构。"
        );
        assert_eq!(value["choices"][0]["finish_reason"], "stop");
        let cut = body_text(whole(answer(None, &[]), fault(FaultKind::CutMidway, 0), 0)).await;
        assert!(serde_json::from_str::<Value>(&cut).is_err());
    }
}
