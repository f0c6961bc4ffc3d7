//! Our side of the push protocol: authenticate, decrypt, parse; seal replies.

use std::fmt;
use std::fmt::Write;

use secrecy::{ExposeSecret, SecretString};

use super::{CallbackError, CallbackQuery};
use crate::crypto::MessageCrypto;
use crate::message::{cdata, parse_envelope, parse_message, Message, ParseError};
use crate::signature;

/// A message that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub message: Message,
    /// Whether it arrived encrypted: the reply must then be sealed too.
    pub encrypted: bool,
}

/// Checks callback requests against the Token (and EncodingAESKey, when
/// configured) entered in the WeChat console.
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

    /// Whether an EncodingAESKey is configured.
    pub fn has_crypto(&self) -> bool {
        self.crypto.is_some()
    }

    /// The GET handshake: returns `echostr`, to be sent back raw, only when
    /// the signature matches.
    pub fn verify_echo<'q>(&self, q: &'q CallbackQuery) -> Result<&'q str, CallbackError> {
        self.check_signature(q)?;
        param(&q.echostr, "echostr")
    }

    /// Authenticates and opens a POSTed push.
    ///
    /// The plain `signature` is checked on every request. With
    /// `encrypt_type=aes` the `msg_signature` over `Encrypt` is checked and
    /// the decrypted message is used, never the plain fields beside it. If no
    /// key is configured, a compatible-mode body (plain fields present) is
    /// read in plain; a safe-mode body is refused.
    pub fn open(&self, q: &CallbackQuery, body: &[u8]) -> Result<Inbound, CallbackError> {
        let (timestamp, nonce) = self.check_signature(q)?;
        if !q.is_encrypted() {
            return Ok(Inbound {
                message: parse_message(body)?,
                encrypted: false,
            });
        }
        let Some(crypto) = &self.crypto else {
            return match parse_message(body) {
                Ok(message) => Ok(Inbound {
                    message,
                    encrypted: false,
                }),
                Err(ParseError::MissingField(_)) => Err(CallbackError::NotConfiguredForEncryption),
                Err(other) => Err(other.into()),
            };
        };
        let msg_signature = param(&q.msg_signature, "msg_signature")?;
        let envelope = parse_envelope(body)?;
        let parts = [
            self.token.expose_secret(),
            timestamp,
            nonce,
            envelope.encrypt.as_str(),
        ];
        if !signature::verify(&parts, msg_signature) {
            return Err(CallbackError::BadMsgSignature);
        }
        let xml = crypto.decrypt(&envelope.encrypt)?;
        Ok(Inbound {
            message: parse_message(xml.as_bytes())?,
            encrypted: true,
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

    /// Checks the plain signature; returns (timestamp, nonce).
    fn check_signature<'q>(
        &self,
        q: &'q CallbackQuery,
    ) -> Result<(&'q str, &'q str), CallbackError> {
        let signature = param(&q.signature, "signature")?;
        let timestamp = param(&q.timestamp, "timestamp")?;
        let nonce = param(&q.nonce, "nonce")?;
        if signature::verify(&[self.token.expose_secret(), timestamp, nonce], signature) {
            Ok((timestamp, nonce))
        } else {
            Err(CallbackError::BadSignature)
        }
    }
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

/// Optional freshness check for callers that want one. Not applied by
/// [`CallbackVerifier::open`]: WeChat's retries reuse the first timestamp,
/// and a clock skew would silently drop logins.
pub fn timestamp_is_fresh(timestamp: &str, now_unix: i64, max_skew_secs: i64) -> bool {
    timestamp
        .trim()
        .parse::<i64>()
        .is_ok_and(|t| t.abs_diff(now_unix) <= max_skew_secs.unsigned_abs())
}
