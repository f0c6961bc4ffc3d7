//! Our side of the push protocol: authenticate, decrypt, parse; seal replies.

use std::fmt;
use std::fmt::Write;

use secrecy::{ExposeSecret, SecretString};

use super::{CallbackError, CallbackQuery};
use crate::crypto::MessageCrypto;
use crate::message::{cdata, parse_envelope, parse_message, Message, ParseError};
use crate::signature;

/// How far a request's signed `timestamp` may be from our clock, either
/// way. WeChat stamps a request when it sends it and retries within
/// seconds, so an older stamp is a replay; the window allows for clock
/// drift.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// A nonce longer than this is not WeChat's (it sends about ten digits).
const MAX_NONCE_LEN: usize = 64;

/// The signed `(timestamp, nonce)` of a request. The plain `signature`
/// covers only these and the Token, never the body: whoever saw one signed
/// request (an access log, the URL check) can reuse the triple. A receiver
/// therefore remembers each stamp for the freshness window, with a hash of
/// its body, and refuses the same stamp with another body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Stamp {
    /// Unix seconds, checked to be within [`MAX_CLOCK_SKEW_SECS`] of the
    /// clock given to the check.
    pub timestamp: i64,
    pub nonce: String,
}

/// A message that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub message: Message,
    /// Whether it arrived encrypted: the reply must then be sealed too.
    pub encrypted: bool,
    /// Its signed stamp, for the receiver's replay memory.
    pub stamp: Stamp,
}

/// A URL check (GET) that passed: the `echostr` to send back raw, and the
/// stamp, which a receiver remembers too so that the triple cannot be
/// replayed as a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo<'q> {
    pub echostr: &'q str,
    pub stamp: Stamp,
}

/// Checks callback requests against the Token (and EncodingAESKey, when
/// configured) entered in the WeChat console.
///
/// With a key, only encrypted pushes are accepted (safe or compatible mode,
/// verified by `msg_signature` over `Encrypt`): a plain body is refused
/// even with a valid `signature`, which never covers the body. Without a
/// key, plain pushes are accepted; the receiver must then refuse a reused
/// stamp with another body.
#[derive(Clone)]
pub struct CallbackVerifier {
    token: SecretString,
    crypto: Option<MessageCrypto>,
}

impl fmt::Debug for CallbackVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackVerifier")
            .field("token", &"[redacted]")
            .field("crypto", &self.crypto)
            .finish()
    }
}

impl CallbackVerifier {
    pub fn new(token: SecretString, crypto: Option<MessageCrypto>) -> Self {
        Self { token, crypto }
    }

    /// Whether an EncodingAESKey is configured, and so encryption required.
    pub fn has_crypto(&self) -> bool {
        self.crypto.is_some()
    }

    /// The GET handshake at `now_unix` (seconds): the `echostr` to send back
    /// raw, only when the signature matches and the timestamp is fresh.
    pub fn verify_echo<'q>(
        &self,
        q: &'q CallbackQuery,
        now_unix: i64,
    ) -> Result<Echo<'q>, CallbackError> {
        let stamp = self.check_signature(q, now_unix)?;
        Ok(Echo {
            echostr: param(&q.echostr, "echostr")?,
            stamp,
        })
    }

    /// Authenticates and opens a POSTed push received at `now_unix`
    /// (seconds).
    ///
    /// The plain `signature` and the freshness of its timestamp are checked
    /// on every request. With a key configured, `encrypt_type=aes` is
    /// required, the `msg_signature` over `Encrypt` is checked and the
    /// decrypted message is used, never the plain fields beside it
    /// (compatible mode). Without a key, a plain body is read; so is a
    /// compatible-mode body (its plain fields), while a safe-mode body is
    /// refused.
    pub fn open(
        &self,
        q: &CallbackQuery,
        body: &[u8],
        now_unix: i64,
    ) -> Result<Inbound, CallbackError> {
        let stamp = self.check_signature(q, now_unix)?;
        let Some(crypto) = &self.crypto else {
            let message = match parse_message(body) {
                Ok(message) => message,
                Err(ParseError::MissingField(_)) if q.is_encrypted() => {
                    return Err(CallbackError::NotConfiguredForEncryption)
                }
                Err(other) => return Err(other.into()),
            };
            return Ok(Inbound {
                message,
                encrypted: false,
                stamp,
            });
        };
        if !q.is_encrypted() {
            return Err(CallbackError::EncryptionRequired);
        }
        let msg_signature = param(&q.msg_signature, "msg_signature")?;
        let envelope = parse_envelope(body)?;
        let parts = [
            self.token.expose_secret(),
            q.timestamp.as_deref().unwrap_or_default(),
            q.nonce.as_deref().unwrap_or_default(),
            envelope.encrypt.as_str(),
        ];
        if !signature::verify(&parts, msg_signature) {
            return Err(CallbackError::BadMsgSignature);
        }
        let xml = crypto.decrypt(&envelope.encrypt)?;
        Ok(Inbound {
            message: parse_message(xml.as_bytes())?,
            encrypted: true,
            stamp,
        })
    }

    /// Prepares a passive reply. Plain inbound (or no key) → the XML as is;
    /// encrypted inbound → the encrypted envelope WeChat expects. `success`
    /// and the empty reply are never encrypted: WeChat takes them as is.
    pub fn seal_reply(
        &self,
        inbound_encrypted: bool,
        reply_xml: String,
        timestamp: &str,
        nonce: &str,
    ) -> String {
        match &self.crypto {
            Some(crypto) if inbound_encrypted && !is_bare_ack(&reply_xml) => seal(
                self.token.expose_secret(),
                crypto,
                &reply_xml,
                timestamp,
                nonce,
            ),
            _ => reply_xml,
        }
    }

    /// Checks the plain signature, then the stamp's shape and freshness.
    fn check_signature(&self, q: &CallbackQuery, now_unix: i64) -> Result<Stamp, CallbackError> {
        let signature = param(&q.signature, "signature")?;
        let timestamp = param(&q.timestamp, "timestamp")?;
        let nonce = param(&q.nonce, "nonce")?;
        if !signature::verify(&[self.token.expose_secret(), timestamp, nonce], signature) {
            return Err(CallbackError::BadSignature);
        }
        let timestamp =
            parse_timestamp(timestamp).ok_or(CallbackError::MalformedParameter("timestamp"))?;
        if nonce.is_empty()
            || nonce.len() > MAX_NONCE_LEN
            || !nonce.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(CallbackError::MalformedParameter("nonce"));
        }
        if timestamp.abs_diff(now_unix) > MAX_CLOCK_SKEW_SECS.unsigned_abs() {
            return Err(CallbackError::Stale);
        }
        Ok(Stamp {
            timestamp,
            nonce: nonce.to_owned(),
        })
    }
}

/// Unix seconds as WeChat writes them: digits only (no sign, no spaces).
fn parse_timestamp(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn param<'q>(value: &'q Option<String>, name: &'static str) -> Result<&'q str, CallbackError> {
    value
        .as_deref()
        .ok_or(CallbackError::MissingParameter(name))
}

fn is_bare_ack(reply: &str) -> bool {
    let reply = reply.trim();
    reply.is_empty() || reply == "success"
}

/// Encrypts `xml` into `<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>`.
fn seal(token: &str, crypto: &MessageCrypto, xml: &str, timestamp: &str, nonce: &str) -> String {
    let encrypt = crypto.encrypt(xml);
    let msg_signature = signature::sign(&[token, timestamp, nonce, &encrypt]);
    let mut out = String::from("<xml>");
    let _ = write!(
        out,
        "<Encrypt>{}</Encrypt><MsgSignature>{}</MsgSignature><TimeStamp>{}</TimeStamp><Nonce>{}</Nonce></xml>",
        cdata(&encrypt),
        cdata(&msg_signature),
        escape_text(timestamp),
        cdata(nonce)
    );
    out
}

/// TimeStamp is written as plain text (as WeChat does); escape it so an odd
/// caller-supplied value cannot break the document.
fn escape_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
