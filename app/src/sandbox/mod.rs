//! The simulated phone of the WeChat sandbox (`/sandbox/wechat/phone`).

use leptos::prelude::*;

#[component]
pub fn PhonePage() -> impl IntoView {
    view! { <section class="sandbox-phone"></section> }
}
