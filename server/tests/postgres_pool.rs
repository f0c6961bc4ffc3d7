//! The server's PostgreSQL pool after PostgreSQL ended its connections
//! (a restart, an operator's `pg_terminate_backend`): the next requests are
//! answered, not failed. PostgreSQL only.
//!
//! This passes with or without `db::connect_postgres`'s ping of a
//! connection idle over a second: sqlx notices a connection PostgreSQL
//! closed. The ping is for connections that die without a word (a proxy or
//! a network that drops them), which a test cannot make here.

mod common;

use std::time::Duration;

use common::{skip_unless_postgres, spawn};

#[tokio::test]
async fn a_request_a_moment_after_every_connection_was_cut_is_answered() {
    if skip_unless_postgres("a_request_a_moment_after_every_connection_was_cut_is_answered") {
        return;
    }
    let app = spawn(&[]).await;
    let id = app.start().await;
    assert_eq!(app.get(&format!("/api/login/{id}")).await.status(), 200);

    // What a restart does to the server's connections (and the test's own,
    // which its pool mends by pinging).
    let cut: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(pg_terminate_backend(pid)) AS BIGINT) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert!(
        cut >= 2,
        "the server's pool and listener were connected ({cut})"
    );
    tokio::time::sleep(Duration::from_millis(1_200)).await;

    // A read and a write, each on a pooled connection that was cut.
    let status = app.get(&format!("/api/login/{id}")).await;
    assert_eq!(status.status(), 200, "{:?}", status.text().await);
    let again = app.start().await;
    assert_ne!(again, id);
}
