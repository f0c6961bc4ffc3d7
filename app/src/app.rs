//! The HTML shell and the application: header group, routed pages, footer
//! group. It renders on the server only; in the browser, only the
//! interactive modules (islands) hydrate.

use std::sync::Arc;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Meta, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    hooks::use_params_map,
    path, SsrMode,
};

use crate::{
    assets::{IslandScripts, SiteAssets, SiteStylesheet},
    auth::{self, CurrentUser, User},
    theme::{Layout, Page, Sections},
};

/// What the document around every page needs, read once when the server
/// starts and shared by every render.
pub struct Shell {
    /// The script, wasm and stylesheet the build made.
    pub assets: Arc<SiteAssets>,
    /// The options for cargo-leptos's reload script, only under
    /// `cargo leptos watch` (`LEPTOS_WATCH`). Leptos's `AutoReload` reads
    /// that variable on every render; here it is read once.
    pub reload: Option<LeptosOptions>,
}

impl Shell {
    pub fn new(options: &LeptosOptions, assets: SiteAssets) -> Arc<Self> {
        Arc::new(Self {
            assets: Arc::new(assets),
            reload: std::env::var_os("LEPTOS_WATCH")
                .is_some()
                .then(|| options.clone()),
        })
    }
}

/// The document around the app.
pub fn shell(shell: &Shell) -> impl IntoView {
    let assets = shell.assets.clone();
    let reload = shell
        .reload
        .clone()
        .map(|options| view! { <AutoReload options /> });
    view! {
        <!DOCTYPE html>
        <html lang="zh-CN">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                {reload}
                <IslandScripts assets=assets.clone() />
                <SiteStylesheet assets />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Provided by the server when a request panicked outside any module: the
/// page shows the 500 page inside the site's header and footer.
#[derive(Clone, Copy, Debug)]
pub struct RequestPanicked;

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let panicked = use_context::<RequestPanicked>().is_some();
    let layout = server::layout();
    let user = server::user();
    provide_context(layout.site.clone());
    provide_context(CurrentUser::new(user.clone()));

    let Layout {
        site,
        header,
        footer,
        sandbox,
        deepseek_sandbox,
        wechat_oauth,
    } = layout;
    provide_context(crate::modules::wechat_login::OneTapLogin(wechat_oauth));
    let site_name = site.name;
    view! {
        <Title formatter=move |title: String| {
            if title.is_empty() { site_name.clone() } else { format!("{title} · {site_name}") }
        } />
        // Islands read who is logged in from here (see `auth`).
        <script type="application/json" id=auth::USER_SCRIPT_ID inner_html=auth::user_json(&user)></script>
        <Router>
            {(sandbox || deepseek_sandbox)
                .then(|| view! { <SandboxBanner wechat=sandbox deepseek=deepseek_sandbox /> })}
            <header class="site-header">
                <Sections sections=header />
            </header>
            <main class="site-main" id="main">
                {if panicked {
                    view! { <ServerError /> }.into_any()
                } else {
                    view! {
                        <Routes fallback=NotFound>
                            // Async: the page is sent once its modules' data has loaded, so
                            // what a module says about the response (404 for an article that
                            // is not the visitor's, `Cache-Control: no-store` for private
                            // pages) reaches the headers. Streaming would have sent them with
                            // the shell already. Pages without data render as before.
                            <Route
                                path=path!("/")
                                view=|| view! { <ThemePage slug="index".into() /> }
                                ssr=SsrMode::Async
                            />
                            <Route path=path!("/:slug") view=SlugPage ssr=SsrMode::Async />
                            // Only in sandbox mode: with a real 服务号 it is a 404 like any unknown page.
                            <Route
                                path=path!("/sandbox/wechat/phone")
                                view=move || {
                                    if sandbox {
                                        view! { <crate::sandbox::PhonePage /> }.into_any()
                                    } else {
                                        view! { <NotFound /> }.into_any()
                                    }
                                }
                            />
                        </Routes>
                    }
                        .into_any()
                }}
            </main>
            <footer class="site-footer">
                <Sections sections=footer />
            </footer>
        </Router>
    }
}

#[component]
fn SlugPage() -> impl IntoView {
    let slug = use_params_map().with_untracked(|params| params.get("slug").unwrap_or_default());
    // The tests' page that panics outside any module (the 500 page).
    #[cfg(feature = "test-modules")]
    if slug == "test-panic" {
        panic!("test-panic: a page that panics outside its modules");
    }
    view! { <ThemePage slug /> }
}

/// A page from `theme/pages/<slug>.json`, or the 404 page (also for a page
/// for operators only, unless the server marked this request as theirs).
#[component]
fn ThemePage(slug: String) -> impl IntoView {
    match server::page(&slug).filter(|page| !page.admins_only() || server::is_admin()) {
        Some(page) => view! {
            <Title text=page.title />
            <Meta name="description" content=page.description />
            <Sections sections=page.sections />
        }
        .into_any(),
        None => view! { <NotFound /> }.into_any(),
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="页面不存在" />
        <section class="status-page" data-status="404">
            <h1>"找不到这个页面"</h1>
            <p>"链接可能已失效，或者地址输入有误。"</p>
            <a class="status-page__home" href="/">
                "回到首页"
            </a>
        </section>
    }
}

/// The 500 page: something failed outside any module (the server logged it).
#[component]
fn ServerError() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    }
    view! {
        <Title text="出错了" />
        <section class="status-page" data-status="500">
            <h1>"抱歉，这个页面出错了"</h1>
            <p>"问题出在我们这边，已经记录下来了。请稍后刷新页面再试；如果一直这样，请告诉网站管理员。"</p>
            <a class="status-page__home" href="/">
                "回到首页"
            </a>
        </section>
    }
}

/// Shown on every page while a sandbox stands in for WeChat or DeepSeek.
#[component]
fn SandboxBanner(wechat: bool, deepseek: bool) -> impl IntoView {
    view! {
        <div class="sandbox-banner" role="status">
            <strong>"沙箱模式"</strong>
            {wechat
                .then(|| {
                    view! {
                        " · 微信登录由本机模拟，不会连接真实微信。"
                        <a href="/sandbox/wechat/phone" target="_blank">
                            "打开模拟手机"
                        </a>
                    }
                })}
            {deepseek
                .then(|| {
                    view! {
                        " · 文章生成由本机模拟，不会连接真实 DeepSeek。"
                        <a href="/sandbox/deepseek" target="_blank">
                            "打开 DeepSeek 沙箱"
                        </a>
                    }
                })}
        </div>
    }
}

/// What the server knows while rendering. The app never renders in the
/// browser (islands do), so these are empty there.
mod server {
    use super::*;

    pub fn layout() -> Layout {
        #[cfg(feature = "ssr")]
        if let Some(theme) = use_context::<std::sync::Arc<crate::theme::load::Theme>>() {
            return theme.layout.clone();
        }
        Layout::default()
    }

    pub fn page(_slug: &str) -> Option<Page> {
        #[cfg(feature = "ssr")]
        if let Some(theme) = use_context::<std::sync::Arc<crate::theme::load::Theme>>() {
            return theme.page(_slug).cloned();
        }
        None
    }

    /// Whether the server marked this request as an operator's (see
    /// `auth::Admin`).
    pub fn is_admin() -> bool {
        #[cfg(feature = "ssr")]
        if let Some(parts) = use_context::<axum::http::request::Parts>() {
            return auth::Admin::of(&parts);
        }
        false
    }

    /// The user of this request's session (set by the server's session layer).
    pub fn user() -> Option<User> {
        #[cfg(feature = "ssr")]
        if let Some(parts) = use_context::<axum::http::request::Parts>() {
            return auth::RequestUser::of(&parts);
        }
        None
    }
}
