//! The HTML shell and the application: header group, routed pages, footer
//! group.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, Meta, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    hooks::use_params_map,
    path, SsrMode,
};

use crate::{
    auth::{CurrentUser, User},
    theme::{Layout, Page, Sections},
};

/// The document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="zh-CN">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HydrationScripts options=options.clone() />
                <HashedStylesheet options id="leptos" />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    // Computed by the server while rendering and read back from the page by
    // the browser: no second request, no flash of a logged-out header.
    let layout = SharedValue::new(server::layout).into_inner();
    let user = SharedValue::new(server::user).into_inner();
    provide_context(layout.site.clone());
    provide_context(CurrentUser::new(user));

    let site_name = layout.site.name.clone();
    view! {
        <Title formatter=move |title: String| {
            if title.is_empty() { site_name.clone() } else { format!("{title} · {site_name}") }
        } />
        <Router>
            {layout.sandbox.then(|| view! { <SandboxBanner /> })}
            <header class="site-header">
                <Sections sections=layout.header />
            </header>
            <main class="site-main" id="main">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async />
                    <Route path=path!("/:slug") view=SlugPage ssr=SsrMode::Async />
                    <Route path=path!("/sandbox/wechat/phone") view=crate::sandbox::PhonePage />
                </Routes>
            </main>
            <footer class="site-footer">
                <Sections sections=layout.footer />
            </footer>
        </Router>
    }
}

#[component]
fn HomePage() -> impl IntoView {
    view! { <ThemePage slug=Signal::stored("index".to_string()) /> }
}

#[component]
fn SlugPage() -> impl IntoView {
    let params = use_params_map();
    let slug = Signal::derive(move || params.read().get("slug").unwrap_or_default());
    view! { <ThemePage slug /> }
}

/// A page from `theme/pages/<slug>.json`, or the 404 page.
#[component]
fn ThemePage(slug: Signal<String>) -> impl IntoView {
    let page = Resource::new_blocking(move || slug.get(), get_page);
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(Some(page)) => {
                        view! {
                            <Title text=page.title />
                            <Meta name="description" content=page.description />
                            <Sections sections=page.sections />
                        }
                            .into_any()
                    }
                    Ok(None) => view! { <NotFound /> }.into_any(),
                    Err(_) => view! { <PageUnavailable /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// One page's sections. A GET so browsers and proxies may cache it.
#[server(prefix = "/api/site", endpoint = "page", input = leptos::server_fn::codec::GetUrl)]
pub async fn get_page(slug: String) -> Result<Option<Page>, ServerFnError> {
    let theme = use_context::<std::sync::Arc<crate::theme::load::Theme>>()
        .ok_or_else(|| ServerFnError::new("the theme is not loaded"))?;
    Ok(theme.page(&slug).cloned())
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="页面不存在" />
        <section class="not-found" data-status="404">
            <h1>"找不到这个页面"</h1>
            <p>"链接可能已失效，或者地址输入有误。"</p>
            <a class="not-found__home" href="/">"回到首页"</a>
        </section>
    }
}

#[component]
fn PageUnavailable() -> impl IntoView {
    view! {
        <section class="not-found">
            <h1>"页面暂时打不开"</h1>
            <p>"网络好像不太稳定，请稍后刷新重试。"</p>
        </section>
    }
}

/// Shown on every page while the WeChat sandbox stands in for WeChat.
#[component]
fn SandboxBanner() -> impl IntoView {
    view! {
        <div class="sandbox-banner" role="status">
            <strong>"沙箱模式"</strong>
            " · 微信登录由本机模拟，不会连接真实微信。"
            <a href="/sandbox/wechat/phone" target="_blank">"打开模拟手机"</a>
        </div>
    }
}

/// What the server knows while rendering; never runs in the browser, which
/// reads the values the server put in the page.
mod server {
    use super::*;

    pub fn layout() -> Layout {
        #[cfg(feature = "ssr")]
        if let Some(theme) = use_context::<std::sync::Arc<crate::theme::load::Theme>>() {
            return theme.layout.clone();
        }
        Layout::default()
    }

    pub fn user() -> Option<User> {
        #[cfg(feature = "ssr")]
        if let Some(parts) = use_context::<axum::http::request::Parts>() {
            return crate::auth::RequestUser::of(&parts);
        }
        None
    }
}
