//! One thread makes the site's frequent writes — the login's (WeChat
//! pushes, new attempts, completions, the clean-up in small chunks) and the
//! writing module's (articles, and the text of running generations in
//! batches) — and commits whatever arrived together in one transaction
//! (group commit).
//!
//! With `synchronous=FULL` every commit waits for the disk. Committed one by
//! one, writes queue for SQLite's write lock and, when they collide, sleep in
//! its busy handler for milliseconds. Here they queue in memory instead, and
//! the writes of all the requests waiting while one batch commits share the
//! next commit. Nothing is weakened: every job is answered only after the
//! commit that holds its data. One writer for the whole site, not one per
//! area: two would collide on SQLite's single write lock the same way.
//!
//! If a job fails, the batch is rolled back and each of its jobs is run again
//! alone, so one bad job cannot fail the others. If the transaction itself
//! cannot begin or commit (the database locked by another program, a disk
//! error), every job of the batch gets that error at once: alone, each would
//! wait for the same lock.
//!
//! The writer is a thread with its own connection: the statements of a batch
//! are plain function calls (rusqlite), and the wait for the disk blocks no
//! request. Each area brings its jobs as [`WriteJob`]s (the login's are in
//! `wechat_login::writer`), or a closure with [`DbWriter::run`].
//!
//! WeChat waits 5 s for a callback, so nothing may hold the writer long:
//! jobs are small (the login's clean-up comes as chunks of a few hundred
//! rows); the connection waits at most [`BUSY_TIMEOUT`] for another
//! program's write lock; a job whose requester stopped waiting is dropped
//! unwritten if the writer has not begun it, which spares an overloaded
//! writer work nobody awaits.

use std::{
    path::Path,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

/// Jobs that arrived together are committed together, up to this many.
const MAX_BATCH: usize = 128;
/// Jobs waiting beyond this make their senders wait (back-pressure).
const QUEUE: usize = 4096;

/// How long the writer's connection waits for another connection's write
/// lock (the pool's rare writes: logout, the access token) before its batch
/// fails. Short: a callback must be answered within seconds, and a failed
/// push is answered "try again", which WeChat does.
pub const BUSY_TIMEOUT: Duration = Duration::from_millis(1000);

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The batch's transaction could not begin or commit.
    #[error("{0}")]
    Transaction(String),
    #[error("the database writer has stopped")]
    Stopped,
}

pub type WriteResult<T> = Result<T, WriteError>;

/// A write, run by the writer thread inside a batch's transaction.
pub trait WriteJob: Send + 'static {
    /// Runs the job's statements. What it did stays in the job until
    /// [`finish`](Self::finish); a job run again (its batch failed because
    /// of another job) must overwrite what an earlier run kept.
    fn apply(&mut self, db: &Connection) -> rusqlite::Result<()>;
    /// After the batch's commit (`Ok`), or its failure: tell whoever waits.
    fn finish(self: Box<Self>, result: WriteResult<()>);
    /// Whether the requester stopped waiting: a job not yet begun is then
    /// dropped unwritten.
    fn abandoned(&self) -> bool;
}

/// The handle requests use; cheap to share.
pub struct DbWriter {
    jobs: mpsc::Sender<Message>,
    counts: Arc<Counts>,
}

/// What the writer has done since it started, for logs and benchmarks.
#[derive(Default)]
struct Counts {
    commits: AtomicU64,
    jobs: AtomicU64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Transactions committed.
    pub commits: u64,
    /// Jobs written.
    pub jobs: u64,
}

enum Message {
    Job(Box<dyn WriteJob>),
    /// Answered as soon as the thread takes it: it is alive and working
    /// through its queue.
    Ping(oneshot::Sender<()>),
    /// Ends the thread after the jobs sent before.
    Stop(oneshot::Sender<()>),
}

impl DbWriter {
    /// Opens the writer's own connection to the database file at `path`
    /// (already migrated) and starts its thread, which ends when the last
    /// handle is dropped, after the jobs already sent.
    pub fn spawn(path: &Path, busy_timeout: Duration) -> WriteResult<Self> {
        let db = open(path, busy_timeout)?;
        let (jobs, queue) = mpsc::channel(QUEUE);
        let counts = Arc::new(Counts::default());
        let thread_counts = counts.clone();
        std::thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || run(db, queue, &thread_counts))
            .map_err(|_| WriteError::Stopped)?;
        Ok(Self { jobs, counts })
    }

    /// Queues `job`; its [`WriteJob::finish`] tells how it went.
    pub async fn submit(&self, job: Box<dyn WriteJob>) -> WriteResult<()> {
        match self.jobs.send(Message::Job(job)).await {
            Ok(()) => Ok(()),
            Err(mpsc::error::SendError(Message::Job(job))) => {
                job.finish(Err(WriteError::Stopped));
                Err(WriteError::Stopped)
            }
            Err(_) => Err(WriteError::Stopped),
        }
    }

    /// Runs `statements` in the next batch and answers with what they
    /// returned, once committed. Nothing is written if they fail (nor if the
    /// caller stopped waiting before the writer began them).
    pub async fn run<T, F>(&self, statements: F) -> WriteResult<T>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (done, answer) = oneshot::channel();
        let job = Closure {
            statements,
            output: None,
            done,
        };
        self.submit(Box::new(job)).await?;
        // Dropped unanswered only if the thread died: treat as not written.
        answer.await.unwrap_or(Err(WriteError::Stopped))
    }

    /// Whether the thread is alive and taking jobs: answered when it gets
    /// to this one, so a stuck or dead writer never answers.
    pub async fn ping(&self) -> bool {
        let (done, answer) = oneshot::channel();
        self.jobs.send(Message::Ping(done)).await.is_ok() && answer.await.is_ok()
    }

    /// Stops the thread once the jobs already sent are written; later jobs
    /// fail with [`WriteError::Stopped`].
    pub async fn stop(&self) {
        let (done, answer) = oneshot::channel();
        if self.jobs.send(Message::Stop(done)).await.is_ok() {
            let _ = answer.await;
        }
    }

    pub fn stats(&self) -> WriterStats {
        WriterStats {
            commits: self.counts.commits.load(Ordering::Relaxed),
            jobs: self.counts.jobs.load(Ordering::Relaxed),
        }
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
    // FULL syncs each commit: a login WeChat delivered, or text DeepSeek
    // wrote, survives a crash once it is answered as stored.
    db.pragma_update(None, "synchronous", "FULL")?;
    db.pragma_update(None, "foreign_keys", "ON")?;
    db.set_prepared_statement_cache_capacity(64);
    Ok(db)
}

/// The thread: takes what is queued, up to [`MAX_BATCH`], and commits it.
fn run(mut db: Connection, mut queue: mpsc::Receiver<Message>, counts: &Counts) {
    while let Some(first) = queue.blocking_recv() {
        let mut batch: Vec<Box<dyn WriteJob>> = Vec::with_capacity(MAX_BATCH);
        let mut stop = None;
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Ping(done) => {
                    let _ = done.send(());
                }
                Message::Stop(done) => {
                    stop = Some(done);
                    break;
                }
                // Its requester stopped waiting: nobody would hear of it.
                Message::Job(job) if job.abandoned() => {}
                Message::Job(job) => batch.push(job),
            }
            if batch.len() < MAX_BATCH {
                next = queue.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            let (commits, jobs) = write_batch(&mut db, batch);
            counts.commits.fetch_add(commits, Ordering::Relaxed);
            counts.jobs.fetch_add(jobs, Ordering::Relaxed);
        }
        if let Some(done) = stop {
            let _ = done.send(());
            return;
        }
    }
}

/// Writes `batch` (see the module's comment for what happens on failure);
/// the transactions committed and the jobs they held.
pub fn write_batch(db: &mut Connection, mut batch: Vec<Box<dyn WriteJob>>) -> (u64, u64) {
    match apply_all(db, &mut batch) {
        Ok(()) => {
            let jobs = batch.len() as u64;
            for job in batch {
                job.finish(Ok(()));
            }
            (1, jobs)
        }
        // One job failed, in a batch of several: the others deserve a try.
        Err(BatchError::Job(err)) if batch.len() > 1 => {
            tracing::warn!(error = %err, jobs = batch.len(), "a batch of database writes failed; writing its jobs one by one");
            let mut written = 0;
            for job in batch {
                let mut alone = vec![job];
                let result = apply_all(db, &mut alone).map_err(|f| WriteError::from(f.error()));
                written += u64::from(result.is_ok());
                if let Some(job) = alone.pop() {
                    job.finish(result);
                }
            }
            (written, written)
        }
        Err(BatchError::Job(err)) => {
            if let Some(job) = batch.pop() {
                job.finish(Err(err.into()));
            }
            (0, 0)
        }
        // The transaction itself failed (locked, disk): so would each alone.
        Err(BatchError::Transaction(err)) => {
            let err = err.to_string();
            for job in batch {
                job.finish(Err(WriteError::Transaction(err.clone())));
            }
            (0, 0)
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
fn apply_all(db: &mut Connection, jobs: &mut [Box<dyn WriteJob>]) -> Result<(), BatchError> {
    // IMMEDIATE takes the write lock up front: a reader's transaction cannot
    // make ours fail halfway.
    let tx = db
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(BatchError::Transaction)?;
    for job in jobs.iter_mut() {
        job.apply(&tx).map_err(BatchError::Job)?;
    }
    // Returns once the commit is on disk (synchronous=FULL).
    tx.commit().map_err(BatchError::Transaction)
}

/// [`DbWriter::run`]'s job.
struct Closure<T, F> {
    statements: F,
    output: Option<T>,
    done: oneshot::Sender<WriteResult<T>>,
}

impl<T, F> WriteJob for Closure<T, F>
where
    T: Send + 'static,
    F: FnMut(&Connection) -> rusqlite::Result<T> + Send + 'static,
{
    fn apply(&mut self, db: &Connection) -> rusqlite::Result<()> {
        self.output = Some((self.statements)(db)?);
        Ok(())
    }

    fn finish(self: Box<Self>, result: WriteResult<()>) {
        let Closure { output, done, .. } = *self;
        let answer = result.and_then(|()| output.ok_or(WriteError::Stopped));
        let _ = done.send(answer);
    }

    fn abandoned(&self) -> bool {
        self.done.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn writer() -> (tempfile::TempDir, sqlx::SqlitePool, DbWriter) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/w.db", dir.path().display());
        let pool = crate::db::connect(&url).await.unwrap();
        sqlx::query("CREATE TABLE t (n INTEGER PRIMARY KEY)")
            .execute(&pool)
            .await
            .unwrap();
        let writer = DbWriter::spawn(&dir.path().join("w.db"), BUSY_TIMEOUT).unwrap();
        (dir, pool, writer)
    }

    fn insert(n: i64) -> impl FnMut(&Connection) -> rusqlite::Result<usize> + Send + 'static {
        move |db| db.execute("INSERT INTO t (n) VALUES (?)", [n])
    }

    #[tokio::test]
    async fn closures_are_answered_after_their_commit_and_fail_alone() {
        let (_dir, pool, writer) = writer().await;
        let writer = Arc::new(writer);
        let mut tasks = Vec::new();
        for n in [1, 2, 2, 3] {
            let writer = writer.clone();
            tasks.push(tokio::spawn(async move { writer.run(insert(n)).await }));
        }
        let mut ok = 0;
        for task in tasks {
            if task.await.unwrap().is_ok() {
                ok += 1;
            }
        }
        assert_eq!(ok, 3, "the duplicate fails, the others are written");
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM t")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(n, 3);
        // Jobs are answered before their batch is counted: a ping is taken
        // only after that.
        assert!(writer.ping().await);
        let stats = writer.stats();
        assert_eq!(stats.jobs, 3);
        assert!(stats.commits >= 1);
    }

    #[tokio::test]
    async fn an_abandoned_job_is_not_written_and_stop_ends_the_thread() {
        let (dir, pool, _writer) = writer().await;
        let db = open(&dir.path().join("w.db"), BUSY_TIMEOUT).unwrap();
        let (jobs, queue) = mpsc::channel(16);
        let job = |n: i64| {
            let (done, answer) = oneshot::channel();
            let job = Closure {
                statements: insert(n),
                output: None,
                done,
            };
            (Message::Job(Box::new(job)), answer)
        };
        let (given_up, answer) = job(1);
        drop(answer);
        let (kept, kept_answer) = job(2);
        let (stop, stopped) = oneshot::channel();
        let (after, after_answer) = job(3);
        for message in [given_up, kept, Message::Stop(stop), after] {
            assert!(jobs.try_send(message).is_ok());
        }
        let counts = Counts::default();
        std::thread::scope(|s| {
            s.spawn(|| run(db, queue, &counts));
        });
        stopped.await.unwrap();
        kept_answer.await.unwrap().unwrap();
        assert!(after_answer.await.is_err(), "not written after the stop");
        let (n,): (i64,) = sqlx::query_as("SELECT n FROM t")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(n, 2);
    }

    #[tokio::test]
    async fn a_stopped_writer_writes_nothing_more() {
        let (_dir, _pool, writer) = writer().await;
        assert!(writer.ping().await);
        writer.run(insert(1)).await.unwrap();
        writer.stop().await;
        assert!(!writer.ping().await);
        assert!(matches!(
            writer.run(insert(2)).await,
            Err(WriteError::Stopped)
        ));
    }
}
