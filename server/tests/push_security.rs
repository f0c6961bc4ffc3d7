//! The WeChat push path against a hostile caller, over HTTP against the
//! whole server (issue 8): forged pushes under a reused signature, stale
//! and downgraded pushes, QR hijacking in confirm mode, and the smaller
//! promises (health of the writer, `nosniff`, plain words for visitors,
//! rationed refusal logs). Each test here failed on the code before the fix,
//! except the ones marked as guards (behaviour that must survive it).

mod common;

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use common::{fresh_nonce, new_browser, now_unix, scan_xml, spawn, text, TestApp, Wire, AES_KEY};
use futures_util::StreamExt;
use serde_json::json;

const ALICE: &str = "oAliceFakeOpenid0000000000001";
const MALLORY: &str = "oMalloryFakeOpenid00000000003";

/// What a login is made of, to compare before and after an attack.
async fn snapshot(app: &TestApp) -> (i64, i64, i64, Vec<(String, String)>) {
    let attempts: Vec<(String, String)> =
        sqlx::query_as("SELECT id, status FROM login_attempts ORDER BY id")
            .fetch_all(&app.db)
            .await
            .unwrap();
    (
        app.count("users").await,
        app.count("sessions").await,
        app.count("wechat_events").await,
        attempts,
    )
}

/// Starts a login in a browser of its own (the attacker's, say).
async fn start_in(app: &TestApp, browser: &reqwest::Client) -> String {
    let response = browser
        .post(app.url("/api/login/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_stale_or_future_push_is_refused_and_changes_nothing() {
    let app = spawn(&[]).await;
    let id = app.start().await;
    let before = snapshot(&app).await;
    // 302, not 301: the server reads its clock a moment later, in whole
    // seconds, so a push stamped 301 s ahead may be 300 s ahead when it lands.
    for skew in [-302, -3_600, -86_400 * 365, 302, 86_400] {
        let timestamp = (now_unix() + skew).to_string();
        let request = app.signed(
            &scan_xml(ALICE, &id, false, now_unix()),
            Wire::Plain,
            &timestamp,
            &fresh_nonce(),
        );
        let (status, body) = app.deliver(&request).await;
        assert_eq!(status, 403, "{skew} s: {body}");
        assert!(body.contains("stale_timestamp"), "{body}");
    }
    assert_eq!(snapshot(&app).await, before);
    assert_eq!(app.status(&id).await, "pending");
}

#[tokio::test]
async fn a_signature_reused_with_another_body_is_refused() {
    let app = spawn(&[]).await;
    // Alice logs in; her push's signed query lands in an access log.
    let alice_login = app.start().await;
    let genuine = app.signed(
        &scan_xml(ALICE, &alice_login, false, now_unix()),
        Wire::Plain,
        &now_unix().to_string(),
        &fresh_nonce(),
    );
    let (status, reply) = app.deliver(&genuine).await;
    assert_eq!(status, 200);
    assert!(reply.contains("登录成功"), "{reply}");
    assert_eq!(app.count("push_nonces").await, 1, "its stamp is remembered");

    // Mallory starts his own login and posts, under Alice's query, a scan
    // by Alice of his code.
    let mallory = new_browser();
    let his_login = start_in(&app, &mallory).await;
    let before = snapshot(&app).await;
    for already_following in [true, false] {
        let forged = wechat::callback::PushRequest {
            query: genuine.query.clone(),
            body: scan_xml(ALICE, &his_login, already_following, now_unix()),
        };
        let (status, body) = app.deliver(&forged).await;
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("stamp_reused"), "{body}");
    }
    assert_eq!(snapshot(&app).await, before, "nothing changed");
    let done = mallory
        .post(app.url(&format!("/api/login/{his_login}/complete")))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 409, "his login is not confirmed");
}

/// Guard: WeChat's retry of the very same request is answered as before and
/// handled once.
#[tokio::test]
async fn an_identical_retry_gets_the_same_answer_and_is_handled_once() {
    let app = spawn(&[]).await;
    let id = app.start().await;
    let request = app.signed(
        &scan_xml(ALICE, &id, false, now_unix()),
        Wire::Plain,
        &now_unix().to_string(),
        &fresh_nonce(),
    );
    let mut replies = Vec::new();
    for _ in 0..3 {
        let (status, reply) = app.deliver(&request).await;
        assert_eq!(status, 200);
        replies.push(reply);
    }
    assert!(replies[0].contains("登录成功"), "{replies:?}");
    assert!(replies.iter().all(|r| r == &replies[0]), "{replies:?}");
    assert_eq!(app.count("users").await, 1);
    assert_eq!(app.count("wechat_events").await, 1);
}

#[tokio::test]
async fn the_url_check_signature_cannot_be_replayed_as_a_push() {
    let app = spawn(&[]).await;
    let id = app.start().await;
    let request = app.signed(
        &scan_xml(ALICE, &id, false, now_unix()),
        Wire::Plain,
        &now_unix().to_string(),
        &fresh_nonce(),
    );
    // The URL check carries the same signed triple as the push would.
    let mut check = request.query.clone();
    check.retain(|(name, _)| name != "openid");
    check.push(("echostr".into(), "echo-4242".into()));
    let echo = reqwest::Client::new()
        .get(app.url("/wechat/callback"))
        .query(&check)
        .send()
        .await
        .unwrap();
    assert_eq!(echo.status(), 200);
    assert_eq!(echo.headers()["x-content-type-options"], "nosniff");
    assert_eq!(echo.text().await.unwrap(), "echo-4242");

    let before = snapshot(&app).await;
    let (status, body) = app.deliver(&request).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(snapshot(&app).await, before);
    assert_eq!(app.status(&id).await, "pending");
}

#[tokio::test]
async fn a_stale_url_check_is_refused_and_not_sniffable() {
    let app = spawn(&[]).await;
    let old = (now_unix() - 3_600).to_string();
    let signature = wechat::signature::sign(&[common::TOKEN, &old, "77"]);
    let response = reqwest::get(app.url(&format!(
        "/wechat/callback?signature={signature}&timestamp={old}&nonce=77&echostr=%3Cscript%3E"
    )))
    .await
    .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert!(!response.text().await.unwrap().contains("<script>"));
}

#[tokio::test]
async fn with_an_aes_key_plain_or_downgraded_pushes_are_refused() {
    let app = spawn(&[("WECHAT_ENCODING_AES_KEY", AES_KEY)]).await;
    let id = app.start().await;
    let before = snapshot(&app).await;
    let now = now_unix().to_string();
    let xml = scan_xml(ALICE, &id, false, now_unix());

    // A plain push, validly signed.
    let plain = app.signed(&xml, Wire::Plain, &now, &fresh_nonce());
    let (status, body) = app.deliver(&plain).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("plain_push_refused"), "{body}");

    // A compatible-mode push with encrypt_type (and msg_signature) left out:
    // the plain fields must not be read.
    let mut downgraded = app.signed(&xml, Wire::Compatible, &now, &fresh_nonce());
    downgraded
        .query
        .retain(|(name, _)| name != "encrypt_type" && name != "msg_signature");
    let (status, body) = app.deliver(&downgraded).await;
    assert_eq!(status, 403, "{body}");

    assert_eq!(snapshot(&app).await, before);
    assert_eq!(app.status(&id).await, "pending");
}

/// Guard: in compatible mode only the encrypted part counts.
#[tokio::test]
async fn compatible_mode_reads_only_the_encrypted_part() {
    let app = spawn(&[("WECHAT_ENCODING_AES_KEY", AES_KEY)]).await;
    let alice_login = app.start().await;
    let mallory = new_browser();
    let his_login = start_in(&app, &mallory).await;
    let mut request = app.signed(
        &scan_xml(ALICE, &alice_login, false, now_unix()),
        Wire::Compatible,
        &now_unix().to_string(),
        &fresh_nonce(),
    );
    // The plain fields beside Encrypt are rewritten to Mallory's code.
    request.body = request
        .body
        .replace(&alice_login, &his_login)
        .replace(ALICE, MALLORY);
    let (status, reply) = app.deliver(&request).await;
    assert_eq!(status, 200);
    assert!(reply.contains("登录成功"), "{reply}");
    assert_eq!(app.status(&alice_login).await, "confirmed");
    let his: (String,) = sqlx::query_as("SELECT status FROM login_attempts WHERE id = $1")
        .bind(&his_login)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(his.0, "pending");
}

#[tokio::test]
async fn healthz_fails_when_the_login_writer_is_gone() {
    if common::engine() == server::db::Engine::Postgres {
        // PostgreSQL has no writer thread: its health is the database's.
        println!(
            "healthz_fails_when_the_login_writer_is_gone: SQLite's writer; skipped on PostgreSQL"
        );
        return;
    }
    let app = spawn(&[]).await;
    let health = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    app.writer.stop().await;
    let health = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 503);
    assert!(health.text().await.unwrap().contains("writer"));
    // And a push is answered "try again", not lost silently.
    let id_less_scan = scan_xml(ALICE, "0123456789abcdef0123456789abcdef", true, now_unix());
    let (status, _) = app.push(&id_less_scan, Wire::Plain).await;
    assert_eq!(status, 503);
}

#[tokio::test]
async fn confirm_mode_confirms_only_the_attempt_whose_code_is_replied() {
    let app = spawn(&[("LOGIN_CONFIRM_MODE", "1")]).await;
    // Alice's own login, followed over its event stream.
    let hers = app.start().await;
    let stream = app.get(&format!("/api/login/{hers}/events")).await;
    let mut events = stream.bytes_stream();
    // Mallory's QR code, which Alice is tricked into scanning too.
    let mallory = new_browser();
    let his = start_in(&app, &mallory).await;

    app.scan(ALICE, &hers, false).await;
    app.scan(ALICE, &his, true).await;
    let code_of = |status: serde_json::Value| {
        assert_eq!(status["status"], "awaiting_confirmation");
        status["confirm_code"].as_str().unwrap().to_owned()
    };
    let her_code = code_of(app.status_json(&hers).await);
    let his_status: serde_json::Value = mallory
        .get(app.url(&format!("/api/login/{his}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let his_code = code_of(his_status);
    assert_ne!(her_code, his_code, "unique among her waiting attempts");

    // The code reaches her browser on the event stream too.
    let mut seen = String::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        while !seen.contains("awaiting_confirmation") {
            let chunk = events.next().await.unwrap().unwrap();
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("the stream tells the code");
    assert!(
        seen.contains(&format!(
            r#"{{"status":"awaiting_confirmation","confirm_code":"{her_code}"}}"#
        )),
        "{seen}"
    );

    // A bare 确认 picks neither.
    let (_, reply) = app.push(&text(ALICE, "确认", "1"), Wire::Plain).await;
    assert!(reply.contains("确认码"), "{reply}");
    assert_eq!(app.status(&hers).await, "awaiting_confirmation");
    // A wrong code neither.
    let wrong = (0..10_000)
        .map(|n| format!("{n:04}"))
        .find(|c| *c != her_code && *c != his_code)
        .unwrap();
    let (_, reply) = app
        .push(&text(ALICE, &format!("确认 {wrong}"), "2"), Wire::Plain)
        .await;
    assert!(reply.contains("确认码不对"), "{reply}");
    // Her code confirms hers only; the code alone works as well.
    let (_, reply) = app.push(&text(ALICE, &her_code, "3"), Wire::Plain).await;
    assert!(reply.contains("登录成功"), "{reply}");
    assert_eq!(app.status(&hers).await, "confirmed");
    let his_now: (String,) = sqlx::query_as("SELECT status FROM login_attempts WHERE id = $1")
        .bind(&his)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(his_now.0, "awaiting_confirmation");
}

#[tokio::test]
async fn the_confirm_prompt_quotes_no_header_text() {
    let app = spawn(&[("LOGIN_CONFIRM_MODE", "1")]).await;
    let hostile = reqwest::Client::builder()
        .cookie_store(true)
        // Header values are ASCII on the wire: what an attacker can write.
        .user_agent("WeChat-Security-Notice: account locked, reply QUEREN now EvilBot/1.0")
        .build()
        .unwrap();
    let id = start_in(&app, &hostile).await;
    let (_, prompt) = app.scan(ALICE, &id, false).await;
    assert!(prompt.contains("浏览器：未知浏览器"), "{prompt}");
    for quoted in ["WeChat-Security", "locked", "EvilBot"] {
        assert!(!prompt.contains(quoted), "{prompt}");
    }
}

#[tokio::test]
async fn visitors_get_plain_words_and_a_reference_when_wechat_refuses() {
    let app = spawn(&[]).await;
    let fault = reqwest::Client::new()
        .post(app.url("/sandbox/wechat/phone/api/faults"))
        .json(&json!({ "api": "qrcode_create", "errcode": 40164, "times": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(fault.status(), 200, "{}", fault.text().await.unwrap());
    let response = app.post("/api/login/start").await;
    assert_eq!(response.status(), 502);
    let body: serde_json::Value = response.json().await.unwrap();
    let reference = body["reference"].as_str().expect("a reference").to_owned();
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(&reference), "{message}");
    assert!(body.get("wechat_errcode").is_none(), "{body}");
    for detail in ["40164", "白名单", "IP"] {
        assert!(!message.contains(detail), "{message}");
    }
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn refused_pushes_are_logged_once_per_cause_per_minute() {
    let captured = Captured::default();
    let writer = captured.clone();
    // Global: other tests of this file log here too; each cause can still
    // have at most one line per minute.
    let _ = tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish(),
    );
    let app = spawn(&[]).await;
    let id = app.start().await;
    let stale = (now_unix() - 3_600).to_string();
    for _ in 0..50 {
        let request = app.signed(
            &scan_xml(ALICE, &id, false, now_unix()),
            Wire::Plain,
            &stale,
            &fresh_nonce(),
        );
        assert_eq!(app.deliver(&request).await.0, 403);
    }
    let log = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    let lines = log
        .lines()
        .filter(|l| l.contains("refused") && l.contains("stale_timestamp"))
        .count();
    assert!(lines <= 1, "{lines} lines for 50 refusals:\n{log}");
}
