//! The WeChat QR login module: the 微信登录 button (a block of the header),
//! the QR dialog, and the user menu once logged in. The server side lives in
//! `server::login`; `protocol` is the JSON between the two.
//!
//! Any link to `#login` (e.g. a hero button) opens the dialog too, so other
//! modules can offer a login without importing this one.

#[cfg(feature = "hydrate")]
mod client;
mod modal;
pub mod protocol;
mod user_menu;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use self::{modal::LoginModal, user_menu::UserMenu};
use crate::{
    auth::use_current_user,
    theme::settings::{require_text, Invalid, Settings},
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WechatLoginSettings {
    /// The button's text.
    pub label: String,
}

impl Default for WechatLoginSettings {
    fn default() -> Self {
        Self {
            label: "微信登录".into(),
        }
    }
}

impl Settings for WechatLoginSettings {
    fn check(&self) -> Result<(), Invalid> {
        require_text("label", &self.label)
    }
}

/// Interactive from the first click: an island, hydrated in the browser.
#[island]
pub fn WechatLogin(settings: WechatLoginSettings) -> impl IntoView {
    let current = use_current_user();
    let open = RwSignal::new(false);
    let close = Callback::new(move |_| open.set(false));

    #[cfg(feature = "hydrate")]
    open_on_login_link(open, current);

    let label = settings.label;
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
                <UserMenu />
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
