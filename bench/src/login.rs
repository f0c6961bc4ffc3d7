//! The login path as browsers and WeChat drive it: start attempts, wait on
//! their event streams (or poll), and deliver signed scan events.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use tokio::{sync::Semaphore, task::JoinSet, time::timeout};
use wechat::{
    callback::{open_reply, push_request, PushMode},
    message::event_xml,
    MessageCrypto,
};

use crate::{
    http::{self, status_of, Conn, EventStream},
    server::{ACCOUNT, AES_KEY, APPID, TOKEN},
    stats::Latencies,
};

/// Where the server listens.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub host: String,
}

/// One browser: its own cookie jar (the binding cookie) and attempt, and the
/// WeChat user who will scan its code.
#[derive(Clone, Debug)]
pub struct Browser {
    pub id: String,
    pub cookie: String,
    pub openid: String,
}

const USER_AGENT: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 loadtest";

/// Distinct fake openids across the whole run.
static NEXT_OPENID: AtomicU64 = AtomicU64::new(0);

fn fake_openid() -> String {
    // Real openids are 28 characters starting with "o".
    format!("obench{:022}", NEXT_OPENID.fetch_add(1, Ordering::Relaxed))
}

/// `n` browsers, each with an attempt from `POST /api/login/start`, over
/// `conns` keep-alive connections. Each start's time goes to `latencies`.
pub async fn start_browsers(
    target: &Target,
    n: usize,
    conns: usize,
    latencies: &mut Latencies,
) -> Result<Vec<Browser>, String> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..conns.clamp(1, n.max(1)) {
        let target = target.clone();
        let next = next.clone();
        workers.spawn(async move {
            let mut done = Vec::new();
            let mut lat = Latencies::default();
            let mut conn = Conn::connect(target.addr)
                .await
                .map_err(|e| format!("cannot connect: {e}"))?;
            let request = http::post(
                &target.host,
                "/api/login/start",
                "application/json",
                b"",
                &format!("user-agent: {USER_AGENT}\r\n"),
            );
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let sent = Instant::now();
                let response = conn
                    .request(&request)
                    .await
                    .map_err(|e| format!("POST /api/login/start failed: {e}"))?;
                lat.push(sent.elapsed());
                if response.head.status != 200 {
                    return Err(format!(
                        "POST /api/login/start answered {}: {}",
                        response.head.status,
                        response.text()
                    ));
                }
                let cookie = response
                    .head
                    .cookie("login_binding")
                    .ok_or("POST /api/login/start set no login_binding cookie".to_owned())?;
                let body: serde_json::Value = serde_json::from_slice(&response.body)
                    .map_err(|e| format!("POST /api/login/start: not JSON: {e}"))?;
                let id = body["id"]
                    .as_str()
                    .ok_or("POST /api/login/start: no id".to_owned())?
                    .to_owned();
                if body["qr_svg"].as_str().is_none_or(|s| !s.contains("<svg")) {
                    return Err("POST /api/login/start: no QR code SVG".into());
                }
                done.push((
                    i,
                    Browser {
                        id,
                        cookie,
                        openid: fake_openid(),
                    },
                ));
            }
            Ok::<_, String>((done, lat))
        });
    }
    let mut browsers: Vec<Option<Browser>> = vec![None; n];
    while let Some(joined) = workers.join_next().await {
        let (done, lat) = joined.map_err(|e| format!("a start worker panicked: {e}"))??;
        latencies.extend(lat);
        for (i, browser) in done {
            browsers[i] = Some(browser);
        }
    }
    browsers
        .into_iter()
        .map(|b| b.ok_or_else(|| "a login attempt was not started".to_owned()))
        .collect()
}

/// Builds the requests WeChat would send when each user scans.
pub struct Signer {
    crypto: Option<MessageCrypto>,
    mode: PushMode,
}

impl Signer {
    pub fn plain() -> Self {
        Self {
            crypto: None,
            mode: PushMode::Plain,
        }
    }

    /// Safe mode: the message encrypted, `msg_signature` over it.
    pub fn aes() -> Self {
        Self {
            crypto: Some(MessageCrypto::new(AES_KEY, APPID).expect("the fake AES key is valid")),
            mode: PushMode::Safe,
        }
    }

    /// A new follower scanning `browser`'s code: `subscribe` with
    /// `EventKey=qrscene_<id>`, signed (and encrypted in safe mode), stamped
    /// now with a nonce of its own (the server refuses a stamp it saw with
    /// another body).
    pub fn scan_request(&self, host: &str, browser: &Browser) -> Vec<u8> {
        static NONCES: AtomicU64 = AtomicU64::new(1);
        let nonce = NONCES.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let xml = event_xml(
            ACCOUNT,
            &browser.openid,
            now as i64,
            "subscribe",
            Some(&format!("qrscene_{}", browser.id)),
            Some("loadtest-ticket"),
        );
        let push = push_request(
            TOKEN,
            self.crypto.as_ref(),
            self.mode,
            &xml,
            &now.to_string(),
            &nonce.to_string(),
            &browser.openid,
        );
        let query: Vec<String> = push
            .query
            .iter()
            .map(|(k, v)| format!("{k}={}", http::encode(v)))
            .collect();
        http::post(
            host,
            &format!("/wechat/callback?{}", query.join("&")),
            "text/xml",
            push.body.as_bytes(),
            "",
        )
    }

    /// The text of our passive reply, as WeChat would read it.
    pub fn reply_text(&self, body: &str) -> Result<String, String> {
        let xml = open_reply(TOKEN, self.crypto.as_ref(), body)
            .map_err(|e| format!("a reply WeChat could not open: {e}"))?;
        Ok(wechat::message::parse_fields(xml.as_bytes())
            .ok()
            .and_then(|f| f.get("Content").map(str::to_owned))
            .unwrap_or(xml))
    }
}

/// A whole login, as a browser and WeChat do it: start, scan, complete.
/// The session cookie (`session=…`).
pub async fn log_in(target: &Target, signer: &Signer) -> Result<String, String> {
    let browser = start_browsers(target, 1, 1, &mut Latencies::default())
        .await?
        .remove(0);
    let mut conn = Conn::connect(target.addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let scan = conn
        .request(&signer.scan_request(&target.host, &browser))
        .await
        .map_err(|e| format!("POST /wechat/callback failed: {e}"))?;
    if scan.head.status != 200 {
        return Err(format!("the scan answered {}", scan.head.status));
    }
    let complete = conn
        .request(&http::post(
            &target.host,
            &format!("/api/login/{}/complete", browser.id),
            "application/json",
            b"",
            &format!("cookie: {}\r\nuser-agent: {USER_AGENT}\r\n", browser.cookie),
        ))
        .await
        .map_err(|e| format!("POST /api/login/…/complete failed: {e}"))?;
    if complete.head.status != 200 {
        return Err(format!(
            "completing a login answered {}: {}",
            complete.head.status,
            complete.text()
        ));
    }
    complete
        .head
        .cookie("session")
        .ok_or_else(|| "completing a login set no session cookie".to_owned())
}

/// Whether a reply tells the WeChat user they are logged in.
pub fn says_logged_in(text: &str) -> bool {
    text.starts_with("登录成功")
}

/// One delivered callback.
pub struct Delivery {
    pub index: usize,
    pub status: u16,
    pub body: String,
    pub response_time: Duration,
}

/// Delivers `requests[i]` at `schedule[i]` (open loop) over up to `conns`
/// keep-alive connections.
pub async fn deliver_on_schedule(
    addr: SocketAddr,
    requests: Arc<Vec<Vec<u8>>>,
    schedule: Arc<Vec<Instant>>,
    conns: usize,
) -> Result<Vec<Delivery>, String> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..conns.clamp(1, requests.len().max(1)) {
        let (requests, schedule, next) = (requests.clone(), schedule.clone(), next.clone());
        workers.spawn(async move {
            let mut conn = Conn::connect(addr)
                .await
                .map_err(|e| format!("cannot connect for callbacks: {e}"))?;
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests.len() {
                    break;
                }
                tokio::time::sleep_until(schedule[i].into()).await;
                let response = conn
                    .request(&requests[i])
                    .await
                    .map_err(|e| format!("POST /wechat/callback failed: {e}"))?;
                done.push(Delivery {
                    index: i,
                    status: response.head.status,
                    body: response.text(),
                    response_time: schedule[i].elapsed(),
                });
            }
            Ok::<_, String>(done)
        });
    }
    let mut all = Vec::with_capacity(requests.len());
    while let Some(joined) = workers.join_next().await {
        all.extend(joined.map_err(|e| format!("a callback worker panicked: {e}"))??);
    }
    all.sort_by_key(|d| d.index);
    Ok(all)
}

/// Delivers every request as fast as `conns` connections allow (closed
/// loop); the deliveries and the time it took.
pub async fn deliver_flat_out(
    addr: SocketAddr,
    requests: Arc<Vec<Vec<u8>>>,
    conns: usize,
) -> Result<(Vec<Delivery>, Duration), String> {
    let mut connections = Vec::new();
    for _ in 0..conns.clamp(1, requests.len().max(1)) {
        connections.push(
            Conn::connect(addr)
                .await
                .map_err(|e| format!("cannot connect for callbacks: {e}"))?,
        );
    }
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for mut conn in connections {
        let (requests, next) = (requests.clone(), next.clone());
        workers.spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests.len() {
                    break;
                }
                let sent = Instant::now();
                let response = conn
                    .request(&requests[i])
                    .await
                    .map_err(|e| format!("POST /wechat/callback failed: {e}"))?;
                done.push(Delivery {
                    index: i,
                    status: response.head.status,
                    body: response.text(),
                    response_time: sent.elapsed(),
                });
            }
            Ok::<_, String>(done)
        });
    }
    let mut all = Vec::with_capacity(requests.len());
    while let Some(joined) = workers.join_next().await {
        all.extend(joined.map_err(|e| format!("a callback worker panicked: {e}"))??);
    }
    let elapsed = started.elapsed();
    all.sort_by_key(|d| d.index);
    Ok((all, elapsed))
}

/// Checks every delivery: 200, and a reply that logs the user in.
/// WeChat scans each browser's code, the i-th push sent at `schedule[i]`.
async fn scan_each(
    target: &Target,
    signer: &Signer,
    browsers: &[Browser],
    schedule: &Arc<Vec<Instant>>,
    callback_conns: usize,
) -> Result<Vec<Delivery>, String> {
    let requests: Vec<Vec<u8>> = browsers
        .iter()
        .map(|b| signer.scan_request(&target.host, b))
        .collect();
    deliver_on_schedule(
        target.addr,
        Arc::new(requests),
        schedule.clone(),
        callback_conns,
    )
    .await
}

pub fn check_deliveries(signer: &Signer, deliveries: &[Delivery], problems: &mut Vec<String>) {
    let mut bad = 0;
    for d in deliveries {
        let ok = d.status == 200
            && signer
                .reply_text(&d.body)
                .is_ok_and(|text| says_logged_in(&text));
        if !ok {
            if bad < 3 {
                problems.push(format!(
                    "callback #{} answered {} {:?} instead of a logged-in reply",
                    d.index,
                    d.status,
                    d.body.chars().take(200).collect::<String>()
                ));
            }
            bad += 1;
        }
    }
    if bad > 3 {
        problems.push(format!(
            "… {bad} callbacks in all were not answered with a login"
        ));
    }
}

/// What one waiting browser saw on its event stream.
#[derive(Debug, Default)]
struct StreamOutcome {
    first: Option<String>,
    confirmed: u32,
    confirmed_at: Option<Instant>,
    others: Vec<String>,
    error: Option<String>,
}

/// Scan-to-browser over event streams, with the server memory they take.
pub struct SseRun {
    pub latency: Latencies,
    pub callback_times: Latencies,
    pub rss_before_kib: Option<u64>,
    pub rss_waiting_kib: Option<u64>,
    pub confirmed: usize,
    pub problems: Vec<String>,
}

/// `browsers` open their event streams on `target` and wait; then their
/// codes are scanned at `rate` per second, delivered to `scan_target` (the
/// same server, or another process on the same database).
pub async fn sse_run(
    target: &Target,
    scan_target: &Target,
    rss: &dyn Fn() -> Option<u64>,
    signer: &Signer,
    browsers: Vec<Browser>,
    rate: f64,
    callback_conns: usize,
) -> Result<SseRun, String> {
    let n = browsers.len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before_kib = rss();

    // Open the streams, a few hundred connection set-ups at a time.
    let opening = Arc::new(Semaphore::new(256));
    let ready = Arc::new(AtomicUsize::new(0));
    let give_up = Instant::now() + Duration::from_secs(120 + (n as f64 / rate) as u64);
    let mut streams = JoinSet::new();
    for (i, browser) in browsers.iter().enumerate() {
        let (target, opening, ready) = (target.clone(), opening.clone(), ready.clone());
        let request = http::get(
            &target.host,
            &format!("/api/login/{}/events", browser.id),
            &format!(
                "accept: text/event-stream\r\ncookie: {}\r\nuser-agent: {USER_AGENT}\r\n",
                browser.cookie
            ),
        );
        streams.spawn(async move {
            let mut outcome = StreamOutcome::default();
            let result = timeout(
                give_up.saturating_duration_since(Instant::now()),
                follow(target.addr, &request, &opening, &ready, &mut outcome),
            )
            .await;
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => outcome.error = Some(e),
                Err(_) => outcome.error = Some("the event stream did not end in time".into()),
            }
            (i, outcome)
        });
    }
    let wait_start = Instant::now();
    while ready.load(Ordering::Relaxed) < n {
        if let Some(Ok((i, outcome))) = streams.try_join_next() {
            return Err(format!(
                "browser #{i} stopped before its stream was open: {:?}",
                outcome.error
            ));
        }
        if wait_start.elapsed() > Duration::from_secs(120) {
            return Err(format!(
                "only {} of {n} event streams opened within 120 s",
                ready.load(Ordering::Relaxed)
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Let the server settle, then weigh it with everyone waiting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_waiting_kib = rss();

    let start = Instant::now() + Duration::from_millis(50);
    let schedule: Vec<Instant> = (0..n)
        .map(|i| start + Duration::from_secs_f64(i as f64 / rate))
        .collect();
    let schedule = Arc::new(schedule);
    let deliveries = scan_each(scan_target, signer, &browsers, &schedule, callback_conns).await?;

    let mut outcomes: Vec<Option<StreamOutcome>> = (0..n).map(|_| None).collect();
    while let Some(joined) = streams.join_next().await {
        let (i, outcome) = joined.map_err(|e| format!("a browser task panicked: {e}"))?;
        outcomes[i] = Some(outcome);
    }

    let mut problems = Vec::new();
    check_deliveries(signer, &deliveries, &mut problems);
    let mut callback_times = Latencies::default();
    for d in &deliveries {
        callback_times.push(d.response_time);
    }
    let mut latency = Latencies::default();
    let mut confirmed = 0;
    let (mut lost, mut duplicated, mut wrong_first, mut errors) = (0, 0, 0, 0);
    for (i, outcome) in outcomes.into_iter().enumerate() {
        let outcome = outcome.unwrap_or_default();
        if outcome.first.as_deref() != Some("pending") {
            wrong_first += 1;
        }
        match outcome.confirmed {
            0 => lost += 1,
            1 => confirmed += 1,
            _ => duplicated += 1,
        }
        if let Some(at) = outcome.confirmed_at {
            latency.push(at.saturating_duration_since(schedule[i]));
        }
        if let Some(error) = &outcome.error {
            if errors < 3 {
                problems.push(format!("browser #{i}: {error}"));
            }
            errors += 1;
        }
        if !outcome.others.is_empty() && problems.len() < 10 {
            problems.push(format!(
                "browser #{i} saw unexpected statuses {:?}",
                outcome.others
            ));
        }
    }
    if lost > 0 {
        problems.push(format!(
            "LOST: {lost} of {n} waiting browsers never heard \"confirmed\""
        ));
    }
    if duplicated > 0 {
        problems.push(format!(
            "DUPLICATED: {duplicated} browsers heard \"confirmed\" more than once"
        ));
    }
    if wrong_first > 0 {
        problems.push(format!(
            "{wrong_first} event streams did not start with the current status \"pending\""
        ));
    }
    if errors > 3 {
        problems.push(format!("… {errors} browsers in all had errors"));
    }
    Ok(SseRun {
        latency,
        callback_times,
        rss_before_kib,
        rss_waiting_kib,
        confirmed,
        problems,
    })
}

/// One browser's event stream, from connecting to its end.
async fn follow(
    addr: SocketAddr,
    request: &[u8],
    opening: &Semaphore,
    ready: &AtomicUsize,
    outcome: &mut StreamOutcome,
) -> Result<(), String> {
    let mut events = EventStream::default();
    let permit = opening.acquire().await.map_err(|e| e.to_string())?;
    let mut conn = Conn::connect(addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    conn.send(request)
        .await
        .map_err(|e| format!("cannot send: {e}"))?;
    let head = conn.head().await.map_err(|e| format!("no answer: {e}"))?;
    if head.status != 200
        || !head
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/event-stream"))
    {
        let body = conn.body(&head).await.unwrap_or_default();
        return Err(format!(
            "the event stream answered {}: {}",
            head.status,
            String::from_utf8_lossy(&body)
        ));
    }
    let mut permit = Some(permit);
    loop {
        let Some(chunk) = conn
            .chunk()
            .await
            .map_err(|e| format!("the event stream broke: {e}"))?
        else {
            // The server ends the stream after a terminal status.
            return Ok(());
        };
        let now = Instant::now();
        for data in events.feed(&chunk) {
            let status = status_of(&data).unwrap_or_else(|| format!("unreadable: {data}"));
            if outcome.first.is_none() {
                outcome.first = Some(status.clone());
                permit.take();
                ready.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if status == "confirmed" {
                outcome.confirmed += 1;
                outcome.confirmed_at.get_or_insert(now);
            } else {
                outcome.others.push(status);
            }
        }
    }
}

/// Scan-to-browser for browsers that poll `GET /api/login/{id}`.
pub struct PollRun {
    pub interval: Duration,
    pub latency: Latencies,
    pub confirmed: usize,
    pub problems: Vec<String>,
}

pub async fn poll_run(
    target: &Target,
    signer: &Signer,
    browsers: Vec<Browser>,
    rate: f64,
    interval: Duration,
    callback_conns: usize,
) -> Result<PollRun, String> {
    let n = browsers.len();
    // Pollers spread evenly over one interval, like page loads would be.
    let begin = Instant::now() + Duration::from_millis(200);
    let scans_start = begin + interval + Duration::from_millis(100);
    let schedule: Vec<Instant> = (0..n)
        .map(|i| scans_start + Duration::from_secs_f64(i as f64 / rate))
        .collect();
    let give_up = schedule[n - 1] + interval * 5 + Duration::from_secs(30);
    let mut pollers = JoinSet::new();
    for (i, browser) in browsers.iter().enumerate() {
        let target = target.clone();
        let request = http::get(
            &target.host,
            &format!("/api/login/{}", browser.id),
            &format!(
                "accept: application/json\r\ncookie: {}\r\nuser-agent: {USER_AGENT}\r\n",
                browser.cookie
            ),
        );
        let first = begin + interval.mul_f64(i as f64 / n as f64);
        pollers.spawn(async move {
            let result = async {
                let mut conn = Conn::connect(target.addr)
                    .await
                    .map_err(|e| format!("cannot connect: {e}"))?;
                let mut at = first;
                loop {
                    tokio::time::sleep_until(at.into()).await;
                    let response = conn
                        .request(&request)
                        .await
                        .map_err(|e| format!("poll failed: {e}"))?;
                    let status = status_of(&response.text()).unwrap_or_default();
                    match status.as_str() {
                        "confirmed" => return Ok(Instant::now()),
                        "pending" => {}
                        other => return Err(format!("poll answered {other:?}")),
                    }
                    if Instant::now() > give_up {
                        return Err("never confirmed".into());
                    }
                    at += interval;
                }
            }
            .await;
            (i, result)
        });
    }

    let schedule = Arc::new(schedule);
    let deliveries = scan_each(target, signer, &browsers, &schedule, callback_conns).await?;

    let mut problems = Vec::new();
    check_deliveries(signer, &deliveries, &mut problems);
    let mut latency = Latencies::default();
    let mut confirmed = 0;
    let mut lost = 0;
    while let Some(joined) = pollers.join_next().await {
        let (i, result) = joined.map_err(|e| format!("a poller panicked: {e}"))?;
        match result {
            Ok(at) => {
                confirmed += 1;
                latency.push(at.saturating_duration_since(schedule[i]));
            }
            Err(e) => {
                if lost < 3 {
                    problems.push(format!("polling browser #{i}: {e}"));
                }
                lost += 1;
            }
        }
    }
    if lost > 0 {
        problems.push(format!(
            "LOST: {lost} of {n} polling browsers never saw \"confirmed\""
        ));
    }
    Ok(PollRun {
        interval,
        latency,
        confirmed,
        problems,
    })
}
