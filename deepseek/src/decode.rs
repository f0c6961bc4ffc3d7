//! From the bytes of a streamed answer to [`ChatEvent`]s.
//!
//! The server-sent-events framing (lines, `data:` fields, `:` comments
//! such as DeepSeek's `: keep-alive`, CR/LF variants, UTF-8 split across
//! network chunks) is `eventsource-stream`'s job; this module reads each
//! event's `data` as DeepSeek's chunk JSON and watches for `[DONE]`. It has
//! no clock: timeouts wrap it (see `deadline`).

use std::collections::VecDeque;
use std::pin::Pin;

use bytes::Bytes;
use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::{stream, Stream, StreamExt};

use crate::response::{ChatEvent, Completion, FinishReason, WireChunk};
use crate::Error;

/// A line longer than this is not DeepSeek (a chunk is a few hundred
/// bytes); without the cap a broken upstream could grow the parser's
/// buffer without end.
pub const MAX_LINE_BYTES: usize = 1 << 20;

pub(crate) type EventResult = Result<ChatEvent, Error>;

/// The events of one streamed answer. Ends after `Done`, or with one error:
/// a transport error, a malformed chunk, an error DeepSeek put in the
/// stream, or `StreamCut` when the bytes end before `[DONE]`.
pub(crate) fn decode<S>(bytes: S) -> impl Stream<Item = EventResult> + Send
where
    S: Stream<Item = Result<Bytes, Error>> + Send + 'static,
{
    let mut run = 0usize;
    let guarded = bytes.map(move |chunk| {
        let chunk = chunk?;
        run = match chunk.iter().rposition(|&b| b == b'\n' || b == b'\r') {
            Some(last_break) => chunk.len() - last_break - 1,
            None => run + chunk.len(),
        };
        if run > MAX_LINE_BYTES {
            return Err(Error::Malformed("a line longer than 1 MiB".into()));
        }
        Ok(chunk)
    });
    let state = State {
        events: Box::pin(guarded.eventsource()),
        chunks: ChunkDecoder::default(),
        pending: VecDeque::new(),
        ended: false,
    };
    stream::unfold(state, |mut state| async move {
        loop {
            if let Some(event) = state.pending.pop_front() {
                return Some((Ok(event), state));
            }
            if state.ended {
                return None;
            }
            let failure = match state.events.next().await {
                Some(Ok(event)) => match state.chunks.feed(&event.data) {
                    Ok(events) => {
                        state.pending.extend(events);
                        state.ended = state.chunks.done;
                        continue;
                    }
                    Err(error) => error,
                },
                Some(Err(EventStreamError::Transport(error))) => error,
                Some(Err(EventStreamError::Utf8(_))) => {
                    Error::Malformed("the stream is not valid UTF-8".into())
                }
                Some(Err(EventStreamError::Parser(error))) => {
                    Error::Malformed(format!("not an event stream: {error}"))
                }
                None => Error::StreamCut("the connection closed before [DONE]".into()),
            };
            state.ended = true;
            return Some((Err(failure), state));
        }
    })
}

type Events =
    Pin<Box<dyn Stream<Item = Result<eventsource_stream::Event, EventStreamError<Error>>> + Send>>;

struct State {
    events: Events,
    chunks: ChunkDecoder,
    pending: VecDeque<ChatEvent>,
    ended: bool,
}

/// Reads the `data` of one event.
#[derive(Debug, Default)]
pub(crate) struct ChunkDecoder {
    /// `[DONE]` was seen.
    pub done: bool,
}

impl ChunkDecoder {
    pub fn feed(&mut self, data: &str) -> Result<Vec<ChatEvent>, Error> {
        let data = data.trim();
        if data.is_empty() {
            return Ok(Vec::new());
        }
        if data == "[DONE]" {
            self.done = true;
            return Ok(vec![ChatEvent::Done]);
        }
        let chunk: WireChunk = serde_json::from_str(data).map_err(|error| {
            Error::Malformed(format!("a chunk is not DeepSeek's JSON: {error}"))
        })?;
        if let Some(error) = chunk.error {
            return Err(Error::InStream(truncate(&error.message)));
        }
        let mut events = Vec::with_capacity(2);
        // DeepSeek answers with one choice (no `n` parameter).
        if let Some(choice) = chunk.choices.into_iter().next() {
            if let Some(text) = choice.delta.reasoning_content.filter(|t| !t.is_empty()) {
                events.push(ChatEvent::Reasoning(text));
            }
            if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                events.push(ChatEvent::Text(text));
            }
            if let Some(reason) = choice.finish_reason {
                events.push(ChatEvent::Finished(FinishReason::parse(&reason)));
            }
        }
        if let Some(usage) = chunk.usage {
            events.push(ChatEvent::Usage(usage.into()));
        }
        Ok(events)
    }
}

/// A non-streamed answer's body (after DeepSeek's keep-alive blank lines).
pub(crate) fn completion(body: &[u8]) -> Result<Completion, Error> {
    let chunk: WireChunk = serde_json::from_slice(body.trim_ascii())
        .map_err(|error| Error::Malformed(format!("the answer is not DeepSeek's JSON: {error}")))?;
    if let Some(error) = chunk.error {
        return Err(Error::InStream(truncate(&error.message)));
    }
    let choice = chunk
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| Error::Malformed("the answer has no choices".into()))?;
    Ok(Completion {
        content: choice.delta.content.unwrap_or_default(),
        reasoning: choice.delta.reasoning_content.unwrap_or_default(),
        finish_reason: choice.finish_reason.as_deref().map(FinishReason::parse),
        usage: chunk.usage.map(Into::into),
    })
}

/// DeepSeek's messages are short; anything long is not worth a log line.
pub(crate) fn truncate(text: &str) -> String {
    const MAX_CHARS: usize = 300;
    match text.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

impl Completion {
    /// Adds one streamed event to the answer collected so far.
    pub fn apply(&mut self, event: &ChatEvent) {
        match event {
            ChatEvent::Reasoning(text) => self.reasoning.push_str(text),
            ChatEvent::Text(text) => self.content.push_str(text),
            ChatEvent::Finished(reason) => self.finish_reason = Some(reason.clone()),
            ChatEvent::Usage(usage) => self.usage = Some(*usage),
            ChatEvent::Done => {}
        }
    }
}

#[cfg(test)]
mod tests;
