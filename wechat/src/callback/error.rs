use thiserror::Error;

use crate::crypto::CryptoError;
use crate::message::ParseError;

/// Why a callback request (or an encrypted reply) was refused. No variant
/// carries the token, the AES key or a signature value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CallbackError {
    #[error("missing query parameter `{0}`")]
    MissingParameter(&'static str),
    #[error("signature does not match")]
    BadSignature,
    #[error("msg_signature does not match")]
    BadMsgSignature,
    /// `timestamp` is not a Unix time in seconds, or `nonce` is not a short
    /// token: WeChat sends digits for both.
    #[error("malformed query parameter `{0}`")]
    MalformedParameter(&'static str),
    /// The signed timestamp is further from our clock than
    /// [`MAX_CLOCK_SKEW_SECS`](super::MAX_CLOCK_SKEW_SECS): a replay of an
    /// old request (or a clock that is badly off).
    #[error("timestamp is more than 300 s from our clock")]
    Stale,
    /// An EncodingAESKey is configured, so only encrypted pushes verified by
    /// `msg_signature` count: a plain one could carry any body under a
    /// reused `signature`.
    #[error("plain push refused: an EncodingAESKey is configured, so only encrypted pushes are accepted")]
    EncryptionRequired,
    #[error("encrypted message received but no EncodingAESKey is configured")]
    NotConfiguredForEncryption,
    #[error("could not decrypt message: {0}")]
    Decrypt(#[from] CryptoError),
    #[error("could not parse message: {0}")]
    Parse(#[from] ParseError),
}

impl CallbackError {
    /// A short stable name for the cause, for logs and counters.
    pub fn cause(&self) -> &'static str {
        match self {
            Self::MissingParameter(_) => "missing_parameter",
            Self::BadSignature => "bad_signature",
            Self::BadMsgSignature => "bad_msg_signature",
            Self::MalformedParameter(_) => "malformed_parameter",
            Self::Stale => "stale_timestamp",
            Self::EncryptionRequired => "plain_push_refused",
            Self::NotConfiguredForEncryption => "no_encryption_key",
            Self::Decrypt(_) => "undecryptable",
            Self::Parse(_) => "unparsable",
        }
    }
}
