//! A generation running in this process: its text so far (in memory, ahead
//! of the database by at most one batch), its status, and how to stop it;
//! and the registry of running generations, one per article at most.
//!
//! The job appends what DeepSeek writes; browsers following the article
//! read what follows their position, under the same lock, so they see the
//! text exactly once and in order however the reads and appends
//! interleave; the flusher takes what the database does not have yet.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use app::modules::writing::protocol::{GenerationStatus, Usage};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{
    position::Position,
    store::{postgres::no_nul, Append},
};

pub struct Generation {
    pub article: String,
    pub version: u32,
    pub user: i64,
    state: Mutex<State>,
    /// Fired by the visitor's stop (or the article's deletion).
    cancel: CancellationToken,
    /// True once the job has stored its end and left the registry.
    ended: watch::Sender<bool>,
}

struct State {
    status: GenerationStatus,
    revision: u32,
    text: String,
    reasoning: String,
    /// How much of each, and which status, the database has.
    stored_text: usize,
    stored_reasoning: usize,
    stored_status: GenerationStatus,
    /// The final write is under way: the flusher leaves it alone.
    finishing: bool,
    problem: Option<String>,
    usage: Option<Usage>,
    /// Time taken by earlier runs of this version (before a "continue").
    elapsed_before: u64,
    started: Instant,
}

/// What follows a position, for a browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    pub status: GenerationStatus,
    /// Whether `text` and `reasoning` are the whole version (the position
    /// was of another version, revision or text) rather than what follows
    /// the position.
    pub whole: bool,
    pub text: String,
    pub reasoning: String,
    /// Where the reader is after this.
    pub position: Position,
    pub problem: Option<String>,
    pub usage: Option<Usage>,
    pub elapsed_ms: u64,
}

/// Everything a version holds now (for `get`).
pub struct Snapshot {
    pub status: GenerationStatus,
    pub text: String,
    pub reasoning: String,
    pub position: Position,
    pub problem: Option<String>,
    pub usage: Option<Usage>,
    pub elapsed_ms: u64,
}

/// What the job has to go on from (a continued version keeps its text).
#[derive(Clone, Debug, Default)]
pub struct Start {
    pub revision: u32,
    pub text: String,
    pub reasoning: String,
    pub usage: Option<Usage>,
    pub elapsed_ms: u64,
}

impl Generation {
    pub fn new(article: String, version: u32, user: i64, start: Start) -> Arc<Self> {
        let stored_text = start.text.len();
        let stored_reasoning = start.reasoning.len();
        Arc::new(Self {
            article,
            version,
            user,
            state: Mutex::new(State {
                status: GenerationStatus::Queued,
                revision: start.revision,
                text: start.text,
                reasoning: start.reasoning,
                stored_text,
                stored_reasoning,
                // The database says queued, or stopped/failed/interrupted for
                // a continued version: the first batch sets it right.
                stored_status: GenerationStatus::Interrupted,
                finishing: false,
                problem: None,
                usage: start.usage,
                elapsed_before: start.elapsed_ms,
                started: Instant::now(),
            }),
            cancel: CancellationToken::new(),
            ended: watch::channel(false).0,
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Asks the job to stop (it keeps what was written).
    pub fn stop(&self) {
        self.cancel.cancel();
    }

    /// Resolves once the job has stored its end, or after `timeout`.
    pub async fn wait_ended(&self, timeout: Duration) {
        let mut ended = self.ended.subscribe();
        let _ = tokio::time::timeout(timeout, ended.wait_for(|e| *e)).await;
    }

    pub fn set_status(&self, status: GenerationStatus) {
        self.state().status = status;
    }

    /// Adds what DeepSeek wrote. A U+0000 in it becomes U+FFFD here, as
    /// it arrives: PostgreSQL cannot store it, and the stored text must
    /// have the lengths the positions in memory count.
    pub fn push_text(&self, piece: &str) {
        self.state().text.push_str(&no_nul(piece));
    }

    pub fn push_reasoning(&self, piece: &str) {
        self.state().reasoning.push_str(&no_nul(piece));
    }

    /// The text written so far (to continue from, to name the article).
    pub fn text(&self) -> String {
        self.state().text.clone()
    }

    pub fn text_len(&self) -> usize {
        self.state().text.len()
    }

    pub fn add_usage(&self, usage: &deepseek::Usage) {
        let mut state = self.state();
        let sum = state.usage.get_or_insert_with(Usage::default);
        let add =
            |to: &mut u32, n: u64| *to = to.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        add(&mut sum.prompt_tokens, usage.prompt_tokens);
        add(&mut sum.completion_tokens, usage.completion_tokens);
        add(&mut sum.cache_hit_tokens, usage.prompt_cache_hit_tokens);
        add(&mut sum.cache_miss_tokens, usage.prompt_cache_miss_tokens);
        add(&mut sum.reasoning_tokens, usage.reasoning_tokens);
    }

    fn elapsed_ms(state: &State) -> u64 {
        state.elapsed_before + state.started.elapsed().as_millis() as u64
    }

    fn position(&self, state: &State) -> Position {
        Position {
            version: self.version,
            revision: state.revision,
            text: state.text.len(),
            reasoning: state.reasoning.len(),
        }
    }

    /// What follows `from` (everything, if it is not a position in this
    /// version's text).
    pub fn read(&self, from: Option<Position>) -> Read {
        let state = self.state();
        let from =
            from.filter(|p| p.fits(self.version, state.revision, &state.text, &state.reasoning));
        let (text_at, reasoning_at) = from.map_or((0, 0), |p| (p.text, p.reasoning));
        Read {
            status: state.status,
            whole: from.is_none(),
            text: state.text[text_at..].to_owned(),
            reasoning: state.reasoning[reasoning_at..].to_owned(),
            position: self.position(&state),
            problem: state.problem.clone(),
            usage: state.usage,
            elapsed_ms: Self::elapsed_ms(&state),
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let state = self.state();
        Snapshot {
            status: state.status,
            text: state.text.clone(),
            reasoning: state.reasoning.clone(),
            position: self.position(&state),
            problem: state.problem.clone(),
            usage: state.usage,
            elapsed_ms: Self::elapsed_ms(&state),
        }
    }

    /// What the database does not have yet, if anything.
    pub fn pending(&self) -> Option<Append> {
        let state = self.state();
        let changed = state.text.len() > state.stored_text
            || state.reasoning.len() > state.stored_reasoning
            || state.status != state.stored_status;
        (changed && !state.finishing).then(|| Append {
            article: self.article.clone(),
            version: i64::from(self.version),
            text_at: state.stored_text,
            reasoning_at: state.stored_reasoning,
            text: state.text[state.stored_text..].to_owned(),
            reasoning: state.reasoning[state.stored_reasoning..].to_owned(),
            status: state.status,
        })
    }

    /// `append` is in the database now.
    pub fn stored(&self, append: &Append) {
        let mut state = self.state();
        if state.stored_text == append.text_at && state.stored_reasoning == append.reasoning_at {
            state.stored_text += append.text.len();
            state.stored_reasoning += append.reasoning.len();
            state.stored_status = append.status;
        }
    }

    /// Everything the final write needs; no batch is taken after this.
    pub fn finishing(&self, status: GenerationStatus, problem: Option<String>) -> Ending {
        let mut state = self.state();
        state.finishing = true;
        state.problem = problem.clone();
        Ending {
            status,
            text: state.text.clone(),
            reasoning: state.reasoning.clone(),
            problem,
            usage: state.usage,
            elapsed_ms: Self::elapsed_ms(&state),
        }
    }

    /// The end is stored: readers see the final status.
    pub fn ended(&self, status: GenerationStatus, elapsed_ms: u64) {
        {
            let mut state = self.state();
            state.status = status;
            state.elapsed_before = elapsed_ms;
            state.started = Instant::now();
        }
        self.ended.send_replace(true);
    }

    pub fn is_ended(&self) -> bool {
        *self.ended.borrow()
    }
}

/// How a generation ended, with all it wrote.
#[derive(Clone, Debug)]
pub struct Ending {
    pub status: GenerationStatus,
    pub text: String,
    pub reasoning: String,
    pub problem: Option<String>,
    pub usage: Option<Usage>,
    pub elapsed_ms: u64,
}

/// The generations running in this process, by article.
pub struct Generations {
    running: Mutex<HashMap<String, Arc<Generation>>>,
    count: watch::Sender<usize>,
}

impl Default for Generations {
    fn default() -> Self {
        Self {
            running: Mutex::default(),
            count: watch::channel(0).0,
        }
    }
}

impl Generations {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Arc<Generation>>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `generation`, unless its article has one running.
    pub fn insert(&self, generation: Arc<Generation>) -> bool {
        let mut map = self.map();
        if map.contains_key(&generation.article) {
            return false;
        }
        map.insert(generation.article.clone(), generation);
        self.count.send_replace(map.len());
        true
    }

    pub fn get(&self, article: &str) -> Option<Arc<Generation>> {
        self.map().get(article).cloned()
    }

    pub fn remove(&self, generation: &Generation) {
        let mut map = self.map();
        if map
            .get(&generation.article)
            .is_some_and(|g| g.version == generation.version)
        {
            map.remove(&generation.article);
        }
        self.count.send_replace(map.len());
    }

    pub fn all(&self) -> Vec<Arc<Generation>> {
        self.map().values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Resolves when no generation runs any more, or after `timeout`.
    pub async fn wait_empty(&self, timeout: Duration) -> bool {
        let mut count = self.count.subscribe();
        let empty = tokio::time::timeout(timeout, count.wait_for(|n| *n == 0)).await;
        empty.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generation() -> Arc<Generation> {
        Generation::new("a".into(), 2, 1, Start::default())
    }

    #[test]
    fn readers_get_what_follows_their_position_once() {
        let g = generation();
        g.push_text("# 春");
        let first = g.read(None);
        assert!(first.whole);
        assert_eq!(first.text, "# 春");
        g.push_text("天");
        g.push_reasoning("想");
        let next = g.read(Some(first.position));
        assert!(!next.whole);
        assert_eq!((next.text.as_str(), next.reasoning.as_str()), ("天", "想"));
        let nothing = g.read(Some(next.position));
        assert!(nothing.text.is_empty() && nothing.reasoning.is_empty());
        // A position inside a character, or of another version: everything.
        let broken = Position {
            text: 3,
            ..next.position
        };
        assert!(g.read(Some(broken)).whole);
        let other = Position {
            version: 1,
            ..next.position
        };
        assert_eq!(g.read(Some(other)).text, "# 春天");
    }

    #[test]
    fn the_flusher_takes_each_piece_once_and_nothing_after_the_end() {
        let g = generation();
        g.set_status(GenerationStatus::Running);
        g.push_text("春天");
        let a = g.pending().unwrap();
        assert_eq!((a.text_at, a.text.as_str()), (0, "春天"));
        g.push_text("喝茶");
        g.stored(&a);
        let b = g.pending().unwrap();
        assert_eq!((b.text_at, b.text.as_str()), (6, "喝茶"));
        g.stored(&b);
        g.stored(&b); // twice changes nothing
        assert!(g.pending().is_none());
        g.push_text("。");
        let end = g.finishing(GenerationStatus::Done, None);
        assert_eq!(end.text, "春天喝茶。");
        assert!(g.pending().is_none(), "the final write has it");
    }

    #[test]
    fn a_nul_from_deepseek_becomes_a_replacement_character() {
        let g = generation();
        g.push_text("春\0天");
        g.push_reasoning("\0");
        let read = g.read(None);
        assert_eq!(read.text, "春\u{FFFD}天");
        assert_eq!(read.reasoning, "\u{FFFD}");
        assert_eq!(g.pending().unwrap().text, "春\u{FFFD}天");
    }

    #[test]
    fn one_generation_per_article() {
        let running = Generations::default();
        let a = generation();
        assert!(running.insert(a.clone()));
        assert!(!running.insert(generation()));
        assert!(running.get("a").is_some());
        running.remove(&a);
        assert!(running.is_empty());
    }
}
