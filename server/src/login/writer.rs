//! One thread makes the login's frequent writes — WeChat pushes, new attempts,
//! completions — and commits whatever arrived together in one transaction
//! (group commit).
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
//! The writer is a thread with its own connection (the SQL is in `writes`):
//! the statements of a batch are plain function calls, and the wait for the
//! disk blocks no request.

use std::{path::Path, sync::Arc, time::Duration};

use app::{auth::User, modules::wechat_login::protocol::LoginStatus};
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};
use wechat::Message;

use super::{
    hub::LoginHub,
    inbox::{self, Outcome, Reply, Rules},
    writes,
};
use crate::clock;

/// Jobs that arrived together are committed together, up to this many.
const MAX_BATCH: usize = 128;
/// Jobs waiting beyond this make their senders wait (back-pressure).
const QUEUE: usize = 4096;

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

/// A new login attempt to store.
pub struct NewAttempt {
    pub id: String,
    pub binding_hash: Vec<u8>,
    pub client_ip: String,
    pub user_agent: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A confirmed attempt to redeem for a session.
pub struct Completion {
    pub attempt: String,
    pub user_id: i64,
    pub token_hash: Vec<u8>,
    pub expires_at: i64,
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
        message: Message,
        done: oneshot::Sender<WriteResult<Reply>>,
    },
    Start {
        attempt: NewAttempt,
        done: oneshot::Sender<WriteResult<()>>,
    },
    Complete {
        completion: Completion,
        done: oneshot::Sender<WriteResult<Completed>>,
    },
}

/// What a job did, before its commit.
enum Effect {
    Push(Outcome),
    Start,
    Complete(Completed),
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
        let db = writes::open(path, busy_timeout)?;
        let (jobs, queue) = mpsc::channel(QUEUE);
        let context = Context { db, hub, rules };
        std::thread::Builder::new()
            .name("login-writer".into())
            .spawn(move || run(context, queue))
            .map_err(|_| WriteError::Stopped)?;
        Ok(Self { jobs })
    }

    /// Handles a verified WeChat push; the passive reply.
    pub async fn push(&self, message: Message) -> WriteResult<Reply> {
        let (done, answer) = oneshot::channel();
        self.send(Job::Push { message, done }, answer).await
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

    async fn send<T>(&self, job: Job, answer: oneshot::Receiver<WriteResult<T>>) -> WriteResult<T> {
        self.jobs.send(job).await.map_err(|_| WriteError::Stopped)?;
        // Dropped unanswered only if the thread died: treat as not written.
        answer.await.unwrap_or(Err(WriteError::Stopped))
    }
}

fn run(mut context: Context, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.blocking_recv() {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        write_batch(&mut context, batch);
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
        Err(Failure::Job(err)) if batch.len() > 1 => {
            tracing::warn!(error = %err, jobs = batch.len(), "a batch of login writes failed; writing its jobs one by one");
            for job in batch {
                let result = apply_all(context, std::slice::from_ref(&job))
                    .map(|mut effects| effects.remove(0))
                    .map_err(|failure| WriteError::from(failure.error()));
                finish(context, job, result);
            }
        }
        Err(Failure::Job(err)) => {
            if let Some(job) = batch.into_iter().next() {
                finish(context, job, Err(err.into()));
            }
        }
        // The transaction itself failed (locked, disk): so would each alone.
        Err(Failure::Transaction(err)) => {
            let err = err.to_string();
            for job in batch {
                finish(context, job, Err(WriteError::Transaction(err.clone())));
            }
        }
    }
}

/// Why a batch was not committed.
enum Failure {
    /// Beginning or committing the transaction failed.
    Transaction(rusqlite::Error),
    /// A job's statement failed.
    Job(rusqlite::Error),
}

impl Failure {
    fn error(self) -> rusqlite::Error {
        match self {
            Failure::Transaction(err) | Failure::Job(err) => err,
        }
    }
}

/// Applies `jobs` in one transaction and commits it; nothing is kept if any
/// of them fails.
fn apply_all(context: &mut Context, jobs: &[Job]) -> Result<Vec<Effect>, Failure> {
    // IMMEDIATE takes the write lock up front: a reader's transaction cannot
    // make ours fail halfway.
    let tx = context
        .db
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(Failure::Transaction)?;
    let mut effects = Vec::with_capacity(jobs.len());
    for job in jobs {
        effects.push(apply(&context.rules, &tx, job).map_err(Failure::Job)?);
    }
    // Returns once the commit is on disk (synchronous=FULL).
    tx.commit().map_err(Failure::Transaction)?;
    Ok(effects)
}

fn apply(rules: &Rules, db: &Connection, job: &Job) -> writes::Result<Effect> {
    let now = clock::now_ms();
    Ok(match job {
        Job::Push { message, .. } => Effect::Push(inbox::apply(rules, db, message, now)?),
        Job::Start { attempt, .. } => {
            writes::insert_attempt(
                db,
                &attempt.id,
                &attempt.binding_hash,
                &attempt.client_ip,
                &attempt.user_agent,
                attempt.created_at,
                attempt.expires_at,
            )?;
            Effect::Start
        }
        Job::Complete { completion, .. } => {
            // Read first: a job either writes everything or nothing.
            let Some(user) = writes::find_user(db, completion.user_id)? else {
                return Ok(Effect::Complete(Completed::NoUser));
            };
            if !writes::mark_consumed(db, &completion.attempt, now)? {
                return Ok(Effect::Complete(Completed::AlreadyConsumed));
            }
            writes::create_session(
                db,
                &completion.token_hash,
                completion.user_id,
                now,
                completion.expires_at,
            )?;
            Effect::Complete(Completed::LoggedIn(user))
        }
    })
}

/// After the commit (or the failure): tell the waiting browsers, then answer.
fn finish(context: &Context, job: Job, result: WriteResult<Effect>) {
    match (job, result) {
        (Job::Push { done, .. }, Ok(Effect::Push(outcome))) => {
            if let Some((attempt, status)) = &outcome.changed {
                tracing::info!(attempt = %inbox::short(attempt), status = status.as_str(), "login scanned");
                context.hub.publish(attempt, *status);
            }
            let _ = done.send(Ok(outcome.reply));
        }
        (Job::Start { done, .. }, Ok(_)) => {
            let _ = done.send(Ok(()));
        }
        (Job::Complete { done, completion }, Ok(Effect::Complete(completed))) => {
            if matches!(completed, Completed::LoggedIn(_)) {
                context
                    .hub
                    .publish(&completion.attempt, LoginStatus::Consumed);
            }
            let _ = done.send(Ok(completed));
        }
        (job, Ok(_)) => {
            // Each job's effect has its own kind; nothing else can happen.
            job.fail(WriteError::Stopped);
        }
        (job, Err(err)) => job.fail(err),
    }
}

impl Job {
    fn fail(self, err: WriteError) {
        match self {
            Job::Push { done, .. } => {
                let _ = done.send(Err(err));
            }
            Job::Start { done, .. } => {
                let _ = done.send(Err(err));
            }
            Job::Complete { done, .. } => {
                let _ = done.send(Err(err));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::hub::MemoryHub;
    use wechat::message::{event_xml, parse_message};

    const ID: &str = "0123456789abcdef0123456789abcdef";

    const BUSY: Duration = Duration::from_millis(200);

    async fn context() -> (tempfile::TempDir, sqlx::SqlitePool, Context) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/w.db", dir.path().display());
        let pool = crate::db::connect(&url).await.unwrap();
        let file = crate::db::file_of(&pool).unwrap();
        let context = Context {
            db: writes::open(&file, BUSY).unwrap(),
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

    fn scan(openid: &str, id: &str) -> (Job, oneshot::Receiver<WriteResult<Reply>>) {
        let xml = event_xml(
            "gh_test",
            openid,
            1_700_000_000,
            "subscribe",
            Some(&format!("qrscene_{id}")),
            None,
        );
        let message = parse_message(xml.as_bytes()).unwrap();
        let (done, answer) = oneshot::channel();
        (Job::Push { message, done }, answer)
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
        assert!(
            matches!(&reply, Reply::Text(t) if t.starts_with("登录成功")),
            "{reply:?}"
        );
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
        assert!(
            matches!(&reply, Reply::Text(t) if t.starts_with("登录成功")),
            "{reply:?}"
        );
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
}
