//! Short reads of the SQLite database on the request's own thread.
//!
//! sqlx runs each SQLite connection on a thread of its own: a query is sent
//! there and its rows sent back, two thread hand-offs (a wait and a wake-up
//! each) for every statement. Pages that read while rendering paid for it
//! more than for the read: logged in, `/write` (the writer's quota) cost
//! 249 µs of CPU against 85 µs for the home page with only 1.6× the
//! instructions, because the hand-offs' futex waits and wake-ups do not show
//! as instructions (bench/README.md, issue 14).
//!
//! Here each thread that reads keeps its own read-only rusqlite connection
//! (same `libsqlite3-sys` as sqlx, one copy of SQLite) and runs the
//! statement itself, as it runs the page's render: a function call. The
//! database is in WAL mode, so a reader sees the last commit and never
//! waits for the writer; statements are prepared once per connection.
//! Only for short reads (a row, a count, a bounded list): the thread is a
//! tokio worker, busy meanwhile like for any other work of the request.
//!
//! A reader waits for a lock only in rare moments (another connection
//! recovering the WAL index after a crash, a checkpoint that resets the
//! WAL). Such a read does not wait on the worker: this connection does not
//! wait at all (busy timeout 0), and the read is run again on tokio's
//! blocking pool with a connection that waits up to [`db::BUSY_TIMEOUT`].

use std::{cell::RefCell, path::Path};

use rusqlite::{Connection, ErrorCode, OpenFlags};
use sqlx::SqlitePool;

use crate::db;

/// Prepared statements kept per connection: the reads of the pages and
/// calls, with room.
const STATEMENTS: usize = 32;

thread_local! {
    /// This thread's connection, and the database file it reads.
    static READER: RefCell<Option<(std::path::PathBuf, Connection)>> = const { RefCell::new(None) };
}

/// Runs `read` against the database behind `pool` on this thread (see the
/// module's comment): for short reads only. Errors come as sqlx's, like
/// those of the pool's own queries.
pub async fn read<T, F>(pool: &SqlitePool, read: F) -> sqlx::Result<T>
where
    F: Fn(&Connection) -> rusqlite::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let file = db::file_of(pool).ok_or_else(|| {
        sqlx::Error::Configuration(
            "an in-memory database cannot be read by other connections".into(),
        )
    })?;
    match on_this_thread(&file, &read) {
        Err(error) if is_busy(&error) => {}
        done => return done.map_err(into_sqlx),
    }
    tokio::task::spawn_blocking(move || waiting(&file, &read))
        .await
        .map_err(|_| sqlx::Error::WorkerCrashed)?
        .map_err(into_sqlx)
}

/// The read on this thread's connection, opened on first use (again if it
/// read another database file: tests, one database each).
fn on_this_thread<T>(
    file: &Path,
    read: &impl Fn(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    READER.with(|reader| {
        let mut reader = reader.borrow_mut();
        let db = match &mut *reader {
            Some((open, db)) if open == file => db,
            slot => {
                *slot = None;
                let db = open(file, std::time::Duration::ZERO)?;
                &mut slot.insert((file.to_path_buf(), db)).1
            }
        };
        read(db)
    })
}

/// The read on a connection of its own that waits for the lock.
fn waiting<T>(
    file: &Path,
    read: &impl Fn(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    read(&open(file, db::BUSY_TIMEOUT)?)
}

fn open(file: &Path, busy_timeout: std::time::Duration) -> rusqlite::Result<Connection> {
    let db = Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    db.busy_timeout(busy_timeout)?;
    db.set_prepared_statement_cache_capacity(STATEMENTS);
    Ok(db)
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// rusqlite's error as sqlx's "another driver's" error: the readers' callers
/// handle the pool's and these alike.
fn into_sqlx(error: rusqlite::Error) -> sqlx::Error {
    sqlx::Error::AnyDriverError(Box::new(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn database() -> (tempfile::TempDir, SqlitePool, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let pool = db::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let writer = crate::db_writer::open(&path, db::BUSY_TIMEOUT).unwrap();
        writer
            .execute_batch("CREATE TABLE t (n INTEGER NOT NULL); INSERT INTO t VALUES (1);")
            .unwrap();
        (dir, pool, writer)
    }

    fn count(db: &Connection) -> rusqlite::Result<i64> {
        db.prepare_cached("SELECT COUNT(*) FROM t")?
            .query_row([], |row| row.get(0))
    }

    /// The thread's connection is kept, yet every read sees the last
    /// commit: a list is fresh right after a write.
    #[tokio::test]
    async fn reads_see_each_commit_at_once() {
        let (_dir, pool, writer) = database().await;
        assert_eq!(read(&pool, count).await.unwrap(), 1);
        for n in 2..=4 {
            writer.execute("INSERT INTO t VALUES (?)", [n]).unwrap();
            assert_eq!(read(&pool, count).await.unwrap(), n);
        }
        writer.execute("DELETE FROM t", []).unwrap();
        assert_eq!(read(&pool, count).await.unwrap(), 0);
    }

    /// Two databases read by one thread (tests): each read reaches its own.
    #[tokio::test]
    async fn each_pool_reads_its_own_database() {
        let (_a, pool_a, _wa) = database().await;
        let (_b, pool_b, writer_b) = database().await;
        writer_b.execute("INSERT INTO t VALUES (2)", []).unwrap();
        assert_eq!(read(&pool_a, count).await.unwrap(), 1);
        assert_eq!(read(&pool_b, count).await.unwrap(), 2);
        assert_eq!(read(&pool_a, count).await.unwrap(), 1);
    }

    /// The connection only reads: a write through it fails and changes
    /// nothing.
    #[tokio::test]
    async fn the_readers_cannot_write() {
        let (_dir, pool, _writer) = database().await;
        let error = read(&pool, |db| db.execute("DELETE FROM t", []))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("readonly"), "{error}");
        assert_eq!(read(&pool, count).await.unwrap(), 1);
    }

    /// A read that finds the database locked (rare in WAL: see the module
    /// docs) is not waited for on the worker: it runs again on the blocking
    /// pool, whose connection waits for the lock.
    #[tokio::test]
    async fn a_busy_read_runs_again_off_the_worker() {
        let (_dir, pool, _writer) = database().await;
        let worker = std::thread::current().id();
        let threads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = threads.clone();
        let n = read(&pool, move |db| {
            let mut threads = seen.lock().unwrap();
            threads.push(std::thread::current().id());
            if threads.len() == 1 {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                    None,
                ));
            }
            count(db)
        })
        .await
        .unwrap();
        assert_eq!(n, 1);
        let threads = threads.lock().unwrap();
        assert_eq!(threads.len(), 2, "tried once here, once there");
        assert_eq!(threads[0], worker);
        assert_ne!(threads[1], worker);
    }

    /// Other errors are not tried again.
    #[tokio::test]
    async fn errors_come_back_as_they_are() {
        let (_dir, pool, _writer) = database().await;
        let error = read(&pool, |db| {
            db.prepare_cached("SELECT n FROM nowhere")?
                .query_row([], |row| row.get::<_, i64>(0))
        })
        .await
        .unwrap_err();
        assert!(error.to_string().contains("no such table"), "{error}");
    }
}
