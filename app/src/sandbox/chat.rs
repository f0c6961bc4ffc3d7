//! The conversation with the service account, and the box to write in it.

use leptos::prelude::*;

use super::phone::{ChatLine, Phone, Speaker};

#[component]
pub fn Chat(phone: Phone) -> impl IntoView {
    view! {
        <ol class="sandbox-chat" data-testid="phone-chat" aria-live="polite">
            <For
                each=move || phone.chat.get()
                key=|line| line.id
                children=move |line| view! { <Line phone line /> }
            />
        </ol>
    }
    .into_any()
}

#[component]
fn Line(phone: Phone, line: ChatLine) -> impl IntoView {
    let ChatLine {
        action,
        speaker,
        text,
        ..
    } = line;
    let class = match speaker {
        Speaker::Me => "sandbox-chat__line sandbox-chat__line--me",
        Speaker::Account => "sandbox-chat__line sandbox-chat__line--account",
        Speaker::Notice => "sandbox-chat__line sandbox-chat__line--notice",
        Speaker::Problem => "sandbox-chat__line sandbox-chat__line--problem",
    };
    // Exactly one element is `phone-reply`: the account's answer to the
    // latest action.
    let testid = move || match speaker {
        Speaker::Account if phone.action.get() == action => "phone-reply",
        Speaker::Account => "phone-reply-earlier",
        Speaker::Problem if phone.action.get() == action => "phone-problem",
        _ => "phone-chat-line",
    };
    view! {
        <li class=class data-testid=testid>
            <span class="sandbox-chat__bubble">{text}</span>
        </li>
    }
    .into_any()
}

#[component]
pub fn Compose(phone: Phone) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    view! {
        <form
            class="sandbox-compose"
            on:submit=move |ev| {
                ev.prevent_default();
                if phone.send_text(draft.get_untracked()) {
                    draft.set(String::new());
                }
            }
        >
            <input
                type="text"
                class="sandbox-input"
                placeholder="回复公众号，例如：确认"
                aria-label="消息"
                data-testid="phone-message-input"
                bind:value=draft
            />
            <button
                type="submit"
                class="sandbox-button sandbox-button--primary"
                data-testid="phone-message-send"
                disabled=move || phone.busy.get()
            >
                "发送"
            </button>
        </form>
    }
    .into_any()
}
