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
                            let articles = load().await;
                            view! { <Shelf settings articles /> }
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

/// The list, interactive (delete, and filling in after a login). Lazy: its
/// own wasm chunk, fetched only by this page.
#[island(lazy)]
fn Shelf(
    settings: ArticleListSettings,
    articles: Option<Result<Vec<ArticleSummary>, WritingError>>,
) -> impl IntoView {
    let user = use_current_user();
    let articles = RwSignal::new(articles);
    let heading_ref = NodeRef::<html::H1>::new();
    Effect::new(move |was_logged_in: Option<bool>| {
        let logged_in = user.get().is_some();
        if logged_in && was_logged_in == Some(false) {
            leptos::task::spawn_local(async move {
                articles.set(Some(api::list_articles().await));
            });
        }
        if !logged_in {
            articles.set(None);
        }
        logged_in
    });
    let deleting = RwSignal::new(None::<ArticleSummary>);
    let ArticleListSettings { heading, empty } = settings;
    // Set once hydrated (effects run only in the browser), for the tests.
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));

    view! {
        <section class="m-article-list__shelf" data-testid="article-list" data-ready=move || ready.get().to_string()>
            <header class="m-article-list__head">
                <h1 node_ref=heading_ref tabindex="-1">{heading}</h1>
                <a class="m-article-list__button m-article-list__button--primary" href="/write">
                    "写新文章"
                </a>
            </header>
            // Built once on the server: the list is the page's bulk.
            {render_once::once(move || match articles.get() {
                None => {
                    view! {
                        <div class="m-article-list__empty" data-testid="article-list-login">
                            <p>"登录后，这里会列出你写过的文章。"</p>
                            <a class="m-article-list__button m-article-list__button--primary" href="#login">
                                "微信登录"
                            </a>
                        </div>
                    }
                        .into_any()
                }
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
                Some(Ok(list)) => {
                    view! {
                        <ul class="m-article-list__items">
                            {list
                                .into_iter()
                                .map(|article| view! { <Row article deleting /> })
                                .collect_view()}
                        </ul>
                    }
                        .into_any()
                }
            })}
            {move || {
                deleting
                    .get()
                    .map(|article| {
                        view! { <DeleteDialog article articles deleting heading_ref /> }
                    })
            }}
        </section>
    }
}

#[component]
fn Row(article: ArticleSummary, deleting: RwSignal<Option<ArticleSummary>>) -> impl IntoView {
    let href = format!("/write?id={}", article.id);
    let status = article.status;
    let title = if article.title.trim().is_empty() {
        "（无标题）".to_string()
    } else {
        article.title.clone()
    };
    view! {
        <li class="m-article-list__item" data-testid="article-row">
            <a class="m-article-list__title" href=href>
                {title.clone()}
            </a>
            <p class="m-article-list__meta">
                <span class="m-article-list__status" data-status=status::word(status)>
                    {status::label(status)}
                </span>
                <span>{article.kind.clone()}</span>
                <span>{format!("{} 字", article.chars)}</span>
                <time datetime=article.updated_at.clone()>{beijing_time(&article.updated_at)}</time>
            </p>
            <button
                type="button"
                class="m-article-list__delete"
                aria-label=format!("删除《{title}》")
                data-testid="article-row-delete"
                on:click=move |_| deleting.set(Some(article.clone()))
            >
                "删除"
            </button>
        </li>
    }
}

#[component]
fn DeleteDialog(
    article: ArticleSummary,
    articles: RwSignal<Option<Result<Vec<ArticleSummary>, WritingError>>>,
    deleting: RwSignal<Option<ArticleSummary>>,
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
                    articles.update(|list| {
                        if let Some(Ok(list)) = list {
                            list.retain(|a| a.id != id);
                        }
                    });
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
