use thiserror::Error;

/// Why a key was refused or a ciphertext could not be opened.
///
/// The texts never contain the key, the ciphertext or the plaintext: they end
/// up in logs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CryptoError {
    #[error("EncodingAESKey must be 43 base64 characters decoding to 32 bytes")]
    InvalidKey,
    #[error("ciphertext is not valid base64")]
    Base64,
    #[error("ciphertext length is not a positive multiple of the AES block size")]
    CiphertextLength,
    #[error("decrypted message has invalid PKCS#7 padding")]
    Padding,
    #[error("decrypted message is too short or its length field is out of range")]
    Truncated,
    #[error("decrypted message is not valid UTF-8")]
    Utf8,
    #[error("decrypted message belongs to another AppID")]
    AppIdMismatch,
}
