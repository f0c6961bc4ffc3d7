//! The writing module over HTTP, as a browser uses it: a visitor logged in
//! through the WeChat sandbox, the module's calls (server functions, JSON),
//! an article's event stream; and the DeepSeek sandbox's controls.

use std::{pin::Pin, time::Duration};

use app::modules::writing::protocol::{GenerationEvent, GenerationStatus};
use eventsource_stream::Eventsource;
use futures_util::{Stream, StreamExt};
use serde_json::{json, Value};

use super::{new_browser, TestApp};

/// Starts the server with the DeepSeek sandbox at `pace` and `more`.
pub async fn spawn(pace: &str, more: &[(&str, &str)]) -> TestApp {
    let mut settings: Vec<(&str, &str)> = vec![
        ("DEEPSEEK_SANDBOX", "1"),
        ("DEEPSEEK_SANDBOX_TOKENS_PER_SECOND", pace),
    ];
    settings.extend_from_slice(more);
    super::spawn(&settings).await
}

/// A browser with its own cookies.
pub struct Visitor {
    pub browser: reqwest::Client,
    pub base: String,
}

/// A brief as the form sends it.
pub fn brief(topic: &str) -> Value {
    json!({
        "topic": topic,
        "kind": "公众号推文",
        "tone": "轻松",
        "length": "short",
        "keywords": ["绿茶", "冲泡"],
        "notes": "",
        "outline": null,
        "thinking": false,
    })
}

/// Logs a new browser in as the WeChat user `openid`.
pub async fn visitor(app: &TestApp, openid: &str) -> Visitor {
    let browser = new_browser();
    let started: Value = browser
        .post(app.url("/api/login/start"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = started["id"].as_str().unwrap();
    let (status, reply) = app.scan(openid, id, false).await;
    assert_eq!(status, 200, "{reply}");
    let done = browser
        .post(app.url(&format!("/api/login/{id}/complete")))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    Visitor {
        browser,
        base: app.base.clone(),
    }
}

/// A browser that is not logged in.
pub fn stranger(app: &TestApp) -> Visitor {
    Visitor {
        browser: new_browser(),
        base: app.base.clone(),
    }
}

impl Visitor {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /api/writing/{name}` with `args` (JSON): the status and the
    /// answer (JSON, or the text as a JSON string when it is not JSON).
    pub async fn call(&self, name: &str, args: Value) -> (u16, Value) {
        let response = self
            .browser
            .post(self.url(&format!("/api/writing/{name}")))
            .json(&args)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    /// Starts an article; its id.
    pub async fn start(&self, brief: Value) -> String {
        let (status, answer) = self.call("start", json!({ "brief": brief })).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["version"], 1);
        answer["id"].as_str().unwrap().to_owned()
    }

    pub async fn get(&self, id: &str) -> Value {
        let (status, answer) = self.call("get", json!({ "id": id, "version": null })).await;
        assert_eq!(status, 200, "{answer}");
        answer
    }

    pub async fn stop(&self, id: &str) {
        let (status, answer) = self.call("stop", json!({ "id": id })).await;
        assert_eq!(status, 200, "{answer}");
    }

    /// `GET /api/articles/{id}/events` with `from` (`?from=`) and
    /// `last_event_id`: the status and, for a 200, the events.
    pub async fn events_with(
        &self,
        id: &str,
        from: Option<&str>,
        last_event_id: Option<&str>,
    ) -> (u16, Option<Events>) {
        let mut request = self
            .browser
            .get(self.url(&format!("/api/articles/{id}/events")));
        if let Some(from) = from {
            request = request.query(&[("from", from)]);
        }
        if let Some(last) = last_event_id {
            request = request.header("last-event-id", last);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        if status != 200 {
            return (status, None);
        }
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        let events = response.bytes_stream().eventsource();
        (
            status,
            Some(Events {
                inner: Box::pin(events.map(|e| e.map_err(|e| e.to_string()))),
            }),
        )
    }

    pub async fn events(&self, id: &str) -> Events {
        let (status, events) = self.events_with(id, None, None).await;
        assert_eq!(status, 200);
        events.unwrap()
    }

    /// Follows article `id` from the start to `Finished`: everything that
    /// came, and the text and reasoning they add up to.
    pub async fn follow(&self, id: &str) -> Followed {
        self.events(id).await.read_to_end().await
    }
}

type RawEvents = Pin<Box<dyn Stream<Item = Result<eventsource_stream::Event, String>> + Send>>;

pub struct Events {
    inner: RawEvents,
}

/// One message: its SSE id and what it says.
#[derive(Clone, Debug)]
pub struct Message {
    pub id: String,
    pub event: GenerationEvent,
}

/// How long a test waits for the next message.
pub const PATIENCE: Duration = Duration::from_secs(30);

impl Events {
    /// The next message; `None` when the stream ended.
    pub async fn next(&mut self) -> Option<Message> {
        let event = tokio::time::timeout(PATIENCE, self.inner.next())
            .await
            .expect("a message within the patience")?
            .expect("a readable stream");
        let message: GenerationEvent = serde_json::from_str(&event.data)
            .unwrap_or_else(|e| panic!("not a GenerationEvent ({e}): {}", event.data));
        Some(Message {
            id: event.id,
            event: message,
        })
    }

    /// Reads to the end of the stream.
    pub async fn read_to_end(mut self) -> Followed {
        let mut followed = Followed::default();
        while let Some(message) = self.next().await {
            followed.add(message);
        }
        followed
    }

    /// Reads until the text holds at least `chars` characters (or the
    /// generation finished).
    pub async fn until_chars(&mut self, followed: &mut Followed, chars: usize) {
        while followed.text.chars().count() < chars && followed.finished.is_none() {
            match self.next().await {
                Some(message) => followed.add(message),
                None => break,
            }
        }
    }
}

/// What a follower saw.
#[derive(Clone, Debug, Default)]
pub struct Followed {
    pub messages: Vec<Message>,
    pub text: String,
    pub reasoning: String,
    pub version: Option<u32>,
    pub finished: Option<GenerationEvent>,
    pub last_id: String,
}

impl Followed {
    pub fn add(&mut self, message: Message) {
        assert!(self.finished.is_none(), "a message after Finished");
        match &message.event {
            GenerationEvent::Snapshot {
                version,
                text,
                reasoning,
                whole,
                ..
            } => {
                if *whole {
                    self.text.clear();
                    self.reasoning.clear();
                }
                self.version = Some(*version);
                self.text.push_str(text);
                self.reasoning.push_str(reasoning);
            }
            GenerationEvent::Text { text } => self.text.push_str(text),
            GenerationEvent::Reasoning { text } => self.reasoning.push_str(text),
            GenerationEvent::Finished { .. } => self.finished = Some(message.event.clone()),
        }
        self.last_id = message.id.clone();
        self.messages.push(message);
    }

    pub fn status(&self) -> Option<GenerationStatus> {
        match &self.finished {
            Some(GenerationEvent::Finished { status, .. }) => Some(*status),
            _ => None,
        }
    }

    pub fn problem(&self) -> Option<String> {
        match &self.finished {
            Some(GenerationEvent::Finished { problem, .. }) => problem.clone(),
            _ => None,
        }
    }
}

impl TestApp {
    /// Arms a DeepSeek sandbox fault.
    pub async fn fault(&self, fault: Value) {
        let response = self
            .browser
            .post(self.url("/sandbox/deepseek/faults"))
            .json(&fault)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }

    /// Sets the DeepSeek sandbox's pace (tokens per second, 0: no pause).
    pub async fn pace(&self, tokens_per_second: u32) {
        let response = self
            .browser
            .put(self.url("/sandbox/deepseek/pace"))
            .json(&json!({ "tokens_per_second": tokens_per_second }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    /// The DeepSeek sandbox's counts.
    pub async fn deepseek_stats(&self) -> Value {
        self.get("/sandbox/deepseek/stats")
            .await
            .json()
            .await
            .unwrap()
    }

    /// The stored body and status of an article's version.
    pub async fn stored(&self, id: &str, version: i64) -> (String, String) {
        sqlx::query_as(
            "SELECT body, status FROM article_versions WHERE article_id = $1 AND number = $2",
        )
        .bind(id)
        .bind(version)
        .fetch_one(&self.db)
        .await
        .unwrap()
    }
}
