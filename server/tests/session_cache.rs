//! The session cache (issue 14): a session kept in memory must end the
//! moment it is revoked in this process, also while many requests use the
//! same cookie at the same time.

mod common;

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use common::{spawn, TestApp};

const ALICE: &str = "oAliceFakeOpenid0000000000001";

/// Logs the app's default browser in; the session token.
async fn log_in(app: &TestApp) -> String {
    let id = app.start().await;
    let (status, _) = app.scan(ALICE, &id, false).await;
    assert_eq!(status, 200);
    let done = app.complete(&id).await;
    assert_eq!(done.status(), 200);
    let cookie = done.headers()["set-cookie"].to_str().unwrap().to_owned();
    cookie
        .split(';')
        .next()
        .and_then(|pair| pair.strip_prefix("session="))
        .unwrap()
        .to_owned()
}

/// A request with only `token` as its session cookie (a copied cookie).
async fn me(client: &reqwest::Client, app: &TestApp, token: &str) -> u16 {
    client
        .get(app.url("/api/me"))
        .header("cookie", format!("session={token}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_logged_out_cookie_is_refused_at_once_under_load() {
    let app = Arc::new(spawn(&[]).await);
    let token = log_in(&app).await;
    let client = reqwest::Client::new();
    assert_eq!(me(&client, &app, &token).await, 200);
    let page = |client: reqwest::Client, token: String, app: Arc<TestApp>| async move {
        client
            .get(app.url("/"))
            .header("cookie", format!("session={token}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    // The page names its visitor (in the user's JSON for the islands).
    let before_page = page(client.clone(), token.clone(), app.clone()).await;
    assert!(before_page.contains("display_name"), "{before_page}");

    // 16 clients use the same cookie back to back: the session is cached,
    // and reads of it are in flight when the logout happens.
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..16 {
        let (app, token, stop, client) = (app.clone(), token.clone(), stop.clone(), client.clone());
        clients.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let status = me(&client, &app, &token).await;
                seen.push((sent, status));
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let out = app.post("/api/logout").await;
    assert_eq!(out.status(), 204);
    let logged_out = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);

    let (mut before, mut after) = (0, 0);
    for client in clients {
        for (sent, status) in client.await.unwrap() {
            if sent >= logged_out {
                assert_eq!(status, 401, "a request sent after the logout was answered");
                after += 1;
            } else if status == 200 {
                before += 1;
            }
        }
    }
    assert!(before > 16, "the cookie worked under load before: {before}");
    assert!(after > 16, "requests after the logout: {after}");

    // Pages too: nobody is logged in with that cookie.
    let after_page = page(client.clone(), token.clone(), app.clone()).await;
    assert!(!after_page.contains("display_name"), "{after_page}");
}

#[tokio::test]
async fn a_new_login_ends_the_old_session_at_once() {
    let app = spawn(&[]).await;
    let old = log_in(&app).await;
    let client = reqwest::Client::new();
    // Seen, so kept in memory.
    assert_eq!(me(&client, &app, &old).await, 200);
    assert_eq!(me(&client, &app, &old).await, 200);

    // The same browser logs in again: its old cookie comes along and the
    // old session ends.
    let new = log_in(&app).await;
    assert_ne!(new, old);
    assert_eq!(me(&client, &app, &old).await, 401, "the old session ended");
    assert_eq!(me(&client, &app, &new).await, 200);
}

#[tokio::test]
async fn without_the_cache_sessions_still_work_and_end() {
    let app = spawn(&[("SESSION_CACHE_SECONDS", "0")]).await;
    let token = log_in(&app).await;
    let client = reqwest::Client::new();
    assert_eq!(me(&client, &app, &token).await, 200);
    assert_eq!(app.post("/api/logout").await.status(), 204);
    assert_eq!(me(&client, &app, &token).await, 401);
}
