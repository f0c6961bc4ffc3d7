//! Follows an article's event stream (`GET /api/articles/{id}/events`,
//! browser only). EventSource reconnects by itself after a dropped
//! connection, sending `Last-Event-ID`, so the server resumes where the page
//! is; a reload resumes with `?from=` (the position the page was rendered
//! at). The stream ends after `Finished`: the follower must then be dropped,
//! or EventSource would open it again.

use std::rc::Rc;

use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::{EventSource, MessageEvent};

use crate::modules::writing::protocol::GenerationEvent;

/// What the follower reports.
pub enum News {
    Event(GenerationEvent),
    /// The connection dropped; the browser is trying again.
    Reconnecting,
    /// The stream was refused (not logged in, not found, too many streams)
    /// or cannot be opened: it will not come back by itself.
    Lost,
}

/// Follows one article while it is held; dropping it closes the stream.
pub struct Follower {
    source: EventSource,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

impl Follower {
    /// `None` when the browser cannot open an event stream at all.
    pub fn new(id: &str, from: Option<&str>, report: impl Fn(News) + 'static) -> Option<Self> {
        let report: Rc<dyn Fn(News)> = Rc::new(report);
        let mut url = format!(
            "/api/articles/{}/events",
            String::from(js_sys::encode_uri_component(id))
        );
        if let Some(from) = from.filter(|from| !from.is_empty()) {
            url.push_str("?from=");
            url.push_str(&String::from(js_sys::encode_uri_component(from)));
        }
        let source = EventSource::new(&url).ok()?;

        let on_message = {
            let report = report.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                // A message that does not parse is skipped: the next
                // Snapshot (after a reconnect) carries the text anyway.
                let event = event
                    .data()
                    .as_string()
                    .and_then(|text| serde_json::from_str::<GenerationEvent>(&text).ok());
                if let Some(event) = event {
                    report(News::Event(event));
                }
            })
        };
        source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));

        let on_error = {
            let source = source.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                if source.ready_state() == EventSource::CLOSED {
                    report(News::Lost);
                } else {
                    report(News::Reconnecting);
                }
            })
        };
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));

        Some(Self {
            source,
            _on_message: on_message,
            _on_error: on_error,
        })
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.source.close();
        self.source.set_onmessage(None);
        self.source.set_onerror(None);
    }
}
