//! Two server processes on one PostgreSQL database (behind one address, a
//! browser may reach either): a generation started on A is followed
//! through B with every piece in order; stop pressed on B stops the job
//! running on A; the per-user and site-wide limits hold for both; a
//! process that starts does not touch the other's running generations.
//! PostgreSQL only (`WENSI_TEST_DB=postgres`); skipped with a line on
//! SQLite.

mod common;

use std::time::{Duration, Instant};

use app::modules::writing::protocol::{GenerationEvent, GenerationStatus};
use common::writing::{brief, spawn, visitor, Followed, Visitor};
use common::TestApp;
use serde_json::json;

const ALICE: &str = "oAliceFakeOpenid0000000000001";
const BOB: &str = "oBobFakeOpenid00000000000000002";

/// A few seconds for a short article.
const SLOW: &str = "150";

/// The same browser (its cookies: the session) pointed at another process.
fn on(process: &TestApp, visitor: &Visitor) -> Visitor {
    Visitor {
        browser: visitor.browser.clone(),
        base: process.base.clone(),
    }
}

#[tokio::test]
async fn a_generation_started_on_a_is_followed_on_b_piece_by_piece() {
    if common::skip_unless_postgres("a_generation_started_on_a_is_followed_on_b_piece_by_piece") {
        return;
    }
    let a = spawn(SLOW, &[]).await;
    let b = a.spawn_beside(&[]).await;
    let alice = visitor(&a, ALICE).await;
    let id = alice.start(brief("春天喝什么茶")).await;
    let started = Instant::now();
    let on_a = alice.events(&id).await;
    let on_b = on(&b, &alice).events(&id).await;
    let (seen_a, seen_b) = tokio::join!(on_a.read_to_end(), on_b.read_to_end());
    let took = started.elapsed();

    assert_eq!(seen_b.status(), Some(GenerationStatus::Done));
    let (stored, status) = a.stored(&id, 1).await;
    assert_eq!(status, "done");
    assert_eq!(
        seen_b.text, stored,
        "B's browser got the whole text, in order"
    );
    assert_eq!(seen_a.text, stored);
    assert!(stored.chars().count() > 100, "{stored}");
    // B woke at A's batches (every 250 ms), not only at its once-a-second
    // look at the database.
    let deltas = seen_b
        .messages
        .iter()
        .filter(|m| matches!(m.event, GenerationEvent::Text { .. }))
        .count();
    let seconds = took.as_secs_f64();
    assert!(
        deltas as f64 > 1.5 * seconds + 1.0,
        "{deltas} pieces in {seconds:.1} s: B did not hear A's batches"
    );
    // B's reading of a finished article is the same.
    let again = on(&b, &alice).follow(&id).await;
    assert_eq!(again.text, stored);
    assert_eq!(on(&b, &alice).get(&id).await["body"], stored.as_str());
}

#[tokio::test]
async fn stop_pressed_on_b_stops_the_job_running_on_a() {
    if common::skip_unless_postgres("stop_pressed_on_b_stops_the_job_running_on_a") {
        return;
    }
    let a = spawn(SLOW, &[]).await;
    let b = a.spawn_beside(&[]).await;
    let alice = visitor(&a, ALICE).await;
    let id = alice.start(brief("城市骑行指南")).await;
    let alice_b = on(&b, &alice);
    let mut events = alice_b.events(&id).await;
    let mut seen = Followed::default();
    events.until_chars(&mut seen, 30).await;
    let asked = Instant::now();
    alice_b.stop(&id).await;
    // Stop answers once A has stored the end.
    let (stored, status) = a.stored(&id, 1).await;
    assert_eq!(status, "stopped", "answered after {:?}", asked.elapsed());
    for message in events.read_to_end().await.messages {
        seen.add(message);
    }
    assert_eq!(seen.status(), Some(GenerationStatus::Stopped));
    assert!(seen.problem().unwrap().contains("继续写"));
    assert_eq!(seen.text, stored, "what B's browser saw is kept");
    // A dropped its DeepSeek request: nothing more is written.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(a.stored(&id, 1).await.0, stored);
    assert_eq!(a.deepseek_stats().await["open_answers"], 0);
    // Its place came back: continue on B, which runs it there.
    let (status, answer) = alice_b
        .call("regenerate", json!({ "id": id, "how": "continue" }))
        .await;
    assert_eq!(status, 200, "{answer}");
    let done = alice_b.follow(&id).await;
    assert_eq!(done.status(), Some(GenerationStatus::Done));
    assert!(done.text.starts_with(&stored));
}

#[tokio::test]
async fn a_users_places_and_the_daily_limit_hold_across_processes() {
    if common::skip_unless_postgres("a_users_places_and_the_daily_limit_hold_across_processes") {
        return;
    }
    let a = spawn(
        SLOW,
        &[
            ("WRITING_USER_CONCURRENT", "1"),
            ("WRITING_DAILY_LIMIT", "3"),
        ],
    )
    .await;
    let b = a.spawn_beside(&[]).await;
    let alice = visitor(&a, ALICE).await;
    let alice_b = on(&b, &alice);
    let first = alice.start(brief("第一篇")).await;
    // Something written: it counts against the day.
    let mut events = alice.events(&first).await;
    events.until_chars(&mut Followed::default(), 10).await;
    let (status, answer) = alice_b
        .call("start", json!({ "brief": brief("第二篇") }))
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (429, Some("too_many_running")),
        "one at a time, whichever process: {answer}"
    );
    let (_, quota) = alice_b.call("quota", json!({})).await;
    assert_eq!(
        (quota["running"].as_u64(), quota["used_today"].as_u64()),
        (Some(1), Some(1))
    );
    // Stopped on A, the place is free on B at once.
    alice.stop(&first).await;
    let second = alice_b.start(brief("第二篇")).await;
    a.pace(0).await;
    b.pace(0).await;
    assert_eq!(
        alice_b.follow(&second).await.status(),
        Some(GenerationStatus::Done)
    );
    let third = alice.start(brief("第三篇")).await;
    assert_eq!(
        alice.follow(&third).await.status(),
        Some(GenerationStatus::Done)
    );
    let (status, answer) = alice_b
        .call("start", json!({ "brief": brief("第四篇") }))
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (429, Some("daily_limit")),
        "{answer}"
    );
}

#[tokio::test]
async fn the_site_wide_deepseek_cap_holds_across_processes() {
    if common::skip_unless_postgres("the_site_wide_deepseek_cap_holds_across_processes") {
        return;
    }
    let a = spawn(SLOW, &[("WRITING_SITE_CONCURRENT", "1")]).await;
    let b = a.spawn_beside(&[]).await;
    let alice = visitor(&a, ALICE).await;
    let bob = visitor(&b, BOB).await;
    let first = alice.start(brief("先来的")).await;
    let mut events = alice.events(&first).await;
    let mut seen = Followed::default();
    events.until_chars(&mut seen, 10).await;
    let second = bob.start(brief("后到的")).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        bob.get(&second).await["status"],
        "queued",
        "B waits for the place A holds"
    );
    assert_eq!(b.deepseek_stats().await["chat_requests"], 0);
    alice.stop(&first).await;
    let done = bob.follow(&second).await;
    assert_eq!(done.status(), Some(GenerationStatus::Done));
    assert_eq!(a.deepseek_stats().await["most_open_answers"], 1);
    assert_eq!(b.deepseek_stats().await["most_open_answers"], 1);
}

#[tokio::test]
async fn a_process_that_starts_leaves_the_others_generations_alone() {
    if common::skip_unless_postgres("a_process_that_starts_leaves_the_others_generations_alone") {
        return;
    }
    // Slow enough that B is still writing when A is back.
    let a = spawn("40", &[]).await;
    let b = a.spawn_beside(&[]).await;
    let alice = visitor(&b, ALICE).await;
    let id = alice.start(brief("重启不打断")).await;
    let mut events = alice.events(&id).await;
    let mut seen = Followed::default();
    events.until_chars(&mut seen, 10).await;
    // A restarts (its start-up sweep runs) while B writes.
    let a = a.restart(&[]).await;
    let (_, status) = a.stored(&id, 1).await;
    assert!(
        status == "queued" || status == "running",
        "B's generation is B's: A's start marked it {status}"
    );
    let status = on(&a, &alice).get(&id).await["status"].clone();
    assert!(status == "queued" || status == "running", "{status}");
    b.pace(0).await;
    for message in events.read_to_end().await.messages {
        seen.add(message);
    }
    assert_eq!(
        seen.status(),
        Some(GenerationStatus::Done),
        "{:?}",
        seen.problem()
    );
    let (stored, status) = a.stored(&id, 1).await;
    assert_eq!(
        (stored.as_str(), status.as_str()),
        (seen.text.as_str(), "done")
    );
}
