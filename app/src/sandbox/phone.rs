//! The phone's state and what its buttons do. Every action runs in the
//! browser (started by an event handler or an effect), so the server renders
//! the initial state only and hydration finds the same markup.

use std::time::Duration;

use leptos::{prelude::*, task::spawn_local};
use serde_json::{json, Value};

use super::{
    client::{self, CallError},
    model::{short_scene, Code, PushAnswer, Reply, SandboxUser, ScanMode},
};

/// The codes list is fetched again every this many ticks (seconds).
const REFRESH_EVERY_TICKS: u32 = 2;

/// Whether the sandbox answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Availability {
    Connecting,
    Ready,
    SandboxOff,
    Offline(String),
}

/// The outcome of the latest action, shown under the chat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// `idle`, `busy`, `ok` or `error` (also the `data-state` attribute).
    pub state: &'static str,
    pub text: String,
}

impl Status {
    fn new(state: &'static str, text: impl Into<String>) -> Self {
        Self {
            state,
            text: text.into(),
        }
    }
}

/// A code as listed, with its deadline on the page's own clock (ticks since
/// the page started, in ms): the countdown then needs no clock of the
/// browser, and no re-render of the list each refresh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveCode {
    pub code: Code,
    pub deadline_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Speaker {
    /// The phone's user (right, green).
    Me,
    /// The service account (left, white).
    Account,
    /// What WeChat itself shows (centred, grey).
    Notice,
    /// A failure WeChat would show the user.
    Problem,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatLine {
    pub id: u32,
    /// The action it belongs to: the latest action's reply is the one tests
    /// read (`phone-reply`).
    pub action: u32,
    pub speaker: Speaker,
    pub text: String,
}

/// What a scan points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanTarget {
    Ticket(String),
    Url(String),
}

/// All of the phone's signals; `Copy`, so every handler takes its own.
#[derive(Clone, Copy)]
pub struct Phone {
    pub availability: RwSignal<Availability>,
    pub codes: RwSignal<Vec<LiveCode>>,
    pub users: RwSignal<Vec<SandboxUser>>,
    /// The chosen user; empty: a new user at the next scan.
    pub openid: RwSignal<String>,
    pub mode: RwSignal<ScanMode>,
    pub chat: RwSignal<Vec<ChatLine>>,
    pub status: RwSignal<Status>,
    pub busy: RwSignal<bool>,
    /// Seconds since the page started (the countdown's clock).
    pub ticks: RwSignal<u32>,
    /// The number of the latest action.
    pub action: RwSignal<u32>,
    next_line: StoredValue<u32>,
    refreshing: StoredValue<bool>,
}

impl Phone {
    pub fn new() -> Self {
        Self {
            availability: RwSignal::new(Availability::Connecting),
            codes: RwSignal::new(Vec::new()),
            users: RwSignal::new(Vec::new()),
            openid: RwSignal::new(String::new()),
            mode: RwSignal::new(ScanMode::Auto),
            chat: RwSignal::new(Vec::new()),
            status: RwSignal::new(Status::new("idle", "选择一个二维码，点“扫一扫”")),
            busy: RwSignal::new(false),
            ticks: RwSignal::new(0),
            action: RwSignal::new(0),
            next_line: StoredValue::new(0),
            refreshing: StoredValue::new(false),
        }
    }

    /// Loads the lists and starts the clock; call from an effect (browser
    /// only). The clock stops when the page goes away.
    pub fn start(self) {
        self.refresh_codes();
        self.refresh_users();
        let tick = move || {
            self.ticks.update(|t| *t += 1);
            if self
                .ticks
                .get_untracked()
                .is_multiple_of(REFRESH_EVERY_TICKS)
            {
                self.refresh_codes();
            }
        };
        match set_interval_with_handle(tick, Duration::from_secs(1)) {
            Ok(handle) => on_cleanup(move || handle.clear()),
            Err(_) => self.status.set(Status::new("error", "无法启动自动刷新")),
        }
    }

    pub fn now_ms(self) -> i64 {
        i64::from(self.ticks.get()) * 1000
    }

    pub fn refresh_codes(self) {
        // Once the site says there is no sandbox, asking again is pointless.
        let off = self
            .availability
            .with_untracked(|a| *a == Availability::SandboxOff);
        if off || self.refreshing.get_value() {
            return;
        }
        self.refreshing.set_value(true);
        spawn_local(async move {
            let answer = client::get::<Vec<Code>>("codes").await;
            self.refreshing.set_value(false);
            match answer {
                Ok(codes) => {
                    let now = i64::from(self.ticks.get_untracked()) * 1000;
                    let live = codes
                        .into_iter()
                        .map(|code| LiveCode {
                            deadline_ms: now + code.remaining_ms,
                            code,
                        })
                        .collect();
                    self.codes.set(live);
                    self.availability.set(Availability::Ready);
                }
                Err(CallError::SandboxOff) => self.availability.set(Availability::SandboxOff),
                Err(failure) => self
                    .availability
                    .set(Availability::Offline(failure.message())),
            }
        });
    }

    pub fn refresh_users(self) {
        spawn_local(async move {
            if let Ok(users) = client::get::<Vec<SandboxUser>>("users").await {
                self.users.set(users);
            }
        });
    }

    pub fn new_user(self) {
        self.begin("正在新建用户…");
        spawn_local(async move {
            match client::post::<SandboxUser>("users", json!({})).await {
                Ok(user) => {
                    self.openid.set(user.openid.clone());
                    self.users.update(|users| users.insert(0, user));
                    self.finish(Status::new("ok", "已新建用户"));
                }
                Err(failure) => self.finish(Status::new("error", failure.message())),
            }
        });
    }

    pub fn scan(self, target: ScanTarget) {
        let action = self.begin("正在扫码…");
        let mut body = match &target {
            ScanTarget::Ticket(ticket) => json!({ "ticket": ticket }),
            ScanTarget::Url(url) => json!({ "url": url.trim() }),
        };
        self.add_user_and_mode(&mut body);
        let scene = match &target {
            ScanTarget::Ticket(ticket) => self.scene_of(ticket),
            ScanTarget::Url(url) => url.trim().to_owned(),
        };
        self.say(
            action,
            Speaker::Notice,
            format!("扫描二维码 {}", short_scene(&scene)),
        );
        spawn_local(async move {
            let answer = client::push("scan", body).await;
            self.show(action, answer);
            self.refresh_users();
            self.refresh_codes();
        });
    }

    /// Sends `text` as the chosen user; false (and why, in the status line)
    /// when it cannot be sent.
    pub fn send_text(self, text: String) -> bool {
        let openid = self.openid.get_untracked();
        if openid.is_empty() {
            self.status.set(Status::new(
                "error",
                "请先选择一个微信用户（先扫码或新建用户）",
            ));
            return false;
        }
        if text.trim().is_empty() {
            self.status.set(Status::new("error", "消息不能为空"));
            return false;
        }
        let action = self.begin("正在发送…");
        self.say(action, Speaker::Me, text.clone());
        spawn_local(async move {
            let answer = client::push("message", json!({ "openid": openid, "text": text })).await;
            self.show(action, answer);
        });
        true
    }

    pub fn unfollow(self) {
        let openid = self.openid.get_untracked();
        if openid.is_empty() {
            self.status
                .set(Status::new("error", "请先选择一个微信用户"));
            return;
        }
        let action = self.begin("正在取消关注…");
        self.say(action, Speaker::Notice, "你取消关注了公众号");
        spawn_local(async move {
            let answer = client::push("unsubscribe", json!({ "openid": openid })).await;
            self.show(action, answer);
            self.refresh_users();
        });
    }

    fn add_user_and_mode(self, body: &mut Value) {
        let openid = self.openid.get_untracked();
        if !openid.is_empty() {
            body["openid"] = json!(openid);
        }
        let mode = self.mode.get_untracked();
        if mode != ScanMode::Auto {
            body["mode"] = json!(mode.name());
        }
    }

    fn scene_of(self, ticket: &str) -> String {
        self.codes.with_untracked(|codes| {
            codes
                .iter()
                .find(|live| live.code.ticket == ticket)
                .map_or_else(|| ticket.to_owned(), |live| live.code.scene.clone())
        })
    }

    /// Starts an action: a new number, busy, and its status line.
    fn begin(self, doing: &str) -> u32 {
        self.action.update(|a| *a += 1);
        self.busy.set(true);
        self.status.set(Status::new("busy", doing));
        self.action.get_untracked()
    }

    fn finish(self, status: Status) {
        self.busy.set(false);
        self.status.set(status);
    }

    fn say(self, action: u32, speaker: Speaker, text: impl Into<String>) {
        let id = self.next_line.get_value();
        self.next_line.set_value(id + 1);
        let line = ChatLine {
            id,
            action,
            speaker,
            text: text.into(),
        };
        self.chat.update(|chat| chat.push(line));
    }

    /// Puts a push's outcome in the chat and the status line.
    fn show(self, action: u32, answer: Result<PushAnswer, CallError>) {
        let answer = match answer {
            Ok(answer) => answer,
            Err(failure) => {
                self.say(action, Speaker::Problem, failure.message());
                return self.finish(Status::new("error", failure.message()));
            }
        };
        if self.openid.get_untracked() != answer.openid {
            self.openid.set(answer.openid.clone());
        }
        if let Some(error) = &answer.error {
            self.say(
                action,
                Speaker::Problem,
                "该公众号暂时无法提供服务，请稍后再试",
            );
            return self.finish(Status::new("error", error.clone()));
        }
        match &answer.reply {
            Some(Reply::Text { content }) => self.say(action, Speaker::Account, content.clone()),
            Some(Reply::Other { .. }) => {
                self.say(action, Speaker::Notice, "公众号回复了一条非文本消息")
            }
            Some(Reply::Success) | None => self.say(action, Speaker::Notice, "公众号没有回复"),
        }
        self.finish(Status::new("ok", summary(&answer)));
    }
}

impl Default for Phone {
    fn default() -> Self {
        Self::new()
    }
}

/// "已送达 · subscribe · 加密 · HTTP 200 · 12 ms".
fn summary(answer: &PushAnswer) -> String {
    let mut parts = vec!["已送达".to_owned()];
    if let Some(event) = &answer.event {
        parts.push(event.clone());
    }
    if answer.code_expired == Some(true) {
        parts.push("二维码已过期".to_owned());
    }
    parts.push(if answer.encrypted { "加密" } else { "明文" }.to_owned());
    if let Some(status) = answer.http_status {
        parts.push(format!("HTTP {status}"));
    }
    parts.push(format!("{} ms", answer.elapsed_ms));
    parts.join(" · ")
}
