//! `server backup FILE` and `server restore FILE`: a consistent copy of the
//! SQLite database, taken while the site runs, and putting one back.
//!
//! Both use SQLite's online backup API (rusqlite `backup`), in one step: the
//! copy is one read transaction, so it is the database as it was at one
//! instant, while the site goes on writing (WAL: readers never block the
//! writer). A copy of the file with `cp` is not safe: the newest commits may
//! still be in `site.db-wal`, and a restore by copying over a file whose old
//! `-wal` is still there can damage it; restoring through SQLite avoids both.

use std::{
    fs,
    path::{Path, PathBuf},
    time::Duration,
};

use rusqlite::{backup::Backup, Connection, OpenFlags};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("数据库文件 {0} 不存在：请检查 DATABASE_URL，或在网站所在的目录运行")]
    NoDatabase(String),
    #[error("{0} 已经存在，备份不会覆盖它：请换一个文件名（例如带上日期）")]
    Exists(String),
    #[error("{0} 不存在")]
    NoBackup(String),
    #[error("{path} 不是可用的文思数据库备份：{reason}")]
    NotABackup { path: String, reason: String },
    #[error("网站似乎还在运行（数据库 {0} 正被使用）：请先停止网站（例如 systemctl stop wensi），再恢复备份")]
    InUse(String),
    #[error("数据库一直被占用，{}秒内没能完成复制：请稍后再试", BUSY_TIMEOUT.as_secs())]
    Busy,
    #[error("{action} {path} 失败：{source}")]
    Sqlite {
        action: &'static str,
        path: String,
        source: rusqlite::Error,
    },
    #[error("{action} {path} 失败：{source}")]
    Io {
        action: &'static str,
        path: String,
        source: std::io::Error,
    },
}

/// What a finished backup or restore holds, for the message to the owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub bytes: u64,
    pub users: i64,
    pub sessions: i64,
}

/// How long a backup waits for the site's writer to finish a commit.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Copies the database at `database` into the new file `target`.
///
/// The copy is written beside `target` under a temporary name, checked
/// (`PRAGMA integrity_check`), synced, and only then renamed to `target`:
/// a backup that fails leaves no half-written file behind.
pub fn backup(database: &Path, target: &Path) -> Result<Summary, BackupError> {
    if !database.is_file() {
        return Err(BackupError::NoDatabase(shown(database)));
    }
    if target.exists() {
        return Err(BackupError::Exists(shown(target)));
    }
    // Read-write (never created): a read-only connection cannot open a WAL
    // database whose `-shm` it may not create. Nothing is written to it.
    let source = open(database, OpenFlags::SQLITE_OPEN_READ_WRITE, "打开数据库")?;
    let partial = partial_name(target);
    let result = (|| {
        let mut copy = open(
            &partial,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
            "创建备份文件",
        )?;
        copy_all(&source, &mut copy, &partial)?;
        // A backup is one self-contained file, without `-wal` beside it.
        copy.pragma_update_and_check(None, "journal_mode", "DELETE", |_| Ok(()))
            .map_err(sqlite("写入备份", &partial))?;
        let summary = check(&copy, &partial)?;
        drop(copy);
        sync_file(&partial)?;
        fs::rename(&partial, target).map_err(io("保存备份", target))?;
        sync_parent(target);
        Ok(Summary {
            bytes: fs::metadata(target).map(|m| m.len()).unwrap_or(0),
            ..summary
        })
    })();
    if result.is_err() {
        let _ = fs::remove_file(&partial);
    }
    result
}

/// Replaces the database at `database` (created if missing) with the
/// backup `source`, which must be a sound copy of this site's database.
/// Refuses while the site has the database open.
pub fn restore(source: &Path, database: &Path) -> Result<Summary, BackupError> {
    if !source.is_file() {
        return Err(BackupError::NoBackup(shown(source)));
    }
    let backup = open(source, OpenFlags::SQLITE_OPEN_READ_ONLY, "打开备份")?;
    check(&backup, source).map_err(|err| match err {
        BackupError::Sqlite { source: e, .. } => BackupError::NotABackup {
            path: shown(source),
            reason: e.to_string(),
        },
        other => other,
    })?;

    if let Some(folder) = database.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(folder).map_err(io("创建数据库目录", folder))?;
    }
    let mut live = open(
        database,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        "打开数据库",
    )?;
    // Hold the database alone for the whole restore: fails at once while
    // the site (or anything else) has it open, instead of changing the data
    // under a running site.
    live.busy_timeout(Duration::ZERO)
        .map_err(sqlite("打开数据库", database))?;
    live.pragma_update(None, "locking_mode", "EXCLUSIVE")
        .map_err(sqlite("锁定数据库", database))?;
    if let Err(err) = live.execute_batch("BEGIN EXCLUSIVE; COMMIT;") {
        return Err(if is_busy(&err) {
            BackupError::InUse(shown(database))
        } else {
            sqlite("锁定数据库", database)(err)
        });
    }
    copy_all(&backup, &mut live, database).map_err(|err| match err {
        BackupError::Sqlite { source: e, .. } if is_busy(&e) => BackupError::InUse(shown(database)),
        BackupError::Busy => BackupError::InUse(shown(database)),
        other => other,
    })?;
    let summary = check(&live, database)?;
    Ok(Summary {
        bytes: fs::metadata(database).map(|m| m.len()).unwrap_or(0),
        ..summary
    })
}

fn open(path: &Path, flags: OpenFlags, action: &'static str) -> Result<Connection, BackupError> {
    let connection = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(sqlite(action, path))?;
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(sqlite(action, path))?;
    Ok(connection)
}

/// Every page of `from` into `to`, in one step: one read transaction on
/// `from`, so the copy is of one instant even while the site writes.
fn copy_all(from: &Connection, to: &mut Connection, to_path: &Path) -> Result<(), BackupError> {
    let backup = Backup::new(from, to).map_err(sqlite("复制数据库", to_path))?;
    let started = std::time::Instant::now();
    loop {
        match backup.step(-1).map_err(sqlite("复制数据库", to_path))? {
            rusqlite::backup::StepResult::Done => return Ok(()),
            // Another connection held a lock for a moment: try again, for
            // as long as the site's own connections would wait.
            _ if started.elapsed() < BUSY_TIMEOUT => std::thread::sleep(Duration::from_millis(50)),
            _ => return Err(BackupError::Busy),
        }
    }
}

/// Checks a copy and counts what it holds: sound pages, this site's schema
/// (the migrations table and the login tables), and its users and sessions.
fn check(db: &Connection, path: &Path) -> Result<Summary, BackupError> {
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .map_err(sqlite("检查", path))?;
    if integrity != "ok" {
        return Err(BackupError::NotABackup {
            path: shown(path),
            reason: format!("SQLite 检查未通过（{integrity}）"),
        });
    }
    let count = |table: &str| -> Result<i64, BackupError> {
        db.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
            row.get(0)
        })
        .map_err(|_| BackupError::NotABackup {
            path: shown(path),
            reason: format!("没有 {table} 表，不是本网站的数据库"),
        })
    };
    count("_sqlx_migrations")?;
    Ok(Summary {
        bytes: 0,
        users: count("users")?,
        sessions: count("sessions")?,
    })
}

fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn partial_name(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_owned();
    name.push(format!(".partial-{}", std::process::id()));
    PathBuf::from(name)
}

fn sync_file(path: &Path) -> Result<(), BackupError> {
    fs::File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(io("写入备份", path))
}

/// The rename itself survives a crash once the folder is synced.
fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(dir) = fs::File::open(parent) {
            let _ = dir.sync_all();
        }
    }
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

fn sqlite<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl Fn(rusqlite::Error) -> BackupError + 'a {
    move |source| BackupError::Sqlite {
        action,
        path: shown(path),
        source,
    }
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl Fn(std::io::Error) -> BackupError + 'a {
    move |source| BackupError::Io {
        action,
        path: shown(path),
        source,
    }
}
