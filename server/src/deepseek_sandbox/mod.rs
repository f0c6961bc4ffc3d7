//! The DeepSeek sandbox: a look-alike of DeepSeek's API, mounted at
//! `/sandbox/deepseek` when `DEEPSEEK_SANDBOX=1`, so the whole site (and
//! every test) writes articles with no key and no internet.
//!
//! - [`api`]: `POST /chat/completions` (streamed or not, thinking or not,
//!   `stream_options.include_usage`), `GET /models`, `GET /user/balance`,
//!   in DeepSeek's shapes, with DeepSeek's errors for bad requests.
//! - [`brief`] reads what the request asks for; [`article`] writes it:
//!   a plausible Chinese article (or outline), the same for the same prompt.
//! - [`tokens`] cuts text into token-sized pieces; [`stream`] sends them at
//!   the configured pace, as DeepSeek's server-sent events.
//! - [`faults`]: make the next requests fail as DeepSeek can (401, 402,
//!   429, 500, 503, a slow first token, keep-alives, a cut or stalled
//!   stream, a malformed chunk), from tests (`/faults`, JSON) or from the
//!   sandbox page (`/`, a form).
//!
//! Everything lives in memory.

mod api;
mod article;
mod brief;
mod control;
mod error;
mod faults;
mod page;
mod stream;
mod tokens;

use std::sync::{
    atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
    Mutex, MutexGuard, PoisonError,
};
use std::{collections::HashSet, sync::Arc};

use axum::Router;

use self::faults::Faults;
pub use self::faults::{ArmedFault, FaultKind, FaultRequest};

/// Where the sandbox is mounted.
pub const MOUNT_PATH: &str = "/sandbox/deepseek";

/// How many distinct system prompts the sandbox remembers to simulate
/// DeepSeek's context cache (cache hits in `usage`).
const MAX_CACHED_PREFIXES: usize = 10_000;

/// The sandbox's whole state.
pub struct DeepseekSandbox {
    /// Tokens written per second; 0 = no pause. Changeable at run time.
    tokens_per_second: AtomicU32,
    faults: Mutex<Faults>,
    /// Hashes of system prompts already seen: a request repeating one gets
    /// "cache hit" tokens, as DeepSeek's disk cache gives.
    cached_prefixes: Mutex<HashSet<[u8; 32]>>,
    /// `/chat/completions` requests received (attempts), for tests of retries.
    chat_requests: AtomicU64,
    /// Of those, how many a fault hit.
    faults_served: AtomicU64,
    /// Answers being sent now, and the most ever at once (tests of the
    /// site's cap on concurrent DeepSeek requests).
    open_answers: Arc<AtomicU64>,
    most_open_answers: Arc<AtomicU64>,
    /// Benchmarks: answer tokens are send-time stamps (`stream::stamp`).
    stamps: AtomicBool,
}

/// One answer being sent, counted until dropped.
pub struct OpenAnswer {
    open: Arc<AtomicU64>,
}

impl Drop for OpenAnswer {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl DeepseekSandbox {
    pub fn new(tokens_per_second: u32) -> Self {
        Self {
            tokens_per_second: AtomicU32::new(tokens_per_second),
            faults: Mutex::default(),
            cached_prefixes: Mutex::default(),
            chat_requests: AtomicU64::new(0),
            faults_served: AtomicU64::new(0),
            open_answers: Arc::default(),
            most_open_answers: Arc::default(),
            stamps: AtomicBool::new(false),
        }
    }

    /// Counts an answer being sent until the returned guard is dropped.
    fn open_answer(&self) -> OpenAnswer {
        let now = self.open_answers.fetch_add(1, Ordering::AcqRel) + 1;
        self.most_open_answers.fetch_max(now, Ordering::AcqRel);
        OpenAnswer {
            open: Arc::clone(&self.open_answers),
        }
    }

    pub fn stamps(&self) -> bool {
        self.stamps.load(Ordering::Relaxed)
    }

    pub fn set_stamps(&self, on: bool) {
        self.stamps.store(on, Ordering::Relaxed);
    }

    pub fn tokens_per_second(&self) -> u32 {
        self.tokens_per_second.load(Ordering::Relaxed)
    }

    pub fn set_tokens_per_second(&self, value: u32) {
        self.tokens_per_second.store(value, Ordering::Relaxed);
    }

    /// Arms a fault (replacing any other).
    pub fn arm(&self, request: FaultRequest) -> Result<ArmedFault, &'static str> {
        lock(&self.faults).arm(request)
    }

    pub fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    pub fn armed(&self) -> Option<ArmedFault> {
        lock(&self.faults).armed()
    }

    /// Counts one chat request and takes the fault it must suffer.
    fn admit(&self) -> Option<ArmedFault> {
        self.chat_requests.fetch_add(1, Ordering::Relaxed);
        let fault = lock(&self.faults).take();
        if fault.is_some() {
            self.faults_served.fetch_add(1, Ordering::Relaxed);
        }
        fault
    }

    /// Whether DeepSeek would have this prefix cached (and remembers it).
    fn cache_hit(&self, prefix: [u8; 32]) -> bool {
        let mut cached = lock(&self.cached_prefixes);
        if cached.contains(&prefix) {
            return true;
        }
        if cached.len() >= MAX_CACHED_PREFIXES {
            cached.clear();
        }
        cached.insert(prefix);
        false
    }

    pub fn stats(&self) -> Stats {
        Stats {
            chat_requests: self.chat_requests.load(Ordering::Relaxed),
            faults_served: self.faults_served.load(Ordering::Relaxed),
            tokens_per_second: self.tokens_per_second(),
            open_answers: self.open_answers.load(Ordering::Acquire),
            most_open_answers: self.most_open_answers.load(Ordering::Acquire),
            stamps: self.stamps(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub chat_requests: u64,
    pub faults_served: u64,
    pub tokens_per_second: u32,
    /// Answers being sent now.
    pub open_answers: u64,
    /// The most answers ever sent at once.
    pub most_open_answers: u64,
    pub stamps: bool,
}

/// Routes relative to `/sandbox/deepseek`.
pub fn routes<S: Clone + Send + Sync + 'static>(sandbox: Arc<DeepseekSandbox>) -> Router<S> {
    Router::new()
        .merge(api::routes())
        .merge(control::routes())
        .merge(page::routes())
        .with_state(sandbox)
}

/// A poisoned lock only means a handler panicked mid-update; the data
/// stays usable and a sandbox should keep answering.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
