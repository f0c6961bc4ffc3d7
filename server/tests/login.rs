//! The login contract over HTTP, against the whole server in sandbox mode.

mod common;

use std::time::Duration;

use common::{new_browser, now_unix, scan_xml, spawn, text, Wire, AES_KEY, TOKEN};
use futures_util::StreamExt;

const ALICE: &str = "oAliceFakeOpenid0000000000001";
const BOB: &str = "oBobFakeOpenid000000000000002";

#[tokio::test]
async fn start_answers_the_contract_and_binds_the_browser() {
    let app = spawn(&[]).await;
    let response = app.post("/api/login/start").await;
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("login_binding="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Path=/"),
        "{cookie}"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    assert_eq!(id.len(), 32);
    assert!(body["qr_svg"].as_str().unwrap().starts_with("<svg"));
    assert!(body["qr_url"]
        .as_str()
        .unwrap()
        .contains("/sandbox/wechat/q/"));
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["expires_in"], 300);
    assert_eq!(app.status(id).await, "pending");
}

#[tokio::test]
async fn a_scan_logs_the_browser_in_once() {
    let app = spawn(&[]).await;
    let id = app.start().await;
    let (status, reply) = app.scan(ALICE, &id, false).await;
    assert_eq!(status, 200);
    assert!(reply.contains("登录成功"), "{reply}");
    assert_eq!(app.status(&id).await, "confirmed");

    let me = app.get("/api/me").await;
    assert_eq!(me.status(), 401, "not logged in before complete");

    let done = app.complete(&id).await;
    assert_eq!(done.status(), 200);
    let cookie = done.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("session=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && cookie.contains("Path=/")
    );
    let user: serde_json::Value = done.json().await.unwrap();
    let name = user["user"]["display_name"].as_str().unwrap().to_owned();
    assert!(!name.is_empty());

    let me: serde_json::Value = app.get("/api/me").await.json().await.unwrap();
    assert_eq!(me["user"]["display_name"], name.as_str());
    assert_eq!(app.status(&id).await, "consumed");

    let again = app.complete(&id).await;
    assert_eq!(again.status(), 409);
    let body: serde_json::Value = again.json().await.unwrap();
    assert_eq!(body["error"], "already_used");
    assert_eq!(app.count("sessions").await, 1);

    let page = app.get("/").await.text().await.unwrap();
    assert!(
        page.contains(&name),
        "the header shows the user after a reload"
    );

    // The browser drops its cookie on logout; what must end is the session
    // itself: the old cookie value, replayed, logs nobody in.
    let token = cookie
        .split(';')
        .next()
        .and_then(|pair| pair.strip_prefix("session="))
        .unwrap()
        .to_owned();
    let replay = || async {
        reqwest::Client::new()
            .get(app.url("/api/me"))
            .header("cookie", format!("session={token}"))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(replay().await, 200, "the copied cookie works before logout");
    let out = app.post("/api/logout").await;
    assert_eq!(out.status(), 204);
    assert_eq!(app.get("/api/me").await.status(), 401);
    assert_eq!(replay().await, 401, "the server revoked the session");
}

#[tokio::test]
async fn an_already_following_user_logs_in_with_scan() {
    let app = spawn(&[]).await;
    let first = app.start().await;
    app.scan(ALICE, &first, false).await;
    let second = app.start().await;
    let (_, reply) = app.scan(ALICE, &second, true).await;
    assert!(reply.contains("登录成功"), "{reply}");
    assert_eq!(app.status(&second).await, "confirmed");
    assert_eq!(
        app.count("users").await,
        1,
        "the same openid is the same user"
    );
}

#[tokio::test]
async fn forged_or_missing_signatures_change_nothing() {
    let app = spawn(&[]).await;
    let id = app.start().await;
    let body = scan_xml(ALICE, &id, false, 1_700_000_000);
    let client = reqwest::Client::new();

    let forged = client
        .post(app.url("/wechat/callback?signature=0000000000000000000000000000000000000000&timestamp=1700000000&nonce=1"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);

    let missing = client
        .post(app.url("/wechat/callback"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);

    assert_eq!(app.status(&id).await, "pending");
    assert_eq!(app.count("users").await, 0);
    assert_eq!(app.count("wechat_events").await, 0);
}

#[tokio::test]
async fn the_callback_url_check_echoes_only_for_our_token() {
    let app = spawn(&[]).await;
    let now = now_unix();
    let signature = wechat::signature::sign(&[TOKEN, &now.to_string(), "77"]);
    let ok = reqwest::get(app.url(&format!(
        "/wechat/callback?signature={signature}&timestamp={now}&nonce=77&echostr=hello123"
    )))
    .await
    .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "hello123");
    let bad = reqwest::get(app.url(&format!(
        "/wechat/callback?signature=abc&timestamp={now}&nonce=77&echostr=hello123"
    )))
    .await
    .unwrap();
    assert_eq!(bad.status(), 403);
}

#[tokio::test]
async fn the_same_push_three_times_is_one_login() {
    let app = spawn(&[]).await;
    let id = app.start().await;
    let xml = scan_xml(ALICE, &id, false, 1_700_000_000);
    let mut replies = Vec::new();
    for _ in 0..3 {
        let (status, reply) = app.push(&xml, Wire::Plain).await;
        assert_eq!(status, 200);
        replies.push(reply);
    }
    assert!(replies.iter().all(|r| r == &replies[0]), "{replies:?}");
    assert!(replies[0].contains("登录成功"));
    assert_eq!(app.count("users").await, 1);
    assert_eq!(app.count("wechat_events").await, 1);
    let done = app.complete(&id).await;
    assert_eq!(done.status(), 200);
    assert_eq!(app.count("sessions").await, 1);
}

#[tokio::test]
async fn another_browser_cannot_follow_or_complete() {
    let app = spawn(&[]).await;
    let id = app.start().await;
    app.scan(ALICE, &id, false).await;
    let intruder = new_browser();
    for (method, path) in [
        ("GET", format!("/api/login/{id}")),
        ("GET", format!("/api/login/{id}/events")),
        ("POST", format!("/api/login/{id}/complete")),
    ] {
        let request = match method {
            "GET" => intruder.get(app.url(&path)),
            _ => intruder.post(app.url(&path)),
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403, "{method} {path}");
    }
    // The rightful browser still can.
    let done = app.complete(&id).await;
    assert_eq!(done.status(), 200);
}

#[tokio::test]
async fn unknown_attempts_are_404() {
    let app = spawn(&[]).await;
    app.start().await;
    for path in [
        "/api/login/0123456789abcdef0123456789abcdef",
        "/api/login/not-an-id",
    ] {
        assert_eq!(
            app.browser
                .get(app.url(path))
                .send()
                .await
                .unwrap()
                .status(),
            404,
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_scan_of_an_expired_code_does_not_log_in() {
    let app = spawn(&[]).await;
    let id = app.start().await;
    sqlx::query("UPDATE login_attempts SET expires_at = 0 WHERE id = $1")
        .bind(&id)
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(app.status(&id).await, "expired");
    let (status, reply) = app.scan(ALICE, &id, false).await;
    assert_eq!(status, 200);
    assert!(reply.contains("过期"), "{reply}");
    assert_eq!(app.status(&id).await, "expired");
    let done = app.complete(&id).await;
    assert_eq!(done.status(), 410);
    assert_eq!(app.count("sessions").await, 0);
}

#[tokio::test]
async fn a_code_scanned_by_someone_else_stays_theirs() {
    let app = spawn(&[]).await;
    let id = app.start().await;
    app.scan(ALICE, &id, false).await;
    let (_, reply) = app.scan(BOB, &id, false).await;
    assert!(reply.contains("其他微信"), "{reply}");
    let owner: (String,) = sqlx::query_as("SELECT openid FROM login_attempts WHERE id = $1")
        .bind(&id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(owner.0, ALICE);
}

#[tokio::test]
async fn malformed_and_oversized_pushes_get_a_clear_4xx() {
    let app = spawn(&[]).await;
    let (status, body) = app.push("<xml><ToUserName>only", Wire::Plain).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = app
        .push("<!DOCTYPE x [<!ENTITY a \"b\">]><xml/>", Wire::Plain)
        .await;
    assert_eq!(status, 400);
    let huge = format!("<xml><Content>{}</Content></xml>", "a".repeat(200_000));
    let (status, _) = app.push(&huge, Wire::Plain).await;
    assert_eq!(status, 413);
    let health = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200, "the server is unharmed");
}

#[tokio::test]
async fn a_plain_follow_is_welcomed_and_an_unfollow_recorded() {
    let app = spawn(&[]).await;
    let follow = wechat::message::event_xml(
        common::ACCOUNT,
        ALICE,
        1_700_000_000,
        "subscribe",
        None,
        None,
    );
    let (_, reply) = app.push(&follow, Wire::Plain).await;
    assert!(reply.contains("感谢关注"), "{reply}");
    let unfollow = wechat::message::event_xml(
        common::ACCOUNT,
        ALICE,
        1_700_000_050,
        "unsubscribe",
        None,
        None,
    );
    let (status, reply) = app.push(&unfollow, Wire::Plain).await;
    assert_eq!((status, reply.as_str()), (200, "success"));
    let following: (i64,) = sqlx::query_as("SELECT following FROM users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(following.0, 0);
}

#[tokio::test]
async fn safe_mode_pushes_are_decrypted_and_answered_encrypted() {
    let app = spawn(&[("WECHAT_ENCODING_AES_KEY", AES_KEY)]).await;
    let id = app.start().await;
    let request = app.signed(
        &scan_xml(ALICE, &id, false, now_unix()),
        Wire::Safe,
        &now_unix().to_string(),
        &common::fresh_nonce(),
    );
    let (status, raw) = app.deliver_raw(&request).await;
    assert_eq!(status, 200);
    // What went over the wire is an encrypted envelope, nothing in clear.
    let fields = wechat::message::parse_fields(raw.as_bytes()).unwrap();
    let mut names: Vec<&str> = fields.iter().map(|(name, _)| name).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["Encrypt", "MsgSignature", "Nonce", "TimeStamp"],
        "{raw}"
    );
    assert!(!raw.contains("登录成功") && !raw.contains(ALICE), "{raw}");
    let reply = wechat::callback::open_reply(TOKEN, app.crypto().as_ref(), &raw).unwrap();
    assert!(
        common::reply_content(&reply).contains("登录成功"),
        "{reply}"
    );
    assert_eq!(app.status(&id).await, "confirmed");
}

#[tokio::test]
async fn confirm_mode_needs_the_code_from_the_same_person() {
    let app = spawn(&[("LOGIN_CONFIRM_MODE", "1")]).await;
    let id = app.start().await;
    assert!(
        app.status_json(&id).await.get("confirm_code").is_none(),
        "no code before the scan"
    );
    let (_, prompt) = app.scan(ALICE, &id, false).await;
    assert!(
        prompt.contains("回复“确认”和那个网页上显示的 4 位确认码"),
        "{prompt}"
    );
    assert!(
        prompt.contains("127.0.0.1"),
        "the prompt shows the browser's address: {prompt}"
    );
    assert!(prompt.contains("Chrome · Linux"), "{prompt}");
    let status = app.status_json(&id).await;
    assert_eq!(status["status"], "awaiting_confirmation");
    let code = status["confirm_code"].as_str().unwrap().to_owned();
    assert!(
        code.len() == 4 && code.bytes().all(|b| b.is_ascii_digit()),
        "{code}"
    );
    assert!(
        !prompt.contains(&code),
        "the code is read on the page, not in WeChat"
    );

    let (_, reply) = app
        .push(&text(BOB, &format!("确认 {code}"), "1"), Wire::Plain)
        .await;
    assert!(reply.contains("没有需要确认"), "{reply}");
    assert_eq!(app.status(&id).await, "awaiting_confirmation");

    let (_, reply) = app.push(&text(ALICE, "随便说说", "2"), Wire::Plain).await;
    assert_eq!(reply, "success");

    let (_, reply) = app.push(&text(ALICE, "确认", "3"), Wire::Plain).await;
    assert!(
        reply.contains("确认码"),
        "a bare 确认 asks for the code: {reply}"
    );
    assert_eq!(app.status(&id).await, "awaiting_confirmation");

    let (_, reply) = app
        .push(&text(ALICE, &format!("确认 {code}"), "4"), Wire::Plain)
        .await;
    assert!(reply.contains("登录成功"), "{reply}");
    let status = app.status_json(&id).await;
    assert_eq!(status["status"], "confirmed");
    assert!(status.get("confirm_code").is_none());
}

#[tokio::test]
async fn the_event_stream_sends_the_status_then_each_change() {
    let app = spawn(&[]).await;
    let id = app.start().await;
    let response = app.get(&format!("/api/login/{id}/events")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut events = response.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("pending") {
        seen.push_str(&String::from_utf8_lossy(
            &events.next().await.unwrap().unwrap(),
        ));
    }
    assert!(seen.contains(r#"data: {"status":"pending"}"#), "{seen}");

    app.scan(ALICE, &id, false).await;
    while !seen.contains("confirmed") {
        seen.push_str(&String::from_utf8_lossy(
            &events.next().await.unwrap().unwrap(),
        ));
    }
    assert!(seen.contains(r#"data: {"status":"confirmed"}"#), "{seen}");
    // Confirmed is terminal: the stream ends (a stream that stays open fails
    // the test instead of hanging it).
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = events.next().await {
            chunk.unwrap();
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the stream did not end after a terminal status"
    );
}

#[tokio::test]
async fn starting_is_rate_limited_per_address() {
    let app = spawn(&[("LOGIN_START_PER_MINUTE", "2")]).await;
    app.start().await;
    app.start().await;
    let third = app.post("/api/login/start").await;
    assert_eq!(third.status(), 429);
    assert!(third.headers().contains_key("retry-after"));
    let body: serde_json::Value = third.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    assert!(body["message"].as_str().unwrap().contains("秒后再试"));
}
