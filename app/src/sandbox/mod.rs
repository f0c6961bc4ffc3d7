//! The simulated phone of the WeChat sandbox (`/sandbox/wechat/phone`): a
//! page that looks like WeChat on a phone and drives the sandbox's phone API
//! (`/sandbox/wechat/phone/api/…`): scan a login QR code as a new or
//! existing follower, read what the service account replied, reply 确认.
//!
//! The server renders the empty phone; the browser fills it in, so the two
//! renders agree and the page hydrates.

mod chat;
mod client;
mod codes;
mod model;
mod phone;
mod who;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use self::{
    chat::{Chat, Compose},
    codes::{ChosenCode, CodeList, PasteUrl},
    phone::{Availability, Phone},
    who::{ModePicker, UserPicker},
};

/// The route: reads which code was opened (`?ticket=`) on the server and
/// hands it to the island.
#[component]
pub fn PhonePage() -> impl IntoView {
    let chosen = use_query_map()
        .with_untracked(|q| q.get("ticket"))
        .filter(|t| !t.is_empty());
    view! {
        <Title text="模拟手机 · 微信沙箱" />
        <PhoneApp chosen />
    }
}

/// The phone itself: interactive, so it hydrates in the browser. Lazy: its
/// code is a separate wasm chunk (cargo leptos --split), fetched only by
/// this page, so every other page's bundle stays small.
#[island(lazy)]
fn PhoneApp(chosen: Option<String>) -> impl IntoView {
    let phone = Phone::new();
    // Effects run in the browser only: the lists load and the clock starts
    // after hydration.
    Effect::new(move |_| phone.start());

    let chosen = Signal::stored(chosen);
    let sandbox_off = move || phone.availability.with(|a| *a == Availability::SandboxOff);

    view! {
        <section class="sandbox-phone-page" data-testid="phone-page">
            <div class="sandbox-phone">
                <header class="sandbox-phone__bar">
                    <span class="sandbox-phone__app">"微信"</span>
                    <span class="sandbox-phone__tag">"沙箱"</span>
                </header>
                <Show when=move || !sandbox_off() fallback=SandboxOff>
                    <Screen phone chosen />
                    <Compose phone />
                    <StatusLine phone />
                </Show>
            </div>
        </section>
    }
    .into_any()
}

/// What the phone shows when the sandbox is not mounted.
#[component]
fn SandboxOff() -> impl IntoView {
    view! {
        <div class="sandbox-off" data-testid="phone-unavailable">
            <p class="sandbox-off__title">"沙箱模式未开启"</p>
            <p>"本站正在使用真实的微信公众号，请用微信扫码登录。"</p>
        </div>
    }
    .into_any()
}

/// The scrolling part of the phone: codes, who scans, the chat.
#[component]
fn Screen(phone: Phone, chosen: Signal<Option<String>>) -> impl IntoView {
    view! {
        <div class="sandbox-phone__screen">
            <Connection phone />
            <section class="sandbox-card" aria-label="扫一扫">
                <h2 class="sandbox-card__title">"扫一扫"</h2>
                {move || chosen.get().map(|ticket| view! { <ChosenCode phone ticket /> })}
                <CodeList phone chosen />
                <PasteUrl phone />
            </section>
            <section class="sandbox-card" aria-label="扫码的人">
                <UserPicker phone />
                <ModePicker phone />
            </section>
            <ChatCard phone />
        </div>
    }
    .into_any()
}

#[component]
fn ChatCard(phone: Phone) -> impl IntoView {
    view! {
        <section class="sandbox-card sandbox-card--chat" aria-label="公众号对话">
            <div class="sandbox-chat__head">
                <h2 class="sandbox-card__title">"公众号"</h2>
                <button
                    type="button"
                    class="sandbox-link"
                    data-testid="phone-unfollow"
                    disabled=move || phone.busy.get()
                    on:click=move |_| phone.unfollow()
                >
                    "取消关注"
                </button>
            </div>
            <Chat phone />
        </section>
    }
    .into_any()
}

/// The outcome of the latest action.
#[component]
fn StatusLine(phone: Phone) -> impl IntoView {
    view! {
        <p
            class="sandbox-status"
            data-testid="phone-status"
            data-state=move || phone.status.with(|s| s.state)
            role="status"
        >
            {move || phone.status.with(|s| s.text.clone())}
        </p>
    }
    .into_any()
}

/// A line while the sandbox is not (yet) answering.
#[component]
fn Connection(phone: Phone) -> impl IntoView {
    move || {
        match phone.availability.get() {
        Availability::Connecting => Some(view! { <p class="sandbox-connection">"正在连接沙箱…"</p> }.into_any()),
        Availability::Offline(why) => Some(
            view! { <p class="sandbox-connection sandbox-connection--error" data-testid="phone-offline">{why}</p> }
                .into_any(),
        ),
        Availability::Ready | Availability::SandboxOff => None,
    }
    }
}
