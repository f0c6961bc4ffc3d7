//! The writing module's store on SQLite: reads on the pool (sqlx; the two
//! that pages make while rendering, the list and the quota, on the
//! request's own thread through `sqlite_reads`), writes as statements for
//! the site's database writer (rusqlite, run inside its batch transactions,
//! see `db_writer`), so a thousand generations' batches and the login's
//! writes share one commit.

use std::sync::Arc;

use app::modules::writing::protocol::{ArticleSummary, Regenerate, VersionInfo};
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use sqlx::SqlitePool;

use super::{
    chars, status_name, summary, version_info, Append, Appended, ArticleRow, ArticleStore, Finish,
    NewArticle, Quota, Regenerated, StoreError, VersionRow, LIST_LIMIT, VERSION_COLUMNS,
};
use crate::{clock, db_writer::DbWriter, ops::events};

pub struct SqliteArticles {
    db: SqlitePool,
    writer: Arc<DbWriter>,
}

impl SqliteArticles {
    pub fn new(db: SqlitePool, writer: Arc<DbWriter>) -> Self {
        Self { db, writer }
    }
}

#[async_trait]
impl ArticleStore for SqliteArticles {
    async fn article(&self, id: &str, user: i64) -> Result<Option<ArticleRow>, StoreError> {
        Ok(article(&self.db, id, user).await?)
    }

    async fn version(&self, id: &str, number: i64) -> Result<Option<VersionRow>, StoreError> {
        Ok(version(&self.db, id, number).await?)
    }

    async fn latest_version(&self, id: &str, user: i64) -> Result<Option<VersionRow>, StoreError> {
        Ok(latest_version(&self.db, id, user).await?)
    }

    async fn version_infos(&self, id: &str) -> Result<Vec<VersionInfo>, StoreError> {
        Ok(version_infos(&self.db, id).await?)
    }

    async fn list(&self, user: i64) -> Result<Vec<ArticleSummary>, StoreError> {
        Ok(list(&self.db, user).await?)
    }

    async fn used_since(&self, user: i64, since: i64) -> Result<u32, StoreError> {
        Ok(used_since(&self.db, user, since).await?)
    }

    async fn start_article(
        &self,
        article: NewArticle,
        quota: Quota,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        Ok(self
            .writer
            .run(move |db| {
                let Some(counted) = reserve_generation(db, quota, now)? else {
                    return Ok(None);
                };
                insert_article(db, &article, now)?;
                Ok(Some(counted))
            })
            .await?)
    }

    async fn reserve_generation(&self, quota: Quota, now: i64) -> Result<Option<i64>, StoreError> {
        Ok(self
            .writer
            .run(move |db| reserve_generation(db, quota, now))
            .await?)
    }

    async fn give_back_generation(&self, id: i64) -> Result<(), StoreError> {
        Ok(self
            .writer
            .run(move |db| give_back_generation(db, id))
            .await?)
    }

    async fn regenerate(
        &self,
        article: &str,
        latest: i64,
        how: Regenerate,
        quota: Quota,
        now: i64,
    ) -> Result<Regenerated, StoreError> {
        let article = article.to_owned();
        Ok(self
            .writer
            .run(move |db| {
                let Some(counted) = reserve_generation(db, quota, now)? else {
                    return Ok(Regenerated::DailyLimit);
                };
                let version = match how {
                    Regenerate::Fresh => add_version(db, &article, latest, now)?,
                    Regenerate::Continue => {
                        requeue_version(db, &article, latest, now)?.then_some(latest)
                    }
                };
                match version {
                    Some(version) => Ok(Regenerated::Queued { counted, version }),
                    None => {
                        give_back_generation(db, counted)?;
                        Ok(Regenerated::Busy)
                    }
                }
            })
            .await?)
    }

    async fn append(&self, appends: Arc<Vec<Append>>) -> Result<Appended, StoreError> {
        let stored = self
            .writer
            .run(move |db| append(db, &appends, clock::now_ms()))
            .await?;
        Ok(Appended {
            stored,
            stop: Vec::new(),
        })
    }

    async fn finish(&self, end: Arc<Finish>) -> Result<(), StoreError> {
        Ok(self
            .writer
            .run(move |db| {
                let now = clock::now_ms();
                finish(db, &end, now)?;
                // For the operator page, with the end it counts.
                let tokens = end
                    .end
                    .usage
                    .as_ref()
                    .map(|u| (u64::from(u.prompt_tokens), u64::from(u.completion_tokens)));
                events::count_generation(db, status_name(end.end.status), tokens, now)
            })
            .await?)
    }

    async fn save(
        &self,
        article: &str,
        number: i64,
        title: String,
        body: String,
    ) -> Result<Option<i64>, StoreError> {
        let article = article.to_owned();
        Ok(self
            .writer
            .run(move |db| save(db, &article, number, &title, &body, clock::now_ms()))
            .await?)
    }

    async fn delete(&self, id: &str, user: i64) -> Result<bool, StoreError> {
        let id = id.to_owned();
        Ok(self.writer.run(move |db| delete(db, &id, user)).await?)
    }

    /// One process owns the file: every version still queued or running
    /// was cut off by the end of the previous one.
    async fn interrupt_unfinished(&self, problem: &str) -> Result<usize, StoreError> {
        let problem = problem.to_owned();
        Ok(self
            .writer
            .run(move |db| interrupt_unfinished(db, &problem, clock::now_ms()))
            .await?)
    }

    /// One process runs every generation: a stop reaches it in memory.
    async fn request_stop(&self, _id: &str, _user: i64) -> Result<bool, StoreError> {
        Ok(false)
    }

    async fn stop_requested(&self, _articles: Vec<String>) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }

    async fn forget_generations(&self, before: i64) -> Result<usize, StoreError> {
        Ok(self
            .writer
            .run(move |db| forget_generations(db, before))
            .await?)
    }
}

/// Article `id` if it belongs to `user`.
async fn article(db: &SqlitePool, id: &str, user: i64) -> sqlx::Result<Option<ArticleRow>> {
    sqlx::query_as(
        "SELECT id, title, title_set, kind, brief, latest, updated_at
         FROM articles WHERE id = ? AND user_id = ?",
    )
    .bind(id)
    .bind(user)
    .fetch_optional(db)
    .await
}

/// Version `number` of article `id` (whose owner the caller checked).
async fn version(db: &SqlitePool, id: &str, number: i64) -> sqlx::Result<Option<VersionRow>> {
    sqlx::query_as(&format!(
        "SELECT {VERSION_COLUMNS} FROM article_versions v WHERE article_id = ? AND number = ?"
    ))
    .bind(id)
    .bind(number)
    .fetch_optional(db)
    .await
}

/// The newest version of article `id`, if the article belongs to `user`:
/// one read, for event streams.
async fn latest_version(db: &SqlitePool, id: &str, user: i64) -> sqlx::Result<Option<VersionRow>> {
    sqlx::query_as(&format!(
        "SELECT {VERSION_COLUMNS} FROM article_versions v
         JOIN articles a ON a.id = v.article_id AND a.latest = v.number
         WHERE a.id = ? AND a.user_id = ?"
    ))
    .bind(id)
    .bind(user)
    .fetch_optional(db)
    .await
}

/// Every version of article `id`, oldest first.
async fn version_infos(db: &SqlitePool, id: &str) -> sqlx::Result<Vec<VersionInfo>> {
    let rows: Vec<(i64, String, i64, i64)> = sqlx::query_as(
        "SELECT number, status, body_chars, created_at FROM article_versions
         WHERE article_id = ? ORDER BY number",
    )
    .bind(id)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(version_info).collect())
}

/// `user`'s articles, newest first.
async fn list(db: &SqlitePool, user: i64) -> sqlx::Result<Vec<ArticleSummary>> {
    // On the request's thread: the `/articles` page reads it while
    // rendering (`sqlite_reads`).
    crate::sqlite_reads::read(db, move |db| {
        db.prepare_cached(
            "SELECT a.id, a.title, a.kind, v.status, v.body_chars, a.updated_at
             FROM articles a JOIN article_versions v ON v.article_id = a.id AND v.number = a.latest
             WHERE a.user_id = ? ORDER BY a.updated_at DESC LIMIT ?",
        )?
        .query_map(params![user, LIST_LIMIT], |row| {
            Ok(summary((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
            )))
        })?
        .collect()
    })
    .await
}

/// Generations `user` started since `since`.
async fn used_since(db: &SqlitePool, user: i64, since: i64) -> sqlx::Result<u32> {
    // On the request's thread: the `/write` page shows it (`sqlite_reads`).
    crate::sqlite_reads::read(db, move |db| {
        db.prepare_cached(
            "SELECT COUNT(*) FROM writing_generations WHERE user_id = ? AND started_at >= ?",
        )?
        .query_row(params![user, since], |row| row.get::<_, i64>(0))
    })
    .await
    .map(|n| n as u32)
}

// ---- Writes: run by the database writer, inside its transaction. ----

/// Records a generation of `user` unless he already started `limit` since
/// `since` (0: no limit): its row id, or `None` when the limit is reached.
/// One statement, so parallel requests cannot both take the last one.
fn reserve_generation(db: &Connection, quota: Quota, now: i64) -> rusqlite::Result<Option<i64>> {
    let Quota { user, since, limit } = quota;
    let inserted = db
        .prepare_cached(
            "INSERT INTO writing_generations (user_id, started_at)
             SELECT ?1, ?2 WHERE ?4 = 0 OR
                 (SELECT COUNT(*) FROM writing_generations WHERE user_id = ?1 AND started_at >= ?3) < ?4",
        )?
        .execute(params![user, now, since, limit])?;
    Ok((inserted == 1).then(|| db.last_insert_rowid()))
}

/// Gives a generation back (DeepSeek refused it before writing anything).
fn give_back_generation(db: &Connection, id: i64) -> rusqlite::Result<()> {
    db.prepare_cached("DELETE FROM writing_generations WHERE id = ?")?
        .execute([id])?;
    Ok(())
}

/// Forgets generations older than `before`: the daily limit looks back one
/// day at most.
fn forget_generations(db: &Connection, before: i64) -> rusqlite::Result<usize> {
    db.prepare_cached("DELETE FROM writing_generations WHERE started_at < ?")?
        .execute([before])
}

/// A new article and its first version, queued.
fn insert_article(db: &Connection, article: &NewArticle, now: i64) -> rusqlite::Result<()> {
    db.prepare_cached(
        "INSERT INTO articles (id, user_id, title, kind, brief, latest, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
    )?
    .execute(params![
        article.id,
        article.user,
        article.title,
        article.kind,
        article.brief,
        now,
        now
    ])?;
    insert_version(db, &article.id, 1, now)
}

/// A new queued version `number` of an article (not yet its newest: see
/// [`add_version`]).
fn insert_version(db: &Connection, article: &str, number: i64, now: i64) -> rusqlite::Result<()> {
    db.prepare_cached(
        "INSERT INTO article_versions (article_id, number, status, created_at, updated_at)
         VALUES (?, ?, 'queued', ?, ?)",
    )?
    .execute(params![article, number, now, now])?;
    Ok(())
}

/// The next version of an article, queued, if its newest is still
/// `latest` and finished: the new number, or `None` (someone else started
/// one meanwhile).
fn add_version(
    db: &Connection,
    article: &str,
    latest: i64,
    now: i64,
) -> rusqlite::Result<Option<i64>> {
    let changed = db
        .prepare_cached(
            "UPDATE articles SET latest = latest + 1, updated_at = ?
             WHERE id = ? AND latest = ? AND NOT EXISTS (
                 SELECT 1 FROM article_versions WHERE article_id = ? AND number = ?
                 AND status IN ('queued', 'running'))",
        )?
        .execute(params![now, article, latest, article, latest])?;
    if changed == 0 {
        return Ok(None);
    }
    insert_version(db, article, latest + 1, now)?;
    Ok(Some(latest + 1))
}

/// Queues a stopped, failed or interrupted version again, to go on from
/// its text; whether it was one.
fn requeue_version(
    db: &Connection,
    article: &str,
    number: i64,
    now: i64,
) -> rusqlite::Result<bool> {
    let changed = db
        .prepare_cached(
            "UPDATE article_versions SET status = 'queued', problem = NULL, updated_at = ?
             WHERE article_id = ? AND number = ? AND status IN ('stopped', 'failed', 'interrupted')",
        )?
        .execute(params![now, article, number])?;
    if changed == 1 {
        db.prepare_cached("UPDATE articles SET updated_at = ? WHERE id = ?")?
            .execute(params![now, article])?;
    }
    Ok(changed == 1)
}

/// Appends each piece where its version's stored text ends; a piece whose
/// version is no longer there, no longer running, or stored up to another
/// length (a final write came first) changes nothing. How many were
/// appended.
fn append(db: &Connection, appends: &[Append], now: i64) -> rusqlite::Result<usize> {
    let mut statement = db.prepare_cached(
        "UPDATE article_versions SET
             body = body || ?1, body_bytes = body_bytes + ?2, body_chars = body_chars + ?11,
             reasoning = reasoning || ?3, reasoning_bytes = reasoning_bytes + ?4,
             status = ?5, updated_at = ?6
         WHERE article_id = ?7 AND number = ?8 AND body_bytes = ?9 AND reasoning_bytes = ?10
             AND status IN ('queued', 'running')",
    )?;
    let mut appended = 0;
    for a in appends {
        appended += statement.execute(params![
            a.text,
            a.text.len() as i64,
            a.reasoning,
            a.reasoning.len() as i64,
            status_name(a.status),
            now,
            a.article,
            a.version,
            a.text_at as i64,
            a.reasoning_at as i64,
            chars(&a.text),
        ])?;
    }
    Ok(appended)
}

/// Stores the end of a generation in one write.
fn finish(db: &Connection, finish: &Finish, now: i64) -> rusqlite::Result<()> {
    let end = &finish.end;
    let usage = end.usage.as_ref();
    db.prepare_cached(
        "UPDATE article_versions SET
             status = ?, body = ?, body_bytes = ?, body_chars = ?, reasoning = ?, reasoning_bytes = ?,
             problem = ?, prompt_tokens = ?, completion_tokens = ?, cache_hit_tokens = ?,
             cache_miss_tokens = ?, reasoning_tokens = ?, elapsed_ms = ?, updated_at = ?
         WHERE article_id = ? AND number = ?",
    )?
    .execute(params![
        status_name(end.status),
        end.text,
        end.text.len() as i64,
        chars(&end.text),
        end.reasoning,
        end.reasoning.len() as i64,
        end.problem,
        usage.map(|u| u.prompt_tokens),
        usage.map(|u| u.completion_tokens),
        usage.map(|u| u.cache_hit_tokens),
        usage.map(|u| u.cache_miss_tokens),
        usage.map(|u| u.reasoning_tokens),
        end.elapsed_ms as i64,
        now,
        finish.article,
        finish.version,
    ])?;
    db.prepare_cached(
        "UPDATE articles SET updated_at = ?1,
             title = CASE WHEN ?2 IS NOT NULL AND title_set = 0 THEN ?2 ELSE title END
         WHERE id = ?3",
    )?
    .execute(params![now, finish.title, finish.article])?;
    if let Some(id) = finish.give_back {
        give_back_generation(db, id)?;
    }
    Ok(())
}

/// Saves the visitor's edit of the newest version `number`, unless it is
/// being generated: its new revision, or `None`.
fn save(
    db: &Connection,
    article: &str,
    number: i64,
    title: &str,
    body: &str,
    now: i64,
) -> rusqlite::Result<Option<i64>> {
    let revision: Option<i64> = db
        .prepare_cached(
            "UPDATE article_versions SET body = ?, body_bytes = ?, body_chars = ?, revision = revision + 1, updated_at = ?
             WHERE article_id = ? AND number = ? AND status NOT IN ('queued', 'running')
             RETURNING revision",
        )?
        .query_row(
            params![body, body.len() as i64, chars(body), now, article, number],
            |row| row.get(0),
        )
        .optional()?;
    if revision.is_some() {
        db.prepare_cached(
            "UPDATE articles SET title = ?, title_set = 1, updated_at = ? WHERE id = ?",
        )?
        .execute(params![title, now, article])?;
    }
    Ok(revision)
}

/// Deletes article `id` of `user` with its versions; whether it was there.
fn delete(db: &Connection, id: &str, user: i64) -> rusqlite::Result<bool> {
    let deleted = db
        .prepare_cached("DELETE FROM articles WHERE id = ? AND user_id = ?")?
        .execute(params![id, user])?;
    Ok(deleted == 1)
}

/// At start-up: every version still queued or running was cut off by the
/// end of the previous process. What it had is kept.
fn interrupt_unfinished(db: &Connection, problem: &str, now: i64) -> rusqlite::Result<usize> {
    db.prepare_cached(
        "UPDATE article_versions SET status = 'interrupted', problem = ?, updated_at = ?
         WHERE status IN ('queued', 'running')",
    )?
    .execute(params![problem, now])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writing::generation::Ending;
    use app::modules::writing::protocol::{GenerationStatus, Usage};

    async fn db() -> (tempfile::TempDir, SqlitePool, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let pool = crate::db::connect(&format!("sqlite://{}/w.db", dir.path().display()))
            .await
            .unwrap();
        let conn =
            crate::db_writer::open(&dir.path().join("w.db"), crate::db::BUSY_TIMEOUT).unwrap();
        for id in [1, 2] {
            conn.execute(
                "INSERT INTO users (id, openid, display_name, created_at) VALUES (?, ?, '读者', 0)",
                params![id, format!("o{id}")],
            )
            .unwrap();
        }
        (dir, pool, conn)
    }

    fn quota(user: i64, since: i64, limit: u32) -> Quota {
        Quota { user, since, limit }
    }

    fn new_article(id: &str, user: i64) -> NewArticle {
        NewArticle {
            id: id.into(),
            user,
            title: "春茶".into(),
            kind: "博客".into(),
            brief: "{}".into(),
        }
    }

    #[tokio::test]
    async fn the_daily_limit_is_taken_in_one_statement() {
        let (_dir, pool, conn) = db().await;
        let ids: Vec<_> = (0..5)
            .map(|i| reserve_generation(&conn, quota(1, 1_000, 3), 1_000 + i).unwrap())
            .collect();
        assert_eq!(ids.iter().filter(|id| id.is_some()).count(), 3);
        assert!(
            reserve_generation(&conn, quota(2, 1_000, 3), 1_000)
                .unwrap()
                .is_some(),
            "per user"
        );
        assert!(
            reserve_generation(&conn, quota(1, 2_000, 3), 1_000)
                .unwrap()
                .is_some(),
            "a new day"
        );
        assert!(
            reserve_generation(&conn, quota(1, 0, 0), 1_000)
                .unwrap()
                .is_some(),
            "0: no limit"
        );
        give_back_generation(&conn, ids[0].unwrap()).unwrap();
        assert_eq!(used_since(&pool, 1, 1_000).await.unwrap(), 4);
        assert_eq!(forget_generations(&conn, 1_002).unwrap(), 4);
    }

    /// The list shows lengths in characters, kept with the text by every
    /// write (not counted over every article's text when listing).
    #[tokio::test]
    async fn the_list_counts_characters_as_the_text_is_written() {
        let (_dir, pool, conn) = db().await;
        insert_article(&conn, &new_article("a", 1), 1).unwrap();
        let chars_listed = || async { list(&pool, 1).await.unwrap()[0].chars };
        assert_eq!(chars_listed().await, 0);
        let piece = |at: usize, text: &str| Append {
            article: "a".into(),
            version: 1,
            text_at: at,
            reasoning_at: 0,
            text: text.into(),
            reasoning: "想一想".into(),
            status: GenerationStatus::Running,
        };
        append(&conn, &[piece(0, "春天 tea")], 2).unwrap();
        assert_eq!(chars_listed().await, 6, "2 + 4, not 10 bytes");
        let end = Finish {
            article: "a".into(),
            version: 1,
            end: Ending {
                status: GenerationStatus::Done,
                text: "# 春茶\n\n春天喝茶。".into(),
                reasoning: String::new(),
                problem: None,
                usage: None,
                elapsed_ms: 1,
            },
            title: None,
            give_back: None,
        };
        finish(&conn, &end, 3).unwrap();
        assert_eq!(chars_listed().await, 11);
        assert!(save(&conn, "a", 1, "春茶", "改过的 text", 4)
            .unwrap()
            .is_some());
        assert_eq!(chars_listed().await, 8);
        let infos = version_infos(&pool, "a").await.unwrap();
        assert_eq!(infos[0].chars, 8);
    }

    #[tokio::test]
    async fn appends_land_once_where_the_text_ends() {
        let (_dir, pool, conn) = db().await;
        insert_article(&conn, &new_article("a", 1), 1).unwrap();
        let piece = |at: usize, text: &str| Append {
            article: "a".into(),
            version: 1,
            text_at: at,
            reasoning_at: 0,
            text: text.into(),
            reasoning: String::new(),
            status: GenerationStatus::Running,
        };
        assert_eq!(
            append(&conn, &[piece(0, "春天"), piece(6, "喝茶")], 2).unwrap(),
            2
        );
        assert_eq!(
            append(&conn, &[piece(6, "喝茶")], 3).unwrap(),
            0,
            "already there"
        );
        let row = version(&pool, "a", 1).await.unwrap().unwrap();
        assert_eq!(
            (row.body.as_str(), row.status()),
            ("春天喝茶", GenerationStatus::Running)
        );
        finish(
            &conn,
            &Finish {
                article: "a".into(),
                version: 1,
                end: Ending {
                    status: GenerationStatus::Done,
                    text: "# 春茶好\n\n春天喝茶。".into(),
                    reasoning: "想想".into(),
                    problem: None,
                    usage: Some(Usage {
                        prompt_tokens: 10,
                        completion_tokens: 20,
                        ..Usage::default()
                    }),
                    elapsed_ms: 1234,
                },
                title: Some("春茶好".into()),
                give_back: None,
            },
            4,
        )
        .unwrap();
        assert_eq!(
            append(&conn, &[piece(12, "晚了")], 5).unwrap(),
            0,
            "finished"
        );
        let row = version(&pool, "a", 1).await.unwrap().unwrap();
        assert_eq!(row.body, "# 春茶好\n\n春天喝茶。");
        assert_eq!(row.usage().unwrap().completion_tokens, 20);
        assert_eq!(row.elapsed_ms, 1234);
        let article = article(&pool, "a", 1).await.unwrap().unwrap();
        assert_eq!(article.title, "春茶好");
        assert!(
            self::article(&pool, "a", 2).await.unwrap().is_none(),
            "not user 2's"
        );
    }

    #[tokio::test]
    async fn versions_saves_and_the_restart_sweep() {
        let (_dir, pool, conn) = db().await;
        insert_article(&conn, &new_article("a", 1), 1).unwrap();
        assert_eq!(
            add_version(&conn, "a", 1, 2).unwrap(),
            None,
            "v1 still queued"
        );
        assert_eq!(
            save(&conn, "a", 1, "我的", "改过", 2).unwrap(),
            None,
            "running"
        );
        assert_eq!(interrupt_unfinished(&conn, "重启了", 3).unwrap(), 1);
        assert_eq!(add_version(&conn, "a", 1, 4).unwrap(), Some(2));
        assert_eq!(
            add_version(&conn, "a", 1, 4).unwrap(),
            None,
            "not the newest"
        );
        assert!(
            requeue_version(&conn, "a", 1, 5).unwrap(),
            "interrupted: may go on"
        );
        assert!(!requeue_version(&conn, "a", 2, 5).unwrap(), "queued");
        let infos = version_infos(&pool, "a").await.unwrap();
        assert_eq!(infos.len(), 2);
        assert_eq!(
            latest_version(&pool, "a", 1).await.unwrap().unwrap().number,
            2
        );
        assert!(latest_version(&pool, "a", 2).await.unwrap().is_none());
        interrupt_unfinished(&conn, "重启了", 6).unwrap();
        assert_eq!(save(&conn, "a", 2, "我的", "改过", 7).unwrap(), Some(1));
        let listed = list(&pool, 1).await.unwrap();
        assert_eq!((listed[0].title.as_str(), listed[0].chars), ("我的", 2));
        assert!(list(&pool, 2).await.unwrap().is_empty());
        assert!(!delete(&conn, "a", 2).unwrap(), "not user 2's");
        assert!(delete(&conn, "a", 1).unwrap());
        assert!(
            version(&pool, "a", 1).await.unwrap().is_none(),
            "versions go too"
        );
    }
}
