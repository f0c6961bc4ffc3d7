//! The WeChat QR login module: the 微信登录 button (a block of the header),
//! the QR dialog, and the user menu once logged in. The server side lives in
//! `server::wechat_login`; `protocol` is the JSON between the two.
//!
//! Any link to `#login` (e.g. a hero button) opens the dialog too, so other
//! modules can offer a login without importing this one.

#[cfg(feature = "hydrate")]
mod client;
mod modal;
pub mod protocol;
pub mod status;
mod user_menu;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use self::{modal::LoginModal, user_menu::UserMenu};
use crate::{
    auth::use_current_user,
    theme::{
        settings::{check_each, require_text, Invalid, Link, Settings},
        ModuleSpec, ModuleType, Zone,
    },
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WechatLoginSettings {
    /// The button's text.
    pub label: String,
    /// Links in the logged-in user's menu, above 退出登录 (e.g. 我的文章).
    pub menu_links: Vec<Link>,
}

impl Default for WechatLoginSettings {
    fn default() -> Self {
        Self {
            label: "微信登录".into(),
            menu_links: Vec::new(),
        }
    }
}

impl Settings for WechatLoginSettings {
    fn check(&self) -> Result<(), Invalid> {
        require_text("label", &self.label)?;
        check_each("menu_links", &self.menu_links, Link::check)
    }
}

/// The module: a block of the header.
pub struct WechatLogin;

impl ModuleType for WechatLogin {
    type Settings = WechatLoginSettings;
    const SPEC: ModuleSpec = ModuleSpec::new("wechat_login", &[Zone::Header])
        .limit(1)
        .as_block();

    fn view(settings: WechatLoginSettings, _blocks: AnyView) -> impl IntoView + 'static {
        view! { <LoginControl settings /> }
    }

    fn example() -> WechatLoginSettings {
        WechatLoginSettings {
            label: "微信登录".into(),
            menu_links: vec![Link {
                label: "我的文章".into(),
                href: "/articles".into(),
            }],
        }
    }
}

/// Interactive from the first click: an island, hydrated in the browser.
#[island]
fn LoginControl(settings: WechatLoginSettings) -> impl IntoView {
    let current = use_current_user();
    let open = RwSignal::new(false);
    let close = Callback::new(move |_| open.set(false));

    #[cfg(feature = "hydrate")]
    open_on_login_link(open, current);

    let WechatLoginSettings { label, menu_links } = settings;
    view! {
        <div class="m-wechat-login">
            <Show
                when=move || current.get().is_some()
                fallback=move || {
                    view! {
                        <button
                            type="button"
                            class="m-wechat-login__button"
                            data-testid="login-button"
                            on:click=move |_| open.set(true)
                        >
                            {label.clone()}
                        </button>
                    }
                }
            >
                <UserMenu links=menu_links.clone() />
            </Show>
            <Show when=move || open.get()>
                <LoginModal on_close=close />
            </Show>
        </div>
    }
}

/// Opens the dialog when the address ends in `#login` (on load or when a
/// link to it is followed), then removes the hash so a reload does not
/// open it again.
#[cfg(feature = "hydrate")]
fn open_on_login_link(open: RwSignal<bool>, current: crate::auth::CurrentUser) {
    let check = move || {
        let window = window();
        let location = window.location();
        if location.hash().ok().as_deref() != Some("#login") {
            return;
        }
        let path = location.pathname().unwrap_or_default() + &location.search().unwrap_or_default();
        if let Ok(history) = window.history() {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&path));
        }
        if current.get_untracked().is_none() {
            open.set(true);
        }
    };
    Effect::new(move |_| check());
    let listener = window_event_listener(leptos::ev::hashchange, move |_| check());
    on_cleanup(move || listener.remove());
}
