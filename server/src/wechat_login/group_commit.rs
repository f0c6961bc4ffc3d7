//! One thread makes the login's writes — WeChat pushes, new attempts,
//! completions, the clean-up in small chunks — and commits whatever arrived
//! together in one transaction (group commit).
//!
//! With `synchronous=FULL` every commit waits for the disk. Committed one by
//! one, pushes queue for SQLite's write lock and, when they collide, sleep in
//! its busy handler for milliseconds. Here they queue in memory instead, and
//! the writes of all the requests waiting while one batch commits share the
//! next commit. Nothing is weakened: every request gets its answer only
//! after the commit that holds its data, and each push still first claims
//! its dedup key in the same transaction as its effects.
//!
//! If a job fails, the batch is rolled back and each of its jobs is run again
//! alone, so one bad job cannot fail the others. If the transaction itself
//! cannot begin or commit (the database locked by another program, a disk
//! error), every job of the batch gets that error at once: alone, each would
//! wait for the same lock.
//!
//! The writer is a thread with its own connection (rusqlite; the SQL is in
//! `attempt_sql`, `user_sql`, `push_sql` and `cleanup`): the statements of a
//! batch are plain function calls, and the wait for the disk blocks no
//! request. What a push means is decided in `push`.
//!
//! WeChat waits 5 s for a callback, so nothing may hold the writer long:
//! the clean-up comes as chunks of a few hundred rows, each one job among
//! the others; the connection waits at most [`BUSY_TIMEOUT`] for another
//! program's write lock; a job whose requester stopped waiting (the callback
//! answered "try again" at its deadline) is dropped unwritten if the writer
//! has not begun it, which spares an overloaded writer work nobody awaits.

use std::{path::Path, sync::Arc, time::Duration};

use app::{auth::User, modules::wechat_login::status::LoginStatus};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};
use wechat::Stamp;

use super::{
    attempt::NewAttempt,
    attempt_sql,
    cleanup::{self, Removed},
    hub::LoginHub,
    push::{self, Push, Reply, Rules, Taken},
    push_sql, user_sql,
};
use crate::clock;

/// Jobs that arrived together are committed together, up to this many.
const MAX_BATCH: usize = 128;
/// Jobs waiting beyond this make their senders wait (back-pressure).
const QUEUE: usize = 4096;

/// How long the writer's connection waits for another connection's write
/// lock (the pool's rare writes: logout, the access token) before its batch
/// fails. Short: a callback must be answered within seconds, and a failed
/// push is answered "try again", which WeChat does.
pub const BUSY_TIMEOUT: Duration = Duration::from_millis(1000);

/// The digest recorded with the stamp of a URL check (GET): no body hashes
/// to it, so the check's signed triple cannot be replayed as a push.
const URL_CHECK_DIGEST: [u8; 32] = [0; 32];

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The batch's transaction could not begin or commit.
    #[error("{0}")]
    Transaction(String),
    #[error("the login writer has stopped")]
    Stopped,
}

pub type WriteResult<T> = Result<T, WriteError>;

/// The handle requests use; cheap to share.
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

/// A confirmed attempt to redeem for a session.
pub struct Completion {
    pub attempt: String,
    pub user_id: i64,
    pub token_hash: Vec<u8>,
    pub expires_at: i64,
}

/// How a push went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Handled (or a retry of one handled): the passive reply.
    Reply(Reply),
    /// Its signed stamp came before with another body: refused, nothing
    /// changed.
    StampReused,
}

/// How a completion went.
pub enum Completed {
    /// The session exists; its user.
    LoggedIn(User),
    /// Another request redeemed the attempt first.
    AlreadyConsumed,
    /// The attempt's user is gone.
    NoUser,
}

enum Job {
    Push {
        push: Push,
        done: oneshot::Sender<WriteResult<Pushed>>,
    },
    /// The stamp of a URL check (GET), remembered like a push's.
    UrlCheck {
        stamp: Stamp,
        done: oneshot::Sender<WriteResult<()>>,
    },
    Start {
        attempt: NewAttempt,
        done: oneshot::Sender<WriteResult<()>>,
    },
    Complete {
        completion: Completion,
        done: oneshot::Sender<WriteResult<Completed>>,
    },
    /// One chunk of the clean-up.
    Clean {
        limit: u64,
        done: oneshot::Sender<WriteResult<(Removed, bool)>>,
    },
    /// Answered as soon as the thread takes it: it is alive and working
    /// through its queue.
    Ping { done: oneshot::Sender<()> },
    /// Ends the thread after the jobs sent before.
    Stop { done: oneshot::Sender<()> },
}

/// What a job did, before its commit.
enum Applied {
    Push(Taken),
    UrlCheck,
    Start,
    Complete(Completed),
    Clean((Removed, bool)),
    /// Pings and stops are answered in `run`, never batched.
    Control,
}

struct Context {
    db: Connection,
    hub: Arc<dyn LoginHub>,
    rules: Rules,
}

impl Writer {
    /// Opens the writer's own connection to the database file at `path`
    /// (already migrated) and starts its thread, which ends when the last
    /// `Writer` is dropped, after the jobs already sent.
    pub fn spawn(
        path: &Path,
        busy_timeout: Duration,
        hub: Arc<dyn LoginHub>,
        rules: Rules,
    ) -> Result<Self, WriteError> {
        let db = open(path, busy_timeout)?;
        let (jobs, queue) = mpsc::channel(QUEUE);
        let context = Context { db, hub, rules };
        std::thread::Builder::new()
            .name("login-writer".into())
            .spawn(move || run(context, queue))
            .map_err(|_| WriteError::Stopped)?;
        Ok(Self { jobs })
    }

    /// Handles a verified WeChat push: the passive reply, or the refusal
    /// of a reused signature.
    pub async fn push(&self, push: Push) -> WriteResult<Pushed> {
        let (done, answer) = oneshot::channel();
        self.send(Job::Push { push, done }, answer).await
    }

    /// Remembers the stamp of a URL check, so it cannot be replayed as a
    /// push.
    pub async fn url_check(&self, stamp: Stamp) -> WriteResult<()> {
        let (done, answer) = oneshot::channel();
        self.send(Job::UrlCheck { stamp, done }, answer).await
    }

    pub async fn insert_attempt(&self, attempt: NewAttempt) -> WriteResult<()> {
        let (done, answer) = oneshot::channel();
        self.send(Job::Start { attempt, done }, answer).await
    }

    /// Marks a confirmed attempt consumed and creates its session, once.
    pub async fn complete(&self, completion: Completion) -> WriteResult<Completed> {
        let (done, answer) = oneshot::channel();
        self.send(Job::Complete { completion, done }, answer).await
    }

    /// Deletes one chunk of stale rows (at most `limit` of each kind); what
    /// it removed and whether more may be left.
    pub async fn clean(&self, limit: u64) -> WriteResult<(Removed, bool)> {
        let (done, answer) = oneshot::channel();
        self.send(Job::Clean { limit, done }, answer).await
    }

    /// Whether the thread is alive and taking jobs: answered when it gets
    /// to this one, so a stuck or dead writer never answers.
    pub async fn ping(&self) -> bool {
        let (done, answer) = oneshot::channel();
        self.jobs.send(Job::Ping { done }).await.is_ok() && answer.await.is_ok()
    }

    /// Stops the thread once the jobs already sent are written; later jobs
    /// fail with [`WriteError::Stopped`].
    pub async fn stop(&self) {
        let (done, answer) = oneshot::channel();
        if self.jobs.send(Job::Stop { done }).await.is_ok() {
            let _ = answer.await;
        }
    }

    async fn send<T>(&self, job: Job, answer: oneshot::Receiver<WriteResult<T>>) -> WriteResult<T> {
        self.jobs.send(job).await.map_err(|_| WriteError::Stopped)?;
        // Dropped unanswered only if the thread died: treat as not written.
        answer.await.unwrap_or(Err(WriteError::Stopped))
    }
}

/// Opens the writer's connection to the (migrated) database at `path`, with
/// the settings of the pool (`db::connect`): WAL, a synced commit, foreign
/// keys, a busy timeout.
pub fn open(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let db = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    db.busy_timeout(busy_timeout)?;
    let mode: String = db.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "journal_mode is {mode}, not WAL"
        )));
    }
    // FULL syncs each commit: a login WeChat delivered survives a crash.
    db.pragma_update(None, "synchronous", "FULL")?;
    db.pragma_update(None, "foreign_keys", "ON")?;
    db.set_prepared_statement_cache_capacity(32);
    Ok(db)
}

fn run(mut context: Context, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.blocking_recv() {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut stop = None;
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Ping { done } => {
                    let _ = done.send(());
                }
                Job::Stop { done } => {
                    stop = Some(done);
                    break;
                }
                // Its requester stopped waiting: nobody would hear of it.
                job if job.abandoned() => {}
                job => batch.push(job),
            }
            if batch.len() < MAX_BATCH {
                next = queue.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            write_batch(&mut context, batch);
        }
        if let Some(done) = stop {
            let _ = done.send(());
            return;
        }
    }
}

fn write_batch(context: &mut Context, batch: Vec<Job>) {
    match apply_all(context, &batch) {
        Ok(effects) => {
            for (job, effect) in batch.into_iter().zip(effects) {
                finish(context, job, Ok(effect));
            }
        }
        // One job failed, in a batch of several: the others deserve a try.
        Err(BatchError::Job(err)) if batch.len() > 1 => {
            tracing::warn!(error = %err, jobs = batch.len(), "a batch of login writes failed; writing its jobs one by one");
            for job in batch {
                let result = apply_all(context, std::slice::from_ref(&job))
                    .map(|mut effects| effects.remove(0))
                    .map_err(|failure| WriteError::from(failure.error()));
                finish(context, job, result);
            }
        }
        Err(BatchError::Job(err)) => {
            if let Some(job) = batch.into_iter().next() {
                finish(context, job, Err(err.into()));
            }
        }
        // The transaction itself failed (locked, disk): so would each alone.
        Err(BatchError::Transaction(err)) => {
            let err = err.to_string();
            for job in batch {
                finish(context, job, Err(WriteError::Transaction(err.clone())));
            }
        }
    }
}

/// Why a batch was not committed.
enum BatchError {
    /// Beginning or committing the transaction failed.
    Transaction(rusqlite::Error),
    /// A job's statement failed.
    Job(rusqlite::Error),
}

impl BatchError {
    fn error(self) -> rusqlite::Error {
        match self {
            BatchError::Transaction(err) | BatchError::Job(err) => err,
        }
    }
}

/// Applies `jobs` in one transaction and commits it; nothing is kept if any
/// of them fails.
fn apply_all(context: &mut Context, jobs: &[Job]) -> Result<Vec<Applied>, BatchError> {
    // IMMEDIATE takes the write lock up front: a reader's transaction cannot
    // make ours fail halfway.
    let tx = context
        .db
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(BatchError::Transaction)?;
    let mut effects = Vec::with_capacity(jobs.len());
    for job in jobs {
        effects.push(apply(&context.rules, &tx, job).map_err(BatchError::Job)?);
    }
    // Returns once the commit is on disk (synchronous=FULL).
    tx.commit().map_err(BatchError::Transaction)?;
    Ok(effects)
}

fn apply(rules: &Rules, db: &Connection, job: &Job) -> rusqlite::Result<Applied> {
    let now = clock::now_ms();
    Ok(match job {
        Job::Push { push, .. } => Applied::Push(push::apply(rules, db, push, now)?),
        Job::UrlCheck { stamp, .. } => {
            push_sql::remember_stamp(db, stamp.timestamp, &stamp.nonce, &URL_CHECK_DIGEST, now)?;
            Applied::UrlCheck
        }
        Job::Start { attempt, .. } => {
            attempt_sql::insert(db, attempt)?;
            Applied::Start
        }
        Job::Complete { completion, .. } => {
            // Read first: a job either writes everything or nothing.
            let Some(user) = user_sql::find_user(db, completion.user_id)? else {
                return Ok(Applied::Complete(Completed::NoUser));
            };
            if !attempt_sql::record_completion(db, &completion.attempt, now)? {
                return Ok(Applied::Complete(Completed::AlreadyConsumed));
            }
            user_sql::create_session(
                db,
                &completion.token_hash,
                completion.user_id,
                now,
                completion.expires_at,
            )?;
            Applied::Complete(Completed::LoggedIn(user))
        }
        Job::Clean { limit, .. } => Applied::Clean(cleanup::delete_stale(db, now, *limit)?),
        Job::Ping { .. } | Job::Stop { .. } => Applied::Control,
    })
}

/// After the commit (or the failure): tell the waiting browsers, then answer.
fn finish(context: &Context, job: Job, result: WriteResult<Applied>) {
    match (job, result) {
        (Job::Push { done, .. }, Ok(Applied::Push(taken))) => {
            let pushed = match taken {
                Taken::Handled(outcome) => {
                    if let Some((attempt, status)) = &outcome.changed {
                        tracing::info!(attempt = %push::short(attempt), status = status.as_str(), "login scanned");
                        context.hub.publish(attempt, *status);
                    }
                    Pushed::Reply(outcome.reply)
                }
                Taken::StampReused => Pushed::StampReused,
            };
            let _ = done.send(Ok(pushed));
        }
        (Job::UrlCheck { done, .. }, Ok(_)) | (Job::Start { done, .. }, Ok(_)) => {
            let _ = done.send(Ok(()));
        }
        (Job::Complete { done, completion }, Ok(Applied::Complete(completed))) => {
            if matches!(completed, Completed::LoggedIn(_)) {
                context
                    .hub
                    .publish(&completion.attempt, LoginStatus::Consumed);
            }
            let _ = done.send(Ok(completed));
        }
        (Job::Clean { done, .. }, Ok(Applied::Clean(cleaned))) => {
            let _ = done.send(Ok(cleaned));
        }
        (job, Ok(_)) => {
            // Each job's effect has its own kind; nothing else can happen.
            job.fail(WriteError::Stopped);
        }
        (job, Err(err)) => job.fail(err),
    }
}

impl Job {
    /// Whether the requester stopped waiting for the answer.
    fn abandoned(&self) -> bool {
        match self {
            Job::Push { done, .. } => done.is_closed(),
            Job::UrlCheck { done, .. } | Job::Start { done, .. } => done.is_closed(),
            Job::Complete { done, .. } => done.is_closed(),
            Job::Clean { done, .. } => done.is_closed(),
            Job::Ping { done } | Job::Stop { done } => done.is_closed(),
        }
    }

    fn fail(self, err: WriteError) {
        match self {
            Job::Push { done, .. } => {
                let _ = done.send(Err(err));
            }
            Job::UrlCheck { done, .. } | Job::Start { done, .. } => {
                let _ = done.send(Err(err));
            }
            Job::Complete { done, .. } => {
                let _ = done.send(Err(err));
            }
            Job::Clean { done, .. } => {
                let _ = done.send(Err(err));
            }
            Job::Ping { .. } | Job::Stop { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechat_login::hub::MemoryHub;
    use wechat::message::{event_xml, parse_message};

    const ID: &str = "0123456789abcdef0123456789abcdef";

    const BUSY: Duration = Duration::from_millis(200);

    async fn context() -> (tempfile::TempDir, sqlx::SqlitePool, Context) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/w.db", dir.path().display());
        let pool = crate::db::connect(&url).await.unwrap();
        let file = crate::db::file_of(&pool).unwrap();
        let context = Context {
            db: open(&file, BUSY).unwrap(),
            hub: Arc::new(MemoryHub::new()),
            rules: Rules {
                site: "文思".into(),
                confirm_mode: false,
            },
        };
        (dir, pool, context)
    }

    fn start(id: &str) -> (Job, oneshot::Receiver<WriteResult<()>>) {
        let (done, answer) = oneshot::channel();
        let attempt = NewAttempt {
            id: id.into(),
            binding_hash: vec![1; 32],
            client_ip: "127.0.0.1".into(),
            user_agent: "test".into(),
            created_at: clock::now_ms(),
            expires_at: clock::now_ms() + 60_000,
        };
        (Job::Start { attempt, done }, answer)
    }

    fn push(openid: &str, id: &str, nonce: &str) -> Push {
        use sha2::{Digest, Sha256};
        let xml = event_xml(
            "gh_test",
            openid,
            1_700_000_000,
            "subscribe",
            Some(&format!("qrscene_{id}")),
            None,
        );
        Push {
            message: parse_message(xml.as_bytes()).unwrap(),
            stamp: Stamp {
                timestamp: clock::now_ms() / 1000,
                nonce: nonce.into(),
            },
            body_hash: Sha256::digest(xml.as_bytes()).into(),
        }
    }

    fn job(push: Push) -> (Job, oneshot::Receiver<WriteResult<Pushed>>) {
        let (done, answer) = oneshot::channel();
        (Job::Push { push, done }, answer)
    }

    fn scan(openid: &str, id: &str) -> (Job, oneshot::Receiver<WriteResult<Pushed>>) {
        job(push(openid, id, &format!("n-{openid}-{id}")))
    }

    fn logged_in(pushed: &Pushed) -> bool {
        matches!(pushed, Pushed::Reply(Reply::Text(t)) if t.starts_with("登录成功"))
    }

    async fn count(pool: &sqlx::SqlitePool, sql: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(sql).fetch_one(pool).await.unwrap();
        n
    }

    #[tokio::test]
    async fn the_connection_syncs_every_commit() {
        let (_dir, _pool, context) = context().await;
        let pragma = |name: &str| -> String {
            context
                .db
                .query_row(&format!("PRAGMA {name}"), [], |row| {
                    row.get::<_, rusqlite::types::Value>(0)
                })
                .map(|v| format!("{v:?}"))
                .unwrap()
        };
        assert_eq!(pragma("synchronous"), "Integer(2)", "FULL");
        assert_eq!(pragma("foreign_keys"), "Integer(1)");
        assert_eq!(pragma("journal_mode"), "Text(\"wal\")");
    }

    #[tokio::test]
    async fn a_batch_commits_together_and_is_answered_after_its_commit() {
        let (_dir, pool, mut context) = context().await;
        let (first, mut first_done) = start(ID);
        let (push, mut push_done) = scan("oAlice", ID);
        let (retry, mut retry_done) = scan("oAlice", ID);
        write_batch(&mut context, vec![first, push, retry]);

        first_done.try_recv().unwrap().unwrap();
        let reply = push_done.try_recv().unwrap().unwrap();
        assert!(logged_in(&reply), "{reply:?}");
        // A retry in the same batch gets the same answer and changes nothing.
        assert_eq!(retry_done.try_recv().unwrap().unwrap(), reply);
        let (confirmed,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM login_attempts WHERE status = 'confirmed'")
                .fetch_one(&pool)
                .await
                .unwrap();
        let (events,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM wechat_events")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!((confirmed, events), (1, 1));
    }

    #[tokio::test]
    async fn a_failing_job_fails_alone() {
        let (_dir, pool, mut context) = context().await;
        let (first, mut first_done) = start(ID);
        let (same_id, mut same_id_done) = start(ID);
        let (push, mut push_done) = scan("oAlice", ID);
        write_batch(&mut context, vec![first, same_id, push]);

        first_done.try_recv().unwrap().unwrap();
        assert!(same_id_done.try_recv().unwrap().is_err(), "a duplicate id");
        let reply = push_done.try_recv().unwrap().unwrap();
        assert!(logged_in(&reply), "{reply:?}");
        let (attempts,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM login_attempts")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(attempts, 1);
    }

    #[tokio::test]
    async fn a_batch_that_cannot_begin_fails_at_once_not_job_by_job() {
        let (dir, _pool, mut context) = context().await;
        let other = Connection::open(dir.path().join("w.db")).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let jobs: Vec<_> = (0..5).map(|i| start(&format!("{i:032x}"))).collect();
        let (jobs, mut answers): (Vec<_>, Vec<_>) = jobs.into_iter().unzip();
        let began = std::time::Instant::now();
        write_batch(&mut context, jobs);
        assert!(began.elapsed() < BUSY * 3, "{:?}", began.elapsed());
        for answer in &mut answers {
            assert!(matches!(
                answer.try_recv().unwrap(),
                Err(WriteError::Transaction(_))
            ));
        }
        other.execute_batch("ROLLBACK").unwrap();
    }

    #[tokio::test]
    async fn a_completion_happens_once() {
        let (_dir, _pool, mut context) = context().await;
        let (first, _) = start(ID);
        let (push, _) = scan("oAlice", ID);
        write_batch(&mut context, vec![first, push]);
        let user_id: i64 = context
            .db
            .query_row(
                "SELECT user_id FROM login_attempts WHERE id = ?",
                [ID],
                |r| r.get(0),
            )
            .unwrap();
        let completion = |token: u8| {
            let (done, answer) = oneshot::channel();
            let job = Job::Complete {
                completion: Completion {
                    attempt: ID.into(),
                    user_id,
                    token_hash: vec![token; 32],
                    expires_at: clock::now_ms() + 60_000,
                },
                done,
            };
            (job, answer)
        };
        let (a, mut a_done) = completion(1);
        let (b, mut b_done) = completion(2);
        write_batch(&mut context, vec![a, b]);
        assert!(matches!(
            a_done.try_recv().unwrap().unwrap(),
            Completed::LoggedIn(_)
        ));
        assert!(matches!(
            b_done.try_recv().unwrap().unwrap(),
            Completed::AlreadyConsumed
        ));
    }

    #[tokio::test]
    async fn a_reused_stamp_with_another_body_changes_nothing() {
        let (_dir, pool, mut context) = context().await;
        let (first, _) = start(ID);
        let other = "fedcba9876543210fedcba9876543210";
        let (second, _) = start(other);
        let (alice, mut alice_done) = job(push("oAlice", ID, "42"));
        // The same (timestamp, nonce) over another body, in the same batch
        // and in a later one.
        let (forged, mut forged_done) = job(push("oAlice", other, "42"));
        write_batch(&mut context, vec![first, second, alice, forged]);
        assert!(logged_in(&alice_done.try_recv().unwrap().unwrap()));
        assert_eq!(
            forged_done.try_recv().unwrap().unwrap(),
            Pushed::StampReused
        );
        let (again, mut again_done) = job(push("oMallory", other, "42"));
        write_batch(&mut context, vec![again]);
        assert_eq!(again_done.try_recv().unwrap().unwrap(), Pushed::StampReused);
        assert_eq!(
            count(
                &pool,
                "SELECT COUNT(*) FROM login_attempts WHERE status = 'pending'"
            )
            .await,
            1,
            "the other attempt is untouched"
        );
        assert_eq!(count(&pool, "SELECT COUNT(*) FROM users").await, 1);
        assert_eq!(count(&pool, "SELECT COUNT(*) FROM wechat_events").await, 1);
    }

    #[tokio::test]
    async fn the_clean_up_goes_in_chunks() {
        let (_dir, pool, mut context) = context().await;
        let old = clock::now_ms() - 3 * 86_400_000;
        for i in 0..25 {
            context
                .db
                .execute(
                    "INSERT INTO wechat_events (dedup_key, received_at) VALUES (?, ?)",
                    rusqlite::params![format!("old-{i}"), old],
                )
                .unwrap();
            context
                .db
                .execute(
                    "INSERT INTO push_nonces (timestamp, nonce, body_hash, received_at) VALUES (?, ?, x'00', ?)",
                    rusqlite::params![old / 1000, format!("{i}"), old],
                )
                .unwrap();
        }
        context
            .db
            .execute(
                "INSERT INTO push_nonces (timestamp, nonce, body_hash, received_at) VALUES (?, 'fresh', x'00', ?)",
                rusqlite::params![clock::now_ms() / 1000, clock::now_ms()],
            )
            .unwrap();
        let mut chunks = Vec::new();
        loop {
            let (done, mut answer) = oneshot::channel();
            write_batch(&mut context, vec![Job::Clean { limit: 10, done }]);
            let (removed, more) = answer.try_recv().unwrap().unwrap();
            chunks.push((removed.events, removed.stamps));
            if !more {
                break;
            }
        }
        assert_eq!(chunks, [(10, 10), (10, 10), (5, 5)]);
        assert_eq!(count(&pool, "SELECT COUNT(*) FROM wechat_events").await, 0);
        assert_eq!(
            count(&pool, "SELECT COUNT(*) FROM push_nonces").await,
            1,
            "a stamp within the window is kept"
        );
    }

    #[tokio::test]
    async fn an_abandoned_job_is_not_written_and_stop_ends_the_thread() {
        let (_dir, pool, context) = context().await;
        let (jobs, queue) = mpsc::channel(16);
        let (given_up, answer) = start(ID);
        drop(answer);
        let (kept, kept_answer) = start("fedcba9876543210fedcba9876543210");
        let (stop, stopped) = oneshot::channel();
        let (after, after_answer) = start("00000000000000000000000000000000");
        for job in [given_up, kept, Job::Stop { done: stop }, after] {
            jobs.try_send(job).ok().unwrap();
        }
        std::thread::spawn(move || run(context, queue))
            .join()
            .unwrap();
        stopped.await.unwrap();
        kept_answer.await.unwrap().unwrap();
        assert!(after_answer.await.is_err(), "not written after the stop");
        assert_eq!(count(&pool, "SELECT COUNT(*) FROM login_attempts").await, 1);
    }

    #[tokio::test]
    async fn a_stopped_writer_does_not_answer_pings() {
        let (dir, _pool, _context) = context().await;
        let writer = Writer::spawn(
            &dir.path().join("w.db"),
            BUSY,
            Arc::new(MemoryHub::new()),
            Rules {
                site: "文思".into(),
                confirm_mode: false,
            },
        )
        .unwrap();
        assert!(writer.ping().await);
        writer.stop().await;
        assert!(!writer.ping().await);
        assert!(matches!(writer.clean(10).await, Err(WriteError::Stopped)));
    }
}
