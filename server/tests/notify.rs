//! `notify.rs` on a real PostgreSQL: what one server process tells the
//! others arrives at the commit, never for a rollback, and a lost listening
//! connection is re-made and said so (PostgreSQL only).

mod common;

use std::{sync::Arc, time::Duration};

use server::{
    db,
    notify::{self, Heard, Listener},
    state::Shutdown,
};
use tokio::sync::mpsc;

/// A listener on a fresh database, and what its handlers hear on `ARTICLE`.
async fn listening() -> (
    sqlx::PgPool,
    Arc<Listener>,
    mpsc::UnboundedReceiver<Option<String>>,
    Stop,
) {
    let name = common::postgres::create_database().await;
    let pool = db::connect_postgres(&common::postgres::url_of(&name), 4)
        .await
        .unwrap();
    let (stop, shutdown) = Shutdown::new();
    let listener = Listener::start(&pool, shutdown).await.unwrap();
    let (heard, hearing) = mpsc::unbounded_channel();
    listener.on(
        notify::ARTICLE,
        Arc::new(move |what: Heard<'_>| {
            let _ = heard.send(match what {
                Heard::Changed(id) => Some(id.to_owned()),
                Heard::Reconnected => None,
            });
        }),
    );
    (pool, listener, hearing, Stop(stop, Some(name)))
}

/// Stops the listener and drops the test's database.
struct Stop(tokio::sync::watch::Sender<bool>, Option<String>);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.send(true);
        if let Some(name) = self.1.take() {
            common::postgres::drop_database(name);
        }
    }
}

async fn next(hearing: &mut mpsc::UnboundedReceiver<Option<String>>) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(10), hearing.recv())
        .await
        .expect("heard within 10 s")
        .expect("the listener is running")
}

#[tokio::test]
async fn a_change_is_heard_at_its_commit_and_a_rolled_back_one_never() {
    if common::skip_unless_postgres("notify") {
        return;
    }
    let (pool, _listener, mut hearing, _stop) = listening().await;

    let mut rolled_back = pool.begin().await.unwrap();
    notify::send(&mut *rolled_back, notify::ARTICLE, "never")
        .await
        .unwrap();
    rolled_back.rollback().await.unwrap();

    let mut committed = pool.begin().await.unwrap();
    notify::send(&mut *committed, notify::ARTICLE, "article-1")
        .await
        .unwrap();
    // Not before the commit.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), hearing.recv())
            .await
            .is_err(),
        "heard before the commit"
    );
    committed.commit().await.unwrap();
    assert_eq!(next(&mut hearing).await.as_deref(), Some("article-1"));

    // Another channel's notification does not reach this handler.
    notify::send(&pool, notify::LOGIN, "attempt-1")
        .await
        .unwrap();
    notify::send(&pool, notify::ARTICLE, "article-2")
        .await
        .unwrap();
    assert_eq!(next(&mut hearing).await.as_deref(), Some("article-2"));
}

#[tokio::test]
async fn a_lost_connection_is_listened_again_and_said_so() {
    if common::skip_unless_postgres("notify") {
        return;
    }
    let (pool, _listener, mut hearing, _stop) = listening().await;
    notify::send(&pool, notify::ARTICLE, "before")
        .await
        .unwrap();
    assert_eq!(next(&mut hearing).await.as_deref(), Some("before"));

    // The listening connection is the one whose last statement was LISTEN.
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(cut, [true], "one listening connection");

    assert_eq!(next(&mut hearing).await, None, "told that it listens again");
    notify::send(&pool, notify::ARTICLE, "after").await.unwrap();
    assert_eq!(next(&mut hearing).await.as_deref(), Some("after"));
}

#[tokio::test]
#[should_panic(expected = "is not listened on")]
async fn a_channel_nobody_listens_on_is_refused() {
    if common::skip_unless_postgres("notify") {
        panic!("is not listened on (skipped on SQLite)");
    }
    let (_pool, listener, _hearing, _stop) = listening().await;
    listener.on("wensi_typo", Arc::new(|_: Heard<'_>| {}));
}
