//! The writing module's store on PostgreSQL, for several server processes
//! on one database: each write is one transaction on the pool (durable at
//! its commit, `synchronous_commit` on), and every write that changes what
//! a browser follows announces the article on [`notify::ARTICLE`] inside
//! that transaction, so a follower on another process wakes when (and only
//! if) it is committed.
//!
//! The daily limit's reservation locks the user's row first: two
//! processes (or two requests) reserving for one user take turns, so the
//! count and the insert that follows it cannot both pass on the last one.
//!
//! PostgreSQL's `TEXT` cannot hold U+0000 (SQLite's can): a text is stored
//! with each one replaced by U+FFFD ([`no_nul`]). The job already cleans
//! what DeepSeek writes as it arrives (`Generation::push_text`), so stored
//! lengths and the positions in memory agree.

use std::{borrow::Cow, sync::Arc};

use app::modules::writing::protocol::{ArticleSummary, Regenerate, VersionInfo};
use async_trait::async_trait;
use sqlx::{PgConnection, PgPool};

use super::{
    chars, status_name, summary, version_info, Append, Appended, ArticleRow, ArticleStore, Finish,
    NewArticle, Quota, Regenerated, StoreError, SummaryRow, VersionRow, LIST_LIMIT,
    VERSION_COLUMNS,
};
use crate::{clock, notify, ops::events};

pub struct PostgresArticles {
    db: PgPool,
    /// This process (`writing_processes`): the owner of the versions it
    /// queues.
    process: String,
}

impl PostgresArticles {
    pub fn new(db: PgPool, process: String) -> Self {
        Self { db, process }
    }
}

/// `text` as PostgreSQL can store it: U+0000 becomes U+FFFD.
pub fn no_nul(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Counts a generation against the daily limit inside the caller's
/// transaction, the user's row locked until it ends.
async fn reserve_in(db: &mut PgConnection, quota: Quota, now: i64) -> sqlx::Result<Option<i64>> {
    if quota.limit != 0 {
        sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
            .bind(quota.user)
            .execute(&mut *db)
            .await?;
        let used: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM writing_generations WHERE user_id = $1 AND started_at >= $2",
        )
        .bind(quota.user)
        .bind(quota.since)
        .fetch_one(&mut *db)
        .await?;
        if used >= i64::from(quota.limit) {
            return Ok(None);
        }
    }
    let id = sqlx::query_scalar(
        "INSERT INTO writing_generations (user_id, started_at) VALUES ($1, $2) RETURNING id",
    )
    .bind(quota.user)
    .bind(now)
    .fetch_one(&mut *db)
    .await?;
    Ok(Some(id))
}

async fn insert_version(
    db: &mut PgConnection,
    article: &str,
    number: i64,
    now: i64,
    owner: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO article_versions (article_id, number, status, created_at, updated_at, owner)
         VALUES ($1, $2, 'queued', $3, $3, $4)",
    )
    .bind(article)
    .bind(number)
    .bind(now)
    .bind(owner)
    .execute(db)
    .await?;
    Ok(())
}

#[async_trait]
impl ArticleStore for PostgresArticles {
    async fn article(&self, id: &str, user: i64) -> Result<Option<ArticleRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, title, title_set, kind, brief, latest, updated_at
             FROM articles WHERE id = $1 AND user_id = $2",
        )
        .bind(id)
        .bind(user)
        .fetch_optional(&self.db)
        .await?)
    }

    async fn version(&self, id: &str, number: i64) -> Result<Option<VersionRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {VERSION_COLUMNS} FROM article_versions v WHERE article_id = $1 AND number = $2"
        ))
        .bind(id)
        .bind(number)
        .fetch_optional(&self.db)
        .await?)
    }

    async fn latest_version(&self, id: &str, user: i64) -> Result<Option<VersionRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {VERSION_COLUMNS} FROM article_versions v
             JOIN articles a ON a.id = v.article_id AND a.latest = v.number
             WHERE a.id = $1 AND a.user_id = $2"
        ))
        .bind(id)
        .bind(user)
        .fetch_optional(&self.db)
        .await?)
    }

    async fn version_infos(&self, id: &str) -> Result<Vec<VersionInfo>, StoreError> {
        let rows: Vec<(i64, String, i64, i64)> = sqlx::query_as(
            "SELECT number, status, body_chars, created_at FROM article_versions
             WHERE article_id = $1 ORDER BY number",
        )
        .bind(id)
        .fetch_all(&self.db)
        .await?;
        Ok(rows.into_iter().map(version_info).collect())
    }

    async fn list(&self, user: i64) -> Result<Vec<ArticleSummary>, StoreError> {
        let rows: Vec<SummaryRow> = sqlx::query_as(
            "SELECT a.id, a.title, a.kind, v.status, v.body_chars, a.updated_at
             FROM articles a JOIN article_versions v ON v.article_id = a.id AND v.number = a.latest
             WHERE a.user_id = $1 ORDER BY a.updated_at DESC LIMIT $2",
        )
        .bind(user)
        .bind(LIST_LIMIT)
        .fetch_all(&self.db)
        .await?;
        Ok(rows.into_iter().map(summary).collect())
    }

    async fn used_since(&self, user: i64, since: i64) -> Result<u32, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM writing_generations WHERE user_id = $1 AND started_at >= $2",
        )
        .bind(user)
        .bind(since)
        .fetch_one(&self.db)
        .await?;
        Ok(n as u32)
    }

    async fn start_article(
        &self,
        article: NewArticle,
        quota: Quota,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.db.begin().await?;
        let Some(counted) = reserve_in(&mut tx, quota, now).await? else {
            return Ok(None);
        };
        sqlx::query(
            "INSERT INTO articles (id, user_id, title, kind, brief, latest, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, 1, $6, $6)",
        )
        .bind(&article.id)
        .bind(article.user)
        .bind(no_nul(&article.title))
        .bind(no_nul(&article.kind))
        .bind(no_nul(&article.brief))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        insert_version(&mut tx, &article.id, 1, now, &self.process).await?;
        tx.commit().await?;
        Ok(Some(counted))
    }

    async fn reserve_generation(&self, quota: Quota, now: i64) -> Result<Option<i64>, StoreError> {
        let mut tx = self.db.begin().await?;
        let counted = reserve_in(&mut tx, quota, now).await?;
        tx.commit().await?;
        Ok(counted)
    }

    async fn give_back_generation(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM writing_generations WHERE id = $1")
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    async fn regenerate(
        &self,
        article: &str,
        latest: i64,
        how: Regenerate,
        quota: Quota,
        now: i64,
    ) -> Result<Regenerated, StoreError> {
        let mut tx = self.db.begin().await?;
        let Some(counted) = reserve_in(&mut tx, quota, now).await? else {
            return Ok(Regenerated::DailyLimit);
        };
        // Each UPDATE locks the row it changes; a second one waiting on
        // it sees the new row and no longer matches.
        let version = match how {
            Regenerate::Fresh => {
                let changed = sqlx::query(
                    "UPDATE articles SET latest = latest + 1, updated_at = $1
                     WHERE id = $2 AND latest = $3 AND NOT EXISTS (
                         SELECT 1 FROM article_versions WHERE article_id = $2 AND number = $3
                         AND status IN ('queued', 'running'))",
                )
                .bind(now)
                .bind(article)
                .bind(latest)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if changed == 1 {
                    insert_version(&mut tx, article, latest + 1, now, &self.process).await?;
                    Some(latest + 1)
                } else {
                    None
                }
            }
            Regenerate::Continue => {
                let changed = sqlx::query(
                    "UPDATE article_versions SET status = 'queued', problem = NULL, updated_at = $1,
                         owner = $4, stop_requested = 0
                     WHERE article_id = $2 AND number = $3
                     AND status IN ('stopped', 'failed', 'interrupted')",
                )
                .bind(now)
                .bind(article)
                .bind(latest)
                .bind(&self.process)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if changed == 1 {
                    sqlx::query("UPDATE articles SET updated_at = $1 WHERE id = $2")
                        .bind(now)
                        .bind(article)
                        .execute(&mut *tx)
                        .await?;
                    Some(latest)
                } else {
                    None
                }
            }
        };
        let Some(version) = version else {
            // Someone else started one meanwhile: the reservation goes
            // with the rolled-back transaction.
            return Ok(Regenerated::Busy);
        };
        notify::send(&mut *tx, notify::ARTICLE, article).await?;
        tx.commit().await?;
        Ok(Regenerated::Queued { counted, version })
    }

    /// The whole batch is one statement: the pieces as arrays, unnested
    /// and joined to their versions, and a notification for each article
    /// that changed, in one round trip and one commit. (An `UPDATE … FROM`
    /// changes a row once per statement: pieces that follow each other in
    /// one version are joined into one first.)
    ///
    /// `body = body || $1` writes the whole text again (PostgreSQL has no
    /// in-place append), so a batch costs more as texts grow. Measured
    /// (`writing_store::appends_at_scale`, debug build, PostgreSQL 15 on
    /// this 2-core machine shared with builds): 1 000 generations, one
    /// 60-byte piece each per batch, texts growing to 12 KB — a batch takes
    /// 18 ms at first, 74 ms at 12 KB (p50 33 ms, p99 130 ms; SQLite's
    /// writer 13 → 70 ms, p50 41 ms): well within the flusher's 250 ms.
    /// Storing each batch as a row of its own would write only what is new;
    /// not needed at these sizes.
    async fn append(&self, appends: Arc<Vec<Append>>) -> Result<Appended, StoreError> {
        let now = clock::now_ms();
        let mut joined: Vec<(Append, i64)> = Vec::with_capacity(appends.len());
        for a in appends.iter() {
            match joined.last_mut() {
                Some((last, pieces))
                    if last.article == a.article
                        && last.version == a.version
                        && last.text_at + last.text.len() == a.text_at
                        && last.reasoning_at + last.reasoning.len() == a.reasoning_at =>
                {
                    last.text.push_str(&a.text);
                    last.reasoning.push_str(&a.reasoning);
                    last.status = a.status;
                    *pieces += 1;
                }
                _ => joined.push((a.clone(), 1)),
            }
        }
        let mut articles = Vec::with_capacity(appends.len());
        let mut versions = Vec::with_capacity(appends.len());
        let mut text_at = Vec::with_capacity(appends.len());
        let mut reasoning_at = Vec::with_capacity(appends.len());
        let mut texts = Vec::with_capacity(appends.len());
        let mut text_chars = Vec::with_capacity(appends.len());
        let mut reasonings = Vec::with_capacity(appends.len());
        let mut statuses = Vec::with_capacity(appends.len());
        let mut counts = Vec::with_capacity(appends.len());
        for (a, pieces) in &joined {
            counts.push(*pieces);
            articles.push(a.article.as_str());
            versions.push(a.version);
            text_at.push(a.text_at as i64);
            reasoning_at.push(a.reasoning_at as i64);
            texts.push(no_nul(&a.text).into_owned());
            text_chars.push(chars(&a.text));
            reasonings.push(no_nul(&a.reasoning).into_owned());
            statuses.push(status_name(a.status));
        }
        let (stored, stop): (i64, Vec<String>) = sqlx::query_as(
            "WITH piece AS (
                 SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::bigint[],
                                      $5::text[], $6::bigint[], $7::text[], $8::text[], $11::bigint[])
                     AS p(article, number, text_at, reasoning_at, text, text_chars, reasoning, status,
                          pieces)
             ), stored AS (
                 UPDATE article_versions v SET
                     body = v.body || p.text,
                     body_bytes = v.body_bytes + octet_length(p.text),
                     body_chars = v.body_chars + p.text_chars,
                     reasoning = v.reasoning || p.reasoning,
                     reasoning_bytes = v.reasoning_bytes + octet_length(p.reasoning),
                     status = p.status, updated_at = $9
                 FROM piece p
                 WHERE v.article_id = p.article AND v.number = p.number
                     AND v.body_bytes = p.text_at AND v.reasoning_bytes = p.reasoning_at
                     AND v.status IN ('queued', 'running')
                 RETURNING v.article_id, p.pieces, v.stop_requested
             ), told AS (
                 SELECT pg_notify($10, article_id), article_id, pieces, stop_requested FROM stored
             )
             SELECT CAST(COALESCE(SUM(pieces), 0) AS BIGINT),
                 COALESCE(array_agg(article_id) FILTER (WHERE stop_requested = 1), '{}')
             FROM told",
        )
        .bind(&articles)
        .bind(&versions)
        .bind(&text_at)
        .bind(&reasoning_at)
        .bind(&texts)
        .bind(&text_chars)
        .bind(&reasonings)
        .bind(&statuses)
        .bind(now)
        .bind(notify::ARTICLE)
        .bind(&counts)
        .fetch_one(&self.db)
        .await?;
        Ok(Appended {
            stored: stored as usize,
            stop,
        })
    }

    async fn finish(&self, finish: Arc<Finish>) -> Result<(), StoreError> {
        let now = clock::now_ms();
        let end = &finish.end;
        let usage = end.usage.as_ref();
        let text = no_nul(&end.text);
        let reasoning = no_nul(&end.reasoning);
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "UPDATE article_versions SET
                 status = $1, body = $2, body_bytes = $3, body_chars = $4, reasoning = $5,
                 reasoning_bytes = $6, problem = $7, prompt_tokens = $8, completion_tokens = $9,
                 cache_hit_tokens = $10, cache_miss_tokens = $11, reasoning_tokens = $12,
                 elapsed_ms = $13, updated_at = $14
             WHERE article_id = $15 AND number = $16",
        )
        .bind(status_name(end.status))
        .bind(text.as_ref())
        .bind(text.len() as i64)
        .bind(chars(&text))
        .bind(reasoning.as_ref())
        .bind(reasoning.len() as i64)
        .bind(end.problem.as_deref().map(no_nul))
        .bind(usage.map(|u| i64::from(u.prompt_tokens)))
        .bind(usage.map(|u| i64::from(u.completion_tokens)))
        .bind(usage.map(|u| i64::from(u.cache_hit_tokens)))
        .bind(usage.map(|u| i64::from(u.cache_miss_tokens)))
        .bind(usage.map(|u| i64::from(u.reasoning_tokens)))
        .bind(end.elapsed_ms as i64)
        .bind(now)
        .bind(&finish.article)
        .bind(finish.version)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE articles SET updated_at = $1,
                 title = CASE WHEN $2::text IS NOT NULL AND title_set = 0 THEN $2 ELSE title END
             WHERE id = $3",
        )
        .bind(now)
        .bind(finish.title.as_deref().map(no_nul))
        .bind(&finish.article)
        .execute(&mut *tx)
        .await?;
        if let Some(id) = finish.give_back {
            sqlx::query("DELETE FROM writing_generations WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        // For the operator page, with the end it counts.
        let tokens = usage.map(|u| (u64::from(u.prompt_tokens), u64::from(u.completion_tokens)));
        events::count_generation_postgres(&mut tx, status_name(end.status), tokens, now).await?;
        notify::send(&mut *tx, notify::ARTICLE, &finish.article).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn save(
        &self,
        article: &str,
        number: i64,
        title: String,
        body: String,
    ) -> Result<Option<i64>, StoreError> {
        let now = clock::now_ms();
        let body = no_nul(&body);
        let mut tx = self.db.begin().await?;
        let revision: Option<i64> = sqlx::query_scalar(
            "UPDATE article_versions SET body = $1, body_bytes = $2, body_chars = $3,
                 revision = revision + 1, updated_at = $4
             WHERE article_id = $5 AND number = $6 AND status NOT IN ('queued', 'running')
             RETURNING revision",
        )
        .bind(body.as_ref())
        .bind(body.len() as i64)
        .bind(chars(&body))
        .bind(now)
        .bind(article)
        .bind(number)
        .fetch_optional(&mut *tx)
        .await?;
        if revision.is_some() {
            sqlx::query(
                "UPDATE articles SET title = $1, title_set = 1, updated_at = $2 WHERE id = $3",
            )
            .bind(no_nul(&title))
            .bind(now)
            .bind(article)
            .execute(&mut *tx)
            .await?;
            notify::send(&mut *tx, notify::ARTICLE, article).await?;
        }
        tx.commit().await?;
        Ok(revision)
    }

    async fn delete(&self, id: &str, user: i64) -> Result<bool, StoreError> {
        let mut tx = self.db.begin().await?;
        let deleted = sqlx::query("DELETE FROM articles WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 1 {
            notify::send(&mut *tx, notify::ARTICLE, id).await?;
        }
        tx.commit().await?;
        Ok(deleted == 1)
    }

    /// Only versions whose owner is gone: no owner, or one whose lease
    /// has expired (a crash). Another live process's generations are its
    /// own. Run at start-up and at every heartbeat.
    async fn interrupt_unfinished(&self, problem: &str) -> Result<usize, StoreError> {
        let interrupted: i64 = sqlx::query_scalar(
            "WITH cut AS (
                 UPDATE article_versions v SET status = 'interrupted', problem = $1, updated_at = $2
                 WHERE status IN ('queued', 'running') AND NOT EXISTS (
                     SELECT 1 FROM writing_processes p WHERE p.id = v.owner AND p.expires_at > $2)
                 RETURNING article_id
             ), told AS (
                 SELECT pg_notify($3, article_id) FROM cut
             )
             SELECT (SELECT COUNT(*) FROM told)",
        )
        .bind(problem)
        .bind(clock::now_ms())
        .bind(notify::ARTICLE)
        .fetch_one(&self.db)
        .await?;
        Ok(interrupted as usize)
    }

    async fn request_stop(&self, id: &str, user: i64) -> Result<bool, StoreError> {
        let mut tx = self.db.begin().await?;
        let marked = sqlx::query(
            "UPDATE article_versions v SET stop_requested = 1
             FROM articles a
             WHERE a.id = $1 AND a.user_id = $2 AND v.article_id = a.id AND v.number = a.latest
                 AND v.status IN ('queued', 'running')",
        )
        .bind(id)
        .bind(user)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if marked == 1 {
            notify::send(&mut *tx, notify::ARTICLE_STOP, id).await?;
        }
        tx.commit().await?;
        Ok(marked == 1)
    }

    async fn stop_requested(&self, articles: Vec<String>) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT article_id FROM article_versions
             WHERE article_id = ANY($1) AND stop_requested = 1 AND status IN ('queued', 'running')",
        )
        .bind(&articles)
        .fetch_all(&self.db)
        .await?)
    }

    async fn forget_generations(&self, before: i64) -> Result<usize, StoreError> {
        let forgotten = sqlx::query("DELETE FROM writing_generations WHERE started_at < $1")
            .bind(before)
            .execute(&self.db)
            .await?
            .rows_affected();
        Ok(forgotten as usize)
    }
}
