//! The login's writes on SQLite — WeChat pushes, new attempts, completions,
//! the clean-up in small chunks — as jobs of the site's database writer
//! ([`crate::db_writer`]), which commits whatever arrived together in one
//! transaction (group commit). The login's SQLite store
//! (`store::sqlite`) sends its writes here; PostgreSQL has no such thread
//! (`store::postgres`).
//!
//! Nothing is weakened by the batching: every request gets its answer only
//! after the commit that holds its data, and each push still first claims
//! its dedup key in the same transaction as its effects. The browsers
//! waiting for an attempt hear of its change after that commit, from the
//! writer thread, even if the request that carried it stopped waiting.
//!
//! WeChat waits 5 s for a callback, so nothing may hold the writer long:
//! the clean-up comes as chunks of a few hundred rows, each one job among
//! the others; a job whose requester stopped waiting (the callback answered
//! "try again" at its deadline) is dropped unwritten if the writer has not
//! begun it.

use std::sync::Arc;

use app::{auth::User, modules::wechat_login::status::LoginStatus};
use futures_util::FutureExt;
use rusqlite::Connection;
use tokio::sync::oneshot;
use wechat::Stamp;

use super::{
    attempt::{Attempt, NewAttempt},
    attempt_sql,
    cleanup::{self, Removed},
    completion::{self, Authorized, Completed, Completion},
    hub::LoginHub,
    login_tx::LoginTx,
    push::{self, Push, Pushed, Rules, Taken},
    push_sql::{self, StampSeen},
    store::URL_CHECK_DIGEST,
    user_sql,
};
pub use crate::db_writer::{WriteError, WriteResult, BUSY_TIMEOUT};
use crate::{
    clock,
    db_writer::{DbWriter, WriteJob},
    ops::events,
};

/// The handle requests use; cheap to share.
pub struct Writer {
    db: Arc<DbWriter>,
    hub: Arc<dyn LoginHub>,
    rules: Arc<Rules>,
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
    /// A one-tap login: its attempt goes from pending through confirmed to
    /// consumed at once, so its `state` serves once.
    Authorized {
        authorized: Authorized,
        done: oneshot::Sender<WriteResult<Completed>>,
    },
    /// One chunk of the clean-up.
    Clean {
        limit: u64,
        done: oneshot::Sender<WriteResult<(Removed, bool)>>,
    },
}

/// What a job did, before its commit.
enum Applied {
    Push(Taken),
    UrlCheck,
    Start,
    Complete(Completed),
    Clean((Removed, bool)),
}

/// A login job as the database writer runs it: the job, what it needs
/// besides the database, and its effect until the commit.
struct LoginJob {
    job: Job,
    applied: Option<Applied>,
    hub: Arc<dyn LoginHub>,
    rules: Arc<Rules>,
}

impl WriteJob for LoginJob {
    fn apply(&mut self, db: &Connection) -> rusqlite::Result<()> {
        self.applied = Some(apply(&self.rules, db, &self.job)?);
        Ok(())
    }

    fn finish(self: Box<Self>, result: WriteResult<()>) {
        let LoginJob {
            job, applied, hub, ..
        } = *self;
        let result = result.and_then(|()| applied.ok_or(WriteError::Stopped));
        finish(hub.as_ref(), job, result);
    }

    fn abandoned(&self) -> bool {
        self.job.abandoned()
    }
}

impl Writer {
    /// The login's writes through `db`; `hub` hears of each committed
    /// change of an attempt.
    pub fn new(db: Arc<DbWriter>, hub: Arc<dyn LoginHub>, rules: Rules) -> Self {
        Self {
            db,
            hub,
            rules: Arc::new(rules),
        }
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

    /// Logs in the visitor of a one-tap login, once per attempt.
    pub async fn authorized(&self, authorized: Authorized) -> WriteResult<Completed> {
        let (done, answer) = oneshot::channel();
        self.send(Job::Authorized { authorized, done }, answer)
            .await
    }

    /// Deletes one chunk of stale rows (at most `limit` of each kind); what
    /// it removed and whether more may be left.
    pub async fn clean(&self, limit: u64) -> WriteResult<(Removed, bool)> {
        let (done, answer) = oneshot::channel();
        self.send(Job::Clean { limit, done }, answer).await
    }

    /// Whether the database writer is alive and taking jobs.
    pub async fn ping(&self) -> bool {
        self.db.ping().await
    }

    /// Stops the database writer once the jobs already sent are written;
    /// later jobs fail with [`WriteError::Stopped`].
    pub async fn stop(&self) {
        self.db.stop().await
    }

    async fn send<T>(&self, job: Job, answer: oneshot::Receiver<WriteResult<T>>) -> WriteResult<T> {
        self.db.submit(Box::new(self.job(job))).await?;
        // Dropped unanswered only if the thread died: treat as not written.
        answer.await.unwrap_or(Err(WriteError::Stopped))
    }

    fn job(&self, job: Job) -> LoginJob {
        LoginJob {
            job,
            applied: None,
            hub: self.hub.clone(),
            rules: self.rules.clone(),
        }
    }
}

fn apply(rules: &Rules, db: &Connection, job: &Job) -> rusqlite::Result<Applied> {
    let now = clock::now_ms();
    let db = &mut SqliteTx(db);
    Ok(match job {
        Job::Push { push, .. } => Applied::Push(at_once(push::apply(rules, db, push, now))?),
        Job::UrlCheck { stamp, .. } => {
            push_sql::remember_stamp(db.0, stamp.timestamp, &stamp.nonce, &URL_CHECK_DIGEST, now)?;
            Applied::UrlCheck
        }
        Job::Start { attempt, .. } => {
            at_once(db.insert_attempt(attempt))?;
            Applied::Start
        }
        Job::Complete { completion, .. } => {
            Applied::Complete(at_once(completion::complete(db, completion, now))?)
        }
        Job::Authorized { authorized, .. } => {
            Applied::Complete(at_once(completion::authorized(db, authorized, now))?)
        }
        Job::Clean { limit, .. } => Applied::Clean(cleanup::delete_stale(db.0, now, *limit)?),
    })
}

/// The result of a login transaction's steps on SQLite, which never wait:
/// the writer thread holds the connection and each step is a synchronous
/// rusqlite call, so the future is done at its first poll.
fn at_once<T>(
    steps: impl std::future::Future<Output = rusqlite::Result<T>>,
) -> rusqlite::Result<T> {
    steps
        .now_or_never()
        .expect("SQLite's login steps never wait")
}

/// The login's steps in the writer's transaction: its SQL is in
/// `attempt_sql`, `push_sql` and `user_sql`.
struct SqliteTx<'c>(&'c Connection);

impl LoginTx for SqliteTx<'_> {
    type Error = rusqlite::Error;

    async fn remember_stamp(
        &mut self,
        timestamp: i64,
        nonce: &str,
        body_hash: &[u8],
        now: i64,
    ) -> rusqlite::Result<StampSeen> {
        push_sql::remember_stamp(self.0, timestamp, nonce, body_hash, now)
    }

    async fn claim_event(&mut self, key: &str, now: i64) -> rusqlite::Result<bool> {
        push_sql::claim_event(self.0, key, now)
    }

    async fn handled_reply(&mut self, key: &str) -> rusqlite::Result<Option<String>> {
        push_sql::handled_reply(self.0, key)
    }

    async fn save_reply(&mut self, key: &str, reply: &str) -> rusqlite::Result<()> {
        push_sql::save_reply(self.0, key, reply)
    }

    async fn count(&mut self, kind: &str, now: i64) -> rusqlite::Result<()> {
        events::count_in(self.0, kind, 1, now)
    }

    async fn upsert_follower(
        &mut self,
        openid: &str,
        new_name: &str,
        now: i64,
    ) -> rusqlite::Result<User> {
        user_sql::upsert_follower(self.0, openid, new_name, now)
    }

    async fn upsert_visitor(
        &mut self,
        openid: &str,
        new_name: &str,
        now: i64,
    ) -> rusqlite::Result<User> {
        user_sql::upsert_visitor(self.0, openid, new_name, now)
    }

    async fn mark_unfollowed(&mut self, openid: &str, now: i64) -> rusqlite::Result<()> {
        user_sql::mark_unfollowed(self.0, openid, now)
    }

    async fn find_user(&mut self, id: i64) -> rusqlite::Result<Option<User>> {
        user_sql::find_user(self.0, id)
    }

    async fn find_attempt(&mut self, id: &str) -> rusqlite::Result<Option<Attempt>> {
        // The writer's transaction holds SQLite's one write lock: nobody
        // else changes the attempt meanwhile.
        attempt_sql::find_in(self.0, id)
    }

    async fn awaiting_confirmation(
        &mut self,
        openid: &str,
        now: i64,
    ) -> rusqlite::Result<Vec<Attempt>> {
        attempt_sql::awaiting_confirmation(self.0, openid, now)
    }

    async fn insert_attempt(&mut self, attempt: &NewAttempt) -> rusqlite::Result<()> {
        attempt_sql::insert(self.0, attempt)
    }

    async fn record_scan(
        &mut self,
        id: &str,
        user_id: i64,
        openid: &str,
        confirm_code: Option<&str>,
        now: i64,
    ) -> rusqlite::Result<Option<LoginStatus>> {
        attempt_sql::record_scan(self.0, id, user_id, openid, confirm_code, now)
    }

    async fn record_confirmation(&mut self, id: &str, now: i64) -> rusqlite::Result<bool> {
        attempt_sql::record_confirmation(self.0, id, now)
    }

    async fn record_completion(&mut self, id: &str, now: i64) -> rusqlite::Result<bool> {
        attempt_sql::record_completion(self.0, id, now)
    }

    async fn create_session(
        &mut self,
        token_hash: &[u8],
        user_id: i64,
        now: i64,
        expires_at: i64,
    ) -> rusqlite::Result<()> {
        user_sql::create_session(self.0, token_hash, user_id, now, expires_at)
    }
}

/// After the commit (or the failure): tell the waiting browsers, then answer.
fn finish(hub: &dyn LoginHub, job: Job, result: WriteResult<Applied>) {
    match (job, result) {
        (Job::Push { done, .. }, Ok(Applied::Push(taken))) => {
            let pushed = match taken {
                Taken::Handled(outcome) => {
                    if let Some((attempt, status)) = &outcome.changed {
                        tracing::info!(attempt = %push::short(attempt), status = status.as_str(), "login scanned");
                        hub.publish(attempt);
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
                hub.publish(&completion.attempt);
            }
            let _ = done.send(Ok(completed));
        }
        (Job::Authorized { done, .. }, Ok(Applied::Complete(completed))) => {
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
            Job::Complete { done, .. } | Job::Authorized { done, .. } => done.is_closed(),
            Job::Clean { done, .. } => done.is_closed(),
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
            Job::Complete { done, .. } | Job::Authorized { done, .. } => {
                let _ = done.send(Err(err));
            }
            Job::Clean { done, .. } => {
                let _ = done.send(Err(err));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechat_login::{hub::MemoryHub, push::Reply};
    use std::time::Duration;
    use wechat::message::{event_xml, parse_message};

    const ID: &str = "0123456789abcdef0123456789abcdef";

    const BUSY: Duration = Duration::from_millis(200);

    /// The writer's connection and what login jobs need, without its
    /// thread: batches are written by hand.
    struct Context {
        db: Connection,
        hub: Arc<dyn LoginHub>,
        rules: Arc<Rules>,
    }

    async fn context() -> (tempfile::TempDir, sqlx::SqlitePool, Context) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/w.db", dir.path().display());
        let pool = crate::db::connect(&url).await.unwrap();
        let file = crate::db::file_of(&pool).unwrap();
        let context = Context {
            db: crate::db_writer::open(&file, BUSY).unwrap(),
            hub: Arc::new(MemoryHub::new()),
            rules: Arc::new(Rules {
                site: "文思".into(),
                confirm_mode: false,
            }),
        };
        (dir, pool, context)
    }

    /// Writes `jobs` as one batch of the database writer.
    fn write_batch(context: &mut Context, jobs: Vec<Job>) {
        let batch = jobs
            .into_iter()
            .map(|job| {
                Box::new(LoginJob {
                    job,
                    applied: None,
                    hub: context.hub.clone(),
                    rules: context.rules.clone(),
                }) as Box<dyn WriteJob>
            })
            .collect();
        crate::db_writer::write_batch(&mut context.db, batch);
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
                timestamp: stamp_time(),
                nonce: nonce.into(),
            },
            body_hash: Sha256::digest(xml.as_bytes()).into(),
        }
    }

    /// One timestamp for every push of the tests: reading the clock for each
    /// made two pushes meant to share a stamp differ when a second ended
    /// between them (seen once under load).
    fn stamp_time() -> i64 {
        static AT: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
        *AT.get_or_init(|| clock::now_ms() / 1000)
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
    async fn a_stopped_writer_does_not_answer_pings() {
        let (dir, _pool, _context) = context().await;
        let db = DbWriter::spawn(&dir.path().join("w.db"), BUSY).unwrap();
        let writer = Writer::new(
            Arc::new(db),
            Arc::new(MemoryHub::new()),
            Rules {
                site: "文思".into(),
                confirm_mode: false,
            },
        );
        assert!(writer.ping().await);
        writer.stop().await;
        assert!(!writer.ping().await);
        assert!(matches!(writer.clean(10).await, Err(WriteError::Stopped)));
    }
}
