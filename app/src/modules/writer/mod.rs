//! The writing module's page (`/write`): the brief, the optional outline,
//! and the article as DeepSeek writes it — followed live, stopped,
//! regenerated, continued, edited, copied for the 公众号, downloaded,
//! deleted. `/write?id=<article>` opens one of the visitor's articles (a
//! reload in the middle of a generation picks the stream up where the
//! page left it).
//!
//! The server renders the page with what it knows (the visitor, the
//! quota, the article so far); the island (`desk`, lazy: its own wasm
//! chunk, fetched only by this page) does the rest in the browser. The
//! kinds of article, the tones and the lengths offered are settings, so a
//! site owner changes them in `theme/pages/write.json`.

mod article;
mod brief_form;
mod desk;
#[cfg(feature = "hydrate")]
mod follow;
#[cfg(feature = "hydrate")]
mod take_away;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use self::desk::{Desk, Opening};
use crate::{
    modules::writing::protocol::{limits, Length},
    theme::{
        settings::{require_text, Invalid, Settings},
        ModuleSpec, ModuleType, Zone,
    },
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WriterSettings {
    /// Above the brief.
    pub heading: String,
    /// One or two sentences under the heading.
    pub intro: String,
    /// The kinds of article offered (the first is preselected).
    pub kinds: Vec<String>,
    /// The tones offered besides 不限 (none: the field is not shown).
    pub tones: Vec<String>,
    /// The lengths offered (the middle one is preselected).
    pub lengths: Vec<Length>,
    /// Offer 深度思考 (DeepSeek's thinking mode: slower, shows its
    /// reasoning).
    pub thinking: bool,
}

impl Default for WriterSettings {
    fn default() -> Self {
        Self {
            heading: "写一篇文章".into(),
            intro: "说说你想写什么，DeepSeek 会把文章写在下面。写好后可以修改、复制到公众号，或者下载。".into(),
            kinds: ["公众号推文", "博客", "产品介绍", "新闻稿", "读书笔记"]
                .map(String::from)
                .to_vec(),
            tones: ["轻松活泼", "正式严谨", "温暖亲切", "简洁干练", "幽默风趣"]
                .map(String::from)
                .to_vec(),
            lengths: vec![Length::Short, Length::Medium, Length::Long],
            thinking: true,
        }
    }
}

impl Settings for WriterSettings {
    fn check(&self) -> Result<(), Invalid> {
        require_text("heading", &self.heading)?;
        if self.kinds.is_empty() {
            return Err(Invalid::new("kinds", "offer at least one kind of article"));
        }
        check_choices("kinds", &self.kinds)?;
        check_choices("tones", &self.tones)?;
        if self.lengths.is_empty() {
            return Err(Invalid::new("lengths", "offer at least one length"));
        }
        for (index, length) in self.lengths.iter().enumerate() {
            if self.lengths[..index].contains(length) {
                return Err(Invalid::new(format!("lengths[{index}]"), "is listed twice"));
            }
        }
        Ok(())
    }
}

/// Each choice: not blank, within the brief's limit (the server refuses
/// longer ones), listed once.
fn check_choices(path: &str, choices: &[String]) -> Result<(), Invalid> {
    for (index, choice) in choices.iter().enumerate() {
        let at = format!("{path}[{index}]");
        require_text(&at, choice)?;
        let chars = choice.trim().chars().count();
        if chars > limits::CHOICE || choice.chars().any(char::is_control) {
            return Err(Invalid::new(
                at,
                format!("must be one line of at most {} characters", limits::CHOICE),
            ));
        }
        if choices[..index].iter().any(|c| c.trim() == choice.trim()) {
            return Err(Invalid::new(at, "is listed twice"));
        }
    }
    Ok(())
}

/// The module: one per page.
pub struct Writer;

impl ModuleType for Writer {
    type Settings = WriterSettings;
    const SPEC: ModuleSpec = ModuleSpec::new("writer", &[Zone::Page]).limit(1);

    fn view(settings: WriterSettings, _blocks: AnyView) -> impl IntoView + 'static {
        let id = leptos_router::hooks::use_query_map()
            .with_untracked(|query| query.get("id"))
            .filter(|id| !id.is_empty());
        view! {
            <div class="m-writer">
                <Suspense fallback=|| view! { <p class="m-writer__loading">"加载中…"</p> }>
                    {
                        let settings = settings.clone();
                        let id = id.clone();
                        Suspend::new(async move {
                            let opening = load(id).await;
                            view! { <Desk settings opening /> }
                        })
                    }
                </Suspense>
            </div>
        }
    }

    fn example() -> WriterSettings {
        WriterSettings::default()
    }
}

/// What the page opens with: the visitor's quota and the article asked
/// for, read from the service (not through the server functions: a page
/// that cannot show the quota is still a 200 with the form).
async fn load(id: Option<String>) -> Opening {
    #[cfg(feature = "ssr")]
    {
        use crate::modules::writing::{page, protocol::WritingError};

        let Some(user) = page::visitor() else {
            if id.is_some() {
                page::set_status(401);
            }
            return Opening::LoggedOut { id };
        };
        let service = match page::service() {
            Ok(service) => service,
            Err(error) => return Opening::Unavailable(error),
        };
        let quota = service.quota(&user).await.ok();
        let Some(id) = id else {
            return Opening::New { quota };
        };
        match service.get(&user, &id, None).await {
            Ok(article) => Opening::Article {
                article: Box::new(article),
                quota,
            },
            Err(error) => {
                if matches!(error, WritingError::NotFound) {
                    page::set_status(404);
                }
                Opening::Missing(error)
            }
        }
    }
    #[cfg(not(feature = "ssr"))]
    {
        let _ = id;
        Opening::LoggedOut { id: None }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::theme::Module;

    #[test]
    fn the_defaults_offer_the_issues_kinds() {
        let settings = WriterSettings::default();
        assert_eq!(settings.check(), Ok(()));
        assert_eq!(
            settings.kinds,
            ["公众号推文", "博客", "产品介绍", "新闻稿", "读书笔记"]
        );
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn a_site_owner_changes_the_kinds_and_bad_lists_are_refused() {
        let module = Module::from_settings("writer", json!({"kinds": ["周报", "演讲稿"]}))
            .unwrap()
            .unwrap();
        let Module::Writer(settings) = module else {
            panic!("not the writer")
        };
        assert_eq!(settings.kinds, ["周报", "演讲稿"]);

        for (settings, path) in [
            (json!({"kinds": []}), "kinds"),
            (json!({"kinds": ["周报", " "]}), "kinds[1]"),
            (json!({"kinds": ["周报", "周报"]}), "kinds[1]"),
            (json!({"kinds": ["一二三四五六七八九十一二三四五六七八九十一"]}), "kinds[0]"),
            (json!({"tones": ["a\nb"]}), "tones[0]"),
            (json!({"lengths": []}), "lengths"),
            (json!({"lengths": ["short", "short"]}), "lengths[1]"),
        ] {
            let err = Module::from_settings("writer", settings.clone())
                .unwrap()
                .unwrap_err();
            assert_eq!(err.path, path, "{settings}");
        }
        let err = Module::from_settings("writer", json!({"lengths": ["huge"]}))
            .unwrap()
            .unwrap_err();
        assert!(err.reason.contains("unknown variant"), "{err:?}");
    }

    #[cfg(feature = "ssr")]
    mod pages {
        use std::sync::Arc;

        use leptos::prelude::*;

        use super::super::*;
        use crate::modules::writing::{
            fake::{article, owner, render, stranger, FakeService, Rendered},
            protocol::GenerationStatus,
            service::WritingService,
        };

        async fn write_page(
            url: &str,
            user: Option<crate::auth::User>,
            service: Option<Arc<dyn WritingService>>,
            settings: WriterSettings,
        ) -> Rendered {
            render(url, user, service, move || {
                Writer::view(settings, ().into_any()).into_any()
            })
            .await
        }

        /// What a model might answer: script, raw HTML, hostile links.
        const HOSTILE: &str = "# 标题<script>alert('t')</script>\n\n\
            <script>alert(1)</script>\n\n\
            <img src=x onerror=\"alert(2)\">\n\n\
            <div onclick=\"alert(3)\" style=\"position:fixed\">盖住页面</div>\n\n\
            [点我](javascript:alert(4)) [也点我](JAVASCRIPT:alert(5)) \
            <a href=\"javascript:alert(6)\">链接</a> \
            [数据](data:text/html;base64,PHNjcmlwdD5hbGVydCg3KTwvc2NyaXB0Pg==)\n\n\
            ![图](javascript:alert(8))\n\n\
            <iframe src=\"https://evil.example\"></iframe>\n\n\
            正常的**加粗**和[正常链接](https://example.com)。";

        #[tokio::test]
        async fn logged_out_the_form_shows_with_a_login_prompt() {
            let page = write_page("/write", None, None, WriterSettings::default()).await;
            let html = &page.html;
            assert!(html.contains(r#"data-testid="brief-form""#), "{html}");
            assert!(html.contains(r##"href="#login""##), "{html}");
            assert!(html.contains("微信登录后开始写作"), "{html}");
            for kind in ["公众号推文", "博客", "产品介绍", "新闻稿", "读书笔记"] {
                assert!(html.contains(&format!(">{kind}</option>")), "{kind}: {html}");
            }
            assert!(!html.contains(r#"data-testid="brief-start""#), "{html}");
            // The same for every anonymous visitor: the page cache may keep it.
            assert_eq!(page.cache_control, None);
            assert_eq!(page.status, None);
        }

        #[tokio::test]
        async fn the_kinds_offered_come_from_the_settings() {
            let settings = WriterSettings {
                kinds: vec!["周报".into(), "演讲稿".into()],
                tones: Vec::new(),
                lengths: vec![Length::Short],
                ..WriterSettings::default()
            };
            let page = write_page("/write", Some(owner()), Some(FakeService::with(vec![])), settings).await;
            let html = &page.html;
            assert!(html.contains(">周报</option>") && html.contains(">演讲稿</option>"), "{html}");
            assert!(!html.contains("公众号推文"), "{html}");
            assert!(!html.contains(r#"id="writer-tone""#), "no tones, no field: {html}");
            assert!(html.contains("短篇（约 600 字）") && !html.contains("长篇"), "{html}");
            // Logged in: the start button and the quota, and private.
            assert!(html.contains(r#"data-testid="brief-start""#), "{html}");
            assert!(html.contains("今天还可以生成 17 次（每天 20 次）"), "{html}");
            assert_eq!(page.cache_control.as_deref(), Some("no-store"));
        }

        #[tokio::test]
        async fn hostile_model_output_renders_harmless() {
            let service = FakeService::with(vec![article("a1", HOSTILE, GenerationStatus::Done)]);
            let page = write_page("/write?id=a1", Some(owner()), Some(service), WriterSettings::default()).await;
            let html = &page.html;
            // The article is there, rendered…
            assert!(html.contains("<strong>加粗</strong>"), "{html}");
            assert!(html.contains(r#"<a href="https://example.com" rel="noopener noreferrer">正常链接</a>"#), "{html}");
            assert!(html.contains("盖住页面"), "{html}");
            // …and nothing of the model's is markup. The page's own script
            // tags are Leptos's (none in this render).
            let body = &html[html.find(r#"data-testid="article-body""#).expect("the article")..];
            let body = &body[..body.find("</div>").unwrap()];
            crate::modules::writing::markdown::assert_only_safe_tags(&body[body.find('>').unwrap() + 1..]);
            assert!(!body.contains("<script"), "{body}");
            assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "shown as text: {body}");
            assert_eq!(page.status, None);
            assert_eq!(page.cache_control.as_deref(), Some("no-store"));
        }

        #[tokio::test]
        async fn another_users_article_is_not_found() {
            let service = FakeService::with(vec![article("a1", "秘密正文", GenerationStatus::Done)]);
            for (user, id) in [(stranger(), "a1"), (owner(), "nope")] {
                let page = write_page(
                    &format!("/write?id={id}"),
                    Some(user),
                    Some(service.clone()),
                    WriterSettings::default(),
                )
                .await;
                assert!(page.html.contains("找不到这篇文章"), "{}", page.html);
                assert!(!page.html.contains("秘密正文"), "{}", page.html);
                assert_eq!(page.status, Some(404));
            }
        }

        #[tokio::test]
        async fn a_running_article_renders_what_it_has_and_its_stop_button() {
            let service = FakeService::with(vec![article("a1", "## 第一节\n\n写到一半", GenerationStatus::Running)]);
            let page = write_page("/write?id=a1", Some(owner()), Some(service), WriterSettings::default()).await;
            let html = &page.html;
            assert!(html.contains("<h2>第一节</h2>"), "{html}");
            assert!(html.contains(r#"data-testid="article-stop""#), "{html}");
            assert!(html.contains(r#"data-status="running""#), "{html}");
            assert!(!html.contains(r#"data-testid="article-copy-rich""#), "{html}");
        }

        #[tokio::test]
        async fn without_deepseek_the_page_says_so() {
            let page = write_page("/write", Some(owner()), None, WriterSettings::default()).await;
            assert!(page.html.contains("写作功能还没有配置好"), "{}", page.html);
            assert_eq!(page.status, None, "the page itself is fine");
        }
    }
}
