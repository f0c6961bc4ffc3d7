//! The writing module's calls, as the server functions reach them
//! ([`WritingService`]). Each names the logged-in user, and every article is
//! looked up with its owner: another user's article is `NotFound`, whatever
//! the call.

use std::{sync::Arc, time::Duration};

use super::{
    brief,
    generation::{Generation, Start},
    is_article_id,
    job::Job,
    limits::{beijing_day_start, daily_limit_reached},
    new_article_id,
    position::Position,
    prompts, server_error,
    store::{self, Regenerated},
    Core, Writing, WritingService,
};
use crate::{clock, ops::events};
use app::{
    auth::User,
    modules::writing::protocol::{
        limits as brief_limits, ArticleDetail, ArticleSummary, Brief, GenerationRef,
        GenerationStatus, Quota, Regenerate, WritingError,
    },
};

/// How long `stop` and `delete` wait for the job to store its end.
const STOP_WAIT: Duration = Duration::from_secs(5);
/// Waiting for another process to store the end of a stopped generation,
/// the database is read at least this often besides its announcement.
const STOP_LOOK_AGAIN: Duration = Duration::from_millis(250);

/// An outline is a short answer.
const OUTLINE_MAX_TOKENS: u32 = 2_048;

#[async_trait::async_trait]
impl WritingService for Writing {
    async fn start(&self, user: &User, brief: Brief) -> Result<GenerationRef, WritingError> {
        let core = &self.core;
        let brief = brief::check(brief)?;
        let slot = core.limits.reserve_user(user.id).await?;
        let line = core.limits.join_line()?;
        let id = new_article_id();
        let now = clock::now_ms();
        let new = store::NewArticle {
            id: id.clone(),
            user: user.id,
            title: brief.topic.clone(),
            kind: brief.kind.clone(),
            brief: serde_json::to_string(&brief).map_err(server_error)?,
        };
        let quota = quota_of(core, user.id, now);
        let counted = core
            .store
            .start_article(new, quota, now)
            .await
            .map_err(server_error)?
            .ok_or_else(|| daily_limit_reached(quota.limit))?;
        let generation = Generation::new(id.clone(), 1, user.id, Start::default());
        if !core.generations.insert(generation.clone()) {
            return Err(WritingError::Busy);
        }
        tracing::info!(article = %super::short(&id), user = user.id, "writing: article started");
        Job {
            core: core.clone(),
            generation,
            brief,
            slot,
            line,
            counted: Some(counted),
        }
        .spawn();
        Ok(GenerationRef { id, version: 1 })
    }

    async fn outline(&self, user: &User, brief: Brief) -> Result<String, WritingError> {
        let core = &self.core;
        let brief = brief::check(brief)?;
        let slot = core.limits.reserve_user(user.id).await?;
        let outline = outline(core, user, brief).await;
        // Given back before answering: the next call may take it.
        slot.release().await;
        outline
    }

    async fn regenerate(
        &self,
        user: &User,
        id: &str,
        how: Regenerate,
    ) -> Result<GenerationRef, WritingError> {
        let core = &self.core;
        let article = own_article(core, user, id).await?;
        let brief: Brief = serde_json::from_str(&article.brief).map_err(server_error)?;
        if core.generations.get(id).is_some() {
            return Err(WritingError::Busy);
        }
        let latest = core
            .store
            .version(id, article.latest)
            .await
            .map_err(server_error)?
            .ok_or(WritingError::NotFound)?;
        let status = latest.status();
        if !status.is_finished() {
            return Err(WritingError::Busy);
        }
        if how == Regenerate::Continue && status == GenerationStatus::Done {
            return Err(WritingError::Invalid {
                field: "how".into(),
                message: "这个版本已经写完了，不需要继续；可以重新生成一个新版本。".into(),
            });
        }
        let slot = core.limits.reserve_user(user.id).await?;
        let line = core.limits.join_line()?;
        let now = clock::now_ms();
        let quota = quota_of(core, user.id, now);
        let (counted, version) = match core
            .store
            .regenerate(id, article.latest, how, quota, now)
            .await
            .map_err(server_error)?
        {
            Regenerated::Queued { counted, version } => (counted, version),
            Regenerated::DailyLimit => return Err(daily_limit_reached(quota.limit)),
            Regenerated::Busy => return Err(WritingError::Busy),
        };
        let start = match how {
            Regenerate::Fresh => Start::default(),
            Regenerate::Continue => Start {
                revision: latest.revision as u32,
                text: latest.body.clone(),
                reasoning: latest.reasoning.clone(),
                usage: latest.usage(),
                elapsed_ms: latest.elapsed_ms as u64,
            },
        };
        let generation = Generation::new(id.to_owned(), version as u32, user.id, start);
        if !core.generations.insert(generation.clone()) {
            return Err(WritingError::Busy);
        }
        tracing::info!(article = %super::short(id), version, how = ?how, "writing: generation started");
        Job {
            core: core.clone(),
            generation,
            brief,
            slot,
            line,
            counted: Some(counted),
        }
        .spawn();
        core.hub.publish(id);
        Ok(GenerationRef {
            id: id.to_owned(),
            version: version as u32,
        })
    }

    async fn stop(&self, user: &User, id: &str) -> Result<(), WritingError> {
        let core = &self.core;
        own_article(core, user, id).await?;
        stop_and_wait(core, user, id).await
    }

    async fn list(&self, user: &User) -> Result<Vec<ArticleSummary>, WritingError> {
        self.core.store.list(user.id).await.map_err(server_error)
    }

    async fn get(
        &self,
        user: &User,
        id: &str,
        version: Option<u32>,
    ) -> Result<ArticleDetail, WritingError> {
        detail(&self.core, user, id, version).await
    }

    async fn save(
        &self,
        user: &User,
        id: &str,
        title: String,
        body: String,
    ) -> Result<ArticleDetail, WritingError> {
        let core = &self.core;
        let title = brief::check_title(&title)?;
        let body = brief::check_body(&body)?;
        let article = own_article(core, user, id).await?;
        if core.generations.get(id).is_some() {
            return Err(WritingError::Busy);
        }
        let saved = core
            .store
            .save(id, article.latest, title, body)
            .await
            .map_err(server_error)?;
        if saved.is_none() {
            return Err(WritingError::Busy);
        }
        core.hub.publish(id);
        detail(core, user, id, None).await
    }

    async fn delete(&self, user: &User, id: &str) -> Result<(), WritingError> {
        let core = &self.core;
        own_article(core, user, id).await?;
        stop_and_wait(core, user, id).await?;
        let deleted = core.store.delete(id, user.id).await.map_err(server_error)?;
        if !deleted {
            return Err(WritingError::NotFound);
        }
        core.hub.publish(id);
        tracing::info!(article = %super::short(id), "writing: article deleted");
        Ok(())
    }

    async fn quota(&self, user: &User) -> Result<Quota, WritingError> {
        let core = &self.core;
        let config = core.limits.config();
        let used_today = core
            .store
            .used_since(user.id, beijing_day_start(clock::now_ms()))
            .await
            .map_err(server_error)?;
        Ok(Quota {
            used_today,
            daily_limit: config.daily_limit,
            running: core.limits.running(user.id).await?,
            concurrent_limit: config.user_concurrent,
        })
    }
}

/// Asks DeepSeek for an outline of `brief` (the user's place is taken).
async fn outline(core: &Core, user: &User, brief: Brief) -> Result<String, WritingError> {
    let line = core.limits.join_line()?;
    let counted = reserve(core, user.id).await?;
    let request = deepseek::ChatRequest::new(prompts::outline(&brief))
        .max_tokens(OUTLINE_MAX_TOKENS)
        .user_id(format!("u{}", user.id));
    let answer = tokio::time::timeout(core.outline_timeout, async {
        let _permit = core.limits.deepseek_slot(line).await;
        core.deepseek.chat(&request).await
    })
    .await;
    let failure = match answer {
        Ok(Ok(completion)) => {
            // Nothing is stored for an outline: counted in memory.
            core.ops.count(events::OUTLINE.into());
            if let Some(usage) = &completion.usage {
                core.ops
                    .add(events::PROMPT_TOKENS.into(), usage.prompt_tokens);
                core.ops
                    .add(events::COMPLETION_TOKENS.into(), usage.completion_tokens);
            }
            let outline = clip_lines(completion.content.trim(), brief_limits::OUTLINE);
            if !outline.is_empty() {
                return Ok(outline);
            }
            tracing::warn!(
                user = user.id,
                "writing: DeepSeek answered an empty outline"
            );
            "DeepSeek 没有给出大纲，请稍后重试。".to_owned()
        }
        Ok(Err(error)) => {
            core.ops.deepseek_error(&error);
            tracing::warn!(user = user.id, %error, "writing: the outline failed");
            error.user_message_zh().to_owned()
        }
        Err(_) => {
            core.ops.count("deepseek:timeout".into());
            tracing::warn!(user = user.id, "writing: the outline took too long");
            "生成大纲用的时间太长了，请稍后重试，或者不用大纲直接写。".to_owned()
        }
    };
    // Nothing came of it: it does not count.
    let _ = core.store.give_back_generation(counted).await;
    Err(WritingError::Upstream { message: failure })
}

/// Stops the generation of article `id`, if one runs, and waits (up to
/// [`STOP_WAIT`]) until its end is stored: here, or on the process that
/// runs it (several processes on PostgreSQL).
async fn stop_and_wait(core: &Core, user: &User, id: &str) -> Result<(), WritingError> {
    if let Some(generation) = core.generations.get(id) {
        generation.stop();
        generation.wait_ended(STOP_WAIT).await;
        return Ok(());
    }
    // Listen before asking, so the end is not missed.
    let mut news = core.hub.subscribe(id);
    if !core
        .store
        .request_stop(id, user.id)
        .await
        .map_err(server_error)?
    {
        return Ok(());
    }
    let ended = async {
        loop {
            match core.store.latest_version(id, user.id).await {
                Ok(Some(row)) if !row.status().is_finished() => {}
                _ => return,
            }
            // The owner's end is announced; look again now and then too.
            let _ = tokio::time::timeout(STOP_LOOK_AGAIN, news.changed()).await;
        }
    };
    let _ = tokio::time::timeout(STOP_WAIT, ended).await;
    Ok(())
}

/// The article `id` if it is `user`'s.
async fn own_article(
    core: &Core,
    user: &User,
    id: &str,
) -> Result<store::ArticleRow, WritingError> {
    if !is_article_id(id) {
        return Err(WritingError::NotFound);
    }
    core.store
        .article(id, user.id)
        .await
        .map_err(server_error)?
        .ok_or(WritingError::NotFound)
}

/// The daily limit of `user` on the Beijing day of `now`.
fn quota_of(core: &Core, user: i64, now: i64) -> store::Quota {
    store::Quota {
        user,
        since: beijing_day_start(now),
        limit: core.limits.config().daily_limit,
    }
}

/// Counts a generation of `user` against the daily limit.
async fn reserve(core: &Core, user: i64) -> Result<i64, WritingError> {
    let now = clock::now_ms();
    let quota = quota_of(core, user, now);
    core.store
        .reserve_generation(quota, now)
        .await
        .map_err(server_error)?
        .ok_or_else(|| daily_limit_reached(quota.limit))
}

async fn detail(
    core: &Core,
    user: &User,
    id: &str,
    version: Option<u32>,
) -> Result<ArticleDetail, WritingError> {
    let article = own_article(core, user, id).await?;
    let number = version.map_or(article.latest, i64::from);
    let row = core
        .store
        .version(id, number)
        .await
        .map_err(server_error)?
        .ok_or(WritingError::NotFound)?;
    let mut versions = core.store.version_infos(id).await.map_err(server_error)?;
    let brief: Brief = serde_json::from_str(&article.brief).map_err(server_error)?;
    // The running version: what memory has, ahead of the last batch.
    let live = core
        .generations
        .get(id)
        .filter(|g| i64::from(g.version) == number)
        .map(|g| g.snapshot());
    let (status, body, reasoning, problem, usage, elapsed_ms, position) = match live {
        Some(now) => {
            if let Some(info) = versions.iter_mut().find(|v| i64::from(v.number) == number) {
                info.status = now.status;
                info.chars = now.text.chars().count() as u32;
            }
            (
                now.status,
                now.text,
                now.reasoning,
                now.problem,
                now.usage,
                now.elapsed_ms,
                now.position,
            )
        }
        None => {
            let position = Position {
                version: number as u32,
                revision: row.revision as u32,
                text: row.body.len(),
                reasoning: row.reasoning.len(),
            };
            let usage = row.usage();
            let status = row.status();
            (
                status,
                row.body,
                row.reasoning,
                row.problem,
                usage,
                row.elapsed_ms as u64,
                position,
            )
        }
    };
    Ok(ArticleDetail {
        id: article.id,
        title: article.title,
        brief,
        version: number as u32,
        versions,
        status,
        body,
        reasoning,
        problem,
        usage,
        elapsed_ms,
        stream_from: position.to_string(),
        updated_at: clock::rfc3339(article.updated_at.max(row.updated_at)),
    })
}

/// Keeps whole lines of `text` up to `max` characters.
fn clip_lines(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    for line in text.lines() {
        let n = line.chars().count() + 1;
        if count + n > max {
            break;
        }
        count += n;
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_owned()
}

/// Shared, as pages and server functions take it from the context.
pub fn as_service(writing: &Arc<Writing>) -> Arc<dyn WritingService> {
    writing.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlines_are_clipped_at_whole_lines() {
        assert_eq!(clip_lines("# 标题\n## 一\n## 二", 10), "# 标题\n## 一");
        assert_eq!(clip_lines("# 标题\n## 一\n## 二", 9), "# 标题");
        assert_eq!(clip_lines("一行", 100), "一行");
        assert_eq!(clip_lines(&"长".repeat(10), 5), "");
    }

    #[test]
    fn server_errors_carry_a_reference_not_the_details() {
        let error = server_error("disk I/O error at /var/lib/site.db");
        let WritingError::Server { reference } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(reference.len(), 10);
        assert!(!error.to_string().contains("disk"));
        assert!(error.to_string().contains(reference.as_str()));
    }
}
