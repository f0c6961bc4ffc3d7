//! Unguessable values: attempt ids, binding secrets and session tokens. Only
//! their SHA-256 is stored, so a copy of the database logs nobody in.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};

/// A login attempt id (and QR scene): 128 random bits as 32 hex digits,
/// well inside WeChat's 64-character `scene_str`.
pub fn new_attempt_id() -> String {
    hex::encode(random_bytes::<16>())
}

/// A browser binding secret or session token: 256 random bits.
pub fn new_secret() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// A confirm mode code: 4 random digits, not one of `taken` (the codes
/// of the attempts already waiting for the same WeChat user, at most a few:
/// see `inbox`). It is no secret (the browser shows it, the WeChat user
/// types it); it only says which attempt a 确认 is for.
pub fn new_confirm_code(taken: impl Fn(&str) -> bool) -> String {
    let mut rng = rand::rng();
    loop {
        let code = format!("{:04}", rng.random_range(0..10_000u32));
        if !taken(&code) {
            return code;
        }
    }
}

pub fn is_attempt_id(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `text` could be a value made by [`new_secret`].
pub fn is_secret(text: &str) -> bool {
    text.len() == 43
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // ThreadRng is a CSPRNG (ChaCha12) seeded and reseeded from the OS.
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_secrets_have_their_shape_and_differ() {
        let (a, b) = (new_attempt_id(), new_attempt_id());
        assert!(is_attempt_id(&a) && is_attempt_id(&b));
        assert_ne!(a, b);
        let (s, t) = (new_secret(), new_secret());
        assert!(is_secret(&s) && is_secret(&t));
        assert_ne!(s, t);
    }

    #[test]
    fn confirm_codes_are_four_digits_and_avoid_the_taken_ones() {
        for _ in 0..3 {
            let code = new_confirm_code(|c| c != "0427");
            assert_eq!(code, "0427", "the only free code");
        }
        let code = new_confirm_code(|_| false);
        assert!(code.len() == 4 && code.bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn shapes_are_checked() {
        assert!(!is_attempt_id("ABCDEF0123456789abcdef0123456789"));
        assert!(!is_attempt_id("abc"));
        assert!(!is_secret("short"));
        assert!(!is_secret(&"a".repeat(42).to_string().replace('a', "=")));
    }
}
