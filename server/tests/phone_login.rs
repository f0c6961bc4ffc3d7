//! Login on phones (issue 15), against the whole server in sandbox mode:
//! the QR as a picture, and the sandbox phone's long-press 识别图中二维码 of
//! that picture, which WeChat handles like a scan.

mod common;

use common::spawn;
use serde_json::{json, Value};

const SCAN: &str = "/sandbox/wechat/phone/api/scan";

/// Starts a login from the default browser: its id, its picture, its URL.
async fn start(app: &common::TestApp) -> (String, String, String) {
    let body: Value = app.post("/api/login/start").await.json().await.unwrap();
    let field = |name: &str| body[name].as_str().unwrap().to_owned();
    (field("id"), field("qr_png"), field("qr_url"))
}

async fn long_press(app: &common::TestApp, body: Value) -> (u16, Value) {
    let response = app
        .browser
        .post(app.url(SCAN))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_long_pressed_qr_picture_logs_the_page_in() {
    let app = spawn(&[]).await;
    let (id, qr_png, qr_url) = start(&app).await;
    assert!(qr_png.starts_with("data:image/png;base64,"), "{qr_png}");

    let (status, answer) = long_press(&app, json!({ "image": qr_png })).await;
    assert_eq!(status, 200, "{answer}");
    // The picture holds the same code as the URL the SVG draws.
    let ticket = answer["ticket"].as_str().unwrap();
    assert!(
        qr_url.ends_with(&format!("/q/{ticket}")),
        "{qr_url} {ticket}"
    );
    assert_eq!(answer["scene"], id.as_str());
    assert_eq!(answer["event"], "subscribe");

    assert_eq!(app.status(&id).await, "confirmed");
    let completed = app.complete(&id).await;
    assert_eq!(completed.status(), 200);
    let me: Value = app.get("/api/me").await.json().await.unwrap();
    assert!(me["user"]["id"].as_i64().is_some(), "{me}");
}

/// Every kind of bad picture is a clear 400 that changes nothing: the
/// attempt still waits, no user or event is recorded.
#[tokio::test]
async fn hostile_pictures_are_refused_and_change_nothing() {
    use base64::{engine::general_purpose::STANDARD, Engine as _};

    let app = spawn(&[]).await;
    let (id, qr_png, _) = start(&app).await;
    let png = STANDARD
        .decode(qr_png.strip_prefix("data:image/png;base64,").unwrap())
        .unwrap();
    let truncated = format!(
        "data:image/png;base64,{}",
        STANDARD.encode(&png[..png.len() / 2])
    );
    let users = app.count("users").await;
    let events = app.count("wechat_events").await;
    for (what, body) in [
        (
            "not a data URL",
            json!({ "image": "https://example.com/qr.png" }),
        ),
        (
            "svg",
            json!({ "image": "data:image/svg+xml;base64,PHN2Zy8+" }),
        ),
        (
            "not base64",
            json!({ "image": "data:image/png;base64,%%%" }),
        ),
        ("truncated png", json!({ "image": truncated })),
        (
            "too big",
            json!({ "image": format!("data:image/png;base64,{}", "A".repeat(300_000)) }),
        ),
        ("not a string", json!({ "image": 42 })),
        (
            "both url and image",
            json!({ "image": qr_png, "url": "http://x/q/abc" }),
        ),
    ] {
        let (status, answer) = long_press(&app, body).await;
        assert_eq!(status, 400, "{what}: {answer}");
        assert_eq!(answer["error"], "bad_request", "{what}");
        assert!(!answer["message"].as_str().unwrap().is_empty(), "{what}");
    }
    // Pictures of codes that are not the sandbox's: another site's, and
    // one shaped like a WeChat code with a ticket nobody issued.
    let foreign = app_png("https://example.com/login");
    let (status, _) = long_press(&app, json!({ "image": foreign })).await;
    assert_eq!(status, 400);
    let unknown = app_png("http://weixin.qq.com/q/02unknownTicket");
    let (status, answer) = long_press(&app, json!({ "image": unknown })).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (404, Some("unknown_ticket"))
    );

    assert_eq!(app.status(&id).await, "pending");
    assert_eq!(app.count("users").await, users);
    assert_eq!(app.count("wechat_events").await, events);
    // And the real picture still works afterwards.
    let (status, _) = long_press(&app, json!({ "image": qr_png })).await;
    assert_eq!(status, 200);
    assert_eq!(app.status(&id).await, "confirmed");
}

fn app_png(url: &str) -> String {
    server::wechat_login::qr::png_data_url(url).unwrap()
}

/// The page lets the dialog show the picture: `data:` images are allowed,
/// nothing else is widened.
#[tokio::test]
async fn the_page_policy_allows_data_images_only() {
    let app = spawn(&[]).await;
    let page = app.get("/").await;
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("img-src 'self' data:;"), "{csp}");
    assert!(csp.contains("default-src 'self';"), "{csp}");
    assert!(!csp.contains("script-src 'self' data:"), "{csp}");
}
