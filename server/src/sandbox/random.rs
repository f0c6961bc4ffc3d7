//! The random values the sandbox hands out, shaped like WeChat's. All come
//! from `rand::rng()`, a CSPRNG: an access token must not be guessable even
//! in a sandbox that listens on a network.

use rand::Rng;

/// The characters of WeChat's openids, tickets and tokens (URL-safe base64).
const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

pub fn url_safe_text(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(URL_SAFE[rng.random_range(0..URL_SAFE.len())]))
        .collect()
}

/// Real access tokens run to 130–160 characters.
pub fn access_token() -> String {
    url_safe_text(136)
}

/// A QR ticket. Real ones are base64 starting with `gQ`; these keep the look
/// but stay URL-safe, so they travel in paths and query strings unescaped.
pub fn ticket() -> String {
    format!("gQ{}", url_safe_text(62))
}

/// An openid: "o" and 27 more characters, like a real one.
pub fn openid() -> String {
    format!("o{}", url_safe_text(27))
}

/// The numeric `nonce` WeChat puts on a push.
pub fn nonce() -> String {
    rand::rng()
        .random_range(100_000_000u64..10_000_000_000)
        .to_string()
}

/// A text message's `MsgId` (a 64-bit number in WeChat).
pub fn msg_id() -> String {
    rand::rng()
        .random_range(1_000_000_000_000_000_000u64..u64::MAX)
        .to_string()
}

/// The request id WeChat appends to every error message (`rid: …`).
pub fn rid() -> String {
    let mut rng = rand::rng();
    let (a, b, c): (u32, u32, u32) = (rng.random(), rng.random(), rng.random());
    format!("{a:08x}-{b:08x}-{c:08x}")
}

/// Whether `text` could be one of our tickets or openids: 1–128 URL-safe
/// characters. Anything else is refused before it reaches a map or a URL.
pub fn is_url_safe_id(text: &str) -> bool {
    (1..=128).contains(&text.len()) && text.bytes().all(|b| URL_SAFE.contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_have_wechat_shapes() {
        let token = access_token();
        assert!(token.len() >= 64 && token.bytes().all(|b| URL_SAFE.contains(&b)));
        let openid = openid();
        assert_eq!(openid.len(), 28);
        assert!(openid.starts_with('o') && is_url_safe_id(&openid));
        assert!(ticket().starts_with("gQ") && is_url_safe_id(&ticket()));
        assert!(nonce().bytes().all(|b| b.is_ascii_digit()));
        assert!(msg_id().parse::<u64>().is_ok());
        let rid = rid();
        assert_eq!(rid.len(), 26);
        assert_eq!(rid.matches('-').count(), 2);
        assert_ne!(access_token(), access_token());
    }

    #[test]
    fn ids_are_checked() {
        assert!(is_url_safe_id("gQabc_-9"));
        for bad in ["", "a b", "a/b", "a?b", "é", &"a".repeat(129)] {
            assert!(!is_url_safe_id(bad), "{bad}");
        }
    }
}
