//! Who scans, and how: the WeChat user and the kind of push.

use leptos::prelude::*;

use super::{
    model::{short_openid, ScanMode},
    phone::Phone,
};

#[component]
pub fn UserPicker(phone: Phone) -> impl IntoView {
    view! {
        <div class="sandbox-field">
            <label class="sandbox-field__label" for="sandbox-user">"微信用户"</label>
            <div class="sandbox-field__row">
                <select
                    id="sandbox-user"
                    class="sandbox-input"
                    data-testid="phone-user-select"
                    on:change=move |ev| phone.openid.set(event_target_value(&ev))
                >
                    <option value="" selected=move || phone.openid.with(String::is_empty)>
                        "新用户（扫码时创建）"
                    </option>
                    <For
                        each=move || phone.users.get()
                        key=|user| (user.openid.clone(), user.following)
                        children=move |user| {
                            let openid = user.openid.clone();
                            let label = format!(
                                "{}{}",
                                short_openid(&user.openid),
                                if user.following { "（已关注）" } else { "（未关注）" },
                            );
                            view! {
                                <option
                                    value=user.openid.clone()
                                    selected=move || phone.openid.with(|chosen| *chosen == openid)
                                >
                                    {label}
                                </option>
                            }
                        }
                    />
                </select>
                <button
                    type="button"
                    class="sandbox-button"
                    data-testid="phone-user-new"
                    disabled=move || phone.busy.get()
                    on:click=move |_| phone.new_user()
                >
                    "新建用户"
                </button>
            </div>
        </div>
    }
    .into_any()
}

#[component]
pub fn ModePicker(phone: Phone) -> impl IntoView {
    view! {
        <div class="sandbox-field">
            <label class="sandbox-field__label" for="sandbox-mode">"扫码方式"</label>
            <select
                id="sandbox-mode"
                class="sandbox-input"
                data-testid="phone-mode"
                on:change=move |ev| phone.mode.set(ScanMode::from_name(&event_target_value(&ev)))
            >
                {ScanMode::ALL
                    .into_iter()
                    .map(|mode| {
                        view! {
                            <option value=mode.name() selected=move || phone.mode.get() == mode>
                                {mode.label()}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </div>
    }
    .into_any()
}
