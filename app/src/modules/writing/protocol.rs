//! The writing module's data, shared by the browser (islands), the server
//! functions (`api`) and the server's implementation of [`super::service`].
//! The event stream's messages are here too: `GET /api/articles/{id}/events`.

use serde::{Deserialize, Serialize};

/// Limits on the brief, checked by the server (and shown by the form).
pub mod limits {
    /// 主题或标题, in characters.
    pub const TOPIC: usize = 100;
    /// The kind of article and the tone, each.
    pub const CHOICE: usize = 20;
    pub const KEYWORDS: usize = 8;
    /// One keyword.
    pub const KEYWORD: usize = 20;
    pub const NOTES: usize = 1_000;
    pub const OUTLINE: usize = 3_000;
    /// An article saved by the visitor, in characters.
    pub const BODY: usize = 50_000;
    pub const TITLE: usize = 100;
}

/// How long the article should be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Length {
    /// About 600 字.
    Short,
    /// About 1 500 字.
    #[default]
    Medium,
    /// About 3 000 字.
    Long,
}

impl Length {
    /// The target in Chinese characters.
    pub fn target_chars(self) -> u32 {
        match self {
            Length::Short => 600,
            Length::Medium => 1_500,
            Length::Long => 3_000,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Length::Short => "短篇（约 600 字）",
            Length::Medium => "中篇（约 1500 字）",
            Length::Long => "长篇（约 3000 字）",
        }
    }
}

/// What the visitor asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Brief {
    /// 主题或标题 (required).
    pub topic: String,
    /// One of the kinds the module's settings offer, e.g. 公众号推文.
    pub kind: String,
    /// e.g. 轻松活泼; empty = no preference.
    pub tone: String,
    pub length: Length,
    pub keywords: Vec<String>,
    /// Anything else the writer should know.
    pub notes: String,
    /// An outline the visitor edited (Markdown list or headings): the
    /// article is then written from it, section by section.
    pub outline: Option<String>,
    /// Show DeepSeek's reasoning (thinking mode).
    pub thinking: bool,
}

/// Where one generation (a version of an article) stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GenerationStatus {
    /// Waiting for a free DeepSeek slot (the site-wide cap).
    Queued,
    Running,
    Done,
    /// The visitor stopped it: what was written is kept.
    Stopped,
    /// DeepSeek (or the network) failed: what was written is kept.
    Failed,
    /// The server restarted while it ran: what was written is kept.
    Interrupted,
}

impl GenerationStatus {
    /// Nothing more will be written into this version.
    pub fn is_finished(self) -> bool {
        !matches!(self, Self::Queued | Self::Running)
    }
}

/// DeepSeek's token counts for one generation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub cache_hit_tokens: u32,
    pub cache_miss_tokens: u32,
    pub reasoning_tokens: u32,
}

/// A row of `/articles`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleSummary {
    pub id: String,
    pub title: String,
    pub kind: String,
    pub status: GenerationStatus,
    /// Characters of the current version.
    pub chars: u32,
    /// RFC 3339, UTC.
    pub updated_at: String,
}

/// One version of an article (each generation makes one; regenerating
/// keeps the previous ones).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    pub number: u32,
    pub status: GenerationStatus,
    pub chars: u32,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// An article as its owner sees it: the current version in full.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleDetail {
    pub id: String,
    pub title: String,
    pub brief: Brief,
    /// The version shown (the newest unless the visitor picked another).
    pub version: u32,
    pub versions: Vec<VersionInfo>,
    pub status: GenerationStatus,
    /// Markdown, as written so far.
    pub body: String,
    /// DeepSeek's reasoning (thinking mode), shown folded.
    pub reasoning: String,
    /// Plain words for the visitor when the generation failed or stopped
    /// early, with what to do next.
    pub problem: Option<String>,
    pub usage: Option<Usage>,
    /// Milliseconds the generation took (so far).
    pub elapsed_ms: u64,
    /// Where an event stream picks up from what is shown here: pass it as
    /// `?from=` to `GET /api/articles/{id}/events`.
    pub stream_from: String,
    /// RFC 3339, UTC.
    pub updated_at: String,
}

/// How to generate again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Regenerate {
    /// A new version from the brief; the previous one is kept.
    Fresh,
    /// Go on from where a stopped, failed or interrupted version ended
    /// (into the same version).
    Continue,
}

/// A started generation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationRef {
    pub id: String,
    pub version: u32,
}

/// The visitor's limits now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub used_today: u32,
    pub daily_limit: u32,
    pub running: u32,
    pub concurrent_limit: u32,
}

/// One message of `GET /api/articles/{id}/events`. Each carries an SSE `id`
/// (an opaque position) that `Last-Event-ID` or `?from=` resumes from; the
/// first message after (re)connecting is a `Snapshot` of everything after
/// that position, then `Text`/`Reasoning` deltas in order, then one
/// `Finished`, after which the stream ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GenerationEvent {
    Snapshot {
        version: u32,
        status: GenerationStatus,
        /// Article text after the resume position.
        text: String,
        /// Reasoning after the resume position.
        reasoning: String,
        /// `true`: `text` and `reasoning` are the whole of `version`, to
        /// replace what is shown — the stream resumed from no position, or
        /// from one that is not in this version as it is now (another
        /// version, or the text was edited since). `false`: they follow
        /// what the position covered.
        #[serde(default)]
        whole: bool,
    },
    Text {
        text: String,
    },
    Reasoning {
        text: String,
    },
    Finished {
        status: GenerationStatus,
        problem: Option<String>,
        usage: Option<Usage>,
        elapsed_ms: u64,
    },
}

/// Why a call of the writing module failed: each has plain Chinese words
/// for the visitor (with what to do next) and an HTTP status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum WritingError {
    #[error("请先登录，再开始写作。")]
    NotLoggedIn,
    #[error("找不到这篇文章，它可能已被删除。")]
    NotFound,
    /// A field of the brief breaks a rule.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// The daily limit is used up.
    #[error("今天的生成次数已经用完了（每天 {limit} 次），{when}可以再写。")]
    DailyLimit { limit: u32, when: String },
    #[error("你已经有 {limit} 篇文章正在生成，请等它们写完或停止后再开始新的。")]
    TooManyRunning { limit: u32 },
    /// The site-wide cap on DeepSeek requests.
    #[error("现在写作的人很多，请过一会儿再试。")]
    SiteBusy,
    #[error("写作功能还没有配置好（网站管理员需要设置 DeepSeek），暂时不能生成文章。")]
    NotConfigured,
    /// The article is being generated: stop it first.
    #[error("这篇文章正在生成，请等它写完或先停止。")]
    Busy,
    /// DeepSeek refused or failed before anything was written.
    #[error("{message}")]
    Upstream { message: String },
    /// Too many event streams open: this user's (tabs following articles),
    /// or the server's.
    #[error("同时打开的文章页面太多了，请关掉一些页面后再试。")]
    TooManyStreams,
    #[error("服务器出了点问题，请稍后重试；如果一直不行，请把编号 {reference} 告诉网站管理员。")]
    Server { reference: String },
    /// The call did not reach the server or its answer was unreadable.
    #[error("网络连接失败，请检查网络后重试。")]
    Network { detail: String },
}

impl WritingError {
    /// The HTTP status of the server function's answer.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotLoggedIn => 401,
            Self::NotFound => 404,
            Self::Invalid { .. } => 422,
            Self::DailyLimit { .. } | Self::TooManyRunning { .. } | Self::TooManyStreams => 429,
            Self::SiteBusy | Self::NotConfigured => 503,
            Self::Busy => 409,
            Self::Upstream { .. } => 502,
            Self::Server { .. } | Self::Network { .. } => 500,
        }
    }
}

impl leptos::server_fn::error::FromServerFnError for WritingError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        // On the server the only such errors are the request's: its body
        // is not this call's arguments (a 400, not a server failure).
        #[cfg(feature = "ssr")]
        {
            use leptos::server_fn::error::ServerFnErrorErr;
            if let ServerFnErrorErr::Deserialization(_)
            | ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_) = value
            {
                if let Some(response) =
                    leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
                {
                    response.set_status(axum::http::StatusCode::BAD_REQUEST);
                }
                return Self::Invalid {
                    field: "request".into(),
                    message: "请求的格式不对，请刷新页面后重试。".into(),
                };
            }
        }
        Self::Network {
            detail: value.to_string(),
        }
    }
}
