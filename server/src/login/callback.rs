//! `GET/POST /wechat/callback`: the URL an operator enters in the WeChat
//! console. GET proves we hold the Token; POST delivers pushes, which are
//! verified (and decrypted in safe mode) before anything is read.

use axum::{
    body::Bytes,
    extract::{DefaultBodyLimit, Query, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use wechat::{message::text_reply, CallbackError, CallbackQuery};

use super::{inbox, secrets};
use crate::{clock, state::AppState};

/// WeChat's pushes are a few hundred bytes; anything near this is not WeChat.
const MAX_BODY: usize = 64 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/wechat/callback", get(verify).post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

async fn verify(State(state): State<AppState>, Query(query): Query<CallbackQuery>) -> Response {
    match state.wechat.verifier.verify_echo(&query) {
        Ok(echo) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain")],
            echo.to_owned(),
        )
            .into_response(),
        Err(err) => refuse(err),
    }
}

async fn receive(
    State(state): State<AppState>,
    Query(query): Query<CallbackQuery>,
    body: Bytes,
) -> Response {
    let inbound = match state.wechat.verifier.open(&query, &body) {
        Ok(inbound) => inbound,
        Err(err) => return refuse(err),
    };
    let message = &inbound.message;
    match state.writer.push(message.clone()).await {
        Ok(inbox::Reply::Text(text)) => {
            let now = clock::now_ms() / 1000;
            // Passive reply: to the sender, from our account.
            let xml = text_reply(&message.from_user, &message.to_user, now, &text);
            let nonce = secrets::new_attempt_id();
            let sealed = state.wechat.verifier.seal_reply(
                inbound.encrypted,
                xml,
                &now.to_string(),
                &nonce[..10],
            );
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
                sealed,
            )
                .into_response()
        }
        Ok(inbox::Reply::Nothing) => success(),
        Err(err) => {
            // Nothing was stored: answering with an error makes WeChat retry
            // (3 tries in all) instead of losing the scan.
            tracing::error!(error = %err, "cannot handle a WeChat push; WeChat will retry");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// WeChat's "received, nothing to say".
fn success() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain")],
        "success",
    )
        .into_response()
}

fn refuse(err: CallbackError) -> Response {
    let status = match err {
        CallbackError::BadSignature | CallbackError::BadMsgSignature => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    tracing::warn!(error = %err, "refused a request to the WeChat callback");
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        err.to_string(),
    )
        .into_response()
}
