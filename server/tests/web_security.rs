//! The browser-facing side of the login, attacked over HTTP against the whole
//! server: the sandbox only on purpose, the client address behind a proxy,
//! bounded connections, cross-site requests and cookies, security headers
//! and error references (issue 8).

mod common;

use std::{
    process::{Command, Stdio},
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

use common::{spawn, TestApp};
use futures_util::StreamExt;
use reqwest::{header::HeaderMap, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ALICE: &str = "oAliceFakeOpenid0000000000001";
const FAKE_SECRET: &str = "fake-secret-for-tests";

/// A real 服务号's settings with obviously fake values. WeChat's API base
/// points at a closed local port: nothing leaves the machine.
const REAL_MODE: &[(&str, &str)] = &[
    ("WECHAT_SANDBOX", ""),
    ("WECHAT_APPSECRET", FAKE_SECRET),
    ("WECHAT_ALLOW_PLAIN_MODE", "1"),
    ("WECHAT_API_BASE", "http://127.0.0.1:9"),
];

/// A client without a cookie jar: every cookie is sent by hand.
fn bare() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The value of cookie `name` in a `Set-Cookie` header of `headers`.
fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.split(';').next()?.strip_prefix(&format!("{name}=")))
        .map(str::to_owned)
}

/// `POST /api/login/start` without a cookie jar: (attempt id, binding).
async fn start_bare(app: &TestApp, headers: &[(&str, &str)]) -> (String, String) {
    let mut request = bare().post(app.url("/api/login/start"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let binding = set_cookie(response.headers(), "login_binding")
        .or_else(|| set_cookie(response.headers(), "__Host-login_binding"))
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    (body["id"].as_str().unwrap().to_owned(), binding)
}

/// Logs the default browser in; its session token.
async fn log_in(app: &TestApp) -> String {
    let id = app.start().await;
    app.scan(ALICE, &id, false).await;
    let done = app.complete(&id).await;
    assert_eq!(done.status(), 200);
    set_cookie(done.headers(), "session").unwrap()
}

async fn me_with(app: &TestApp, cookie: &str) -> StatusCode {
    bare()
        .get(app.url("/api/me"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
}

// ---------------------------------------------------------------------------
// 2. The sandbox runs only on purpose.
// ---------------------------------------------------------------------------

/// Every route the sandbox has (server/src/sandbox/{api,phone}.rs and the
/// app's phone page), with a method it answers to.
fn sandbox_routes(ticket: &str) -> Vec<(&'static str, String)> {
    let mut routes: Vec<(&'static str, String)> = [
        ("GET", "/sandbox/wechat/cgi-bin/token"),
        ("POST", "/sandbox/wechat/cgi-bin/stable_token"),
        ("POST", "/sandbox/wechat/cgi-bin/qrcode/create"),
        ("GET", "/sandbox/wechat/phone/api/info"),
        ("GET", "/sandbox/wechat/phone/api/codes"),
        ("GET", "/sandbox/wechat/phone/api/users"),
        ("POST", "/sandbox/wechat/phone/api/users"),
        ("POST", "/sandbox/wechat/phone/api/scan"),
        ("POST", "/sandbox/wechat/phone/api/message"),
        ("POST", "/sandbox/wechat/phone/api/unsubscribe"),
        ("GET", "/sandbox/wechat/phone/api/faults"),
        ("POST", "/sandbox/wechat/phone/api/faults"),
        ("DELETE", "/sandbox/wechat/phone/api/faults"),
        ("GET", "/sandbox/wechat/phone"),
    ]
    .into_iter()
    .map(|(method, path)| (method, path.to_owned()))
    .collect();
    routes.push(("GET", format!("/sandbox/wechat/q/{ticket}")));
    routes
}

async fn call(app: &TestApp, method: &str, path: &str) -> StatusCode {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    bare()
        .request(method, app.url(path))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn in_real_mode_every_sandbox_route_is_404() {
    // The list is complete and true: in sandbox mode each route answers.
    let sandbox = spawn(&[]).await;
    let started: serde_json::Value = sandbox.post("/api/login/start").await.json().await.unwrap();
    let qr_url = started["qr_url"].as_str().unwrap();
    let ticket = qr_url.rsplit('/').next().unwrap().to_owned();
    for (method, path) in sandbox_routes(&ticket) {
        let status = call(&sandbox, method, &path).await;
        assert_ne!(status, 404, "sandbox mode: {method} {path}");
    }

    let real = spawn(REAL_MODE).await;
    for (method, path) in sandbox_routes(&ticket) {
        let status = call(&real, method, &path).await;
        assert_eq!(status, 404, "real mode: {method} {path}");
    }
    let page = real
        .get("/sandbox/wechat/phone")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("找不到这个页面"));
    assert!(!page.contains("沙箱模式"), "no sandbox banner in real mode");
}

/// Runs the server binary with exactly `env` (plus a fresh database and the
/// theme), until it exits or prints "listening"; (exit code, output).
fn run_binary(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/site.db", dir.path().display()),
        )
        .env("THEME_DIR", common::theme_dir())
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let output = Arc::new(Mutex::new(String::new()));
    let reader = {
        let output = output.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                output.lock().unwrap().push_str(&(line + "\n"));
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if output.lock().unwrap().contains("listening on") {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        assert!(
            Instant::now() < deadline,
            "the server neither started nor stopped"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    reader.join().unwrap();
    let text = output.lock().unwrap().clone();
    (code, text)
}

#[test]
fn without_credentials_or_sandbox_the_server_refuses_to_start() {
    let (code, output) = run_binary(&[]);
    assert_eq!(code, Some(1), "it must not start: {output}");
    assert!(
        output.contains("WECHAT_SANDBOX=1") && output.contains("WECHAT_APPID"),
        "the message names both ways out: {output}"
    );
    assert!(!output.contains("listening"), "{output}");
}

#[test]
fn the_start_log_says_which_mode_runs() {
    let (code, output) = run_binary(&[("WECHAT_SANDBOX", "1")]);
    assert_eq!(code, None, "{output}");
    assert!(output.contains("SANDBOX mode"), "{output}");

    let real = [
        ("WECHAT_APPID", common::APPID),
        ("WECHAT_APPSECRET", FAKE_SECRET),
        ("WECHAT_TOKEN", common::TOKEN),
        ("WECHAT_API_BASE", "http://127.0.0.1:9"),
    ];
    let (code, output) = run_binary(&real);
    assert_eq!(code, Some(1), "no AES key and no opt-in: refused: {output}");
    assert!(output.contains("WECHAT_ALLOW_PLAIN_MODE=1"), "{output}");

    let mut plain = real.to_vec();
    plain.push(("WECHAT_ALLOW_PLAIN_MODE", "1"));
    let (code, output) = run_binary(&plain);
    assert_eq!(code, None, "{output}");
    assert!(
        output.contains("WARN") && output.contains("PLAIN mode"),
        "{output}"
    );
    assert!(!output.contains(FAKE_SECRET), "no secret in the log");

    let mut safe = real.to_vec();
    safe.push(("WECHAT_ENCODING_AES_KEY", common::AES_KEY));
    let (code, output) = run_binary(&safe);
    assert_eq!(code, None, "{output}");
    assert!(output.contains("encrypted pushes only"), "{output}");
    assert!(!output.contains(common::AES_KEY), "no key in the log");

    // The sandbox refuses real credentials.
    let mut both = real.to_vec();
    both.push(("WECHAT_SANDBOX", "1"));
    let (code, output) = run_binary(&both);
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("WECHAT_SANDBOX"), "{output}");
}

// ---------------------------------------------------------------------------
// 3. The client address behind a proxy.
// ---------------------------------------------------------------------------

async fn start_as(app: &TestApp, forwarded_for: &str) -> StatusCode {
    bare()
        .post(app.url("/api/login/start"))
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_spoofed_x_forwarded_for_does_not_escape_the_start_limit() {
    let app = spawn(&[
        ("TRUST_PROXY_HEADERS", "1"),
        ("LOGIN_START_PER_MINUTE", "2"),
    ])
    .await;
    // The client writes a new address each time; our proxy appends the
    // one it saw.
    for i in 0..2 {
        let status = start_as(&app, &format!("10.9.8.{i}, 203.0.113.5")).await;
        assert_eq!(status, 200);
    }
    assert_eq!(start_as(&app, "10.9.8.77, 203.0.113.5").await, 429);
    assert_eq!(start_as(&app, "203.0.113.5").await, 429);
    // Another client of the proxy is not affected.
    assert_eq!(start_as(&app, "203.0.113.5, 198.51.100.1").await, 200);
}

#[tokio::test]
async fn ipv6_addresses_of_one_64_share_a_limit() {
    let app = spawn(&[
        ("TRUST_PROXY_HEADERS", "1"),
        ("LOGIN_START_PER_MINUTE", "2"),
    ])
    .await;
    assert_eq!(start_as(&app, "2001:db8:aa:bb::1").await, 200);
    assert_eq!(start_as(&app, "2001:db8:aa:bb:1234::2").await, 200);
    assert_eq!(start_as(&app, "2001:db8:aa:bb:ffff:ffff:ffff:3").await, 429);
    assert_eq!(
        start_as(&app, "2001:db8:aa:cc::1").await,
        200,
        "another /64"
    );
}

#[tokio::test]
async fn a_site_wide_cap_protects_the_wechat_quota() {
    let app = spawn(&[
        ("TRUST_PROXY_HEADERS", "1"),
        ("LOGIN_START_SITE_PER_MINUTE", "3"),
    ])
    .await;
    for i in 0..3 {
        assert_eq!(start_as(&app, &format!("198.51.100.{i}")).await, 200);
    }
    let refused = bare()
        .post(app.url("/api/login/start"))
        .header("x-forwarded-for", "198.51.100.200")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "site_busy");
    assert_eq!(
        app.count("login_attempts").await,
        3,
        "no attempt, no QR code"
    );
}

// ---------------------------------------------------------------------------
// 4. Bounded connections.
// ---------------------------------------------------------------------------

async fn open_stream(
    app: &TestApp,
    id: &str,
    binding: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = bare()
        .get(app.url(&format!("/api/login/{id}/events")))
        .timeout(Duration::from_secs(600))
        .header("cookie", format!("login_binding={binding}"));
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn event_streams_are_limited_per_attempt() {
    let app = spawn(&[]).await;
    let (id, binding) = start_bare(&app, &[]).await;
    let mut open = Vec::new();
    for _ in 0..4 {
        let stream = open_stream(&app, &id, &binding, None).await;
        assert_eq!(stream.status(), 200);
        open.push(stream);
    }
    let refused = open_stream(&app, &id, &binding, None).await;
    assert_eq!(refused.status(), 429);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "too_many_streams");
    // Closing one frees its place.
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let again = open_stream(&app, &id, &binding, None).await;
        if again.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the place never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn event_streams_are_limited_per_address() {
    let app = spawn(&[
        ("TRUST_PROXY_HEADERS", "1"),
        ("LOGIN_STREAMS_PER_ADDRESS", "3"),
    ])
    .await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let (id, binding) = start_bare(&app, &[]).await;
        let stream = open_stream(&app, &id, &binding, Some("203.0.113.9")).await;
        assert_eq!(stream.status(), 200);
        open.push(stream);
    }
    let (id, binding) = start_bare(&app, &[]).await;
    // Spoofing the left end changes nothing.
    let refused = open_stream(&app, &id, &binding, Some("1.2.3.4, 203.0.113.9")).await;
    assert_eq!(refused.status(), 429);
    let other = open_stream(&app, &id, &binding, Some("198.51.100.9")).await;
    assert_eq!(other.status(), 200, "another address still can");
}

#[tokio::test]
async fn the_callback_works_while_the_event_stream_limit_is_exhausted() {
    let app = spawn(&[
        ("LOGIN_STREAMS_MAX", "6"),
        ("LOGIN_STREAMS_PER_ADDRESS", "0"),
    ])
    .await;
    let (first, first_binding) = start_bare(&app, &[]).await;
    let (second, second_binding) = start_bare(&app, &[]).await;
    let mut open = Vec::new();
    for (id, binding) in [(&first, &first_binding), (&second, &second_binding)] {
        for _ in 0..3 {
            let stream = open_stream(&app, id, binding, None).await;
            assert_eq!(stream.status(), 200);
            open.push(stream);
        }
    }
    let (third, third_binding) = start_bare(&app, &[]).await;
    let refused = open_stream(&app, &third, &third_binding, None).await;
    assert_eq!(refused.status(), 503, "the server-wide limit is reached");

    // WeChat still gets through, and the waiting browser hears of it.
    let (status, reply) = app.scan(ALICE, &first, false).await;
    assert_eq!(status, 200);
    assert!(reply.contains("登录成功"), "{reply}");
    let mut events = open.remove(0).bytes_stream();
    let mut seen = String::new();
    let heard = tokio::time::timeout(Duration::from_secs(5), async {
        while !seen.contains("confirmed") {
            let chunk = events.next().await.unwrap().unwrap();
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(heard.is_ok(), "the stream never said confirmed: {seen}");
    // The plain status still answers the one that was refused a stream.
    let status = bare()
        .get(app.url(&format!("/api/login/{third}")))
        .header("cookie", format!("login_binding={third_binding}"))
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 200);
}

#[tokio::test]
async fn a_client_that_never_finishes_its_request_head_is_disconnected() {
    let app = spawn(&[("HTTP_HEADER_TIMEOUT_SECONDS", "1")]).await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    socket
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut buffer)).await;
    assert!(read.is_ok(), "the connection was still open after 5 s");
    assert!(started.elapsed() < Duration::from_secs(4));
    let head = String::from_utf8_lossy(&buffer);
    assert!(
        head.is_empty() || head.starts_with("HTTP/1.1 408"),
        "{head}"
    );

    // An idle kept-alive connection is closed too.
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut buffer)).await;
    assert!(read.is_ok(), "an idle connection was kept past the timeout");
    assert!(String::from_utf8_lossy(&buffer).starts_with("HTTP/1.1 200"));

    // A connection busy with an event stream is not idle: it lives on.
    let (id, binding) = start_bare(&app, &[]).await;
    let stream = open_stream(&app, &id, &binding, None).await;
    assert_eq!(stream.status(), 200);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    app.scan(ALICE, &id, false).await;
    let mut events = stream.bytes_stream();
    let mut seen = String::new();
    let heard = tokio::time::timeout(Duration::from_secs(5), async {
        while !seen.contains("confirmed") {
            let chunk = events.next().await.unwrap().unwrap();
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(heard.is_ok(), "the stream was cut: {seen}");
}

#[tokio::test]
async fn a_request_whose_body_stalls_gets_408_but_event_streams_live_on() {
    let app = spawn(&[("HTTP_REQUEST_TIMEOUT_SECONDS", "1")]).await;
    // An event stream outlives the request timeout.
    let (id, binding) = start_bare(&app, &[]).await;
    let stream = open_stream(&app, &id, &binding, None).await;
    assert_eq!(stream.status(), 200);

    let address = app.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    socket
        .write_all(
            b"POST /sandbox/wechat/phone/api/scan HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"url\":",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let mut buffer = [0u8; 512];
    let read = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buffer)).await;
    let n = read.expect("no answer within 5 s").unwrap();
    assert!(started.elapsed() < Duration::from_secs(4));
    let head = String::from_utf8_lossy(&buffer[..n]);
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");

    tokio::time::sleep(Duration::from_millis(1500)).await;
    app.scan(ALICE, &id, false).await;
    let mut events = stream.bytes_stream();
    let mut seen = String::new();
    let heard = tokio::time::timeout(Duration::from_secs(5), async {
        while !seen.contains("confirmed") {
            let chunk = events.next().await.unwrap().unwrap();
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(heard.is_ok(), "the stream did not survive: {seen}");
}

// ---------------------------------------------------------------------------
// 7. Cross-site requests and cookies.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn cross_site_posts_are_refused_and_change_nothing() {
    let app = spawn(&[]).await;
    let token = log_in(&app).await;
    let (id, binding) = start_bare(&app, &[]).await;
    app.scan(ALICE, &id, false).await;
    let attempts = app.count("login_attempts").await;
    let sessions = app.count("sessions").await;
    let host = app.base.trim_start_matches("http://").to_owned();

    let foreign: [&[(&str, &str)]; 3] = [
        &[("sec-fetch-site", "cross-site")],
        &[("sec-fetch-site", "same-site")],
        &[("origin", "https://evil.example")],
    ];
    for headers in foreign {
        for path in [
            "/api/login/start".to_owned(),
            "/api/logout".to_owned(),
            format!("/api/login/{id}/complete"),
            "/sandbox/wechat/phone/api/users".to_owned(),
        ] {
            let mut request = bare().post(app.url(&path)).header(
                "cookie",
                format!("session={token}; login_binding={binding}"),
            );
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 403, "{path} {headers:?}");
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["error"], "cross_site");
        }
    }
    assert_eq!(
        me_with(&app, &format!("session={token}")).await,
        200,
        "still logged in"
    );
    assert_eq!(app.count("login_attempts").await, attempts);
    assert_eq!(app.count("sessions").await, sessions);
    let status: serde_json::Value = bare()
        .get(app.url(&format!("/api/login/{id}")))
        .header("cookie", format!("login_binding={binding}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        status["status"], "confirmed",
        "not completed by a foreign page"
    );

    // The site's own pages may.
    let same_origin = [("sec-fetch-site", "same-origin")];
    let origin = format!("http://{host}");
    let with_origin = [("origin", origin.as_str())];
    for headers in [&same_origin[..], &with_origin[..]] {
        let (id, _) = start_bare(&app, headers).await;
        assert_eq!(id.len(), 32);
    }
    // WeChat is another site, and its callback is not subject to the rule.
    let echo = bare()
        .post(app.url("/wechat/callback"))
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_ne!(echo.status(), 403);
}

#[tokio::test]
async fn a_new_login_revokes_the_browsers_previous_session() {
    let app = spawn(&[]).await;
    let first = log_in(&app).await;
    assert_eq!(me_with(&app, &format!("session={first}")).await, 200);
    // The same browser (its jar still holds the first session) logs in again.
    let second = log_in(&app).await;
    assert_ne!(first, second);
    assert_eq!(
        me_with(&app, &format!("session={first}")).await,
        401,
        "the old session must end"
    );
    assert_eq!(me_with(&app, &format!("session={second}")).await, 200);
    assert_eq!(app.get("/api/me").await.status(), 200);
}

#[tokio::test]
async fn under_https_the_cookies_carry_the_host_prefix() {
    let app = spawn(&[("TRUST_PROXY_HEADERS", "1")]).await;
    let https = [("x-forwarded-proto", "https")];
    let started = bare()
        .post(app.url("/api/login/start"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let cookie = started.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-login_binding="), "{cookie}");
    for flag in ["Secure", "Path=/", "HttpOnly", "SameSite=Strict"] {
        assert!(cookie.contains(flag), "{flag}: {cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    let binding = set_cookie(started.headers(), "__Host-login_binding").unwrap();
    let id = started.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.scan(ALICE, &id, false).await;

    // The unprefixed name does not count under https (it could be planted).
    let unprefixed = bare()
        .post(app.url(&format!("/api/login/{id}/complete")))
        .header(https[0].0, https[0].1)
        .header("cookie", format!("login_binding={binding}"))
        .send()
        .await
        .unwrap();
    assert_eq!(unprefixed.status(), 403);

    let done = bare()
        .post(app.url(&format!("/api/login/{id}/complete")))
        .header(https[0].0, https[0].1)
        .header("cookie", format!("__Host-login_binding={binding}"))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let cookie = done.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-session="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    let token = set_cookie(done.headers(), "__Host-session").unwrap();
    let me = |cookie: String| {
        let app = &app;
        async move {
            bare()
                .get(app.url("/api/me"))
                .header("x-forwarded-proto", "https")
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(me(format!("__Host-session={token}")).await, 200);
    assert_eq!(me(format!("session={token}")).await, 401);
}

#[tokio::test]
async fn a_cookie_name_sent_twice_is_refused() {
    let app = spawn(&[]).await;
    let (id, binding) = start_bare(&app, &[]).await;
    let (_, planted) = start_bare(&app, &[]).await;
    for cookie in [
        format!("login_binding={binding}; login_binding={planted}"),
        format!("login_binding={planted}; login_binding={binding}"),
    ] {
        for (method, path) in [
            ("GET", format!("/api/login/{id}")),
            ("GET", format!("/api/login/{id}/events")),
            ("POST", format!("/api/login/{id}/complete")),
            ("POST", "/api/login/start".to_owned()),
        ] {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let response = bare()
                .request(method.clone(), app.url(&path))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 400, "{method} {path} {cookie}");
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["error"], "duplicate_cookie");
        }
    }
    let token = log_in(&app).await;
    let other = log_in(&app).await;
    assert_eq!(me_with(&app, &format!("session={other}")).await, 200);
    assert_eq!(
        me_with(&app, &format!("session={other}; session={token}")).await,
        401
    );
}

// ---------------------------------------------------------------------------
// 8. Security headers and error references.
// ---------------------------------------------------------------------------

/// The nonce of a page's Content-Security-Policy, checked against the
/// nonce on the page's scripts.
fn page_nonce(headers: &HeaderMap, html: &str) -> String {
    let csp = headers["content-security-policy"].to_str().unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no nonce in {csp}"))
        .to_owned();
    assert!(nonce.len() >= 16, "{nonce}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let scripts = html.matches("<script").count();
    let with_nonce = html.matches(&format!("nonce=\"{nonce}\"")).count();
    let data_scripts = html.matches("<script type=\"application/json\"").count();
    assert!(with_nonce >= 1, "no script carries the nonce");
    assert_eq!(
        with_nonce + data_scripts,
        scripts,
        "every script runs with the page's nonce: {html}"
    );
    nonce
}

fn assert_common_headers(headers: &HeaderMap, what: &str) {
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(headers["x-frame-options"], "DENY", "{what}");
    assert!(headers.contains_key("referrer-policy"), "{what}");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn(&[]).await;
    for path in ["/", "/about", "/no-such-page", "/sandbox/wechat/phone"] {
        let response = bare().get(app.url(path)).send().await.unwrap();
        let headers = response.headers().clone();
        assert_common_headers(&headers, path);
        page_nonce(&headers, &response.text().await.unwrap());
    }
    let stream_id = start_bare(&app, &[]).await;
    for (method, path) in [
        ("GET", "/api/me".to_owned()),
        ("POST", "/api/login/start".to_owned()),
        ("POST", "/api/logout".to_owned()),
        (
            "GET",
            "/api/login/0123456789abcdef0123456789abcdef".to_owned(),
        ),
        ("GET", format!("/api/login/{}/events", stream_id.0)),
        ("GET", "/healthz".to_owned()),
        ("GET", "/wechat/callback?echostr=x".to_owned()),
        ("POST", "/wechat/callback".to_owned()),
        ("GET", "/sandbox/wechat/phone/api/codes".to_owned()),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = bare()
            .request(method.clone(), app.url(&path))
            .header("cookie", format!("login_binding={}", stream_id.1))
            .send()
            .await
            .unwrap();
        let headers = response.headers();
        assert_common_headers(headers, &format!("{method} {path}"));
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.starts_with("default-src 'none'"), "{path}: {csp}");
    }
}

#[tokio::test]
async fn a_cached_page_is_served_with_the_policy_of_its_own_nonce() {
    let app = spawn(&[]).await;
    let mut nonces = Vec::new();
    for _ in 0..3 {
        let response = bare().get(app.url("/")).send().await.unwrap();
        let headers = response.headers().clone();
        nonces.push(page_nonce(&headers, &response.text().await.unwrap()));
    }
    // A render for a visitor with a cookie is never cached: a fresh nonce.
    let response = bare()
        .get(app.url("/"))
        .header("cookie", "theme=plain")
        .send()
        .await
        .unwrap();
    let headers = response.headers().clone();
    let fresh = page_nonce(&headers, &response.text().await.unwrap());
    assert!(!nonces.contains(&fresh), "{fresh} reused");
}

/// Everything the server logs in this test binary.
fn captured_log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let writer = {
            let log = log.clone();
            move || Capture(log.clone())
        };
        let _ = tracing_subscriber_init(writer);
        log
    })
    .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn tracing_subscriber_init(
    writer: impl Fn() -> Capture + Send + Sync + 'static,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter("info")
        .try_init()
}

#[tokio::test]
async fn a_wechat_failure_shows_plain_words_and_a_reference_the_log_explains() {
    let log = captured_log();
    let app = spawn(&[]).await;
    let armed = bare()
        .post(app.url("/sandbox/wechat/phone/api/faults"))
        .json(&serde_json::json!({"api": "qrcode_create", "errcode": 40164, "times": 1}))
        .send()
        .await
        .unwrap();
    assert!(armed.status().is_success());
    let refused = bare()
        .post(app.url("/api/login/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 502);
    let request_id = refused.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: serde_json::Value = refused.json().await.unwrap();
    let reference = body["reference"].as_str().unwrap().to_owned();
    // One id for the whole request: the reference is the request id, so
    // every log line of the request (the access line too) carries it.
    assert_eq!(reference, request_id);
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(&reference), "{message}");
    let text = body.to_string();
    for detail in ["40164", "白名单", "whitelist", "wechat_errcode"] {
        assert!(
            !text.contains(detail),
            "{detail} shown to the visitor: {text}"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let logged = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
        if let Some(line) = logged.lines().find(|l| l.contains(&reference)) {
            assert!(
                line.contains("40164"),
                "the log line has the errcode: {line}"
            );
            assert!(line.contains("whitelist"), "and what it means: {line}");
            break;
        }
        assert!(Instant::now() < deadline, "no log line with {reference}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
