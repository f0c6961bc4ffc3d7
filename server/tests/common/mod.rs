//! Starts the whole server on a random port with a fresh database, in
//! sandbox mode, and plays WeChat against it.

#![allow(dead_code)]

use std::{collections::HashMap, path::PathBuf};

use server::{config::Config, startup::Application};
use wechat::{
    callback::{open_reply, push_request, PushMode},
    message::{event_xml, text_xml},
    MessageCrypto,
};

pub const TOKEN: &str = "faketoken123";
pub const APPID: &str = "wx0000000000000000";
/// 43 characters, obviously fake.
pub const AES_KEY: &str = "FakeAesKeyForTestsOnly000000000000000000000";
pub const ACCOUNT: &str = "gh_test00000001";

pub struct TestApp {
    pub base: String,
    /// A browser: keeps cookies.
    pub browser: reqwest::Client,
    pub db: sqlx::SqlitePool,
    pub aes: bool,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn new_browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .user_agent("Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36")
        .build()
        .unwrap()
}

pub async fn spawn(settings: &[(&str, &str)]) -> TestApp {
    spawn_with_site_root(settings, "target/site").await
}

/// Like [`spawn`], serving the static files under `site_root`.
pub async fn spawn_with_site_root(settings: &[(&str, &str)], site_root: &str) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut vars: HashMap<String, String> = HashMap::from([
        (
            "DATABASE_URL".into(),
            format!("sqlite://{}/site.db", dir.path().display()),
        ),
        ("THEME_DIR".into(), theme_dir().display().to_string()),
        ("WECHAT_APPID".into(), APPID.into()),
        ("WECHAT_SANDBOX".into(), "1".into()),
        ("WECHAT_TOKEN".into(), TOKEN.into()),
        ("LOGIN_START_PER_MINUTE".into(), "0".into()),
    ]);
    for (name, value) in settings {
        vars.insert(name.to_string(), value.to_string());
    }
    let aes = vars.contains_key("WECHAT_ENCODING_AES_KEY");
    let mut config =
        Config::from_lookup(|name| vars.get(name).cloned()).expect("test settings are valid");
    config.leptos.site_addr = "127.0.0.1:0".parse().unwrap();
    config.leptos.site_root = site_root.into();
    let app = Application::build(config).await.expect("the server starts");
    let base = format!("http://{}", app.address());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let db = sqlx::SqlitePool::connect(&vars["DATABASE_URL"])
        .await
        .unwrap();
    TestApp {
        base,
        browser: new_browser(),
        db,
        aes,
        _dir: dir,
        stop: Some(stop),
    }
}

pub fn theme_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../theme")
}

/// What WeChat would push: how it is wrapped on the wire.
#[derive(Clone, Copy)]
pub enum Wire {
    Plain,
    Safe,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A GET from the default browser.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.browser.get(self.url(path)).send().await.unwrap()
    }

    /// A POST (no body) from the default browser.
    pub async fn post(&self, path: &str) -> reqwest::Response {
        self.browser.post(self.url(path)).send().await.unwrap()
    }

    /// `POST /api/login/{id}/complete` from the default browser.
    pub async fn complete(&self, id: &str) -> reqwest::Response {
        self.post(&format!("/api/login/{id}/complete")).await
    }

    /// `POST /api/login/start` from the default browser; the attempt id.
    pub async fn start(&self) -> String {
        let response = self.post("/api/login/start").await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        let body: serde_json::Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().to_owned()
    }

    pub async fn status(&self, id: &str) -> String {
        let body: serde_json::Value = self
            .get(&format!("/api/login/{id}"))
            .await
            .json()
            .await
            .unwrap();
        body["status"].as_str().unwrap().to_owned()
    }

    /// Delivers a push as WeChat would; the HTTP status and the reply text
    /// (decrypted, `Content` only; "success" when there is none).
    pub async fn push(&self, xml: &str, wire: Wire) -> (u16, String) {
        let crypto = self
            .aes
            .then(|| MessageCrypto::new(AES_KEY, APPID).unwrap());
        let mode = match wire {
            Wire::Plain => PushMode::Plain,
            Wire::Safe => PushMode::Safe,
        };
        let request = push_request(
            TOKEN,
            crypto.as_ref(),
            mode,
            xml,
            "1700000000",
            "424242",
            "openid-unused",
        );
        let response = reqwest::Client::new()
            .post(self.url("/wechat/callback"))
            .query(&request.query)
            .header("content-type", "text/xml")
            .body(request.body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        if status != 200 {
            return (status, body);
        }
        let reply = open_reply(TOKEN, crypto.as_ref(), &body).unwrap();
        (status, reply_content(&reply))
    }

    pub async fn scan(&self, openid: &str, scene: &str, already_following: bool) -> (u16, String) {
        self.push(
            &scan_xml(openid, scene, already_following, 1_700_000_000),
            Wire::Plain,
        )
        .await
    }

    pub async fn count(&self, table: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&self.db)
            .await
            .unwrap();
        n
    }
}

pub fn scan_xml(openid: &str, scene: &str, already_following: bool, create_time: i64) -> String {
    if already_following {
        event_xml(
            ACCOUNT,
            openid,
            create_time,
            "SCAN",
            Some(scene),
            Some("fake-ticket"),
        )
    } else {
        event_xml(
            ACCOUNT,
            openid,
            create_time,
            "subscribe",
            Some(&format!("qrscene_{scene}")),
            Some("fake-ticket"),
        )
    }
}

pub fn text(openid: &str, content: &str, msg_id: &str) -> String {
    text_xml(ACCOUNT, openid, 1_700_000_100, content, Some(msg_id))
}

/// The Content of a passive text reply, or the body itself.
pub fn reply_content(reply: &str) -> String {
    match wechat::message::parse_fields(reply.as_bytes()) {
        Ok(fields) => fields
            .get("Content")
            .map(str::to_owned)
            .unwrap_or_else(|| reply.to_owned()),
        Err(_) => reply.to_owned(),
    }
}
