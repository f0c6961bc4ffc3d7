//! The writer's island: what the page opened with, the state of the work
//! (`Work`), and the calls that change it. The brief form and the article
//! are its parts (`brief_form`, `article`).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::{article::ArticleView, brief_form::BriefForm, WriterSettings};
use crate::{
    auth::{use_current_user, CurrentUser},
    modules::writing::{
        api,
        protocol::{
            ArticleDetail, Brief, GenerationEvent, GenerationRef, GenerationStatus, Quota,
            Regenerate, VersionInfo, WritingError,
        },
    },
    render_once,
};

/// What the server found for the page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Opening {
    /// Nobody is logged in: the form, with a login prompt (or, with an
    /// article id, a prompt to log in to see it).
    LoggedOut { id: Option<String> },
    /// The service is not there (no DeepSeek configured) or failed.
    Unavailable(WritingError),
    /// A new article: the form.
    New { quota: Option<Quota> },
    Article {
        article: Box<ArticleDetail>,
        quota: Option<Quota>,
    },
    /// `?id=` is not one of the visitor's articles (or could not be read).
    Missing(WritingError),
}

/// A line for the visitor above the work: what went wrong and what to do.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub text: String,
    /// Offer to log in (the session ended).
    pub login: bool,
}

/// The connection to the article's event stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Not following (nothing is being written).
    Idle,
    Live,
    /// The connection dropped; the browser is reconnecting by itself.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    Reconnecting,
    /// The server refused the stream, or it could not be opened.
    Lost,
}

/// The state of the page's work, shared by its parts (every field is a
/// signal: `Work` is `Copy`).
#[derive(Clone, Copy)]
pub struct Work {
    user: CurrentUser,
    pub article: RwSignal<Option<ArticleDetail>>,
    pub quota: RwSignal<Option<Quota>>,
    pub notice: RwSignal<Option<Notice>>,
    /// Field → why it was refused (the brief's checks and the server's).
    pub field_errors: RwSignal<Vec<(String, String)>>,
    /// A call in flight: its words ("正在开始…"); buttons wait.
    pub pending: RwSignal<Option<&'static str>>,
    pub stream: RwSignal<Stream>,
    /// The article asked for could not be shown.
    pub missing: RwSignal<Option<WritingError>>,
    /// Milliseconds of the generation when `since` was read, and `since`
    /// (the page's clock, ms): the time taken ticks on from there.
    clock: RwSignal<(u64, f64)>,
    now: RwSignal<f64>,
    #[cfg(feature = "hydrate")]
    follower: StoredValue<Option<super::follow::Follower>, LocalStorage>,
    #[cfg(feature = "hydrate")]
    ticker: StoredValue<Option<IntervalHandle>, LocalStorage>,
}

/// The page's whole writing desk: interactive, and big (Markdown, the
/// stream, the clipboard), so lazy: a wasm chunk of its own that only this
/// page fetches.
#[island(lazy)]
pub fn Desk(settings: WriterSettings, opening: Opening) -> impl IntoView {
    let user = use_current_user();
    let work = Work::new(user);
    let wanted: Option<String> = match &opening {
        Opening::LoggedOut { id } => id.clone(),
        _ => None,
    };
    let asks_login = wanted.is_some();
    let unavailable = match opening {
        Opening::LoggedOut { .. } => None,
        Opening::Unavailable(error) => Some(error),
        Opening::New { quota } => {
            work.quota.set(quota);
            None
        }
        Opening::Article { article, quota } => {
            work.quota.set(quota);
            work.open(*article);
            None
        }
        Opening::Missing(error) => {
            work.missing.set(Some(error));
            None
        }
    };

    // Logging in through the header's dialog does not reload the page: the
    // desk catches up (quota, or the article that asked for a login).
    Effect::new(move |was_logged_in: Option<bool>| {
        let logged_in = user.get().is_some();
        if logged_in && was_logged_in == Some(false) {
            work.notice.set(None);
            match wanted.clone() {
                Some(id) => work.load(id, None),
                None => work.refresh_quota(),
            }
        }
        logged_in
    });
    on_cleanup(move || work.unfollow());

    let logged_in = Signal::derive(move || user.get().is_some());
    // Changes once, not with every piece of text: the article view is built
    // once and updates itself.
    let has_article = Memo::new(move |_| work.article.with(Option::is_some));
    // Effects run only in the browser, once the island has hydrated: the
    // tests wait for it before typing (hydration would reset the fields).
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));
    view! {
        <div class="m-writer__desk" data-testid="writer" data-ready=move || ready.get().to_string()>
            {unavailable
                .map(|error| {
                    view! {
                        <p class="m-writer__notice m-writer__notice--error" role="alert">
                            {error.to_string()}
                        </p>
                    }
                })}
            <Notices work />
            // Built once on the server: the form is most of the page.
            {render_once::once(move || {
                if let Some(error) = work.missing.get() {
                    return view! { <Missing error /> }.into_any();
                }
                if has_article.get() {
                    return view! { <ArticleView work /> }.into_any();
                }
                if asks_login && !logged_in.get() {
                    return view! { <LoginToSee /> }.into_any();
                }
                view! { <BriefForm settings=settings.clone() work logged_in /> }.into_any()
            })}
        </div>
    }
}

#[component]
fn Notices(work: Work) -> impl IntoView {
    move || {
        work.notice.get().map(|notice| {
            view! {
                <div class="m-writer__notice m-writer__notice--error" role="alert" data-testid="writer-notice">
                    <p>{notice.text}</p>
                    {notice
                        .login
                        .then(|| view! { <a class="m-writer__button" href="#login">"微信登录"</a> })}
                    <button
                        type="button"
                        class="m-writer__notice-close"
                        aria-label="知道了"
                        on:click=move |_| work.notice.set(None)
                    >
                        "×"
                    </button>
                </div>
            }
        })
    }
}

/// `?id=` of an article that is not the visitor's, or deleted.
#[component]
fn Missing(error: WritingError) -> impl IntoView {
    let not_found = matches!(error, WritingError::NotFound);
    view! {
        <section class="m-writer__missing" data-testid="writer-missing">
            <h2>{if not_found { "找不到这篇文章" } else { "暂时打不开这篇文章" }}</h2>
            <p>{error.to_string()}</p>
            <p class="m-writer__missing-links">
                <a class="m-writer__button" href="/articles">"我的文章"</a>
                <a class="m-writer__button m-writer__button--primary" href="/write">"写新文章"</a>
            </p>
        </section>
    }
}

#[component]
fn LoginToSee() -> impl IntoView {
    view! {
        <section class="m-writer__missing" data-testid="writer-login-to-see">
            <h2>"请先登录"</h2>
            <p>"这是某位用户的文章，登录后才能查看自己的文章。"</p>
            <p class="m-writer__missing-links">
                <a class="m-writer__button m-writer__button--primary" href="#login">"微信登录"</a>
            </p>
        </section>
    }
}

impl Work {
    fn new(user: CurrentUser) -> Self {
        Self {
            user,
            article: RwSignal::new(None),
            quota: RwSignal::new(None),
            notice: RwSignal::new(None),
            field_errors: RwSignal::new(Vec::new()),
            pending: RwSignal::new(None),
            stream: RwSignal::new(Stream::Idle),
            missing: RwSignal::new(None),
            clock: RwSignal::new((0, 0.0)),
            now: RwSignal::new(0.0),
            #[cfg(feature = "hydrate")]
            follower: StoredValue::new_local(None),
            #[cfg(feature = "hydrate")]
            ticker: StoredValue::new_local(None),
        }
    }

    /// Milliseconds the shown generation has taken (ticking while it runs).
    pub fn elapsed_ms(self) -> u64 {
        let running = self
            .article
            .with(|a| a.as_ref().is_some_and(|a| !a.status.is_finished()));
        if !running {
            return self.article.with(|a| a.as_ref().map_or(0, |a| a.elapsed_ms));
        }
        let (base, since) = self.clock.get();
        let now = self.now.get();
        base + (now - since).max(0.0) as u64
    }

    /// Shows an article and follows it if it is being written.
    fn open(self, article: ArticleDetail) {
        let from = (!article.status.is_finished()).then(|| article.stream_from.clone());
        self.start_clock(article.elapsed_ms);
        self.article.set(Some(article));
        if let Some(from) = from {
            self.follow(Some(from));
        }
    }

    /// Loads an article (a version of it, or the newest).
    pub fn load(self, id: String, version: Option<u32>) {
        self.pending.set(Some("正在打开…"));
        leptos::task::spawn_local(async move {
            let result = api::get_article(id, version).await;
            self.pending.set(None);
            match result {
                Ok(article) => {
                    self.unfollow();
                    self.missing.set(None);
                    self.open(article);
                }
                Err(error) => self.fail(error),
            }
        });
    }

    /// Starts a new article from the brief.
    pub fn start(self, brief: Brief) {
        self.notice.set(None);
        self.field_errors.set(Vec::new());
        self.pending.set(Some("正在开始…"));
        leptos::task::spawn_local(async move {
            let result = api::start_article(brief.clone()).await;
            self.pending.set(None);
            match result {
                Ok(started) => {
                    show_address(&started.id);
                    self.article.set(Some(fresh_article(&started, brief)));
                    self.begin(started.version);
                    self.refresh_quota();
                }
                Err(error) => self.fail(error),
            }
        });
    }

    /// A new version from the brief, or the current one continued.
    pub fn regenerate(self, how: Regenerate) {
        let Some(id) = self.id() else { return };
        self.notice.set(None);
        self.pending.set(Some(match how {
            Regenerate::Fresh => "正在重新生成…",
            Regenerate::Continue => "正在继续…",
        }));
        leptos::task::spawn_local(async move {
            let result = api::regenerate_article(id, how).await;
            self.pending.set(None);
            match result {
                Ok(started) => {
                    self.article.update(|article| {
                        if let Some(article) = article {
                            begin_version(article, started.version, how);
                        }
                    });
                    self.begin(started.version);
                    self.refresh_quota();
                }
                Err(error) => self.fail(error),
            }
        });
    }

    /// Stops the generation; what was written stays (the stream's
    /// `Finished` says so).
    pub fn stop(self) {
        let Some(id) = self.id() else { return };
        self.pending.set(Some("正在停止…"));
        leptos::task::spawn_local(async move {
            let result = api::stop_generation(id.clone()).await;
            match result {
                Ok(()) => {
                    // Not following (the stream was lost): read the end.
                    if self.stream.get_untracked() != Stream::Live {
                        self.pending.set(None);
                        self.load(id, None);
                    }
                }
                Err(error) => {
                    self.pending.set(None);
                    self.fail(error);
                }
            }
        });
    }

    /// Saves the visitor's edit.
    pub fn save(self, title: String, body: String, done: Callback<()>) {
        let Some(id) = self.id() else { return };
        self.notice.set(None);
        self.pending.set(Some("正在保存…"));
        leptos::task::spawn_local(async move {
            let result = api::save_article(id, title, body).await;
            self.pending.set(None);
            match result {
                Ok(article) => {
                    self.article.set(Some(article));
                    done.run(());
                }
                Err(error) => self.fail(error),
            }
        });
    }

    pub fn refresh_quota(self) {
        leptos::task::spawn_local(async move {
            if let Ok(quota) = api::writing_quota().await {
                self.quota.set(Some(quota));
            }
        });
    }

    /// Tries the event stream again (after it was lost).
    pub fn reconnect(self) {
        if let Some(id) = self.id() {
            self.load(id, None);
        }
    }

    pub fn id(self) -> Option<String> {
        self.article
            .with_untracked(|a| a.as_ref().map(|a| a.id.clone()))
    }

    /// A call failed: the words go where the visitor looks.
    pub fn fail(self, error: WritingError) {
        match error {
            WritingError::Invalid { field, message } => {
                let in_form = self.article.with_untracked(Option::is_none);
                if in_form {
                    self.field_errors.set(vec![(field, message)]);
                } else {
                    self.notice.set(Some(Notice {
                        text: message,
                        login: false,
                    }));
                }
            }
            WritingError::NotFound => {
                self.unfollow();
                self.missing.set(Some(WritingError::NotFound));
            }
            WritingError::NotLoggedIn => {
                self.user.set(None);
                self.notice.set(Some(Notice {
                    text: "登录已失效，请重新登录后再试。".into(),
                    login: true,
                }));
            }
            error => self.notice.set(Some(Notice {
                text: error.to_string(),
                login: false,
            })),
        }
    }

    /// A generation of `version` has started: follow it from its start.
    fn begin(self, version: u32) {
        let _ = version;
        self.start_clock(0);
        self.follow(None);
    }

    fn start_clock(self, base: u64) {
        let now = page_now();
        self.clock.set((base, now));
        self.now.set(now);
    }

    /// Applies one message of the event stream.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn apply(self, event: GenerationEvent) {
        match event {
            GenerationEvent::Snapshot {
                version,
                status,
                text,
                reasoning,
                whole,
            } => self.article.update(|article| {
                let Some(article) = article else { return };
                // Another version (regenerated in another tab): shown from
                // its start.
                let other = version != article.version;
                if other {
                    begin_version(article, version, Regenerate::Fresh);
                }
                if whole || other {
                    article.body = text;
                    article.reasoning = reasoning;
                } else {
                    article.body.push_str(&text);
                    article.reasoning.push_str(&reasoning);
                }
                article.status = status;
                mark_version(article);
            }),
            GenerationEvent::Text { text } => self.article.update(|article| {
                if let Some(article) = article {
                    article.body.push_str(&text);
                    if article.status == GenerationStatus::Queued {
                        article.status = GenerationStatus::Running;
                    }
                }
            }),
            GenerationEvent::Reasoning { text } => self.article.update(|article| {
                if let Some(article) = article {
                    article.reasoning.push_str(&text);
                    if article.status == GenerationStatus::Queued {
                        article.status = GenerationStatus::Running;
                    }
                }
            }),
            GenerationEvent::Finished {
                status,
                problem,
                usage,
                elapsed_ms,
            } => {
                self.unfollow();
                self.pending.set(None);
                self.article.update(|article| {
                    if let Some(article) = article {
                        article.status = status;
                        article.problem = problem;
                        article.usage = usage;
                        article.elapsed_ms = elapsed_ms;
                        mark_version(article);
                    }
                });
                self.refresh_quota();
            }
        }
    }

    /// Follows the article's event stream from `from` (or from the start
    /// of its newest version).
    fn follow(self, from: Option<String>) {
        self.unfollow();
        let Some(id) = self.id() else { return };
        #[cfg(feature = "hydrate")]
        {
            use super::follow::{Follower, News};
            self.stream.set(Stream::Live);
            let follower = Follower::new(&id, from.as_deref(), move |news| match news {
                News::Event(event) => {
                    self.stream.set(Stream::Live);
                    self.apply(event);
                }
                News::Reconnecting => self.stream.set(Stream::Reconnecting),
                News::Lost => {
                    self.unfollow();
                    self.stream.set(Stream::Lost);
                }
            });
            match follower {
                Some(follower) => self.follower.set_value(Some(follower)),
                None => self.stream.set(Stream::Lost),
            }
            let ticker = set_interval_with_handle(
                move || self.now.set(page_now()),
                std::time::Duration::from_millis(500),
            );
            self.ticker.set_value(ticker.ok());
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (id, from);
    }

    fn unfollow(self) {
        #[cfg(feature = "hydrate")]
        {
            // Dropping the follower closes its stream.
            self.follower.try_update_value(|follower| follower.take());
            if let Some(Some(ticker)) = self.ticker.try_update_value(|ticker| ticker.take()) {
                ticker.clear();
            }
        }
        self.stream.try_set(Stream::Idle);
    }
}

/// The page's clock in milliseconds (0 on the server, where nothing ticks).
fn page_now() -> f64 {
    #[cfg(feature = "hydrate")]
    return js_sys::Date::now();
    #[cfg(not(feature = "hydrate"))]
    0.0
}

/// The address bar shows the article, so a reload (or a shared tab) opens it.
fn show_address(id: &str) {
    #[cfg(feature = "hydrate")]
    {
        let path = format!("/write?id={}", String::from(js_sys::encode_uri_component(id)));
        if let Ok(history) = window().history() {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&path));
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
}

/// The article as it is when its first generation starts.
fn fresh_article(started: &GenerationRef, brief: Brief) -> ArticleDetail {
    ArticleDetail {
        id: started.id.clone(),
        title: brief.topic.trim().to_owned(),
        brief,
        version: started.version,
        versions: vec![VersionInfo {
            number: started.version,
            status: GenerationStatus::Queued,
            chars: 0,
            created_at: String::new(),
        }],
        status: GenerationStatus::Queued,
        body: String::new(),
        reasoning: String::new(),
        problem: None,
        usage: None,
        elapsed_ms: 0,
        stream_from: String::new(),
        updated_at: String::new(),
    }
}

/// A generation of `version` begins: a new version starts empty; a
/// continued one keeps its text.
fn begin_version(article: &mut ArticleDetail, version: u32, how: Regenerate) {
    if how == Regenerate::Fresh {
        article.body.clear();
        article.reasoning.clear();
        article.usage = None;
        article.elapsed_ms = 0;
    }
    article.version = version;
    article.status = GenerationStatus::Queued;
    article.problem = None;
    if !article.versions.iter().any(|v| v.number == version) {
        article.versions.push(VersionInfo {
            number: version,
            status: GenerationStatus::Queued,
            chars: 0,
            created_at: String::new(),
        });
    }
    mark_version(article);
}

/// The versions list follows the shown version's status and length.
fn mark_version(article: &mut ArticleDetail) {
    let chars = article.body.chars().count() as u32;
    if let Some(info) = article
        .versions
        .iter_mut()
        .find(|v| v.number == article.version)
    {
        info.status = article.status;
        info.chars = chars;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::writing::protocol::Length;

    fn article() -> ArticleDetail {
        fresh_article(
            &GenerationRef {
                id: "a1".into(),
                version: 1,
            },
            Brief {
                topic: " 春天的茶 ".into(),
                kind: "博客".into(),
                length: Length::Short,
                ..Brief::default()
            },
        )
    }

    #[test]
    fn a_fresh_version_starts_empty_and_is_listed() {
        let mut a = article();
        assert_eq!(a.title, "春天的茶");
        a.body = "旧的正文".into();
        a.status = GenerationStatus::Stopped;
        begin_version(&mut a, 2, Regenerate::Fresh);
        assert_eq!(a.body, "");
        assert_eq!(a.version, 2);
        assert_eq!(
            a.versions.iter().map(|v| v.number).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(a.versions[1].status, GenerationStatus::Queued);
    }

    #[test]
    fn a_continued_version_keeps_its_text() {
        let mut a = article();
        a.body = "写到一半".into();
        a.status = GenerationStatus::Interrupted;
        begin_version(&mut a, 1, Regenerate::Continue);
        assert_eq!(a.body, "写到一半");
        assert_eq!(a.versions.len(), 1);
        assert_eq!(a.status, GenerationStatus::Queued);
    }
}
