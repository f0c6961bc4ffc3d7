//! What the writing module keeps, whichever engine keeps it: articles,
//! their versions (the text of running generations in batches), the
//! generations the daily limit counts. One trait, [`ArticleStore`], held as
//! `Arc<dyn ArticleStore>`; an implementation per engine:
//! [`sqlite::SqliteArticles`] (writes through the site's group-commit
//! writer) and [`postgres::PostgresArticles`] (transactions on a `PgPool`).
//!
//! Every read that a visitor's call makes names the user: an article of
//! another user is not found. Whatever must be atomic is one method (the
//! daily limit's reservation with the article or version it starts, the
//! end of a generation with its count for the operator page).

pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

use app::modules::writing::protocol::{
    ArticleSummary, GenerationStatus, Regenerate, Usage, VersionInfo,
};
use async_trait::async_trait;
use sqlx::FromRow;

use super::generation::Ending;
pub use crate::db::StoreError;

/// How many articles the list shows (newest first).
pub const LIST_LIMIT: i64 = 1_000;

/// The name of a status in the database: the same word as in the JSON and
/// the pages' `data-status`.
pub use app::modules::writing::status::word as status_name;

pub fn parse_status(name: &str) -> GenerationStatus {
    match name {
        "queued" => GenerationStatus::Queued,
        "running" => GenerationStatus::Running,
        "done" => GenerationStatus::Done,
        "stopped" => GenerationStatus::Stopped,
        "failed" => GenerationStatus::Failed,
        // The CHECK constraint allows nothing else.
        _ => GenerationStatus::Interrupted,
    }
}

#[async_trait]
pub trait ArticleStore: Send + Sync + 'static {
    // ---- Reads ----

    /// Article `id` if it belongs to `user`.
    async fn article(&self, id: &str, user: i64) -> Result<Option<ArticleRow>, StoreError>;

    /// Version `number` of article `id` (whose owner the caller checked).
    async fn version(&self, id: &str, number: i64) -> Result<Option<VersionRow>, StoreError>;

    /// The newest version of article `id`, if the article belongs to
    /// `user`: one read, for event streams.
    async fn latest_version(&self, id: &str, user: i64) -> Result<Option<VersionRow>, StoreError>;

    /// Every version of article `id`, oldest first.
    async fn version_infos(&self, id: &str) -> Result<Vec<VersionInfo>, StoreError>;

    /// `user`'s articles, newest first (at most [`LIST_LIMIT`]).
    async fn list(&self, user: i64) -> Result<Vec<ArticleSummary>, StoreError>;

    /// Generations `user` started since `since`.
    async fn used_since(&self, user: i64, since: i64) -> Result<u32, StoreError>;

    // ---- Writes ----

    /// Counts a generation against the daily limit and stores the new
    /// article with its first version, queued, in one step: the
    /// generation's record, or `None` when the limit is reached (and
    /// nothing is stored).
    async fn start_article(
        &self,
        article: NewArticle,
        quota: Quota,
        now: i64,
    ) -> Result<Option<i64>, StoreError>;

    /// Counts a generation (an outline) against the daily limit: its
    /// record, or `None` when the limit is reached. Parallel calls cannot
    /// both take the last one.
    async fn reserve_generation(&self, quota: Quota, now: i64) -> Result<Option<i64>, StoreError>;

    /// Gives a generation back (nothing came of it).
    async fn give_back_generation(&self, id: i64) -> Result<(), StoreError>;

    /// Counts a generation and queues article `article`'s next version
    /// (`Fresh`) or its newest one again (`Continue`), in one step, if the
    /// newest is still `latest` and finished.
    async fn regenerate(
        &self,
        article: &str,
        latest: i64,
        how: Regenerate,
        quota: Quota,
        now: i64,
    ) -> Result<Regenerated, StoreError>;

    /// Appends each piece where its version's stored text ends, and
    /// announces the change to every process; a piece whose version is no
    /// longer there, no longer running, or stored up to another length (a
    /// final write came first) changes nothing.
    async fn append(&self, appends: Arc<Vec<Append>>) -> Result<Appended, StoreError>;

    /// Stores the end of a generation in one write (with its count for
    /// the operator page, and the daily limit's record given back if
    /// DeepSeek wrote nothing).
    async fn finish(&self, finish: Arc<Finish>) -> Result<(), StoreError>;

    /// Saves the visitor's edit of the newest version `number`, unless it
    /// is being generated: its new revision, or `None`.
    async fn save(
        &self,
        article: &str,
        number: i64,
        title: String,
        body: String,
    ) -> Result<Option<i64>, StoreError>;

    /// Deletes article `id` of `user` with its versions; whether it was
    /// there.
    async fn delete(&self, id: &str, user: i64) -> Result<bool, StoreError>;

    /// At start-up: marks interrupted, with what they have, the versions
    /// left queued or running by a process that is gone. How many.
    async fn interrupt_unfinished(&self, problem: &str) -> Result<usize, StoreError>;

    /// Forgets generations older than `before`: the daily limit looks back
    /// one day at most.
    async fn forget_generations(&self, before: i64) -> Result<usize, StoreError>;

    /// Asks the process running the newest version of `user`'s article
    /// `id` to stop it (a stop pressed on a process that does not run it):
    /// whether one was queued or running. The owner hears it at once
    /// (a notification) or at its next batch ([`Appended::stop`]).
    async fn request_stop(&self, id: &str, user: i64) -> Result<bool, StoreError>;

    /// Which of `articles` (running here) another process asked to stop.
    async fn stop_requested(&self, articles: Vec<String>) -> Result<Vec<String>, StoreError>;
}

/// The daily limit, for one reservation: `user` may have started `limit`
/// generations since `since` (0: no limit).
#[derive(Clone, Copy, Debug)]
pub struct Quota {
    pub user: i64,
    pub since: i64,
    pub limit: u32,
}

/// What came of [`ArticleStore::regenerate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regenerated {
    /// Queued: the daily limit's record and the version's number.
    Queued {
        counted: i64,
        version: i64,
    },
    DailyLimit,
    /// Someone else started one meanwhile.
    Busy,
}

/// What a batch of appends did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Appended {
    /// How many pieces were stored.
    pub stored: usize,
    /// Articles of the batch whose stop was pressed on another process.
    pub stop: Vec<String>,
}

#[derive(Clone, Debug, FromRow)]
pub struct ArticleRow {
    pub id: String,
    pub title: String,
    /// 1 once the visitor named the article himself (the flags are
    /// integers on both engines).
    pub title_set: i64,
    pub kind: String,
    /// JSON of the brief.
    pub brief: String,
    pub latest: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, FromRow)]
pub struct VersionRow {
    pub number: i64,
    pub status: String,
    pub body: String,
    pub reasoning: String,
    pub revision: i64,
    pub problem: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub cache_hit_tokens: Option<i64>,
    pub cache_miss_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
    pub elapsed_ms: i64,
    pub updated_at: i64,
}

impl VersionRow {
    pub fn status(&self) -> GenerationStatus {
        parse_status(&self.status)
    }

    pub fn usage(&self) -> Option<Usage> {
        let n = |v: Option<i64>| v.map_or(0, |v| u32::try_from(v).unwrap_or(u32::MAX));
        self.prompt_tokens.map(|_| Usage {
            prompt_tokens: n(self.prompt_tokens),
            completion_tokens: n(self.completion_tokens),
            cache_hit_tokens: n(self.cache_hit_tokens),
            cache_miss_tokens: n(self.cache_miss_tokens),
            reasoning_tokens: n(self.reasoning_tokens),
        })
    }
}

/// The columns of a [`VersionRow`], as `v.`-qualified names for a join.
pub(crate) const VERSION_COLUMNS: &str = "v.number, v.status, v.body, v.reasoning, v.revision, \
     v.problem, v.prompt_tokens, v.completion_tokens, v.cache_hit_tokens, v.cache_miss_tokens, \
     v.reasoning_tokens, v.elapsed_ms, v.updated_at";

#[derive(Clone, Debug)]
pub struct NewArticle {
    pub id: String,
    pub user: i64,
    pub title: String,
    pub kind: String,
    pub brief: String,
}

/// New text of a running version, to append where the stored text ends.
#[derive(Clone, Debug)]
pub struct Append {
    pub article: String,
    pub version: i64,
    /// The stored lengths this text follows.
    pub text_at: usize,
    pub reasoning_at: usize,
    pub text: String,
    pub reasoning: String,
    pub status: GenerationStatus,
}

/// The end of a generation: its whole text and how it ended.
#[derive(Clone, Debug)]
pub struct Finish {
    pub article: String,
    pub version: i64,
    /// What the generation ended with.
    pub end: Ending,
    /// The article's new name (its first heading), unless the visitor
    /// named it himself.
    pub title: Option<String>,
    /// A generation to give back (DeepSeek wrote nothing).
    pub give_back: Option<i64>,
}

/// The length of a text as the article list shows it (characters, what
/// SQLite's `length()` counts). Stored with the text: `length(body)` in the
/// list's query read every article's whole text, 31% of the `/articles`
/// page's instructions with 50 articles (bench/README.md).
pub(crate) fn chars(text: &str) -> i64 {
    text.chars().count() as i64
}

/// A summary row of the list: id, title, kind, status, characters,
/// updated.
pub(crate) type SummaryRow = (String, String, String, String, i64, i64);

pub(crate) fn summary((id, title, kind, status, chars, updated_at): SummaryRow) -> ArticleSummary {
    ArticleSummary {
        id,
        title,
        kind,
        status: parse_status(&status),
        chars: chars as u32,
        updated_at: crate::clock::rfc3339(updated_at),
    }
}

/// A row of [`ArticleStore::version_infos`]: number, status, characters,
/// created.
pub(crate) fn version_info(
    (number, status, chars, created_at): (i64, String, i64, i64),
) -> VersionInfo {
    VersionInfo {
        number: number as u32,
        status: parse_status(&status),
        chars: chars as u32,
        created_at: crate::clock::rfc3339(created_at),
    }
}
