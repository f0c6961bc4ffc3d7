//! The operator page: how the site is doing, for its operators only. The
//! page that places this module is a 404 for everyone whose WeChat openid
//! is not in `ADMIN_OPENIDS` (its spec says `admins_only`; the server marks
//! an operator's requests, see `auth::Admin`).
//!
//! Figures come from the server ([`OpsService`], provided as context), are
//! read while the page renders (no call from the browser, no island) and
//! drawn as small SVG bar charts on the server: the page needs no script.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::theme::{
    settings::{require_text, Invalid, Settings},
    ModuleSpec, ModuleType, Zone,
};

/// How many days the charts show, today included.
pub const DAYS: usize = 30;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSettings {
    pub heading: String,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            heading: "运营概况".into(),
        }
    }
}

impl Settings for AdminSettings {
    fn check(&self) -> Result<(), Invalid> {
        require_text("heading", &self.heading)
    }
}

/// What the page shows, read by the server when it renders the page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OpsFigures {
    /// The charts' days as Beijing dates (`11-22`), oldest first, today
    /// last; every series below has one value per day.
    pub days: Vec<String>,
    /// Sessions created (logins completed).
    pub logins: Vec<u64>,
    /// Users seen for the first time.
    pub new_users: Vec<u64>,
    /// Follows of the 服务号 that came from scanning a login QR code.
    pub follows_via_qr: Vec<u64>,
    /// `None` when the writing module is not configured.
    pub writing: Option<WritingFigures>,
    /// WeChat failures (API errors, refused callbacks) by kind; only the
    /// kinds seen in these days.
    pub wechat_errors: Vec<Series>,
    /// DeepSeek failures by kind.
    pub deepseek_errors: Vec<Series>,
    pub now: Now,
    /// When the figures were read, Beijing time (`2026-11-22 14:03:05`).
    pub read_at: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct WritingFigures {
    /// Generations that ended (articles, regenerations, continuations).
    pub generations: Vec<u64>,
    /// Of those, the ones that failed.
    pub failed: Vec<u64>,
    /// Outlines made.
    pub outlines: Vec<u64>,
    /// DeepSeek tokens, prompts and answers together.
    pub tokens: Vec<u64>,
}

/// One kind of failure, per day.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// e.g. `wechat:40164`, `callback:bad_signature`, `deepseek:timeout`.
    pub kind: String,
    pub per_day: Vec<u64>,
}

/// The site right now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Now {
    /// Login QR codes shown and not yet used or expired.
    pub waiting_logins: u64,
    /// Open login event streams.
    pub login_streams: u64,
    /// Open article event streams; `None` without the writing module.
    pub article_streams: Option<u64>,
    /// Generations running in this process.
    pub running_generations: Option<u64>,
    /// Generations waiting for a DeepSeek slot.
    pub queued_generations: Option<u64>,
    pub token: TokenAge,
}

/// The WeChat access token the site holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum TokenAge {
    /// None fetched yet (the first login fetches one).
    #[default]
    None,
    Valid {
        /// Since it was fetched; `None` if fetched by an older version.
        age_seconds: Option<i64>,
        expires_in_seconds: i64,
    },
    Expired {
        seconds_ago: i64,
    },
}

/// What the operator page needs from the server (server side only).
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait OpsService: Send + Sync + 'static {
    /// The figures now; `Err` (a line for the log) when they cannot be read.
    async fn figures(&self) -> Result<OpsFigures, String>;
}

/// The module: one per page, on a page of its own.
pub struct Admin;

impl ModuleType for Admin {
    type Settings = AdminSettings;
    const SPEC: ModuleSpec = ModuleSpec::new("admin", &[Zone::Page])
        .limit(1)
        .admins_only();

    fn view(settings: AdminSettings, _blocks: AnyView) -> impl IntoView + 'static {
        #[cfg(feature = "ssr")]
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            // Figures for one person: never kept by a browser or a proxy.
            response.insert_header(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
        }
        let loading = load();
        view! {
            <div class="m-admin" data-testid="admin">
                <h1 class="m-admin__heading">{settings.heading}</h1>
                <Suspense fallback=|| view! { <p class="m-admin__loading">"正在读取数据…"</p> }>
                    {Suspend::new(async move {
                        let figures = loading.await?;
                        Ok::<_, ServerFnError>(figures.map(|figures| view! { <Dashboard figures /> }))
                    })}
                </Suspense>
            </div>
        }
    }

    fn example() -> AdminSettings {
        AdminSettings::default()
    }
}

/// The figures, for an operator's request only (the page is a 404 for
/// anyone else; this is the second lock). `Ok(None)` without an operator
/// or outside the server.
// Not an `async fn`: the context is read now, while the view is built
// (inside the future it is gone); without `ssr` nothing is read.
#[cfg_attr(not(feature = "ssr"), allow(clippy::manual_async_fn))]
fn load() -> impl std::future::Future<Output = Result<Option<OpsFigures>, ServerFnError>> + Send
{
    #[cfg(feature = "ssr")]
    let service = use_context::<axum::http::request::Parts>()
        .filter(crate::auth::Admin::of)
        .and_then(|_| use_context::<std::sync::Arc<dyn OpsService>>());
    async move {
        #[cfg(feature = "ssr")]
        if let Some(service) = service {
            return service.figures().await.map(Some).map_err(ServerFnError::new);
        }
        Ok(None)
    }
}

#[component]
fn Dashboard(figures: OpsFigures) -> impl IntoView {
    let OpsFigures {
        days,
        logins,
        new_users,
        follows_via_qr,
        writing,
        wechat_errors,
        deepseek_errors,
        now,
        read_at,
    } = figures;
    let chart = |title: &'static str, unit: &'static str, values: &[u64]| {
        view! { <Chart title unit days=days.clone() values=values.to_vec() /> }
    };
    let writing_charts = match &writing {
        Some(w) => view! {
            <div class="m-admin__grid">
                {chart("文章生成", "次", &w.generations)}
                {chart("生成失败", "次", &w.failed)}
                {chart("大纲", "次", &w.outlines)}
                {chart("DeepSeek tokens", "个", &w.tokens)}
            </div>
        }
        .into_any(),
        None => view! {
            <p class="m-admin__note">"没有配置文章生成（DeepSeek），所以没有生成和 tokens 的数据。"</p>
        }
        .into_any(),
    };
    view! {
        <p class="m-admin__stamp">
            {format!("北京时间 {read_at} 的数据 · 图表是最近 {DAYS} 天，每根柱子一天，最右边是今天。")}
            <a href="" class="m-admin__refresh">"刷新"</a>
        </p>
        <section class="m-admin__section" aria-labelledby="admin-now">
            <h2 id="admin-now">"现在"</h2>
            <NowPanel now writing=writing.is_some() />
        </section>
        <section class="m-admin__section" aria-labelledby="admin-users">
            <h2 id="admin-users">"登录与用户"</h2>
            <div class="m-admin__grid">
                {chart("登录", "次", &logins)}
                {chart("新用户", "位", &new_users)}
                {chart("扫登录码关注服务号", "位", &follows_via_qr)}
            </div>
        </section>
        <section class="m-admin__section" aria-labelledby="admin-writing">
            <h2 id="admin-writing">"文章"</h2>
            {writing_charts}
        </section>
        <section class="m-admin__section" aria-labelledby="admin-errors">
            <h2 id="admin-errors">"出错"</h2>
            <Errors title="微信" series=wechat_errors days=days.clone() />
            <Errors title="DeepSeek" series=deepseek_errors days=days.clone() />
        </section>
    }
}

#[component]
fn NowPanel(now: Now, writing: bool) -> impl IntoView {
    let Now {
        waiting_logins,
        login_streams,
        article_streams,
        running_generations,
        queued_generations,
        token,
    } = now;
    let or_dash = |value: Option<u64>| value.map_or_else(|| "—".to_owned(), |n| n.to_string());
    let (token_value, token_note) = token_words(&token);
    view! {
        <dl class="m-admin__now" data-testid="admin-now">
            <div>
                <dt>"等待扫码的登录"</dt>
                <dd data-figure="waiting_logins">{waiting_logins}</dd>
            </div>
            <div>
                <dt>"打开的事件流"</dt>
                <dd data-figure="streams">
                    {format!("登录 {login_streams} · 文章 {}", or_dash(article_streams))}
                </dd>
            </div>
            <div>
                <dt>"正在生成的文章"</dt>
                <dd data-figure="running_generations">
                    {if writing {
                        format!(
                            "{} 篇，另有 {} 篇排队",
                            or_dash(running_generations),
                            or_dash(queued_generations),
                        )
                    } else {
                        "没有配置".to_owned()
                    }}
                </dd>
            </div>
            <div>
                <dt>"微信 access_token"</dt>
                <dd data-figure="token">{token_value}</dd>
                <dd class="m-admin__hint">{token_note}</dd>
            </div>
        </dl>
    }
}

/// The token's age in words, and what it means.
fn token_words(token: &TokenAge) -> (String, &'static str) {
    match token {
        TokenAge::None => (
            "还没有".into(),
            "第一次有人扫码登录时向微信取得。",
        ),
        TokenAge::Valid {
            age_seconds,
            expires_in_seconds,
        } => (
            match age_seconds {
                Some(age) => format!(
                    "取得 {}，还有 {} 到期",
                    duration(*age),
                    duration(*expires_in_seconds)
                ),
                None => format!("还有 {} 到期", duration(*expires_in_seconds)),
            },
            "到期前 5 分钟自动换新。",
        ),
        TokenAge::Expired { seconds_ago } => (
            format!("{} 前已过期", duration(*seconds_ago)),
            "下次有人扫码登录时自动换新；一直这样请运行 server doctor。",
        ),
    }
}

/// `95` → `1 分钟`, `7200` → `2 小时`, `5400` → `1 小时 30 分钟`.
fn duration(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (hours, minutes) = (seconds / 3600, seconds % 3600 / 60);
    match (hours, minutes) {
        (0, 0) => format!("{seconds} 秒"),
        (0, m) => format!("{m} 分钟"),
        (h, 0) => format!("{h} 小时"),
        (h, m) => format!("{h} 小时 {m} 分钟"),
    }
}

/// The failures of one service, one small chart per kind.
#[component]
fn Errors(title: &'static str, series: Vec<Series>, days: Vec<String>) -> impl IntoView {
    if series.is_empty() {
        return view! {
            <p class="m-admin__ok" data-testid="admin-errors-none">
                {format!("{title}：最近 {DAYS} 天没有出错。")}
            </p>
        }
        .into_any();
    }
    view! {
        <h3 class="m-admin__subheading">{title}</h3>
        <div class="m-admin__grid">
            {series
                .into_iter()
                .map(|s| {
                    let label = error_label(&s.kind);
                    view! {
                        <Chart
                            title=label
                            unit="次"
                            days=days.clone()
                            values=s.per_day
                            kind=s.kind
                            tone="error"
                        />
                    }
                })
                .collect_view()}
        </div>
    }
    .into_any()
}

/// One chart: its title, a one-line summary and the bars.
#[component]
fn Chart(
    #[prop(into)] title: String,
    unit: &'static str,
    days: Vec<String>,
    values: Vec<u64>,
    /// The failure kind it counts, for the tests.
    #[prop(optional, into)]
    kind: String,
    #[prop(optional)] tone: &'static str,
) -> impl IntoView {
    let total: u64 = values.iter().sum();
    let today = values.last().copied().unwrap_or(0);
    let summary = format!("{DAYS} 天共 {total} {unit} · 今天 {today} {unit}");
    let svg = bar_chart_svg(&title, unit, &days, &values, tone == "error");
    let name = title.clone();
    view! {
        <figure class="m-admin__chart" data-chart=name data-kind=kind data-total=total>
            <figcaption>
                <span class="m-admin__chart-title">{title}</span>
                <span class="m-admin__chart-summary">{summary}</span>
            </figcaption>
            <div class="m-admin__svg" inner_html=svg></div>
        </figure>
    }
}

// The chart's own units. It is drawn at about its width in CSS pixels (a
// grid cell of 260–420 px) and scaled evenly, so its 10-unit text stays
// readable on a phone as on a wide screen.
const WIDTH: f64 = 360.0;
const HEIGHT: f64 = 120.0;
const LEFT: f64 = 30.0;
const RIGHT: f64 = 4.0;
const TOP: f64 = 8.0;
const BOTTOM: f64 = 18.0;

/// A bar chart of `values` (one per day of `days`) as SVG markup: bars
/// scaled to a round maximum, a grid line at the top and middle with their
/// values, the first, middle and last dates underneath, and each bar's date
/// and value as its tooltip (`<title>`). Every text is escaped.
pub fn bar_chart_svg(
    title: &str,
    unit: &str,
    days: &[String],
    values: &[u64],
    error: bool,
) -> String {
    use std::fmt::Write;

    let n = values.len().max(1);
    let top = round_up(values.iter().copied().max().unwrap_or(0));
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / n as f64;
    let bar_w = (slot * 0.72).max(1.0);
    let total: u64 = values.iter().sum();
    let peak = values.iter().copied().max().unwrap_or(0);
    let mut svg = format!(
        r#"<svg class="m-admin__bars{}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}">"#,
        if error { " m-admin__bars--error" } else { "" },
        escape(&format!(
            "{title}：最近 {n} 天共 {total} {unit}，最多的一天 {peak} {unit}"
        )),
    );
    // Grid: the top, the middle (when it is a whole number) and the base.
    let mut lines = vec![(top, TOP), (0, TOP + plot_h)];
    if top.is_multiple_of(2) {
        lines.push((top / 2, TOP + plot_h / 2.0));
    }
    for (value, y) in lines {
        let _ = write!(
            svg,
            r#"<line class="m-admin__grid-line" x1="{LEFT}" y1="{y}" x2="{}" y2="{y}"/><text class="m-admin__axis" x="{}" y="{}" text-anchor="end">{value}</text>"#,
            WIDTH - RIGHT,
            LEFT - 4.0,
            y + 3.5,
        );
    }
    for (i, value) in values.iter().enumerate() {
        let day = days.get(i).map(String::as_str).unwrap_or("");
        let height = if *value == 0 {
            0.0
        } else {
            (*value as f64 / top as f64 * plot_h).max(1.5)
        };
        let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
        let y = TOP + plot_h - height;
        let class = if i + 1 == values.len() {
            "m-admin__bar m-admin__bar--today"
        } else {
            "m-admin__bar"
        };
        // A zero day is still a target for its tooltip.
        let _ = write!(
            svg,
            r#"<g><rect class="m-admin__bar-hit" x="{x:.1}" y="{TOP}" width="{bar_w:.1}" height="{plot_h}"/><rect class="{class}" x="{x:.1}" y="{y:.1}" width="{bar_w:.1}" height="{height:.1}" data-value="{value}"/><title>{}</title></g>"#,
            escape(&format!("{day}：{value} {unit}")),
        );
    }
    let labels = [0, n / 2, n - 1];
    for (k, &i) in labels.iter().enumerate() {
        if k > 0 && i == labels[k - 1] {
            continue;
        }
        let x = LEFT + slot * i as f64 + slot / 2.0;
        let text = if i + 1 == n {
            "今天"
        } else {
            days.get(i).map(String::as_str).unwrap_or("")
        };
        let _ = write!(
            svg,
            r#"<text class="m-admin__axis" x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
            HEIGHT - 4.0,
            escape(text),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The smallest of 1, 2, 5, 10, 20, 50, … that is at least `value` (and
/// at least 1, so an empty chart has a scale).
fn round_up(value: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for factor in [1, 2, 5] {
            let candidate = step.saturating_mul(factor);
            if candidate >= value || candidate == u64::MAX {
                return candidate;
            }
        }
        step = step.saturating_mul(10);
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A failure kind in the operator's words, with what to do where it helps.
pub fn error_label(kind: &str) -> String {
    let known = match kind {
        "wechat:-1" => "微信系统繁忙（-1）",
        "wechat:40001" | "wechat:40014" | "wechat:42001" => {
            return format!(
                "access_token 失效（{}，会自动重取）",
                kind.trim_start_matches("wechat:")
            )
        }
        "wechat:40013" => "AppID 不对（40013）",
        "wechat:40125" => "AppSecret 不对（40125）",
        "wechat:40164" => "服务器 IP 不在白名单（40164）",
        "wechat:45009" => "接口调用超过每日上限（45009）",
        "wechat:48001" => "没有生成二维码的权限（48001，需认证服务号）",
        "wechat:other" => "微信的其他错误",
        "wechat:timeout" => "微信接口超时",
        "wechat:unreachable" => "连不上微信接口",
        "wechat:bad_answer" => "微信的回答看不懂",
        "callback:bad_signature" => "回调签名不对（Token 填错？）",
        "callback:bad_msg_signature" => "回调消息签名不对（EncodingAESKey 填错？）",
        "callback:stale_timestamp" => "回调时间戳过旧（重放或时钟不准）",
        "callback:plain_push_refused" => "收到明文推送（后台须选安全模式）",
        "callback:no_encryption_key" => "收到加密推送，但没有设置 EncodingAESKey",
        "callback:undecryptable" => "回调解不开（EncodingAESKey 不对？）",
        "callback:unparsable" => "回调内容看不懂",
        "callback:missing_parameter" | "callback:malformed_parameter" => "回调参数不全或不对",
        "callback:stamp_reused" => "回调签名被重复使用（重放）",
        "callback:not_written" => "回调来不及保存（微信会重试）",
        "deepseek:bad_request" => "请求被拒（参数不对）",
        "deepseek:unauthorized" => "API key 无效（401）",
        "deepseek:insufficient_balance" => "余额不足（402），请充值",
        "deepseek:rate_limited" => "请求太频繁（429）",
        "deepseek:server_error" => "DeepSeek 服务出错",
        "deepseek:overloaded" => "DeepSeek 繁忙（503）",
        "deepseek:unreachable" => "连不上 DeepSeek",
        "deepseek:timeout" => "等 DeepSeek 超时",
        "deepseek:cut" => "回答中途断开",
        "deepseek:malformed" => "回答格式不对",
        "deepseek:content_filter" => "被内容审核拦下",
        _ => return kind.to_owned(),
    };
    known.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("11-{:02}", i + 1)).collect()
    }

    #[test]
    fn scales_are_round() {
        for (value, top) in [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (11, 20), (51, 100)] {
            assert_eq!(round_up(value), top, "{value}");
        }
        assert_eq!(round_up(u64::MAX), u64::MAX);
    }

    #[test]
    fn a_chart_has_a_bar_per_day_scaled_to_its_top() {
        let mut values = vec![0; DAYS];
        values[3] = 5;
        values[DAYS - 1] = 10;
        let svg = bar_chart_svg("登录", "次", &days(DAYS), &values, false);
        assert_eq!(svg.matches("data-value=").count(), DAYS);
        assert_eq!(svg.matches("<title>").count(), DAYS);
        // 10 is the top: its bar fills the plot; 5 fills half of it.
        let plot = HEIGHT - TOP - BOTTOM;
        assert!(svg.contains(&format!("height=\"{plot:.1}\" data-value=\"10\"")));
        assert!(svg.contains(&format!("height=\"{:.1}\" data-value=\"5\"", plot / 2.0)));
        assert!(svg.contains("<title>11-04：5 次</title>"));
        assert!(svg.contains("m-admin__bar--today"));
        assert!(svg.contains(">今天</text>"));
        assert!(svg.contains("aria-label=\"登录：最近 30 天共 15 次，最多的一天 10 次\""));
    }

    #[test]
    fn text_is_escaped_and_odd_input_does_not_panic() {
        let svg = bar_chart_svg("<script>", "\"", &["<b>".into()], &[u64::MAX], true);
        assert!(!svg.contains("<script>") && !svg.contains("<b>"));
        assert!(svg.contains("&lt;script&gt;"));
        let empty = bar_chart_svg("空", "次", &[], &[], false);
        assert!(empty.starts_with("<svg") && empty.ends_with("</svg>"));
    }

    #[test]
    fn kinds_have_words() {
        assert_eq!(error_label("wechat:40164"), "服务器 IP 不在白名单（40164）");
        assert!(error_label("wechat:42001").contains("42001"));
        assert_eq!(error_label("something:new"), "something:new");
        assert_eq!(duration(95), "1 分钟");
        assert_eq!(duration(5_400), "1 小时 30 分钟");
        assert_eq!(duration(-5), "0 秒");
    }
}
