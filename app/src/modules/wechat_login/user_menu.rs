//! The logged-in user in the header: avatar placeholder, name, and a menu
//! with the site's links (`menu_links` in `theme/header.json`) and 退出登录.

use leptos::prelude::*;

use crate::{auth::use_current_user, theme::settings::Link};

#[component]
pub fn UserMenu(links: Vec<Link>) -> AnyView {
    let current = use_current_user();
    let open = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let name = move || current.get().map(|u| u.display_name).unwrap_or_default();
    let initial = move || current.get().map(|u| u.initial()).unwrap_or_default();

    let log_out = move |_| {
        error.set(None);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            match super::client::logout().await {
                Ok(()) => {
                    open.set(false);
                    current.set(None);
                }
                Err(failure) => error.set(Some(failure.message)),
            }
        });
    };

    view! {
        <div
            class="m-wechat-login__user"
            on:keydown=move |ev| {
                if ev.key() == "Escape" {
                    open.set(false);
                }
            }
        >
            <button
                type="button"
                class="m-wechat-login__user-button"
                aria-haspopup="menu"
                aria-expanded=move || open.get().to_string()
                data-testid="user-menu-button"
                on:click=move |_| open.update(|o| *o = !*o)
            >
                <span class="m-wechat-login__avatar" aria-hidden="true">{initial}</span>
                <span class="m-wechat-login__name" data-testid="user-name">{name}</span>
            </button>
            <Show when=move || open.get()>
                <div class="m-wechat-login__menu" role="menu">
                    {links
                        .clone()
                        .into_iter()
                        .map(|link| {
                            let external = link.is_external();
                            view! {
                                <a
                                    role="menuitem"
                                    class="m-wechat-login__menu-item"
                                    href=link.href
                                    target=external.then_some("_blank")
                                    rel=external.then_some("noopener noreferrer")
                                >
                                    {link.label}
                                </a>
                            }
                        })
                        .collect_view()}
                    <button type="button" role="menuitem" class="m-wechat-login__menu-item" data-testid="logout-button" on:click=log_out>
                        "退出登录"
                    </button>
                    {move || error.get().map(|e| view! { <p class="m-wechat-login__menu-error" role="alert">{e}</p> })}
                </div>
            </Show>
        </div>
    }
    .into_any()
}
