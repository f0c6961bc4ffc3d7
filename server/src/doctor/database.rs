//! The database: it can be opened and written, and its schema is one this
//! binary knows (migrations applied, none unknown, none half-done).
//!
//! Nothing is changed: the write check takes the write lock
//! (`BEGIN IMMEDIATE`) and rolls back; pending migrations are left for the
//! site's next start.

use std::{collections::HashMap, path::Path, str::FromStr, time::Duration};

use sqlx::{
    migrate::Migrator,
    postgres::{PgConnectOptions, PgConnection},
    sqlite::{SqliteConnectOptions, SqliteConnection},
    ConnectOptions, Connection, Row,
};

use super::report::Finding;
use crate::db::{self, Engine};

const TOPIC: &str = "数据库";

/// How a damaged or too-new database is put back, per engine.
const SQLITE_RESTORE: &str = "server restore 备份文件";
const POSTGRES_RESTORE: &str = "pg_restore 升级前用 pg_dump 做的备份";

pub async fn check(url: &str) -> Finding {
    if Engine::of_url(url) == Some(Engine::Postgres) {
        return check_postgres(url).await;
    }
    let file = match db::file_of_url(url) {
        Ok(file) => file,
        Err(err) => {
            return Finding::fail(
                TOPIC,
                format!("DATABASE_URL 不是可用的 SQLite 地址（{err}）"),
                "写成 sqlite://data/site.db 这样的文件路径",
            )
        }
    };
    let name = file.to_string_lossy();
    let in_memory = [":memory:", "mode=memory", "sqlx-in-memory"]
        .iter()
        .any(|mark| url.contains(mark) || name.contains(mark));
    if name.is_empty() || in_memory {
        return Finding::fail(
            TOPIC,
            "DATABASE_URL 指向内存数据库：网站一停，数据就全没了",
            "写成 sqlite://data/site.db 这样的文件路径",
        );
    }
    let shown = file.display().to_string();
    if !file.exists() {
        return missing_file(&file, &shown);
    }
    if let Some(owner) = foreign_owner_for_root(&file) {
        return Finding::warn(
            TOPIC,
            format!("{shown} 存在，但你在用 root 运行 doctor，而数据库属于用户 {owner}：为了不在数据目录里留下 root 的文件（那会让网站打不开数据库），没有打开它"),
            format!("用运行网站的用户来检查：sudo -u {owner} ./server doctor"),
        );
    }
    match inspect(url).await {
        Ok(state) => state.finding(&shown, &db::MIGRATOR, SQLITE_RESTORE),
        Err(Problem::Open(err)) => Finding::fail(
            TOPIC,
            format!("打不开 {shown}：{err}"),
            "检查文件和所在目录的所有者与权限：运行网站的用户要能读写它们（SQLite 还要在同一目录里建 -wal、-shm 文件）",
        ),
        Err(Problem::Write(err)) if err.contains("locked") || err.contains("busy") => {
            Finding::warn(
                TOPIC,
                format!("{shown} 能打开，但 5 秒内没拿到写锁（{err}）"),
                "网站正在大量写入时会这样；过一会儿再运行 server doctor。一直这样的话，看看是否有别的程序占着这个数据库",
            )
        }
        Err(Problem::Write(err)) => Finding::fail(
            TOPIC,
            format!("{shown} 不可写：{err}"),
            "让运行网站的用户拥有这个文件和它所在的目录，例如 sudo chown -R wensi:wensi /srv/wensi/data（目录也要可写：SQLite 在那里建 -wal、-shm 文件）",
        ),
        Err(Problem::Read(err)) => Finding::fail(
            TOPIC,
            format!("{shown} 读不出来：{err}"),
            "文件可能已损坏或不是 SQLite 数据库；用最近的备份恢复（停止网站后 server restore 备份文件）",
        ),
    }
}

/// No database yet: the site creates it at its first start, if it can.
fn missing_file(file: &Path, shown: &str) -> Finding {
    let folder = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // The nearest folder that exists is where something must be created.
    let mut existing = folder;
    while !existing.exists() {
        match existing.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
            _ => {
                existing = Path::new(".");
                break;
            }
        }
    }
    if folder_is_writable(existing) {
        Finding::ok(
            TOPIC,
            format!(
                "{shown} 还不存在：网站第一次启动时会创建它并建表（{} 可写）",
                existing.display()
            ),
        )
    } else {
        Finding::fail(
            TOPIC,
            format!(
                "{shown} 还不存在，而 {} 不可写：网站启动时建不了数据库",
                existing.display()
            ),
            format!(
                "建好目录并交给运行网站的用户，例如 sudo install -d -o wensi -g wensi {}",
                folder.display()
            ),
        )
    }
}

/// Whether a file can be created in `folder` (tried, then removed).
fn folder_is_writable(folder: &Path) -> bool {
    let probe = folder.join(format!(".wensi-doctor-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            true
        }
        Err(_) => false,
    }
}

/// Run as root on another user's database, opening it could leave root's
/// `-wal`/`-shm` files behind that the site's user cannot open: the owner's
/// name then (`#uid` for sudo when unnamed), so the doctor leaves it alone.
fn foreign_owner_for_root(file: &Path) -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        // The owner of /proc/self is this process's effective user.
        let me = std::fs::metadata("/proc/self").ok()?.uid();
        let owner = std::fs::metadata(file).ok()?.uid();
        if me != 0 || owner == 0 {
            return None;
        }
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let name = passwd.lines().find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            (fields.nth(1)?.parse::<u32>().ok()? == owner).then(|| name.to_owned())
        });
        Some(name.unwrap_or_else(|| format!("'#{owner}'")))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        None
    }
}

enum Problem {
    Open(String),
    Write(String),
    Read(String),
}

/// The migrations as the database records them.
struct Applied {
    version: i64,
    success: bool,
    checksum: Vec<u8>,
}

struct State {
    /// `None`: no migrations table.
    applied: Option<Vec<Applied>>,
    /// Tables besides the engine's own.
    tables: i64,
}

/// PostgreSQL: the server answers, this role may create tables (the
/// migrations do), and the schema is one this binary knows. Nothing is
/// changed: the probe table is made in a transaction that is rolled back.
/// The URL is never shown (it may hold a password): only host, port and
/// database.
async fn check_postgres(url: &str) -> Finding {
    let options = match PgConnectOptions::from_str(url) {
        Ok(options) => options.disable_statement_logging(),
        Err(_) => {
            return Finding::fail(
                TOPIC,
                "DATABASE_URL 不是可用的 PostgreSQL 地址",
                "写成 postgres://用户名:密码@主机:5432/数据库名 这样",
            )
        }
    };
    let shown = format!(
        "PostgreSQL {}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("(默认库)")
    );
    let mut conn: PgConnection = match tokio::time::timeout(
        Duration::from_secs(5),
        options.connect(),
    )
    .await
    {
        Ok(Ok(conn)) => conn,
        Ok(Err(err)) => {
            return Finding::fail(
                TOPIC,
                format!("连不上 {shown}：{err}"),
                "检查 PostgreSQL 是否在运行（systemctl status postgresql）、用户名和密码、数据库是否已建（createdb），以及 pg_hba.conf 是否允许这台机器连接",
            )
        }
        Err(_) => {
            return Finding::fail(
                TOPIC,
                format!("5 秒内连不上 {shown}"),
                "检查主机和端口是否写对、PostgreSQL 是否在运行、防火墙是否放行",
            )
        }
    };
    let probe = async {
        let mut tx = conn.begin().await?;
        sqlx::query("CREATE TABLE wensi_doctor_probe (x BIGINT)")
            .execute(&mut *tx)
            .await?;
        tx.rollback().await
    };
    if let Err(err) = probe.await {
        return Finding::fail(
            TOPIC,
            format!("{shown} 能连上，但这个用户不能建表：{err}"),
            "网站启动时要建表（迁移）：让这个用户拥有数据库，例如 ALTER DATABASE 库名 OWNER TO 用户名",
        );
    }
    let read = async {
        let tables: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        )
        .fetch_one(&mut conn)
        .await?;
        let has_migrations: bool =
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&mut conn)
                .await?;
        let applied = if has_migrations {
            let rows = sqlx::query("SELECT version, success, checksum FROM _sqlx_migrations")
                .fetch_all(&mut conn)
                .await?;
            Some(
                rows.iter()
                    .map(|row| Applied {
                        version: row.get(0),
                        success: row.get(1),
                        checksum: row.get(2),
                    })
                    .collect(),
            )
        } else {
            None
        };
        Ok::<_, sqlx::Error>(State { applied, tables })
    };
    let finding = match read.await {
        Ok(state) => state.finding(&shown, &db::POSTGRES_MIGRATOR, POSTGRES_RESTORE),
        Err(err) => Finding::fail(
            TOPIC,
            format!("{shown} 读不出迁移记录：{err}"),
            "检查这个用户对数据库的权限",
        ),
    };
    let _ = conn.close().await;
    finding
}

async fn inspect(url: &str) -> Result<State, Problem> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| Problem::Open(e.to_string()))?
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(5))
        .disable_statement_logging();
    let mut conn: SqliteConnection = options
        .connect()
        .await
        .map_err(|e| Problem::Open(e.to_string()))?;

    // Takes the write lock and gives it back: proves writing works without
    // writing anything.
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut conn)
        .await
        .map_err(|e| Problem::Write(e.to_string()))?;
    sqlx::query("ROLLBACK")
        .execute(&mut conn)
        .await
        .map_err(|e| Problem::Write(e.to_string()))?;

    let read = |e: sqlx::Error| Problem::Read(e.to_string());
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(read)?;
    let has_migrations: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(read)?;
    let applied = if has_migrations == 0 {
        None
    } else {
        let rows = sqlx::query("SELECT version, success, checksum FROM _sqlx_migrations")
            .fetch_all(&mut conn)
            .await
            .map_err(read)?;
        Some(
            rows.iter()
                .map(|row| Applied {
                    version: row.get(0),
                    success: row.get(1),
                    checksum: row.get(2),
                })
                .collect(),
        )
    };
    let _ = conn.close().await;
    Ok(State { applied, tables })
}

impl State {
    fn finding(&self, shown: &str, migrator: &Migrator, restore: &str) -> Finding {
        let Some(applied) = &self.applied else {
            return if self.tables == 0 {
                Finding::ok(TOPIC, format!("{shown} 可写，还是空的：网站启动时会建表"))
            } else {
                Finding::fail(
                    TOPIC,
                    format!("{shown} 里有别的表，却没有本网站的迁移记录：这不是文思的数据库"),
                    "检查 DATABASE_URL 是否指错了文件",
                )
            };
        };
        let known: HashMap<i64, &sqlx::migrate::Migration> = migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .map(|m| (m.version, m))
            .collect();
        let mut unknown = Vec::new();
        let mut failed = Vec::new();
        let mut changed = Vec::new();
        for migration in applied {
            match known.get(&migration.version) {
                None => unknown.push(migration.version),
                Some(_) if !migration.success => failed.push(migration.version),
                Some(ours) if *ours.checksum != *migration.checksum => {
                    changed.push(migration.version)
                }
                Some(_) => {}
            }
        }
        let list = |versions: &[i64]| {
            versions
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join("、")
        };
        if !unknown.is_empty() {
            return Finding::fail(
                TOPIC,
                format!(
                    "{shown} 已经执行过本程序不认识的迁移（{}）：它被更新版本的网站用过",
                    list(&unknown)
                ),
                format!("换回那个更新的版本；或者停止网站，用升级前做的备份恢复（{restore}）"),
            );
        }
        if !failed.is_empty() {
            return Finding::fail(
                TOPIC,
                format!("{shown} 的迁移 {} 没有执行完", list(&failed)),
                format!("停止网站，用升级前做的备份恢复（{restore}），再启动网站重新执行迁移"),
            );
        }
        if !changed.is_empty() {
            return Finding::fail(
                TOPIC,
                format!(
                    "{shown} 执行过的迁移 {} 和本程序里的内容不一样",
                    list(&changed)
                ),
                "网站启动时会因此拒绝迁移。用和这个数据库配套的程序版本，或用备份恢复",
            );
        }
        let pending = known.len().saturating_sub(applied.len());
        if pending == 0 {
            Finding::ok(
                TOPIC,
                format!("{shown} 可写，{} 个迁移都已执行", applied.len()),
            )
        } else {
            Finding::ok(
                TOPIC,
                format!(
                    "{shown} 可写，已执行 {} 个迁移；还有 {pending} 个新迁移，网站下次启动时自动执行（升级前记得先备份）",
                    applied.len()
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::report::Status;

    fn url(dir: &Path, name: &str) -> String {
        format!("sqlite://{}", dir.join(name).display())
    }

    #[tokio::test]
    async fn a_migrated_database_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let url = url(dir.path(), "site.db");
        let pool = db::connect(&url).await.unwrap();
        let finding = check(&url).await;
        assert_eq!(finding.status, Status::Ok, "{finding:?}");
        assert!(finding.summary.contains("都已执行"), "{finding:?}");

        // One migration fewer: it is pending, which the next start applies.
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)")
            .execute(&pool)
            .await
            .unwrap();
        let finding = check(&url).await;
        assert_eq!(finding.status, Status::Ok, "{finding:?}");
        assert!(finding.summary.contains("1 个新迁移"), "{finding:?}");
    }

    #[tokio::test]
    async fn a_database_from_a_newer_version_or_half_migrated_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let url = url(dir.path(), "site.db");
        let pool = db::connect(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (29991231000000, 'from the future', 1, x'00', 0)",
        )
        .execute(&pool)
        .await
        .unwrap();
        let finding = check(&url).await;
        assert_eq!(finding.status, Status::Fail, "{finding:?}");
        assert!(finding.summary.contains("29991231000000"), "{finding:?}");
        assert!(finding.advice.unwrap().contains("server restore"));

        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 29991231000000")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("UPDATE _sqlx_migrations SET success = 0 WHERE version = (SELECT max(version) FROM _sqlx_migrations)")
            .execute(&pool)
            .await
            .unwrap();
        let finding = check(&url).await;
        assert_eq!(finding.status, Status::Fail, "{finding:?}");
        assert!(finding.summary.contains("没有执行完"), "{finding:?}");
    }

    #[tokio::test]
    async fn a_missing_database_is_created_at_start_if_the_folder_allows() {
        let dir = tempfile::tempdir().unwrap();
        let finding = check(&url(&dir.path().join("data/new"), "site.db")).await;
        assert_eq!(finding.status, Status::Ok, "{finding:?}");
        assert!(finding.summary.contains("还不存在"), "{finding:?}");
        assert!(
            !dir.path().join("data").exists(),
            "the doctor creates nothing"
        );
        let finding = check("sqlite::memory:").await;
        assert_eq!(finding.status, Status::Fail, "{finding:?}");
    }

    #[tokio::test]
    async fn another_programs_database_is_not_ours() {
        let dir = tempfile::tempdir().unwrap();
        let url = url(dir.path(), "other.db");
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true);
        let mut conn = options.connect().await.unwrap();
        sqlx::query("CREATE TABLE notes (text TEXT)")
            .execute(&mut conn)
            .await
            .unwrap();
        let finding = check(&url).await;
        assert_eq!(finding.status, Status::Fail, "{finding:?}");
        assert!(finding.summary.contains("不是文思的数据库"), "{finding:?}");

        std::fs::write(
            dir.path().join("garbage.db"),
            b"this is not a database at all, just text",
        )
        .unwrap();
        let finding = check(&self::url(dir.path(), "garbage.db")).await;
        assert_eq!(finding.status, Status::Fail, "{finding:?}");
    }
}
