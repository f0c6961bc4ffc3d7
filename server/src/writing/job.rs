//! One generation as a task of its own, independent of the request that
//! started it: waits for a DeepSeek slot, asks DeepSeek (the whole article,
//! or section after section of the visitor's outline, or the rest of a text
//! that was cut off), appends each piece to the generation as it arrives
//! and tells the article's followers, then stores the end in one write.
//!
//! Stopping drops the DeepSeek stream, which closes its connection, so
//! DeepSeek stops writing (and billing). Whatever ends it — done, stopped,
//! a DeepSeek failure, the server stopping — the text so far is kept; a
//! failure reaches the visitor as DeepSeek's plain words
//! (`deepseek::Error::user_message_zh`) and the operator as a log line with
//! the details.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use app::modules::writing::protocol::{limits, Brief, GenerationStatus};
use deepseek::{ChatEvent, ChatRequest, FinishReason, Message, Thinking};
use futures_util::{FutureExt, StreamExt};
use tokio_util::sync::CancellationToken;

use super::{
    generation::{Ending, Generation},
    limits::{InLine, UserSlot},
    outline::Outline,
    prompts, short,
    store::{self, Finish},
    Core,
};

/// What the visitor reads when he stopped it himself.
pub const STOPPED: &str =
    "已经停止生成，写好的部分都保留着。可以点“继续写”接着写，或者重新生成一个版本。";
/// What the visitor reads when the server stopped (or restarted) meanwhile.
pub const INTERRUPTED: &str =
    "服务器重启，生成被打断了，写好的部分都保留着。可以点“继续写”接着写，或者重新生成一个版本。";

/// Output tokens per 字 asked for, generously: DeepSeek counts about 0.6
/// tokens per Chinese character, Markdown adds some.
const TOKENS_PER_CHAR: u32 = 2;
const TOKENS_SPARE: u32 = 1_024;
/// Thinking mode: the reasoning counts against `max_tokens` too.
const REASONING_TOKENS: u32 = 16_384;

/// Once the server is stopping, how often the final write is tried before
/// giving up (the restart sweep then marks the version interrupted). While
/// it runs, the write is tried until the database takes it: on PostgreSQL
/// nothing else would ever end a version this live process owns.
const FINAL_WRITE_TRIES: u32 = 5;
/// The longest wait between two tries of the final write.
const FINAL_WRITE_PAUSE: Duration = Duration::from_secs(5);

pub struct Job {
    pub core: Arc<Core>,
    pub generation: Arc<Generation>,
    pub brief: Brief,
    /// The user's place, held until the job ends.
    pub slot: UserSlot,
    pub line: InLine,
    /// The record the daily limit counted, given back if DeepSeek wrote
    /// nothing.
    pub counted: Option<i64>,
}

/// How the writing went.
enum Outcome {
    Done,
    Stopped,
    Interrupted,
    Failed(deepseek::Error),
    /// DeepSeek ended the answer early on its side.
    Cut(FinishReason),
}

type Stopping<'a> = Pin<&'a mut (dyn Future<Output = ()> + Send)>;

impl Job {
    pub fn spawn(self) {
        tokio::spawn(self.run());
    }

    async fn run(self) {
        let Job {
            core,
            generation,
            brief,
            slot,
            line,
            counted,
        } = self;
        let cancel = generation.cancel_token();
        let shutdown = core.shutdown.clone().stopped();
        tokio::pin!(shutdown);
        let before = (generation.text_len(), generation.snapshot().reasoning.len());

        let writer = Writer {
            core: &core,
            generation: &generation,
            cancel: &cancel,
        };
        let outcome = tokio::select! {
            biased;
            _ = cancel.cancelled() => Outcome::Stopped,
            _ = &mut shutdown => Outcome::Interrupted,
            permit = core.limits.deepseek_slot(line) => {
                generation.set_status(GenerationStatus::Running);
                core.hub.publish(&generation.article);
                let outcome = writer.write(&brief, shutdown.as_mut()).await;
                drop(permit);
                outcome
            }
        };

        let (status, problem) = verdict(&generation, &outcome);
        match &outcome {
            Outcome::Failed(error) => core.ops.deepseek_error(error),
            Outcome::Cut(FinishReason::ContentFilter) => {
                core.ops.count("deepseek:content_filter".into())
            }
            Outcome::Cut(FinishReason::Length) => {}
            Outcome::Cut(_) => core.ops.count("deepseek:cut".into()),
            _ => {}
        }
        let ending = generation.finishing(status, problem);
        let wrote = (ending.text.len(), ending.reasoning.len()) != before;
        let give_back = counted.filter(|_| !wrote && status != GenerationStatus::Done);
        store_end(&core, &generation, ending, give_back, slot).await;
    }
}

/// The visitor's words for how it ended, logged for the operator.
fn verdict(generation: &Generation, outcome: &Outcome) -> (GenerationStatus, Option<String>) {
    let article = short(&generation.article);
    let version = generation.version;
    match outcome {
        Outcome::Done => (GenerationStatus::Done, None),
        Outcome::Stopped => (GenerationStatus::Stopped, Some(STOPPED.into())),
        Outcome::Interrupted => (GenerationStatus::Interrupted, Some(INTERRUPTED.into())),
        Outcome::Failed(error) => {
            if error.needs_operator() {
                tracing::error!(%article, version, %error, "writing: DeepSeek refused the generation; the text so far is kept");
            } else {
                tracing::warn!(%article, version, %error, "writing: DeepSeek failed; the text so far is kept");
            }
            (
                GenerationStatus::Failed,
                Some(error.user_message_zh().into()),
            )
        }
        Outcome::Cut(reason) => {
            tracing::warn!(%article, version, reason = reason.as_str(), "writing: DeepSeek ended the answer early");
            match reason {
                FinishReason::Length => (
                    GenerationStatus::Stopped,
                    Some("文章写到了 DeepSeek 单次回答的长度上限，后面的还没写。可以点“继续写”接着写。".into()),
                ),
                FinishReason::ContentFilter => (
                    GenerationStatus::Failed,
                    Some("DeepSeek 的内容审核拦下了后面的内容，文章没有写完。可以修改主题或要求后重新生成。".into()),
                ),
                _ => (
                    GenerationStatus::Failed,
                    Some("DeepSeek 中途停止了回答，写好的部分都保留着。请稍后点“继续写”接着写。".into()),
                ),
            }
        }
    }
}

/// Gives the user's place back (DeepSeek is no longer asked: whoever sees
/// the end, here or on another process, can start another), stores the end
/// (retrying a failed write a few times), then lets the followers see it
/// and the article leave the running ones.
async fn store_end(
    core: &Core,
    generation: &Generation,
    ending: Ending,
    give_back: Option<i64>,
    slot: UserSlot,
) {
    slot.release().await;
    let (status, elapsed_ms) = (ending.status, ending.elapsed_ms);
    let end = Arc::new(Finish {
        article: generation.article.clone(),
        version: i64::from(generation.version),
        title: first_heading(&ending.text),
        end: ending,
        give_back,
    });
    let mut tries = 0;
    loop {
        tries += 1;
        match core.store.finish(end.clone()).await {
            Ok(()) => break,
            Err(error) if tries < FINAL_WRITE_TRIES || !stopping(core) => {
                if tries < FINAL_WRITE_TRIES || tries % 12 == 0 {
                    tracing::warn!(article = %short(&generation.article), %error, tries, "writing: cannot store the end of a generation; trying again");
                }
                let pause = Duration::from_millis(200 << tries.min(8)).min(FINAL_WRITE_PAUSE);
                tokio::time::sleep(pause).await;
            }
            Err(error) => {
                tracing::error!(article = %short(&generation.article), %error, "writing: cannot store the end of a generation; what the last batch stored is kept and the next start marks it interrupted");
                break;
            }
        }
    }
    generation.ended(status, elapsed_ms);
    core.generations.remove(generation);
    core.hub.publish(&generation.article);
    tracing::info!(
        article = %short(&generation.article),
        version = generation.version,
        status = store::status_name(status),
        chars = end.end.text.chars().count(),
        elapsed_ms,
        "writing: generation ended"
    );
}

/// Whether the server has begun to stop.
fn stopping(core: &Core) -> bool {
    Box::pin(core.shutdown.clone().stopped())
        .now_or_never()
        .is_some()
}

/// The article's name from its first `# ` heading.
fn first_heading(text: &str) -> Option<String> {
    let title = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("# "))?
        .trim()
        .trim_matches(['*', '《', '》'])
        .trim();
    let title: String = title.chars().take(limits::TITLE).collect();
    (!title.is_empty()).then_some(title)
}

/// Writes into one generation.
struct Writer<'a> {
    core: &'a Core,
    generation: &'a Generation,
    cancel: &'a CancellationToken,
}

impl Writer<'_> {
    async fn write(&self, brief: &Brief, mut shutdown: Stopping<'_>) -> Outcome {
        let Some(outline) = brief.outline.as_deref().map(Outline::parse) else {
            let written = self.generation.text();
            let messages = prompts::article(brief);
            let target = brief.length.target_chars();
            return if written.is_empty() {
                self.ask(messages, brief.thinking, target, shutdown).await
            } else {
                let messages = prompts::continuation(messages, &written);
                self.ask(messages, false, target, shutdown).await
            };
        };
        if outline.sections.is_empty() {
            return Outcome::Done;
        }
        let per_section = (brief.length.target_chars() / outline.sections.len() as u32).max(100);
        let written = self.generation.text();
        let (first, partial) = if written.is_empty() {
            let title = outline.title.clone().unwrap_or_else(|| brief.topic.clone());
            self.push(&format!("# {title}\n\n"));
            (0, None)
        } else {
            resume_point(&outline, &written)
        };
        for index in first..outline.sections.len() {
            let messages = prompts::section(brief, &outline, index, per_section);
            let outcome = match (&partial, index == first) {
                (Some(partial), true) => {
                    let messages = prompts::continuation(messages, partial);
                    self.ask(messages, false, per_section, shutdown.as_mut())
                        .await
                }
                _ => {
                    self.blank_line();
                    self.ask(messages, brief.thinking, per_section, shutdown.as_mut())
                        .await
                }
            };
            if !matches!(outcome, Outcome::Done) {
                return outcome;
            }
        }
        Outcome::Done
    }

    fn push(&self, text: &str) {
        self.generation.push_text(text);
        self.core.hub.publish(&self.generation.article);
    }

    /// Sections are separated by a blank line.
    fn blank_line(&self) {
        let text = self.generation.text();
        if text.is_empty() || text.ends_with("\n\n") {
            return;
        }
        self.push(if text.ends_with('\n') { "\n" } else { "\n\n" });
    }

    /// One DeepSeek request, streamed into the generation.
    async fn ask(
        &self,
        messages: Vec<Message>,
        thinking: bool,
        chars: u32,
        mut shutdown: Stopping<'_>,
    ) -> Outcome {
        let mut max_tokens = chars.saturating_mul(TOKENS_PER_CHAR) + TOKENS_SPARE;
        if thinking {
            max_tokens += REASONING_TOKENS;
        }
        let request = ChatRequest::new(messages)
            .thinking(if thinking {
                Thinking::Enabled
            } else {
                Thinking::Disabled
            })
            .max_tokens(max_tokens)
            .user_id(format!("u{}", self.generation.user));
        let mut stream = tokio::select! {
            biased;
            _ = self.cancel.cancelled() => return Outcome::Stopped,
            _ = &mut shutdown => return Outcome::Interrupted,
            accepted = self.core.deepseek.chat_stream(&request) => match accepted {
                Ok(stream) => stream,
                Err(error) => return Outcome::Failed(error),
            },
        };
        let mut finish = None;
        let mut reasoning_began = false;
        loop {
            let event = tokio::select! {
                biased;
                // Dropping `stream` (on return) closes DeepSeek's connection.
                _ = self.cancel.cancelled() => return Outcome::Stopped,
                _ = &mut shutdown => return Outcome::Interrupted,
                event = stream.next() => event,
            };
            match event {
                None | Some(Ok(ChatEvent::Done)) => break,
                Some(Err(error)) => return Outcome::Failed(error),
                Some(Ok(ChatEvent::Text(text))) => self.push(&text),
                Some(Ok(ChatEvent::Reasoning(text))) => {
                    if !reasoning_began {
                        reasoning_began = true;
                        let earlier = self.generation.snapshot().reasoning;
                        if !earlier.is_empty() && !earlier.ends_with("\n\n") {
                            self.generation.push_reasoning("\n\n");
                        }
                    }
                    self.generation.push_reasoning(&text);
                    self.core.hub.publish(&self.generation.article);
                }
                Some(Ok(ChatEvent::Finished(reason))) => finish = Some(reason),
                Some(Ok(ChatEvent::Usage(usage))) => self.generation.add_usage(&usage),
            }
        }
        match finish {
            Some(reason) if !reason.is_complete() => Outcome::Cut(reason),
            _ => Outcome::Done,
        }
    }
}

/// Where a continued outline article picks up: the section whose heading
/// was written last (continued from its text, `Some`), or the first one
/// (only the title was written).
fn resume_point(outline: &Outline, written: &str) -> (usize, Option<String>) {
    let mut found = None;
    for (index, section) in outline.sections.iter().enumerate() {
        let heading = format!("## {}", section.heading);
        if let Some(at) = written.rfind(&heading) {
            if found.is_none_or(|(_, earlier)| at >= earlier) {
                found = Some((index, at));
            }
        }
    }
    match found {
        Some((index, at)) => (index, Some(written[at..].to_owned())),
        None => (0, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_is_the_first_heading() {
        assert_eq!(
            first_heading("# 《春茶》 \n\n## 一").as_deref(),
            Some("春茶")
        );
        assert_eq!(
            first_heading("正文\n# 后来的标题").as_deref(),
            Some("后来的标题")
        );
        assert_eq!(first_heading("## 只有小标题"), None);
        assert_eq!(first_heading("# \n"), None);
        assert_eq!(
            first_heading(&format!("# {}", "长".repeat(300))).map(|t| t.chars().count()),
            Some(limits::TITLE)
        );
    }

    #[test]
    fn an_outline_article_resumes_in_its_last_section() {
        let outline = Outline::parse("# 春茶\n## 为什么\n## 怎么泡\n## 结语");
        assert_eq!(resume_point(&outline, "# 春茶\n\n"), (0, None));
        let written = "# 春茶\n\n## 为什么\n\n新鲜。\n\n## 怎么泡\n\n先烫";
        assert_eq!(
            resume_point(&outline, written),
            (1, Some("## 怎么泡\n\n先烫".to_owned()))
        );
    }
}
