//! The simulated phone's JSON API (`/phone/api/…`), for tests and for the
//! phone page: list codes and users, scan, send a message, unfollow, and
//! inject API faults.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use wechat::PushMode;

use super::{
    codes::{self, ticket_from_url, QrCode},
    event::{Push, ScanMode},
    faults::FaultRequest,
    lock, now_ms,
    phone_error::{parse_json, PhoneError},
    push::{Delivery, PushModeName},
    random, recognise,
    users::SandboxUser,
    Sandbox, ACCOUNT_ID,
};

/// The phone lists this many codes and users, newest first.
const LIST_LIMIT_CODES: usize = 50;
const LIST_LIMIT_USERS: usize = 100;
/// WeChat's limit on a text message.
const MAX_TEXT_CHARS: usize = 2048;

pub fn routes() -> Router<Arc<Sandbox>> {
    Router::new()
        .route("/info", get(info))
        .route("/codes", get(codes))
        .route("/users", get(users).post(create_user))
        .route("/scan", post(scan))
        .route("/message", post(message))
        .route("/unsubscribe", post(unsubscribe))
        .route("/faults", get(faults).post(arm_fault).delete(clear_faults))
}

/// What the phone page shows about the account. No secret in it.
async fn info(State(sandbox): State<Arc<Sandbox>>) -> Json<serde_json::Value> {
    Json(json!({
        "account": ACCOUNT_ID,
        "appid": sandbox.appid,
        "callback_url": sandbox.pusher.callback_url(),
        "encrypts": sandbox.encrypts(),
    }))
}

#[derive(Serialize)]
struct CodeView {
    #[serde(flatten)]
    code: QrCode,
    expired: bool,
    /// Milliseconds left when answered (0 once expired): lets a page count
    /// down without trusting its own clock.
    remaining_ms: i64,
}

async fn codes(State(sandbox): State<Arc<Sandbox>>) -> Json<Vec<CodeView>> {
    let now = now_ms();
    let codes = lock(&sandbox.codes)
        .newest(LIST_LIMIT_CODES)
        .map(|code| CodeView {
            expired: code.is_expired(now),
            remaining_ms: (code.expires_at_ms - now).max(0),
            code: code.clone(),
        })
        .collect();
    Json(codes)
}

async fn users(State(sandbox): State<Arc<Sandbox>>) -> Json<Vec<SandboxUser>> {
    Json(
        lock(&sandbox.users)
            .newest(LIST_LIMIT_USERS)
            .cloned()
            .collect(),
    )
}

async fn create_user(State(sandbox): State<Arc<Sandbox>>) -> (StatusCode, Json<SandboxUser>) {
    (StatusCode::CREATED, Json(lock(&sandbox.users).create()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanRequest {
    ticket: Option<String>,
    /// The scanned QR URL, read for its ticket.
    url: Option<String>,
    /// A long-pressed picture (识别图中二维码): a `data:image/png;base64,…`
    /// URL, whose QR code is read for its URL.
    image: Option<String>,
    /// Absent: a new user.
    openid: Option<String>,
    /// Absent: subscribe if the user does not follow yet, else SCAN.
    mode: Option<ScanMode>,
    push: Option<PushModeName>,
}

/// `POST /phone/api/scan`: the user scans a code, or long-presses its
/// picture in a page (`image`): WeChat handles both alike. An expired code
/// is still pushed: the site must tell the user it expired.
async fn scan(State(sandbox): State<Arc<Sandbox>>, body: Bytes) -> Result<Response, PhoneError> {
    let request: ScanRequest = parse_json(&body)?;
    let url = match (request.url, request.image) {
        (Some(url), None) => Some(url),
        (None, Some(image)) => Some(recognise::read_qr(&image)?),
        (None, None) => None,
        (Some(_), Some(_)) => return Err(PhoneError::BadRequest("url 和 image 只能给一个".into())),
    };
    let ticket = match (request.ticket, url) {
        (Some(ticket), _) if random::is_url_safe_id(&ticket) => ticket,
        (Some(_), _) => return Err(PhoneError::BadRequest("ticket 格式不对".into())),
        (None, Some(url)) => ticket_from_url(&url).ok_or_else(|| {
            PhoneError::BadRequest("这个链接不是沙箱二维码（应含 /q/{ticket}）".into())
        })?,
        (None, None) => {
            return Err(PhoneError::BadRequest(
                "请给出 ticket、扫到的 url 或长按的图片 image".into(),
            ))
        }
    };
    let known = lock(&sandbox.codes).get(&ticket).cloned();
    let code = known
        .or_else(|| codes::decode_ticket(&ticket, &sandbox.site_url))
        .ok_or(PhoneError::UnknownTicket)?;
    let mode = sandbox.push_mode(request.push)?;
    let user = sandbox.user(request.openid.as_deref())?;

    let push = Push::scan(request.mode, user.following, &code.scene, &code.ticket);
    // The follow happens on the phone whatever the site answers.
    lock(&sandbox.users).set_following(&user.openid, true);
    let delivery = sandbox.pusher.deliver(&user.openid, &push, mode).await;
    Ok(PushAnswer::new(&user.openid, &push, delivery)
        .with_code(&code, now_ms())
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageRequest {
    openid: String,
    text: String,
    push: Option<PushModeName>,
}

/// `POST /phone/api/message`: a follower sends a text (e.g. 确认).
async fn message(State(sandbox): State<Arc<Sandbox>>, body: Bytes) -> Result<Response, PhoneError> {
    let request: MessageRequest = parse_json(&body)?;
    let chars = request.text.chars().count();
    if !(1..=MAX_TEXT_CHARS).contains(&chars) {
        return Err(PhoneError::BadRequest("消息应为 1 到 2048 个字".into()));
    }
    let mode = sandbox.push_mode(request.push)?;
    let user = sandbox.known_user(&request.openid)?;
    if !user.following {
        return Err(PhoneError::NotFollowing);
    }
    let push = Push::Text {
        content: request.text,
        msg_id: random::msg_id(),
    };
    let delivery = sandbox.pusher.deliver(&user.openid, &push, mode).await;
    Ok(PushAnswer::new(&user.openid, &push, delivery).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnsubscribeRequest {
    openid: String,
    push: Option<PushModeName>,
}

/// `POST /phone/api/unsubscribe`: the user unfollows the account.
async fn unsubscribe(
    State(sandbox): State<Arc<Sandbox>>,
    body: Bytes,
) -> Result<Response, PhoneError> {
    let request: UnsubscribeRequest = parse_json(&body)?;
    let mode = sandbox.push_mode(request.push)?;
    let user = sandbox.known_user(&request.openid)?;
    lock(&sandbox.users).set_following(&user.openid, false);
    let push = Push::Unsubscribe;
    let delivery = sandbox.pusher.deliver(&user.openid, &push, mode).await;
    Ok(PushAnswer::new(&user.openid, &push, delivery).into_response())
}

async fn faults(State(sandbox): State<Arc<Sandbox>>) -> impl IntoResponse {
    Json(lock(&sandbox.faults).list())
}

/// `POST /phone/api/faults`: `{"api","errcode"?,"delay_ms"?,"times"?}`.
async fn arm_fault(
    State(sandbox): State<Arc<Sandbox>>,
    body: Bytes,
) -> Result<impl IntoResponse, PhoneError> {
    let request: FaultRequest = parse_json(&body)?;
    let armed = lock(&sandbox.faults)
        .arm(request)
        .map_err(|reason| PhoneError::BadRequest(reason.to_owned()))?;
    Ok(Json(armed))
}

async fn clear_faults(State(sandbox): State<Arc<Sandbox>>) -> impl IntoResponse {
    sandbox.clear_faults();
    Json(json!({ "cleared": true }))
}

/// The answer to every push: who, what, and how the delivery went. HTTP 502
/// when the site's callback failed the way WeChat would notice.
#[derive(Serialize)]
struct PushAnswer {
    openid: String,
    msg_type: &'static str,
    event: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scene: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code_expired: Option<bool>,
    #[serde(flatten)]
    delivery: Delivery,
}

impl PushAnswer {
    fn new(openid: &str, push: &Push, delivery: Delivery) -> Self {
        Self {
            openid: openid.to_owned(),
            msg_type: push.msg_type(),
            event: push.event(),
            ticket: None,
            scene: None,
            code_expired: None,
            delivery,
        }
    }

    fn with_code(self, code: &QrCode, now: i64) -> Self {
        Self {
            ticket: Some(code.ticket.clone()),
            scene: Some(code.scene.clone()),
            code_expired: Some(code.is_expired(now)),
            ..self
        }
    }
}

impl IntoResponse for PushAnswer {
    fn into_response(self) -> Response {
        let status = if self.delivery.succeeded() {
            StatusCode::OK
        } else {
            StatusCode::BAD_GATEWAY
        };
        (status, Json(self)).into_response()
    }
}

impl Sandbox {
    /// The push mode asked for, or the default; encryption needs a key.
    fn push_mode(&self, asked: Option<PushModeName>) -> Result<PushMode, PhoneError> {
        match asked {
            None => Ok(self.pusher.default_mode()),
            Some(PushModeName::Plain) => Ok(PushMode::Plain),
            Some(_) if !self.encrypts() => Err(PhoneError::NoEncryptionKey),
            Some(name) => Ok(name.into()),
        }
    }

    /// The user with this openid (made on first use), or a new user.
    fn user(&self, openid: Option<&str>) -> Result<SandboxUser, PhoneError> {
        let mut users = lock(&self.users);
        match openid {
            None => Ok(users.create()),
            Some(openid) if random::is_url_safe_id(openid) => Ok(users.get_or_create(openid)),
            Some(_) => Err(PhoneError::BadRequest("openid 格式不对".into())),
        }
    }

    fn known_user(&self, openid: &str) -> Result<SandboxUser, PhoneError> {
        lock(&self.users)
            .get(openid)
            .cloned()
            .ok_or(PhoneError::UnknownUser)
    }
}
