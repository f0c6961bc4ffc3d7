//! The WeChat sandbox end to end, over real HTTP: the site's `wechat::Client`
//! creates a QR code against the mock API, the simulated phone scans it, and
//! a small capture server standing in for the site's callback checks what
//! arrives and answers a passive reply, as the site will.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    extract::{Query, RawQuery, State},
    http::StatusCode,
    routing::post,
    Router,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use server::sandbox::{self, Sandbox, SandboxConfig};
use tokio::net::TcpListener;
use wechat::{
    message::text_reply, ApiError, CallbackQuery, CallbackVerifier, Client, ClientConfig, Inbound,
    MessageCrypto, MessageKind, QrTicket,
};

// Obviously fake values: nothing here is a real account.
const APPID: &str = "wx0000000000000000";
const SECRET: &str = "fake-secret-for-tests";
const TOKEN: &str = "faketoken123";
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

/// One push the capture server received.
#[derive(Clone, Debug)]
struct Captured {
    query: String,
    body: String,
    inbound: Result<Inbound, String>,
}

/// How the stand-in callback answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// A passive text reply naming what arrived (sealed when the push was).
    Reply,
    /// HTTP 500, like a crashed site.
    ServerError,
}

#[derive(Clone)]
struct Capture {
    seen: Arc<Mutex<Vec<Captured>>>,
    verifier: CallbackVerifier,
    answer: Answer,
}

impl Capture {
    fn last(&self) -> Captured {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a push arrived")
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

async fn callback(
    State(capture): State<Capture>,
    RawQuery(raw_query): RawQuery,
    Query(query): Query<CallbackQuery>,
    body: String,
) -> (StatusCode, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let inbound = capture
        .verifier
        .open(&query, body.as_bytes(), now)
        .map_err(|err| err.to_string());
    capture.seen.lock().unwrap().push(Captured {
        query: raw_query.unwrap_or_default(),
        body,
        inbound: inbound.clone(),
    });
    if capture.answer == Answer::ServerError {
        return (StatusCode::INTERNAL_SERVER_ERROR, "oops".into());
    }
    let Ok(inbound) = inbound else {
        return (StatusCode::BAD_REQUEST, "refused".into());
    };
    let content = match &inbound.message.kind {
        MessageKind::Subscribe { scene, .. } => {
            format!("欢迎关注，场景 {}", scene.as_deref().unwrap_or(""))
        }
        MessageKind::Scan { scene, .. } => format!("已扫码，场景 {scene}"),
        MessageKind::Text { content, .. } => format!("收到：{content}"),
        _ => return (StatusCode::OK, "success".into()),
    };
    let message = &inbound.message;
    let reply = text_reply(
        &message.from_user,
        &message.to_user,
        message.create_time,
        &content,
    );
    let timestamp = query.timestamp.unwrap_or_default();
    let nonce = query.nonce.unwrap_or_default();
    (
        StatusCode::OK,
        capture
            .verifier
            .seal_reply(inbound.encrypted, reply, &timestamp, &nonce),
    )
}

async fn serve(listener: TcpListener, router: Router) {
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
}

async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    (listener, format!("http://{address}"))
}

/// A sandbox, a capture server as its callback, and a client for both.
struct World {
    site: String,
    capture: Capture,
    client: Client,
    http: reqwest::Client,
}

struct Setup {
    aes: bool,
    answer: Answer,
    /// Overrides the capture server (e.g. a closed port).
    callback_url: Option<String>,
    client_timeout: Duration,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            aes: true,
            answer: Answer::Reply,
            callback_url: None,
            client_timeout: Duration::from_secs(5),
        }
    }
}

impl Setup {
    async fn start(self) -> World {
        let crypto = self
            .aes
            .then(|| MessageCrypto::new(AES_KEY, APPID).unwrap());
        let capture = Capture {
            seen: Arc::default(),
            verifier: CallbackVerifier::new(SecretString::from(TOKEN), crypto),
            answer: self.answer,
        };
        let (capture_listener, capture_url) = listen().await;
        let capture_router = Router::new()
            .route("/wechat/callback", post(callback))
            .with_state(capture.clone());
        serve(capture_listener, capture_router).await;

        let (site_listener, site) = listen().await;
        let sandbox = Sandbox::new(SandboxConfig {
            appid: APPID.into(),
            secret: SecretString::from(SECRET),
            token: SecretString::from(TOKEN),
            encoding_aes_key: self.aes.then(|| SecretString::from(AES_KEY)),
            site_url: site.clone(),
            callback_url: self
                .callback_url
                .unwrap_or_else(|| format!("{capture_url}/wechat/callback")),
        });
        let router = Router::new().nest("/sandbox/wechat", sandbox::routes(Arc::new(sandbox)));
        serve(site_listener, router).await;

        let client = Client::new(ClientConfig {
            base_url: format!("{site}/sandbox/wechat"),
            timeout: self.client_timeout,
            ..ClientConfig::new(APPID, SecretString::from(SECRET))
        })
        .unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        World {
            site,
            capture,
            client,
            http,
        }
    }
}

impl World {
    async fn qr(&self, scene: &str, expire_seconds: u32) -> QrTicket {
        let token = self.client.fetch_stable_token(false).await.unwrap();
        self.client
            .create_qr(token.token.expose_secret(), scene, expire_seconds)
            .await
            .unwrap()
    }

    /// A phone API call: (status, JSON answer).
    async fn phone(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}/sandbox/wechat/phone/api/{path}", self.site);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        assert_no_secret(&text);
        (status, value)
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.phone(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.phone(reqwest::Method::GET, path, None).await
    }
}

fn assert_no_secret(text: &str) {
    for secret in [SECRET, TOKEN, AES_KEY] {
        assert!(!text.contains(secret), "a secret leaked: {text}");
    }
}

fn inbound(captured: &Captured) -> Inbound {
    captured
        .inbound
        .clone()
        .expect("the push is signed and opens")
}

#[tokio::test]
async fn a_qr_login_runs_through_the_sandbox_encrypted() {
    let world = Setup::default().start().await;
    let token = world.client.fetch_stable_token(false).await.unwrap();
    assert_eq!(token.expires_in, 7200);
    let qr = world.qr("login_a_b_1", 300).await;
    assert_eq!(qr.expire_seconds, 300);
    assert_eq!(
        qr.url,
        format!("{}/sandbox/wechat/q/{}", world.site, qr.ticket)
    );

    // A browser opening the QR's URL lands on the phone page.
    let opened = world.http.get(&qr.url).send().await.unwrap();
    assert_eq!(opened.status(), StatusCode::SEE_OTHER);
    let location = opened.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("/sandbox/wechat/phone?ticket={}", qr.ticket)
    );

    let (_, codes) = world.get("codes").await;
    assert_eq!(codes[0]["ticket"], qr.ticket.as_str());
    assert_eq!(codes[0]["scene"], "login_a_b_1");
    assert_eq!(codes[0]["expired"], false);

    // First scan, by a new user, through the scanned URL: subscribe.
    let (status, first) = world.post("scan", json!({ "url": qr.url })).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["delivered"], true);
    assert_eq!(first["http_status"], 200);
    assert_eq!(first["event"], "subscribe");
    assert_eq!(first["encrypted"], true);
    assert_eq!(first["reply_encrypted"], true);
    assert_eq!(
        first["reply"],
        json!({ "kind": "text", "content": "欢迎关注，场景 login_a_b_1" })
    );
    let openid = first["openid"].as_str().unwrap().to_owned();
    assert!(openid.starts_with('o') && openid.len() == 28, "{openid}");

    let pushed = world.capture.last();
    assert!(
        pushed.query.contains("encrypt_type=aes"),
        "{}",
        pushed.query
    );
    assert!(pushed.query.contains("msg_signature="), "{}", pushed.query);
    assert!(pushed.query.contains("signature="));
    assert!(
        pushed.body.contains("<Encrypt>") && !pushed.body.contains(&openid),
        "{}",
        pushed.body
    );
    let message = inbound(&pushed);
    assert!(message.encrypted);
    assert_eq!(message.message.from_user, openid);
    assert_eq!(message.message.to_user, sandbox::ACCOUNT_ID);
    assert_eq!(
        message.message.kind,
        MessageKind::Subscribe {
            scene: Some("login_a_b_1".into()),
            ticket: Some(qr.ticket.clone())
        }
    );

    // The same user scans again: now a follower, so SCAN.
    let (status, second) = world
        .post("scan", json!({ "ticket": qr.ticket, "openid": openid }))
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["event"], "SCAN");
    assert_eq!(second["reply"]["content"], "已扫码，场景 login_a_b_1");
    assert_eq!(
        inbound(&world.capture.last()).message.kind,
        MessageKind::Scan {
            scene: "login_a_b_1".into(),
            ticket: Some(qr.ticket.clone())
        }
    );

    // Confirm mode: the user replies 确认.
    let (status, confirmed) = world
        .post("message", json!({ "openid": openid, "text": "确认" }))
        .await;
    assert_eq!(status, 200, "{confirmed}");
    assert_eq!(confirmed["msg_type"], "text");
    assert_eq!(confirmed["reply"]["content"], "收到：确认");
    assert!(matches!(
        inbound(&world.capture.last()).message.kind,
        MessageKind::Text { ref content, msg_id: Some(_) } if content == "确认"
    ));

    let (_, users) = world.get("users").await;
    assert_eq!(users[0], json!({ "openid": openid, "following": true }));
    let (status, unfollowed) = world.post("unsubscribe", json!({ "openid": openid })).await;
    assert_eq!(status, 200, "{unfollowed}");
    assert_eq!(unfollowed["reply"], json!({ "kind": "success" }));
    assert_eq!(
        inbound(&world.capture.last()).message.kind,
        MessageKind::Unsubscribe
    );
    let (_, users) = world.get("users").await;
    assert_eq!(users[0]["following"], false);
    let (status, _) = world
        .post("message", json!({ "openid": openid, "text": "hi" }))
        .await;
    assert_eq!(status, 409, "an unfollowed user cannot write");
}

#[tokio::test]
async fn compatible_mode_sends_plain_fields_and_encrypt() {
    let world = Setup::default().start().await;
    let qr = world.qr("compat", 60).await;
    let (status, answer) = world
        .post("scan", json!({ "ticket": qr.ticket, "push": "compatible" }))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["encrypted"], true);
    let pushed = world.capture.last();
    assert!(pushed.body.contains("<Encrypt>") && pushed.body.contains("qrscene_compat"));
    assert!(pushed.query.contains("encrypt_type=aes"));
    assert!(inbound(&pushed).encrypted);
}

#[tokio::test]
async fn without_a_key_pushes_are_plain() {
    let world = Setup {
        aes: false,
        ..Setup::default()
    }
    .start()
    .await;
    let qr = world.qr("plain_scene", 60).await;
    let (status, answer) = world
        .post("scan", json!({ "ticket": qr.ticket, "mode": "scan" }))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["encrypted"], false);
    assert_eq!(answer["event"], "SCAN");
    assert_eq!(answer["reply"]["content"], "已扫码，场景 plain_scene");
    let pushed = world.capture.last();
    assert!(!pushed.query.contains("encrypt_type") && !pushed.query.contains("msg_signature"));
    assert!(
        pushed
            .body
            .contains("<EventKey><![CDATA[plain_scene]]></EventKey>"),
        "{}",
        pushed.body
    );
    assert!(!inbound(&pushed).encrypted);

    let (status, refused) = world
        .post("scan", json!({ "ticket": qr.ticket, "push": "safe" }))
        .await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"], "no_encryption_key");
}

#[tokio::test]
async fn an_expired_code_is_still_delivered() {
    let world = Setup::default().start().await;
    let qr = world.qr("soon_gone", 1).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, codes) = world.get("codes").await;
    assert_eq!(codes[0]["expired"], true);
    let (status, answer) = world.post("scan", json!({ "ticket": qr.ticket })).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["code_expired"], true);
    assert_eq!(answer["delivered"], true);
    assert_eq!(world.capture.count(), 1);
}

#[tokio::test]
async fn wrong_credentials_get_wechat_error_codes() {
    let world = Setup::default().start().await;
    let refused = world
        .client
        .create_qr("forged-token", "scene", 60)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some(40001), "{refused}");
    assert!(refused.is_invalid_token());

    let base_url = format!("{}/sandbox/wechat", world.site);
    let with = |appid: &str, secret: &str| {
        Client::new(ClientConfig {
            base_url: base_url.clone(),
            ..ClientConfig::new(appid, SecretString::from(secret.to_owned()))
        })
        .unwrap()
    };
    let wrong_appid = with("wx1111111111111111", SECRET)
        .fetch_stable_token(false)
        .await;
    assert_eq!(wrong_appid.unwrap_err().code(), Some(40013));
    let wrong_secret = with(APPID, "not-the-secret").fetch_token().await;
    assert_eq!(wrong_secret.unwrap_err().code(), Some(40125));

    // The classic endpoint works too, and answers like WeChat.
    let classic = world.client.fetch_token().await.unwrap();
    assert_eq!(classic.expires_in, 7200);
    let raw = world
        .http
        .post(format!("{base_url}/cgi-bin/qrcode/create?access_token=x"))
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 200, "WeChat answers errors with HTTP 200");
    let raw: Value = raw.json().await.unwrap();
    assert_eq!(raw["errcode"], 40001);
    assert!(raw["errmsg"].as_str().unwrap().contains("rid: "));
}

#[tokio::test]
async fn an_injected_fault_hits_once_then_clears() {
    let world = Setup {
        client_timeout: Duration::from_millis(500),
        ..Setup::default()
    }
    .start()
    .await;
    let (status, _) = world
        .post(
            "faults",
            json!({ "api": "qrcode_create", "errcode": 45009, "times": 1 }),
        )
        .await;
    assert_eq!(status, 200);
    let token = world.client.fetch_stable_token(false).await.unwrap();
    let token = token.token.expose_secret();
    let quota = world.client.create_qr(token, "s", 60).await.unwrap_err();
    assert_eq!(quota.code(), Some(45009));
    assert!(
        quota
            .to_string()
            .contains("reach max api daily quota limit"),
        "{quota}"
    );
    assert!(
        world.client.create_qr(token, "s", 60).await.is_ok(),
        "retrying works"
    );

    world
        .post("faults", json!({ "api": "token", "delay_ms": 1000 }))
        .await;
    let slow = world.client.fetch_stable_token(false).await.unwrap_err();
    assert_eq!(slow, ApiError::Timeout);
    assert!(world.client.fetch_stable_token(false).await.is_ok());

    world
        .post(
            "faults",
            json!({ "api": "token", "errcode": -1, "times": 5 }),
        )
        .await;
    let (_, armed) = world.get("faults").await;
    assert_eq!(armed[0]["remaining"], 5);
    let (status, _) = world.phone(reqwest::Method::DELETE, "faults", None).await;
    assert_eq!(status, 200);
    assert!(world.client.fetch_stable_token(false).await.is_ok());

    let (status, refused) = world
        .post("faults", json!({ "api": "menu", "errcode": 1 }))
        .await;
    assert_eq!(status, 400, "{refused}");
}

#[tokio::test]
async fn a_broken_callback_is_reported_not_hidden() {
    let crashed = Setup {
        answer: Answer::ServerError,
        ..Setup::default()
    }
    .start()
    .await;
    let qr = crashed.qr("s", 60).await;
    let (status, answer) = crashed.post("scan", json!({ "ticket": qr.ticket })).await;
    assert_eq!(status, 502);
    assert_eq!(answer["delivered"], true);
    assert_eq!(answer["http_status"], 500);
    assert!(answer["error"].as_str().unwrap().contains("500"));

    // Nothing listens on port 9 (discard) here.
    let unreachable = Setup {
        callback_url: Some("http://127.0.0.1:9/wechat/callback".into()),
        ..Setup::default()
    }
    .start()
    .await;
    let qr = unreachable.qr("s", 60).await;
    let (status, answer) = unreachable
        .post("scan", json!({ "ticket": qr.ticket }))
        .await;
    assert_eq!(status, 502);
    assert_eq!(answer["delivered"], false);
    assert!(
        answer["error"].as_str().unwrap().contains("无法连接"),
        "{answer}"
    );
}

#[tokio::test]
async fn the_phone_refuses_nonsense_clearly() {
    let world = Setup::default().start().await;
    let url = format!("{}/sandbox/wechat/phone/api/scan", world.site);
    let response = world
        .http
        .post(&url)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "bad_request");

    let (status, body) = world.post("scan", json!({ "ticket": "gQunknown" })).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("unknown_ticket"))
    );
    let (status, _) = world.post("scan", json!({})).await;
    assert_eq!(status, 400);
    let (status, _) = world
        .post("scan", json!({ "url": "https://example.com/" }))
        .await;
    assert_eq!(status, 400);
    let (status, _) = world
        .post("scan", json!({ "ticket": "x", "mode": "sideways" }))
        .await;
    assert_eq!(status, 400);
    let (status, body) = world
        .post("message", json!({ "openid": "o_nobody", "text": "hi" }))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("unknown_user"))
    );

    let (status, user) = world.post("users", json!({})).await;
    assert_eq!(status, 201);
    assert_eq!(user["following"], false);
    let (_, info) = world.get("info").await;
    assert_eq!(info["account"], sandbox::ACCOUNT_ID);
    assert_eq!(info["encrypts"], true);
    assert_eq!(world.capture.count(), 0);
}
