//! The hostile-input run, browser side (issue 8): what an attacker's
//! browser, page or script can throw at the login routes. Each category
//! returns (tried, refused, harmed): how many hostile requests it sent, how
//! many the server refused, and how many changed a login or hurt the server
//! (must be 0). It prints a table; it takes a few seconds.
//!
//! `cargo test -p server --test hostile_web -- --ignored --nocapture`

mod common;

use std::time::{Duration, Instant};

use common::{spawn, TestApp};
use futures_util::future::join_all;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const VICTIM: &str = "oVictimFakeOpenid00000000001";

fn bare() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn cookie_value(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.split(';').next()?.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_owned()
}

/// Starts a login as the browser at `address` (behind the trusted proxy);
/// (attempt id, binding secret).
async fn start_from(app: &TestApp, address: &str) -> (String, String) {
    let response = bare()
        .post(app.url("/api/login/start"))
        .header("x-forwarded-for", address)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{address}");
    let binding = cookie_value(&response, "login_binding");
    let body: serde_json::Value = response.json().await.unwrap();
    (body["id"].as_str().unwrap().to_owned(), binding)
}

async fn healthy(app: &TestApp) -> bool {
    bare()
        .get(app.url("/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

/// A script that writes a new address at the left of X-Forwarded-For on
/// every start, to escape the per-address limit and burn WeChat quota.
async fn spoofed_forwarded_for(app: &TestApp, allowance: usize) -> (usize, usize, usize) {
    let tried = 200;
    let mut refused = 0;
    let mut through: usize = 0;
    for i in 0..tried {
        let spoofed = format!(
            "{}.{}.{}.{}, 203.0.113.66",
            1 + i % 200,
            i % 251,
            i % 13,
            i % 7
        );
        let status = bare()
            .post(app.url("/api/login/start"))
            .header("x-forwarded-for", spoofed)
            .send()
            .await
            .unwrap()
            .status();
        match status {
            StatusCode::OK => through += 1,
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    // Harm: QR codes beyond the allowance, or an honest neighbour locked out.
    let mut harmed = through.saturating_sub(allowance);
    let neighbour = bare()
        .post(app.url("/api/login/start"))
        .header("x-forwarded-for", "198.51.100.23")
        .send()
        .await
        .unwrap();
    if neighbour.status() != 200 {
        harmed += 1;
    }
    if !healthy(app).await {
        harmed += 1;
    }
    (tried, refused, harmed)
}

/// A foreign page that makes a logged-in visitor's browser POST to the login
/// routes: log him out, start attempts, complete his confirmed attempt.
async fn cross_site_posts(app: &TestApp) -> (usize, usize, usize) {
    // The victim: logged in, and a second login confirmed, not yet completed.
    let (first, binding) = start_from(app, "198.51.100.7").await;
    app.scan(VICTIM, &first, false).await;
    let done = bare()
        .post(app.url(&format!("/api/login/{first}/complete")))
        .header("cookie", format!("login_binding={binding}"))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let session = cookie_value(&done, "session");
    let (pending, binding) = start_from(app, "198.51.100.7").await;
    app.scan(VICTIM, &pending, true).await;
    let cookies = format!("session={session}; login_binding={binding}");
    let attempts_before = app.count("login_attempts").await;
    let sessions_before = app.count("sessions").await;

    let foreign: &[&[(&str, &str)]] = &[
        &[("sec-fetch-site", "cross-site")],
        &[("sec-fetch-site", "same-site")],
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ],
        &[("origin", "https://evil.example")],
        &[("origin", "null")],
        &[("origin", "http://127.0.0.1.evil.example")],
    ];
    let paths = [
        "/api/logout".to_owned(),
        "/api/login/start".to_owned(),
        format!("/api/login/{pending}/complete"),
        "/sandbox/wechat/phone/api/scan".to_owned(),
        "/sandbox/wechat/phone/api/faults".to_owned(),
    ];
    let mut tried = 0;
    let mut refused = 0;
    let mut harmed = 0;
    for headers in foreign {
        for path in &paths {
            for content_type in [
                "application/x-www-form-urlencoded",
                "text/plain",
                "application/json",
            ] {
                let mut request = bare()
                    .post(app.url(path))
                    .header("cookie", &cookies)
                    .header("content-type", content_type)
                    .body("{}");
                for (name, value) in *headers {
                    request = request.header(*name, *value);
                }
                tried += 1;
                match request.send().await.unwrap().status() {
                    StatusCode::FORBIDDEN => refused += 1,
                    _ => harmed += 1,
                }
            }
        }
    }
    // Nothing changed: still logged in, the pending login still his to
    // complete, no new attempt, no session ended or made.
    let me = bare()
        .get(app.url("/api/me"))
        .header("cookie", format!("session={session}"))
        .send()
        .await
        .unwrap();
    harmed += usize::from(me.status() != 200);
    harmed += usize::from(app.count("login_attempts").await != attempts_before);
    harmed += usize::from(app.count("sessions").await != sessions_before);
    let status: serde_json::Value = bare()
        .get(app.url(&format!("/api/login/{pending}")))
        .header("cookie", format!("login_binding={binding}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    harmed += usize::from(status["status"] != "confirmed");
    (tried, refused, harmed)
}

/// One address opens 1 000 event streams on its own attempts at once.
async fn thousand_event_streams(app: &TestApp, per_address: usize) -> (usize, usize, usize) {
    let attacker = "203.0.113.99";
    // Enough attempts of its own that the per-attempt limit alone would
    // let far more than the per-address limit through.
    let mut attempts = Vec::new();
    for _ in 0..40 {
        attempts.push(start_from(app, attacker).await);
    }
    let tried = 1000;
    let opened = join_all((0..tried).map(|i| {
        let (id, binding) = attempts[i % attempts.len()].clone();
        let url = app.url(&format!("/api/login/{id}/events"));
        async move {
            bare()
                .get(url)
                .timeout(Duration::from_secs(60))
                .header("cookie", format!("login_binding={binding}"))
                .header("x-forwarded-for", attacker)
                .send()
                .await
        }
    }))
    .await;
    let mut refused = 0;
    let mut held = Vec::new();
    let mut harmed = 0;
    for response in opened {
        match response {
            Ok(r) if r.status() == 200 => held.push(r),
            Ok(r) if r.status() == 429 => refused += 1,
            _ => harmed += 1,
        }
    }
    harmed += held.len().saturating_sub(per_address);

    // Meanwhile WeChat and an honest visitor get through.
    let (victim, binding) = start_from(app, "198.51.100.44").await;
    let stream = bare()
        .get(app.url(&format!("/api/login/{victim}/events")))
        .timeout(Duration::from_secs(60))
        .header("cookie", format!("login_binding={binding}"))
        .header("x-forwarded-for", "198.51.100.44")
        .send()
        .await
        .unwrap();
    harmed += usize::from(stream.status() != 200);
    let (status, reply) = app.scan(VICTIM, &victim, false).await;
    harmed += usize::from(status != 200 || !reply.contains("登录成功"));
    harmed += usize::from(!healthy(app).await);
    drop(held);
    (tried, refused, harmed)
}

/// Connections that never finish their request head (slowloris).
async fn silent_connections(app: &TestApp, timeout: Duration) -> (usize, usize, usize) {
    let address = app.base.trim_start_matches("http://").to_owned();
    let tried = 200;
    let mut sockets = Vec::new();
    for _ in 0..tried {
        let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
        socket
            .write_all(b"POST /api/login/start HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        sockets.push(socket);
    }
    let started = Instant::now();
    let closed = join_all(sockets.into_iter().map(|mut socket| async move {
        let mut rest = Vec::new();
        tokio::time::timeout(timeout * 3, socket.read_to_end(&mut rest))
            .await
            .is_ok()
    }))
    .await;
    let refused = closed.iter().filter(|closed| **closed).count();
    let mut harmed = tried - refused;
    harmed += usize::from(started.elapsed() > timeout * 3);
    harmed += usize::from(!healthy(app).await);
    (tried, refused, harmed)
}

/// A cookie planted beside the browser's own (cookie tossing): the request
/// must be refused, not served with whichever comes first.
async fn tossed_cookies(app: &TestApp) -> (usize, usize, usize) {
    let (id, binding) = start_from(app, "198.51.100.80").await;
    let (_, planted) = start_from(app, "203.0.113.80").await;
    app.scan(VICTIM, &id, false).await;
    let sessions = app.count("sessions").await;
    let mut tried = 0;
    let mut refused = 0;
    let mut harmed = 0;
    for cookie in [
        format!("login_binding={planted}; login_binding={binding}"),
        format!("login_binding={binding}; login_binding={planted}"),
    ] {
        for (method, path) in [
            (reqwest::Method::POST, format!("/api/login/{id}/complete")),
            (reqwest::Method::GET, format!("/api/login/{id}")),
            (reqwest::Method::POST, "/api/login/start".to_owned()),
        ] {
            tried += 1;
            let status = bare()
                .request(method, app.url(&path))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap()
                .status();
            match status {
                StatusCode::BAD_REQUEST => refused += 1,
                _ => harmed += 1,
            }
        }
    }
    harmed += usize::from(app.count("sessions").await != sessions);
    (tried, refused, harmed)
}

#[tokio::test]
#[ignore = "the hostile-input run: cargo test -p server --test hostile_web -- --ignored --nocapture"]
async fn hostile_web_run() {
    let started = Instant::now();
    let allowance = 5;
    let header_timeout = Duration::from_secs(1);
    let per_address = 32;
    let app = spawn(&[
        ("TRUST_PROXY_HEADERS", "1"),
        ("LOGIN_START_PER_MINUTE", "5"),
        ("HTTP_HEADER_TIMEOUT_SECONDS", "1"),
    ])
    .await;
    let mut rows = Vec::new();
    let clock = Instant::now();
    let outcome = spoofed_forwarded_for(&app, allowance).await;
    rows.push(("spoofed X-Forwarded-For (start)", outcome, clock.elapsed()));
    // The other categories start many logins from their own addresses.
    let app = spawn(&[
        ("TRUST_PROXY_HEADERS", "1"),
        ("HTTP_HEADER_TIMEOUT_SECONDS", "1"),
    ])
    .await;
    let clock = Instant::now();
    let outcome = cross_site_posts(&app).await;
    rows.push(("cross-site POSTs", outcome, clock.elapsed()));
    let clock = Instant::now();
    let outcome = thousand_event_streams(&app, per_address).await;
    rows.push(("1 000 event streams, one address", outcome, clock.elapsed()));
    let clock = Instant::now();
    let outcome = silent_connections(&app, header_timeout).await;
    rows.push(("silent connections (slowloris)", outcome, clock.elapsed()));
    let clock = Instant::now();
    let outcome = tossed_cookies(&app).await;
    rows.push(("tossed (duplicated) cookies", outcome, clock.elapsed()));

    println!();
    println!(
        "hostile-input run, browser side ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    println!(
        "{:<36} {:>7} {:>8} {:>7} {:>7}",
        "category", "tried", "refused", "harmed", "seconds"
    );
    for (name, (tried, refused, harmed), took) in &rows {
        println!(
            "{name:<36} {tried:>7} {refused:>8} {harmed:>7} {:>7.1}",
            took.as_secs_f64()
        );
    }
    let harmed: usize = rows.iter().map(|(_, (_, _, harmed), _)| harmed).sum();
    println!(
        "{}",
        if harmed == 0 {
            "none changed a login or harmed the server"
        } else {
            "SOME CHANGED A LOGIN OR HARMED THE SERVER"
        }
    );
    assert_eq!(harmed, 0);
}
