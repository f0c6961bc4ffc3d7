//! Two server processes on one PostgreSQL database, behind one address
//! (issue 13): a login started on one and scanned through the other
//! reaches its browser; a process that stops mid-login loses nothing; a
//! logout on one ends the session on the other at once; the same push
//! delivered to both is one login. PostgreSQL only (skipped on SQLite,
//! where one process owns the file).

mod common;

use std::time::{Duration, Instant};

use common::{now_unix, scan_xml, skip_unless_postgres, spawn, TestApp, Wire};
use futures_util::StreamExt;

const ALICE: &str = "oAliceFakeOpenid0000000000001";

/// Reads `stream` until its text holds `word`, within `within`.
async fn wait_for(
    stream: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    seen: &mut String,
    word: &str,
    within: Duration,
) {
    let deadline = tokio::time::Instant::now() + within;
    while !seen.contains(word) {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("no {word:?} within {within:?}; saw {seen}"))
            .expect("the stream stays open")
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// `app`'s event stream of attempt `id`, read until its first status
/// (`pending`): the stream and what it said so far.
async fn follow(
    app: &TestApp,
    id: &str,
) -> (
    impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin,
    String,
) {
    let response = app.get(&format!("/api/login/{id}/events")).await;
    assert_eq!(response.status(), 200);
    let mut events = response.bytes_stream();
    let mut seen = String::new();
    wait_for(&mut events, &mut seen, "pending", Duration::from_secs(5)).await;
    (events, seen)
}

/// `browser`'s request to `/api/me` on `app`: the HTTP status.
async fn me(browser: &reqwest::Client, app: &TestApp) -> u16 {
    browser
        .get(app.url("/api/me"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_scan_delivered_to_b_reaches_the_browser_waiting_on_a() {
    if skip_unless_postgres("a_scan_delivered_to_b_reaches_the_browser_waiting_on_a") {
        return;
    }
    let a = spawn(&[]).await;
    let b = a.spawn_beside(&[]).await;
    let id = a.start().await;
    let (mut events, mut seen) = follow(&a, &id).await;

    // WeChat's load balancer picks B.
    let (status, reply) = b.scan(ALICE, &id, false).await;
    assert_eq!(status, 200);
    assert!(reply.contains("登录成功"), "{reply}");
    let scanned = Instant::now();
    wait_for(&mut events, &mut seen, "confirmed", Duration::from_secs(5)).await;
    println!(
        "scan on B reached the browser on A in {:?}",
        scanned.elapsed()
    );

    let done = a.complete(&id).await;
    assert_eq!(done.status(), 200);
    assert_eq!(me(&a.browser, &a).await, 200);
    // The same cookie is good on B: one site.
    assert_eq!(me(&a.browser, &b).await, 200);
}

#[tokio::test]
async fn a_browser_completes_on_b_when_a_stops_mid_login() {
    if skip_unless_postgres("a_browser_completes_on_b_when_a_stops_mid_login") {
        return;
    }
    let mut a = spawn(&[]).await;
    let b = a.spawn_beside(&[]).await;
    let browser = a.browser.clone();
    let id = a.start().await;
    let (mut on_a, _) = follow(&a, &id).await;

    // A goes away (a deploy): its stream ends; the browser reconnects, and
    // the load balancer sends it to B.
    a.stop().await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = on_a.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "A's stream ended with A");
    let response = browser
        .get(b.url(&format!("/api/login/{id}/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "B knows A's attempt and its browser"
    );
    let mut on_b = response.bytes_stream();
    let mut seen = String::new();
    wait_for(&mut on_b, &mut seen, "pending", Duration::from_secs(5)).await;

    let (status, _) = b.scan(ALICE, &id, false).await;
    assert_eq!(status, 200);
    wait_for(&mut on_b, &mut seen, "confirmed", Duration::from_secs(5)).await;
    let done = browser
        .post(b.url(&format!("/api/login/{id}/complete")))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert_eq!(me(&browser, &b).await, 200);
}

#[tokio::test]
async fn a_logout_on_a_refuses_the_cookie_on_b_at_once() {
    if skip_unless_postgres("a_logout_on_a_refuses_the_cookie_on_b_at_once") {
        return;
    }
    // Sessions are kept in memory for five minutes: only the notification
    // can end one on B sooner.
    let a = spawn(&[("SESSION_CACHE_SECONDS", "300")]).await;
    let b = a.spawn_beside(&[]).await;
    let id = a.start().await;
    let (status, _) = b.scan(ALICE, &id, false).await;
    assert_eq!(status, 200);
    let done = a.complete(&id).await;
    assert_eq!(done.status(), 200);
    let cookie = done.headers()["set-cookie"].to_str().unwrap().to_owned();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let client = reqwest::Client::new();
    let me_on = |app: &TestApp| {
        client
            .get(app.url("/api/me"))
            .header("cookie", &cookie)
            .send()
    };
    // B has seen (and kept) the session.
    assert_eq!(me_on(&b).await.unwrap().status(), 200);
    assert_eq!(me_on(&b).await.unwrap().status(), 200);

    let logout = client
        .post(a.url("/api/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    let logged_out = Instant::now();
    loop {
        let status = me_on(&b).await.unwrap().status().as_u16();
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            logged_out.elapsed() < Duration::from_secs(2),
            "B still takes the cookie {:?} after the logout on A",
            logged_out.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!(
        "B refused the cookie {:?} after the logout on A",
        logged_out.elapsed()
    );
    assert_eq!(me_on(&a).await.unwrap().status(), 401);
}

#[tokio::test]
async fn the_same_push_delivered_to_a_and_b_is_one_login() {
    if skip_unless_postgres("the_same_push_delivered_to_a_and_b_is_one_login") {
        return;
    }
    let a = spawn(&[]).await;
    let b = a.spawn_beside(&[]).await;
    for round in 0..5 {
        let id = a.start().await;
        // One request as WeChat sent it, delivered to both at once (a retry
        // that went to the other process while the first was handled).
        let request = a.signed(
            &scan_xml(ALICE, &id, false, now_unix()),
            Wire::Plain,
            &now_unix().to_string(),
            &format!("twice{round}"),
        );
        let ((on_a, reply_a), (on_b, reply_b)) =
            tokio::join!(a.deliver(&request), b.deliver(&request));
        assert_eq!((on_a, on_b), (200, 200));
        assert_eq!(reply_a, reply_b, "the retry gets the first answer");
        assert!(reply_a.contains("登录成功"), "{reply_a}");

        assert_eq!(a.complete(&id).await.status(), 200);
        let again = a
            .browser
            .post(b.url(&format!("/api/login/{id}/complete")))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 409, "redeemed once");
    }
    assert_eq!(a.count("users").await, 1);
    assert_eq!(a.count("wechat_events").await, 5);
    assert_eq!(a.count("sessions").await, 5);
    let (follows,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM ops_events WHERE kind = 'follow_via_qr'",
    )
    .fetch_one(&a.db)
    .await
    .unwrap();
    assert_eq!(follows, 5, "each push counted once");
}

/// A process that commits a scan and dies before announcing it
/// (`notify::Announcer` sends after the commit): the browser still hears
/// of it, at its stream's next re-read (`hub::RECHECK_EVERY`, 10 s).
#[tokio::test]
async fn a_scan_nobody_announced_reaches_the_browser_at_the_next_recheck() {
    if skip_unless_postgres("a_scan_nobody_announced_reaches_the_browser_at_the_next_recheck") {
        return;
    }
    let a = spawn(&[]).await;
    let id = a.start().await;
    let (mut events, mut seen) = follow(&a, &id).await;

    // What B's transaction commits for a scan, without the announcement.
    let now = now_unix() * 1000;
    sqlx::query(
        "INSERT INTO users (openid, display_name, following, created_at) VALUES ($1, '没说的人', 1, $2)",
    )
    .bind(ALICE)
    .bind(now)
    .execute(&a.db)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE login_attempts SET status = 'confirmed', openid = $1,
             user_id = (SELECT id FROM users WHERE openid = $1), scanned_at = $2, confirmed_at = $2
         WHERE id = $3",
    )
    .bind(ALICE)
    .bind(now)
    .bind(&id)
    .execute(&a.db)
    .await
    .unwrap();
    let changed = Instant::now();
    wait_for(&mut events, &mut seen, "confirmed", Duration::from_secs(12)).await;
    println!(
        "heard a change nobody announced after {:?}",
        changed.elapsed()
    );
    let done = a.complete(&id).await;
    assert_eq!(done.status(), 200);
    assert_eq!(me(&a.browser, &a).await, 200);
}
