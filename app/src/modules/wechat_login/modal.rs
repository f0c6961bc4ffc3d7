//! The QR dialog: asks for a code, shows it with a countdown, follows the
//! scan live, completes the login and closes itself. Every state says what
//! to do next; Esc and the close button leave; focus stays inside (a native
//! modal `<dialog>`).

use leptos::{html, prelude::*};

use super::{protocol::StartedLogin, status::LoginStatus};
use crate::auth::{use_current_user, CurrentUser};

/// What the dialog shows. The attempt's own state is its [`LoginStatus`],
/// as the server last told it; the dialog adds only what happens in this
/// browser around the attempt.
// Only the browser moves past `Loading`.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone, Debug, PartialEq)]
enum Stage {
    /// Asking the server for a code.
    Loading,
    /// Following an attempt; `confirmed` and `consumed` while its login is
    /// being completed here.
    Attempt(LoginStatus),
    /// The words to show, with 重试.
    Failed(String),
}

impl Stage {
    /// The code is on show and may still be scanned.
    fn is_waiting(&self) -> bool {
        matches!(self, Self::Attempt(status) if !status.is_terminal())
    }

    /// For the style sheet: `loading`, a status, or `failed`.
    fn name(&self) -> &'static str {
        match self {
            Self::Loading => "loading",
            Self::Attempt(status) => status.as_str(),
            Self::Failed(_) => "failed",
        }
    }
}

#[component]
pub fn LoginModal(on_close: Callback<()>) -> AnyView {
    let dialog = NodeRef::<html::Dialog>::new();
    // Closing the dialog natively hands focus back to whatever opened it
    // (the button, or a #login link); then the parent removes it.
    let leave = Callback::new(move |_| {
        if let Some(dialog) = dialog.get_untracked() {
            dialog.close();
        }
        on_close.run(());
    });
    let flow = Flow::new(use_current_user(), leave);

    // Opens as a modal once in the page: the browser then keeps focus
    // inside and the rest of the page inert.
    Effect::new(move |_| {
        if let Some(dialog) = dialog.get() {
            if !dialog.open() {
                let _ = dialog.show_modal();
            }
        }
    });
    Effect::new(move |_| flow.begin());
    on_cleanup(move || flow.stop());

    let Flow {
        stage,
        login,
        seconds_left,
        confirm_code,
        ..
    } = flow;

    let instruction = move || match stage.get() {
        Stage::Loading => "正在生成二维码…".to_string(),
        Stage::Attempt(LoginStatus::AwaitingConfirmation) => match confirm_code.get() {
            Some(code) => format!("已扫码，请在微信中回复“确认 {code}”"),
            None => "已扫码，请按微信里的提示回复".to_string(),
        },
        Stage::Attempt(LoginStatus::Pending) => "请使用微信扫码，关注公众号后自动登录".to_string(),
        Stage::Attempt(LoginStatus::Confirmed | LoginStatus::Consumed) => {
            "扫码成功，正在登录…".to_string()
        }
        Stage::Attempt(LoginStatus::Expired) => {
            "二维码已过期，请点击“刷新二维码”后重新扫码".to_string()
        }
        Stage::Failed(message) => message,
    };
    let hint = move || match stage.get() {
        Stage::Attempt(LoginStatus::AwaitingConfirmation) => {
            Some("为了你的账号安全，只有回复这个页面上的确认码才能登录")
        }
        Stage::Attempt(LoginStatus::Pending) => Some("已关注公众号的用户，扫码后会直接登录"),
        _ => None,
    };
    let countdown = move || {
        let seconds = seconds_left.get();
        format!("{}:{:02}", seconds / 60, seconds % 60)
    };
    let qr_svg = move || login.get().map(|l| l.qr_svg).unwrap_or_default();

    view! {
        <dialog
            node_ref=dialog
            class="m-wechat-login__dialog"
            aria-labelledby="login-title"
            aria-describedby="login-instruction"
            data-testid="login-modal"
            on:cancel=move |ev: leptos::ev::Event| {
                ev.prevent_default();
                leave.run(());
            }
        >
            <div class="m-wechat-login__panel">
                <button
                    type="button"
                    class="m-wechat-login__close"
                    aria-label="关闭"
                    data-testid="login-close"
                    on:click=move |_| leave.run(())
                >
                    "×"
                </button>
                <h2 id="login-title" class="m-wechat-login__title">
                    "微信扫码登录"
                </h2>
                <div class="m-wechat-login__code-box" data-stage=move || stage.get().name()>
                    {move || match stage.get() {
                        Stage::Loading => view! { <div class="m-wechat-login__spinner" aria-hidden="true"></div> }.into_any(),
                        Stage::Failed(_) => {
                            view! {
                                <button type="button" class="m-wechat-login__action" data-testid="login-retry" on:click=move |_| flow.begin()>
                                    "重试"
                                </button>
                            }
                                .into_any()
                        }
                        Stage::Attempt(LoginStatus::Expired) => {
                            view! {
                                <div class="m-wechat-login__code m-wechat-login__code--faded" aria-hidden="true" inner_html=qr_svg></div>
                                <div class="m-wechat-login__overlay">
                                    <p>"二维码已过期"</p>
                                    <button type="button" class="m-wechat-login__action" data-testid="login-refresh" on:click=move |_| flow.begin()>
                                        "刷新二维码"
                                    </button>
                                </div>
                            }
                                .into_any()
                        }
                        Stage::Attempt(_) => {
                            view! { <div class="m-wechat-login__code" data-testid="login-qr" inner_html=qr_svg></div> }.into_any()
                        }
                    }}
                </div>
                <p id="login-instruction" class="m-wechat-login__instruction" role="status" aria-live="polite" data-testid="login-status">
                    {instruction}
                </p>
                {move || hint().map(|hint| view! { <p class="m-wechat-login__hint">{hint}</p> })}
                <Show when=move || stage.get().is_waiting()>
                    <p class="m-wechat-login__countdown">
                        "二维码将在 " <time data-testid="login-countdown">{countdown}</time> " 后过期"
                    </p>
                </Show>
            </div>
        </dialog>
    }
    .into_any()
}

/// The dialog's state over time. Its work runs in the browser only; on the
/// server (where the dialog is never open) it does nothing.
#[derive(Clone, Copy)]
struct Flow {
    stage: RwSignal<Stage>,
    login: RwSignal<Option<StartedLogin>>,
    seconds_left: RwSignal<u64>,
    /// Confirm mode: the code the WeChat user must reply, once scanned.
    confirm_code: RwSignal<Option<String>>,
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    user: CurrentUser,
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    close: Callback<()>,
    #[cfg(feature = "hydrate")]
    watcher: StoredValue<Option<super::client::Watcher>, LocalStorage>,
    #[cfg(feature = "hydrate")]
    ticker: StoredValue<Option<IntervalHandle>, LocalStorage>,
}

impl Flow {
    fn new(user: CurrentUser, close: Callback<()>) -> Self {
        Self {
            stage: RwSignal::new(Stage::Loading),
            login: RwSignal::new(None),
            seconds_left: RwSignal::new(0),
            confirm_code: RwSignal::new(None),
            user,
            close,
            #[cfg(feature = "hydrate")]
            watcher: StoredValue::new_local(None),
            #[cfg(feature = "hydrate")]
            ticker: StoredValue::new_local(None),
        }
    }

    /// Stops following the current code, if any.
    fn stop(self) {
        #[cfg(feature = "hydrate")]
        {
            // Dropping the watcher closes its event stream.
            self.watcher.try_update_value(|watcher| watcher.take());
            if let Some(Some(ticker)) = self.ticker.try_update_value(|ticker| ticker.take()) {
                ticker.clear();
            }
        }
    }

    /// Asks for a (new) code and follows it.
    fn begin(self) {
        self.stop();
        self.stage.set(Stage::Loading);
        self.confirm_code.set(None);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            match super::client::start().await {
                Ok(started) => self.follow(started),
                Err(failure) => self.stage.set(Stage::Failed(failure.message)),
            }
        });
    }

    #[cfg(feature = "hydrate")]
    fn follow(self, started: StartedLogin) {
        use super::client::{News, Watcher};

        let id = started.id.clone();
        self.seconds_left.set(started.expires_in);
        self.login.set(Some(started));
        self.stage.set(Stage::Attempt(LoginStatus::Pending));

        let ticker = set_interval_with_handle(
            move || {
                self.seconds_left.update(|s| *s = s.saturating_sub(1));
                let waiting = self.stage.with_untracked(Stage::is_waiting);
                if waiting && self.seconds_left.get_untracked() == 0 {
                    self.expire();
                }
            },
            std::time::Duration::from_secs(1),
        );
        self.ticker.set_value(ticker.ok());

        let attempt = id.clone();
        let watcher = Watcher::new(&id, move |news| match news {
            News::Status(update) => match update.status {
                LoginStatus::Pending => {}
                LoginStatus::AwaitingConfirmation => {
                    self.confirm_code.set(update.confirm_code);
                    self.stage
                        .set(Stage::Attempt(LoginStatus::AwaitingConfirmation));
                }
                LoginStatus::Confirmed => self.complete(attempt.clone()),
                LoginStatus::Expired => self.expire(),
                LoginStatus::Consumed => self.adopt_finished_login(),
            },
            News::Lost(failure) => {
                self.stop();
                self.stage.set(Stage::Failed(failure.message));
            }
        });
        match watcher {
            Ok(watcher) => self.watcher.set_value(Some(watcher)),
            Err(failure) => self.stage.set(Stage::Failed(failure.message)),
        }
    }

    #[cfg(feature = "hydrate")]
    fn complete(self, id: String) {
        if self.is_completing() {
            return;
        }
        self.stop();
        self.stage.set(Stage::Attempt(LoginStatus::Confirmed));
        leptos::task::spawn_local(async move {
            match super::client::complete(&id).await {
                Ok(user) => {
                    self.user.set(Some(user));
                    self.close.run(());
                }
                Err(failure) => self.stage.set(Stage::Failed(failure.message)),
            }
        });
    }

    /// The login was completed by another tab of this browser.
    #[cfg(feature = "hydrate")]
    fn adopt_finished_login(self) {
        if self.is_completing() {
            return;
        }
        self.stop();
        self.stage.set(Stage::Attempt(LoginStatus::Consumed));
        leptos::task::spawn_local(async move {
            match super::client::me().await {
                Ok(user) => {
                    self.user.set(Some(user));
                    self.close.run(());
                }
                Err(_) => self.stage.set(Stage::Failed(
                    "这次登录已经在其他页面完成了，请刷新本页。".into(),
                )),
            }
        });
    }

    /// Whether this browser is already completing the login.
    #[cfg(feature = "hydrate")]
    fn is_completing(self) -> bool {
        matches!(
            self.stage.get_untracked(),
            Stage::Attempt(LoginStatus::Confirmed | LoginStatus::Consumed)
        )
    }

    #[cfg(feature = "hydrate")]
    fn expire(self) {
        self.stop();
        self.stage.set(Stage::Attempt(LoginStatus::Expired));
    }
}
