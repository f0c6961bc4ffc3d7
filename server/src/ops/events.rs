//! Daily counts of what happened (`ops_events`), for the operator page.
//!
//! Two ways in, one table, and never a database write of its own on a
//! request's path:
//! - facts the database writer commits anyway (a session created, a follow
//!   through the login QR code, the end of a generation with its tokens)
//!   are counted inside that same transaction ([`count_in`]): exact, one
//!   more small statement in a commit that happens anyway, no extra commit
//!   or disk sync;
//! - failures (WeChat API errors, refused callbacks, DeepSeek errors) and
//!   outlines (their DeepSeek call writes nothing) are counted in memory
//!   ([`OpsEvents::count`]: a map increment under a mutex) and written by
//!   the database writer every [`FLUSH_EVERY`] and when the server stops,
//!   in one job (group commit with whatever else is being written). A crash
//!   loses at most a minute of these counts; the page adds the unwritten
//!   ones to what the table holds, so it is up to date.
//!
//! Kinds come from a fixed vocabulary (the functions below): the table
//! grows by days × kinds, whatever the traffic.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use rusqlite::Connection;
use sqlx::{PgConnection, PgPool};

use crate::{clock, db::StoreError, db_writer::DbWriter, state::Shutdown};

/// A session was created (a browser logged in).
pub const LOGIN: &str = "login";
/// A WeChat user followed the account by scanning a login QR code.
pub const FOLLOW_VIA_QR: &str = "follow_via_qr";
/// An outline made (one DeepSeek call, nothing stored).
pub const OUTLINE: &str = "outline";
/// Tokens DeepSeek read (prompts) and wrote (answers, reasoning included).
pub const PROMPT_TOKENS: &str = "tokens:prompt";
pub const COMPLETION_TOKENS: &str = "tokens:completion";
/// The prefix of a generation's end: `generation:done`, `…:failed`, ….
pub const GENERATION: &str = "generation:";

/// How often the in-memory counts are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(60);
/// Days kept.
pub const KEEP_DAYS: i64 = 400;
/// Distinct (day, kind) pairs held in memory between two writes; the
/// vocabulary is far smaller, this only bounds a mistake.
const MAX_PENDING: usize = 1_024;

const DAY_MS: i64 = 86_400_000;
const BEIJING_OFFSET_MS: i64 = 8 * 3_600_000;

/// The Beijing day of a Unix time in milliseconds, as days since 1970-01-01.
pub fn day_of(ms: i64) -> i64 {
    (ms + BEIJING_OFFSET_MS).div_euclid(DAY_MS)
}

/// The first millisecond of a Beijing day.
pub fn day_start_ms(day: i64) -> i64 {
    day * DAY_MS - BEIJING_OFFSET_MS
}

/// The kind of a failed WeChat API call: its errcode for the codes an
/// operator acts on, else what went wrong.
pub fn wechat_error(err: &wechat::ApiError) -> String {
    use wechat::ApiError;
    match err {
        ApiError::WeChat { code, .. } => match code {
            -1 | 40001 | 40013 | 40014 | 40125 | 40164 | 42001 | 45009 | 48001 => {
                format!("wechat:{code}")
            }
            _ => "wechat:other".into(),
        },
        ApiError::Timeout => "wechat:timeout".into(),
        ApiError::Http(_) => "wechat:unreachable".into(),
        ApiError::Status(_) | ApiError::Decode(_) => "wechat:bad_answer".into(),
        ApiError::InvalidScene => "wechat:other".into(),
    }
}

/// A refused callback request, by the cause it was refused for (the
/// callback's own fixed words, e.g. `bad_signature`).
pub fn callback_refused(cause: &str) -> String {
    let known = !cause.is_empty()
        && cause.len() <= 32
        && cause.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if known {
        format!("callback:{cause}")
    } else {
        "callback:other".into()
    }
}

/// A failed DeepSeek call, by what failed.
pub fn deepseek_error(err: &deepseek::Error) -> String {
    use deepseek::{Error, Timeout};
    let kind = match err {
        Error::BadRequest(_) | Error::InvalidParameters(_) | Error::InvalidRequest(_) => {
            "bad_request"
        }
        Error::Unauthorized => "unauthorized",
        Error::InsufficientBalance => "insufficient_balance",
        Error::RateLimited => "rate_limited",
        Error::ServerError | Error::Status { .. } => "server_error",
        Error::Overloaded => "overloaded",
        Error::Connect(_) | Error::Timeout(Timeout::Connect) => "unreachable",
        Error::Timeout(_) => "timeout",
        Error::StreamCut(_) => "cut",
        Error::Malformed(_) | Error::InStream(_) => "malformed",
    };
    format!("deepseek:{kind}")
}

/// Adds `amount` to `kind` today, inside the caller's transaction (the
/// database writer's).
pub fn count_in(db: &Connection, kind: &str, amount: u64, now_ms: i64) -> rusqlite::Result<()> {
    if amount == 0 {
        return Ok(());
    }
    db.prepare_cached(UPSERT_SQLITE)?
        .execute(rusqlite::params![
            day_of(now_ms),
            kind,
            i64::try_from(amount).unwrap_or(i64::MAX)
        ])?;
    Ok(())
}

/// [`count_in`] on PostgreSQL, inside the caller's transaction.
pub async fn count_in_postgres(
    db: &mut PgConnection,
    kind: &str,
    amount: u64,
    now_ms: i64,
) -> sqlx::Result<()> {
    if amount == 0 {
        return Ok(());
    }
    sqlx::query(UPSERT_POSTGRES)
        .bind(day_of(now_ms))
        .bind(kind)
        .bind(i64::try_from(amount).unwrap_or(i64::MAX))
        .execute(db)
        .await?;
    Ok(())
}

/// [`count_generation`] on PostgreSQL, inside the caller's transaction.
pub async fn count_generation_postgres(
    db: &mut PgConnection,
    status: &str,
    tokens: Option<(u64, u64)>,
    now_ms: i64,
) -> sqlx::Result<()> {
    count_in_postgres(db, &format!("{GENERATION}{status}"), 1, now_ms).await?;
    if let Some((prompt, completion)) = tokens {
        count_in_postgres(db, PROMPT_TOKENS, prompt, now_ms).await?;
        count_in_postgres(db, COMPLETION_TOKENS, completion, now_ms).await?;
    }
    Ok(())
}

/// Adds to a day's count on SQLite (its one writer commits batches).
const UPSERT_SQLITE: &str = "INSERT INTO ops_events (day, kind, count) VALUES ($1, $2, $3)
     ON CONFLICT (day, kind) DO UPDATE SET count = ops_events.count + excluded.count";

/// Adds to a day's count on PostgreSQL, in this connection's own row of it
/// (`shard`): a single row per day and kind made every transaction that
/// counted wait for the previous one's commit to reach the disk (see the
/// migration `…_ops_events_shards.sql` for the figures). Readers add the
/// rows up.
const UPSERT_POSTGRES: &str = "INSERT INTO ops_events (day, kind, shard, count)
     VALUES ($1, $2, pg_backend_pid() % 64, $3)
     ON CONFLICT (day, kind, shard) DO UPDATE SET count = ops_events.count + excluded.count";

/// Where the in-memory counts are written: SQLite's database writer (in
/// one job, committed with whatever else is being written) or a
/// PostgreSQL pool (one transaction).
#[derive(Clone)]
pub enum CountsStore {
    Sqlite(Arc<DbWriter>),
    Postgres(PgPool),
}

impl CountsStore {
    async fn add(&self, counts: Arc<Pending>) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(writer) => Ok(writer.run(move |db| write(db, &counts)).await?),
            Self::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                for ((day, kind), count) in counts.iter() {
                    sqlx::query(UPSERT_POSTGRES)
                        .bind(day)
                        .bind(kind)
                        .bind(i64::try_from(*count).unwrap_or(i64::MAX))
                        .execute(&mut *tx)
                        .await?;
                }
                Ok(tx.commit().await?)
            }
        }
    }

    async fn forget_before(&self, day: i64) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(writer) => {
                writer
                    .run(move |db| {
                        db.prepare_cached("DELETE FROM ops_events WHERE day < ?")?
                            .execute([day])
                    })
                    .await?;
            }
            Self::Postgres(pool) => {
                sqlx::query("DELETE FROM ops_events WHERE day < $1")
                    .bind(day)
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }
}

/// Counts the end of a generation (`status` as the database names it) and
/// the tokens it used, inside the transaction that stores that end.
pub fn count_generation(
    db: &Connection,
    status: &str,
    tokens: Option<(u64, u64)>,
    now_ms: i64,
) -> rusqlite::Result<()> {
    count_in(db, &format!("{GENERATION}{status}"), 1, now_ms)?;
    if let Some((prompt, completion)) = tokens {
        count_in(db, PROMPT_TOKENS, prompt, now_ms)?;
        count_in(db, COMPLETION_TOKENS, completion, now_ms)?;
    }
    Ok(())
}

type Pending = HashMap<(i64, String), u64>;

/// Counts not written yet.
#[derive(Default)]
pub struct OpsEvents {
    pending: Mutex<Pending>,
}

impl OpsEvents {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one `kind` now.
    pub fn count(&self, kind: String) {
        self.add(kind, 1);
    }

    /// Adds `amount` to `kind` now.
    pub fn add(&self, kind: String, amount: u64) {
        if amount == 0 {
            return;
        }
        let key = (day_of(clock::now_ms()), kind);
        let mut pending = self.lock();
        if pending.len() >= MAX_PENDING && !pending.contains_key(&key) {
            return;
        }
        let count = pending.entry(key).or_default();
        *count = count.saturating_add(amount);
    }

    /// A failed WeChat API call.
    pub fn wechat_error(&self, err: &wechat::ApiError) {
        self.count(wechat_error(err));
    }

    /// A failed DeepSeek call.
    pub fn deepseek_error(&self, err: &deepseek::Error) {
        self.count(deepseek_error(err));
    }

    /// Counts not written yet, as `(day, kind, count)`: the operator page
    /// adds them to what the table holds.
    pub fn pending(&self) -> Vec<(i64, String, u64)> {
        self.lock()
            .iter()
            .map(|((day, kind), count)| (*day, kind.clone(), *count))
            .collect()
    }

    /// Writes the pending counts in one go; on failure they stay pending
    /// for the next try.
    pub async fn flush(&self, store: &CountsStore) -> Result<(), StoreError> {
        let taken = std::mem::take(&mut *self.lock());
        if taken.is_empty() {
            return Ok(());
        }
        let taken = Arc::new(taken);
        let written = store.add(taken.clone()).await;
        if written.is_err() {
            let mut pending = self.lock();
            for ((day, kind), count) in taken.iter() {
                let kept = pending.entry((*day, kind.clone())).or_default();
                *kept = kept.saturating_add(*count);
            }
        }
        written
    }

    /// Writes the counts every [`FLUSH_EVERY`] and once more when the server
    /// stops, and forgets days older than [`KEEP_DAYS`] once a day. The
    /// returned task ends after that last write: the server waits for it
    /// before it stops the database writer.
    pub fn spawn_writer(
        self: Arc<Self>,
        store: CountsStore,
        shutdown: Shutdown,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let stopped = shutdown.stopped();
            tokio::pin!(stopped);
            let mut tick = tokio::time::interval(FLUSH_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut pruned_on = None;
            loop {
                let stopping = tokio::select! {
                    _ = &mut stopped => true,
                    _ = tick.tick() => false,
                };
                if let Err(err) = self.flush(&store).await {
                    tracing::warn!(error = %err, "cannot write the operator page's counts; trying again in a minute");
                }
                if stopping {
                    break;
                }
                let today = day_of(clock::now_ms());
                if pruned_on != Some(today) {
                    pruned_on = Some(today);
                    let before = today - KEEP_DAYS;
                    if let Err(err) = store.forget_before(before).await {
                        tracing::warn!(error = %err, "cannot remove old counts of the operator page");
                    }
                }
            }
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn write(db: &Connection, counts: &Pending) -> rusqlite::Result<()> {
    for ((day, kind), count) in counts {
        db.prepare_cached(UPSERT_SQLITE)?
            .execute(rusqlite::params![
                day,
                kind,
                i64::try_from(*count).unwrap_or(i64::MAX)
            ])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_beijing_days() {
        // 2026-11-22 00:30 in Beijing is 2026-11-21 16:30 UTC.
        let half_past_midnight = 1_795_278_600_000;
        let day = day_of(half_past_midnight);
        assert_eq!(day_start_ms(day), half_past_midnight - 30 * 60_000);
        assert_eq!(day_of(day_start_ms(day) - 1), day - 1);
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(-BEIJING_OFFSET_MS - 1), -1);
    }

    #[test]
    fn kinds_come_from_a_small_vocabulary() {
        let wechat = |code| wechat::ApiError::WeChat {
            code,
            message: "m".into(),
        };
        assert_eq!(wechat_error(&wechat(40164)), "wechat:40164");
        assert_eq!(wechat_error(&wechat(12345)), "wechat:other");
        assert_eq!(wechat_error(&wechat::ApiError::Timeout), "wechat:timeout");
        assert_eq!(callback_refused("bad_signature"), "callback:bad_signature");
        for odd in ["", "Bad", "a b", &"x".repeat(33), "drop;"] {
            assert_eq!(callback_refused(odd), "callback:other", "{odd}");
        }
        assert_eq!(
            deepseek_error(&deepseek::Error::InsufficientBalance),
            "deepseek:insufficient_balance"
        );
    }

    async fn database() -> (tempfile::TempDir, sqlx::SqlitePool, Arc<DbWriter>) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let db = crate::db::connect(&url).await.unwrap();
        let writer =
            DbWriter::spawn(&dir.path().join("t.db"), crate::db_writer::BUSY_TIMEOUT).unwrap();
        (dir, db, Arc::new(writer))
    }

    async fn count_of(db: &sqlx::SqlitePool, kind: &str) -> i64 {
        sqlx::query_as::<_, (i64,)>("SELECT COALESCE(SUM(count), 0) FROM ops_events WHERE kind = ?")
            .bind(kind)
            .fetch_one(db)
            .await
            .unwrap()
            .0
    }

    #[tokio::test]
    async fn counts_are_written_and_added_up() {
        let (_dir, db, writer) = database().await;
        let events = OpsEvents::new();
        for _ in 0..3 {
            events.count("wechat:40164".into());
        }
        events.add("tokens:prompt".into(), 0);
        assert_eq!(
            events.pending(),
            [(day_of(clock::now_ms()), "wechat:40164".to_owned(), 3)]
        );
        let store = CountsStore::Sqlite(writer);
        events.flush(&store).await.unwrap();
        assert!(events.pending().is_empty());
        events.count("wechat:40164".into());
        events.flush(&store).await.unwrap();
        assert_eq!(count_of(&db, "wechat:40164").await, 4);
    }

    #[tokio::test]
    async fn counts_inside_a_transaction_go_with_it() {
        let (_dir, db, writer) = database().await;
        let now = clock::now_ms();
        writer
            .run(move |db| count_generation(db, "done", Some((100, 2_000)), now))
            .await
            .unwrap();
        // A job that fails after counting leaves no count behind.
        let failed = writer
            .run(move |db| {
                count_in(db, LOGIN, 1, now)?;
                db.execute("INSERT INTO no_such_table VALUES (1)", [])
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(count_of(&db, "generation:done").await, 1);
        assert_eq!(count_of(&db, PROMPT_TOKENS).await, 100);
        assert_eq!(count_of(&db, COMPLETION_TOKENS).await, 2_000);
        assert_eq!(count_of(&db, LOGIN).await, 0);
    }

    #[tokio::test]
    async fn counts_that_cannot_be_written_stay_pending() {
        let (_dir, _db, writer) = database().await;
        let events = OpsEvents::new();
        events.count(LOGIN.into());
        writer.stop().await;
        assert!(events.flush(&CountsStore::Sqlite(writer)).await.is_err());
        assert_eq!(events.pending().len(), 1);
        assert_eq!(events.pending()[0].2, 1);
    }

    /// What counting inside a transaction adds to it. A figure, not a
    /// check: `cargo test -p server --lib count_in_cost -- --ignored
    /// --nocapture` (see `ops/mod.rs` for the figures measured).
    #[test]
    #[ignore]
    fn count_in_cost() {
        for synchronous in ["OFF", "FULL"] {
            let dir = tempfile::tempdir().unwrap();
            let db = Connection::open(dir.path().join("c.db")).unwrap();
            db.execute_batch(&format!(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous};
                 CREATE TABLE ops_events (day INTEGER NOT NULL, kind TEXT NOT NULL,
                     count INTEGER NOT NULL, PRIMARY KEY (day, kind)) WITHOUT ROWID;
                 CREATE TABLE t (n INTEGER);"
            ))
            .unwrap();
            let now = clock::now_ms();
            let rounds = if synchronous == "OFF" { 2_000 } else { 100 };
            let run = |count: bool| {
                let started = std::time::Instant::now();
                for n in 0..rounds {
                    db.execute_batch("BEGIN IMMEDIATE").unwrap();
                    db.prepare_cached("INSERT INTO t (n) VALUES (?)")
                        .unwrap()
                        .execute([n])
                        .unwrap();
                    if count {
                        count_in(&db, LOGIN, 1, now).unwrap();
                    }
                    db.execute_batch("COMMIT").unwrap();
                }
                started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds)
            };
            // Alternated, the median of each: the machine's load drifts.
            let (mut without, mut with) = (Vec::new(), Vec::new());
            for _ in 0..7 {
                without.push(run(false));
                with.push(run(true));
            }
            let median = |mut v: Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let (without, with) = (median(without), median(with));
            println!(
                "synchronous={synchronous}: a transaction without the count {without:.1} µs, \
                 with it {with:.1} µs ({:+.1} µs)",
                with - without
            );
        }
    }

    #[test]
    fn memory_is_bounded() {
        let events = OpsEvents::new();
        for i in 0..(MAX_PENDING + 10) {
            events.count(format!("kind{i}"));
        }
        assert_eq!(events.pending().len(), MAX_PENDING);
    }
}
