//! `GET /sandbox/deepseek`: a small page that says what the sandbox is and
//! lets a person inject faults and change the pace. Plain HTML forms, no
//! JavaScript.

use std::sync::{Arc, LazyLock};

use axum::{
    extract::State,
    http::header,
    response::{Html, IntoResponse},
    routing::get,
    Router,
};

use super::{faults::FaultKind, DeepseekSandbox, MOUNT_PATH};

pub fn routes() -> Router<Arc<DeepseekSandbox>> {
    Router::new().route("/", get(page))
}

async fn page(State(sandbox): State<Arc<DeepseekSandbox>>) -> impl IntoResponse {
    let stats = sandbox.stats();
    let armed = match sandbox.armed() {
        Some(armed) => {
            let delay = if armed.delay_ms > 0 {
                format!("，等待 {} 毫秒", armed.delay_ms)
            } else {
                String::new()
            };
            format!(
                "<strong>{}</strong>（还会影响接下来的 {} 次生成{}）",
                escape(armed.fault.label_zh()),
                armed.remaining,
                delay
            )
        }
        None => "无：生成会正常完成".to_owned(),
    };
    let options: String = FaultKind::ALL
        .iter()
        .map(|kind| {
            format!(
                "<option value=\"{}\">{}</option>",
                kind.name(),
                escape(kind.label_zh())
            )
        })
        .collect();
    let pace = if stats.tokens_per_second == 0 {
        "不停顿（尽快写完）".to_owned()
    } else {
        format!("每秒 {} 个 token", stats.tokens_per_second)
    };
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>DeepSeek 沙箱 · 文思</title>
<style>{STYLE}</style>
</head>
<body>
<h1>DeepSeek 沙箱</h1>
<p>本站正在沙箱模式下运行：<strong>文章生成由本机模拟，不会连接真实 DeepSeek</strong>，也不会产生费用。
模拟的文章按提示里的标题、类型、字数和关键词拼写而成，同样的提示总会得到同样的文章。</p>

<section aria-labelledby="state">
<h2 id="state">当前状态</h2>
<p>写作速度：{pace}<br>
已收到生成请求：{requests} 次（其中 {faulted} 次遇到故障）<br>
当前故障：{armed}</p>
</section>

<section aria-labelledby="fault">
<h2 id="fault">模拟故障</h2>
<form method="post" action="{mount}/faults/form">
<label for="fault-kind">故障类型</label>
<select id="fault-kind" name="fault">{options}</select>
<label for="fault-times">影响接下来几次生成</label>
<input id="fault-times" name="times" type="number" min="1" max="10000" value="1">
<label for="fault-delay">等待多少毫秒（只用于“迟迟不出第一个字”和“写到一半停顿”）</label>
<input id="fault-delay" name="delay_ms" type="number" min="0" max="600000" value="5000">
<br><button type="submit">设置故障</button>
</form>
<form method="post" action="{mount}/faults/clear">
<button type="submit">清除故障</button>
</form>
</section>

<section aria-labelledby="pace">
<h2 id="pace">写作速度</h2>
<form method="post" action="{mount}/pace/form">
<label for="pace-value">每秒多少个 token（0 表示不停顿；DeepSeek 大约每秒 50 个）</label>
<input id="pace-value" name="tokens_per_second" type="number" min="0" max="10000" value="{tps}">
<br><button type="submit">修改速度</button>
</form>
</section>

<section aria-labelledby="api">
<h2 id="api">接口</h2>
<p class="note">与 DeepSeek 相同的 OpenAI 兼容接口，任何 OpenAI 兼容客户端把地址指向这里即可：
<code>POST {mount}/chat/completions</code>（支持流式、<code>stream_options.include_usage</code>、
<code>thinking</code> 思考模式）、<code>GET {mount}/models</code>、<code>GET {mount}/user/balance</code>。
测试用 JSON 接口：<code>POST {mount}/faults</code>（如 <code>{{"fault":"rate_limited","times":2}}</code>）、
<code>DELETE {mount}/faults</code>、<code>GET {mount}/stats</code>、<code>PUT {mount}/pace</code>。</p>
</section>
<p><a href="/">返回首页</a></p>
</body>
</html>
"#,
        requests = stats.chat_requests,
        faulted = stats.faults_served,
        tps = stats.tokens_per_second,
        mount = MOUNT_PATH,
    );
    (
        [
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (header::CONTENT_SECURITY_POLICY, POLICY.clone()),
        ],
        Html(html),
    )
}

/// The page's own Content-Security-Policy. The site's default for
/// non-Leptos responses allows nothing, which would block this page's
/// style and, worse, its forms (`form-action 'none'`): allow exactly the
/// inline style below, by hash, and forms posting back to this site.
static POLICY: LazyLock<String> = LazyLock::new(|| {
    use base64::Engine;
    use sha2::Digest;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(STYLE));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
});

const STYLE: &str = r#"body { font-family: system-ui, "PingFang SC", "Microsoft YaHei", sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.6; color: #222; }
h1 { font-size: 1.5rem; }
section { border: 1px solid #ddd; border-radius: 8px; padding: 0.75rem 1rem; margin: 1rem 0; }
label { display: block; margin: 0.5rem 0 0.25rem; }
input, select, button { font: inherit; padding: 0.3rem 0.5rem; }
button { margin-top: 0.5rem; cursor: pointer; }
code { background: #f4f4f4; padding: 0 0.25rem; border-radius: 3px; }
.note { color: #555; font-size: 0.9rem; }
"#;

/// Everything shown comes from the sandbox's own tables, but escaping costs
/// nothing and keeps it so.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
