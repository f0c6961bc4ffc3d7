//! WeChat's callback signature: SHA-1 over the sorted concatenation of parts.
//!
//! The same rule signs the plain callback (`[token, timestamp, nonce]`) and
//! the encrypted one (`msg_signature` over `[token, timestamp, nonce, encrypt]`).

use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// Sorts the parts lexicographically (byte order, as WeChat does), joins them
/// without separator and returns the lowercase hex SHA-1.
pub fn sign(parts: &[&str]) -> String {
    let mut sorted = parts.to_vec();
    sorted.sort_unstable();
    let mut hasher = Sha1::new();
    for part in sorted {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Checks `signature` against [`sign`] of the parts in constant time, so a
/// forger learns nothing from how long a rejection takes.
pub fn verify(parts: &[&str], signature: &str) -> bool {
    let expected = sign(parts);
    // WeChat sends lowercase hex; accepting uppercase costs nothing.
    let given = signature.to_ascii_lowercase();
    expected.as_bytes().ct_eq(given.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors from wechatpy/wechatpy tests/test_utils.py
    // (test_check_signature_should_ok and test_wechat_card_signer).
    #[test]
    fn matches_wechatpy_check_signature_vector() {
        let parts = ["test", "1410685589", "test"];
        assert!(verify(&parts, "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff"));
        assert!(!verify(&parts, "f21891de399b4e33a1a93c9a7b8a8fffb5a443fe"));
    }

    #[test]
    fn sorts_before_hashing() {
        assert_eq!(
            sign(&["789", "456", "123"]),
            "f7c3bc1d808e04732adf679965ccc34ca7ae3441"
        );
        assert_eq!(sign(&["789", "456", "123"]), sign(&["123", "456", "789"]));
    }

    #[test]
    fn rejects_wrong_length_and_garbage() {
        let parts = ["fake-token", "1", "2"];
        assert!(!verify(&parts, ""));
        assert!(!verify(&parts, "abc"));
        assert!(!verify(&parts, &"0".repeat(40)));
    }

    #[test]
    fn accepts_uppercase_hex() {
        let parts = ["fake-token", "1409735669", "1320562132"];
        let upper = sign(&parts).to_ascii_uppercase();
        assert!(verify(&parts, &upper));
    }
}
