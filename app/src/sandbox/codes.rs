//! The "扫一扫" part of the phone: the code chosen by a QR link, the live
//! codes, and a field for a scanned QR URL.

use leptos::prelude::*;

use super::{
    model::{countdown, short_scene},
    phone::{LiveCode, Phone, ScanTarget},
};

/// The code a QR link (`?ticket=`) opened the phone with.
#[component]
pub fn ChosenCode(phone: Phone, ticket: String) -> impl IntoView {
    let scene = {
        let ticket = ticket.clone();
        move || {
            phone.codes.with(|codes| {
                codes
                    .iter()
                    .find(|live| live.code.ticket == ticket)
                    .map(|live| short_scene(&live.code.scene))
            })
        }
    };
    view! {
        <div class="sandbox-chosen" data-testid="phone-selected-code">
            <p class="sandbox-chosen__title">"你打开了一个二维码链接"</p>
            <p class="sandbox-chosen__scene">
                {move || scene().map_or_else(|| "（二维码不在列表中）".to_owned(), |s| format!("场景 {s}"))}
            </p>
            <button
                type="button"
                class="sandbox-button sandbox-button--primary"
                data-testid="phone-scan-selected"
                disabled=move || phone.busy.get()
                on:click=move |_| phone.scan(ScanTarget::Ticket(ticket.clone()))
            >
                "扫一扫"
            </button>
        </div>
    }
    .into_any()
}

#[component]
pub fn CodeList(phone: Phone, chosen: Signal<Option<String>>) -> impl IntoView {
    view! {
        <ul class="sandbox-codes" data-testid="phone-codes">
            <For
                each=move || phone.codes.get()
                key=|live| live.code.ticket.clone()
                children=move |live| view! { <CodeItem phone live chosen /> }
            />
        </ul>
        <Show when=move || phone.codes.with(Vec::is_empty)>
            <p class="sandbox-empty" data-testid="phone-code-empty">
                "还没有二维码。在网站上点“微信登录”，二维码会出现在这里。"
            </p>
        </Show>
    }
    .into_any()
}

#[component]
fn CodeItem(phone: Phone, live: LiveCode, chosen: Signal<Option<String>>) -> impl IntoView {
    let LiveCode { code, deadline_ms } = live;
    let left_ms = move || deadline_ms - phone.now_ms();
    let expired = move || code.expired || left_ms() <= 0;
    let is_chosen = {
        let ticket = code.ticket.clone();
        move || chosen.with(|chosen| chosen.as_deref() == Some(ticket.as_str()))
    };
    let class = move || {
        let mut class = String::from("sandbox-code");
        if expired() {
            class.push_str(" is-expired");
        }
        if is_chosen() {
            class.push_str(" is-chosen");
        }
        class
    };
    let ticket = code.ticket.clone();
    view! {
        <li class=class data-testid=format!("phone-code-{}", code.ticket) title=code.scene.clone()>
            <span class="sandbox-code__icon" aria-hidden="true"></span>
            <span class="sandbox-code__text">
                <span class="sandbox-code__scene">{short_scene(&code.scene)}</span>
                <span class="sandbox-code__time">
                    {move || if expired() { "已过期".to_owned() } else { format!("剩余 {}", countdown(left_ms())) }}
                </span>
            </span>
            <button
                type="button"
                class="sandbox-button"
                data-testid=format!("phone-scan-{}", code.ticket)
                disabled=move || phone.busy.get()
                on:click=move |_| phone.scan(ScanTarget::Ticket(ticket.clone()))
            >
                "扫一扫"
            </button>
        </li>
    }
    .into_any()
}

/// A QR URL copied from elsewhere (e.g. the login dialog's link).
#[component]
pub fn PasteUrl(phone: Phone) -> impl IntoView {
    let url = RwSignal::new(String::new());
    view! {
        <form
            class="sandbox-paste"
            on:submit=move |ev| {
                ev.prevent_default();
                let scanned = url.get_untracked();
                if scanned.trim().is_empty() {
                    return;
                }
                phone.scan(ScanTarget::Url(scanned));
                url.set(String::new());
            }
        >
            <input
                type="text"
                class="sandbox-input"
                placeholder="粘贴二维码链接"
                aria-label="二维码链接"
                data-testid="phone-url-input"
                bind:value=url
            />
            <button type="submit" class="sandbox-button" data-testid="phone-url-scan" disabled=move || phone.busy.get()>
                "扫描"
            </button>
        </form>
    }
    .into_any()
}
