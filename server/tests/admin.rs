//! The operator page `/admin`: the 404 page for anyone whose openid is not
//! in ADMIN_OPENIDS (logged out included), indistinguishable from a page
//! that does not exist; for an operator, the figures of what happened, read
//! back from the counts the login, the callback and the writing module
//! keep, and still there after a restart.

mod common;

use common::{
    writing::{brief, spawn, stranger, visitor, Visitor},
    TestApp,
};
use serde_json::json;
use wechat::callback::{push_request, PushMode};

const ADMIN: &str = "oAdminFakeOpenid00000000001";
const OTHER: &str = "oOtherFakeOpenid00000000002";

async fn site() -> TestApp {
    spawn("0", &[("ADMIN_OPENIDS", ADMIN)]).await
}

async fn page(visitor: &Visitor, path: &str) -> (u16, String) {
    let response = visitor.browser.get(visitor.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    // What changes from one render to the next: the CSP nonce, which the
    // header names and the page repeats.
    let nonce = response
        .headers()
        .get("content-security-policy")
        .and_then(|csp| csp.to_str().ok())
        .and_then(|csp| csp.split("'nonce-").nth(1))
        .and_then(|rest| rest.split('\'').next())
        .map(str::to_owned);
    let html = response.text().await.unwrap();
    let html = match nonce {
        Some(nonce) if !nonce.is_empty() => html.replace(&nonce, "NONCE"),
        _ => html,
    };
    (status, html)
}

#[tokio::test]
async fn anyone_but_an_operator_gets_the_404_page_of_a_page_that_does_not_exist() {
    let app = site().await;
    let anonymous = stranger(&app);
    let other = visitor(&app, OTHER).await;
    for who in [&anonymous, &other] {
        let (status, html) = page(who, "/admin").await;
        assert_eq!(status, 404);
        assert!(html.contains("找不到这个页面"));
        assert!(
            !html.contains("m-admin") && !html.contains("运营"),
            "{html}"
        );
        // The same page, byte for byte, as an address that never existed.
        let (_, missing) = page(who, "/no-such-page").await;
        assert_eq!(html, missing);
    }
    // Nor does any other way in tell it apart.
    for (method, path) in [
        ("POST", "/admin"),
        ("GET", "/admin?refresh=1"),
        ("GET", "/admin/"),
    ] {
        let ask = |path: &str| {
            anonymous
                .browser
                .request(method.parse().unwrap(), anonymous.url(path))
                .send()
        };
        let admin = ask(path).await.unwrap().status();
        let missing = ask(&path.replace("admin", "no-such-page"))
            .await
            .unwrap()
            .status();
        assert_eq!(admin, missing, "{method} {path}");
        assert!(admin.is_client_error(), "{method} {path}: {admin}");
    }
}

#[tokio::test]
async fn a_forged_or_doubled_session_is_no_operator() {
    let app = site().await;
    let admin = visitor(&app, ADMIN).await;
    assert_eq!(page(&admin, "/admin").await.0, 200);
    let (session,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(session, 1);
    let client = reqwest::Client::new();
    for forged in [
        "session=not-a-session",
        "session=",
        "session=%00%ff; admin=1",
        "session=0000000000000000000000000000000000000000000",
    ] {
        let response = client
            .get(app.url("/admin"))
            .header("cookie", forged)
            .header("x-admin", "1")
            .header("x-forwarded-user", ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{forged}");
    }
    // After logging out, the same browser is nobody.
    let out = admin
        .browser
        .post(admin.url("/api/logout"))
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success());
    assert_eq!(page(&admin, "/admin").await.0, 404);
}

/// The `data-total` of the chart named `title`.
fn total(html: &str, attribute: &str, name: &str) -> Option<u64> {
    let marker = format!("{attribute}=\"{name}\"");
    let at = html.find(&marker)?;
    let rest = &html[at..];
    let start = rest.find("data-total=\"")? + "data-total=\"".len();
    let end = rest[start..].find('"')? + start;
    rest[start..end].parse().ok()
}

fn chart(html: &str, title: &str) -> u64 {
    total(html, "data-chart", title).unwrap_or_else(|| panic!("no chart {title}"))
}

fn failures(html: &str, kind: &str) -> Option<u64> {
    total(html, "data-kind", kind)
}

/// `<dd data-figure="name">…</dd>`'s text.
fn figure(html: &str, name: &str) -> String {
    let marker = format!("data-figure=\"{name}\">");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no figure {name}"))
        + marker.len();
    html[at..at + html[at..].find("</dd>").unwrap()].to_owned()
}

#[tokio::test]
async fn an_operator_sees_what_happened_and_what_is_happening() {
    let app = site().await;
    // Two people log in through the QR code (each follows by scanning it).
    let admin = visitor(&app, ADMIN).await;
    let _other = visitor(&app, OTHER).await;
    // An article is written, one fails for want of balance.
    let id = admin.start(brief("绿茶")).await;
    admin.follow(&id).await;
    app.fault(json!({"fault": "insufficient_balance"})).await;
    let failed = admin.start(brief("红茶")).await;
    admin.follow(&failed).await;
    // A forged callback and a QR code WeChat refuses.
    let forged = push_request(
        "not-the-token",
        None,
        PushMode::Plain,
        "<xml></xml>",
        &common::now_unix().to_string(),
        &common::fresh_nonce(),
        "x",
    );
    assert_eq!(app.deliver_raw(&forged).await.0, 403);
    let phone = reqwest::Client::new()
        .post(app.url("/sandbox/wechat/phone/api/faults"))
        .json(&json!({"api": "qrcode_create", "errcode": 48001}))
        .send()
        .await
        .unwrap();
    assert!(
        phone.status().is_success(),
        "{}",
        phone.text().await.unwrap()
    );
    let refused = stranger(&app)
        .browser
        .post(app.url("/api/login/start"))
        .send()
        .await
        .unwrap();
    assert!(refused.status().is_server_error());
    reqwest::Client::new()
        .delete(app.url("/sandbox/wechat/phone/api/faults"))
        .send()
        .await
        .unwrap();
    // Someone is looking at a QR code right now.
    let _waiting = app.start().await;

    let response = admin.browser.get(admin.url("/admin")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains("运营概况"));
    assert_eq!(chart(&html, "登录"), 2);
    assert_eq!(chart(&html, "新用户"), 2);
    assert_eq!(chart(&html, "扫登录码关注服务号"), 2);
    assert_eq!(chart(&html, "文章生成"), 2);
    assert_eq!(chart(&html, "生成失败"), 1);
    let (prompt, completion): (i64, i64) =
        sqlx::query_as("SELECT CAST(SUM(prompt_tokens) AS BIGINT), CAST(SUM(completion_tokens) AS BIGINT) FROM article_versions")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(completion > 0);
    assert_eq!(
        chart(&html, "DeepSeek tokens"),
        (prompt + completion) as u64
    );
    assert_eq!(failures(&html, "callback:bad_signature"), Some(1));
    assert_eq!(failures(&html, "wechat:48001"), Some(1));
    assert_eq!(failures(&html, "deepseek:insufficient_balance"), Some(1));
    assert_eq!(failures(&html, "deepseek:timeout"), None);
    // 30 bars per chart, each with its day and value.
    let bars = html
        .matches("class=\"m-admin__bar m-admin__bar--today\"")
        .count();
    assert!(bars >= 7, "{bars}");
    assert!(html.contains("<svg class=\"m-admin__bars\""));
    assert_eq!(figure(&html, "waiting_logins"), "1");
    assert_eq!(figure(&html, "running_generations"), "0 篇，另有 0 篇排队");
    assert!(figure(&html, "token").starts_with("取得 "), "{html}");
}

#[tokio::test]
async fn the_counts_outlive_a_restart() {
    let app = site().await;
    let admin = visitor(&app, ADMIN).await;
    let forged = push_request(
        "not-the-token",
        None,
        PushMode::Plain,
        "<xml></xml>",
        &common::now_unix().to_string(),
        &common::fresh_nonce(),
        "x",
    );
    assert_eq!(app.deliver_raw(&forged).await.0, 403);
    // The refusal is counted in memory; a stop writes it.
    let app = app.restart(&[]).await;
    let (n,): (i64,) = sqlx::query_as(
        "SELECT CAST(SUM(count) AS BIGINT) FROM ops_events WHERE kind = 'callback:bad_signature'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(n, 1);
    let admin = Visitor {
        browser: admin.browser,
        base: app.base.clone(),
    };
    let (status, html) = page(&admin, "/admin").await;
    assert_eq!(status, 200);
    assert_eq!(chart(&html, "登录"), 1);
    assert_eq!(failures(&html, "callback:bad_signature"), Some(1));
}

#[tokio::test]
async fn without_operators_nobody_sees_the_page() {
    let app = spawn("0", &[]).await;
    let admin = visitor(&app, ADMIN).await;
    assert_eq!(page(&admin, "/admin").await.0, 404);
}
