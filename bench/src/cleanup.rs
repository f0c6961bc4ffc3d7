//! Callbacks while the clean-up deletes a big backlog. WeChat waits 5 s for
//! a callback; the server promises an answer within 3 s whatever else it
//! does, and the clean-up is the biggest other write it makes.
//!
//! The server is started once (to create its schema; browsers start their
//! logins then), stopped, given a backlog of stale rows of every kind the
//! clean-up removes, and started again: its clean-up begins at start.
//! Meanwhile the browsers' codes are scanned at a steady rate (open loop);
//! the table has the callbacks' latency and status, and how long the
//! backlog took to go.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use sqlx::SqlitePool;

use crate::{
    callbacks::{count, open_db},
    login::{check_deliveries, deliver_on_schedule, Browser, Signer, Target},
    stats::Latencies,
};

/// Three days ago: stale for every kind (a day is the longest any is kept).
fn long_ago() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64;
    now - 3 * 86_400_000
}

/// Fills the (migrated, idle) database at `db` with `per_kind` stale rows
/// of each kind the clean-up removes: attempts, sessions, handled pushes and
/// (where the schema has them) push stamps. The number of rows in all.
pub async fn seed_backlog(db: &SqlitePool, per_kind: u64) -> Result<u64, String> {
    let old = long_ago();
    let run = |sql: &'static str| async move {
        sqlx::query(sql)
            .bind(per_kind as i64)
            .bind(old)
            .execute(db)
            .await
            .map_err(|e| format!("seeding the backlog: {e}"))
    };
    sqlx::query(
        "INSERT INTO users (openid, display_name, following, created_at)
         VALUES ('obacklog000000000000000000000', 'backlog', 1, 0) ON CONFLICT DO NOTHING",
    )
    .execute(db)
    .await
    .map_err(|e| format!("seeding the backlog: {e}"))?;
    run("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO login_attempts (id, binding_hash, status, client_ip, user_agent, created_at, expires_at)
         SELECT printf('%032x', i), x'00', 'pending', '127.0.0.1', 'backlog', ?2, ?2 FROM n")
    .await?;
    run("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
         SELECT randomblob(32), (SELECT id FROM users WHERE openid = 'obacklog000000000000000000000'), ?2, ?2 FROM n")
    .await?;
    run(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO wechat_events (dedup_key, received_at) SELECT 'backlog-' || i, ?2 FROM n",
    )
    .await?;
    let mut kinds = 3;
    let stamps = count(
        db,
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'push_nonces'",
    )
    .await?;
    if stamps == 1 {
        run(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
             INSERT INTO push_nonces (timestamp, nonce, body_hash, received_at)
             SELECT ?2 / 1000, 'backlog-' || i, x'00', ?2 FROM n",
        )
        .await?;
        kinds += 1;
    }
    Ok(per_kind * kinds)
}

/// Stale rows of the backlog still there (handled pushes: the clean-up
/// removes every kind in the same chunks, and the old one-statement-per-kind
/// clean-up removed these last).
const REMAINING: &str =
    "SELECT COUNT(*) FROM wechat_events WHERE dedup_key >= 'backlog-' AND dedup_key < 'backlog.'";

pub struct CleanupRun {
    pub scans: usize,
    /// Callbacks answered 200.
    pub ok: usize,
    pub callbacks: Latencies,
    /// Callbacks answered while backlog rows were still being removed.
    pub during: usize,
    /// From the server's start to the last backlog row gone; `None` if it
    /// was not gone when the tool stopped watching.
    pub cleanup_took: Option<Duration>,
    pub problems: Vec<String>,
}

/// `launched`: when the server with the backlog was started (its clean-up
/// began then). Scans the codes of `browsers` at `rate`.
pub async fn run(
    target: &Target,
    db_path: &std::path::Path,
    launched: Instant,
    browsers: &[Browser],
    rate: f64,
    callback_conns: usize,
) -> Result<CleanupRun, String> {
    let n = browsers.len();
    let db = open_db(db_path).await?;
    // Watch the backlog go, beside the load.
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (db, stop) = (db.clone(), stop.clone());
        tokio::spawn(async move {
            let give_up = Instant::now() + Duration::from_secs(900);
            while !stop.load(Ordering::Relaxed) && Instant::now() < give_up {
                if let Ok(0) = count(&db, REMAINING).await {
                    return Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            None
        })
    };

    let signer = Signer::plain();
    let requests: Vec<Vec<u8>> = browsers
        .iter()
        .map(|b| signer.scan_request(&target.host, b))
        .collect();
    let begin = Instant::now() + Duration::from_millis(20);
    let schedule: Vec<Instant> = (0..n)
        .map(|i| begin + Duration::from_secs_f64(i as f64 / rate))
        .collect();
    let schedule = Arc::new(schedule);
    let deliveries = deliver_on_schedule(
        target.addr,
        Arc::new(requests),
        schedule.clone(),
        callback_conns,
    )
    .await?;

    let ended = match tokio::time::timeout(Duration::from_secs(900), watcher).await {
        Ok(Ok(ended)) => ended,
        _ => None,
    };
    stop.store(true, Ordering::Relaxed);
    db.close().await;

    let mut problems = Vec::new();
    check_deliveries(&signer, &deliveries, &mut problems);
    let mut callbacks = Latencies::default();
    let mut during = 0;
    for d in &deliveries {
        callbacks.push(d.response_time);
        let answered = schedule[d.index] + d.response_time;
        if ended.is_none_or(|end| answered < end) {
            during += 1;
        }
    }
    Ok(CleanupRun {
        scans: deliveries.len(),
        ok: deliveries.iter().filter(|d| d.status == 200).count(),
        callbacks,
        during,
        cleanup_took: ended.map(|end| end.duration_since(launched)),
        problems,
    })
}
