//! `server move-to-postgres`: the one-off copy of a SQLite site into an
//! empty PostgreSQL database, for a site that outgrows one process.
//!
//! What moves: users (with their ids, so everything that points at them
//! still does), sessions (nobody has to log in again), the WeChat access
//! token (no new one fetched, no quota spent), articles with every version
//! of their text, the generations the daily limit counts, and the operator
//! page's counts. What does not: login attempts (they expire within
//! minutes), and the records of WeChat pushes and their signatures (kept
//! only minutes, for retries): stop the site first, and nothing is lost.
//!
//! All of it in one PostgreSQL transaction: the target gets everything or
//! nothing. The SQLite side is read in one read transaction (a consistent
//! snapshot even if a site still ran). The target must be empty: the copy
//! never merges into a database that already has users or articles.

use std::time::Instant;

use sqlx::{postgres::PgPool, sqlite::SqliteRow, Row, SqlitePool};

use crate::db::{self, DbError};

#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    #[error("DATABASE_URL 必须是现在网站用的 SQLite 数据库（sqlite://…），现在不是")]
    SourceNotSqlite,
    #[error("NEW_DATABASE_URL 必须是 PostgreSQL 地址（postgres://用户名:密码@主机:5432/库名）")]
    TargetNotPostgres,
    #[error("SQLite 数据库 {0} 不存在")]
    SourceMissing(String),
    #[error("{0}")]
    Open(#[from] DbError),
    #[error("目标数据库里已经有数据（表 {table} 有 {rows} 行）：只会复制到空的数据库，不会合并。换一个新建的空库（createdb）")]
    TargetNotEmpty { table: &'static str, rows: i64 },
    #[error("读取 SQLite 失败（表 {table}）：{source}")]
    Read {
        table: &'static str,
        source: sqlx::Error,
    },
    #[error("写入 PostgreSQL 失败（表 {table}）：{source}；目标库没有任何改动")]
    Write {
        table: &'static str,
        source: sqlx::Error,
    },
}

/// What was copied: rows per table, and how long it took.
#[derive(Debug)]
pub struct Moved {
    pub tables: Vec<(&'static str, u64)>,
    pub millis: u128,
}

/// A column's type, as both engines store it.
#[derive(Clone, Copy)]
enum Kind {
    Int,
    OptInt,
    Text,
    OptText,
    Bytes,
}

use Kind::*;

/// The tables that move, parents first (foreign keys), with their columns.
/// A column added later with a default need not be listed: PostgreSQL
/// fills it in.
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "users",
        &[
            ("id", Int),
            ("openid", Text),
            ("unionid", OptText),
            ("display_name", Text),
            ("following", Int),
            ("created_at", Int),
            ("unsubscribed_at", OptInt),
        ],
    ),
    (
        "sessions",
        &[
            ("token_hash", Bytes),
            ("user_id", Int),
            ("created_at", Int),
            ("expires_at", Int),
            ("revoked_at", OptInt),
        ],
    ),
    (
        "wechat_access_token",
        &[
            ("appid", Text),
            ("token", Text),
            ("expires_at", Int),
            ("fetched_at", OptInt),
        ],
    ),
    (
        "articles",
        &[
            ("id", Text),
            ("user_id", Int),
            ("title", Text),
            ("title_set", Int),
            ("kind", Text),
            ("brief", Text),
            ("latest", Int),
            ("created_at", Int),
            ("updated_at", Int),
        ],
    ),
    (
        "article_versions",
        &[
            ("article_id", Text),
            ("number", Int),
            ("status", Text),
            ("body", Text),
            ("body_bytes", Int),
            ("body_chars", Int),
            ("reasoning", Text),
            ("reasoning_bytes", Int),
            ("revision", Int),
            ("problem", OptText),
            ("prompt_tokens", OptInt),
            ("completion_tokens", OptInt),
            ("cache_hit_tokens", OptInt),
            ("cache_miss_tokens", OptInt),
            ("reasoning_tokens", OptInt),
            ("elapsed_ms", Int),
            ("created_at", Int),
            ("updated_at", Int),
        ],
    ),
    (
        "writing_generations",
        &[("id", Int), ("user_id", Int), ("started_at", Int)],
    ),
    (
        "ops_events",
        &[("day", Int), ("kind", Text), ("count", Int)],
    ),
];

/// Tables whose ids PostgreSQL hands out: after copying ids in, its
/// counter must start past them.
const IDENTITIES: &[&str] = &["users", "writing_generations"];

/// PostgreSQL's text cannot hold U+0000, which SQLite's can (a model may
/// write one): it becomes U+FFFD, the character for "unreadable", so the
/// rest of the text moves instead of the whole copy failing.
fn storable(text: String) -> String {
    if text.contains('\0') {
        text.replace('\0', "\u{FFFD}")
    } else {
        text
    }
}

/// Copies the SQLite site at `source` into the empty PostgreSQL database
/// at `target` (its schema made first, by the site's migrations).
pub async fn run(source: &str, target: &str) -> Result<Moved, MoveError> {
    if db::Engine::of_url(source) != Some(db::Engine::Sqlite) {
        return Err(MoveError::SourceNotSqlite);
    }
    if db::Engine::of_url(target) != Some(db::Engine::Postgres) {
        return Err(MoveError::TargetNotPostgres);
    }
    let file = db::file_of_url(source)?;
    if !file.exists() {
        return Err(MoveError::SourceMissing(file.display().to_string()));
    }
    // Opening applies the SQLite migrations a site of this version would:
    // the columns copied are this version's.
    let sqlite = db::connect(source).await?;
    let postgres = db::connect_postgres(target, 2).await?;
    let moved = copy(&sqlite, &postgres).await;
    sqlite.close().await;
    postgres.close().await;
    moved
}

async fn copy(sqlite: &SqlitePool, postgres: &PgPool) -> Result<Moved, MoveError> {
    let started = Instant::now();
    for (table, _) in TABLES {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(postgres)
            .await
            .map_err(|source| MoveError::Write { table, source })?;
        if rows > 0 {
            return Err(MoveError::TargetNotEmpty { table, rows });
        }
    }

    let mut read = sqlite.begin().await.map_err(|source| MoveError::Read {
        table: "users",
        source,
    })?;
    let mut write = postgres.begin().await.map_err(|source| MoveError::Write {
        table: "users",
        source,
    })?;
    let mut tables = Vec::new();
    for (table, columns) in TABLES {
        let names = columns
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ");
        let rows: Vec<SqliteRow> = sqlx::query(&format!("SELECT {names} FROM {table}"))
            .fetch_all(&mut *read)
            .await
            .map_err(|source| MoveError::Read { table, source })?;
        let placeholders = (1..=columns.len())
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let insert = format!("INSERT INTO {table} ({names}) VALUES ({placeholders})");
        for row in &rows {
            let mut query = sqlx::query(&insert);
            for (i, (_, kind)) in columns.iter().enumerate() {
                let read_error = |source| MoveError::Read { table, source };
                query = match kind {
                    Int => query.bind(row.try_get::<i64, _>(i).map_err(read_error)?),
                    OptInt => query.bind(row.try_get::<Option<i64>, _>(i).map_err(read_error)?),
                    Text => query.bind(storable(row.try_get::<String, _>(i).map_err(read_error)?)),
                    OptText => query.bind(
                        row.try_get::<Option<String>, _>(i)
                            .map_err(read_error)?
                            .map(storable),
                    ),
                    Bytes => query.bind(row.try_get::<Vec<u8>, _>(i).map_err(read_error)?),
                };
            }
            query
                .execute(&mut *write)
                .await
                .map_err(|source| MoveError::Write { table, source })?;
        }
        tables.push((*table, rows.len() as u64));
    }
    for table in IDENTITIES {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                           COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
        ))
        .execute(&mut *write)
        .await
        .map_err(|source| MoveError::Write { table, source })?;
    }
    write.commit().await.map_err(|source| MoveError::Write {
        table: "ops_events",
        source,
    })?;
    let _ = read.rollback().await;
    Ok(Moved {
        tables,
        millis: started.elapsed().as_millis(),
    })
}
