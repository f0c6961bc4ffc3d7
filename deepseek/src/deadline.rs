//! Timeouts on a stream of events: one deadline for the first token, then
//! one for each gap between events.
//!
//! Keep-alive comments never reach this layer (the SSE parser drops them),
//! so they cannot keep a stuck request alive: the first-token deadline is
//! fixed when the request is sent, whatever DeepSeek sends meanwhile. (A
//! client that re-armed its idle timer on every comment was seen waiting
//! 17 minutes on a 5-minute timeout; see README.md.)

use std::pin::Pin;
use std::time::Duration;

use futures_util::{stream, Stream, StreamExt};
use tokio::time::{timeout_at, Instant};

use crate::decode::EventResult;
use crate::response::ChatEvent;
use crate::{Error, Timeout};

pub(crate) fn guard<S>(
    events: S,
    first_token_deadline: Instant,
    idle: Duration,
) -> impl Stream<Item = EventResult> + Send
where
    S: Stream<Item = EventResult> + Send + 'static,
{
    let state = State {
        events: Box::pin(events),
        deadline: first_token_deadline,
        started: false,
        ended: false,
    };
    stream::unfold(state, move |mut state| async move {
        if state.ended {
            return None;
        }
        let item = match timeout_at(state.deadline, state.events.next()).await {
            Ok(item) => item?,
            Err(_) => {
                state.ended = true;
                let which = if state.started {
                    Timeout::Idle
                } else {
                    Timeout::FirstToken
                };
                return Some((Err(Error::Timeout(which)), state));
            }
        };
        match &item {
            Ok(ChatEvent::Reasoning(_) | ChatEvent::Text(_)) => state.started = true,
            Ok(_) => {}
            Err(_) => state.ended = true,
        }
        if state.started {
            state.deadline = Instant::now() + idle;
        }
        Some((item, state))
    })
}

struct State {
    events: Pin<Box<dyn Stream<Item = EventResult> + Send>>,
    deadline: Instant,
    started: bool,
    ended: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::sleep;

    /// Events arriving after the given pauses.
    fn paced(items: Vec<(u64, EventResult)>) -> impl Stream<Item = EventResult> + Send {
        stream::iter(items).then(|(pause_ms, item)| async move {
            sleep(Duration::from_millis(pause_ms)).await;
            item
        })
    }

    fn text(t: &str) -> EventResult {
        Ok(ChatEvent::Text(t.into()))
    }

    #[tokio::test(start_paused = true)]
    async fn no_token_before_the_deadline_is_a_first_token_timeout() {
        let start = Instant::now();
        let events = paced(vec![
            (1_000, Ok(ChatEvent::Usage(Default::default()))),
            (10_000, text("late")),
        ]);
        let got: Vec<_> = guard(
            events,
            start + Duration::from_secs(5),
            Duration::from_secs(60),
        )
        .collect()
        .await;
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], Err(Error::Timeout(Timeout::FirstToken)));
        assert!(start.elapsed() < Duration::from_secs(6));
    }

    #[tokio::test(start_paused = true)]
    async fn once_text_flows_each_gap_has_the_idle_limit() {
        let start = Instant::now();
        let events = paced(vec![
            (4_000, text("a")),
            (1_500, text("b")),
            (1_500, text("c")),
            (2_500, text("too late")),
        ]);
        let got: Vec<_> = guard(
            events,
            start + Duration::from_secs(5),
            Duration::from_secs(2),
        )
        .collect()
        .await;
        assert_eq!(
            got,
            vec![
                text("a"),
                text("b"),
                text("c"),
                Err(Error::Timeout(Timeout::Idle))
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_stream_well_within_limits_passes_untouched() {
        let start = Instant::now();
        let events = paced(vec![
            (299_000, Ok(ChatEvent::Reasoning("r".into()))),
            (59_000, text("a")),
            (0, Ok(ChatEvent::Done)),
        ]);
        let got: Vec<_> = guard(
            events,
            start + Duration::from_secs(300),
            Duration::from_secs(60),
        )
        .collect()
        .await;
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(Result::is_ok));
    }
}
