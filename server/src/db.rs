//! The SQLite database: opened (and created) at start-up, migrations applied.

use std::{str::FromStr, time::Duration};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL is not a SQLite URL: {0}")]
    Url(sqlx::Error),
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

/// The schema changes in `migrations/`, carried inside the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

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
