//! The mock WeChat API, answering as `api.weixin.qq.com` does: JSON, HTTP
//! 200 even for errors, `errcode`/`errmsg` (see [`WechatError`]).
//!
//! Error codes: 40002 bad grant_type, 41002/40013 missing/wrong appid,
//! 41004/40125 missing/wrong secret, 41001 no access_token, 40001 unknown
//! token, 42001 expired token, 44002 empty body, 47001 body not JSON (or a
//! field of the wrong type), 40097 invalid arguments to qrcode/create (an
//! action_name other than QR_STR_SCENE, scene_str not 1–64 characters,
//! expire_seconds below 1), 43001/43002 wrong HTTP method.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{
    body::Bytes,
    extract::{rejection::QueryRejection, ConnectInfo, Path, Query, State},
    response::Redirect,
    routing::{get, post},
    Extension, Json, Router,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    codes::{self, QrCode},
    faults::FaultyApi,
    lock, now_ms, random,
    tokens::{Issued, TokenState},
    wechat_error::WechatError,
    Sandbox, MOUNT_PATH,
};

/// WeChat's default lifetime of a temporary QR code without expire_seconds.
const DEFAULT_QR_SECONDS: i64 = 60;
/// WeChat's longest: 30 days.
const MAX_QR_SECONDS: i64 = 2_592_000;
const MAX_SCENE_CHARS: usize = 64;

pub fn routes() -> Router<Arc<Sandbox>> {
    Router::new()
        .route("/cgi-bin/token", get(token).fallback(require_get))
        .route(
            "/cgi-bin/stable_token",
            post(stable_token).fallback(require_post),
        )
        .route(
            "/cgi-bin/qrcode/create",
            post(create_qr).fallback(require_post),
        )
        .route("/q/{ticket}", get(open_qr_url))
}

#[derive(Serialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: i64,
}

impl From<Issued> for TokenAnswer {
    fn from(issued: Issued) -> Self {
        Self {
            access_token: issued.token,
            expires_in: issued.expires_in,
        }
    }
}

#[derive(Deserialize)]
struct Credentials {
    grant_type: Option<String>,
    appid: Option<String>,
    secret: Option<String>,
    #[serde(default)]
    force_refresh: bool,
}

/// Who called: WeChat names the calling address in a 40164 answer.
type Caller = Option<Extension<ConnectInfo<SocketAddr>>>;

fn caller_ip(caller: Caller) -> Option<IpAddr> {
    caller.map(|Extension(ConnectInfo(address))| address.ip())
}

/// `GET /cgi-bin/token?grant_type=client_credential&appid=…&secret=…`
async fn token(
    State(sandbox): State<Arc<Sandbox>>,
    caller: Caller,
    query: Result<Query<Credentials>, QueryRejection>,
) -> Result<Json<TokenAnswer>, WechatError> {
    sandbox.suffer(FaultyApi::Token, caller_ip(caller)).await?;
    let Query(credentials) = query.map_err(|_| WechatError::new(47001))?;
    sandbox.check_credentials(&credentials)?;
    let issued = lock(&sandbox.tokens).fetch_classic(now_ms());
    Ok(Json(issued.into()))
}

/// `POST /cgi-bin/stable_token` with `{grant_type, appid, secret, force_refresh}`.
async fn stable_token(
    State(sandbox): State<Arc<Sandbox>>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<TokenAnswer>, WechatError> {
    sandbox.suffer(FaultyApi::Token, caller_ip(caller)).await?;
    let credentials: Credentials = read_json(&body)?;
    sandbox.check_credentials(&credentials)?;
    let issued = lock(&sandbox.tokens).fetch_stable(now_ms(), credentials.force_refresh);
    Ok(Json(issued.into()))
}

#[derive(Deserialize)]
struct AccessTokenQuery {
    access_token: Option<String>,
}

#[derive(Debug, Serialize)]
struct QrAnswer {
    ticket: String,
    expire_seconds: i64,
    url: String,
}

/// `POST /cgi-bin/qrcode/create?access_token=…` with a QR_STR_SCENE request.
async fn create_qr(
    State(sandbox): State<Arc<Sandbox>>,
    caller: Caller,
    query: Result<Query<AccessTokenQuery>, QueryRejection>,
    body: Bytes,
) -> Result<Json<QrAnswer>, WechatError> {
    sandbox
        .suffer(FaultyApi::QrcodeCreate, caller_ip(caller))
        .await?;
    let access_token = query
        .ok()
        .and_then(|Query(q)| q.access_token)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| WechatError::new(41001))?;
    let now = now_ms();
    match lock(&sandbox.tokens).state(&access_token, now) {
        TokenState::Valid => {}
        TokenState::Expired => return Err(WechatError::new(42001)),
        TokenState::Unknown => return Err(WechatError::new(40001)),
    }
    let request = QrRequest::read(&body)?;

    let expires_at_ms = now + request.expire_seconds * 1000;
    let ticket = codes::new_ticket(&request.scene, now, expires_at_ms);
    let url = format!("{}{MOUNT_PATH}/q/{ticket}", sandbox.site_url);
    let code = QrCode {
        ticket: ticket.clone(),
        scene: request.scene,
        url: url.clone(),
        created_at_ms: now,
        expires_at_ms,
    };
    lock(&sandbox.codes).insert(code, now);
    Ok(Json(QrAnswer {
        ticket,
        expire_seconds: request.expire_seconds,
        url,
    }))
}

/// `GET /q/{ticket}`: a browser that opens a QR code's URL lands on the
/// phone, with the code chosen.
async fn open_qr_url(Path(ticket): Path<String>) -> Redirect {
    if random::is_url_safe_id(&ticket) {
        Redirect::to(&format!("{MOUNT_PATH}/phone?ticket={ticket}"))
    } else {
        Redirect::to(&format!("{MOUNT_PATH}/phone"))
    }
}

async fn require_get() -> WechatError {
    WechatError::new(43001)
}

async fn require_post() -> WechatError {
    WechatError::new(43002)
}

/// A checked `qrcode/create` request.
#[derive(Debug, PartialEq, Eq)]
struct QrRequest {
    scene: String,
    expire_seconds: i64,
}

#[derive(Deserialize)]
struct RawQrRequest {
    expire_seconds: Option<i64>,
    action_name: Option<String>,
    action_info: Option<RawActionInfo>,
}

#[derive(Deserialize)]
struct RawActionInfo {
    scene: Option<RawScene>,
}

#[derive(Deserialize)]
struct RawScene {
    scene_str: Option<String>,
}

impl QrRequest {
    fn read(body: &[u8]) -> Result<Self, WechatError> {
        let raw: RawQrRequest = read_json(body)?;
        // Only what the site uses is simulated: temporary string scenes.
        if raw.action_name.as_deref() != Some("QR_STR_SCENE") {
            return Err(WechatError::with_hint(
                40097,
                "action_name must be QR_STR_SCENE",
            ));
        }
        let scene = raw
            .action_info
            .and_then(|info| info.scene)
            .and_then(|scene| scene.scene_str)
            .filter(|scene| (1..=MAX_SCENE_CHARS).contains(&scene.chars().count()))
            .ok_or_else(|| WechatError::with_hint(40097, "scene_str must be 1 to 64 characters"))?;
        let expire_seconds = match raw.expire_seconds {
            None => DEFAULT_QR_SECONDS,
            Some(seconds) if seconds >= 1 => seconds.min(MAX_QR_SECONDS),
            Some(_) => {
                return Err(WechatError::with_hint(
                    40097,
                    "expire_seconds must be at least 1",
                ))
            }
        };
        Ok(Self {
            scene,
            expire_seconds,
        })
    }
}

/// A JSON body as WeChat reads it: empty → 44002, not JSON → 47001.
fn read_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, WechatError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(WechatError::new(44002));
    }
    serde_json::from_slice(body).map_err(|_| WechatError::new(47001))
}

impl Sandbox {
    /// Applies an injected fault to this call, if one is armed. A 40164
    /// names the caller's address, as WeChat's does.
    async fn suffer(&self, api: FaultyApi, caller: Option<IpAddr>) -> Result<(), WechatError> {
        let fault = lock(&self.faults).take(api);
        let Some(fault) = fault else {
            return Ok(());
        };
        if fault.delay_ms > 0 {
            tokio::time::sleep(fault.delay()).await;
        }
        match (fault.errcode, caller) {
            (Some(40164), Some(ip)) => Err(WechatError::not_whitelisted(ip)),
            (Some(errcode), _) => Err(WechatError::new(errcode)),
            (None, _) => Ok(()),
        }
    }

    /// Checks the AppID and AppSecret in WeChat's order.
    fn check_credentials(&self, credentials: &Credentials) -> Result<(), WechatError> {
        if credentials.grant_type.as_deref() != Some("client_credential") {
            return Err(WechatError::new(40002));
        }
        match credentials.appid.as_deref() {
            None | Some("") => return Err(WechatError::new(41002)),
            Some(appid) if appid != self.appid => return Err(WechatError::new(40013)),
            Some(_) => {}
        }
        match credentials.secret.as_deref() {
            None | Some("") => Err(WechatError::new(41004)),
            Some(secret) if !same_secret(secret, self.secret.expose_secret()) => {
                Err(WechatError::new(40125))
            }
            Some(_) => Ok(()),
        }
    }
}

/// Compares digests, not the secrets: the time taken tells nothing about
/// how much of a guessed secret was right.
fn same_secret(given: &str, expected: &str) -> bool {
    Sha256::digest(given.as_bytes()) == Sha256::digest(expected.as_bytes())
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;
    use crate::sandbox::SandboxConfig;

    fn sandbox() -> Sandbox {
        Sandbox::new(SandboxConfig {
            appid: "wx0000000000000000".into(),
            secret: SecretString::from("fake-secret-for-tests"),
            token: SecretString::from("faketoken123"),
            encoding_aes_key: None,
            site_url: "http://127.0.0.1:9".into(),
            callback_url: "http://127.0.0.1:9/wechat/callback".into(),
        })
    }

    fn credentials(grant_type: &str, appid: &str, secret: &str) -> Credentials {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Credentials {
            grant_type: some(grant_type),
            appid: some(appid),
            secret: some(secret),
            force_refresh: false,
        }
    }

    fn code_of(result: Result<(), WechatError>) -> i64 {
        result.err().map_or(0, |err| err.errcode)
    }

    #[test]
    fn credentials_are_checked_in_wechat_order() {
        let sandbox = sandbox();
        let check = |g, a, s| code_of(sandbox.check_credentials(&credentials(g, a, s)));
        assert_eq!(
            check(
                "client_credential",
                "wx0000000000000000",
                "fake-secret-for-tests"
            ),
            0
        );
        assert_eq!(
            check(
                "authorization_code",
                "wx0000000000000000",
                "fake-secret-for-tests"
            ),
            40002
        );
        assert_eq!(
            check("", "wx0000000000000000", "fake-secret-for-tests"),
            40002
        );
        assert_eq!(check("client_credential", "", "x"), 41002);
        assert_eq!(
            check(
                "client_credential",
                "wx1111111111111111",
                "fake-secret-for-tests"
            ),
            40013
        );
        assert_eq!(check("client_credential", "wx0000000000000000", ""), 41004);
        assert_eq!(
            check("client_credential", "wx0000000000000000", "wrong"),
            40125
        );
    }

    fn qr(body: &str) -> Result<QrRequest, i64> {
        QrRequest::read(body.as_bytes()).map_err(|err| err.errcode)
    }

    #[test]
    fn qr_requests_are_checked() {
        let ok = r#"{"expire_seconds":3,"action_name":"QR_STR_SCENE","action_info":{"scene":{"scene_str":"login_1"}}}"#;
        assert_eq!(
            qr(ok),
            Ok(QrRequest {
                scene: "login_1".into(),
                expire_seconds: 3
            })
        );
        let no_expiry =
            r#"{"action_name":"QR_STR_SCENE","action_info":{"scene":{"scene_str":"s"}}}"#;
        assert_eq!(
            qr(no_expiry).map(|q| q.expire_seconds),
            Ok(DEFAULT_QR_SECONDS)
        );
        let too_long = r#"{"expire_seconds":99999999,"action_name":"QR_STR_SCENE","action_info":{"scene":{"scene_str":"s"}}}"#;
        assert_eq!(qr(too_long).map(|q| q.expire_seconds), Ok(MAX_QR_SECONDS));
        let sixty_four = format!(
            r#"{{"action_name":"QR_STR_SCENE","action_info":{{"scene":{{"scene_str":"{}"}}}}}}"#,
            "场".repeat(64)
        );
        assert!(qr(&sixty_four).is_ok());

        for (body, errcode) in [
            ("", 44002),
            ("not json", 47001),
            (r#"{"expire_seconds":"soon"}"#, 47001),
            (
                r#"{"action_name":"QR_SCENE","action_info":{"scene":{"scene_id":1}}}"#,
                40097,
            ),
            (r#"{"action_name":"QR_STR_SCENE"}"#, 40097),
            (
                r#"{"action_name":"QR_STR_SCENE","action_info":{"scene":{"scene_str":""}}}"#,
                40097,
            ),
            (&sixty_four.replace("场\"", "场场\""), 40097),
            (
                r#"{"expire_seconds":0,"action_name":"QR_STR_SCENE","action_info":{"scene":{"scene_str":"s"}}}"#,
                40097,
            ),
        ] {
            assert_eq!(qr(body).map(|_| ()), Err(errcode), "{body}");
        }
    }

    #[tokio::test]
    async fn an_armed_fault_answers_its_code_once() {
        let sandbox = sandbox();
        let request = serde_json::from_str(r#"{"api":"token","errcode":45009}"#).unwrap();
        lock(&sandbox.faults).arm(request).unwrap();
        assert_eq!(
            code_of(sandbox.suffer(FaultyApi::QrcodeCreate, None).await),
            0
        );
        assert_eq!(code_of(sandbox.suffer(FaultyApi::Token, None).await), 45009);
        assert_eq!(code_of(sandbox.suffer(FaultyApi::Token, None).await), 0);
    }

    #[tokio::test]
    async fn a_whitelist_fault_names_the_caller_as_wechat_does() {
        let sandbox = sandbox();
        let request = serde_json::from_str(r#"{"api":"token","errcode":40164}"#).unwrap();
        lock(&sandbox.faults).arm(request).unwrap();
        let caller: IpAddr = "203.0.113.7".parse().unwrap();
        let err = sandbox
            .suffer(FaultyApi::Token, Some(caller))
            .await
            .unwrap_err();
        assert_eq!(err.errcode, 40164);
        assert_eq!(
            err.errmsg,
            "invalid ip 203.0.113.7 ipv6 ::ffff:203.0.113.7, not in whitelist"
        );
    }

    #[test]
    fn secrets_are_compared_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("ab", "abc"));
    }
}
