//! Pages, the 404 page, health and static files, against the whole server.

mod common;

use common::spawn;

#[tokio::test]
async fn pages_render_their_modules_in_file_order_inside_header_and_footer() {
    let app = spawn(&[]).await;
    let home = reqwest::get(app.url("/")).await.unwrap();
    assert_eq!(home.status(), 200);
    let html = home.text().await.unwrap();
    let order: Vec<usize> = [
        r#"data-module="header""#,
        r#"data-module="wechat_login""#,
        r#"data-module="hero""#,
        r#"data-module="feature_list""#,
        r#"data-module="footer""#,
    ]
    .iter()
    .map(|marker| {
        html.find(marker)
            .unwrap_or_else(|| panic!("{marker} missing"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert!(
        html.contains("沙箱模式"),
        "the sandbox says so on every page"
    );
    assert!(html.contains("<html lang=\"zh-CN\""));

    let about = reqwest::get(app.url("/about"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(about.contains(r#"data-module="faq""#));
    assert!(about.contains("关于文思"));
}

#[tokio::test]
async fn unknown_pages_are_a_404_with_header_and_footer() {
    let app = spawn(&[]).await;
    for path in ["/no-such-page", "/deeper/path/here"] {
        let response = reqwest::get(app.url(path)).await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let html = response.text().await.unwrap();
        assert!(html.contains("找不到这个页面"), "{path}");
        assert!(
            html.contains(r#"data-module="header""#) && html.contains(r#"data-module="footer""#),
            "{path}"
        );
    }
}

#[tokio::test]
async fn health_answers_when_the_database_does() {
    let app = spawn(&[]).await;
    let response = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn pages_forbid_framing() {
    let app = spawn(&[]).await;
    let response = reqwest::get(app.url("/")).await.unwrap();
    assert_eq!(response.headers()["x-frame-options"], "DENY");
}

#[tokio::test]
async fn static_files_win_over_page_routes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("favicon.svg"), "<svg/>").unwrap();
    let root = dir.path().display().to_string();
    let app = common::spawn_with_site_root(&[], &root).await;
    let response = reqwest::get(app.url("/favicon.svg")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert_eq!(response.text().await.unwrap(), "<svg/>");
}

/// A copy of the shipped theme with one more page, `/probe`: the test-only
/// module `test_probe` broken in each way, between modules that work.
fn theme_with_probe_page() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&common::theme_dir(), dir.path());
    let probe = |name: &str, fault: &str| serde_json::json!({"type": "test_probe", "id": name, "settings": {"name": name, "fault": fault}});
    let page = serde_json::json!({
        "title": "探针",
        "sections": [
            {"type": "hero", "settings": {"headline": "探针页面"}},
            probe("building", "panic_while_building"),
            probe("writing", "panic_while_writing"),
            probe("load-error", "fail_to_load"),
            probe("ok", "none"),
            probe("loading", "panic_while_loading"),
            probe("after-load", "panic_after_loading"),
            {"type": "faq", "settings": {"items": [{"question": "还在吗？", "answer": "还在。"}]}}
        ]
    });
    std::fs::write(dir.path().join("pages/probe.json"), page.to_string()).unwrap();
    dir
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test]
async fn modules_that_panic_or_fail_become_notes_in_a_200_page() {
    let theme = theme_with_probe_page();
    let app = spawn(&[("THEME_DIR", &theme.path().display().to_string())]).await;
    let response = app.get("/probe").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();

    for broken in ["building", "writing", "load-error", "loading", "after-load"] {
        let frame = html
            .find(&format!(r#"id="section-{broken}""#))
            .unwrap_or_else(|| panic!("{broken} has no frame: {html}"));
        let next_frame = html[frame..].find("data-module=").unwrap() + frame;
        assert!(
            html[frame..next_frame].contains("这部分内容暂时无法显示"),
            "{broken}: {}",
            &html[frame..next_frame]
        );
        assert!(!html.contains(&format!("你好，{broken}")), "{broken}");
    }
    assert_eq!(html.matches("module-failed").count(), 5, "{html}");
    // Its neighbours, the header and the footer render.
    assert!(html.contains("你好，ok"), "{html}");
    assert!(
        html.contains("探针页面") && html.contains("还在吗？"),
        "{html}"
    );
    assert!(html.contains(r#"data-module="header""#) && html.contains(r#"data-module="footer""#));
    assert!(html.contains("</html>"), "the page is complete");
}

#[tokio::test]
async fn a_panic_outside_modules_is_the_500_page_inside_header_and_footer() {
    let app = spawn(&[]).await;
    let response = app
        .browser
        .get(app.url("/test-panic"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains("抱歉，这个页面出错了"), "{html}");
    assert!(
        html.contains(r#"data-module="header""#) && html.contains(r#"data-module="footer""#),
        "{html}"
    );

    // A program gets a bare 500; the server goes on serving.
    let response = app.get("/test-panic").await;
    assert_eq!(response.status(), 500);
    assert_eq!(app.get("/").await.status(), 200);
}

/// Server functions need no mount of their own: the page routes carry every
/// registered one (here the test module's), inside the same layers as the
/// pages, so another site's page cannot call them either.
#[tokio::test]
async fn server_functions_are_served_beside_the_pages_behind_the_same_layers() {
    let app = spawn(&[]).await;
    let call = |site: Option<&'static str>| {
        let mut request = app
            .browser
            .post(app.url("/api/test_probe/greeting"))
            .form(&[("name", "世界"), ("fault", "none")]);
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        request.send()
    };
    let answer = call(Some("same-origin")).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "\"你好，世界\"");

    let forged = call(Some("cross-site")).await.unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(
        forged.json::<serde_json::Value>().await.unwrap()["error"],
        "cross_site"
    );

    // The login's hand-written routes are where they were.
    assert_eq!(app.post("/api/login/start").await.status(), 200);
    assert_eq!(app.get("/api/me").await.status(), 401);
}
