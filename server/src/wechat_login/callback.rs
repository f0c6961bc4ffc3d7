//! `GET/POST /wechat/callback`: the URL an operator enters in the WeChat
//! console. GET proves we hold the Token; POST delivers pushes, which are
//! verified (and decrypted in safe mode) before anything is read.
//!
//! What a request must pass, in order:
//! 1. the `signature` over Token, timestamp and nonce (the verifier);
//! 2. a timestamp within 300 s of our clock (the verifier): an old signed
//!    request, from an access log say, is refused;
//! 3. with an EncodingAESKey, encryption: a plain body is refused, and the
//!    encrypted part is verified by `msg_signature` and used alone (the
//!    verifier);
//! 4. its stamp `(timestamp, nonce)` not seen before with another body
//!    (`push`, in the transaction of the push's effects): within the window a
//!    signature is reusable, since in plain mode it never covers the body.
//!    An identical request is a retry and gets the first answer.
//!
//! The GET URL check carries a signed triple too, in its URL. Its stamp is
//! recorded like a push's, under a digest no body has, so replaying it as
//! a POST is refused by step 4; beyond the window step 2 refuses it anyway.
//!
//! Refusals get a 4xx and change nothing; they are logged once per minute
//! per cause. Every answer comes within [`DEADLINE`]: WeChat waits 5 s.

use std::time::{Duration, Instant};

use axum::{
    body::Bytes,
    extract::{DefaultBodyLimit, Query, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use sha2::{Digest, Sha256};
use wechat::{message::text_reply, CallbackError, CallbackQuery};

use super::{
    push::{Push, Pushed, Reply},
    refusals::{self, RefusalLog},
    secrets,
};
use crate::{
    clock,
    ops::{events, OpsEvents},
    state::AppState,
};

/// WeChat's pushes are a few hundred bytes; anything near this is not WeChat.
const MAX_BODY: usize = 64 * 1024;

/// The latest a callback is answered, written or not ("try again" then,
/// which WeChat does), well within WeChat's 5 s.
pub const DEADLINE: Duration = Duration::from_millis(2500);

/// Process-wide: the log it protects is process-wide too.
static REFUSALS: RefusalLog = RefusalLog::new(refusals::INTERVAL);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/wechat/callback", get(verify).post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

async fn verify(State(state): State<AppState>, Query(query): Query<CallbackQuery>) -> Response {
    let echo = match state.wechat.verifier.verify_echo(&query, now_unix()) {
        Ok(echo) => echo,
        Err(err) => return refuse_error(&state.ops, &err),
    };
    match tokio::time::timeout(DEADLINE, state.login.url_check(echo.stamp)).await {
        Ok(Ok(())) => text(StatusCode::OK, echo.echostr.to_owned()),
        Ok(Err(err)) => unavailable(&state.ops, &err),
        Err(_) => unavailable(&state.ops, &"not written within the deadline"),
    }
}

async fn receive(
    State(state): State<AppState>,
    Query(query): Query<CallbackQuery>,
    body: Bytes,
) -> Response {
    let inbound = match state.wechat.verifier.open(&query, &body, now_unix()) {
        Ok(inbound) => inbound,
        Err(err) => return refuse_error(&state.ops, &err),
    };
    let (from_user, to_user) = (
        inbound.message.from_user.clone(),
        inbound.message.to_user.clone(),
    );
    let push = Push {
        message: inbound.message,
        stamp: inbound.stamp,
        body_hash: Sha256::digest(&body).into(),
    };
    let pushed = match tokio::time::timeout(DEADLINE, state.login.push(push)).await {
        Ok(Ok(pushed)) => pushed,
        // Answering with an error makes WeChat retry (3 tries in all)
        // instead of losing the scan. A job the writer had not begun when
        // we gave up is dropped unwritten; one it was writing is committed,
        // and the retry then gets its recorded reply (the dedup key).
        Ok(Err(err)) => return unavailable(&state.ops, &err),
        Err(_) => return unavailable(&state.ops, &"not written within the deadline"),
    };
    match pushed {
        Pushed::Reply(Reply::Text(text)) => {
            let now = now_unix();
            // Passive reply: to the sender, from our account.
            let xml = text_reply(&from_user, &to_user, now, &text);
            let nonce = secrets::new_attempt_id();
            let sealed = state.wechat.verifier.seal_reply(
                inbound.encrypted,
                xml,
                &now.to_string(),
                &nonce[..10],
            );
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "application/xml; charset=utf-8"),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                ],
                sealed,
            )
                .into_response()
        }
        Pushed::Reply(Reply::Nothing) => text(StatusCode::OK, "success".into()),
        Pushed::StampReused => refuse(
            &state.ops,
            StatusCode::FORBIDDEN,
            "stamp_reused",
            &"timestamp and nonce already seen with another body",
        ),
    }
}

fn now_unix() -> i64 {
    clock::now_ms().div_euclid(1000)
}

/// A plain-text answer that browsers will not sniff into anything else:
/// `echostr` is chosen by the caller.
fn text(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// 403 for requests that are not authentic (forged, replayed, stale,
/// downgraded), 400 for malformed ones.
fn refuse_error(ops: &OpsEvents, err: &CallbackError) -> Response {
    let status = match err {
        CallbackError::BadSignature
        | CallbackError::BadMsgSignature
        | CallbackError::Stale
        | CallbackError::EncryptionRequired => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    refuse(ops, status, err.cause(), err)
}

/// A 4xx naming only the cause; the log line (rationed) has the detail,
/// the operator page the count.
fn refuse(
    ops: &OpsEvents,
    status: StatusCode,
    cause: &'static str,
    detail: &dyn std::fmt::Display,
) -> Response {
    ops.count(events::callback_refused(cause));
    if let Some(left_out) = REFUSALS.admit(cause, Instant::now()) {
        tracing::warn!(cause, %detail, left_out, "refused a request to the WeChat callback (one line per cause per minute; left_out = refusals of this cause not logged since the last line)");
    }
    text(status, format!("refused: {cause}"))
}

/// 503: WeChat tries again.
fn unavailable(ops: &OpsEvents, detail: &dyn std::fmt::Display) -> Response {
    ops.count(events::callback_refused("not_written"));
    if let Some(left_out) = REFUSALS.admit("not_written", Instant::now()) {
        tracing::error!(error = %detail, left_out, "cannot handle a WeChat push now; WeChat will retry");
    }
    text(StatusCode::SERVICE_UNAVAILABLE, "busy, try again".into())
}
