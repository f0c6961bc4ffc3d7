//! The client against a local mock of DeepSeek's HTTP API (axum on
//! 127.0.0.1:0, no network): request shape, every documented error,
//! retries only where allowed, the three timeouts, cancellation by drop.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use deepseek::{
    ChatEvent, ChatRequest, Client, ClientConfig, Error, FinishReason, Message, RetryPolicy,
    Thinking, Timeout,
};
use futures_util::{stream, StreamExt};
use secrecy::SecretString;
use serde_json::{json, Value};

const KEY: &str = "sk-fake-key-for-tests";

/// Whether an error is the expected one.
type Check = fn(&Error) -> bool;

/// How the mock answers one request.
#[derive(Clone)]
enum Reply {
    Status {
        status: u16,
        body: String,
        retry_after: Option<u64>,
    },
    /// A body sent in parts, each after a pause, then `end`.
    Body {
        content_type: &'static str,
        parts: Vec<(u64, String)>,
        end: End,
    },
    /// Never answers (not even headers).
    Hang,
}

#[derive(Clone, Copy)]
enum End {
    Close,
    /// Keeps the connection open, sending `: keep-alive` every 100 ms.
    KeepAliveForever,
    /// Keeps the connection open, sending a blank line every 100 ms (what
    /// DeepSeek does for a busy request that is not streamed).
    BlankLinesForever,
}

fn sse(parts: &[&str]) -> Reply {
    Reply::Body {
        content_type: "text/event-stream; charset=utf-8",
        parts: parts.iter().map(|p| (0, p.to_string())).collect(),
        end: End::Close,
    }
}

fn status(status: u16) -> Reply {
    Reply::Status {
        status,
        body: json!({"error": {"message": format!("mock says {status}"), "type": "x", "param": null, "code": "x"}}).to_string(),
        retry_after: None,
    }
}

fn chunk(delta: Value) -> String {
    format!(
        "data: {}\n\n",
        json!({"id": "m1", "object": "chat.completion.chunk", "created": 1, "model": "deepseek-flash",
               "choices": [{"index": 0, "delta": delta, "finish_reason": null}], "usage": null})
    )
}

fn finish_with_usage() -> String {
    format!(
        "data: {}\n\n",
        json!({"id": "m1", "object": "chat.completion.chunk", "created": 1, "model": "deepseek-flash",
               "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 10, "completion_tokens": 6, "total_tokens": 16,
                         "prompt_cache_hit_tokens": 0, "prompt_cache_miss_tokens": 10,
                         "completion_tokens_details": {"reasoning_tokens": 2}}})
    )
}

fn good_stream() -> Reply {
    sse(&[
        &chunk(json!({"role": "assistant", "content": null, "reasoning_content": ""})),
        &chunk(json!({"reasoning_content": "想一想"})),
        &chunk(json!({"content": "你好"})),
        &chunk(json!({"content": "，世界"})),
        &finish_with_usage(),
        "data: [DONE]\n\n",
    ])
}

#[derive(Default)]
struct Mock {
    replies: Mutex<VecDeque<Reply>>,
    /// (path, authorization header, JSON body) per request.
    seen: Mutex<Vec<(String, String, Value)>>,
    /// Response bodies the server dropped (sent out or abandoned).
    bodies_dropped: AtomicUsize,
}

impl Mock {
    fn attempts(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

struct DropCount(Arc<Mock>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.bodies_dropped.fetch_add(1, Ordering::SeqCst);
    }
}

async fn answer(
    axum::extract::State(mock): axum::extract::State<Arc<Mock>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    mock.seen
        .lock()
        .unwrap()
        .push((uri.path().to_owned(), auth.clone(), value));
    let reply = {
        let mut replies = mock.replies.lock().unwrap();
        if replies.len() > 1 {
            replies.pop_front().unwrap()
        } else {
            replies.front().cloned().unwrap_or_else(|| status(404))
        }
    };
    match reply {
        Reply::Status {
            status,
            body,
            retry_after,
        } => {
            // A hostile upstream repeating the key: it must be scrubbed.
            let body = body.replace("mock says", &format!("mock says ({auth})"));
            let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", seconds.to_string().parse().unwrap());
            }
            response
        }
        Reply::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        Reply::Body {
            content_type,
            parts,
            end,
        } => {
            let guard = DropCount(mock.clone());
            let parts = stream::iter(parts).then(|(pause, text)| async move {
                tokio::time::sleep(Duration::from_millis(pause)).await;
                Ok::<_, std::io::Error>(Bytes::from(text))
            });
            let tail = stream::unfold(end, |end| async move {
                match end {
                    End::Close => None,
                    End::KeepAliveForever => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Some((Ok(Bytes::from_static(b": keep-alive\n\n")), end))
                    }
                    End::BlankLinesForever => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Some((Ok(Bytes::from_static(b"\n")), end))
                    }
                }
            });
            let body = parts.chain(tail).map(move |item| {
                let _ = &guard;
                item
            });
            Response::builder()
                .header("content-type", content_type)
                .body(Body::from_stream(body))
                .unwrap()
        }
    }
}

async fn serve(mock: Arc<Mock>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    serve_on(listener, mock);
    format!("http://{addr}")
}

fn serve_on(listener: tokio::net::TcpListener, mock: Arc<Mock>) {
    let router = Router::new().fallback(any(answer)).with_state(mock);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
}

fn config(base: &str) -> ClientConfig {
    let mut config = ClientConfig::new(SecretString::from(KEY)).with_base_url(base);
    config.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
    };
    config.first_token_timeout = Duration::from_secs(5);
    config.idle_timeout = Duration::from_secs(5);
    config
}

async fn mock_with(replies: Vec<Reply>) -> (Arc<Mock>, Client) {
    mock_with_config(replies, config).await
}

async fn mock_with_config(
    replies: Vec<Reply>,
    make: impl Fn(&str) -> ClientConfig,
) -> (Arc<Mock>, Client) {
    let mock = Arc::new(Mock::default());
    *mock.replies.lock().unwrap() = replies.into();
    let base = serve(mock.clone()).await;
    (mock, Client::new(make(&base)).unwrap())
}

fn request() -> ChatRequest {
    ChatRequest::new(vec![
        Message::system("你是写作助手"),
        Message::user("写一句问候"),
    ])
    .thinking(Thinking::Enabled)
    .user_id("user-7")
}

async fn stream_all(client: &Client) -> Result<Vec<Result<ChatEvent, Error>>, Error> {
    Ok(client.chat_stream(&request()).await?.collect().await)
}

#[tokio::test]
async fn a_stream_sends_deepseeks_request_and_yields_typed_events() {
    let (mock, client) = mock_with(vec![good_stream()]).await;
    let events = stream_all(&client).await.unwrap();
    let events: Vec<ChatEvent> = events.into_iter().map(Result::unwrap).collect();
    assert_eq!(events[0], ChatEvent::Reasoning("想一想".into()));
    assert_eq!(events[1], ChatEvent::Text("你好".into()));
    assert_eq!(events[2], ChatEvent::Text("，世界".into()));
    assert_eq!(events[3], ChatEvent::Finished(FinishReason::Stop));
    let ChatEvent::Usage(usage) = events[4] else {
        panic!("{events:?}")
    };
    assert_eq!((usage.total_tokens, usage.reasoning_tokens), (16, 2));
    assert_eq!(events[5], ChatEvent::Done);
    assert_eq!(events.len(), 6);

    let seen = mock.seen.lock().unwrap();
    let (path, auth, body) = &seen[0];
    assert_eq!(path, "/chat/completions");
    assert_eq!(auth, &format!("Bearer {KEY}"));
    assert_eq!(body["model"], "deepseek-flash");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["thinking"], json!({"type": "enabled"}));
    assert_eq!(body["user_id"], "user-7");
    assert_eq!(
        body["messages"][1],
        json!({"role": "user", "content": "写一句问候"})
    );
}

#[tokio::test]
async fn each_documented_status_gives_its_typed_error_without_the_key() {
    let cases: Vec<(u16, Check)> = vec![
        (
            400,
            |e| matches!(e, Error::BadRequest(m) if m.ends_with("[redacted]) 400")),
        ),
        (401, |e| *e == Error::Unauthorized),
        (402, |e| *e == Error::InsufficientBalance),
        (
            422,
            |e| matches!(e, Error::InvalidParameters(m) if m.ends_with("[redacted]) 422")),
        ),
        (429, |e| *e == Error::RateLimited),
        (500, |e| *e == Error::ServerError),
        (503, |e| *e == Error::Overloaded),
        (404, |e| matches!(e, Error::Status { status: 404, .. })),
    ];
    for (code, expected) in cases {
        let (_, client) = mock_with_config(vec![status(code)], |base| {
            let mut c = config(base);
            c.retry = RetryPolicy::never();
            c
        })
        .await;
        let error = client.chat_stream(&request()).await.unwrap_err();
        assert!(expected(&error), "{code}: {error:?}");
        assert_eq!(error.status(), Some(code));
        assert!(
            !format!("{error} {error:?}").contains(KEY),
            "{code} leaks the key"
        );
    }
}

#[tokio::test]
async fn rate_limits_and_overloads_are_retried_until_accepted() {
    let (mock, client) = mock_with(vec![status(429), status(503), good_stream()]).await;
    let events = stream_all(&client).await.unwrap();
    assert_eq!(events.last(), Some(&Ok(ChatEvent::Done)));
    assert_eq!(mock.attempts(), 3);
}

#[tokio::test]
async fn retries_stop_after_the_last_attempt() {
    let (mock, client) = mock_with(vec![status(500)]).await;
    assert_eq!(
        client.chat_stream(&request()).await.unwrap_err(),
        Error::ServerError
    );
    assert_eq!(mock.attempts(), 3);
}

#[tokio::test]
async fn errors_that_waiting_cannot_fix_are_not_retried() {
    for code in [400, 401, 402, 422, 404] {
        let (mock, client) = mock_with(vec![status(code)]).await;
        client.chat_stream(&request()).await.unwrap_err();
        assert_eq!(mock.attempts(), 1, "{code}");
    }
}

#[tokio::test]
async fn retry_after_is_honoured_within_the_cap() {
    let (mock, client) = mock_with_config(
        vec![
            Reply::Status {
                status: 429,
                body: "{}".into(),
                retry_after: Some(1),
            },
            good_stream(),
        ],
        |base| {
            let mut c = config(base);
            c.retry.max_delay = Duration::from_millis(300);
            c
        },
    )
    .await;
    let start = Instant::now();
    stream_all(&client).await.unwrap();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_millis(900), "{waited:?}");
    assert_eq!(mock.attempts(), 2);
}

#[tokio::test]
async fn a_refused_connection_is_retried_until_deepseek_is_up() {
    // A port with nothing behind it yet; the mock starts on it a little later.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mock = Arc::new(Mock::default());
    *mock.replies.lock().unwrap() = vec![good_stream()].into();
    let later = mock.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        serve_on(listener, later);
    });
    let mut c = config(&format!("http://127.0.0.1:{port}"));
    c.retry = RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(200),
    };
    let client = Client::new(c).unwrap();
    let events = stream_all(&client).await.unwrap();
    assert_eq!(events.last(), Some(&Ok(ChatEvent::Done)));
    assert_eq!(mock.attempts(), 1);
}

#[tokio::test]
async fn a_connection_that_never_comes_fails_as_unreachable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = Client::new(config(&format!("http://127.0.0.1:{port}"))).unwrap();
    let error = client.chat_stream(&request()).await.unwrap_err();
    assert!(matches!(error, Error::Connect(_)), "{error:?}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_cut_after_text_is_reported_and_never_retried() {
    let cut = sse(&[
        &chunk(json!({"content": "写了一半"})),
        &chunk(json!({"content": "……"})),
    ]);
    let (mock, client) = mock_with(vec![cut, good_stream()]).await;
    let events = stream_all(&client).await.unwrap();
    assert_eq!(events[0], Ok(ChatEvent::Text("写了一半".into())));
    assert!(
        matches!(events.last(), Some(Err(Error::StreamCut(_)))),
        "{events:?}"
    );
    assert_eq!(mock.attempts(), 1);
}

#[tokio::test]
async fn a_cut_after_only_keep_alives_is_not_retried_either() {
    let (mock, client) = mock_with(vec![sse(&[": keep-alive\n\n"]), good_stream()]).await;
    let events = stream_all(&client).await.unwrap();
    assert!(matches!(events.as_slice(), [Err(Error::StreamCut(_))]));
    assert_eq!(mock.attempts(), 1);
}

#[tokio::test]
async fn keep_alives_do_not_hold_off_the_first_token_timeout() {
    let busy = Reply::Body {
        content_type: "text/event-stream",
        parts: vec![],
        end: End::KeepAliveForever,
    };
    let (_, client) = mock_with_config(vec![busy], |base| {
        let mut c = config(base);
        c.first_token_timeout = Duration::from_millis(600);
        c
    })
    .await;
    let start = Instant::now();
    let events = stream_all(&client).await.unwrap();
    assert_eq!(events, vec![Err(Error::Timeout(Timeout::FirstToken))]);
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn keep_alives_after_text_do_not_hold_off_the_idle_timeout() {
    let stalled = Reply::Body {
        content_type: "text/event-stream",
        parts: vec![(0, chunk(json!({"content": "开头"})))],
        end: End::KeepAliveForever,
    };
    let (_, client) = mock_with_config(vec![stalled], |base| {
        let mut c = config(base);
        c.idle_timeout = Duration::from_millis(500);
        c
    })
    .await;
    let start = Instant::now();
    let events = stream_all(&client).await.unwrap();
    assert_eq!(
        events,
        vec![
            Ok(ChatEvent::Text("开头".into())),
            Err(Error::Timeout(Timeout::Idle))
        ]
    );
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_slow_but_steady_stream_is_not_cut() {
    let slow = Reply::Body {
        content_type: "text/event-stream",
        parts: (0..6)
            .map(|i| (150, chunk(json!({"content": format!("{i}")}))))
            .chain([(150, "data: [DONE]\n\n".to_string())])
            .collect(),
        end: End::Close,
    };
    let (_, client) = mock_with_config(vec![slow], |base| {
        let mut c = config(base);
        c.idle_timeout = Duration::from_millis(400);
        c.first_token_timeout = Duration::from_millis(400);
        c
    })
    .await;
    let events = stream_all(&client).await.unwrap();
    assert_eq!(events.len(), 7);
    assert_eq!(events.last(), Some(&Ok(ChatEvent::Done)));
}

#[tokio::test]
async fn headers_that_never_come_are_a_first_token_timeout() {
    let (mock, client) = mock_with_config(vec![Reply::Hang], |base| {
        let mut c = config(base);
        c.first_token_timeout = Duration::from_millis(300);
        c
    })
    .await;
    assert_eq!(
        client.chat_stream(&request()).await.unwrap_err(),
        Error::Timeout(Timeout::FirstToken)
    );
    assert_eq!(mock.attempts(), 1);
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    let endless = Reply::Body {
        content_type: "text/event-stream",
        parts: vec![(0, chunk(json!({"content": "第一句"})))],
        end: End::KeepAliveForever,
    };
    let (mock, client) = mock_with(vec![endless]).await;
    let mut stream = client.chat_stream(&request()).await.unwrap();
    assert_eq!(
        stream.next().await,
        Some(Ok(ChatEvent::Text("第一句".into())))
    );
    assert_eq!(mock.bodies_dropped.load(Ordering::SeqCst), 0);
    drop(stream);
    // The server notices the closed connection at its next write (≤ 100 ms).
    let start = Instant::now();
    while mock.bodies_dropped.load(Ordering::SeqCst) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "the request is still open"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_malformed_chunk_and_a_wrong_content_type_are_reported() {
    let (_, client) = mock_with(vec![sse(&[
        &chunk(json!({"content": "好"})),
        "data: {\"choices\": [oops\n\n",
    ])])
    .await;
    let events = stream_all(&client).await.unwrap();
    assert!(matches!(events.last(), Some(Err(Error::Malformed(_)))));

    let html = Reply::Body {
        content_type: "text/html",
        parts: vec![(0, "<html>".into())],
        end: End::Close,
    };
    let (_, client) = mock_with(vec![html]).await;
    assert!(matches!(
        client.chat_stream(&request()).await.unwrap_err(),
        Error::Malformed(_)
    ));
}

#[tokio::test]
async fn a_whole_answer_arrives_after_keep_alive_blank_lines() {
    let whole = json!({"id": "m", "object": "chat.completion", "model": "deepseek-flash",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "全文", "reasoning_content": "思路"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}});
    let reply = Reply::Body {
        content_type: "application/json",
        parts: vec![
            (0, "\n".into()),
            (200, "\n".into()),
            (200, whole.to_string()),
        ],
        end: End::Close,
    };
    let (mock, client) = mock_with(vec![reply]).await;
    let completion = client.chat(&request()).await.unwrap();
    assert_eq!(completion.content, "全文");
    assert_eq!(completion.reasoning, "思路");
    assert_eq!(completion.usage.unwrap().total_tokens, 7);
    let seen = mock.seen.lock().unwrap();
    assert_eq!(seen[0].2["stream"], false);
    assert!(seen[0].2.get("stream_options").is_none());
}

#[tokio::test]
async fn a_whole_answer_that_never_starts_times_out() {
    let busy = Reply::Body {
        content_type: "application/json",
        parts: vec![(0, "\n".into())],
        end: End::BlankLinesForever,
    };
    let (_, client) = mock_with_config(vec![busy], |base| {
        let mut c = config(base);
        c.first_token_timeout = Duration::from_millis(400);
        c
    })
    .await;
    assert_eq!(
        client.chat(&request()).await.unwrap_err(),
        Error::Timeout(Timeout::FirstToken)
    );
}

#[tokio::test]
async fn balance_and_models_are_read() {
    let balance = json!({"is_available": true, "balance_infos": [
        {"currency": "CNY", "total_balance": "110.00", "granted_balance": "10.00", "topped_up_balance": "100.00"}]});
    let reply = Reply::Body {
        content_type: "application/json",
        parts: vec![(0, balance.to_string())],
        end: End::Close,
    };
    let (mock, client) = mock_with(vec![reply]).await;
    let answer = client.balance().await.unwrap();
    assert!(answer.is_available);
    assert_eq!(answer.balance_infos[0].currency, "CNY");
    assert_eq!(mock.seen.lock().unwrap()[0].0, "/user/balance");

    let models = json!({"object": "list", "data": [
        {"id": "deepseek-flash", "object": "model", "owned_by": "deepseek"},
        {"id": "deepseek-v4-pro", "object": "model", "owned_by": "deepseek"}]});
    let reply = Reply::Body {
        content_type: "application/json",
        parts: vec![(0, models.to_string())],
        end: End::Close,
    };
    let (_, client) = mock_with(vec![reply]).await;
    let ids: Vec<_> = client
        .models()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, ["deepseek-flash", "deepseek-v4-pro"]);

    let (_, client) = mock_with(vec![status(401)]).await;
    assert_eq!(client.balance().await.unwrap_err(), Error::Unauthorized);
}

#[tokio::test]
async fn an_invalid_request_is_refused_without_a_call() {
    let (mock, client) = mock_with(vec![good_stream()]).await;
    let error = client
        .chat_stream(&ChatRequest::new(vec![]))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidRequest(_)));
    let error = client
        .chat(&request().user_id("含空格 的id"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidRequest(_)));
    assert_eq!(mock.attempts(), 0);
}
