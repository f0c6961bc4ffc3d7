//! The writing module's limits and walls: daily and concurrent generations
//! per user and the site-wide DeepSeek cap under parallel requests; another
//! user's article, a logged-out caller, hostile input, no DeepSeek at all.

mod common;

use std::collections::HashMap;

use app::modules::writing::protocol::GenerationStatus;
use common::writing::{brief, spawn, stranger, visitor};
use futures_util::future::join_all;
use serde_json::{json, Value};

const ALICE: &str = "oAliceFakeOpenid0000000000001";
const BOB: &str = "oBobFakeOpenid000000000000002";
const CAROL: &str = "oCarolFakeOpenid00000000000003";

/// How many of `answers` have each status and error code.
fn tally(answers: &[(u16, Value)]) -> HashMap<(u16, String), usize> {
    let mut counts = HashMap::new();
    for (status, answer) in answers {
        let code = answer["error"].as_str().unwrap_or("").to_owned();
        *counts.entry((*status, code)).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn the_daily_limit_holds_under_parallel_requests() {
    let app = spawn(
        "0",
        &[
            ("WRITING_DAILY_LIMIT", "3"),
            ("WRITING_USER_CONCURRENT", "20"),
        ],
    )
    .await;
    let alice = visitor(&app, ALICE).await;
    let starts =
        (0..10).map(|i| alice.call("start", json!({ "brief": brief(&format!("第{i}篇")) })));
    let answers = join_all(starts).await;
    let counts = tally(&answers);
    assert_eq!(counts.get(&(200, String::new())), Some(&3), "{counts:?}");
    assert_eq!(
        counts.get(&(429, "daily_limit".into())),
        Some(&7),
        "{counts:?}"
    );
    let refusal = answers.iter().find(|(s, _)| *s == 429).unwrap();
    let (_, quota) = alice.call("quota", json!({})).await;
    assert_eq!(
        (quota["used_today"].as_u64(), quota["daily_limit"].as_u64()),
        (Some(3), Some(3))
    );
    // The words say when: and no other call can spend more.
    let (status, outline) = alice
        .call("outline", json!({ "brief": brief("大纲") }))
        .await;
    assert_eq!(
        (status, outline["error"].as_str()),
        (429, Some("daily_limit"))
    );
    assert_eq!(app.count("articles").await, 3);
    let words = format!("{}", refusal.1);
    assert!(words.contains("明天") || refusal.1["when"].as_str().unwrap().contains("明天"));
    // Deleting an article gives nothing back.
    let (_, list) = alice.call("list", json!({})).await;
    let id = list[0]["id"].as_str().unwrap();
    alice.follow(id).await;
    let (status, _) = alice.call("delete", json!({ "id": id })).await;
    assert_eq!(status, 200);
    let (status, _) = alice.call("start", json!({ "brief": brief("再来") })).await;
    assert_eq!(status, 429);
    // Another user has his own day.
    let bob = visitor(&app, BOB).await;
    let (status, _) = bob.call("start", json!({ "brief": brief("鲍勃的") })).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn concurrent_generations_per_user_hold_under_parallel_requests() {
    let app = spawn("100", &[("WRITING_USER_CONCURRENT", "2")]).await;
    let alice = visitor(&app, ALICE).await;
    let starts =
        (0..8).map(|i| alice.call("start", json!({ "brief": brief(&format!("第{i}篇")) })));
    let answers = join_all(starts).await;
    let counts = tally(&answers);
    assert_eq!(counts.get(&(200, String::new())), Some(&2), "{counts:?}");
    assert_eq!(
        counts.get(&(429, "too_many_running".into())),
        Some(&6),
        "{counts:?}"
    );
    let (status, outline) = alice
        .call("outline", json!({ "brief": brief("大纲") }))
        .await;
    assert_eq!(
        (status, outline["error"].as_str()),
        (429, Some("too_many_running"))
    );
    let (_, quota) = alice.call("quota", json!({})).await;
    assert_eq!(quota["running"], 2);
    assert_eq!(quota["used_today"], 2, "refused starts are not counted");
    // Stopping one frees its place.
    let running: Vec<&str> = answers
        .iter()
        .filter_map(|(_, a)| a["id"].as_str())
        .collect();
    alice.stop(running[0]).await;
    let (status, _) = alice
        .call("start", json!({ "brief": brief("又一篇") }))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_site_wide_deepseek_cap_holds_and_the_others_wait_their_turn() {
    let app = spawn(
        "300",
        &[
            ("WRITING_SITE_CONCURRENT", "2"),
            ("WRITING_USER_CONCURRENT", "3"),
        ],
    )
    .await;
    let mut visitors = Vec::new();
    for openid in [ALICE, BOB, CAROL] {
        visitors.push(visitor(&app, openid).await);
    }
    let starts = visitors.iter().flat_map(|v| {
        (0..2).map(move |i| v.call("start", json!({ "brief": brief(&format!("排队{i}")) })))
    });
    let answers = join_all(starts).await;
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    // Some wait for a slot.
    let mut queued = 0;
    for (i, (_, answer)) in answers.iter().enumerate() {
        let detail = visitors[i / 2].get(answer["id"].as_str().unwrap()).await;
        queued += usize::from(detail["status"] == "queued");
    }
    assert!(queued >= 3, "{queued} queued");
    for (i, (_, answer)) in answers.iter().enumerate() {
        let seen = visitors[i / 2].follow(answer["id"].as_str().unwrap()).await;
        assert_eq!(seen.status(), Some(GenerationStatus::Done));
    }
    let stats = app.deepseek_stats().await;
    assert_eq!(
        stats["most_open_answers"], 2,
        "never more than the cap: {stats}"
    );
    assert_eq!(stats["chat_requests"], 6);
}

#[tokio::test]
async fn another_users_article_is_not_found_whatever_the_call() {
    let app = spawn("0", &[]).await;
    let alice = visitor(&app, ALICE).await;
    let bob = visitor(&app, BOB).await;
    let id = alice.start(brief("爱丽丝的文章")).await;
    let theirs = alice.follow(&id).await;

    let missing = "0123456789abcdef0123456789abcdef";
    for target in [
        id.as_str(),
        missing,
        "../../etc/passwd",
        "' OR 1=1 --",
        "",
        "ABC",
    ] {
        for (name, args) in [
            ("get", json!({ "id": target, "version": null })),
            ("get", json!({ "id": target, "version": 1 })),
            ("stop", json!({ "id": target })),
            ("regenerate", json!({ "id": target, "how": "fresh" })),
            ("regenerate", json!({ "id": target, "how": "continue" })),
            (
                "save",
                json!({ "id": target, "title": "偷改", "body": "偷改" }),
            ),
            ("delete", json!({ "id": target })),
        ] {
            let (status, answer) = bob.call(name, args).await;
            assert_eq!(
                (status, answer["error"].as_str()),
                (404, Some("not_found")),
                "{name} {target:?}: {answer}"
            );
        }
        let (status, _) = bob.events_with(&urlencode(target), None, None).await;
        assert_eq!(status, 404, "events of {target:?}");
    }
    let (_, list) = bob.call("list", json!({})).await;
    assert_eq!(list, json!([]));

    // The page too: a 404 status (not a 200 with "not found" streamed in
    // after the headers), and pages with articles are never cached.
    let page = bob
        .browser
        .get(bob.url(&format!("/write?id={id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    let html = page.text().await.unwrap();
    assert!(html.contains("找不到这篇文章") && !html.contains("爱丽丝的文章"));
    for path in [format!("/write?id={id}"), "/articles".to_owned()] {
        let page = alice.browser.get(alice.url(&path)).send().await.unwrap();
        assert_eq!(page.status(), 200, "{path}");
        assert_eq!(page.headers()["cache-control"], "no-store", "{path}");
        assert!(
            page.text().await.unwrap().contains("爱丽丝的文章"),
            "{path}"
        );
    }
    // Alice's article is as it was.
    let detail = alice.get(&id).await;
    assert_eq!(detail["body"], theirs.text.as_str());
    assert_eq!(detail["versions"].as_array().unwrap().len(), 1);
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn a_logged_out_caller_is_told_to_log_in() {
    let app = spawn("0", &[]).await;
    let alice = visitor(&app, ALICE).await;
    let id = alice.start(brief("登录后可见")).await;
    let nobody = stranger(&app);
    for (name, args) in [
        ("start", json!({ "brief": brief("匿名") })),
        ("outline", json!({ "brief": brief("匿名") })),
        ("regenerate", json!({ "id": id, "how": "fresh" })),
        ("stop", json!({ "id": id })),
        ("list", json!({})),
        ("get", json!({ "id": id, "version": null })),
        ("save", json!({ "id": id, "title": "x", "body": "x" })),
        ("delete", json!({ "id": id })),
        ("quota", json!({})),
    ] {
        let (status, answer) = nobody.call(name, args).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (401, Some("not_logged_in")),
            "{name}"
        );
        assert!(
            answer["message"].is_null(),
            "the error is the protocol's: {answer}"
        );
    }
    let (status, _) = nobody.events_with(&id, None, None).await;
    assert_eq!(status, 401);
    assert_eq!(app.count("articles").await, 1);
}

#[tokio::test]
async fn hostile_briefs_and_bodies_are_refused_and_change_nothing() {
    let app = spawn("0", &[]).await;
    let alice = visitor(&app, ALICE).await;
    let with = |field: &str, value: Value| {
        let mut b = brief("正常的主题");
        b[field] = value;
        b
    };
    for (bad, field) in [
        (with("topic", json!("")), "topic"),
        (with("topic", json!("长".repeat(101))), "topic"),
        (with("topic", json!("换\n行")), "topic"),
        (with("kind", json!("类".repeat(21))), "kind"),
        (with("tone", json!("\u{0}")), "tone"),
        (
            with(
                "keywords",
                json!((0..9).map(|i| format!("词{i}")).collect::<Vec<_>>()),
            ),
            "keywords",
        ),
        (with("keywords", json!(["长".repeat(21)])), "keywords"),
        (with("notes", json!("注".repeat(1001))), "notes"),
        (with("outline", json!("纲".repeat(3001))), "outline"),
        (with("outline", json!("没有小节的大纲")), "outline"),
    ] {
        for call in ["start", "outline"] {
            let (status, answer) = alice.call(call, json!({ "brief": bad })).await;
            assert_eq!(status, 422, "{call} {field}: {answer}");
            assert_eq!(answer["error"], "invalid");
            assert_eq!(answer["field"], field);
            assert!(!answer["message"].as_str().unwrap().is_empty());
        }
    }
    // Not the shape of the call at all.
    for body in [
        "not json",
        "{\"brief\": 3}",
        "{\"brief\": {\"topic\": [1]}}",
        "{}",
        "[]",
    ] {
        let response = alice
            .browser
            .post(alice.url("/api/writing/start"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!((400..500).contains(&status), "{body}: {status}");
    }
    let huge = "字".repeat(2_000_000);
    let (status, _) = alice
        .call("start", json!({ "brief": with("notes", json!(huge)) }))
        .await;
    assert!((400..500).contains(&status), "{status}");
    assert_eq!(app.count("articles").await, 0);
    assert_eq!(app.count("writing_generations").await, 0);

    // A saved edit is checked too.
    let id = alice.start(brief("可以编辑")).await;
    alice.follow(&id).await;
    for (title, body, field) in [
        ("", "正文", "title"),
        ("标题\n两行", "正文", "title"),
        ("标题", "\u{7}", "body"),
    ] {
        let (status, answer) = alice
            .call("save", json!({ "id": id, "title": title, "body": body }))
            .await;
        assert_eq!((status, answer["field"].as_str()), (422, Some(field)));
    }
    let long = "字".repeat(50_001);
    let (status, _) = alice
        .call("save", json!({ "id": id, "title": "标题", "body": long }))
        .await;
    assert_eq!(status, 422);
    // From another site: refused before anything.
    let response = alice
        .browser
        .post(alice.url("/api/writing/delete"))
        .header("sec-fetch-site", "cross-site")
        .json(&json!({ "id": id }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(app.count("articles").await, 1);
}

#[tokio::test]
async fn streams_per_user_are_limited() {
    let app = spawn("50", &[("WRITING_STREAMS_PER_USER", "2")]).await;
    let alice = visitor(&app, ALICE).await;
    let id = alice.start(brief("很多标签页")).await;
    let a = alice.events(&id).await;
    let b = alice.events(&id).await;
    let (status, _) = alice.events_with(&id, None, None).await;
    assert_eq!(status, 429);
    // Another user is not counted against her.
    let bob = visitor(&app, BOB).await;
    let bobs = bob.start(brief("鲍勃")).await;
    let (status, _) = bob.events_with(&bobs, None, None).await;
    assert_eq!(status, 200);
    drop(a);
    drop(b);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let (status, _) = alice.events_with(&id, None, None).await;
    assert_eq!(status, 200, "closed streams give their places back");
}

#[tokio::test]
async fn without_deepseek_writing_says_it_is_not_configured() {
    let app = common::spawn(&[]).await;
    let alice = visitor(&app, ALICE).await;
    for (name, args) in [
        ("start", json!({ "brief": brief("没有配置") })),
        ("list", json!({})),
        ("quota", json!({})),
    ] {
        let (status, answer) = alice.call(name, args).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (503, Some("not_configured")),
            "{name}"
        );
    }
    let (status, _) = alice
        .events_with("0123456789abcdef0123456789abcdef", None, None)
        .await;
    assert_eq!(status, 503);
}
