use std::error::Error as _;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tokio::time::{sleep, timeout_at, Instant};

use crate::config::ClientConfig;
use crate::deadline;
use crate::decode::{self, EventResult};
use crate::request::ChatRequest;
use crate::response::{Balance, ChatEvent, Completion, ModelInfo, ModelList, WireError};
use crate::retry::RetryPolicy;
use crate::{Error, Timeout};

/// An error answer is a small JSON object; more is not worth reading.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// Balance and model list are a few hundred bytes.
const MAX_SHORT_BODY_BYTES: usize = 1024 * 1024;
/// A whole non-streamed answer: 384K tokens of Chinese is a few MB of JSON.
const MAX_COMPLETION_BYTES: usize = 32 * 1024 * 1024;

/// A DeepSeek API client. Cheap to clone (one shared connection pool).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    api_key: SecretString,
    model: String,
    first_token_timeout: Duration,
    idle_timeout: Duration,
    short_call_timeout: Duration,
    retry: RetryPolicy,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("api_key", &"[redacted]")
            .field("model", &self.model)
            .field("first_token_timeout", &self.first_token_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(Error::InvalidRequest("the base URL must be http(s)"));
        }
        if config.api_key.expose_secret().is_empty() {
            return Err(Error::InvalidRequest("the API key is empty"));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            // No overall timeout: an answer may stream for many minutes.
            // The first-token and idle deadlines bound it instead.
            .tcp_keepalive(Duration::from_secs(30))
            .user_agent(concat!("wensi-deepseek/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Connect(describe(e, &[])))?;
        Ok(Self {
            http,
            base_url,
            api_key: config.api_key,
            model: config.model,
            first_token_timeout: config.first_token_timeout,
            idle_timeout: config.idle_timeout,
            short_call_timeout: config.short_call_timeout,
            retry: config.retry,
        })
    }

    /// The model used when a request names none.
    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `POST /chat/completions` with `stream: true`. Resolves once DeepSeek
    /// has accepted the request (retrying 429/500/503 and failed connections
    /// meanwhile); the events then arrive through the [`ChatStream`].
    ///
    /// Dropping the stream closes the connection, which cancels the request
    /// at DeepSeek: no task is left reading in the background.
    pub async fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        request.validate().map_err(Error::InvalidRequest)?;
        let deadline = Instant::now() + self.first_token_timeout;
        let body = request.to_wire(&self.model, true);
        let url = format!("{}/chat/completions", self.base_url);
        let response = self
            .send(
                || {
                    self.http
                        .post(&url)
                        .header(ACCEPT, "text/event-stream")
                        .json(&body)
                },
                deadline,
                Timeout::FirstToken,
            )
            .await?;
        let content_type = header_text(response.headers(), CONTENT_TYPE);
        if !content_type.starts_with("text/event-stream") {
            return Err(Error::Malformed(format!(
                "expected an event stream, got \"{}\"",
                decode::truncate(&content_type)
            )));
        }
        let key = self.api_key.clone();
        let bytes = response.bytes_stream().map(move |chunk| {
            chunk.map_err(|e| Error::StreamCut(describe(e, &[key.expose_secret()])))
        });
        let events = deadline::guard(decode::decode(bytes), deadline, self.idle_timeout);
        Ok(ChatStream {
            events: Box::pin(events),
        })
    }

    /// `POST /chat/completions`, not streamed: the whole answer at once.
    /// The same deadlines apply: DeepSeek's keep-alive blank lines do not
    /// count as the first token.
    pub async fn chat(&self, request: &ChatRequest) -> Result<Completion, Error> {
        request.validate().map_err(Error::InvalidRequest)?;
        let deadline = Instant::now() + self.first_token_timeout;
        let body = request.to_wire(&self.model, false);
        let url = format!("{}/chat/completions", self.base_url);
        let response = self
            .send(
                || self.http.post(&url).json(&body),
                deadline,
                Timeout::FirstToken,
            )
            .await?;
        let body = self
            .read_body(
                response,
                MAX_COMPLETION_BYTES,
                deadline,
                Some(self.idle_timeout),
            )
            .await?;
        decode::completion(&body)
    }

    /// `GET /user/balance`: whether the account can still pay for calls.
    pub async fn balance(&self) -> Result<Balance, Error> {
        self.get_json("/user/balance").await
    }

    /// `GET /models`: the model names the key may use.
    pub async fn models(&self) -> Result<Vec<ModelInfo>, Error> {
        let list: ModelList = self.get_json("/models").await?;
        Ok(list.data)
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        let deadline = Instant::now() + self.short_call_timeout;
        let url = format!("{}{path}", self.base_url);
        let response = self
            .send(
                || self.http.get(&url).header(ACCEPT, "application/json"),
                deadline,
                Timeout::Response,
            )
            .await?;
        let body = self
            .read_body(response, MAX_SHORT_BODY_BYTES, deadline, None)
            .await?;
        serde_json::from_slice(body.trim_ascii())
            .map_err(|e| Error::Malformed(format!("unexpected answer to {path}: {e}")))
    }

    /// Sends until DeepSeek accepts (2xx), retrying what may be retried
    /// while the deadline allows; `late` names the wait that ran out.
    async fn send(
        &self,
        request: impl Fn() -> RequestBuilder,
        deadline: Instant,
        late: Timeout,
    ) -> Result<Response, Error> {
        let mut attempt = 1;
        loop {
            let sent = request().bearer_auth(self.api_key.expose_secret()).send();
            let (error, retry_after) = match timeout_at(deadline, sent).await {
                Err(_) => return Err(Error::Timeout(late)),
                Ok(Err(error)) => (self.transport_error(error), None),
                Ok(Ok(response)) if response.status().is_success() => return Ok(response),
                Ok(Ok(response)) => {
                    let retry_after = retry_after(response.headers());
                    (self.status_error(response, deadline).await, retry_after)
                }
            };
            if !error.is_retryable() || attempt >= self.retry.max_attempts {
                return Err(error);
            }
            let wait = self.retry.delay(attempt, retry_after);
            if Instant::now() + wait >= deadline {
                return Err(error);
            }
            tracing::warn!(
                attempt,
                wait_ms = wait.as_millis() as u64,
                "DeepSeek: {error}; trying again"
            );
            sleep(wait).await;
            attempt += 1;
        }
    }

    fn transport_error(&self, error: reqwest::Error) -> Error {
        let (connect, timeout) = (error.is_connect(), error.is_timeout());
        let text = describe(error, &[self.api_key.expose_secret()]);
        if connect {
            if timeout {
                Error::Timeout(Timeout::Connect)
            } else {
                Error::Connect(text)
            }
        } else {
            // Connected, then lost before an answer: DeepSeek may have
            // started on it, so this is not retried.
            Error::StreamCut(text)
        }
    }

    /// The typed error for a non-2xx answer, with DeepSeek's message when
    /// its body carries one.
    async fn status_error(&self, response: Response, deadline: Instant) -> Error {
        let status = response.status();
        let soon = deadline.min(Instant::now() + Duration::from_secs(10));
        let message = match self
            .read_body(response, MAX_ERROR_BODY_BYTES, soon, None)
            .await
        {
            Ok(body) => serde_json::from_slice::<WireError>(body.trim_ascii())
                .map(|wire| wire.error.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned()),
            Err(_) => String::new(),
        };
        let message = decode::truncate(&scrub(&message, &[self.api_key.expose_secret()]));
        match status {
            StatusCode::BAD_REQUEST => Error::BadRequest(message),
            StatusCode::UNAUTHORIZED => Error::Unauthorized,
            StatusCode::PAYMENT_REQUIRED => Error::InsufficientBalance,
            StatusCode::UNPROCESSABLE_ENTITY => Error::InvalidParameters(message),
            StatusCode::TOO_MANY_REQUESTS => Error::RateLimited,
            StatusCode::INTERNAL_SERVER_ERROR => Error::ServerError,
            StatusCode::SERVICE_UNAVAILABLE => Error::Overloaded,
            other => Error::Status {
                status: other.as_u16(),
                message,
            },
        }
    }

    /// Reads a body of at most `limit` bytes. Until the first byte that is
    /// not whitespace the `deadline` applies (DeepSeek's keep-alive blank
    /// lines do not move it); after it, `idle` between chunks if given.
    async fn read_body(
        &self,
        mut response: Response,
        limit: usize,
        deadline: Instant,
        idle: Option<Duration>,
    ) -> Result<Vec<u8>, Error> {
        let mut body = Vec::new();
        let mut started = false;
        loop {
            let (until, late) = match (started, idle) {
                (true, Some(idle)) => (Instant::now() + idle, Timeout::Idle),
                (true, None) => (deadline, Timeout::Response),
                (false, _) if idle.is_some() => (deadline, Timeout::FirstToken),
                (false, _) => (deadline, Timeout::Response),
            };
            let chunk = match timeout_at(until, response.chunk()).await {
                Err(_) => return Err(Error::Timeout(late)),
                Ok(Err(error)) => {
                    return Err(Error::StreamCut(describe(
                        error,
                        &[self.api_key.expose_secret()],
                    )))
                }
                Ok(Ok(None)) => return Ok(body),
                Ok(Ok(Some(chunk))) => chunk,
            };
            if body.len() + chunk.len() > limit {
                return Err(Error::Malformed("the answer is too large".into()));
            }
            started = started || chunk.iter().any(|b| !b.is_ascii_whitespace());
            body.extend_from_slice(&chunk);
        }
    }
}

/// The events of one streamed answer: reasoning and answer text as they
/// arrive, then `Finished`, `Usage` and `Done`. Ends after `Done`, or after
/// the one error that stopped it (a timeout, a cut, a malformed chunk).
pub struct ChatStream {
    events: Pin<Box<dyn Stream<Item = EventResult> + Send>>,
}

impl fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChatStream")
    }
}

impl Stream for ChatStream {
    type Item = Result<ChatEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.as_mut().poll_next(cx)
    }
}

impl ChatStream {
    /// Reads the whole answer. On an error, what had arrived is returned
    /// with it.
    pub async fn collect_completion(mut self) -> Result<Completion, (Error, Completion)> {
        let mut completion = Completion::default();
        while let Some(event) = self.next().await {
            match event {
                Ok(event) => completion.apply(&event),
                Err(error) => return Err((error, completion)),
            }
        }
        Ok(completion)
    }
}

fn header_text(headers: &HeaderMap, name: reqwest::header::HeaderName) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// `Retry-After` in seconds (DeepSeek does not send dates).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The error and its sources, without the URL, scrubbed of secrets.
fn describe(error: reqwest::Error, secrets: &[&str]) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    scrub(&text, secrets)
}

/// Belt and braces: nothing DeepSeek or the transport says should contain
/// the key, but if it ever does, it must not reach a log.
fn scrub(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_owned(), |acc, s| acc.replace(s, "[redacted]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let client = Client::new(ClientConfig::new(SecretString::from(
            "sk-fake-key-for-tests",
        )))
        .unwrap();
        let text = format!("{client:?}");
        assert!(text.contains("[redacted]"));
        assert!(!text.contains("sk-fake-key-for-tests"));
        let config = format!(
            "{:?}",
            ClientConfig::new(SecretString::from("sk-fake-key-for-tests"))
        );
        assert!(!config.contains("sk-fake-key-for-tests"));
    }

    /// The writing module runs generations as spawned tasks.
    #[test]
    fn a_generation_can_move_to_another_task() {
        fn send<T: Send>(_: &T) {}
        fn send_static<T: Send + 'static>() {}
        let client = Client::new(ClientConfig::new(SecretString::from(
            "sk-fake-key-for-tests",
        )))
        .unwrap();
        let request = ChatRequest::new(vec![crate::Message::user("hi")]);
        send(&client.chat_stream(&request));
        send(&client.chat(&request));
        send(&client.balance());
        send_static::<ChatStream>();
        send_static::<Client>();
    }

    #[test]
    fn scrub_removes_the_key() {
        assert_eq!(
            scrub("key sk-fake-1 leaked", &["sk-fake-1", ""]),
            "key [redacted] leaked"
        );
    }

    #[test]
    fn bad_settings_are_refused() {
        let key = || SecretString::from("sk-fake-key-for-tests");
        assert!(Client::new(ClientConfig::new(key()).with_base_url("ftp://x")).is_err());
        assert!(Client::new(ClientConfig::new(SecretString::from(""))).is_err());
        let client =
            Client::new(ClientConfig::new(key()).with_base_url("http://127.0.0.1:9/")).unwrap();
        assert_eq!(client.base_url(), "http://127.0.0.1:9");
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }
}
