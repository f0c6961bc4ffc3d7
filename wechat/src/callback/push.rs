//! WeChat's side of the push protocol, for the sandbox and for tests: build
//! exactly what WeChat POSTs, and open what our callback answers.

use super::CallbackError;
use crate::crypto::MessageCrypto;
use crate::message::{cdata, parse_fields};
use crate::signature;

/// The message encryption mode chosen in the WeChat console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushMode {
    /// 明文模式: plain XML.
    Plain,
    /// 兼容模式: plain fields and `Encrypt` side by side.
    Compatible,
    /// 安全模式: only `ToUserName` and `Encrypt`.
    Safe,
}

/// A push as WeChat would send it: query parameters and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRequest {
    pub query: Vec<(String, String)>,
    pub body: String,
}

/// Builds the request WeChat would POST for `xml`. Compatible and safe
/// modes need `crypto`; without it they fall back to a plain push (this is a
/// simulator, and a plain push is what WeChat sends without a key).
pub fn push_request(
    token: &str,
    crypto: Option<&MessageCrypto>,
    mode: PushMode,
    xml: &str,
    timestamp: &str,
    nonce: &str,
    openid: &str,
) -> PushRequest {
    let mut query = vec![
        (
            "signature".to_owned(),
            signature::sign(&[token, timestamp, nonce]),
        ),
        ("timestamp".to_owned(), timestamp.to_owned()),
        ("nonce".to_owned(), nonce.to_owned()),
        ("openid".to_owned(), openid.to_owned()),
    ];
    let crypto = match (mode, crypto) {
        (PushMode::Plain, _) | (_, None) => {
            return PushRequest {
                query,
                body: xml.to_owned(),
            }
        }
        (_, Some(crypto)) => crypto,
    };
    let encrypt = crypto.encrypt(xml);
    query.push(("encrypt_type".to_owned(), "aes".to_owned()));
    query.push((
        "msg_signature".to_owned(),
        signature::sign(&[token, timestamp, nonce, &encrypt]),
    ));
    let encrypt_field = format!("<Encrypt>{}</Encrypt>", cdata(&encrypt));
    let body = match mode {
        PushMode::Compatible => match xml.rfind("</xml>") {
            Some(end) => {
                let (head, tail) = xml.split_at(end);
                format!("{head}{encrypt_field}{tail}")
            }
            None => format!("<xml>{encrypt_field}</xml>"),
        },
        _ => {
            let to_user = parse_fields(xml.as_bytes())
                .ok()
                .and_then(|f| f.get("ToUserName").map(str::to_owned))
                .unwrap_or_default();
            format!(
                "<xml><ToUserName>{}</ToUserName>{encrypt_field}</xml>",
                cdata(&to_user)
            )
        }
    };
    PushRequest { query, body }
}

/// Opens our callback's answer as WeChat would: `success`, an empty body or
/// a plain reply come back as they are; an encrypted reply must carry a
/// valid `MsgSignature` and decrypt under our AppID.
pub fn open_reply(
    token: &str,
    crypto: Option<&MessageCrypto>,
    body: &str,
) -> Result<String, CallbackError> {
    let trimmed = body.trim();
    if trimmed.is_empty() || trimmed == "success" {
        return Ok(body.to_owned());
    }
    let fields = parse_fields(body.as_bytes())?;
    let Some(encrypt) = fields.get("Encrypt") else {
        return Ok(body.to_owned());
    };
    let crypto = crypto.ok_or(CallbackError::NotConfiguredForEncryption)?;
    let msg_signature = fields
        .get("MsgSignature")
        .ok_or(CallbackError::MissingParameter("MsgSignature"))?;
    let timestamp = fields
        .get("TimeStamp")
        .ok_or(CallbackError::MissingParameter("TimeStamp"))?;
    let nonce = fields
        .get("Nonce")
        .ok_or(CallbackError::MissingParameter("Nonce"))?;
    if !signature::verify(&[token, timestamp, nonce, encrypt], msg_signature) {
        return Err(CallbackError::BadMsgSignature);
    }
    Ok(crypto.decrypt(encrypt)?)
}
