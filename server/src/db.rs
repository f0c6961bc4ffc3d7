//! The database: opened (and created) at start-up, migrations applied.
//! SQLite (the default, one file beside the binary) or PostgreSQL (for
//! several server processes on one database), chosen by `DATABASE_URL`'s
//! scheme. Each concern's store has an implementation per engine; this file
//! only opens the connection pool and brings the schema up to date.

use std::{str::FromStr, time::Duration};

use sqlx::{
    postgres::{PgConnectOptions, PgPool, PgPoolOptions},
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
    ConnectOptions,
};

/// Which database engine a `DATABASE_URL` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The engine of `url`, by its scheme; `None` for any other scheme.
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

/// An open database of either engine.
#[derive(Clone, Debug)]
pub enum Database {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Database {
    pub fn engine(&self) -> Engine {
        match self {
            Self::Sqlite(_) => Engine::Sqlite,
            Self::Postgres(_) => Engine::Postgres,
        }
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        match self {
            Self::Sqlite(pool) => ping(pool).await,
            Self::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.is_ok(),
        }
    }

    /// Closes every connection (waits for the ones in use).
    pub async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// A store's failure, whichever engine: SQLite's writes go through the
/// group-commit writer ([`crate::db_writer`]), reads and PostgreSQL
/// through sqlx. Stores of any concern may use it as their error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Write(#[from] crate::db_writer::WriteError),
    #[error("{0}")]
    Sqlx(#[from] sqlx::Error),
}

/// Runs the same statement on whichever engine `$db` (a `&Database`) is:
/// `on_engine!(db, pool => sqlx::query_as(SQL).bind(x).fetch_all(pool).await)`.
/// For SQL both engines read alike — `$1` placeholders (SQLite takes them
/// too), `ON CONFLICT`, `RETURNING`, integer and text columns — so it is
/// written once; where the engines differ, write one statement per engine.
#[macro_export]
macro_rules! on_engine {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Database::Sqlite($pool) => $body,
            $crate::db::Database::Postgres($pool) => $body,
        }
    };
}

/// Opens the database `url` names — SQLite or PostgreSQL by its scheme —
/// and brings its schema up to date with that engine's migrations.
/// `max_connections` bounds a PostgreSQL pool (each server process holds up
/// to that many of the server's `max_connections`, 100 by default).
pub async fn open(url: &str, max_connections: u32) -> Result<Database, DbError> {
    match Engine::of_url(url) {
        Some(Engine::Sqlite) => connect(url).await.map(Database::Sqlite),
        Some(Engine::Postgres) => connect_postgres(url, max_connections)
            .await
            .map(Database::Postgres),
        None => Err(DbError::Scheme),
    }
}

/// `url` as it may be shown (logs, `server doctor`): a PostgreSQL URL's
/// password, in the user part or the query, is left out.
pub fn display_url(url: &str) -> String {
    match Engine::of_url(url) {
        Some(Engine::Postgres) => match PgConnectOptions::from_str(url) {
            Ok(options) => format!(
                "postgres://{}@{}:{}/{}",
                options.get_username(),
                options.get_host(),
                options.get_port(),
                options.get_database().unwrap_or_default()
            ),
            Err(_) => "postgres://(unreadable)".into(),
        },
        _ => url.to_owned(),
    }
}

/// A pooled PostgreSQL connection idle for longer is pinged before use.
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

/// Opens a PostgreSQL pool and applies `migrations/postgres/`. sqlx takes an
/// advisory lock around the migrations, so processes starting together
/// apply each migration once.
pub async fn connect_postgres(url: &str, max_connections: u32) -> Result<PgPool, DbError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| DbError::PostgresUrl(redacted(&e)))?
        // Statements are logged by our own spans; sqlx's per-statement info
        // lines would print every query of every request.
        .disable_statement_logging();
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        // sqlx pings every connection it hands out (`test_before_acquire`):
        // one more round trip in each transaction (verified callbacks
        // 2 280–2 450/s with it, 2 486–2 605/s without; bench/README). Only
        // a connection that sat idle is pinged, for one that died without
        // a word (a proxy, a network); sqlx itself notices one PostgreSQL
        // closed (`tests/postgres_pool.rs`).
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                Ok(meta.idle_for < PING_IDLE_AFTER
                    || sqlx::Connection::ping(connection).await.is_ok())
            })
        })
        .connect_with(options)
        .await
        .map_err(|e| DbError::OpenPostgres(redacted(&e)))?;
    POSTGRES_MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// An error's words without the URL: a PostgreSQL URL may carry a password,
/// which must reach no log line. sqlx's connection errors name the host and
/// the cause, not the URL, but a parse error may quote it.
fn redacted(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Configuration(_) => "the URL could not be read (check its form: \
             postgres://user:password@host:5432/database)"
            .into(),
        other => other.to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL must start with sqlite: or postgres://")]
    Scheme,
    #[error("DATABASE_URL is not a SQLite URL: {0}")]
    Url(sqlx::Error),
    #[error("DATABASE_URL is not a PostgreSQL URL: {0}")]
    PostgresUrl(String),
    #[error("cannot connect to PostgreSQL: {0}")]
    OpenPostgres(String),
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the database: {0}")]
    Open(sqlx::Error),
    #[error("cannot apply the migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Opens the database at `url`, creating the file and its folder if missing,
/// and brings its schema up to date.
pub async fn connect(url: &str) -> Result<SqlitePool, DbError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(DbError::Url)?
        .create_if_missing(true)
        // WAL lets readers (page renders, SSE) run beside the one writer;
        // FULL syncs each commit so a login WeChat delivered survives a crash.
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true);

    let file = options.get_filename();
    if let Some(folder) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|source| DbError::Folder {
            path: folder.display().to_string(),
            source,
        })?;
    }

    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .map_err(DbError::Open)?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// SQLite's schema changes, carried inside the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// PostgreSQL's schema changes, carried inside the binary.
pub static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// How long a connection waits for another's write lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The database file behind `pool`; `None` for an in-memory database, which
/// other connections (the login writer's) cannot share.
pub fn file_of(pool: &SqlitePool) -> Option<std::path::PathBuf> {
    let options = pool.connect_options();
    let file = options.get_filename();
    let name = file.to_string_lossy();
    if name.is_empty() || name == ":memory:" || name.contains("mode=memory") {
        return None;
    }
    Some(file.to_path_buf())
}

/// The database file a `sqlite:` URL names, without opening it.
pub fn file_of_url(url: &str) -> Result<std::path::PathBuf, DbError> {
    let options = SqliteConnectOptions::from_str(url).map_err(DbError::Url)?;
    Ok(options.get_filename().to_path_buf())
}

/// True when the database answers.
pub async fn ping(db: &SqlitePool) -> bool {
    sqlx::query("SELECT 1").execute(db).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shown_url_never_carries_a_password() {
        for url in [
            "postgres://wensi:fake-secret-pw@db.example:5433/site",
            "postgresql://wensi@db.example/site?password=fake-secret-pw",
        ] {
            let shown = display_url(url);
            assert!(!shown.contains("fake-secret-pw"), "{shown}");
            assert!(
                shown.contains("wensi@db.example") && shown.ends_with("/site"),
                "{shown}"
            );
        }
        assert_eq!(
            display_url("sqlite://data/site.db"),
            "sqlite://data/site.db"
        );
    }

    #[test]
    fn the_engine_is_the_scheme() {
        assert_eq!(Engine::of_url("sqlite://a.db"), Some(Engine::Sqlite));
        assert_eq!(Engine::of_url("postgres://h/d"), Some(Engine::Postgres));
        assert_eq!(Engine::of_url("postgresql://h/d"), Some(Engine::Postgres));
        assert_eq!(Engine::of_url("mysql://h/d"), None);
    }
}
