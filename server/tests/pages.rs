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
