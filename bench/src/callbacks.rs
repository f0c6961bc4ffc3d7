//! Callback throughput: signed scan events as fast as the server takes
//! them, every login then checked in the database; WeChat's retries must
//! change nothing.

use std::{collections::HashSet, path::Path, str::FromStr, sync::Arc, time::Duration};

use sqlx::{
    sqlite::{SqliteConnectOptions, SqlitePoolOptions},
    AnyPool, SqlitePool,
};

use crate::{
    login::{check_deliveries, deliver_flat_out, Browser, Signer, Target},
    stats::Latencies,
};

pub struct ThroughputRun {
    pub sent: usize,
    pub per_second: f64,
    pub times: Latencies,
    pub retries: usize,
    /// Server CPU time (user + system) per callback.
    pub cpu_per_callback: Option<Duration>,
    pub problems: Vec<String>,
}

/// Opens the server's database beside it (WAL lets us read while it runs).
pub async fn open_db(path: &Path) -> Result<SqlitePool, String> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .map_err(|e| e.to_string())?
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(10));
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(|e| format!("cannot open the server's database: {e}"))
}

pub async fn count(db: &SqlitePool, sql: &str) -> Result<i64, String> {
    let (n,): (i64,) = sqlx::query_as(sql)
        .fetch_one(db)
        .await
        .map_err(|e| format!("{sql}: {e}"))?;
    Ok(n)
}

/// Opens the server's database by its URL, whichever engine (the checks'
/// SQL reads the same on both).
pub async fn open_any(url: &str) -> Result<AnyPool, String> {
    sqlx::any::install_default_drivers();
    sqlx::pool::PoolOptions::<sqlx::Any>::new()
        .max_connections(1)
        .connect(url)
        .await
        .map_err(|e| format!("cannot open the server's database: {e}"))
}

async fn count_any(db: &AnyPool, sql: &str) -> Result<i64, String> {
    let (n,): (i64,) = sqlx::query_as(sql)
        .fetch_one(db)
        .await
        .map_err(|e| format!("{sql}: {e}"))?;
    Ok(n)
}

pub async fn confirmed_ids(db: &AnyPool) -> Result<HashSet<String>, String> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM login_attempts WHERE status = 'confirmed'")
            .fetch_all(db)
            .await
            .map_err(|e| format!("cannot read the attempts: {e}"))?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

const EVENTS: &str = "SELECT COUNT(*) FROM wechat_events";
const USERS: &str = "SELECT COUNT(*) FROM users";
const CONFIRMED: &str = "SELECT COUNT(*) FROM login_attempts WHERE status = 'confirmed'";

pub async fn throughput_run(
    target: &Target,
    db_url: &str,
    signer: &Signer,
    browsers: &[Browser],
    conns: usize,
    retry_sample: usize,
    cpu: &dyn Fn() -> Option<Duration>,
) -> Result<ThroughputRun, String> {
    let db = open_any(db_url).await?;
    let events_before = count_any(&db, EVENTS).await?;
    let users_before = count_any(&db, USERS).await?;
    let confirmed_before = count_any(&db, CONFIRMED).await?;

    let requests: Arc<Vec<Vec<u8>>> = Arc::new(
        browsers
            .iter()
            .map(|b| signer.scan_request(&target.host, b))
            .collect(),
    );
    let cpu_before = cpu();
    let (deliveries, elapsed) = deliver_flat_out(target.addr, requests.clone(), conns).await?;
    let cpu_per_callback = cpu()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before) / browsers.len().max(1) as u32);
    let mut problems = Vec::new();
    check_deliveries(signer, &deliveries, &mut problems);
    let mut times = Latencies::default();
    for d in &deliveries {
        times.push(d.response_time);
    }

    // Every login is in the database, once.
    let confirmed = confirmed_ids(&db).await?;
    let lost = browsers
        .iter()
        .filter(|b| !confirmed.contains(&b.id))
        .count();
    if lost > 0 {
        problems.push(format!(
            "LOST: {lost} of {} scanned attempts are not confirmed in the database",
            browsers.len()
        ));
    }
    let n = browsers.len() as i64;
    let events = count_any(&db, EVENTS).await? - events_before;
    let users = count_any(&db, USERS).await? - users_before;
    let newly_confirmed = count_any(&db, CONFIRMED).await? - confirmed_before;
    if events != n || users != n || newly_confirmed != n {
        problems.push(format!(
            "{n} scans stored {events} pushes, {users} users and {newly_confirmed} confirmed attempts (expected {n} of each)"
        ));
    }

    // WeChat retries some of them: same answer, nothing changes.
    let sample = retry_sample.min(browsers.len());
    let retries = Arc::new(requests[..sample].to_vec());
    let (again, _) = deliver_flat_out(target.addr, retries, conns.min(16)).await?;
    let mut differing = 0;
    for (first, retry) in deliveries.iter().zip(&again) {
        let same = retry.status == 200
            && signer.reply_text(&retry.body).ok() == signer.reply_text(&first.body).ok();
        if !same {
            differing += 1;
        }
    }
    if differing > 0 {
        problems.push(format!(
            "{differing} of {sample} retried pushes got a different answer than the first time"
        ));
    }
    let events_after_retries = count_any(&db, EVENTS).await? - events_before;
    let users_after_retries = count_any(&db, USERS).await? - users_before;
    let confirmed_after_retries = count_any(&db, CONFIRMED).await? - confirmed_before;
    if (
        events_after_retries,
        users_after_retries,
        confirmed_after_retries,
    ) != (n, n, n)
    {
        problems.push(format!(
            "DUPLICATED: retries changed the database ({events_after_retries} pushes, {users_after_retries} users, {confirmed_after_retries} confirmed for {n} scans)"
        ));
    }
    db.close().await;

    Ok(ThroughputRun {
        sent: browsers.len(),
        per_second: browsers.len() as f64 / elapsed.as_secs_f64(),
        times,
        retries: sample,
        cpu_per_callback,
        problems,
    })
}
