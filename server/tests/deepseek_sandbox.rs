//! The DeepSeek sandbox end to end: the whole server in sandbox mode, an
//! article streamed through the `deepseek` library, every injected fault
//! arriving as its typed error, retries counted at the sandbox.

mod common;

use std::time::Duration;

use deepseek::{
    ChatEvent, ChatRequest, Client, ClientConfig, Completion, Error, FinishReason, Message,
    RetryPolicy, Thinking, Timeout,
};
use futures_util::StreamExt;
use secrecy::SecretString;
use serde_json::{json, Value};
use server::{config::SANDBOX_API_KEY, deepseek_sandbox::MOUNT_PATH};

const SYSTEM: &str = "你是一位经验丰富的中文写作助手，擅长写结构清晰、语言亲切的文章。\
    请使用 Markdown：一级标题写文章标题，二级标题分节，适当使用列表和引用。\
    不要编造数据，不要使用夸张的营销语言，段落不宜过长，方便读者在手机上阅读。\
    输出只包含文章本身，不要解释你的写作过程。";

/// Whether an error is the expected one.
type Check = fn(&Error) -> bool;

async fn sandbox() -> common::TestApp {
    common::spawn(&[
        ("DEEPSEEK_SANDBOX", "1"),
        ("DEEPSEEK_SANDBOX_TOKENS_PER_SECOND", "0"),
    ])
    .await
}

fn client(app: &common::TestApp, tweak: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut config =
        ClientConfig::new(SecretString::from(SANDBOX_API_KEY)).with_base_url(app.url(MOUNT_PATH));
    config.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    };
    tweak(&mut config);
    Client::new(config).unwrap()
}

fn brief(thinking: Thinking) -> ChatRequest {
    ChatRequest::new(vec![
        Message::system(SYSTEM),
        Message::user(
            "请写一篇文章。\n标题：春天喝什么茶\n类型：公众号推文\n语气：轻松\n字数：800\n关键词：绿茶、冲泡",
        ),
    ])
    .thinking(thinking)
    .user_id("user-1")
}

async fn events(client: &Client, request: &ChatRequest) -> Vec<Result<ChatEvent, Error>> {
    match client.chat_stream(request).await {
        Ok(stream) => stream.collect().await,
        Err(error) => vec![Err(error)],
    }
}

fn collect(events: &[Result<ChatEvent, Error>]) -> Completion {
    let mut completion = Completion::default();
    for event in events.iter().flatten() {
        completion.apply(event);
    }
    completion
}

async fn chat_requests(app: &common::TestApp) -> u64 {
    let stats: Value = app
        .get(&format!("{MOUNT_PATH}/stats"))
        .await
        .json()
        .await
        .unwrap();
    stats["chat_requests"].as_u64().unwrap()
}

async fn arm(app: &common::TestApp, fault: Value) {
    let response = app
        .browser
        .post(app.url(&format!("{MOUNT_PATH}/faults")))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn an_article_streams_through_the_library_with_reasoning_usage_and_done() {
    let app = sandbox().await;
    let client = client(&app, |_| {});
    let events = events(&client, &brief(Thinking::Enabled)).await;
    let events: Vec<ChatEvent> = events.into_iter().map(Result::unwrap).collect();

    // Reasoning first, then the answer, then finish, usage, [DONE].
    let first_text = events
        .iter()
        .position(|e| matches!(e, ChatEvent::Text(_)))
        .unwrap();
    assert!(matches!(events[0], ChatEvent::Reasoning(_)));
    assert!(events[..first_text]
        .iter()
        .all(|e| matches!(e, ChatEvent::Reasoning(_))));
    let n = events.len();
    assert_eq!(events[n - 3], ChatEvent::Finished(FinishReason::Stop));
    assert!(matches!(events[n - 2], ChatEvent::Usage(_)));
    assert_eq!(events[n - 1], ChatEvent::Done);

    let article = collect(&events.iter().cloned().map(Ok).collect::<Vec<_>>());
    assert!(
        article.reasoning.contains("公众号推文"),
        "{}",
        article.reasoning
    );
    assert!(
        article.content.starts_with("# 春天喝什么茶\n\n"),
        "{}",
        article.content
    );
    assert!(article.content.contains("\n## ") && article.content.contains("绿茶"));
    let usage = article.usage.unwrap();
    assert!(usage.reasoning_tokens > 0 && usage.prompt_tokens > 64);
    assert_eq!(
        usage.total_tokens,
        usage.prompt_tokens + usage.completion_tokens
    );
    assert_eq!(
        usage.prompt_cache_hit_tokens + usage.prompt_cache_miss_tokens,
        usage.prompt_tokens
    );

    // The same prompt: the same article, and DeepSeek-like cache hits.
    let again = collect(&events_of(&client, &brief(Thinking::Enabled)).await);
    assert_eq!(again.content, article.content);
    assert!(again.usage.unwrap().prompt_cache_hit_tokens >= 64);
    assert_eq!(chat_requests(&app).await, 2);
}

async fn events_of(client: &Client, request: &ChatRequest) -> Vec<Result<ChatEvent, Error>> {
    events(client, request).await
}

#[tokio::test]
async fn without_thinking_there_is_no_reasoning_and_a_whole_answer_works_too() {
    let app = sandbox().await;
    let client = client(&app, |_| {});
    let events = events(&client, &brief(Thinking::Disabled)).await;
    assert!(events
        .iter()
        .all(|e| !matches!(e, Ok(ChatEvent::Reasoning(_)))));
    assert_eq!(events.last(), Some(&Ok(ChatEvent::Done)));
    let streamed = collect(&events);

    let whole = client.chat(&brief(Thinking::Disabled)).await.unwrap();
    assert_eq!(whole.content, streamed.content);
    assert!(whole.reasoning.is_empty());
    assert_eq!(whole.finish_reason, Some(FinishReason::Stop));
}

#[tokio::test]
async fn an_outline_then_a_section_from_it() {
    let app = sandbox().await;
    let client = client(&app, |_| {});
    let outline = client
        .chat(&ChatRequest::new(vec![Message::user(
            "主题：远程办公\n类型：博客\n请先给出文章大纲。",
        )]))
        .await
        .unwrap()
        .content;
    let headings: Vec<&str> = outline.lines().filter(|l| l.starts_with("## ")).collect();
    assert!(headings.len() >= 3, "{outline}");
    let section = client
        .chat(&ChatRequest::new(vec![Message::user(format!(
            "主题：远程办公\n只写这一节：\n{}",
            headings[1]
        ))]))
        .await
        .unwrap()
        .content;
    assert!(section.starts_with("## "), "{section}");
    assert_eq!(section.lines().filter(|l| l.starts_with("## ")).count(), 1);
}

#[tokio::test]
async fn each_fault_gives_its_typed_error_and_retries_only_where_allowed() {
    let app = sandbox().await;
    let client = client(&app, |c| {
        c.first_token_timeout = Duration::from_millis(700);
        c.idle_timeout = Duration::from_millis(700);
    });
    let request = brief(Thinking::Disabled);
    let clean = collect(&events(&client, &request).await).content;

    // (fault, expected last event, attempts the sandbox saw, text before it)
    let cases: Vec<(Value, Check, u64, bool)> = vec![
        (
            json!({"fault": "unauthorized"}),
            |e| *e == Error::Unauthorized,
            1,
            false,
        ),
        (
            json!({"fault": "insufficient_balance"}),
            |e| *e == Error::InsufficientBalance,
            1,
            false,
        ),
        (
            json!({"fault": "rate_limited", "times": 5}),
            |e| *e == Error::RateLimited,
            3,
            false,
        ),
        (
            json!({"fault": "server_error", "times": 5}),
            |e| *e == Error::ServerError,
            3,
            false,
        ),
        (
            json!({"fault": "overloaded", "times": 5}),
            |e| *e == Error::Overloaded,
            3,
            false,
        ),
        (
            json!({"fault": "slow_first_token", "delay_ms": 3000}),
            |e| *e == Error::Timeout(Timeout::FirstToken),
            1,
            false,
        ),
        (
            json!({"fault": "cut_midway"}),
            |e| matches!(e, Error::StreamCut(_)),
            1,
            true,
        ),
        (
            json!({"fault": "malformed_chunk"}),
            |e| matches!(e, Error::Malformed(_)),
            1,
            true,
        ),
        (
            json!({"fault": "stall_midway", "delay_ms": 3000}),
            |e| *e == Error::Timeout(Timeout::Idle),
            1,
            true,
        ),
    ];
    for (fault, expected, attempts, text_first) in cases {
        let before = chat_requests(&app).await;
        arm(&app, fault.clone()).await;
        let events = events(&client, &request).await;
        let last = events.last().unwrap().clone().unwrap_err();
        assert!(expected(&last), "{fault}: {last:?}");
        assert_eq!(chat_requests(&app).await - before, attempts, "{fault}");
        let partial = collect(&events).content;
        assert_eq!(!partial.is_empty(), text_first, "{fault}");
        assert!(
            clean.starts_with(&partial),
            "{fault}: the text so far is intact"
        );
        assert!(!last.user_message_zh().is_empty());
        app.browser
            .delete(app.url(&format!("{MOUNT_PATH}/faults")))
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn passing_faults_are_ridden_out() {
    let app = sandbox().await;
    let client = client(&app, |_| {});
    let request = brief(Thinking::Enabled);
    let clean = collect(&events(&client, &request).await);

    arm(&app, json!({"fault": "rate_limited", "times": 2})).await;
    let before = chat_requests(&app).await;
    let retried = collect(&events(&client, &request).await);
    assert_eq!(chat_requests(&app).await - before, 3);
    assert_eq!(retried.content, clean.content);

    arm(&app, json!({"fault": "keep_alive", "times": 1})).await;
    let kept = collect(&events(&client, &request).await);
    assert_eq!(kept.content, clean.content);
    assert_eq!(kept.reasoning, clean.reasoning);

    arm(&app, json!({"fault": "slow_first_token", "delay_ms": 1200})).await;
    let slow = collect(&events(&client, &request).await);
    assert_eq!(slow.content, clean.content);
}

#[tokio::test]
async fn balance_and_models_answer_like_deepseek() {
    let app = sandbox().await;
    let client = client(&app, |_| {});
    let balance = client.balance().await.unwrap();
    assert!(balance.is_available);
    assert_eq!(balance.balance_infos[0].currency, "CNY");
    let models: Vec<String> = client
        .models()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert!(
        models.contains(&deepseek::DEFAULT_MODEL.to_owned()),
        "{models:?}"
    );

    // An armed fault describes the account without being used up: the
    // balance says so (what `server doctor` reads), the next chat still
    // suffers it.
    arm(&app, json!({"fault": "insufficient_balance"})).await;
    let empty = client.balance().await.unwrap();
    assert!(!empty.is_available);
    assert_eq!(empty.balance_infos[0].total_balance, "0.00");
    arm(&app, json!({"fault": "unauthorized"})).await;
    assert_eq!(
        client.balance().await.unwrap_err(),
        deepseek::Error::Unauthorized
    );
    let chat = client.chat(&brief(Thinking::Disabled)).await;
    assert_eq!(chat.unwrap_err(), deepseek::Error::Unauthorized);
    assert!(client.balance().await.unwrap().is_available);
}

#[tokio::test]
async fn hostile_requests_get_clear_errors_and_change_nothing() {
    let app = sandbox().await;
    let url = app.url(&format!("{MOUNT_PATH}/chat/completions"));
    let raw = reqwest::Client::new();
    let body = json!({"model": "deepseek-flash", "messages": [{"role": "user", "content": "x"}]});

    let no_key = raw.post(&url).json(&body).send().await.unwrap();
    assert_eq!(no_key.status(), 401);
    let error: Value = no_key.json().await.unwrap();
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Authentication"));

    let auth = format!("Bearer {SANDBOX_API_KEY}");
    for (payload, status) in [
        ("{not json".to_owned(), 400),
        (json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}).to_string(), 400),
        (json!({"model": "deepseek-flash", "messages": []}).to_string(), 422),
        (json!({"model": "deepseek-flash", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}).to_string(), 422),
        ("x".repeat(3 * 1024 * 1024), 413),
    ] {
        let response = raw
            .post(&url)
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .body(payload)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status);
    }

    let faults = app.url(&format!("{MOUNT_PATH}/faults"));
    for payload in [
        "{}",
        "{\"fault\":\"explode\"}",
        "{\"fault\":\"cut_midway\",\"times\":0}",
        "{\"fault\":\"overloaded\",\"delay_ms\":5}",
        "[1,2]",
    ] {
        let response = raw.post(&faults).body(payload).send().await.unwrap();
        assert_eq!(response.status(), 400, "{payload}");
        let body: Value = response.json().await.unwrap();
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
    let form = app.url(&format!("{MOUNT_PATH}/faults/form"));
    for fields in [
        vec![("fault", "explode")],
        vec![("fault", "cut_midway"), ("times", "many")],
        vec![("fault", "slow_first_token"), ("delay_ms", "9999999")],
    ] {
        let response = raw.post(&form).form(&fields).send().await.unwrap();
        assert_eq!(response.status(), 400, "{fields:?}");
    }
    let pace = raw
        .put(app.url(&format!("{MOUNT_PATH}/pace")))
        .json(&json!({"tokens_per_second": 1_000_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(pace.status(), 400);

    let armed: Value = raw.get(&faults).send().await.unwrap().json().await.unwrap();
    assert_eq!(armed["armed"], Value::Null, "nothing was armed");
    let stats: Value = app
        .get(&format!("{MOUNT_PATH}/stats"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats["chat_requests"], 0,
        "refused requests never reached the writer"
    );
    assert_eq!(stats["tokens_per_second"], 0);
}

#[tokio::test]
async fn the_page_works_without_javascript() {
    let app = sandbox().await;
    let page = app.get(MOUNT_PATH).await;
    assert_eq!(page.status(), 200);
    // The site's default policy (`form-action 'none'`) would make the
    // browser drop the forms below: the page must carry its own.
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("form-action 'self'"), "{policy}");
    assert!(policy.contains("style-src 'sha256-"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(html.contains("文章生成由本机模拟，不会连接真实 DeepSeek"));
    assert!(html.contains("当前故障：无"));

    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirect
        .post(app.url(&format!("{MOUNT_PATH}/faults/form")))
        .form(&[
            ("fault", "overloaded"),
            ("times", "2"),
            ("delay_ms", "5000"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], MOUNT_PATH);
    let html = app.get(MOUNT_PATH).await.text().await.unwrap();
    assert!(html.contains("503 服务器繁忙"), "{html}");
    assert!(html.contains("接下来的 2 次"));

    no_redirect
        .post(app.url(&format!("{MOUNT_PATH}/pace/form")))
        .form(&[("tokens_per_second", "25")])
        .send()
        .await
        .unwrap();
    no_redirect
        .post(app.url(&format!("{MOUNT_PATH}/faults/clear")))
        .send()
        .await
        .unwrap();
    let html = app.get(MOUNT_PATH).await.text().await.unwrap();
    assert!(html.contains("每秒 25 个 token") && html.contains("当前故障：无"));
}

#[tokio::test]
async fn every_page_says_article_generation_is_simulated() {
    let app = sandbox().await;
    let html = app.get("/").await.text().await.unwrap();
    assert!(html.contains("微信登录由本机模拟，不会连接真实微信。"));
    assert!(html.contains("文章生成由本机模拟，不会连接真实 DeepSeek。"));
    assert!(html.contains("href=\"/sandbox/deepseek\""));
}

#[tokio::test]
async fn without_deepseek_sandbox_there_is_no_sandbox_and_no_banner_line() {
    let app = common::spawn(&[]).await;
    let response = app.get(&format!("{MOUNT_PATH}/models")).await;
    assert_eq!(response.status(), 404);
    let response = app
        .browser
        .post(app.url(&format!("{MOUNT_PATH}/faults")))
        .json(&json!({"fault": "overloaded"}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error());
    let html = app.get("/").await.text().await.unwrap();
    assert!(!html.contains("DeepSeek。"), "no DeepSeek sandbox line");
    assert!(html.contains("微信登录由本机模拟"));
}

/// Collects log output for the test that checks the start-up warning.
#[derive(Clone, Default)]
struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn with_neither_key_nor_sandbox_start_up_warns_and_the_site_runs() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::WARN)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = common::spawn(&[]).await;
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("writing is not configured"), "{text}");
    assert_eq!(app.get("/").await.status(), 200);
    assert_eq!(app.get("/healthz").await.status(), 200);
}
