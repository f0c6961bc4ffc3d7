//! Pages and static files: requests per second over keep-alive connections.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use tokio::task::JoinSet;

use crate::{
    http::{self, Conn},
    login::Target,
    stats::Latencies,
};

/// What a browser sends for a page or a file.
pub fn browser_headers(accept: &str) -> String {
    format!(
        "accept: {accept}\r\naccept-encoding: gzip, deflate, br\r\naccept-language: zh-CN,zh;q=0.9\r\nuser-agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36 loadtest\r\n"
    )
}

pub struct PageRun {
    pub path: String,
    pub requests: usize,
    pub per_second: f64,
    pub latency: Latencies,
    pub body_bytes: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    /// Server CPU time (user + system) per request.
    pub cpu_per_request: Option<Duration>,
    /// How long it measured, and the server CPU time used meanwhile.
    elapsed: Duration,
    cpu_used: Option<Duration>,
}

impl PageRun {
    /// Two runs of the same load as one.
    fn merge(mut self, other: PageRun) -> PageRun {
        self.requests += other.requests;
        self.latency.extend(other.latency);
        self.body_bytes += other.body_bytes;
        self.errors += other.errors;
        self.first_error = self.first_error.or(other.first_error);
        self.elapsed += other.elapsed;
        self.cpu_used = self.cpu_used.zip(other.cpu_used).map(|(a, b)| a + b);
        self.per_second = self.requests as f64 / self.elapsed.as_secs_f64();
        self.cpu_per_request = self.cpu_used.map(|c| c / self.requests.max(1) as u32);
        self
    }
}

/// Runs each of `loads` for its `duration`, in turns, `rounds` times, so that
/// the machine getting busier or quieter (other jobs) affects them alike: the
/// fair way to compare two of them. One result per load.
pub async fn interleaved(
    target: &Target,
    loads: &[Load<'_>],
    rounds: usize,
    cpu: &dyn Fn() -> Option<Duration>,
) -> Result<Vec<PageRun>, String> {
    let turns: Vec<Turn<'_>> = loads
        .iter()
        .map(|load| Turn {
            target,
            load: *load,
            cpu,
        })
        .collect();
    in_turns(&turns, rounds).await
}

/// One load against one server (whose CPU time `cpu` reads).
pub struct Turn<'a> {
    pub target: &'a Target,
    pub load: Load<'a>,
    pub cpu: &'a dyn Fn() -> Option<Duration>,
}

/// Like [`interleaved`], each load against its own server.
pub async fn in_turns(turns: &[Turn<'_>], rounds: usize) -> Result<Vec<PageRun>, String> {
    let mut runs: Vec<Option<PageRun>> = turns.iter().map(|_| None).collect();
    for round in 0..rounds.max(1) {
        for (turn, merged) in turns.iter().zip(runs.iter_mut()) {
            let warmup = if round == 0 {
                turn.load.warmup
            } else {
                Duration::from_millis(100)
            };
            let load = Load {
                warmup,
                ..turn.load
            };
            let run = page_run(turn.target, &load, turn.cpu).await?;
            *merged = Some(match merged.take() {
                Some(before) => before.merge(run),
                None => run,
            });
        }
    }
    Ok(runs.into_iter().flatten().collect())
}

/// Fetches `path` once, as a browser would; the response.
pub async fn fetch(target: &Target, path: &str) -> Result<http::Response, String> {
    let mut conn = Conn::connect(target.addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    conn.request(&http::get(
        &target.host,
        path,
        &browser_headers("text/html,*/*"),
    ))
    .await
    .map_err(|e| format!("GET {path} failed: {e}"))
}

/// Fetches `path` once with a cookie (a logged-in browser's).
pub async fn fetch_with_cookie(
    target: &Target,
    path: &str,
    cookie: &str,
) -> Result<http::Response, String> {
    let mut conn = Conn::connect(target.addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let headers = format!("{}cookie: {cookie}\r\n", browser_headers("text/html,*/*"));
    conn.request(&http::get(&target.host, path, &headers))
        .await
        .map_err(|e| format!("GET {path} failed: {e}"))
}

/// The stylesheet, script and wasm the home page links to under /pkg/.
pub fn linked_assets(html: &str) -> Vec<String> {
    html.match_indices("\"/pkg/")
        .filter_map(|(at, _)| {
            let rest = &html[at + 1..];
            rest.find('"').map(|end| rest[..end].to_owned())
        })
        .filter(|p| p.ends_with(".css") || p.ends_with(".js") || p.ends_with(".wasm"))
        .collect()
}

/// What to request, how hard and how long.
#[derive(Clone, Copy)]
pub struct Load<'a> {
    pub path: &'a str,
    pub accept: &'a str,
    pub cookie: Option<&'a str>,
    pub conns: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// `load.conns` connections request `load.path` back to back for
/// `load.duration`, after a warm-up; `cpu` reads the server's CPU time.
pub async fn page_run(
    target: &Target,
    load: &Load<'_>,
    cpu: &dyn Fn() -> Option<Duration>,
) -> Result<PageRun, String> {
    let Load {
        path,
        accept,
        cookie,
        conns,
        warmup,
        duration,
    } = *load;
    let mut headers = browser_headers(accept);
    if let Some(cookie) = cookie {
        headers.push_str(&format!("cookie: {cookie}\r\n"));
    }
    let request = Arc::new(http::get(&target.host, path, &headers));
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = JoinSet::new();
    for _ in 0..conns {
        let (target, request, measuring, stop) = (
            target.clone(),
            request.clone(),
            measuring.clone(),
            stop.clone(),
        );
        workers.spawn(async move {
            let mut latency = Latencies::default();
            let (mut count, mut bytes, mut errors) = (0usize, 0usize, 0usize);
            let mut first_error = None;
            let mut conn = Conn::connect(target.addr)
                .await
                .map_err(|e| format!("cannot connect: {e}"))?;
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let response = match conn.request(&request).await {
                    Ok(r) => r,
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(format!("{e}"));
                        conn = Conn::connect(target.addr)
                            .await
                            .map_err(|e| format!("cannot reconnect: {e}"))?;
                        continue;
                    }
                };
                if !measuring.load(Ordering::Relaxed) {
                    continue;
                }
                latency.push(sent.elapsed());
                count += 1;
                bytes += response.body.len();
                if response.head.status != 200 {
                    errors += 1;
                    first_error.get_or_insert(format!("status {}", response.head.status));
                }
            }
            Ok::<_, String>((latency, count, bytes, errors, first_error))
        });
    }
    tokio::time::sleep(warmup).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let cpu_before = cpu();
    tokio::time::sleep(duration).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let cpu_used = cpu()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    stop.store(true, Ordering::Relaxed);

    let mut run = PageRun {
        path: path.to_owned(),
        requests: 0,
        per_second: 0.0,
        latency: Latencies::default(),
        body_bytes: 0,
        errors: 0,
        first_error: None,
        cpu_per_request: None,
        elapsed,
        cpu_used,
    };
    while let Some(joined) = workers.join_next().await {
        let (latency, count, bytes, errors, first_error) =
            joined.map_err(|e| format!("a page worker panicked: {e}"))??;
        run.latency.extend(latency);
        run.requests += count;
        run.body_bytes += bytes;
        run.errors += errors;
        if run.first_error.is_none() {
            run.first_error = first_error;
        }
    }
    run.per_second = run.requests as f64 / elapsed.as_secs_f64();
    run.cpu_per_request = run.cpu_used.map(|c| c / run.requests.max(1) as u32);
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_linked_assets() {
        let html = r#"<link rel="modulepreload" href="/pkg/site.abc.js"><link rel="preload" href="/pkg/site.abc.wasm"><link rel="stylesheet" id="leptos" href="/pkg/site.def.css">"#;
        assert_eq!(
            linked_assets(html),
            vec![
                "/pkg/site.abc.js".to_owned(),
                "/pkg/site.abc.wasm".to_owned(),
                "/pkg/site.def.css".to_owned()
            ]
        );
    }
}
