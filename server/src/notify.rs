//! What one server process tells the others, on PostgreSQL: "this changed"
//! through `LISTEN`/`NOTIFY`. Several processes share one database; a
//! WeChat scan may reach process B while the browser waits on process A,
//! and a generation written by A may be followed through B.
//!
//! The database stays the truth: a notification carries only an id (an
//! attempt's, an article's, a session's), and whoever hears it reads the
//! database again. Two ways to announce a change:
//! - [`send`], inside the transaction that made it: delivered at the
//!   commit, never for a change rolled back, and never lost while the
//!   database lives. For what must not be missed (a revoked session, which
//!   another process's cache would otherwise keep accepting) and for
//!   writes that are not on a hot path;
//! - [`Announcer`], after the commit: many changes in one statement of a
//!   transaction of their own. For the login's attempts, whose waiting
//!   streams read again now and then anyway (`hub::RECHECK_EVERY`).
//!   Why: PostgreSQL makes every committing transaction that notified wait
//!   for the previous one's commit to reach the disk (one database-wide
//!   lock, held through the flush), and each notifying statement is one
//!   more round trip. Measured with `loadtest --only engines` on this
//!   2-core machine: 1 929–1 996 verified callbacks/s with [`send`] in each
//!   push's transaction, 2 486–2 605/s with the announcer (bench/README,
//!   "SQLite next to PostgreSQL").
//!
//! Each process holds one [`Listener`]: one connection that listens on
//! every channel in [`CHANNELS`] and calls the handlers registered for a
//! channel. Notifications sent while the connection was lost are lost
//! (PostgreSQL keeps none for an absent listener), so after a reconnection
//! every handler hears [`Heard::Reconnected`] and must read again
//! everything it watches. The reconnection is made (`LISTEN` again) before
//! that call, so nothing falls between the two. A process hears its own
//! notifications too.
//!
//! SQLite has no such thing and needs none: one process owns the file.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use sqlx::{
    postgres::{PgConnectOptions, PgListener, PgPool},
    Connection, PgConnection, PgExecutor,
};
use tokio::sync::mpsc;

use crate::state::Shutdown;

/// An attempt changed (payload: the attempt id).
pub const LOGIN: &str = "wensi_login";
/// A session was revoked (payload: the login's choice, see its store).
pub const SESSION: &str = "wensi_session";
/// An article or its running generation changed (payload: the article id).
pub const ARTICLE: &str = "wensi_article";
/// Stop was pressed for an article's generation on a process that does not
/// run it (payload: the article id; the owner stops it).
pub const ARTICLE_STOP: &str = "wensi_article_stop";

/// Every channel a [`Listener`] listens on. A channel used with [`send`]
/// must be here, or no process hears it.
pub const CHANNELS: [&str; 4] = [LOGIN, SESSION, ARTICLE, ARTICLE_STOP];

/// What a handler hears.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heard<'a> {
    /// A notification on the handler's channel, with its payload.
    Changed(&'a str),
    /// The listening connection was lost and is listening again:
    /// notifications may have been missed meanwhile.
    Reconnected,
}

/// Called on the listener's task for each notification: must not block
/// (wake a waiting task, drop a cache entry).
pub type Handler = Arc<dyn Fn(Heard<'_>) + Send + Sync>;

/// Announces `payload` on `channel`. Call it with the transaction that made
/// the change: PostgreSQL delivers it when (and only if) that commits.
pub async fn send<'e>(db: impl PgExecutor<'e>, channel: &str, payload: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(payload)
        .execute(db)
        .await?;
    Ok(())
}

/// This process's ears: one connection listening on [`CHANNELS`].
#[derive(Default)]
pub struct Listener {
    handlers: RwLock<HashMap<&'static str, Vec<Handler>>>,
}

/// How long the listener waits before trying again when it cannot listen
/// (the database is down or restarting): short, since every waiting
/// browser depends on it, and at most one attempt per wait.
const RETRY: Duration = Duration::from_millis(500);

impl Listener {
    /// Connects, listens on every channel, and hands what it hears to the
    /// handlers until `shutdown`. Fails only if the first connection
    /// fails; later losses are retried for as long as the server runs.
    pub async fn start(pool: &PgPool, shutdown: Shutdown) -> sqlx::Result<Arc<Self>> {
        let mut connection = PgListener::connect_with(pool).await?;
        connection.listen_all(CHANNELS).await?;
        let listener = Arc::new(Self::default());
        let running = listener.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = running.run(connection) => {}
                () = shutdown.stopped() => {}
            }
        });
        Ok(listener)
    }

    /// Calls `handler` for each notification on `channel` from now on.
    ///
    /// # Panics
    /// If `channel` is not one of [`CHANNELS`] (a programming error, found
    /// by any test that registers it).
    pub fn on(&self, channel: &'static str, handler: Handler) {
        assert!(
            CHANNELS.contains(&channel),
            "{channel} is not listened on: add it to notify::CHANNELS"
        );
        self.handlers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(channel)
            .or_default()
            .push(handler);
    }

    async fn run(&self, mut connection: PgListener) {
        // Set when the connection failed in a way `try_recv` did not mend:
        // the next successful statement proves it listens again.
        let mut lost = false;
        loop {
            if lost
                && sqlx::query("SELECT 1")
                    .execute(&mut connection)
                    .await
                    .is_ok()
            {
                // A new connection LISTENs on every channel before its
                // first statement (`PgListener`), so this one listens.
                lost = false;
                self.tell_all(Heard::Reconnected);
            }
            match connection.try_recv().await {
                Ok(Some(notification)) => {
                    self.tell(
                        notification.channel(),
                        Heard::Changed(notification.payload()),
                    );
                }
                // The connection was lost and `PgListener` has already
                // opened a new one and listens again (its eager reconnect).
                Ok(None) => {
                    lost = false;
                    self.tell_all(Heard::Reconnected);
                }
                // The server said no (it is stopping, or we were cut off) or
                // the new connection failed: wait, then make sure.
                Err(error) => {
                    tracing::warn!(%error, "lost the other server processes' notifications; listening again");
                    lost = true;
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }

    fn tell_all(&self, heard: Heard<'_>) {
        for channel in CHANNELS {
            self.tell(channel, heard);
        }
    }

    fn tell(&self, channel: &str, heard: Heard<'_>) {
        let handlers = self
            .handlers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for handler in handlers.get(channel).into_iter().flatten() {
            handler(heard);
        }
    }
}

/// Announces changes after their commit (see the module's comment for why
/// not inside it): queued here, sent by one task of this process, all that
/// waits in one statement, on a connection of its own whose commits do not
/// wait for the disk (a notification holds no data; the change it
/// announces is already durable).
///
/// A process that dies between a commit and its announcement loses the
/// announcement: whoever waits on that change hears it at their next
/// re-read instead (`hub::RECHECK_EVERY`), as after a lost listener.
#[derive(Clone)]
pub struct Announcer {
    queue: mpsc::Sender<(&'static str, String)>,
}

/// Announcements waiting to be sent, at most. Far more than one statement
/// every few milliseconds leaves behind; past it, announcements are dropped
/// (and heard at the next re-read) rather than memory growing.
const QUEUED_MAX: usize = 65_536;
/// Announcements per statement, at most.
const BATCH_MAX: usize = 1_024;

impl Announcer {
    /// Starts the task that sends what is announced, until `shutdown`
    /// (then it sends what is still queued, and ends).
    pub fn start(pool: &PgPool, shutdown: Shutdown) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUED_MAX);
        let options = pool
            .connect_options()
            .as_ref()
            .clone()
            .options([("synchronous_commit", "off")]);
        tokio::spawn(announce(options, waiting, shutdown));
        Self { queue }
    }

    /// Announces `payload` on `channel` to every process: call it once the
    /// change is committed. Never waits.
    pub fn announce(&self, channel: &'static str, payload: &str) {
        debug_assert!(CHANNELS.contains(&channel), "{channel} is not listened on");
        // Closed: the server is stopping, and the others re-read anyway.
        if let Err(mpsc::error::TrySendError::Full(_)) =
            self.queue.try_send((channel, payload.to_owned()))
        {
            tracing::warn!(
                channel,
                "too many notifications waiting to be sent: one dropped (its listeners read again soon)"
            );
        }
    }
}

async fn announce(
    options: PgConnectOptions,
    mut waiting: mpsc::Receiver<(&'static str, String)>,
    shutdown: Shutdown,
) {
    let mut connection = None;
    let mut batch = Vec::with_capacity(BATCH_MAX);
    let mut stopped = std::pin::pin!(shutdown.stopped());
    let mut stopping = false;
    loop {
        tokio::select! {
            // Closed at the stop: what is queued is still received (and
            // sent), then nothing.
            got = waiting.recv_many(&mut batch, BATCH_MAX) => if got == 0 { return },
            () = &mut stopped, if !stopping => {
                stopping = true;
                waiting.close();
                continue;
            }
        }
        send_batch(&options, &mut connection, &batch).await;
        batch.clear();
    }
}

/// Sends `batch` in one statement (PostgreSQL delivers a transaction's
/// notifications in order, and the same one twice only once). Tries a new
/// connection once if the statement fails; then gives the batch up.
async fn send_batch(
    options: &PgConnectOptions,
    connection: &mut Option<PgConnection>,
    batch: &[(&'static str, String)],
) {
    let channels: Vec<&str> = batch.iter().map(|(channel, _)| *channel).collect();
    let payloads: Vec<&str> = batch.iter().map(|(_, payload)| payload.as_str()).collect();
    for _ in 0..2 {
        let db = match connection {
            Some(db) => db,
            None => match PgConnection::connect_with(options).await {
                Ok(new) => connection.insert(new),
                Err(error) => {
                    tracing::warn!(%error, "cannot connect to send notifications; trying again");
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            },
        };
        let sent =
            sqlx::query("SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS n(c, p)")
                .bind(&channels)
                .bind(&payloads)
                .execute(db)
                .await;
        match sent {
            Ok(_) => return,
            Err(error) => {
                tracing::warn!(%error, "could not send notifications; trying a new connection");
                *connection = None;
            }
        }
    }
    tracing::warn!(
        dropped = batch.len(),
        "notifications not sent (their listeners read again soon)"
    );
}
