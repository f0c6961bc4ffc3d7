//! The writing module end to end, against the whole server with the WeChat
//! and DeepSeek sandboxes: an article is started, streamed to the browser
//! and stored; stopped, continued, regenerated, resumed after a dropped
//! connection, and kept across a restart.

mod common;

use std::time::Duration;

use app::modules::writing::protocol::{GenerationEvent, GenerationStatus};
use common::writing::{brief, spawn, visitor, Followed};
use serde_json::json;

const ALICE: &str = "oAliceFakeOpenid0000000000001";

/// Slow enough to act in the middle of a short article (a few seconds),
/// fast enough for a test.
const SLOW: &str = "150";

#[tokio::test]
async fn an_article_streams_to_the_browser_and_is_stored() {
    let app = spawn("400", &[]).await;
    let alice = visitor(&app, ALICE).await;
    let mut thinking = brief("春天喝什么茶");
    thinking["thinking"] = json!(true);
    let id = alice.start(thinking).await;
    let seen = alice.follow(&id).await;

    // A snapshot first, then deltas in order, then one Finished.
    let first = &seen.messages[0].event;
    assert!(
        matches!(
            first,
            GenerationEvent::Snapshot {
                version: 1,
                whole: true,
                ..
            }
        ),
        "{first:?}"
    );
    let deltas = seen.messages[1..seen.messages.len() - 1]
        .iter()
        .filter(|m| matches!(m.event, GenerationEvent::Text { .. }))
        .count();
    assert!(deltas > 5, "the text came piece by piece ({deltas} deltas)");
    assert_eq!(seen.status(), Some(GenerationStatus::Done));
    let Some(GenerationEvent::Finished {
        usage, elapsed_ms, ..
    }) = &seen.finished
    else {
        unreachable!()
    };
    let usage = usage.expect("usage is reported");
    assert!(usage.completion_tokens > 100 && usage.prompt_tokens > 50);
    assert!(usage.reasoning_tokens > 0, "thinking mode");
    assert!(*elapsed_ms > 0);

    // What the browser saw is what is stored, and what `get` gives.
    assert!(seen.text.starts_with("# "), "{}", seen.text);
    assert!(seen.text.contains("## "));
    assert!(!seen.reasoning.is_empty());
    let (body, status) = app.stored(&id, 1).await;
    assert_eq!(
        (body.as_str(), status.as_str()),
        (seen.text.as_str(), "done")
    );
    let detail = alice.get(&id).await;
    assert_eq!(detail["body"], seen.text.as_str());
    assert_eq!(detail["reasoning"], seen.reasoning.as_str());
    assert_eq!(detail["status"], "done");
    assert_eq!(
        detail["usage"]["completion_tokens"],
        usage.completion_tokens
    );
    assert_eq!(detail["stream_from"], seen.last_id.as_str());
    // Named after its first heading.
    let heading = seen.text.lines().next().unwrap().trim_start_matches("# ");
    assert_eq!(detail["title"], heading);
    assert_eq!(detail["brief"]["topic"], "春天喝什么茶");

    let (status, list) = alice.call("list", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["status"], "done");
    assert_eq!(list[0]["chars"], seen.text.chars().count());

    // A finished article's stream: the snapshot and the end, at once.
    let again = alice.follow(&id).await;
    assert_eq!(again.messages.len(), 2);
    assert_eq!(again.text, seen.text);
    // Its usage counted once against today's quota.
    let (_, quota) = alice.call("quota", json!({})).await;
    assert_eq!(quota["used_today"], 1);
    assert_eq!(quota["running"], 0);
}

#[tokio::test]
async fn a_dropped_connection_resumes_with_exactly_the_rest() {
    let app = spawn(SLOW, &[]).await;
    let alice = visitor(&app, ALICE).await;
    let id = alice.start(brief("远程办公的利与弊")).await;

    // EventSource's reconnection: Last-Event-ID.
    let mut events = alice.events(&id).await;
    let mut before = Followed::default();
    events.until_chars(&mut before, 40).await;
    assert!(before.finished.is_none(), "still being written");
    drop(events);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, events) = alice.events_with(&id, None, Some(&before.last_id)).await;
    assert_eq!(status, 200);
    let mut events = events.unwrap();
    let first = events.next().await.unwrap();
    let GenerationEvent::Snapshot { whole, text, .. } = &first.event else {
        panic!("{first:?}");
    };
    assert!(!whole, "the rest, not the whole");
    assert!(!text.is_empty(), "what was written while away");
    let mut rest = before.clone();
    rest.add(first);
    // A reload meanwhile: the page shows `get`, the stream goes `?from=`.
    let page = alice.get(&id).await;
    let (_, reload) = alice
        .events_with(&id, page["stream_from"].as_str(), None)
        .await;
    let mut reload_seen = Followed {
        text: page["body"].as_str().unwrap().to_owned(),
        ..Followed::default()
    };
    let reload = reload.unwrap().read_to_end().await;
    for message in reload.messages {
        reload_seen.add(message);
    }
    let rest = {
        let mut rest = rest;
        for message in events.read_to_end().await.messages {
            rest.add(message);
        }
        rest
    };

    let (stored, status) = app.stored(&id, 1).await;
    assert_eq!(status, "done");
    assert_eq!(rest.text, stored, "no piece lost or repeated");
    assert_eq!(reload_seen.text, stored, "no piece lost or repeated");

    // Any position in the text: exactly what follows it.
    let (_, events) = alice.events_with(&id, None, Some("1.0.1.0")).await;
    let after_one = events.unwrap().read_to_end().await;
    assert!(matches!(
        after_one.messages[0].event,
        GenerationEvent::Snapshot { whole: false, .. }
    ));
    assert_eq!(after_one.text, stored[1..]);
    // A position that is not one (forged, inside a character, of another
    // version or revision): the whole version.
    for bogus in [
        "9.0.10.0",
        "1.0.3.0x",
        "1.0.999999.0",
        "1.0.3.0",
        "1.5.1.0",
        "x",
    ] {
        let (_, events) = alice.events_with(&id, None, Some(bogus)).await;
        let whole = events.unwrap().read_to_end().await;
        assert!(
            matches!(
                whole.messages[0].event,
                GenerationEvent::Snapshot { whole: true, .. }
            ),
            "{bogus}"
        );
        assert_eq!(whole.text, stored);
    }
}

#[tokio::test]
async fn stop_keeps_what_was_written_and_continue_goes_on_from_there() {
    let app = spawn(SLOW, &[]).await;
    let alice = visitor(&app, ALICE).await;
    let topic = "城市骑行指南";
    let id = alice.start(brief(topic)).await;
    let mut events = alice.events(&id).await;
    let mut seen = Followed::default();
    events.until_chars(&mut seen, 30).await;
    let requests = app.deepseek_stats().await["chat_requests"]
        .as_u64()
        .unwrap();
    alice.stop(&id).await;
    // Stop answers once the end is stored.
    let (stored, status) = app.stored(&id, 1).await;
    assert_eq!(status, "stopped");
    let seen = {
        let mut seen = seen;
        for message in events.read_to_end().await.messages {
            seen.add(message);
        }
        seen
    };
    assert_eq!(seen.status(), Some(GenerationStatus::Stopped));
    assert!(seen.problem().unwrap().contains("继续写"));
    assert_eq!(seen.text, stored, "what the browser saw is kept");
    assert!(stored.chars().count() >= 30);
    // DeepSeek's request was dropped: nothing more arrives.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(app.stored(&id, 1).await.0, stored);
    assert_eq!(app.deepseek_stats().await["open_answers"], 0);

    // Continue: the same version, from where it stopped.
    let (status, answer) = alice
        .call("regenerate", json!({ "id": id, "how": "continue" }))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["version"], 1);
    let (_, events) = alice.events_with(&id, Some(&seen.last_id), None).await;
    let mut rest = seen.clone();
    rest.finished = None;
    for message in events.unwrap().read_to_end().await.messages {
        rest.add(message);
    }
    assert_eq!(rest.status(), Some(GenerationStatus::Done));
    let (continued, status) = app.stored(&id, 1).await;
    assert_eq!(status, "done");
    assert_eq!(rest.text, continued);
    assert_eq!(
        app.deepseek_stats().await["chat_requests"]
            .as_u64()
            .unwrap(),
        requests + 1
    );

    // The same brief written in one go gives the same article: nothing was
    // lost or repeated at the seam.
    app.pace(0).await;
    let whole = alice.start(brief(topic)).await;
    let once = alice.follow(&whole).await;
    assert_eq!(continued, once.text);

    // A finished version cannot be continued.
    let (status, answer) = alice
        .call("regenerate", json!({ "id": id, "how": "continue" }))
        .await;
    assert_eq!((status, answer["error"].as_str()), (422, Some("invalid")));
}

#[tokio::test]
async fn regenerating_keeps_the_previous_version() {
    let app = spawn("0", &[]).await;
    let alice = visitor(&app, ALICE).await;
    let id = alice.start(brief("周末露营清单")).await;
    let first = alice.follow(&id).await;
    app.pace(SLOW.parse().unwrap()).await;

    let (status, answer) = alice
        .call("regenerate", json!({ "id": id, "how": "fresh" }))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["version"], 2);
    // While it runs: no second generation, no edit.
    let (status, busy) = alice
        .call("regenerate", json!({ "id": id, "how": "fresh" }))
        .await;
    assert_eq!((status, busy["error"].as_str()), (409, Some("busy")));
    let (status, _) = alice
        .call("save", json!({ "id": id, "title": "新", "body": "改" }))
        .await;
    assert_eq!(status, 409);
    let running = alice.get(&id).await;
    assert_eq!(running["version"], 2);
    assert!(matches!(
        running["status"].as_str(),
        Some("queued" | "running")
    ));

    let second = alice.follow(&id).await;
    assert_eq!(second.version, Some(2));
    assert_eq!(second.status(), Some(GenerationStatus::Done));
    let detail = alice.get(&id).await;
    assert_eq!(detail["versions"].as_array().unwrap().len(), 2);
    let (status, old) = alice.call("get", json!({ "id": id, "version": 1 })).await;
    assert_eq!(status, 200);
    assert_eq!(
        old["body"],
        first.text.as_str(),
        "the first version is kept"
    );
    assert_eq!(old["version"], 1);
    let (status, missing) = alice.call("get", json!({ "id": id, "version": 7 })).await;
    assert_eq!(
        (status, missing["error"].as_str()),
        (404, Some("not_found"))
    );

    // The visitor's edit of the newest version, then the list.
    let (status, saved) = alice
        .call(
            "save",
            json!({ "id": id, "title": "我的露营清单", "body": "# 我的露营清单\n\n帐篷、睡袋。" }),
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["title"], "我的露营清单");
    assert_eq!(saved["body"], "# 我的露营清单\n\n帐篷、睡袋。");
    // A stream from before the edit starts over with the edited text.
    let (_, events) = alice.events_with(&id, Some(&second.last_id), None).await;
    let after = events.unwrap().read_to_end().await;
    assert!(matches!(
        after.messages[0].event,
        GenerationEvent::Snapshot { whole: true, .. }
    ));
    assert_eq!(after.text, "# 我的露营清单\n\n帐篷、睡袋。");
    let (_, list) = alice.call("list", json!({})).await;
    assert_eq!(list[0]["title"], "我的露营清单");

    // Deleted: gone for every call.
    let (status, _) = alice.call("delete", json!({ "id": id })).await;
    assert_eq!(status, 200);
    let (status, _) = alice
        .call("get", json!({ "id": id, "version": null }))
        .await;
    assert_eq!(status, 404);
    let (status, _) = alice.events_with(&id, None, None).await;
    assert_eq!(status, 404);
    assert_eq!(app.count("article_versions").await, 0);
    // Generations are still counted for the day.
    let (_, quota) = alice.call("quota", json!({})).await;
    assert_eq!(quota["used_today"], 2);
}

#[tokio::test]
async fn an_outline_is_written_section_by_section() {
    let app = spawn("0", &[]).await;
    let alice = visitor(&app, ALICE).await;
    let (status, outline) = alice
        .call("outline", json!({ "brief": brief("新手养猫指南") }))
        .await;
    assert_eq!(status, 200, "{outline}");
    let outline = outline.as_str().unwrap().to_owned();
    assert!(outline.starts_with("# "), "{outline}");
    let headings: Vec<String> = outline
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|h| h.split_once('、').map_or(h, |(_, h)| h).to_owned())
        .collect();
    assert!(headings.len() >= 3, "{outline}");

    // The visitor edits it: drops a section, renames one.
    let mut edited: Vec<String> = outline.lines().map(str::to_owned).collect();
    let last = edited.iter().rposition(|l| l.starts_with("## ")).unwrap();
    edited.truncate(last);
    let edited = edited.join("\n").replacen(&headings[0], "先准备什么", 1);
    let before = app.deepseek_stats().await["chat_requests"]
        .as_u64()
        .unwrap();
    let mut with_outline = brief("新手养猫指南");
    with_outline["outline"] = json!(edited);
    let id = alice.start(with_outline).await;
    let seen = alice.follow(&id).await;
    assert_eq!(seen.status(), Some(GenerationStatus::Done));
    let requests = app.deepseek_stats().await["chat_requests"]
        .as_u64()
        .unwrap()
        - before;
    assert_eq!(
        requests as usize,
        headings.len() - 1,
        "one request per section"
    );

    // The sections, in the visitor's order, under the outline's title.
    let written: Vec<&str> = seen
        .text
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .collect();
    let mut expected = vec!["先准备什么".to_owned()];
    expected.extend(headings[1..headings.len() - 1].iter().cloned());
    assert_eq!(written, expected);
    assert_eq!(seen.text.lines().next(), outline.lines().next());
    assert_eq!(app.stored(&id, 1).await.0, seen.text);
    let (_, quota) = alice.call("quota", json!({})).await;
    assert_eq!(quota["used_today"], 2, "the outline counts too");
}

#[tokio::test]
async fn a_restart_mid_generation_marks_it_interrupted_and_keeps_the_text() {
    let app = spawn(SLOW, &[]).await;
    let alice = visitor(&app, ALICE).await;
    let topic = "如何开始跑步";
    let id = alice.start(brief(topic)).await;
    let mut events = alice.events(&id).await;
    let mut seen = Followed::default();
    events.until_chars(&mut seen, 30).await;

    // The server stops (as on SIGTERM): the stream ends, the job stores
    // what it had and marks itself interrupted.
    let app = app.restart(&[]).await;
    let rest = events.read_to_end().await;
    assert!(rest.finished.is_none(), "the stream ended without Finished");
    let (stored, status) = app.stored(&id, 1).await;
    assert_eq!(status, "interrupted");
    assert!(
        stored.starts_with(&seen.text),
        "nothing the browser saw is lost"
    );

    let alice = common::writing::Visitor {
        browser: alice.browser,
        base: app.base.clone(),
    };
    let detail = alice.get(&id).await;
    assert_eq!(detail["status"], "interrupted");
    assert_eq!(detail["body"], stored.as_str());
    assert!(detail["problem"].as_str().unwrap().contains("重启"));
    let after = alice.follow(&id).await;
    assert_eq!(after.status(), Some(GenerationStatus::Interrupted));

    // Continue finishes it as one uninterrupted run would have.
    let (status, _) = alice
        .call("regenerate", json!({ "id": id, "how": "continue" }))
        .await;
    assert_eq!(status, 200);
    app.pace(0).await;
    let done = alice.follow(&id).await;
    assert_eq!(done.status(), Some(GenerationStatus::Done));
    let once = alice.start(brief(topic)).await;
    assert_eq!(done.text, alice.follow(&once).await.text);
}

#[tokio::test]
async fn a_crash_leaves_rows_the_next_start_marks_interrupted() {
    let app = spawn("0", &[]).await;
    let alice = visitor(&app, ALICE).await;
    let id = alice.start(brief("咖啡入门")).await;
    let done = alice.follow(&id).await;
    // What a crash mid-generation leaves: the last batch, still `running`.
    let cut: String = done.text.chars().take(50).collect();
    sqlx::query("UPDATE article_versions SET status = 'running', body = $1, body_bytes = $2 WHERE article_id = $3")
        .bind(&cut)
        .bind(cut.len() as i64)
        .bind(&id)
        .execute(&app.db)
        .await
        .unwrap();
    let app = app.restart(&[]).await;
    let (stored, status) = app.stored(&id, 1).await;
    assert_eq!(
        (stored.as_str(), status.as_str()),
        (cut.as_str(), "interrupted")
    );
}
