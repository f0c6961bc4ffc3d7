//! The visitor's articles (`/articles`): newest first, each opening at
//! `/write?id=…`, each deletable after a confirmation. Logged out, a login
//! prompt; logging in through the header's dialog fills the list in place.

use leptos::{html, prelude::*};
use serde::{Deserialize, Serialize};

use crate::{
    auth::use_current_user,
    modules::writing::{
        api,
        confirm::ConfirmDialog,
        protocol::{ArticleSummary, WritingError},
        status,
    },
    render_once,
    theme::{
        settings::{require_text, Invalid, Settings},
        ModuleSpec, ModuleType, Zone,
    },
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArticleListSettings {
    pub heading: String,
    /// Shown when the visitor has no article yet.
    pub empty: String,
}

impl Default for ArticleListSettings {
    fn default() -> Self {
        Self {
            heading: "我的文章".into(),
            empty: "你还没有写过文章。说说想写什么，DeepSeek 几分钟就能写好一篇。".into(),
        }
    }
}

impl Settings for ArticleListSettings {
    fn check(&self) -> Result<(), Invalid> {
        require_text("heading", &self.heading)?;
        require_text("empty", &self.empty)
    }
}

/// The module: one per page.
pub struct ArticleList;

impl ModuleType for ArticleList {
    type Settings = ArticleListSettings;
    const SPEC: ModuleSpec = ModuleSpec::new("article_list", &[Zone::Page]).limit(1);

    fn view(settings: ArticleListSettings, _blocks: AnyView) -> impl IntoView + 'static {
        view! {
            <div class="m-article-list">
                <Suspense fallback=|| view! { <p class="m-article-list__loading">"加载中…"</p> }>
                    {
                        let settings = settings.clone();
                        Suspend::new(async move {
                            let (listed, rows) = match load().await {
                                None => (Listed::LoggedOut, Vec::new()),
                                Some(Err(error)) => (Listed::Failed(error), Vec::new()),
                                Some(Ok(list)) => (Listed::Rows(list.len()), list),
                            };
                            view! {
                                <Shelf settings listed>
                                    <Rows list=rows />
                                </Shelf>
                            }
                        })
                    }
                </Suspense>
            </div>
        }
    }

    fn example() -> ArticleListSettings {
        ArticleListSettings::default()
    }
}

/// The visitor's articles; `None` when nobody is logged in.
async fn load() -> Option<Result<Vec<ArticleSummary>, WritingError>> {
    #[cfg(feature = "ssr")]
    {
        use crate::modules::writing::page;
        let user = page::visitor()?;
        Some(match page::service() {
            Ok(service) => service.list(&user).await,
            Err(error) => Err(error),
        })
    }
    #[cfg(not(feature = "ssr"))]
    None
}

/// What the server found, as the island's props. The rows themselves are
/// the island's children: HTML written once by the server. As a prop the
/// list was written twice, as rows and again as JSON escaped into the
/// island's attribute (bench/README.md, issue 14).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Listed {
    /// Nobody is logged in.
    LoggedOut,
    /// The list could not be read.
    Failed(WritingError),
    /// How many rows the server wrote.
    Rows(usize),
}

/// The list, interactive (delete, and filling in after a login). Lazy: its
/// own wasm chunk, fetched only by this page.
#[island(lazy)]
fn Shelf(settings: ArticleListSettings, listed: Listed, children: Children) -> impl IntoView {
    let user = use_current_user();
    let (fetched, written) = match listed {
        Listed::LoggedOut => (None, 0),
        Listed::Failed(error) => (Some(Err(error)), 0),
        Listed::Rows(0) => (Some(Ok(Vec::new())), 0),
        Listed::Rows(n) => (None, n),
    };
    // The list the browser read (after a login in place, or when the
    // server's rows are all deleted); `None` while the server's rows stand,
    // or while it is being read.
    let fetched = RwSignal::new(fetched);
    // How many of the server's rows are still on the page.
    let written = RwSignal::new(written);
    Effect::new(move |was_logged_in: Option<bool>| {
        let logged_in = user.get().is_some();
        if logged_in && was_logged_in == Some(false) {
            leptos::task::spawn_local(async move {
                fetched.set(Some(api::list_articles().await));
            });
        }
        if !logged_in {
            fetched.set(None);
            written.set(0);
        }
        logged_in
    });
    let deleting = RwSignal::new(None::<Deleting>);
    let ArticleListSettings { heading, empty } = settings;
    let shelf_ref = NodeRef::<html::Section>::new();
    let heading_ref = NodeRef::<html::H1>::new();
    // Set once hydrated (effects run only in the browser), for the tests.
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));

    view! {
        <section
            class="m-article-list__shelf"
            data-testid="article-list"
            data-ready=move || ready.get().to_string()
            node_ref=shelf_ref
            on:click=move |ev| {
                if let Some(asked) = Deleting::asked_by(&ev) {
                    deleting.set(Some(asked));
                }
            }
        >
            <header class="m-article-list__head">
                <h1 node_ref=heading_ref tabindex="-1">{heading}</h1>
                <a class="m-article-list__button m-article-list__button--primary" href="/write">
                    "写新文章"
                </a>
            </header>
            <div class="m-article-list__written" hidden=move || written.get() == 0>
                {children()}
            </div>
            // Built once on the server: no rows there, only what stands
            // instead of them.
            {render_once::once(move || {
                if user.get().is_none() {
                    return view! {
                        <div class="m-article-list__empty" data-testid="article-list-login">
                            <p>"登录后，这里会列出你写过的文章。"</p>
                            <a class="m-article-list__button m-article-list__button--primary" href="#login">
                                "微信登录"
                            </a>
                        </div>
                    }
                        .into_any();
                }
                match fetched.get() {
                    None if written.get() > 0 => ().into_any(),
                    None => view! { <p class="m-article-list__loading">"加载中…"</p> }.into_any(),
                    Some(Err(error)) => {
                        view! {
                            <p class="m-article-list__error" role="alert">
                                {error.to_string()}
                            </p>
                        }
                            .into_any()
                    }
                    Some(Ok(list)) if list.is_empty() => {
                        view! {
                            <div class="m-article-list__empty" data-testid="article-list-empty">
                                <p>{empty.clone()}</p>
                            </div>
                        }
                            .into_any()
                    }
                    Some(Ok(list)) => view! { <Rows list /> }.into_any(),
                }
            })}
            {move || {
                deleting
                    .get()
                    .map(|article| {
                        view! { <DeleteDialog article fetched written deleting shelf_ref heading_ref /> }
                    })
            }}
        </section>
    }
}

/// The article a 删除 button asked to delete.
#[derive(Clone, Debug, PartialEq)]
struct Deleting {
    id: String,
    title: String,
}

impl Deleting {
    /// The article of the 删除 button a click came from, if it came from
    /// one: the rows are plain HTML (the server's are not hydrated), so the
    /// list listens for their clicks.
    #[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
    fn asked_by(ev: &leptos::ev::MouseEvent) -> Option<Self> {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let target = ev.target()?.dyn_into::<web_sys::Element>().ok()?;
            let button = target.closest("[data-delete]").ok()??;
            Some(Self {
                id: button.get_attribute("data-delete")?,
                title: button.get_attribute("data-title").unwrap_or_default(),
            })
        }
        #[cfg(not(feature = "hydrate"))]
        None
    }
}

/// Takes the server's row of article `id` off the page; whether it was
/// there.
#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
fn remove_written_row(shelf: NodeRef<html::Section>, id: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        // Ids are hex; anything else is not ours to look for.
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return false;
        }
        let selector = format!(".m-article-list__written [data-article=\"{id}\"]");
        if let Some(row) = shelf
            .get_untracked()
            .and_then(|shelf| shelf.query_selector(&selector).ok().flatten())
        {
            row.remove();
            return true;
        }
    }
    false
}

/// The rows, as plain HTML (their 删除 buttons reach the list by the
/// click's bubbling: see [`Deleting::asked_by`]).
#[component]
fn Rows(list: Vec<ArticleSummary>) -> impl IntoView {
    (!list.is_empty()).then(|| view! { <ul class="m-article-list__items" inner_html=rows_html(&list) /> })
}

/// The rows' HTML, written here rather than as Leptos views: the rows have
/// nothing reactive (see [`Rows`]), and with 50 articles their views were
/// most of the page's cost, some 20 k instructions per row of building and
/// writing elements and attributes; written here, about 6 k
/// (bench/README.md, issue 14). Every value from the database is escaped
/// (the tests give it hostile titles).
fn rows_html(list: &[ArticleSummary]) -> String {
    use html_escape::{encode_double_quoted_attribute_to_string as attr, encode_text_to_string as text};

    let mut html = String::with_capacity(list.len() * 700);
    for article in list {
        let title = if article.title.trim().is_empty() {
            "（无标题）"
        } else {
            article.title.as_str()
        };
        html.push_str(r#"<li class="m-article-list__item" data-testid="article-row" data-article=""#);
        attr(&article.id, &mut html);
        html.push_str(r#""><a class="m-article-list__title" href="/write?id="#);
        attr(&article.id, &mut html);
        html.push_str(r#"">"#);
        text(title, &mut html);
        html.push_str(r#"</a><p class="m-article-list__meta"><span class="m-article-list__status" data-status=""#);
        html.push_str(status::word(article.status));
        html.push_str(r#"">"#);
        html.push_str(status::label(article.status));
        html.push_str("</span><span>");
        text(&article.kind, &mut html);
        html.push_str("</span><span>");
        html.push_str(&format!("{} 字", article.chars));
        html.push_str(r#"</span><time datetime=""#);
        attr(&article.updated_at, &mut html);
        html.push_str(r#"">"#);
        text(beijing_time(&article.updated_at), &mut html);
        html.push_str(
            r#"</time></p><button type="button" class="m-article-list__delete" data-testid="article-row-delete" aria-label="删除《"#,
        );
        attr(title, &mut html);
        html.push_str(r#"》" data-delete=""#);
        attr(&article.id, &mut html);
        html.push_str(r#"" data-title=""#);
        attr(title, &mut html);
        html.push_str(r#"">删除</button></li>"#);
    }
    html
}

#[component]
fn DeleteDialog(
    article: Deleting,
    fetched: RwSignal<Option<Result<Vec<ArticleSummary>, WritingError>>>,
    written: RwSignal<usize>,
    deleting: RwSignal<Option<Deleting>>,
    shelf_ref: NodeRef<html::Section>,
    heading_ref: NodeRef<html::H1>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let id = article.id.clone();
    let confirm = Callback::new(move |_| {
        let id = id.clone();
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            match api::delete_article(id.clone()).await {
                // Gone either way: deleted now, or before (another tab).
                Ok(()) | Err(WritingError::NotFound) => {
                    fetched.update(|list| {
                        if let Some(Ok(list)) = list {
                            list.retain(|a| a.id != id);
                        }
                    });
                    if remove_written_row(shelf_ref, &id) {
                        written.update(|n| *n = n.saturating_sub(1));
                        if written.get_untracked() == 0 {
                            fetched.set(Some(Ok(Vec::new())));
                        }
                    }
                    deleting.set(None);
                    // The row (and its button) is gone: focus the list.
                    if let Some(heading) = heading_ref.get_untracked() {
                        let _ = heading.focus();
                    }
                }
                Err(why) => {
                    busy.set(false);
                    error.set(Some(why.to_string()));
                }
            }
        });
    });
    view! {
        <ConfirmDialog
            class="m-article-list"
            title="删除这篇文章？".to_string()
            text=format!("《{}》和它的所有版本都会被删除，删除后无法恢复。", article.title)
            confirm_label="删除"
            busy_label="正在删除…"
            busy
            error
            on_confirm=confirm
            on_cancel=Callback::new(move |_| deleting.set(None))
        />
    }
}

/// `2026-11-22T06:05:09Z` → `2026-11-22 14:05` (Beijing time, the same on
/// the server and in the browser); anything else as it is.
fn beijing_time(rfc3339: &str) -> String {
    let parse = || -> Option<String> {
        let number = |range: std::ops::Range<usize>| rfc3339.get(range)?.parse::<i64>().ok();
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        let (hour, minute) = (number(11..13)?, number(14..16)?);
        if !rfc3339.ends_with('Z') || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return None;
        }
        let minutes = (days_from_civil(year, month, day) * 24 + hour + 8) * 60 + minute;
        let (days, rest) = (minutes.div_euclid(1_440), minutes.rem_euclid(1_440));
        let (year, month, day) = civil_from_days(days);
        Some(format!("{year:04}-{month:02}-{day:02} {:02}:{:02}", rest / 60, rest % 60))
    };
    parse().unwrap_or_else(|| rfc3339.to_owned())
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_beijing_time() {
        assert_eq!(beijing_time("2026-11-22T06:05:09Z"), "2026-11-22 14:05");
        assert_eq!(beijing_time("2026-12-31T20:30:00.123Z"), "2027-01-01 04:30");
        assert_eq!(beijing_time("2028-02-28T16:00:00Z"), "2028-02-29 00:00");
        assert_eq!(beijing_time("yesterday"), "yesterday");
        assert_eq!(beijing_time(""), "");
    }

    #[cfg(feature = "ssr")]
    mod pages {
        use leptos::prelude::*;

        use super::super::*;
        use crate::modules::writing::{
            fake::{article, owner, render, stranger, FakeService},
            protocol::GenerationStatus,
        };

        #[tokio::test]
        async fn the_owner_sees_their_articles_with_links_to_open_them() {
            let service = FakeService::with(vec![
                article("a1", "正文", GenerationStatus::Done),
                article("a2", "<script>x</script>", GenerationStatus::Interrupted),
            ]);
            let view = || ArticleList::view(ArticleListSettings::default(), ().into_any()).into_any();
            let page = render("/articles", Some(owner()), Some(service.clone()), view).await;
            let html = &page.html;
            assert!(html.contains(r#"href="/write?id=a1""#), "{html}");
            assert!(html.contains(r#"href="/write?id=a2""#), "{html}");
            assert!(html.contains("被中断") && html.contains("已写完"), "{html}");
            assert!(html.contains("2026-11-22 14:05"), "{html}");
            assert_eq!(page.cache_control.as_deref(), Some("no-store"));

            let page = render("/articles", Some(stranger()), Some(service), view).await;
            assert!(!page.html.contains("/write?id=a1"), "{}", page.html);
            assert!(page.html.contains("你还没有写过文章"), "{}", page.html);
        }

        /// The rows are HTML only: the island's data says how many, not
        /// the list again (it was the page's second copy of every row).
        #[tokio::test]
        async fn the_rows_are_written_once_not_again_as_the_islands_data() {
            let service = FakeService::with(vec![
                article("a1", "正文", GenerationStatus::Done),
                article("a2", "正文", GenerationStatus::Done),
            ]);
            let view = || ArticleList::view(ArticleListSettings::default(), ().into_any()).into_any();
            let page = render("/articles", Some(owner()), Some(service), view).await;
            let html = &page.html;
            let props = html
                .split(r#"data-props=""#)
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .expect("the island's data");
            assert!(props.contains("Rows") && props.contains('2'), "{props}");
            assert!(!props.contains("a1") && !props.contains("春天的茶"), "{props}");
            assert_eq!(html.matches(r#"data-testid="article-row""#).count(), 2, "{html}");
            // Each row's 删除 names its article for the list's click handler.
            assert!(html.contains(r#"data-delete="a1""#) && html.contains(r#"data-article="a2""#), "{html}");
            assert!(!html.contains("article-list-empty"), "{html}");
        }

        /// The rows are written by hand: every value from the database
        /// comes out as text, in the elements and in the attributes.
        #[test]
        fn hostile_values_stay_text_in_the_rows() {
            let hostile = r#"<script>alert(1)</script>"'&<b>"#;
            let html = rows_html(&[ArticleSummary {
                id: r#"a1" onclick="x"#.into(),
                title: hostile.into(),
                kind: hostile.into(),
                status: GenerationStatus::Failed,
                chars: 1_234,
                updated_at: r#"2026-11-22T06:05:09Z"><script>"#.into(),
            }]);
            assert!(!html.contains("<script") && !html.contains("<b>"), "{html}");
            assert!(!html.contains(r#"" onclick"#), "{html}");
            assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
            assert!(html.contains(r#"data-title="&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;&lt;b&gt;""#), "{html}");
            assert!(html.contains(r#"data-status="failed""#) && html.contains("1234 字"), "{html}");
            assert_eq!(html.matches("<li ").count(), 1);
            assert_eq!(html.matches("</li>").count(), 1);
            let untitled = rows_html(&[ArticleSummary {
                id: "a2".into(),
                title: " ".into(),
                kind: "博客".into(),
                status: GenerationStatus::Done,
                chars: 0,
                updated_at: "2026-11-22T06:05:09Z".into(),
            }]);
            assert!(untitled.contains(r#"aria-label="删除《（无标题）》""#), "{untitled}");
            assert!(untitled.contains("2026-11-22 14:05</time>"), "{untitled}");
        }

        #[tokio::test]
        async fn logged_out_it_asks_for_a_login() {
            let view = || ArticleList::view(ArticleListSettings::default(), ().into_any()).into_any();
            let page = render("/articles", None, None, view).await;
            assert!(page.html.contains(r##"href="#login""##), "{}", page.html);
            assert!(page.html.contains("登录后，这里会列出你写过的文章"), "{}", page.html);
            assert_eq!(page.cache_control, None);
        }
    }
}
