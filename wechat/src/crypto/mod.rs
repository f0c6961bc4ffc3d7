//! Message encryption for safe and compatible mode, byte-compatible with
//! Tencent's WXBizMsgCrypt sample code.
//!
//! Plaintext layout: 16 random bytes ‖ u32 big-endian length ‖ xml ‖ appid,
//! PKCS#7-padded to 32 bytes, AES-256-CBC with key = base64(EncodingAESKey +
//! "=") and IV = the key's first 16 bytes, then base64.

mod error;
mod pkcs7;
#[cfg(test)]
mod sample_vectors;

pub use error::CryptoError;

use std::fmt;

use aes::Aes256;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, Engine, GeneralPurpose, GeneralPurposeConfig};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use secrecy::{ExposeSecret, SecretSlice};

/// Length of an EncodingAESKey as the WeChat console shows it.
pub const ENCODING_AES_KEY_LEN: usize = 43;

const KEY_LEN: usize = 32;
const IV_LEN: usize = 16;
const RANDOM_LEN: usize = 16;
const LENGTH_FIELD_LEN: usize = 4;
const AES_BLOCK: usize = 16;

/// Encoding for what we send: canonical standard base64 with padding.
const ENCODE: GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Decoding is lenient about padding and trailing bits: WeChat's own sample
/// key ("…ABCDEFG") has non-zero trailing bits, and Tencent's samples decode
/// with lenient decoders. Authenticity comes from the signatures, not from
/// base64 canonicity.
const DECODE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Encrypts and decrypts message bodies for one official account.
#[derive(Clone)]
pub struct MessageCrypto {
    key: SecretSlice<u8>,
    appid: String,
}

impl fmt::Debug for MessageCrypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageCrypto")
            .field("appid", &self.appid)
            .field("key", &"[redacted]")
            .finish()
    }
}

type Aes256CbcEnc = cbc::Encryptor<Aes256>;
type Aes256CbcDec = cbc::Decryptor<Aes256>;

impl MessageCrypto {
    /// `encoding_aes_key` is the 43-character EncodingAESKey from the WeChat
    /// console; `appid` is the account's AppID, which every message carries
    /// and which decryption checks.
    pub fn new(encoding_aes_key: &str, appid: &str) -> Result<Self, CryptoError> {
        if encoding_aes_key.len() != ENCODING_AES_KEY_LEN {
            return Err(CryptoError::InvalidKey);
        }
        let key = DECODE
            .decode(format!("{encoding_aes_key}="))
            .map_err(|_| CryptoError::InvalidKey)?;
        if key.len() != KEY_LEN {
            return Err(CryptoError::InvalidKey);
        }
        Ok(Self {
            key: SecretSlice::from(key),
            appid: appid.to_owned(),
        })
    }

    /// The AppID messages are bound to.
    pub fn appid(&self) -> &str {
        &self.appid
    }

    /// Encrypts `xml` with fresh random bytes and returns the base64 text
    /// that goes into an `<Encrypt>` element.
    pub fn encrypt(&self, xml: &str) -> String {
        self.encrypt_with_random(xml, rand::random())
    }

    /// [`encrypt`](Self::encrypt) with the 16 random leading bytes given, so
    /// tests can reproduce published ciphertexts.
    pub fn encrypt_with_random(&self, xml: &str, random: [u8; RANDOM_LEN]) -> String {
        // A message over 4 GiB cannot reach us (bodies are limited long
        // before that); saturating keeps this total without a panic path.
        let length = u32::try_from(xml.len()).unwrap_or(u32::MAX);
        let mut plain = Vec::with_capacity(
            RANDOM_LEN + LENGTH_FIELD_LEN + xml.len() + self.appid.len() + pkcs7::BLOCK,
        );
        plain.extend_from_slice(&random);
        plain.extend_from_slice(&length.to_be_bytes());
        plain.extend_from_slice(xml.as_bytes());
        plain.extend_from_slice(self.appid.as_bytes());
        pkcs7::pad(&mut plain);
        let (key, iv) = self.key_and_iv();
        let cipher = Aes256CbcEnc::new(key.into(), iv.into());
        ENCODE.encode(cipher.encrypt_padded_vec_mut::<NoPadding>(&plain))
    }

    /// Decrypts the base64 text of an `<Encrypt>` element and returns the XML
    /// inside, after checking padding, length field, UTF-8 and AppID.
    pub fn decrypt(&self, base64: &str) -> Result<String, CryptoError> {
        let cipher_bytes = DECODE
            .decode(base64.trim())
            .map_err(|_| CryptoError::Base64)?;
        if cipher_bytes.is_empty() || cipher_bytes.len() % AES_BLOCK != 0 {
            return Err(CryptoError::CiphertextLength);
        }
        let (key, iv) = self.key_and_iv();
        let plain = Aes256CbcDec::new(key.into(), iv.into())
            .decrypt_padded_vec_mut::<NoPadding>(&cipher_bytes)
            .map_err(|_| CryptoError::CiphertextLength)?;
        let content = pkcs7::unpad(&plain)?;
        let (xml, appid) = split_content(content)?;
        if appid != self.appid.as_bytes() {
            return Err(CryptoError::AppIdMismatch);
        }
        String::from_utf8(xml.to_vec()).map_err(|_| CryptoError::Utf8)
    }

    fn key_and_iv(&self) -> (&[u8; KEY_LEN], &[u8; IV_LEN]) {
        let key = self.key.expose_secret();
        // `new` only accepts 32-byte keys, so both conversions succeed; the
        // fallbacks exist only to keep this function free of panics.
        let key: &[u8; KEY_LEN] = key.try_into().unwrap_or(&[0; KEY_LEN]);
        let iv: &[u8; IV_LEN] = key.first_chunk::<IV_LEN>().unwrap_or(&[0; IV_LEN]);
        (key, iv)
    }
}

/// Splits `random ‖ length ‖ xml ‖ appid` into `(xml, appid)`.
fn split_content(content: &[u8]) -> Result<(&[u8], &[u8]), CryptoError> {
    let rest = content.get(RANDOM_LEN..).ok_or(CryptoError::Truncated)?;
    let (length, rest) = rest
        .split_first_chunk::<LENGTH_FIELD_LEN>()
        .ok_or(CryptoError::Truncated)?;
    let length =
        usize::try_from(u32::from_be_bytes(*length)).map_err(|_| CryptoError::Truncated)?;
    if length > rest.len() {
        return Err(CryptoError::Truncated);
    }
    Ok(rest.split_at(length))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FAKE_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    const FAKE_APPID: &str = "wx0000000000000000";

    fn crypto() -> MessageCrypto {
        MessageCrypto::new(FAKE_KEY, FAKE_APPID).unwrap()
    }

    #[test]
    fn refuses_keys_of_wrong_length_or_alphabet() {
        assert_eq!(
            MessageCrypto::new("short", FAKE_APPID).unwrap_err(),
            CryptoError::InvalidKey
        );
        assert_eq!(
            MessageCrypto::new(&"!".repeat(43), FAKE_APPID).unwrap_err(),
            CryptoError::InvalidKey
        );
        assert_eq!(
            MessageCrypto::new(&"a".repeat(44), FAKE_APPID).unwrap_err(),
            CryptoError::InvalidKey
        );
    }

    #[test]
    fn debug_redacts_the_key() {
        let text = format!("{:?}", crypto());
        assert!(text.contains("[redacted]"));
        assert!(text.contains(FAKE_APPID));
        assert!(!text.contains(FAKE_KEY));
    }

    #[test]
    fn wrong_appid_is_refused() {
        let ours = crypto();
        let theirs = MessageCrypto::new(FAKE_KEY, "wx1111111111111111").unwrap();
        let sealed = theirs.encrypt("<xml/>");
        assert_eq!(ours.decrypt(&sealed), Err(CryptoError::AppIdMismatch));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let c = crypto();
        assert_eq!(c.decrypt("not base64!"), Err(CryptoError::Base64));
        assert_eq!(c.decrypt(""), Err(CryptoError::CiphertextLength));
        assert_eq!(c.decrypt("AAAA"), Err(CryptoError::CiphertextLength));
        // One block of zeros decrypts to noise: bad padding or truncated.
        assert!(c.decrypt(&ENCODE.encode([0u8; 32])).is_err());
    }

    #[test]
    fn length_field_beyond_the_message_is_refused() {
        let c = crypto();
        let mut plain = vec![0u8; RANDOM_LEN];
        plain.extend_from_slice(&1000u32.to_be_bytes());
        plain.extend_from_slice(b"<xml/>");
        pkcs7::pad(&mut plain);
        let (key, iv) = c.key_and_iv();
        let sealed = ENCODE.encode(
            Aes256CbcEnc::new(key.into(), iv.into()).encrypt_padded_vec_mut::<NoPadding>(&plain),
        );
        assert_eq!(c.decrypt(&sealed), Err(CryptoError::Truncated));
    }

    #[test]
    fn invalid_utf8_is_refused() {
        let c = crypto();
        let mut plain = vec![0u8; RANDOM_LEN];
        plain.extend_from_slice(&2u32.to_be_bytes());
        plain.extend_from_slice(&[0xff, 0xfe]);
        plain.extend_from_slice(FAKE_APPID.as_bytes());
        pkcs7::pad(&mut plain);
        let (key, iv) = c.key_and_iv();
        let sealed = ENCODE.encode(
            Aes256CbcEnc::new(key.into(), iv.into()).encrypt_padded_vec_mut::<NoPadding>(&plain),
        );
        assert_eq!(c.decrypt(&sealed), Err(CryptoError::Utf8));
    }

    proptest! {
        #[test]
        fn round_trips_any_text(xml in any::<String>(), random in any::<[u8; 16]>()) {
            let c = crypto();
            prop_assert_eq!(c.decrypt(&c.encrypt_with_random(&xml, random)).unwrap(), xml.clone());
            prop_assert_eq!(c.decrypt(&c.encrypt(&xml)).unwrap(), xml);
        }

        #[test]
        fn never_panics_on_arbitrary_text(text in any::<String>()) {
            let _ = crypto().decrypt(&text);
        }

        #[test]
        fn never_panics_on_arbitrary_ciphertext(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = crypto().decrypt(&ENCODE.encode(bytes));
        }
    }
}
