//! The writing module under load: N visitors each generate an article at
//! DeepSeek's pace and follow it over its event stream.
//!
//! DeepSeek is a second server process running the DeepSeek sandbox with
//! send-time stamps on (each answer token is `<index>:<send time>|`); the
//! server under test talks to it as to DeepSeek (`DEEPSEEK_API_KEY` and
//! `DEEPSEEK_BASE_URL`), so its memory and CPU are its own. The stamp says
//! when the stand-in sent a token; the browser's clock (the same machine's)
//! says when it arrived: the difference is the delay the server added
//! (plus the loopback hop in, which is part of "the server receiving it").
//! The indices say whether any token was lost, repeated or reordered on the
//! way, and at the end each stored article is compared with what its
//! browser received.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use tokio::{sync::Semaphore, task::JoinSet, time::timeout};

use crate::{
    http::{self, Conn, EventStream},
    login::{log_in, Signer, Target},
    server::{Server, ServerSpec},
    stats::Latencies,
};

pub struct WritingSpec<'a> {
    pub binary: &'a std::path::Path,
    pub site_root: &'a std::path::Path,
    pub theme_dir: &'a std::path::Path,
    pub env: &'a [(String, String)],
    /// DeepSeek's pace, tokens per second.
    pub pace: u32,
}

pub struct WritingRun {
    /// Per token, stand-in sent → browser received.
    pub latency: Latencies,
    pub tokens: u64,
    pub rss_before_kib: Option<u64>,
    pub rss_active_kib: Option<u64>,
    /// While all N ran: the flusher's transactions and version updates per
    /// second, and bytes the server wrote to storage per second.
    pub commits_per_second: f64,
    pub updates_per_second: f64,
    pub disk_bytes_per_second: Option<f64>,
    pub window: Duration,
    /// Server CPU per token.
    pub cpu_per_token: Option<Duration>,
    /// From the first start to the last Finished.
    pub took: Duration,
    pub problems: Vec<String>,
    pub warnings: String,
}

/// What one browser saw.
#[derive(Default)]
struct Followed {
    id: String,
    text: String,
    next_index: usize,
    tokens: u64,
    latency: Latencies,
    finished: Option<String>,
    problems: Vec<String>,
    active: bool,
}

const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 loadtest";

pub async fn run(spec: &WritingSpec<'_>, n: usize) -> Result<WritingRun, String> {
    // DeepSeek: the sandbox in a process of its own.
    let mut stand_in_env: Vec<(String, String)> = spec.env.to_vec();
    stand_in_env.push(("DEEPSEEK_SANDBOX".into(), "1".into()));
    stand_in_env.push((
        "DEEPSEEK_SANDBOX_TOKENS_PER_SECOND".into(),
        spec.pace.to_string(),
    ));
    let stand_in = Server::start(&ServerSpec {
        binary: spec.binary,
        site_root: spec.site_root,
        theme_dir: spec.theme_dir,
        aes: false,
        env: &stand_in_env,
        wrapper: &[],
        database: None,
    })
    .await?;
    let mut conn = Conn::connect(stand_in.addr)
        .await
        .map_err(|e| format!("cannot reach the DeepSeek stand-in: {e}"))?;
    let pace = format!("{{\"tokens_per_second\":{},\"stamps\":true}}", spec.pace);
    let answer = conn
        .request(
            format!(
                "PUT /sandbox/deepseek/pace HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{pace}",
                stand_in.host,
                pace.len()
            )
            .as_bytes(),
        )
        .await
        .map_err(|e| format!("cannot turn the stand-in's stamps on: {e}"))?;
    if answer.head.status != 200 {
        return Err(format!("the stand-in refused stamps: {}", answer.text()));
    }

    // The server under test, with DeepSeek's cap above N.
    let mut env: Vec<(String, String)> = vec![
        ("DEEPSEEK_API_KEY".into(), "sk-fake-key-for-loadtest".into()),
        (
            "DEEPSEEK_BASE_URL".into(),
            format!("http://{}/sandbox/deepseek", stand_in.addr),
        ),
        ("WRITING_SITE_CONCURRENT".into(), n.max(1).to_string()),
        ("WRITING_DAILY_LIMIT".into(), "0".into()),
        (
            "RUST_LOG".into(),
            "warn,server::writing::flush=debug".into(),
        ),
    ];
    env.extend(spec.env.iter().cloned());
    let server = Server::start(&ServerSpec {
        binary: spec.binary,
        site_root: spec.site_root,
        theme_dir: spec.theme_dir,
        aes: false,
        env: &env,
        wrapper: &[],
        database: None,
    })
    .await?;
    let target = Target {
        addr: server.addr,
        host: server.host.clone(),
    };

    // N visitors, logged in.
    let signer = Arc::new(Signer::plain());
    let logging_in = Arc::new(Semaphore::new(32));
    let mut logins = JoinSet::new();
    for _ in 0..n {
        let (target, signer, logging_in) = (target.clone(), signer.clone(), logging_in.clone());
        logins.spawn(async move {
            let _turn = logging_in.acquire().await;
            log_in(&target, &signer).await
        });
    }
    let mut sessions = Vec::with_capacity(n);
    while let Some(joined) = logins.join_next().await {
        sessions.push(joined.map_err(|e| format!("a login panicked: {e}"))??);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before_kib = server.rss_kib();
    let cpu_before = server.cpu();

    // Each starts an article and follows it.
    let active = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    let mut browsers = JoinSet::new();
    for (i, session) in sessions.into_iter().enumerate() {
        let (target, active) = (target.clone(), active.clone());
        browsers.spawn(async move {
            let mut followed = Followed::default();
            let result = timeout(
                Duration::from_secs(600),
                write_and_follow(&target, &session, i, &active, &mut followed),
            )
            .await;
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => followed.problems.push(e),
                Err(_) => followed
                    .problems
                    .push("the generation did not end within 10 minutes".into()),
            }
            if !followed.active {
                active.fetch_add(1, Ordering::Relaxed);
            }
            followed
        });
    }

    // Weighed and counted while all N are being written.
    while active.load(Ordering::Relaxed) < n {
        if began.elapsed() > Duration::from_secs(300) {
            return Err(format!(
                "only {} of {n} generations started within 300 s",
                active.load(Ordering::Relaxed)
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_active_kib = server.rss_kib();
    let window_start = Instant::now();
    let (batches_before, updates_before) = flush_counts(&server);
    let disk_before = disk_bytes(&server);
    let mut done = Vec::with_capacity(n);
    // Until the first generation ends: all N are running meanwhile.
    if let Some(joined) = browsers.join_next().await {
        done.push(joined.map_err(|e| format!("a browser panicked: {e}"))?);
    }
    let window = window_start.elapsed();
    let (batches_after, updates_after) = flush_counts(&server);
    let disk_after = disk_bytes(&server);
    while let Some(joined) = browsers.join_next().await {
        done.push(joined.map_err(|e| format!("a browser panicked: {e}"))?);
    }
    let took = began.elapsed();
    let cpu = match (cpu_before, server.cpu()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };

    // What was stored is what the browsers saw.
    let mut problems = Vec::new();
    let mut latency = Latencies::default();
    let mut tokens = 0;
    let stored = stored_articles(&server).await?;
    for followed in done {
        tokens += followed.tokens;
        latency.extend(followed.latency);
        problems.extend(followed.problems);
        match followed.finished.as_deref() {
            Some("done") => {}
            other => problems.push(format!("article {} ended {other:?}, not done", followed.id)),
        }
        match stored.iter().find(|(id, _, _)| *id == followed.id) {
            Some((_, body, status)) if body == &followed.text && status == "done" => {}
            Some((_, body, status)) => problems.push(format!(
                "LOST: article {} stored {} bytes ({status}), its browser got {}",
                followed.id,
                body.len(),
                followed.text.len()
            )),
            None => problems.push(format!("LOST: article {} is not stored", followed.id)),
        }
    }
    let seconds = window.as_secs_f64().max(0.001);
    let warnings = warning_lines(&server);
    Ok(WritingRun {
        latency,
        tokens,
        rss_before_kib,
        rss_active_kib,
        commits_per_second: (batches_after - batches_before) as f64 / seconds,
        updates_per_second: (updates_after - updates_before) as f64 / seconds,
        disk_bytes_per_second: match (disk_before, disk_after) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / seconds),
            _ => None,
        },
        window,
        cpu_per_token: cpu.map(|c| c / tokens.max(1) as u32),
        took,
        problems,
        warnings,
    })
}

/// One visitor: `POST /api/writing/start`, then the article's event stream
/// on the same connection until `Finished`.
async fn write_and_follow(
    target: &Target,
    session: &str,
    i: usize,
    active: &AtomicUsize,
    followed: &mut Followed,
) -> Result<(), String> {
    let mut conn = Conn::connect(target.addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let brief = format!(
        "{{\"brief\":{{\"topic\":\"基准测试文章第{i}篇\",\"kind\":\"博客\",\"tone\":\"\",\"length\":\"medium\",\"keywords\":[],\"notes\":\"\",\"outline\":null,\"thinking\":false}}}}"
    );
    let headers = format!("cookie: {session}\r\nuser-agent: {USER_AGENT}\r\n");
    let started = conn
        .request(&http::post(
            &target.host,
            "/api/writing/start",
            "application/json",
            brief.as_bytes(),
            &headers,
        ))
        .await
        .map_err(|e| format!("POST /api/writing/start failed: {e}"))?;
    if started.head.status != 200 {
        return Err(format!(
            "POST /api/writing/start answered {}: {}",
            started.head.status,
            started.text()
        ));
    }
    let answer: serde_json::Value =
        serde_json::from_slice(&started.body).map_err(|e| format!("start: not JSON: {e}"))?;
    followed.id = answer["id"].as_str().ok_or("start: no id")?.to_owned();
    conn.send(&http::get(
        &target.host,
        &format!("/api/articles/{}/events", followed.id),
        &format!("accept: text/event-stream\r\n{headers}"),
    ))
    .await
    .map_err(|e| format!("GET events failed: {e}"))?;
    let head = conn
        .head()
        .await
        .map_err(|e| format!("GET events failed: {e}"))?;
    if head.status != 200 {
        return Err(format!("the event stream answered {}", head.status));
    }
    let mut parser = EventStream::default();
    while let Some(chunk) = conn
        .chunk()
        .await
        .map_err(|e| format!("the event stream broke: {e}"))?
    {
        let now = micros_now();
        for data in parser.feed(&chunk) {
            let event: serde_json::Value =
                serde_json::from_str(&data).map_err(|e| format!("an event is not JSON: {e}"))?;
            match event["type"].as_str() {
                Some("snapshot") => {
                    let text = event["text"].as_str().unwrap_or_default();
                    // Sent before the stream opened: counted, not timed.
                    followed.take(text, None);
                }
                Some("text") => {
                    let text = event["text"].as_str().unwrap_or_default();
                    followed.take(text, Some(now));
                    if !followed.active {
                        followed.active = true;
                        active.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some("finished") => {
                    followed.finished = event["status"].as_str().map(str::to_owned);
                    return Ok(());
                }
                _ => {}
            }
        }
    }
    Err("the event stream ended before Finished".into())
}

impl Followed {
    /// Takes stamped tokens, checking their order; timed when `now` is
    /// given.
    fn take(&mut self, text: &str, now: Option<u64>) {
        self.text.push_str(text);
        for token in text.split_terminator('|') {
            let Some((index, sent)) = token.split_once(':') else {
                self.problems
                    .push(format!("{}: not a stamp: {token:?}", self.id));
                continue;
            };
            let (Ok(index), Ok(sent)) = (index.parse::<usize>(), sent.parse::<u64>()) else {
                self.problems
                    .push(format!("{}: not a stamp: {token:?}", self.id));
                continue;
            };
            if index != self.next_index {
                self.problems.push(format!(
                    "LOST or REORDERED: {} token {index} came when {} was due",
                    self.id, self.next_index
                ));
            }
            self.next_index = index + 1;
            self.tokens += 1;
            if let Some(now) = now {
                // Modulo 10^9 µs: mind the wrap.
                let delay = (now + 1_000_000_000 - sent) % 1_000_000_000;
                self.latency.push(Duration::from_micros(delay));
            }
        }
    }
}

/// The stand-in's clock: microseconds since the epoch, modulo 10^9.
fn micros_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| (d.as_micros() % 1_000_000_000) as u64)
}

/// The flusher's batches so far and the version updates they held, from
/// its debug lines.
fn flush_counts(server: &Server) -> (u64, u64) {
    let log = std::fs::read_to_string(server.log_path()).unwrap_or_default();
    let mut batches = 0;
    let mut updates = 0;
    for line in log.lines().filter(|l| l.contains("writing: batch stored")) {
        batches += 1;
        updates += plain(line)
            .split_whitespace()
            .find_map(|w| w.strip_prefix("generations="))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    (batches, updates)
}

/// A log line without its terminal colours.
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // `ESC [ … letter`
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Bytes the server process has written to storage (`/proc/<pid>/io`).
fn disk_bytes(server: &Server) -> Option<u64> {
    let io = std::fs::read_to_string(format!("/proc/{}/io", server.pid()?)).ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Every stored article version: id, body, status.
async fn stored_articles(server: &Server) -> Result<Vec<(String, String, String)>, String> {
    let db = crate::callbacks::open_db(&server.db_path).await?;
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT article_id, body, status FROM article_versions")
            .fetch_all(&db)
            .await
            .map_err(|e| format!("cannot read the articles: {e}"))?;
    db.close().await;
    Ok(rows)
}

/// The server's log lines that are neither the flusher's nor the start's.
fn warning_lines(server: &Server) -> String {
    let log = std::fs::read_to_string(server.log_path()).unwrap_or_default();
    let lines: Vec<String> = log
        .lines()
        .map(plain)
        .filter(|l| !l.contains("writing: batch stored") && !l.contains("server::startup"))
        .collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
