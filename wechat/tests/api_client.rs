//! The API client against a local mock of WeChat's HTTP API.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use wechat::api::{ApiError, Client, ClientConfig, TokenEndpoint};
use wechat::token::{MemoryTokenStore, TokenCache, DEFAULT_MARGIN};

const APPID: &str = "wx0000000000000000";
const SECRET: &str = "fake-secret-for-tests";

/// What the mock saw: one entry per request, (query, JSON body).
type Seen = Arc<Mutex<Vec<(HashMap<String, String>, Value)>>>;

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

fn client(base_url: &str, timeout: Duration) -> Client {
    Client::new(ClientConfig {
        base_url: base_url.to_owned(),
        appid: APPID.to_owned(),
        secret: SecretString::from(SECRET),
        timeout,
    })
    .unwrap()
}

/// A mock answering every POST/GET on `path` with `answer`, recording requests.
async fn mock(path: &str, answer: Value) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let record = {
        let seen = Arc::clone(&seen);
        move |Query(q): Query<HashMap<String, String>>, body: String| {
            let seen = Arc::clone(&seen);
            let answer = answer.clone();
            async move {
                let body = serde_json::from_str(&body).unwrap_or(Value::Null);
                seen.lock().unwrap().push((q, body));
                Json(answer)
            }
        }
    };
    let router = Router::new().route(path, get(record.clone()).post(record));
    (serve(router).await, seen)
}

#[tokio::test]
async fn stable_token_sends_the_documented_body() {
    let (base, seen) = mock(
        "/cgi-bin/stable_token",
        json!({"access_token": "fake-access-token", "expires_in": 7200}),
    )
    .await;
    let token = client(&base, Duration::from_secs(5))
        .fetch_stable_token(false)
        .await
        .unwrap();
    assert_eq!(token.token.expose_secret(), "fake-access-token");
    assert_eq!(token.expires_in, 7200);
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[0].1,
        json!({"grant_type": "client_credential", "appid": APPID, "secret": SECRET, "force_refresh": false})
    );
}

#[tokio::test]
async fn classic_token_uses_the_query_string() {
    let (base, seen) = mock(
        "/cgi-bin/token",
        json!({"access_token": "fake-access-token", "expires_in": 7200}),
    )
    .await;
    let token = client(&format!("{base}/"), Duration::from_secs(5))
        .fetch_token()
        .await
        .unwrap();
    assert_eq!(token.token.expose_secret(), "fake-access-token");
    let seen = seen.lock().unwrap();
    let query = &seen[0].0;
    assert_eq!(query["grant_type"], "client_credential");
    assert_eq!(query["appid"], APPID);
    assert_eq!(query["secret"], SECRET);
}

#[tokio::test]
async fn create_qr_sends_scene_and_reads_the_ticket() {
    let (base, seen) = mock(
        "/cgi-bin/qrcode/create",
        json!({"ticket": "fake-ticket", "expire_seconds": 300, "url": "http://weixin.qq.com/q/fake"}),
    )
    .await;
    let qr = client(&base, Duration::from_secs(5))
        .create_qr("fake-access-token", "login_abc-123", 300)
        .await
        .unwrap();
    assert_eq!(qr.ticket, "fake-ticket");
    assert_eq!(qr.expire_seconds, 300);
    assert_eq!(qr.url, "http://weixin.qq.com/q/fake");
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].0["access_token"], "fake-access-token");
    assert_eq!(
        seen[0].1,
        json!({"expire_seconds": 300, "action_name": "QR_STR_SCENE",
               "action_info": {"scene": {"scene_str": "login_abc-123"}}})
    );
}

#[tokio::test]
async fn invalid_scenes_are_refused_before_sending() {
    let (base, seen) = mock("/cgi-bin/qrcode/create", json!({})).await;
    let c = client(&base, Duration::from_secs(5));
    assert_eq!(c.create_qr("t", "", 60).await, Err(ApiError::InvalidScene));
    assert_eq!(
        c.create_qr("t", &"x".repeat(65), 60).await,
        Err(ApiError::InvalidScene)
    );
    assert!(c
        .create_qr("t", &"场".repeat(64), 60)
        .await
        .is_err_and(|e| e != ApiError::InvalidScene));
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn errcodes_become_wechat_errors_without_secrets() {
    let (base, _) = mock(
        "/cgi-bin/stable_token",
        json!({"errcode": 40125, "errmsg": format!("invalid appsecret {SECRET} rid: 1")}),
    )
    .await;
    let error = client(&base, Duration::from_secs(5))
        .fetch_stable_token(false)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(40125));
    assert!(!error.to_string().contains(SECRET));
    assert!(error.user_message_en().contains("AppSecret"));

    let (base, _) = mock(
        "/cgi-bin/qrcode/create",
        json!({"errcode": 48001, "errmsg": "api unauthorized"}),
    )
    .await;
    let error = client(&base, Duration::from_secs(5))
        .create_qr("fake-access-token", "s", 60)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ApiError::WeChat {
            code: 48001,
            message: "api unauthorized".into()
        }
    );
    assert!(error.user_message_zh().contains("服务号"));
}

#[tokio::test]
async fn a_slow_server_is_a_timeout() {
    let router = Router::new().route(
        "/cgi-bin/stable_token",
        post(|| async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Json(json!({"access_token": "late", "expires_in": 7200}))
        }),
    );
    let base = serve(router).await;
    let started = Instant::now();
    let error = client(&base, Duration::from_millis(200))
        .fetch_stable_token(false)
        .await
        .unwrap_err();
    assert_eq!(error, ApiError::Timeout);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(error.user_message_en().contains("reached"));
}

#[tokio::test]
async fn http_status_and_garbage_are_errors() {
    let router = Router::new()
        .route(
            "/cgi-bin/stable_token",
            post(|| async { StatusCode::BAD_GATEWAY.into_response() }),
        )
        .route("/cgi-bin/token", get(|| async { "<html>not json</html>" }));
    let base = serve(router).await;
    let c = client(&base, Duration::from_secs(5));
    assert_eq!(
        c.fetch_stable_token(false).await.unwrap_err(),
        ApiError::Status(502)
    );
    assert!(matches!(c.fetch_token().await, Err(ApiError::Decode(_))));
}

#[tokio::test]
async fn transport_errors_carry_no_url_or_secret() {
    // A port that was just free: connecting is refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let error = client(&base, Duration::from_secs(2))
        .fetch_token()
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, ApiError::Http(_)), "{error:?}");
    assert!(!text.contains(SECRET), "{text}");
    assert!(!text.contains("cgi-bin"), "{text}");
    assert!(!format!("{error:?}").contains(SECRET));
}

#[tokio::test]
async fn token_cache_retries_a_refused_token_against_the_api() {
    let fetches: Seen = Arc::default();
    let creates = Arc::new(Mutex::new(0usize));
    let router = Router::new()
        .route(
            "/cgi-bin/stable_token",
            post({
                let fetches = Arc::clone(&fetches);
                move |body: Json<Value>| {
                    let fetches = Arc::clone(&fetches);
                    async move {
                        // As stable_token does: the current token until a
                        // forced refresh replaces it.
                        let mut seen = fetches.lock().unwrap();
                        seen.push((HashMap::new(), body.0));
                        let issued = 1 + seen
                            .iter()
                            .filter(|(_, b)| b["force_refresh"] == json!(true))
                            .count();
                        Json(
                            json!({"access_token": format!("access-{issued}"), "expires_in": 7200}),
                        )
                    }
                }
            }),
        )
        .route(
            "/cgi-bin/qrcode/create",
            post({
                let creates = Arc::clone(&creates);
                move |Query(q): Query<HashMap<String, String>>| {
                    let creates = Arc::clone(&creates);
                    async move {
                        *creates.lock().unwrap() += 1;
                        if q.get("access_token").map(String::as_str) == Some("access-1") {
                            Json(json!({"errcode": 40001, "errmsg": "invalid credential"}))
                        } else {
                            Json(json!({"ticket": "t", "expire_seconds": 60, "url": "u"}))
                        }
                    }
                }
            }),
        );
    let base = serve(router).await;
    let api = client(&base, Duration::from_secs(5)).with_token_endpoint(TokenEndpoint::Stable);
    let cache = TokenCache::new(api.clone(), MemoryTokenStore::new(), DEFAULT_MARGIN);
    let qr = cache
        .call(|token| {
            let api = api.clone();
            async move { api.create_qr(token.expose_secret(), "scene", 60).await }
        })
        .await
        .unwrap();
    assert_eq!(qr.ticket, "t");
    assert_eq!(*creates.lock().unwrap(), 2);
    // WeChat refused the token it hands out as current: an ordinary fetch
    // first (it could have been renewed by another holder), then one forced
    // refresh.
    let fetches = fetches.lock().unwrap();
    let forced: Vec<_> = fetches
        .iter()
        .map(|(_, b)| b["force_refresh"].clone())
        .collect();
    assert_eq!(forced, [json!(false), json!(false), json!(true)]);
}
