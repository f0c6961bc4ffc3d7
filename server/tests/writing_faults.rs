//! Each way DeepSeek fails (the sandbox's injected faults) reaches the
//! visitor as DeepSeek's plain words, and keeps whatever was written.

mod common;

use app::modules::writing::protocol::GenerationStatus;
use common::writing::{brief, spawn, visitor, Visitor};
use deepseek::{Error, Timeout};
use serde_json::{json, Value};

const ALICE: &str = "oAliceFakeOpenid0000000000001";

/// Starts an article under `fault` and follows it to its end: what the
/// browser saw, and what is stored.
async fn under(
    app: &common::TestApp,
    alice: &Visitor,
    fault: Value,
    topic: &str,
) -> (common::writing::Followed, String) {
    app.fault(fault).await;
    let id = alice.start(brief(topic)).await;
    let seen = alice.follow(&id).await;
    let (stored, status) = app.stored(&id, 1).await;
    assert_eq!(status, "failed");
    assert_eq!(seen.text, stored, "what the browser saw is what is kept");
    (seen, id)
}

/// The article the sandbox writes for `topic` when nothing goes wrong.
async fn whole(alice: &Visitor, topic: &str) -> String {
    let id = alice.start(brief(topic)).await;
    alice.follow(&id).await.text
}

#[tokio::test]
async fn refusals_before_any_text_say_why_and_do_not_count() {
    let app = spawn("0", &[]).await;
    let alice = visitor(&app, ALICE).await;
    for (fault, error) in [
        (json!({"fault": "unauthorized"}), Error::Unauthorized),
        (
            json!({"fault": "insufficient_balance"}),
            Error::InsufficientBalance,
        ),
        // DeepSeek's client retries these twice before giving up.
        (
            json!({"fault": "rate_limited", "times": 3}),
            Error::RateLimited,
        ),
        (
            json!({"fault": "overloaded", "times": 3}),
            Error::Overloaded,
        ),
        (
            json!({"fault": "server_error", "times": 3}),
            Error::ServerError,
        ),
    ] {
        let (seen, id) = under(&app, &alice, fault.clone(), "春天喝什么茶").await;
        assert_eq!(seen.status(), Some(GenerationStatus::Failed), "{fault}");
        assert_eq!(
            seen.problem().as_deref(),
            Some(error.user_message_zh()),
            "{fault}"
        );
        assert_eq!(seen.text, "", "{fault}");
        let detail = alice.get(&id).await;
        assert_eq!(detail["problem"], error.user_message_zh());
    }
    let (_, quota) = alice.call("quota", json!({})).await;
    assert_eq!(
        quota["used_today"], 0,
        "DeepSeek wrote nothing: nothing counted"
    );
    // The message names what to do; the details stay in the log.
    assert!(Error::InsufficientBalance
        .user_message_zh()
        .contains("管理员"));
}

#[tokio::test]
async fn a_cut_or_garbled_answer_keeps_the_text_and_can_be_continued() {
    let app = spawn("0", &[]).await;
    let alice = visitor(&app, ALICE).await;
    let topic = "咖啡入门";
    let full = whole(&alice, topic).await;
    for (fault, error) in [
        (
            json!({"fault": "cut_midway"}),
            Error::StreamCut(String::new()),
        ),
        (
            json!({"fault": "malformed_chunk"}),
            Error::Malformed(String::new()),
        ),
    ] {
        let (seen, id) = under(&app, &alice, fault.clone(), topic).await;
        assert_eq!(
            seen.problem().as_deref(),
            Some(error.user_message_zh()),
            "{fault}"
        );
        assert!(seen.text.chars().count() > 100, "{fault}: half is kept");
        assert!(full.starts_with(&seen.text), "{fault}: exactly what came");
        assert!(seen.text.len() < full.len());
        // Continue writes the rest.
        let (status, _) = alice
            .call("regenerate", json!({ "id": id, "how": "continue" }))
            .await;
        assert_eq!(status, 200);
        let done = alice.follow(&id).await;
        assert_eq!(done.status(), Some(GenerationStatus::Done));
        assert_eq!(done.text, full, "{fault}");
    }
}

#[tokio::test]
async fn deepseek_that_never_starts_or_stalls_times_out_with_the_text_kept() {
    let app = spawn(
        "0",
        &[
            ("DEEPSEEK_FIRST_TOKEN_TIMEOUT_SECONDS", "5"),
            ("DEEPSEEK_IDLE_TIMEOUT_SECONDS", "5"),
        ],
    )
    .await;
    let alice = visitor(&app, ALICE).await;
    let (seen, _) = under(
        &app,
        &alice,
        json!({"fault": "slow_first_token", "delay_ms": 8000}),
        "晨跑",
    )
    .await;
    assert_eq!(
        seen.problem().as_deref(),
        Some(Error::Timeout(Timeout::FirstToken).user_message_zh())
    );
    assert_eq!(seen.text, "");
    let (seen, _) = under(
        &app,
        &alice,
        json!({"fault": "stall_midway", "delay_ms": 8000}),
        "晨跑",
    )
    .await;
    assert_eq!(
        seen.problem().as_deref(),
        Some(Error::Timeout(Timeout::Idle).user_message_zh())
    );
    assert!(seen.text.chars().count() > 100, "half is kept");
}

/// A model can be talked into writing anything. What it wrote is kept as it
/// was (never lose DeepSeek's text), and the page that shows it has none of
/// it as markup: no script, no handlers, no `javascript:`/`data:` links,
/// no frames, forms or styles.
#[tokio::test]
async fn a_hostile_answer_is_kept_word_for_word_and_shown_harmless() {
    let app = spawn("0", &[]).await;
    let alice = visitor(&app, ALICE).await;
    app.fault(json!({"fault": "hostile_answer"})).await;
    let id = alice.start(brief("春天喝什么茶")).await;
    let seen = alice.follow(&id).await;
    assert_eq!(seen.status(), Some(GenerationStatus::Done));
    assert!(
        seen.text.contains("<script>alert(1)</script>"),
        "{}",
        seen.text
    );
    let (stored, status) = app.stored(&id, 1).await;
    assert_eq!(
        (stored.as_str(), status.as_str()),
        (seen.text.as_str(), "done")
    );

    let page = alice
        .browser
        .get(alice.url(&format!("/write?id={id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("最后一句是正常的文字"),
        "the article is shown"
    );
    let problems = dangerous_markup(&html);
    assert!(problems.is_empty(), "{problems:#?}");
    // The check sees what it must: the same answer as raw markup is caught.
    assert!(!dangerous_markup(HOSTILE_AS_MARKUP).is_empty());
}

/// What the sandbox's `hostile_answer` sends, as a page would contain it if
/// it were pasted in unescaped (for checking the checker).
const HOSTILE_AS_MARKUP: &str =
    "<p><img src=x onerror=\"alert(2)\"><a href=\"javascript:alert(3)\">点我</a>\
<script>alert(1)</script><iframe src=\"https://evil.example/\"></iframe></p>";

/// The tags of `html` that could run or load something the site did not
/// write: an `on…` handler, a `javascript:`/`data:` address, a frame, a
/// form or style sheet, a script with `alert` in it. Text (escaped, so
/// without tags) and attribute values (where `&lt;` is only text) are
/// skipped, as a browser would.
fn dangerous_markup(html: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        if !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        // The tag runs to the first `>` outside quotes.
        let mut quote = None;
        let end = rest
            .char_indices()
            .find(|&(_, c)| match (quote, c) {
                (None, '"' | '\'') => {
                    quote = Some(c);
                    false
                }
                (Some(q), c) if c == q => {
                    quote = None;
                    false
                }
                (None, '>') => true,
                _ => false,
            })
            .map_or(rest.len(), |(i, _)| i);
        let tag = &rest[..end];
        rest = &rest[end..];
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        let dangerous = match name.as_str() {
            "iframe" | "object" | "embed" | "style" | "base" => true,
            "meta" => tag.contains("http-equiv"),
            _ => false,
        };
        if dangerous {
            problems.push(format!("<{tag}>"));
        }
        if name == "form" && tag.contains("evil.example") {
            problems.push(format!("<{tag}>"));
        }
        if name == "script" {
            let body = &rest[1.min(rest.len())..];
            let body = &body[..body.find("</script>").unwrap_or(body.len())];
            if body.contains("alert") {
                problems.push(format!("<{tag}>{body}"));
            }
        }
        for (attribute, value) in attributes(tag) {
            let value = value.trim().to_ascii_lowercase();
            if attribute.starts_with("on")
                || (["href", "src", "action", "formaction"].contains(&attribute.as_str())
                    && (value.starts_with("javascript:") || value.starts_with("data:")))
                || (name == "img" && attribute == "src" && value == "x")
            {
                problems.push(format!("<{tag}>"));
            }
        }
    }
    problems
}

/// The attributes of a tag's inside (`name a="1" b=2 c`), names lowercased.
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = tag.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            return found;
        }
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        rest = rest[name_end..].trim_start();
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (text, tail) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let inner = &after[1..];
                    let close = inner.find(q).unwrap_or(inner.len());
                    (&inner[..close], &inner[(close + 1).min(inner.len())..])
                }
                _ => {
                    let close = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..close], &after[close..])
                }
            };
            value = text.replace("&colon;", ":");
            rest = tail;
        }
        if name.is_empty() {
            return found;
        }
        found.push((name, value));
    }
}
