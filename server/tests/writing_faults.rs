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
