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
    #[error("encrypted message received but no EncodingAESKey is configured")]
    NotConfiguredForEncryption,
    #[error("could not decrypt message: {0}")]
    Decrypt(#[from] CryptoError),
    #[error("could not parse message: {0}")]
    Parse(#[from] ParseError),
}
